import CofferCore
import CofferCrypto
import CofferProtocol
import Testing

@testable import CofferVault

/// A vault whose authorizer is the real ``AccessController`` (the IAM policy engine over the vault's own stored
/// policies), with callers as the server would build them from the kernel's peer credentials.
///
/// IAM users and groups are the host's accounts and must exist, so these tests use accounts every Debian system has:
/// users `daemon` (uid 1, put in group `staff` at "connect"), `bin` (uid 2) and `sys` (uid 3); groups `staff`,
/// `daemon`, `bin`. The callers are synthetic (no process behind them): their names and groups are what the server
/// would have resolved from `SO_PEERCRED`/`SO_PEERGROUPS`.
final class AccessHarness {
    let dir: TempDir
    let clock: ManualClock
    let key: MasterKey
    private(set) var vault: Vault
    private(set) var reader: VaultReader
    static let account = "123456789012"
    let identity = VaultIdentity(accountID: AccessHarness.account)

    init(rootIsAdministrator: Bool = true) throws {
        dir = TempDir()
        clock = ManualClock()
        key = try MasterKey.generate(id: 1)
        vault = try AccessHarness.open(dir.path, key, clock, rootIsAdministrator: rootIsAdministrator)
        reader = try vault.makeReader()
    }

    static func open(_ dir: String, _ key: MasterKey, _ clock: ManualClock, rootIsAdministrator: Bool) throws -> Vault {
        var options = VaultOptions(databasePath: dir + "/vault.db")
        options.clock = clock
        options.accountID = AccessHarness.account
        options.authorizer = nil  // the real AccessController
        options.access = AccessOptions(rootIsAdministrator: rootIsAdministrator)
        return try Vault.open(options, masterKey: key)
    }

    /// Closes and reopens the same vault (a daemon restart with another `rootIsAdministrator` setting).
    func reopen(rootIsAdministrator: Bool) throws {
        vault.close()
        vault = try AccessHarness.open(dir.path, key, clock, rootIsAdministrator: rootIsAdministrator)
        reader = try vault.makeReader()
    }

    deinit { vault.close() }

    // MARK: Callers

    /// uid 0 outside any unit.
    static let root = Caller(uid: 0, gid: 0, pid: 100, userName: "root", groupNames: ["root"])
    /// Host user `daemon`, a member of `staff` at connect.
    static let daemon = Caller(
        uid: 1, gid: 1, groups: [50], pid: 101, userName: "daemon", groupNames: ["daemon", "staff"])
    /// Host user `bin`, in no extra group.
    static let bin = Caller(uid: 2, gid: 2, pid: 102, userName: "bin", groupNames: ["bin"])
    /// Host user `sys`, in no extra group.
    static let sys = Caller(uid: 3, gid: 3, pid: 103, userName: "sys", groupNames: ["sys"])

    /// `caller` running inside systemd unit `unit` (what the server reads from the peer's cgroup).
    static func inUnit(_ caller: Caller, _ unit: String, executable: String? = nil) -> Caller {
        Caller(
            uid: caller.uid, gid: caller.gid, groups: caller.groups, pid: caller.pid, userName: caller.userName,
            groupNames: caller.groupNames, systemdUnit: unit, executablePath: executable)
    }

    // MARK: ARNs

    var secretPrefix: String { identity.secretARNPrefix }
    func userARN(_ name: String) -> String { identity.iamARN("user", name) }
    func policyARN(_ name: String, path: String = "/") -> String {
        identity.iamARN("policy", String(path.dropFirst()) + name)
    }

    // MARK: Secrets Manager

    func call(_ op: Operation, _ request: Document, as caller: Caller) -> Result<Document, ServiceError> {
        vault.perform(op, request, caller: caller, reader: reader)
    }

