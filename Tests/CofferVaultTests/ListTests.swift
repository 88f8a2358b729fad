import CofferCore
import CofferProtocol
import Testing

@testable import CofferVault

@Suite struct ListSecretsTests {
    func names(_ h: Harness, _ request: Document) throws -> [String] {
        var all: [String] = []
        var request = request
        while true {
            let page = try h.ok(.listSecrets, request)
            all += (page["SecretList"]?.listValue ?? []).compactMap { $0.mapValue?["Name"]?.stringValue }
            guard let next = page["NextToken"]?.stringValue else { return all }
            request["NextToken"] = .string(next)
        }
    }

    func filter(_ key: String, _ values: [String]) -> Value {
        .map(["Key": .string(key), "Values": .list(values.map { .string($0) })])
    }

    @Test func paginatesOverHundredsInCreationOrder() throws {
        let h = try Harness()
        for i in 0..<250 {
            try h.create("s\(i)", nil)
            h.clock.advance(milliseconds: 1)
        }
        var pages = 0
        var request: Document = ["MaxResults": 37]
        var seen: [String] = []
        while true {
            let page = try h.ok(.listSecrets, request)
            let list = page["SecretList"]?.listValue ?? []
            pages += 1
            seen += list.compactMap { $0.mapValue?["Name"]?.stringValue }
            guard let next = page["NextToken"]?.stringValue else {
                #expect(list.count == 250 % 37)
                break
            }
            #expect(list.count == 37)  // full pages until the last, which has no token
            request["NextToken"] = .string(next)
        }
        #expect(pages == 7)
        #expect(seen == (0..<250).map { "s\($0)" })
        #expect(try names(h, ["SortOrder": "desc"]) == (0..<250).reversed().map { "s\($0)" })
        #expect(try names(h, ["SortBy": "name", "MaxResults": 10]) == (0..<250).map { "s\($0)" }.sorted())
        h.fails(.listSecrets, ["NextToken": "bm9wZQ=="], .invalidNextToken)
        // A token from one sort order is not valid for another.
        let token = try h.ok(.listSecrets, ["MaxResults": 5])["NextToken"]?.stringValue ?? ""
        h.fails(.listSecrets, ["NextToken": .string(token), "SortBy": "name"], .invalidNextToken)
    }

    @Test func filtersFollowAWSMatchingRules() throws {
        let h = try Harness()
        try h.create(
            "prod/db", nil,
            extra: [
                "Description": "Primary database password",
                "Tags": .list([.map(["Key": "team", "Value": "Payments"]), .map(["Key": "env", "Value": "prod"])]),
            ])
        try h.create("prod/cache", nil, extra: ["Description": "one two"])
        try h.create("dev/db", nil, extra: ["Tags": .list([.map(["Key": "team", "Value": "Search"])])])
        try h.create("COMPANYthings", nil)
        try h.create("MyTestSecret", nil)

        #expect(try names(h, ["Filters": .list([filter("name", ["prod"])])]) == ["prod/db", "prod/cache"])
        #expect(try names(h, ["Filters": .list([filter("name", ["Prod"])])]) == [])  // case-sensitive prefix
        #expect(
            try names(h, ["Filters": .list([filter("name", ["!prod"])])]) == [
                "dev/db", "COMPANYthings", "MyTestSecret",
            ])
        #expect(
            try names(h, ["Filters": .list([filter("name", ["prod", "dev"])])]) == ["prod/db", "prod/cache", "dev/db"])
        // Several filters AND.
        #expect(
            try names(h, ["Filters": .list([filter("name", ["prod"]), filter("tag-key", ["team"])])]) == ["prod/db"])
        #expect(try names(h, ["Filters": .list([filter("tag-value", ["Pay"])])]) == ["prod/db"])
        #expect(try names(h, ["Filters": .list([filter("tag-value", ["pay"])])]) == [])
        // description: case-insensitive word prefix; every word of the value must prefix some word.
        #expect(try names(h, ["Filters": .list([filter("description", ["data pass"])])]) == ["prod/db"])
        #expect(try names(h, ["Filters": .list([filter("description", ["o t"])])]) == ["prod/cache"])
        #expect(try names(h, ["Filters": .list([filter("description", ["base"])])]) == [])
        // all: words of name, description, tag keys and values.
        #expect(try names(h, ["Filters": .list([filter("all", ["payments"])])]) == ["prod/db"])
        #expect(try names(h, ["Filters": .list([filter("all", ["db"])])]) == ["prod/db", "dev/db"])
        #expect(try names(h, ["Filters": .list([filter("all", ["things"])])]) == [])
        #expect(try names(h, ["Filters": .list([filter("all", ["ythings"])])]) == ["COMPANYthings"])
        #expect(try names(h, ["Filters": .list([filter("all", ["test"])])]) == ["MyTestSecret"])
        #expect(try names(h, ["Filters": .list([filter("all", ["/"])])]) == [])
    }

    @Test func filterValidation() throws {
        let h = try Harness()
        let message = h.fails(.listSecrets, ["Filters": .list([filter("colour", ["x"])])], .validation)
        #expect(message.contains("filters.1.member.key"))
        h.fails(.listSecrets, ["Filters": .list([filter("name", [])])], .invalidParameter)
        h.fails(.listSecrets, ["Filters": .list([filter("name", ["a;b"])])], .validation)
        h.fails(.listSecrets, ["Filters": .list([filter("name", (0..<11).map { "v\($0)" })])], .validation)
        h.fails(.listSecrets, ["Filters": .list((0..<11).map { _ in filter("name", ["a"]) })], .validation)
        h.fails(.listSecrets, ["SortOrder": "up"], .validation)
        h.fails(.listSecrets, ["SortBy": "size"], .validation)
        h.fails(.listSecrets, ["MaxResults": 101], .validation)
    }

    @Test func entriesUseListShapes() throws {
        let h = try Harness()
        try h.create("shape", "v", token: token(1))
        let entry = try h.ok(.listSecrets, [:])["SecretList"]?.listValue?.first?.mapValue
        #expect(entry?["SecretVersionsToStages"]?.mapValue?[token(1)]?.listValue?.first?.stringValue == "AWSCURRENT")
        #expect(entry?["VersionIdsToStages"] == nil)
        #expect(entry?["SecretString"] == nil)
    }
}

