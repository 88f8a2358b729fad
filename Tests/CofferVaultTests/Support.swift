import CofferCore
import CofferCrypto
import CofferProtocol
import CofferStore
import Glibc
import Synchronization
import Testing

@testable import CofferVault

/// A clock the test moves by hand (recovery windows, retention ages, LastAccessedDate days).
final class ManualClock: Clock {
    private let time: Mutex<Int64>
    init(_ start: Int64 = 1_764_400_000_000) { time = Mutex(start) }
    func now() -> Timestamp { Timestamp(milliseconds: time.withLock { $0 }) }
    func advance(days: Int = 0, hours: Int = 0, milliseconds: Int64 = 0) {
        time.withLock { $0 += Int64(days) * 86_400_000 + Int64(hours) * 3_600_000 + milliseconds }
    }
}

/// A temporary directory removed when the harness goes away.
final class TempDir {
    let path: String
    init() {
        var template = Array("/tmp/coffer-test-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { buffer -> String in
            guard let base = buffer.baseAddress, let made = mkdtemp(base) else { return "/tmp/coffer-test-\(getpid())" }
            return String(cString: made)
        }
    }
    deinit { _ = system("rm -rf '\(path)'") }
}

/// One vault on a temp dir, a reader for the test's thread, and helpers to call operations.
final class Harness {
    let dir: TempDir
    let clock: ManualClock
    let key: MasterKey
    var vault: Vault
    var reader: VaultReader
    let databasePath: String

    init(
        authorizer: any Authorizer = AllowAllAuthorizer(), accountID: String = "123456789012",
        existing: (path: String, key: MasterKey, clock: ManualClock, dir: TempDir)? = nil
    ) throws {
        dir = existing?.dir ?? TempDir()
        clock = existing?.clock ?? ManualClock()
        key = try existing?.key ?? MasterKey.generate(id: 1)
        databasePath = existing?.path ?? dir.path + "/vault.db"
        var options = VaultOptions(databasePath: databasePath)
        options.clock = clock
        options.authorizer = authorizer
        options.accountID = accountID
        vault = try Vault.open(options, masterKey: key)
        reader = try vault.makeReader()
    }

    /// Closes and reopens the same database with the same key (restart).
    func reopen() throws {
        vault.close()
        var options = VaultOptions(databasePath: databasePath)
        options.clock = clock
        options.authorizer = AllowAllAuthorizer()
        vault = try Vault.open(options, masterKey: key)
        reader = try vault.makeReader()
    }

    func call(_ op: Operation, _ request: Document, as caller: Caller = .system) -> Result<Document, ServiceError> {
        vault.perform(op, request, caller: caller, reader: reader)
    }

    /// Calls and requires success.
    @discardableResult
    func ok(_ op: Operation, _ request: Document, sourceLocation: SourceLocation = #_sourceLocation) throws -> Document
    {
        switch call(op, request) {
        case .success(let doc): return doc
        case .failure(let error):
            Issue.record("\(op.name) failed: \(error)", sourceLocation: sourceLocation)
            throw error
        }
    }

    /// Calls and requires the given error code; returns the message.
    @discardableResult
    func fails(
        _ op: Operation, _ request: Document, _ code: ErrorCode, sourceLocation: SourceLocation = #_sourceLocation
    ) -> String {
        switch call(op, request) {
        case .success(let doc):
            Issue.record("\(op.name) succeeded, expected \(code.rawValue): \(doc)", sourceLocation: sourceLocation)
            return ""
        case .failure(let error):
            #expect(error.code == code, "\(error.message)", sourceLocation: sourceLocation)
            return error.message
        }
    }

    /// Creates a secret with a string value; returns (ARN, VersionId).
    @discardableResult
    func create(
        _ name: String, _ value: String? = "v1", token: String? = nil, extra: Document = [:]
    ) throws
        -> (arn: String, version: String?)
    {
        var request: Document = ["Name": .string(name)]
        if let value { request["SecretString"] = .string(value) }
        if let token { request["ClientRequestToken"] = .string(token) }
        for (k, v) in extra.fields { request[k] = v }
        let doc = try ok(.createSecret, request)
        return (doc["ARN"]?.stringValue ?? "", doc["VersionId"]?.stringValue)
    }

    func put(_ id: String, _ value: String, token: String? = nil, stages: [String]? = nil) throws -> Document {
        var request: Document = ["SecretId": .string(id), "SecretString": .string(value)]
        if let token { request["ClientRequestToken"] = .string(token) }
        if let stages { request["VersionStages"] = .list(stages.map { .string($0) }) }
        return try ok(.putSecretValue, request)
    }

    /// The string value of a GetSecretValue.
    func value(_ id: String, stage: String? = nil, version: String? = nil) throws -> String {
        var request: Document = ["SecretId": .string(id)]
        if let stage { request["VersionStage"] = .string(stage) }
        if let version { request["VersionId"] = .string(version) }
        let doc = try ok(.getSecretValue, request)
        return doc.secretText("SecretString") ?? "<none>"
    }

    /// version id → sorted labels, from DescribeSecret.
    func stages(_ id: String) throws -> [String: [String]] {
        let doc = try ok(.describeSecret, ["SecretId": .string(id)])
        var out: [String: [String]] = [:]
        for (version, labels) in doc["VersionIdsToStages"]?.mapValue?.fields ?? [] {
            out[version] = (labels.listValue ?? []).compactMap(\.stringValue).sorted()
        }
        return out
    }
}

/// Tokens of the right length (32–64 characters).
func token(_ n: Int) -> String { "token-" + String(repeating: "0", count: 26 - String(n).count) + String(n) }

extension Document {
    func secretText(_ key: String) -> String? {
        guard case .secret(let bytes, _)? = self[key] else { return nil }
        return String(decoding: bytes.copyBytes(), as: UTF8.self)
    }
    func secretBytes(_ key: String) -> [UInt8]? {
        guard case .secret(let bytes, _)? = self[key] else { return nil }
        return bytes.copyBytes()
    }
    func strings(_ key: String) -> [String] { (self[key]?.listValue ?? []).compactMap(\.stringValue) }
}
