import CofferCore
import CofferProtocol
import CofferSystem
import Glibc
import Testing

/// Access control end to end: the real `cofferd`, the real `coffer` CLI run as other local users through `setpriv`,
/// and policies set by root over the admin socket (docs/POLICY.md). Needs root (CI runs as root): it creates the
/// accounts `cofft-alice` (in group `cofft-team`) and `cofft-bob` if they do not exist, and touches no other account.
@Suite(.serialized, .enabled(if: getuid() == 0, "creates local accounts and drops privileges: run as root"))
struct AccessControlTests {
    static let account = "123456789012"
    static let prefix = "arn:coffer:secretsmanager:local:\(account):secret:"

    /// The test accounts, created once per process.
    static let accounts: Result<(alice: TestUser, bob: TestUser, team: UInt32), SubprocessError> = {
        do {
            return .success(try CofftAccounts.ensure())
        } catch let error as SubprocessError {
            return .failure(error)
        } catch {
            return .failure(SubprocessError(message: "\(error)"))
        }
    }()

    var alice: TestUser { get throws { try AccessControlTests.accounts.get().alice } }
    var bob: TestUser { get throws { try AccessControlTests.accounts.get().bob } }

    /// A daemon with a fixed account id, so that ARNs in policies are known in advance; `extra` adds members to
    /// its configuration file (`"key": value, ...`).
    func daemon(config extra: String = "") throws -> Daemon {
        let daemon = try Daemon(start: false)
        let config = daemon.root + "/config.json"
        let members = (extra.isEmpty ? "" : extra + ", ") + #""vault": {"accountId": "\#(AccessControlTests.account)"}"#
        _ = try SafeFile.createExclusive(path: config, mode: 0o600, contents: Array("{\(members)}".utf8))
        daemon.extraArguments = ["--config", config]
        try daemon.start()
        return daemon
    }

    // MARK: Running the CLI

    /// `coffer call <operation> <json>` as `user` (root when nil).
    func call(_ d: Daemon, _ operation: String, _ json: String, as user: TestUser? = nil) throws -> ProcessResult {
        try d.cli(["call", operation, json], as: user)
    }

    /// Root's administration over the admin socket; requires success.
    func admin(
        _ d: Daemon, _ operation: String, _ json: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let result = try call(d, operation, json)
        #expect(result.status == 0, "\(operation): \(result.stderrText)", sourceLocation: sourceLocation)
    }