@Suite struct BatchGetTests {
    @Test func byIdListAndByFilter() throws {
        let h = try Harness()
        try h.create("b1", "one", extra: ["Tags": .list([.map(["Key": "grp", "Value": "x"])])])
        try h.create("b2", "two", extra: ["Tags": .list([.map(["Key": "grp", "Value": "x"])])])
        try h.create("b3", nil)
        let doc = try h.ok(.batchGetSecretValue, ["SecretIdList": ["b1", "b2", "b3", "missing"]])
        let values = (doc["SecretValues"]?.listValue ?? []).compactMap(\.mapValue)
        #expect(values.map { $0.secretText("SecretString") } == ["one", "two"])
        let errors = (doc["Errors"]?.listValue ?? []).compactMap(\.mapValue)
        #expect(errors.map { $0["SecretId"]?.stringValue } == ["b3", "missing"])
        #expect(errors.allSatisfy { $0["ErrorCode"]?.stringValue == "ResourceNotFoundException" })

        let filtered = try h.ok(
            .batchGetSecretValue,
            ["Filters": .list([.map(["Key": "tag-key", "Values": ["grp"]])]), "MaxResults": 1])
        #expect(filtered["SecretValues"]?.listValue?.count == 1)
        #expect(filtered["NextToken"] != nil)

        h.fails(.batchGetSecretValue, [:], .invalidParameter)
        h.fails(.batchGetSecretValue, ["SecretIdList": ["b1"], "Filters": .list([])], .invalidParameter)
        h.fails(.batchGetSecretValue, ["SecretIdList": ["b1"], "MaxResults": 5], .invalidParameter)
        h.fails(.batchGetSecretValue, ["SecretIdList": .list((0..<21).map { .string("s\($0)") })], .validation)
    }
}

@Suite struct BatchGetSizeTests {
    @Test func largeValuesAreSplitAcrossPagesThatFitInAFrame() throws {
        let h = try Harness()
        let big = String(repeating: "x", count: 60_000)
        let ids = (0..<20).map { "big\($0)" }
        for id in ids { try h.create(id, big) }
        var request: Document = ["SecretIdList": .list(ids.map { .string($0) })]
        var received: [String] = []
        var pages = 0
        while true {
            let page = try h.ok(.batchGetSecretValue, request)
            pages += 1
            let values = (page["SecretValues"]?.listValue ?? []).compactMap(\.mapValue)
            #expect(values.allSatisfy { $0.secretText("SecretString")?.utf8.count == 60_000 })
            received += values.compactMap { $0["Name"]?.stringValue }
            // Each reply fits in one frame.
            #expect(try WireCodec.encode(page).count < Limits.maxFrameBytes)
            guard let next = page["NextToken"]?.stringValue else { break }
            request["NextToken"] = .string(next)
        }
        #expect(received == ids)
        #expect(pages >= 5)
        // A token is tied to its list.
        let token = try h.ok(.batchGetSecretValue, ["SecretIdList": .list(ids.map { .string($0) })])["NextToken"]
        var other: Document = ["SecretIdList": .list(ids.dropFirst().map { .string($0) })]
        other["NextToken"] = token
        h.fails(.batchGetSecretValue, other, .invalidNextToken)
    }
}