    @discardableResult
    func ok(
        _ op: Operation, _ request: Document, as caller: Caller = AccessHarness.root,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Document {
        switch call(op, request, as: caller) {
        case .success(let doc): return doc
        case .failure(let error):
            Issue.record("\(op.name) as \(caller.userName ?? "?") failed: \(error)", sourceLocation: sourceLocation)
            throw error
        }
    }

    /// Requires failure with `code`; returns the message ("" if it succeeded).
    @discardableResult
    func fails(
        _ op: Operation, _ request: Document, _ code: ErrorCode, as caller: Caller,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> String {
        switch call(op, request, as: caller) {
        case .success(let doc):
            Issue.record(
                "\(op.name) as \(caller.userName ?? "?") succeeded, expected \(code.rawValue): \(doc)",
                sourceLocation: sourceLocation)
            return ""
        case .failure(let error):
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            return error.message
        }
    }

    @discardableResult
    func denied(
        _ op: Operation, _ request: Document, as caller: Caller, sourceLocation: SourceLocation = #_sourceLocation
    ) -> String {
        fails(op, request, .accessDenied, as: caller, sourceLocation: sourceLocation)
    }

    /// Whether the call succeeded (for tables); an error other than AccessDenied is recorded as an issue.
    func allowed(
        _ op: Operation, _ request: Document, as caller: Caller, sourceLocation: SourceLocation = #_sourceLocation
    ) -> Bool {
        switch call(op, request, as: caller) {
        case .success: return true
        case .failure(let error):
            if error.code != .accessDenied {
                Issue.record("\(op.name): unexpected \(error)", sourceLocation: sourceLocation)
            }
            return false
        }
    }

    /// Creates a secret as root; returns its ARN.
    @discardableResult
    func create(_ name: String, _ value: String = "v1", tags: [(String, String)] = []) throws -> String {
        var request: Document = ["Name": .string(name), "SecretString": .string(value)]
        if !tags.isEmpty {
            request["Tags"] = .list(tags.map { .map(["Key": .string($0.0), "Value": .string($0.1)]) })
        }
        return try ok(.createSecret, request)["ARN"]?.stringValue ?? ""
    }

    func value(_ id: String, as caller: Caller, stage: String? = nil) throws -> String? {
        var request: Document = ["SecretId": .string(id)]
        if let stage { request["VersionStage"] = .string(stage) }
        return try ok(.getSecretValue, request, as: caller).secretText("SecretString")
    }

    // MARK: IAM (admin socket)

    func iam(
        _ op: Operation, _ request: Document, as caller: Caller = AccessHarness.root
    ) -> Result<
        Document, ServiceError
    > {
        let result = OneShot<Result<Document, ServiceError>>()
        vault.handleIAM(op, request, caller: caller) { result.fulfill($0) }
        return result.wait()
    }

    @discardableResult
    func iamOK(
        _ op: Operation, _ request: Document, as caller: Caller = AccessHarness.root,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Document {
        switch iam(op, request, as: caller) {
        case .success(let doc): return doc
        case .failure(let error):
            Issue.record("\(op.name) failed: \(error)", sourceLocation: sourceLocation)
            throw error
        }
    }

    /// Requires an IAM failure with `code`; returns the message.
    @discardableResult
    func iamFails(
        _ op: Operation, _ request: Document, _ code: ErrorCode, as caller: Caller = AccessHarness.root,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> String {
        switch iam(op, request, as: caller) {
        case .success(let doc):
            Issue.record("\(op.name) succeeded, expected \(code.rawValue): \(doc)", sourceLocation: sourceLocation)
            return ""
        case .failure(let error):
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            return error.message
        }
    }

    func putUserPolicy(_ user: String, _ document: String) throws {
        try putUserPolicy(user, "p", document)
    }

    func putUserPolicy(_ user: String, _ name: String, _ document: String) throws {
        try iamOK(
            .putUserPolicy,
            ["UserName": .string(user), "PolicyName": .string(name), "PolicyDocument": .string(document)])
    }

    func putGroupPolicy(_ group: String, _ document: String) throws {
        try putGroupPolicy(group, "p", document)
    }

    func putGroupPolicy(_ group: String, _ name: String, _ document: String) throws {
        try iamOK(
            .putGroupPolicy,
            ["GroupName": .string(group), "PolicyName": .string(name), "PolicyDocument": .string(document)])
    }

    func createRole(_ unit: String) throws {
        try iamOK(.createRole, ["RoleName": .string(unit)])
    }

    func putRolePolicy(_ role: String, _ document: String) throws {
        try putRolePolicy(role, "p", document)
    }

    func putRolePolicy(_ role: String, _ name: String, _ document: String) throws {
        try iamOK(
            .putRolePolicy,
            ["RoleName": .string(role), "PolicyName": .string(name), "PolicyDocument": .string(document)])
    }

    func putResourcePolicy(_ secret: String, _ document: String) throws {
        try ok(.putResourcePolicy, ["SecretId": .string(secret), "ResourcePolicy": .string(document)])
    }
}

/// `{"Version":"2012-10-17","Statement":[...]}` around the given statements.
func policy(_ statements: String...) -> String {
    #"{"Version":"2012-10-17","Statement":["# + statements.joined(separator: ",") + "]}"
}

/// An Allow statement for `actions` on `resources` (`*` when none), with an optional Condition block (JSON object).
func allow(_ actions: String..., on resources: [String] = ["*"], when condition: String? = nil) -> String {
    statementJSON("Allow", actions, resources, condition)
}

/// A Deny statement, as ``allow(_:on:when:)``.
func deny(_ actions: String..., on resources: [String] = ["*"], when condition: String? = nil) -> String {
    statementJSON("Deny", actions, resources, condition)
}

func statementJSON(_ effect: String, _ actions: [String], _ resources: [String], _ condition: String?) -> String {
    var json = #"{"Effect":"\#(effect)","Action":\#(jsonList(actions)),"Resource":\#(jsonList(resources))"#
    if let condition { json += #","Condition":"# + condition }
    return json + "}"
}

/// The JSON form of a string list: `["a","b"]`.
func jsonList(_ items: [String]) -> String { "[" + items.map { "\"\($0)\"" }.joined(separator: ",") + "]" }
