import CofferCore
import Glibc
import Testing

@testable import CofferClient

/// `coffer run --env/--file` and `coffer render --file`: the spec grammar, and the environment a command gets.
@Suite struct InjectionTests {
    static let environmentSpecs: [(String, EnvironmentInjection)] = [
        (
            "DB_PASSWORD=app/db",
            EnvironmentInjection(variable: "DB_PASSWORD", secret: SecretSelector(secretId: "app/db"))
        ),
        (
            "TOKEN=api/token@AWSPREVIOUS",
            EnvironmentInjection(
                variable: "TOKEN", secret: SecretSelector(secretId: "api/token", versionStage: "AWSPREVIOUS"))
        ),
        ("_x9=a=b", EnvironmentInjection(variable: "_x9", secret: SecretSelector(secretId: "a=b"))),
        // A name with @ is given with an explicit label: the last @ starts it.
        (
            "MAIL=user@example@AWSCURRENT",
            EnvironmentInjection(
                variable: "MAIL", secret: SecretSelector(secretId: "user@example", versionStage: "AWSCURRENT"))
        ),
        (
            "K=arn:coffer:secretsmanager:local:123456789012:secret:app/db-AbCdEf",
            EnvironmentInjection(
                variable: "K",
                secret: SecretSelector(secretId: "arn:coffer:secretsmanager:local:123456789012:secret:app/db-AbCdEf"))
        ),
    ]

    @Test(arguments: environmentSpecs)
    func environmentSpecsParse(spec: String, expected: EnvironmentInjection) throws {
        #expect(try InjectionSpecs.environment(spec) == expected)
    }

    static let badEnvironmentSpecs = [
        "DB_PASSWORD", "=app/db", "1X=app/db", "DB-PASSWORD=app/db", "DB PASSWORD=app/db", "É=app/db", "X=",
        "X=@AWSCURRENT", "X=app/db@", "X;rm=app/db",
    ]

    @Test(arguments: badEnvironmentSpecs)
    func badEnvironmentSpecsAreUsageErrors(spec: String) {
        #expect(throws: UsageError.self) { try InjectionSpecs.environment(spec) }
    }

