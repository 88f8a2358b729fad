import CofferCore
import CofferCrypto
import CofferProtocol
import CofferVault
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A populated vault on a private directory in `/dev/shm` (fsync is cheap there), shared by the dispatch and admin
/// targets: the fixture of openssh's `agent_fuzz`, which loads keys before feeding the dispatcher.
///
/// The vault is seeded once (secrets with versions, tags, a resource policy, a deleted secret; inline, managed and
/// group policies for `nobody`; a role) and kept as a template. Every ``resetInterval`` inputs, and after an input
/// left the vault sealed, the working copy is replaced by the template, so state cannot grow without bound and
/// findings reproduce from a fresh vault.
final class DispatchEngine: Sendable {
    static let shared = DispatchEngine()

    /// Every seeded value contains this marker: no error message may ever show it.
    static let canary = "FUZZCANARY"
    static let resetInterval = 2_000

    private let state = Mutex<EngineState?>(nil)

    /// Runs `body` with the live vault (opened or reset as needed), one input at a time.
    func withVault<R>(_ body: (Vault, VaultReader) -> R) -> R {
        state.withLock { slot in
            if let current = slot, current.vault.isSealed || current.runs >= DispatchEngine.resetInterval {
                current.vault.close()
                slot = nil
            }
            if slot == nil { slot = EngineState.open() }
            guard let current = slot else {
                fatalError("coffer-fuzz: cannot open the fixture vault")  // the harness itself is broken
            }
            current.runs += 1
            return body(current.vault, current.reader)
        }
    }

    // MARK: Callers

    /// Four fixed callers, chosen per request: the administrator, `nobody` with policies, `nobody` as a process of a
    /// unit with a role, and a uid with no account and no policy.
    static let callers: [Caller] = [
        Caller(uid: 0, gid: 0, userName: "root", groupNames: ["root"]),
        Caller(uid: 65_534, gid: 65_534, userName: "nobody", groupNames: ["nogroup"]),
        Caller(
            uid: 65_534, gid: 65_534, userName: "nobody", groupNames: ["nogroup"], systemdUnit: "fuzz.service",
            executablePath: "/usr/bin/fuzz"),
        Caller(uid: 42_424, gid: 42_424),
    ]
}

/// The live working copy.
final class EngineState: @unchecked Sendable {
    // @unchecked: created, used and dropped only inside DispatchEngine's lock (one input at a time); the reader is
    // the per-thread kind, and libFuzzer and the replay tests call from one thread at a time.
    let vault: Vault
    let reader: VaultReader
    var runs = 0

    init(vault: Vault, reader: VaultReader) {
        self.vault = vault
        self.reader = reader
    }

    static let template: String? = FuzzFixture.makeTemplate()

    static func open() -> EngineState? {
        guard let template = EngineState.template else { return nil }
        let directory = FuzzFixture.root + "/work"
        _ = FuzzFixture.removeTree(directory)
        guard mkdir(directory, 0o700) == 0, FuzzFixture.copyFile(template, to: directory + "/vault.db") else {
            return nil
        }
        guard let vault = try? FuzzFixture.openVault(directory + "/vault.db"), let reader = try? vault.makeReader()
        else { return nil }
        return EngineState(vault: vault, reader: reader)
    }
}

/// Builds the template vault.
enum FuzzFixture {
    /// `/dev/shm/coffer-fuzz-<pid>`, removed at exit (and stale ones of dead processes at start).
    static let root: String = {
        removeStaleRoots()
        let path = "/dev/shm/coffer-fuzz-\(getpid())"
        _ = removeTree(path)
        mkdir(path, 0o700)
        atexit { _ = FuzzFixture.removeTree(FuzzFixture.root) }
        return path
    }()

    static let masterKey: MasterKey? = {
        try? Sodium.initialize()
        return try? MasterKey.generate(id: 1)
    }()