    func putUserPolicy(_ d: Daemon, _ user: String, _ name: String, _ document: String) throws {
        try admin(
            d, "PutUserPolicy",
            #"{"UserName": "\#(user)", "PolicyName": "\#(name)", "PolicyDocument": \#(jsonString(document))}"#)
    }

    func putGroupPolicy(_ d: Daemon, _ group: String, _ name: String, _ document: String) throws {
        try admin(
            d, "PutGroupPolicy",
            #"{"GroupName": "\#(group)", "PolicyName": "\#(name)", "PolicyDocument": \#(jsonString(document))}"#)
    }

    /// `coffer get <name>` as `user`: the value on success, nil when the daemon refused; anything else is an issue.
    func get(
        _ d: Daemon, _ name: String, as user: TestUser?, stage: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> String? {
        var arguments = ["get", name]
        if let stage { arguments += ["--version-stage", stage] }
        let result = try d.cli(arguments, as: user)
        if result.status == 0 { return result.stdoutText }
        #expect(result.status == 254, "\(result.stderrText)", sourceLocation: sourceLocation)
        #expect(
            result.stderrText.contains("AccessDeniedException"), "\(result.stderrText)", sourceLocation: sourceLocation)
        return nil
    }

    /// Requires a refusal with AccessDeniedException (exit status 254, the AWS CLI's "service error").
    func expectDenied(_ result: ProcessResult, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == 254, "\(result.stdoutText) \(result.stderrText)", sourceLocation: sourceLocation)
        #expect(
            result.stderrText.contains(#""__type": "AccessDeniedException""#)
                || result.stderrText.contains(#""__type":"AccessDeniedException""#),
            "\(result.stderrText)", sourceLocation: sourceLocation)
    }

    func create(_ d: Daemon, _ name: String, _ value: String, tags: [(String, String)] = []) throws {
        var arguments = ["create", name, "--value", value]
        for (key, tagValue) in tags { arguments += ["--tag", "\(key)=\(tagValue)"] }
        let result = try d.cli(arguments)
        #expect(result.status == 0, "\(result.stderrText)")
    }

    // MARK: Tests

    @Test func nobodyButRootCanDoAnythingOnAFreshVault() throws {
        let (alice, bob) = (try alice, try bob)
        let d = try daemon()
        try create(d, "app/db", "s3cret")
        #expect(try get(d, "app/db", as: nil) == "s3cret")
        for user in [alice, bob] {
            #expect(try get(d, "app/db", as: user) == nil)
            expectDenied(try call(d, "DescribeSecret", #"{"SecretId": "app/db"}"#, as: user))
            expectDenied(try call(d, "ListSecrets", "{}", as: user))
            expectDenied(try call(d, "CreateSecret", #"{"Name": "mine", "SecretString": "x"}"#, as: user))
            expectDenied(try call(d, "PutSecretValue", #"{"SecretId": "app/db", "SecretString": "x"}"#, as: user))
            expectDenied(try call(d, "DeleteSecret", #"{"SecretId": "app/db"}"#, as: user))
            expectDenied(try call(d, "GetRandomPassword", "{}", as: user))
            expectDenied(try call(d, "BatchGetSecretValue", #"{"SecretIdList": ["app/db"]}"#, as: user))
        }
        // The denial names the user by login, as the kernel attested it.
        let denial = try call(d, "GetSecretValue", #"{"SecretId": "app/db"}"#, as: alice)
        #expect(denial.stderrText.contains("arn:coffer:iam::\(AccessControlTests.account):user/cofft-alice"))
        #expect(try get(d, "app/db", as: nil) == "s3cret")  // untouched
    }

    @Test func aUserPolicyGrantsExactlyWhatItSays() throws {
        let (alice, bob) = (try alice, try bob)
        let d = try daemon()
        try create(d, "app/db", "db-pass")
        try create(d, "app/other", "other")
        try putUserPolicy(
            d, "cofft-alice", "read-db",
            #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","#
                + #""Resource":"\#(AccessControlTests.prefix)app/db-??????"}]}"#)
        #expect(try get(d, "app/db", as: alice) == "db-pass")
        #expect(try get(d, "app/other", as: alice) == nil)
        expectDenied(try call(d, "DescribeSecret", #"{"SecretId": "app/db"}"#, as: alice))
        expectDenied(try call(d, "PutSecretValue", #"{"SecretId": "app/db", "SecretString": "x"}"#, as: alice))
        expectDenied(try call(d, "ListSecrets", "{}", as: alice))
        #expect(try get(d, "app/db", as: bob) == nil)
        // The policy is visible to root over the admin socket, and removing it takes the grant away at once.
        let stored = try call(d, "GetUserPolicy", #"{"UserName": "cofft-alice", "PolicyName": "read-db"}"#)
        #expect(stored.status == 0)
        #expect(stored.stdoutText.contains("app/db-??????"))
        try admin(d, "DeleteUserPolicy", #"{"UserName": "cofft-alice", "PolicyName": "read-db"}"#)
        #expect(try get(d, "app/db", as: alice) == nil)
    }

    @Test func aGroupPolicyReachesMembersOnly() throws {
        let (alice, bob) = (try alice, try bob)
        let d = try daemon()
        try create(d, "team/key", "team-key")
        try putGroupPolicy(
            d, "cofft-team", "team-read",
            #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","#
                + #""Action":["secretsmanager:GetSecretValue","secretsmanager:ListSecrets","secretsmanager:DescribeSecret"],"#
                + #""Resource":"*"}]}"#)
        #expect(try get(d, "team/key", as: alice) == "team-key")
        #expect(try get(d, "team/key", as: bob) == nil)
        let listed = try call(d, "ListSecrets", "{}", as: alice)
        #expect(listed.status == 0)
        #expect(listed.stdoutText.contains("team/key"))
        expectDenied(try call(d, "ListSecrets", "{}", as: bob))
        // Groups are those pinned at connect: alice started without her supplementary groups is not a member.
        var aliceAlone = alice
        aliceAlone.groups = []
        #expect(try get(d, "team/key", as: aliceAlone) == nil)
    }

    @Test func anExplicitDenyInEitherKindOfPolicyBeatsAnyAllow() throws {
        let alice = try alice
        let d = try daemon()
        try create(d, "app/db", "db-pass")
        try create(d, "app/cfg", "cfg")
        let everything =
            #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"}]}"#
        func denyRead(_ name: String) -> String {
            #"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"secretsmanager:GetSecretValue","#
                + #""Resource":"\#(AccessControlTests.prefix)\#(name)-??????"}]}"#
        }
        // The group allows everything; alice's own policy denies reading app/db.
        try putGroupPolicy(d, "cofft-team", "all", everything)
        try putUserPolicy(d, "cofft-alice", "no-db", denyRead("app/db"))
        #expect(try get(d, "app/db", as: alice) == nil)
        #expect(try get(d, "app/cfg", as: alice) == "cfg")
        let denial = try call(d, "GetSecretValue", #"{"SecretId": "app/db"}"#, as: alice)
        #expect(denial.stderrText.contains("AccessDeniedException"))
        #expect(try call(d, "DescribeSecret", #"{"SecretId": "app/db"}"#, as: alice).status == 0)
        // Alice's own policy allows everything; the group's denies reading app/cfg.
        try putUserPolicy(d, "cofft-alice", "no-db", everything)
        try putGroupPolicy(d, "cofft-team", "all", denyRead("app/cfg"))
        #expect(try get(d, "app/db", as: alice) == "db-pass")
        #expect(try get(d, "app/cfg", as: alice) == nil)
        // A resource policy's Deny beats both.
        try admin(
            d, "PutResourcePolicy",
            #"{"SecretId": "app/db", "ResourcePolicy": \#(jsonString(#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#))}"#
        )
        #expect(try get(d, "app/db", as: alice) == nil)
    }

    @Test func aTagConditionFiltersAsDocumented() throws {
        let (alice, bob) = (try alice, try bob)
        let d = try daemon()
        try create(d, "blue/db", "blue-pass", tags: [("team", "blue")])
        try create(d, "red/db", "red-pass", tags: [("team", "red")])
        try create(d, "plain", "plain")
        try putGroupPolicy(
            d, "cofft-team", "blue-only",
            #"{"Version":"2012-10-17","Statement":["#
                + #"{"Effect":"Allow","Action":"secretsmanager:ListSecrets","Resource":"*"},"#
                + #"{"Effect":"Allow","Action":["secretsmanager:GetSecretValue","secretsmanager:DescribeSecret"],"#
                + #""Resource":"*","Condition":{"StringEquals":{"secretsmanager:ResourceTag/team":"blue"}}}]}"#)
        #expect(try get(d, "blue/db", as: alice) == "blue-pass")
        #expect(try get(d, "red/db", as: alice) == nil)
        #expect(try get(d, "plain", as: alice) == nil)
        #expect(try get(d, "blue/db", as: bob) == nil)
        // ListSecrets shows only what alice may describe.
        let listed = try d.cli(["ls"], as: alice)
        #expect(listed.status == 0, "\(listed.stderrText)")
        #expect(listed.stdoutText.contains("blue/db"))
        #expect(!listed.stdoutText.contains("red/db"))
        #expect(!listed.stdoutText.contains("plain"))
        // Retagging by root moves a secret into the team's reach.
        #expect(try d.cli(["tag", "red/db", "team=blue"]).status == 0)
        #expect(try get(d, "red/db", as: alice) == "red-pass")
    }

    @Test func aStagingLabelConditionFiltersAsDocumented() throws {
        let alice = try alice
        let d = try daemon()
        try create(d, "rotated", "old")
        #expect(try d.cli(["put", "rotated", "--value", "new"]).status == 0)
        try putUserPolicy(
            d, "cofft-alice", "current-only",
            #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","#
                + #""Resource":"*","Condition":{"StringEquals":{"secretsmanager:VersionStage":"AWSCURRENT"}}}]}"#)
        // Without --version-stage the read is of AWSCURRENT, and the condition sees AWSCURRENT.
        #expect(try get(d, "rotated", as: alice) == "new")
        #expect(try get(d, "rotated", as: alice, stage: "AWSCURRENT") == "new")
        #expect(try get(d, "rotated", as: alice, stage: "AWSPREVIOUS") == nil)
        #expect(try get(d, "rotated", as: nil, stage: "AWSPREVIOUS") == "old")
    }

    @Test func aResourcePolicyGrantsAnotherUserRead() throws {
        let (alice, bob) = (try alice, try bob)
        let d = try daemon()
        try create(d, "alice/token", "alices-token")
        let grant =
            #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","#
            + #""Principal":{"AWS":"arn:coffer:iam::\#(AccessControlTests.account):user/cofft-bob"},"#
            + #""Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#
        #expect(try get(d, "alice/token", as: bob) == nil)
        try admin(
            d, "PutResourcePolicy",
            #"{"SecretId": "alice/token", "ResourcePolicy": \#(jsonString(grant)), "BlockPublicPolicy": true}"#)
        #expect(try get(d, "alice/token", as: bob) == "alices-token")
        #expect(try get(d, "alice/token", as: alice) == nil)
        expectDenied(try call(d, "DescribeSecret", #"{"SecretId": "alice/token"}"#, as: bob))
        // A policy open to everyone is refused with BlockPublicPolicy.
        let open = grant.replacing(
            #"{"AWS":"arn:coffer:iam::\#(AccessControlTests.account):user/cofft-bob"}"#, with: #""*""#)
        let refused = try call(
            d, "PutResourcePolicy",
            #"{"SecretId": "alice/token", "ResourcePolicy": \#(jsonString(open)), "BlockPublicPolicy": true}"#)
        #expect(refused.status == 254)
        #expect(refused.stderrText.contains("PublicPolicyException"))
    }

    @Test func aDeniedCallerCannotTellWhetherASecretExists() throws {
        let bob = try bob
        let d = try daemon()
        try create(d, "app/db", "db-pass")
        let requests = [
            ("GetSecretValue", #"{"SecretId": "app/db"}"#),
            ("DescribeSecret", #"{"SecretId": "app/db"}"#),
            ("PutSecretValue", #"{"SecretId": "app/db", "SecretString": "x"}"#),
            ("DeleteSecret", #"{"SecretId": "app/db", "ForceDeleteWithoutRecovery": true}"#),
            ("GetResourcePolicy", #"{"SecretId": "app/db"}"#),
            ("TagResource", #"{"SecretId": "app/db", "Tags": [{"Key": "k", "Value": "v"}]}"#),
        ]
        func answers() throws -> [String] {
            try requests.map { op, json in
                let result = try call(d, op, json, as: bob)
                expectDenied(result)
                return result.stderrText
            }
        }
        let whileItExists = try answers()
        #expect(
            try d.cli(["call", "DeleteSecret", #"{"SecretId": "app/db", "ForceDeleteWithoutRecovery": true}"#]).status
                == 0)
        #expect(
            try call(d, "DescribeSecret", #"{"SecretId": "app/db"}"#).stderrText.contains("ResourceNotFoundException"))
        let afterDeletion = try answers()
        #expect(whileItExists == afterDeletion)  // byte for byte
    }

    @Test func administrationDelegatedThroughTheAdminSocketGroup() throws {
        // docs/POLICY.md, worked example 3: the admin socket opened to a group, and one of its members allowed to
        // manage the policies of other users (here: bob), with only a given managed policy attachable.
        let (alice, bob) = (try alice, try bob)
        let d = try daemon(config: #""adminSocketGroup": "cofft-team", "adminSocketMode": "0660""#)
        #expect(try SafeFile.fileMode(path: d.adminSocketPath) == 0o660)
        try create(d, "app/db", "db-pass")
        let read =
            #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#
        try admin(
            d, "CreatePolicy", #"{"PolicyName": "app-read", "Path": "/app/", "PolicyDocument": \#(jsonString(read))}"#)
        try admin(d, "CreatePolicy", #"{"PolicyName": "everything", "PolicyDocument": \#(jsonString(read))}"#)
        // Reaching the socket is not enough: alice has no IAM permission yet.
        let before = try call(d, "ListUserPolicies", #"{"UserName": "cofft-bob"}"#, as: alice)
        expectDenied(before)
        try putUserPolicy(
            d, "cofft-alice", "delegate",
            #"{"Version":"2012-10-17","Statement":["#
                + #"{"Effect":"Allow","Action":["iam:PutUserPolicy","iam:GetUserPolicy","iam:ListUserPolicies","#
                + #""iam:DeleteUserPolicy"],"Resource":"arn:coffer:iam::\#(AccessControlTests.account):user/cofft-*"},"#
                + #"{"Effect":"Allow","Action":["iam:AttachUserPolicy","iam:DetachUserPolicy"],"#
                + #""Resource":"arn:coffer:iam::\#(AccessControlTests.account):user/cofft-*","#
                + #""Condition":{"ArnLike":{"iam:PolicyARN":"arn:coffer:iam::\#(AccessControlTests.account):policy/app/*"}}},"#
                + #"{"Effect":"Deny","Action":"iam:*","#
                + #""Resource":"arn:coffer:iam::\#(AccessControlTests.account):user/${aws:username}"}]}"#)
        let appRead =
            #"{"UserName": "cofft-bob", "PolicyArn": "arn:coffer:iam::\#(AccessControlTests.account):policy/app/app-read"}"#
        let delegated = try call(d, "AttachUserPolicy", appRead, as: alice)
        #expect(delegated.status == 0, "\(delegated.stderrText)")
        #expect(try get(d, "app/db", as: bob) == "db-pass")
        // Not another policy, not herself, and bob (outside the group) cannot reach the socket at all.
        expectDenied(
            try call(
                d, "AttachUserPolicy",
                #"{"UserName": "cofft-bob", "PolicyArn": "arn:coffer:iam::\#(AccessControlTests.account):policy/everything"}"#,
                as: alice))
        expectDenied(
            try call(
                d, "PutUserPolicy",
                #"{"UserName": "cofft-alice", "PolicyName": "self", "PolicyDocument": \#(jsonString(read))}"#, as: alice
            ))
        #expect(try get(d, "app/db", as: alice) == nil)
        #expect(try call(d, "ListUserPolicies", #"{"UserName": "cofft-bob"}"#, as: bob).status == 255)
    }

    static let cgroupRoot = "/sys/fs/cgroup/unified"

    @Test(
        .enabled(
            if: access(AccessControlTests.cgroupRoot + "/cgroup.procs", W_OK) == 0,
            "needs a writable cgroup2 hierarchy at /sys/fs/cgroup/unified (CI's container; never a live systemd host)"))
    func aServiceReadsOneSecretThroughItsUnitRole() throws {
        // docs/POLICY.md, worked example 1, with a real cgroup standing in for systemd's unit.
        let bob = try bob
        let d = try daemon()
        try create(d, "myapp/db", "hunter2")
        try create(d, "myapp/other", "other")
        try admin(d, "CreateRole", #"{"RoleName": "cofft-myapp.service"}"#)
        let readDB =
            #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","#
            + #""Resource":"\#(AccessControlTests.prefix)myapp/db-??????"}]}"#
        try admin(
            d, "PutRolePolicy",
            #"{"RoleName": "cofft-myapp.service", "PolicyName": "read-db", "PolicyDocument": \#(jsonString(readDB))}"#)
        let cgroup = AccessControlTests.cgroupRoot + "/system.slice/cofft-myapp.service"
        #expect(mkdir(AccessControlTests.cgroupRoot + "/system.slice", 0o755) == 0 || errno == EEXIST)
        #expect(mkdir(cgroup, 0o755) == 0 || errno == EEXIST)
        defer { rmdir(cgroup) }
        /// `coffer <arguments>` as bob, started inside the unit's cgroup (root moves the shell, then drops to bob).
        func inUnit(_ arguments: [String]) throws -> ProcessResult {
            let command = (bob.setprivPrefix + [Daemon.coffer, "--socket", d.socketPath] + arguments).map {
                "'\($0)'"
            }.joined(separator: " ")
            return try Subprocess.run(["/bin/sh", "-c", "echo $$ > '\(cgroup)/cgroup.procs' && exec \(command)"])
        }
        let read = try inUnit(["get", "myapp/db"])
        #expect(read.status == 0, "\(read.stderrText)")
        #expect(read.stdoutText == "hunter2")
        expectDenied(try inUnit(["get", "myapp/other"]))
        expectDenied(try inUnit(["describe", "myapp/db"]))
        let denial = try inUnit(["get", "myapp/other"])
        #expect(denial.stderrText.contains("role/cofft-myapp.service"), "\(denial.stderrText)")
        // The same user outside the unit has only its own (no) policies.
        #expect(try get(d, "myapp/db", as: bob) == nil)
    }

    @Test func aConnectionHandedToAnotherUserKeepsTheConnectorsIdentity() throws {
        // docs/THREAT-MODEL.md (T11): identity is taken once, at connect. A process that passes its connected socket
        // on (SCM_RIGHTS, or inheritance across exec and a privilege drop) passes its identity with it.
        let bob = try bob
        let d = try daemon()
        try create(d, "app/db", "db-pass")
        #expect(try get(d, "app/db", as: bob) == nil)
        let connection = try d.connect()  // root's connection
        let inherited = dup(connection.fd.rawValue)  // a duplicate without FD_CLOEXEC: the child inherits it
        #expect(inherited >= 0)
        defer { close(inherited) }
        let clients = String(#filePath).split(separator: "/").dropLast(3).joined(separator: "/")
        let script = """
            import socket, sys
            sys.path.insert(0, sys.argv[2])
            import coffer_client
            client = coffer_client.Client(sock=socket.socket(fileno=int(sys.argv[1])))
            value = client.call("GetSecretValue", {"SecretId": "app/db"})["SecretString"]
            print(value.decode() if isinstance(value, bytes) else value)
            """
        let result = try Subprocess.run(
            bob.setprivPrefix + ["/usr/bin/python3", "-c", script, String(inherited), "/\(clients)/clients/python"])
        #expect(result.stdoutText.trimmingSpaces == "db-pass", "\(result.stderrText)")
    }

    @Test func theAdminSocketRefusesOtherUsersAtConnect() throws {
        let alice = try alice
        let d = try daemon()
        #expect(try SafeFile.fileMode(path: d.adminSocketPath) == 0o600)
        // The kernel refuses the connect (EACCES) before the daemon sees anything.
        let probe = try Subprocess.run(
            alice.setprivPrefix + [
                "/usr/bin/python3", "-c",
                "import socket, sys\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect(sys.argv[1])\n"
                    + "    print('connected')\nexcept OSError as e:\n    print(e.errno)",
                d.adminSocketPath,
            ])
        #expect(probe.stdoutText.trimmingSpaces == String(EACCES), "\(probe.stdoutText) \(probe.stderrText)")
        // The CLI says so and exits 255 (not reached), even with an IAM policy that would allow the operation.
        try putUserPolicy(
            d, "cofft-alice", "iam",
            #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#)
        let result = try call(d, "ListRoles", "{}", as: alice)
        #expect(result.status == 255)
        #expect(result.stderrText.contains("permission denied"), "\(result.stderrText)")
        // Root reaches it.
        #expect(try call(d, "ListRoles", "{}").status == 0)
        // IAM operations sent to the client socket are refused there, even to root.
        let misrouted = try d.connect()
        for operation in Operation.allCases where operation.service == .iam {
            do {
                _ = try misrouted.call(operation, [:])
                Issue.record("\(operation.name) was served on the client socket")
            } catch let error as ServiceError {
                #expect(error.code == .accessDenied, "\(operation.name): \(error)")
            }
        }
    }
}

/// `groupadd`/`useradd` for the fixed test accounts, reusing them if they exist.
enum CofftAccounts {
    static let team = "cofft-team"
    static let alice = "cofft-alice"
    static let bob = "cofft-bob"

    static func run(_ arguments: [String]) throws {
        let result = try Subprocess.run(arguments)
        guard result.status == 0 else {
            throw SubprocessError(message: "\(arguments.joined(separator: " ")): \(result.stderrText)")
        }
    }

    static func ensure() throws -> (alice: TestUser, bob: TestUser, team: UInt32) {
        if try Accounts.gid(named: team) == nil { try run(["/usr/sbin/groupadd", team]) }
        for name in [alice, bob] where try Accounts.uid(named: name) == nil {
            try run(["/usr/sbin/useradd", "-M", "-N", "-s", "/usr/sbin/nologin", name])
        }
        guard let teamGID = try Accounts.gid(named: team) else { throw SubprocessError(message: "no group \(team)") }
        // alice is a member of the team (idempotent); bob was created without supplementary groups.
        if try !(Accounts.groups(ofUser: alice) ?? []).contains(teamGID) {
            try run(["/usr/sbin/usermod", "-a", "-G", team, alice])
        }
        func user(_ name: String) throws -> TestUser {
            guard let uid = try Accounts.uid(named: name), let gid = try Accounts.primaryGroup(ofUser: name) else {
                throw SubprocessError(message: "no user \(name)")
            }
            let groups = (try Accounts.groups(ofUser: name) ?? []).filter { $0 != gid }
            return TestUser(name: name, uid: uid, gid: gid, groups: groups)
        }
        let (a, b) = (try user(alice), try user(bob))
        guard a.groups.contains(teamGID), !b.groups.contains(teamGID) else {
            throw SubprocessError(message: "\(alice) must be in \(team) and \(bob) must not")
        }
        return (a, b, teamGID)
    }
}

/// A JSON string literal for `text` (quotes, backslashes and control characters escaped).
func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if scalar.value < 0x20 {
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let last = s.last, last == "\n" || last == " " || last == "\r" { s.removeLast() }
        while let first = s.first, first == " " { s.removeFirst() }
        return String(s)
    }
}