    @Test func variableNames() {
        for good in ["A", "_", "a_b_9", "PATH", "x1"] { #expect(InjectionSpecs.isValidVariableName(good), "\(good)") }
        for bad in ["", "9a", "a-b", "a b", "a=b", "ä", "a.b"] {
            #expect(!InjectionSpecs.isValidVariableName(bad), "\(bad)")
        }
    }

    static let arn = "arn:coffer:secretsmanager:local:123456789012:secret:app/tls-AbCdEf"

    static let fileSpecs: [(String, FileInjection)] = [
        ("/run/app/db=app/db", FileInjection(path: "/run/app/db", secret: SecretSelector(secretId: "app/db"))),
        (
            "/run/app/db=app/db:0440",
            FileInjection(path: "/run/app/db", secret: SecretSelector(secretId: "app/db"), mode: 0o440)
        ),
        (
            "/run/app/db=app/db@AWSPENDING:600:app:www-data",
            FileInjection(
                path: "/run/app/db", secret: SecretSelector(secretId: "app/db", versionStage: "AWSPENDING"),
                mode: 0o600,
                owner: .name("app"), group: .name("www-data"))
        ),
        (
            "key.pem=app/tls::0:33",
            FileInjection(path: "key.pem", secret: SecretSelector(secretId: "app/tls"), owner: .id(0), group: .id(33))
        ),
        (
            "/etc/tls.key=\(arn):0400",
            FileInjection(path: "/etc/tls.key", secret: SecretSelector(secretId: arn), mode: 0o400)
        ),
        // The issue's spelling: PATH:SECRET:MODE when the spec has no =.
        ("/run/x:app/db:0400", FileInjection(path: "/run/x", secret: SecretSelector(secretId: "app/db"), mode: 0o400)),
        ("/run/x:app/db", FileInjection(path: "/run/x", secret: SecretSelector(secretId: "app/db"))),
        ("/run/x:\(arn)", FileInjection(path: "/run/x", secret: SecretSelector(secretId: arn))),
    ]

    @Test(arguments: fileSpecs)
    func fileSpecsParse(spec: String, expected: FileInjection) throws {
        #expect(try InjectionSpecs.file(spec) == expected)
    }

    static let badFileSpecs = [
        "/run/x", "=app/db", "/run/dir/=app/db", "/run/x=", "/run/x=app/db:0800", "/run/x=app/db:4755",
        "/run/x=app/db:rw", "/run/x=app/db:0400:a:b:c", "/run/x=arn:coffer:secretsmanager:local", "/run/x:",
    ]

    @Test(arguments: badFileSpecs)
    func badFileSpecsAreUsageErrors(spec: String) {
        #expect(throws: UsageError.self) { try InjectionSpecs.file(spec) }
    }

    @Test func theDefaultModeIsOwnerReadOnly() throws {
        #expect(try InjectionSpecs.file("/x=s").mode == 0o400)
    }

    @Test func aVariableOrPathTwiceIsRefused() {
        #expect(throws: UsageError("--env A is given twice.")) {
            try InjectionSpecs.parse(environment: ["A=x", "A=y"], files: [])
        }
        #expect(throws: UsageError("--file /f is given twice.")) {
            try InjectionSpecs.parse(environment: [], files: ["/f=x", "/f:y"])
        }
        #expect(throws: Never.self) { try InjectionSpecs.parse(environment: ["A=x", "B=x"], files: ["/f=x", "/g=x"]) }
    }

    // MARK: The child's environment

    @Test func injectedVariablesReplaceInheritedOnes() throws {
        let strings: [String] = ["PATH=/usr/bin:/bin", "COFFER_TEST_INHERITED=old", "NOEQUALS", "B=1=2"]
        let inherited = strings.map { strdup($0) }
        defer { inherited.forEach { free($0) } }
        var base = inherited + [nil]
        let environment = try ChildEnvironment(
            base: &base,
            injected: [
                ("COFFER_TEST_INHERITED", SensitiveBytes(copying: Array("new".utf8))),
                ("COFFER_TEST_ADDED", SensitiveBytes(copying: Array("v".utf8))),
            ])
        let entries = environment.withEnvp { envp -> [String] in
            var out: [String] = []
            var index = 0
            while let entry = envp[index] {
                out.append(String(cString: entry))
                index += 1
            }
            return out
        }
        #expect(entries.filter { $0.hasPrefix("COFFER_TEST_INHERITED=") } == ["COFFER_TEST_INHERITED=new"])
        #expect(entries.contains("COFFER_TEST_ADDED=v"))
        #expect(entries.contains("PATH=/usr/bin:/bin"))
        #expect(entries.contains("NOEQUALS"))
        #expect(entries.contains("B=1=2"))
        #expect(entries.count == 5)
        #expect(environment.contains(name: "COFFER_TEST_ADDED"))
        #expect(!environment.contains(name: "COFFER_TEST_ABSENT"))
    }

    @Test func aValueWithANULByteCannotBeAVariable() {
        #expect(throws: UsageError.self) {
            try ChildEnvironment(injected: [("X", SensitiveBytes(copying: [0x61, 0, 0x62]))])
        }
    }

    @Test func commandsAreSearchedInPATHUnlessTheyHaveASlash() {
        #expect(CommandRunner.searchPath(for: "./run.sh") == ["./run.sh"])
        #expect(CommandRunner.searchPath(for: "/bin/sh") == ["/bin/sh"])
        #expect(CommandRunner.searchPath(for: "env", in: "/a:/b/c::/d") == ["/a/env", "/b/c/env", "env", "/d/env"])
        #expect(CommandRunner.searchPath(for: "env", in: nil) == ["/usr/local/bin/env", "/usr/bin/env", "/bin/env"])
    }
}
