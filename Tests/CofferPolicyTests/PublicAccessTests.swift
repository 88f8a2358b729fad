import CofferCore
import Testing

@testable import CofferPolicy

private let account = "123456789012"

/// (Principal element, Condition element or "", public?)
private let publicCases: [(String, String, Bool)] = [
    (#""*""#, "", true),
    (#"{"AWS":"*"}"#, "", true),
    // Every local caller is in the vault's account: confining to the account confines nothing.
    (#""*""#, #"{"StringEquals":{"aws:PrincipalAccount":"123456789012"}}"#, true),
    (#""*""#, #"{"ForAnyValue:StringEquals":{"aws:PrincipalAccount":"123456789012"}}"#, true),
    (#""*""#, #"{"Bool":{"aws:SecureTransport":"true"},"StringEquals":{"aws:SourceAccount":"123456789012"}}"#, true),
    // Conditions naming principals do confine.
    (#""*""#, #"{"ArnLike":{"aws:PrincipalArn":"arn:coffer:iam::123456789012:role/app.service"}}"#, false),
    (#""*""#, #"{"ArnLike":{"aws:PrincipalArn":"arn:coffer:iam::123456789012:role/*"}}"#, true),
    (#""*""#, #"{"ArnEquals":{"aws:PrincipalArn":"arn:coffer:iam::*:role/app"}}"#, true),
    (#""*""#, #"{"StringEquals":{"aws:PrincipalArn":"arn:coffer:iam::123456789012:user/alice"}}"#, false),
    (#""*""#, #"{"StringEquals":{"aws:PrincipalArn":"arn:coffer:iam::210987654321:user/alice"}}"#, true),
    (#""*""#, #"{"StringEquals":{"aws:username":"alice"}}"#, false),
    (#""*""#, #"{"StringEqualsIfExists":{"aws:username":"alice"}}"#, true),
    (#""*""#, #"{"StringNotEquals":{"aws:username":"mallory"}}"#, true),
    (#""*""#, #"{"ForAllValues:StringEquals":{"aws:username":"alice"}}"#, true),
    (#""*""#, #"{"StringLike":{"aws:username":"*"}}"#, true),
    (#""*""#, #"{"StringLike":{"aws:username":"al*"}}"#, true),
    (#""*""#, #"{"StringEquals":{"aws:username":"${aws:username}"}}"#, true),
    (#""*""#, #"{"StringEquals":{"coffer:PeerUid":"1000"}}"#, false),
    (#""*""#, #"{"StringEquals":{"coffer:SystemdUnit":"app.service"}}"#, false),
    (#""*""#, #"{"ForAnyValue:StringEquals":{"coffer:PeerGroups":"admins"}}"#, false),
    (#""*""#, #"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, true),
    (#"{"AWS":"arn:coffer:iam::123456789012:user/alice"}"#, "", false),
    (#"{"AWS":"123456789012"}"#, "", false),
    (#"{"AWS":"arn:coffer:iam::123456789012:root"}"#, "", false),
    (#"{"AWS":"210987654321"}"#, "", true),
    (
        #"{"AWS":"arn:coffer:iam::210987654321:root"}"#, #"{"StringEquals":{"aws:username":"alice"}}"#,
        true
    ),
    (#"{"AWS":["arn:coffer:iam::123456789012:user/alice","arn:coffer:iam::210987654321:user/eve"]}"#, "", true),
    (#"{"Service":"lambda.amazonaws.com"}"#, "", false),
]

@Suite("Public access (BlockPublicPolicy) and ValidateResourcePolicy")
struct PublicAccessTests {
    @Test("which Allow statements are public", arguments: publicCases)
    func publicRule(principal: String, condition: String, isPublic: Bool) throws {
        let conditionMember = condition.isEmpty ? "" : #","Condition":\#(condition)"#
        let policy = try Fixture.resource(
            #"{"Effect":"Allow","Principal":\#(principal),"Action":"secretsmanager:GetSecretValue","Resource":"*"\#(conditionMember)}"#
        )
        #expect(policy.grantsPublicAccess(accountID: account) == isPublic)
    }

    @Test("Deny statements are never public; the public statements are identified")
    func denyAndIndices() throws {
        let policy = try Fixture.resource(
            #"{"Sid":"D","Effect":"Deny","Principal":"*","Action":"secretsmanager:*","Resource":"*"}"#,
            #"{"Sid":"Mine","Effect":"Allow","Principal":{"AWS":"\#(Fixture.alice)"},"Action":"secretsmanager:*","Resource":"*"}"#,
            #"{"Sid":"Open","Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}"#
        )
        #expect(policy.publicStatementIndices(accountID: account) == [2])
        let denyOnly = try Fixture.resource(
            #"{"Effect":"Deny","Principal":"*","Action":"secretsmanager:*","Resource":"*"}"#)
        #expect(!denyOnly.grantsPublicAccess(accountID: account))
    }

    @Test("ValidateResourcePolicy findings")
    func findings() {
        #expect(
            PolicyDocument.validationFindings(#"{"Version":"2012-10-17","Statement":[]}"#, accountID: account)
                == [PolicyFinding(checkName: "SYNTAX_CHECKING", errorMessage: "Syntax errors in policy.")]
        )
        let missing = PolicyDocument.validationFindings(
            #"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"}}"#,
            accountID: account
        )
        #expect(
            missing == [PolicyFinding(checkName: "SYNTAX_CHECKING", errorMessage: "Missing required field Principal")])
        let open = PolicyDocument.validationFindings(
            #"{"Version":"2012-10-17","Statement":{"Sid":"Open","Effect":"Allow","Principal":"*","Action":"secretsmanager:*","Resource":"*"}}"#,
            accountID: account
        )
        #expect(open.map(\.checkName) == ["PUBLIC_ACCESS_CHECKING"])
        #expect(open.first?.errorMessage.contains("\"Open\"") == true)
        let fine = PolicyDocument.validationFindings(
            #"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"\#(Fixture.alice)"},"Action":"secretsmanager:*","Resource":"*"}}"#,
            accountID: account
        )
        #expect(fine.isEmpty)
    }
}
