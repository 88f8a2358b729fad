import Testing

@testable import CofferClient

/// The hand-written `coffer get` parser: what it takes, and everything it must leave to ArgumentParser (which then
/// prints help or a usage error).
@Suite struct FastGetTests {
    static let accepted: [([String], FastGet)] = [
        (["get", "app/x"], FastGet(secretId: "app/x")),
        (["get", "app/x", "--version-stage", "AWSPREVIOUS"], FastGet(secretId: "app/x", versionStage: "AWSPREVIOUS")),
        (["get", "--version-stage=AWSPENDING", "app/x"], FastGet(secretId: "app/x", versionStage: "AWSPENDING")),
        (["get", "app/x", "--version-id", "v1"], FastGet(secretId: "app/x", versionId: "v1")),
        (["--socket", "/s.sock", "get", "app/x"], FastGet(secretId: "app/x", socket: "/s.sock")),
        (["--socket=/s.sock", "get", "app/x"], FastGet(secretId: "app/x", socket: "/s.sock")),
        (["get", "app/x", "--socket", "/s.sock"], FastGet(secretId: "app/x", socket: "/s.sock")),
        (["--admin-socket", "/a.sock", "get", "app/x"], FastGet(secretId: "app/x")),
        (["get", "--", "-odd-name"], FastGet(secretId: "-odd-name")),
        (
            ["get", "--version-id", "v1", "--version-stage", "AWSCURRENT", "n"],
            FastGet(secretId: "n", versionId: "v1", versionStage: "AWSCURRENT")
        ),
    ]

    @Test(arguments: accepted)
    func parsesPlainGet(arguments: [String], expected: FastGet) {
        #expect(FastGet.parse(arguments[...]) == expected)
    }

    static let declined: [[String]] = [
        [],
        ["get"],  // missing NAME: ArgumentParser's usage error
        ["get", "--help"],
        ["get", "-h", "x"],
        ["get", "x", "y"],  // two names
        ["get", "x", "--version-stage"],  // option without value
        ["get", "x", "--version-stage", "--version-id"],  // value looks like an option
        ["get", "x", "--version-stage", "A", "--version-stage", "B"],  // repeated
        ["get", "x", "--socket", "/a", "--socket", "/b"],
        ["--socket", "/a", "get", "x", "--socket", "/b"],
        ["get", "x", "--unknown", "1"],
        ["get", "x", "-v"],
        ["put", "x"],
        ["ls"],
        ["--verbose", "get", "x"],
        ["--socket", "get", "x"],  // `get` taken as the socket's value would be wrong: declined
        ["get", ""],
        ["--version"],
    ]

    @Test(arguments: declined)
    func leavesEverythingElseToTheFullParser(arguments: [String]) {
        #expect(FastGet.parse(arguments[...]) == nil)
    }

    @Test func worksOnASliceOfTheRealArgv() {
        let argv = ["/usr/bin/coffer", "get", "app/x"]
        #expect(FastGet.parse(argv.dropFirst()) == FastGet(secretId: "app/x"))
    }
}
