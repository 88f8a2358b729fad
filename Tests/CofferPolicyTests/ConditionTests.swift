import CofferCore
import Testing

@testable import CofferPolicy

/// One row: a Condition block, the request's keys, and whether the condition holds.
struct ConditionCase: Sendable, CustomTestStringConvertible {
    var condition: String
    var keys: [String: ContextValue]
    var holds: Bool

    init(_ condition: String, _ keys: [String: ContextValue], _ holds: Bool) {
        self.condition = condition
        self.keys = keys
        self.holds = holds
    }

    var testDescription: String { "\(condition) with \(keys) → \(holds)" }
}

private func s(_ value: String) -> ContextValue { .string(value) }
private func m(_ values: String...) -> ContextValue { .strings(values) }

/// Tables after the IAM condition-operator reference and the multivalued-key pages.
@Suite("Condition operators")
struct ConditionTests {
    static let strings: [ConditionCase] = [
        .init(#"{"StringEquals":{"aws:username":"alice"}}"#, ["aws:username": s("alice")], true),
        .init(#"{"StringEquals":{"aws:username":"alice"}}"#, ["aws:username": s("Alice")], false),
        .init(#"{"StringEquals":{"aws:username":"alice"}}"#, [:], false),
        .init(#"{"StringEquals":{"AWS:UserName":"alice"}}"#, ["aws:username": s("alice")], true),  // keys fold case
        .init(#"{"StringEquals":{"k":"*"}}"#, ["k": s("anything")], false),  // no wildcards in Equals
        .init(#"{"StringEquals":{"k":"*"}}"#, ["k": s("*")], true),
        .init(#"{"StringEquals":{"k":["a","b"]}}"#, ["k": s("b")], true),  // values OR
        .init(#"{"StringEquals":{"k":"caf\u00e9"}}"#, ["k": s("cafe\u{301}")], false),  // code units, not equivalence
        .init(#"{"StringNotEquals":{"env":["prod","staging"]}}"#, ["env": s("staging")], false),
        .init(#"{"StringNotEquals":{"env":["prod","staging"]}}"#, ["env": s("dev")], true),
        .init(#"{"StringNotEquals":{"env":["prod","staging"]}}"#, [:], true),  // negated + missing → true
        .init(#"{"StringEqualsIgnoreCase":{"k":"ALICE"}}"#, ["k": s("alice")], true),
        .init(#"{"StringEqualsIgnoreCase":{"k":"ALICE"}}"#, ["k": s("bob")], false),
        .init(#"{"StringNotEqualsIgnoreCase":{"k":"Alice"}}"#, ["k": s("aLICE")], false),
        .init(#"{"StringNotEqualsIgnoreCase":{"k":"Alice"}}"#, ["k": s("bob")], true),
        .init(#"{"StringLike":{"s3:prefix":"home/*"}}"#, ["s3:prefix": s("home/alice/notes")], true),
        .init(#"{"StringLike":{"s3:prefix":"home/*"}}"#, ["s3:prefix": s("Home/alice")], false),
        .init(#"{"StringLike":{"k":"a?c"}}"#, ["k": s("abc")], true),
        .init(#"{"StringLike":{"k":"a?c"}}"#, ["k": s("abbc")], false),
        .init(#"{"StringLike":{"k":["x*","*z"]}}"#, ["k": s("abcz")], true),
        .init(#"{"StringNotLike":{"k":["x*","*z"]}}"#, ["k": s("abcz")], false),
        .init(#"{"StringNotLike":{"k":["x*","*z"]}}"#, ["k": s("abc")], true),
        .init(#"{"StringNotLike":{"k":"x*"}}"#, [:], true),
        .init(#"{"StringEqualsIfExists":{"k":"v"}}"#, [:], true),
        .init(#"{"StringEqualsIfExists":{"k":"v"}}"#, ["k": s("w")], false),
        .init(#"{"StringLikeIfExists":{"k":"v*"}}"#, ["k": s("vw")], true),
        .init(#"{"StringNotEqualsIfExists":{"k":"v"}}"#, ["k": s("v")], false),
        .init(#"{"UnknownOperator":{}}"#, [:], true),  // accepted with an empty block, no effect
    ]

    static let numbers: [ConditionCase] = [
        .init(#"{"NumericEquals":{"n":"10"}}"#, ["n": s("10")], true),
        .init(#"{"NumericEquals":{"n":"10"}}"#, ["n": s("10.0")], true),
        .init(#"{"NumericEquals":{"n":10}}"#, ["n": s("10")], true),  // JSON number
        .init(#"{"NumericEquals":{"n":"10"}}"#, ["n": s("ten")], false),
        .init(#"{"NumericEquals":{"n":["1","2"]}}"#, ["n": s("2")], true),
        .init(#"{"NumericNotEquals":{"n":"10"}}"#, ["n": s("11")], true),
        .init(#"{"NumericNotEquals":{"n":"10"}}"#, ["n": s("10")], false),
        .init(#"{"NumericNotEquals":{"n":"10"}}"#, ["n": s("ten")], false),  // not a number: no match, even negated
        .init(#"{"NumericNotEquals":{"n":"10"}}"#, [:], true),
        .init(#"{"NumericLessThan":{"n":"30"}}"#, ["n": s("7")], true),
        .init(#"{"NumericLessThan":{"n":"30"}}"#, ["n": s("30")], false),
        .init(#"{"NumericLessThanEquals":{"n":"30"}}"#, ["n": s("30")], true),
        .init(#"{"NumericLessThanEquals":{"n":"30"}}"#, ["n": s("30.5")], false),
        .init(#"{"NumericGreaterThan":{"n":"7"}}"#, ["n": s("30")], true),
        .init(#"{"NumericGreaterThan":{"n":"7"}}"#, ["n": s("7")], false),
        .init(#"{"NumericGreaterThanEquals":{"n":"7"}}"#, ["n": s("7")], true),
        .init(#"{"NumericGreaterThanEquals":{"n":"-1.5"}}"#, ["n": s("-2")], false),
        .init(#"{"NumericLessThanIfExists":{"n":"5"}}"#, [:], true),
        .init(#"{"NumericLessThan":{"n":"5"}}"#, [:], false),
        .init(#"{"NumericLessThan":{"n":"not-a-number"}}"#, ["n": s("1")], false),
        .init(#"{"NumericEquals":{"n":"1"}}"#, ["n": s("0x1")], false),
    ]

    static let dates: [ConditionCase] = [
        .init(
            #"{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}"#,
            ["aws:currenttime": s("2024-06-01T12:00:00Z")], true),
        .init(
            #"{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}"#,
            ["aws:currenttime": s("2019-12-31T23:59:59Z")], false),
        .init(
            #"{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}"#, ["aws:currenttime": s("1700000000")],
            true),  // epoch
        .init(#"{"DateLessThan":{"aws:EpochTime":"1700000000"}}"#, ["aws:epochtime": s("2020-01-01T00:00:00Z")], true),
        .init(#"{"DateEquals":{"t":"2020-01-01T01:00:00+01:00"}}"#, ["t": s("2020-01-01T00:00:00Z")], true),
        .init(#"{"DateEquals":{"t":"2020-01-01"}}"#, ["t": s("2020-01-01T00:00:00Z")], true),
        .init(#"{"DateEquals":{"t":"2020-01-01T00:00:00.5Z"}}"#, ["t": s("2020-01-01T00:00:00.500Z")], true),
        .init(#"{"DateNotEquals":{"t":"2020-01-01T00:00:00Z"}}"#, ["t": s("2020-01-02T00:00:00Z")], true),
        .init(#"{"DateNotEquals":{"t":"2020-01-01T00:00:00Z"}}"#, ["t": s("yesterday")], false),
        .init(#"{"DateNotEquals":{"t":"2020-01-01T00:00:00Z"}}"#, [:], true),
        .init(#"{"DateLessThanEquals":{"t":"2020-01-01T00:00:00Z"}}"#, ["t": s("2020-01-01T00:00:00Z")], true),
        .init(#"{"DateGreaterThanEquals":{"t":"2020-01-01T00:00:00Z"}}"#, ["t": s("2020-01-01T00:00:00Z")], true),
        .init(#"{"DateGreaterThanEquals":{"t":"2020-01-01T00:00:00Z"}}"#, ["t": s("2019-01-01T00:00:00-05:00")], false),
        .init(#"{"DateLessThanIfExists":{"t":"2020-01-01T00:00:00Z"}}"#, [:], true),
    ]

    static let others: [ConditionCase] = [
        .init(#"{"Bool":{"aws:SecureTransport":"false"}}"#, ["aws:securetransport": s("false")], true),
        .init(#"{"Bool":{"aws:SecureTransport":"false"}}"#, ["aws:securetransport": s("FALSE")], true),
        .init(#"{"Bool":{"aws:SecureTransport":"false"}}"#, ["aws:securetransport": s("true")], false),
        .init(#"{"Bool":{"aws:SecureTransport":"false"}}"#, [:], false),
        .init(#"{"Bool":{"aws:SecureTransport":false}}"#, ["aws:securetransport": s("false")], true),  // JSON bool
        .init(#"{"Bool":{"k":"TRUE"}}"#, ["k": s("true")], true),
        .init(#"{"Bool":{"k":"true"}}"#, ["k": s("yes")], false),
        .init(#"{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}"#, [:], true),
        .init(#"{"BinaryEquals":{"k":"QmluYXJ5VmFsdWU="}}"#, ["k": s("QmluYXJ5VmFsdWU=")], true),
        .init(#"{"BinaryEquals":{"k":"QmluYXJ5VmFsdWU="}}"#, ["k": s("T3RoZXI=")], false),
        .init(#"{"BinaryEquals":{"k":"QmluYXJ5VmFsdWU="}}"#, ["k": s("!!notbase64")], false),
        .init(#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, ["aws:sourceip": s("203.0.113.77")], true),
        .init(#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, ["aws:sourceip": s("203.0.114.1")], false),
        .init(
            #"{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","203.0.113.7"]}}"#, ["aws:sourceip": s("203.0.113.7")], true),
        .init(#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#, ["aws:sourceip": s("198.51.100.1")], true),
        .init(#"{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, ["aws:sourceip": s("198.51.100.1")], true),
        .init(#"{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, ["aws:sourceip": s("203.0.113.1")], false),
        .init(#"{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, ["aws:sourceip": s("not-an-ip")], false),
        .init(
            #"{"IpAddress":{"aws:SourceIp":"2001:DB8:1234:5678::/64"}}"#, ["aws:sourceip": s("2001:db8:1234:5678::1")],
            true),
        .init(
            #"{"IpAddress":{"aws:SourceIp":"2001:DB8:1234:5678::/64"}}"#, ["aws:sourceip": s("2001:db8:1234:5679::1")],
            false),
        .init(#"{"IpAddress":{"aws:SourceIp":"::/0"}}"#, ["aws:sourceip": s("203.0.113.1")], false),  // family differs
        .init(
            #"{"IpAddress":{"aws:SourceIp":"::ffff:203.0.113.0/120"}}"#, ["aws:sourceip": s("::ffff:203.0.113.9")], true
        ),
        .init(#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/33"}}"#, ["aws:sourceip": s("203.0.113.1")], false),
        .init(
            #"{"ArnEquals":{"aws:PrincipalArn":"arn:coffer:iam::123456789012:role/*"}}"#,
            ["aws:principalarn": s("arn:coffer:iam::123456789012:role/web")], true),
        .init(
            #"{"ArnLike":{"aws:PrincipalArn":"arn:coffer:iam::123456789012:role/*"}}"#,
            ["aws:principalarn": s("arn:coffer:iam::123456789012:user/web")], false),
        .init(
            #"{"ArnLike":{"aws:SourceArn":"arn:???:*:*:*:*"}}"#,
            ["aws:sourcearn": s("arn:aws:ec2:us-east-1:123456789012:instance/i-1")], true),
        .init(
            #"{"ArnLike":{"k":"arn:aws:ec2:us-east-1:123456789012:instance/i-12345"}}"#,
            ["k": s("arn:aws:ec2:us-east-1:123456789012:INSTANCE/I-12345")], false),
        // resource part crosses ':'
        .init(#"{"ArnLike":{"k":"arn:aws:s3:::bucket/*"}}"#, ["k": s("arn:aws:s3:::bucket/a:b/c")], true),
        // a segment * does not
        .init(#"{"ArnLike":{"k":"arn:aws:iam::*:role/x"}}"#, ["k": s("arn:aws:iam::1:2:role/x")], false),
        .init(
            #"{"ArnNotEquals":{"aws:PrincipalArn":"arn:coffer:iam::123456789012:role/*"}}"#,
            ["aws:principalarn": s("arn:coffer:iam::123456789012:role/web")], false),
        .init(
            #"{"ArnNotLike":{"aws:PrincipalArn":"arn:coffer:iam::123456789012:role/*"}}"#,
            ["aws:principalarn": s("arn:coffer:iam::123456789012:user/web")], true),
        // malformed request
        .init(#"{"ArnLike":{"k":"arn:aws:iam::123456789012:user/bob"}}"#, ["k": s("arn:::bucket-name")], false),
        .init(#"{"ArnNotLike":{"k":"arn:aws:iam::123456789012:user/bob"}}"#, ["k": s("arn:::bucket-name")], false),
        // malformed policy
        .init(#"{"ArnLike":{"k":"arn:::bucket-name"}}"#, ["k": s("arn:aws:iam::123456789012:user/bob")], false),
        .init(#"{"ArnNotLike":{"k":"arn:::bucket-name"}}"#, ["k": s("arn:aws:iam::123456789012:user/bob")], true),
        .init(#"{"ArnNotEquals":{"k":"arn:aws:iam::1:user/a"}}"#, [:], true),
        .init(#"{"ArnEqualsIfExists":{"k":"arn:aws:iam::1:user/a"}}"#, [:], true),
        .init(#"{"Null":{"k":"true"}}"#, [:], true),
        .init(#"{"Null":{"k":"true"}}"#, ["k": s("v")], false),
        .init(#"{"Null":{"k":"false"}}"#, ["k": s("v")], true),
        .init(#"{"Null":{"k":"false"}}"#, [:], false),
        .init(#"{"Null":{"k":true}}"#, ["k": m()], true),  // an empty multivalued key is absent
        .init(#"{"ForAllValues:Null":{"k":"true"}}"#, [:], true),  // set prefixes are ignored by Null
        .init(#"{"ForAnyValue:Null":{"k":"false"}}"#, ["k": m("a")], true),
        .init(#"{"Null":{"k":"maybe"}}"#, [:], false),
    ]

    static let sets: [ConditionCase] = [
        .init(
            #"{"ForAllValues:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}"#,
            ["aws:tagkeys": m("environment")], true),
        .init(
            #"{"ForAllValues:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}"#,
            ["aws:tagkeys": m("environment", "cost-center")], true),
        .init(
            #"{"ForAllValues:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}"#,
            ["aws:tagkeys": m("environment", "owner")], false),
        .init(#"{"ForAllValues:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}"#, [:], true),  // the hole
        .init(
            #"{"ForAllValues:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}"#, ["aws:tagkeys": m()], true),
        .init(
            #"{"ForAnyValue:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}"#,
            ["aws:tagkeys": m("environment", "owner")], true),
        .init(
            #"{"ForAnyValue:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}"#, ["aws:tagkeys": m("owner")],
            false),
        .init(#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}"#, [:], false),
        .init(#"{"ForAnyValue:StringNotEquals":{"k":["a","b"]}}"#, ["k": m("a", "c")], true),
        .init(#"{"ForAnyValue:StringNotEquals":{"k":["a","b"]}}"#, ["k": m("a", "b")], false),
        .init(#"{"ForAllValues:StringNotLike":{"k":["A*","B*"]}}"#, ["k": m("Cherry", "Cranberry")], true),
        .init(#"{"ForAllValues:StringNotLike":{"k":["A*","B*"]}}"#, ["k": m("Cherry", "Apple")], false),
        .init(#"{"ForAnyValue:StringLike":{"k":["A*","B*"]}}"#, ["k": m("Cherry", "Banana")], true),
        .init(
            #"{"ForAllValues:StringEquals":{"aws:PrincipalOrgId":["o-a","o-b"]}}"#, ["aws:principalorgid": s("o-a")],
            true),
        .init(
            #"{"ForAllValues:StringEquals":{"aws:PrincipalOrgId":["o-a","o-b"]}}"#, ["aws:principalorgid": s("o-z")],
            false),
        .init(#"{"ForAnyValue:StringEqualsIfExists":{"k":"a"}}"#, [:], false),  // IfExists ignored inside set ops
        .init(#"{"ForAnyValue:NumericGreaterThan":{"n":"5"}}"#, ["n": m("1", "9")], true),
        .init(#"{"ForAllValues:NumericGreaterThan":{"n":"5"}}"#, ["n": m("1", "9")], false),
        .init(#"{"StringEquals":{"k":"a"}}"#, ["k": m("a")], false),  // plain operator, multivalued key
        .init(#"{"StringNotEquals":{"k":"a"}}"#, ["k": m("b")], false),
        .init(#"{"StringEqualsIfExists":{"k":"a"}}"#, ["k": m("a")], false),
    ]

    static let combinations: [ConditionCase] = [
        .init(#"{"StringEquals":{"a":"1","b":"2"}}"#, ["a": s("1"), "b": s("2")], true),  // keys AND
        .init(#"{"StringEquals":{"a":"1","b":"2"}}"#, ["a": s("1")], false),
        .init(#"{"StringEquals":{"a":"1"},"NumericLessThan":{"n":"5"}}"#, ["a": s("1"), "n": s("4")], true),  // ops AND
        .init(#"{"StringEquals":{"a":"1"},"NumericLessThan":{"n":"5"}}"#, ["a": s("1"), "n": s("6")], false),
        .init(#"{}"#, [:], true),
    ]

    static let variables: [ConditionCase] = [
        .init(#"{"StringEquals":{"k":"${aws:username}"}}"#, ["k": s("alice"), "aws:username": s("alice")], true),
        .init(#"{"StringEquals":{"k":"${aws:username}"}}"#, ["k": s("alice"), "aws:username": s("bob")], false),
        .init(
            #"{"StringEquals":{"k":"home/${AWS:UserName}"}}"#, ["k": s("home/alice"), "aws:username": s("alice")], true),
        .init(#"{"StringEquals":{"k":"${aws:username, 'nobody'}"}}"#, ["k": s("nobody")], true),  // default
        .init(
            #"{"StringEquals":{"k":"${aws:username,'nobody'}"}}"#, ["k": s("nobody"), "aws:username": s("x")], false),
        .init(#"{"StringEquals":{"k":"a${*}b${?}c${$}"}}"#, ["k": s("a*b?c$")], true),  // escapes
        .init(#"{"StringLike":{"k":"a${*}b"}}"#, ["k": s("aXb")], false),  // escaped * is literal
        .init(#"{"StringLike":{"k":"a${*}b"}}"#, ["k": s("a*b")], true),
        .init(#"{"StringLike":{"k":"${aws:username}"}}"#, ["k": s("anything"), "aws:username": s("*")], false),
        .init(#"{"StringLike":{"k":"${aws:username}"}}"#, ["k": s("*"), "aws:username": s("*")], true),
        .init(#"{"StringLike":{"k":"${aws:username}/*"}}"#, ["k": s("alice/x"), "aws:username": s("alice")], true),
        .init(#"{"StringEquals":{"k":"${aws:username}"}}"#, ["k": s("")], false),  // unresolved never matches
        .init(#"{"StringNotEquals":{"k":"${aws:username}"}}"#, ["k": s("x")], true),
        .init(#"{"StringEquals":{"k":"${g}"}}"#, ["k": s("a"), "g": m("a")], false),  // multivalued: unresolved
        .init(#"{"StringEquals":{"k":"${g, 'd'}"}}"#, ["k": s("d"), "g": m()], true),  // empty multivalued: absent
        .init(
            #"{"StringEqualsIgnoreCase":{"k":"${aws:username}"}}"#, ["k": s("ALICE"), "aws:username": s("alice")], true),
        .init(
            #"{"ArnLike":{"aws:PrincipalArn":"arn:coffer:iam::123456789012:user/${aws:username}"}}"#,
            ["aws:principalarn": s("arn:coffer:iam::123456789012:user/alice"), "aws:username": s("alice")], true),
        .init(
            #"{"ArnLike":{"aws:PrincipalArn":"arn:coffer:iam::123456789012:user/${aws:username}"}}"#,
            ["aws:principalarn": s("arn:coffer:iam::123456789012:user/alice")], false),
        .init(#"{"Bool":{"k":"${flag}"}}"#, ["k": s("true"), "flag": s("TRUE")], true),
        .init(#"{"NumericEquals":{"k":"${n}"}}"#, ["k": s("1"), "n": s("1")], false),  // no variables in Numeric
    ]

    @Test("string operators", arguments: strings)
    func stringOperators(_ row: ConditionCase) throws {
        #expect(try Fixture.conditionHolds(row.condition, keys: row.keys) == row.holds)
    }

    @Test("numeric operators", arguments: numbers)
    func numericOperators(_ row: ConditionCase) throws {
        #expect(try Fixture.conditionHolds(row.condition, keys: row.keys) == row.holds)
    }

    @Test("date operators", arguments: dates)
    func dateOperators(_ row: ConditionCase) throws {
        #expect(try Fixture.conditionHolds(row.condition, keys: row.keys) == row.holds)
    }

    @Test("Bool, Binary, IP, ARN and Null operators", arguments: others)
    func otherOperators(_ row: ConditionCase) throws {
        #expect(try Fixture.conditionHolds(row.condition, keys: row.keys) == row.holds)
    }

    @Test("ForAnyValue / ForAllValues", arguments: sets)
    func setOperators(_ row: ConditionCase) throws {
        #expect(try Fixture.conditionHolds(row.condition, keys: row.keys) == row.holds)
    }

    @Test("several operators, keys and values", arguments: combinations)
    func combined(_ row: ConditionCase) throws {
        #expect(try Fixture.conditionHolds(row.condition, keys: row.keys) == row.holds)
    }

    @Test("policy variables (2012-10-17)", arguments: variables)
    func policyVariables(_ row: ConditionCase) throws {
        #expect(try Fixture.conditionHolds(row.condition, keys: row.keys) == row.holds)
    }

    @Test("without 2012-10-17, ${...} is literal text", arguments: ["2008-10-17", nil] as [String?])
    func literalVariables(version: String?) throws {
        let condition = #"{"StringEquals":{"k":"${aws:username}"}}"#
        #expect(try Fixture.conditionHolds(condition, keys: ["k": .string("${aws:username}")], version: version))
        #expect(
            try !Fixture.conditionHolds(
                condition,
                keys: ["k": .string("alice"), "aws:username": .string("alice")],
                version: version
            )
        )
    }

    @Test("policy dates IAM accepts, and the instants they denote")
    func policyDates() {
        func seconds(_ text: String) -> Int64? { PolicyDate.parse(text)?.seconds }
        #expect(seconds("1970-01-01T00:00:00Z") == 0)
        #expect(seconds("1700000000") == 1_700_000_000)
        #expect(seconds("2024-02-29T12:30:00Z") == 1_709_209_800)
        #expect(seconds("2024-02-29T12:30:00+02:00") == 1_709_202_600)
        #expect(seconds("2024-02-29T12:30:00-02:30") == 1_709_218_800)
        #expect(seconds("2024-02-29") == 1_709_164_800)
        #expect(seconds("2024") == 2_024)  // no `t`, no `-`: epoch seconds, as IAM reads it
        #expect(seconds("2016-12-13t2:00:00.593194+23") == 1_481_511_600)
        #expect(PolicyDate.parse("2016-12-13T21:20:37.593194+00:00")?.nanoseconds == 593_194_000)
        #expect(PolicyDate.parse("-292275054")?.seconds ?? 0 < 0)
        for invalid in [
            "", "sdfdsf", "234-13", "2019-07-01T13:20Z", "2016-12-13t2:00:00.1999999999+10:59", "1.5",
            "9223372036854775808", "2020-01-01T25:00:00Z", "2020-1-1-1",
        ] {
            #expect(PolicyDate.parse(invalid) == nil, "\(invalid)")
        }
    }

    @Test("numbers and networks")
    func valueParsers() throws {
        #expect(NumericValue.parse("1e3") == 1_000)
        #expect(NumericValue.parse("-0.5") == -0.5)
        for invalid in ["", "inf", "nan", "0x10", " 1", "1_000", "--"] {
            #expect(NumericValue.parse(invalid) == nil, "\(invalid)")
        }
        let network = try #require(IPNetwork("10.0.0.0/8"))
        #expect(network.contains(try #require(IPNetwork("10.255.1.2", allowPrefix: false))))
        #expect(!network.contains(try #require(IPNetwork("11.0.0.1", allowPrefix: false))))
        #expect(IPNetwork("2001:db8::/32")?.bytes.count == 16)
        #expect(IPNetwork("::1")?.prefixLength == 128)
        for invalid in ["256.0.0.1", "1.2.3", "1.2.3.4/33", "1::2::3", "12345::", "1.2.3.4/", "2001:db8::/129", ""] {
            #expect(IPNetwork(invalid) == nil, "\(invalid)")
        }
        #expect(IPNetwork("10.0.0.0/8", allowPrefix: false) == nil)
    }
}