    static func openVault(_ path: String) throws -> Vault {
        guard let key = masterKey else { throw ServiceError.internalFailure }
        var options = VaultOptions(databasePath: path)
        options.accountID = "123456789012"
        options.store.cacheKiB = 512
        options.purgeOnOpen = false
        return try Vault.open(options, masterKey: key)
    }

    /// Seeds a vault through the public operations (as root) and returns the path of its closed database.
    static func makeTemplate() -> String? {
        let directory = root + "/template"
        _ = removeTree(directory)
        guard mkdir(directory, 0o700) == 0 else { return nil }
        let path = directory + "/vault.db"
        guard let vault = try? openVault(path), let reader = try? vault.makeReader() else { return nil }
        defer { vault.close() }
        let root = DispatchEngine.callers[0]
        func sm(_ operation: Operation, _ document: Document) -> Bool {
            if case .success = vault.perform(operation, document, caller: root, reader: reader) { return true }
            return false
        }
        func iam(_ operation: Operation, _ document: Document) -> Bool {
            let result = OneShot<Result<Document, ServiceError>>()
            vault.handleIAM(operation, document, caller: root) { result.fulfill($0) }
            if case .success = result.wait() { return true }
            return false
        }
        let canary = DispatchEngine.canary
        let tokens = (0..<8).map { "fuzz-token-\(String(repeating: "0", count: 24))\($0)" }
        let secretPolicy = """
            {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":\
            "arn:coffer:iam::123456789012:user/nobody"},"Action":"secretsmanager:GetSecretValue","Resource":"*",\
            "Condition":{"StringEquals":{"secretsmanager:VersionStage":"AWSCURRENT"}}}]}
            """
        let userPolicy = """
            {"Version":"2012-10-17","Statement":[\
            {"Sid":"Read","Effect":"Allow","Action":["secretsmanager:GetSecretValue","secretsmanager:Describe*",\
            "secretsmanager:List*"],"Resource":"arn:coffer:secretsmanager:local:123456789012:secret:app/*"},\
            {"Sid":"Team","Effect":"Allow","Action":"secretsmanager:*","Resource":"*",\
            "Condition":{"StringEquals":{"aws:ResourceTag/team":"${aws:username}"}}},\
            {"Sid":"Create","Effect":"Allow","Action":["secretsmanager:CreateSecret","secretsmanager:TagResource"],\
            "Resource":"*","Condition":{"ForAllValues:StringLike":{"aws:TagKeys":["team","env*"]}}},\
            {"Sid":"NoDelete","Effect":"Deny","Action":"secretsmanager:DeleteSecret","Resource":"*"},\
            {"Sid":"Exe","Effect":"Allow","Action":"secretsmanager:PutSecretValue","Resource":"*",\
            "Condition":{"StringEquals":{"coffer:ExecutablePath":"/usr/bin/fuzz"}}}]}
            """
        let managed = """
            {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Get*","iam:List*",\
            "iam:Simulate*","coffer:Status"],"Resource":"*"},{"Effect":"Allow","Action":"iam:PutUserPolicy",\
            "Resource":"arn:coffer:iam::123456789012:user/nobody"}]}
            """
        let rolePolicy = """
            {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue",\
            "Resource":"*","Condition":{"StringLike":{"secretsmanager:SecretId":"team/*"}}}]}
            """
        let groupPolicy = """
            {"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"secretsmanager:Get*",\
            "NotResource":"arn:coffer:secretsmanager:local:123456789012:secret:team/*"}]}
            """
        let seeded = [
            sm(
                .createSecret,
                [
                    "Name": "app/db", "ClientRequestToken": .string(tokens[0]),
                    "SecretString": .secret(
                        SensitiveBytes(copying: Array("\(canary)-db-password".utf8)), isString: true),
                    "Tags": [.map(["Key": "team", "Value": "nobody"])], "Description": "database",
                ]),
            sm(
                .putSecretValue,
                [
                    "SecretId": "app/db", "ClientRequestToken": .string(tokens[1]),
                    "SecretString": .secret(SensitiveBytes(copying: Array("\(canary)-db-v2".utf8)), isString: true),
                ]),
            sm(
                .createSecret,
                [
                    "Name": "app/bin", "ClientRequestToken": .string(tokens[2]),
                    "SecretBinary": .secret(
                        SensitiveBytes(copying: Array(canary.utf8) + [0, 1, 2, 255]), isString: false),
                ]),
            sm(
                .createSecret,
                [
                    "Name": "team/alpha", "ClientRequestToken": .string(tokens[3]),
                    "SecretString": .secret(SensitiveBytes(copying: Array("\(canary)-alpha".utf8)), isString: true),
                    "Tags": [.map(["Key": "team", "Value": "alpha"]), .map(["Key": "env", "Value": "prod"])],
                ]),
            sm(.putResourcePolicy, ["SecretId": "team/alpha", "ResourcePolicy": .string(secretPolicy)]),
            sm(.createSecret, ["Name": "team/empty", "Description": "no value yet"]),
            sm(
                .createSecret,
                [
                    "Name": "old/deleted", "ClientRequestToken": .string(tokens[4]),
                    "SecretString": .secret(SensitiveBytes(copying: Array("\(canary)-old".utf8)), isString: true),
                ]),
            sm(.deleteSecret, ["SecretId": "old/deleted", "RecoveryWindowInDays": 7]),
            iam(.putUserPolicy, ["UserName": "nobody", "PolicyName": "inline", "PolicyDocument": .string(userPolicy)]),
            iam(.createPolicy, ["PolicyName": "delegate", "PolicyDocument": .string(managed)]),
            iam(
                .attachUserPolicy,
                ["UserName": "nobody", "PolicyArn": "arn:coffer:iam::123456789012:policy/delegate"]),
            iam(.putGroupPolicy, ["GroupName": "nogroup", "PolicyName": "g", "PolicyDocument": .string(groupPolicy)]),
            iam(.createRole, ["RoleName": "fuzz.service", "Description": "the fuzz unit"]),
            iam(
                .putRolePolicy, ["RoleName": "fuzz.service", "PolicyName": "r", "PolicyDocument": .string(rolePolicy)]),
        ]
        guard !seeded.contains(false) else {
            let failed = seeded.enumerated().filter { !$0.element }.map(\.offset)
            report("coffer-fuzz: seeding the fixture failed at steps \(failed)")
            return nil
        }
        return path
    }

    /// A line on standard error (`stderr` itself is a C global Swift 6 does not let us touch).
    static func report(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    // MARK: Files

    static func copyFile(_ source: String, to target: String) -> Bool {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { return false }
        defer { close(input) }
        let output = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard output >= 0 else { return false }
        defer { close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if n == 0 { return true }
            if n < 0 { return false }
            let written = buffer.withUnsafeBytes { write(output, $0.baseAddress, n) }
            if written != n { return false }
        }
    }

    /// `rm -rf` of a directory this harness created (no symlinks are followed: `unlinkat` on entries).
    @discardableResult
    static func removeTree(_ path: String) -> Bool {
        guard let directory = opendir(path) else { return unlink(path) == 0 }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            let child = path + "/" + name
            if entry.pointee.d_type == UInt8(DT_DIR) { removeTree(child) } else { unlink(child) }
        }
        closedir(directory)
        return rmdir(path) == 0
    }

    static func removeStaleRoots() {
        guard let directory = opendir("/dev/shm") else { return }
        var stale: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard name.hasPrefix("coffer-fuzz-"), let pid = Int32(name.dropFirst("coffer-fuzz-".count)) else {
                continue
            }
            if kill(pid, 0) != 0 && errno == ESRCH { stale.append("/dev/shm/" + name) }
        }
        closedir(directory)
        for path in stale { removeTree(path) }
    }
}
