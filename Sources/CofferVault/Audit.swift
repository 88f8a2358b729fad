import CofferCore
import CofferCrypto
import CofferSystem
import Glibc
import Synchronization

/// What the vault learned while handling one request, for its audit record: the decision and why, and what the
/// request resolved to. Attached to the ``Caller`` of one request; written by whichever thread runs it.
public final class AuditTrace: Sendable {
    struct State {
        var decision: String?
        var principalARN: String?
        var matched: [String] = []
        var resource: String?
        var versionID: String?
        var versionStage: String?
    }
    private let state = Mutex(State())

    public init() {}

    /// Records the first authorization decision of the request (later ones, e.g. per-secret list filtering, are
    /// not the request's decision).
    func recordDecision(_ result: AuthorizationResult, resource: String) {
        state.withLock { s in
            guard s.decision == nil else { return }
            s.decision = result.decision
            s.principalARN = result.principalARN
            s.matched = result.matchedStatements
            s.resource = resource
        }
    }

    /// The secret the request acted on, once resolved (its ARN replaces the identifier the caller sent).
    func recordResource(_ arn: String) { state.withLock { $0.resource = arn } }

    func recordVersion(id: String?, stage: String?) {
        state.withLock { s in
            s.versionID = id ?? s.versionID
            s.versionStage = stage ?? s.versionStage
        }
    }

    var snapshot: State { state.withLock { $0 } }
}

/// One audit record: who asked for what, the decision and why, and the outcome. Never a secret value.
public struct AuditRecord: Sendable {
    public var time: Timestamp
    public var socket: String
    public var connectionID: UInt64
    public var requestID: UInt32
    public var operation: String
    public var caller: Caller
    public var trace: AuditTrace?
    /// The AWS error name of a failed request (nil on success).
    public var error: String?
    /// Extra request fields (the unit and credential of a LoadCredential request, …). A field that could be sensitive
    /// goes in as ``AuditLog/hashed(_:)`` (`hmac-sha256:<hex>` under the audit key), never in clear.
    public var fields: [(String, String)]

    public init(
        time: Timestamp, socket: String, connectionID: UInt64, requestID: UInt32, operation: String, caller: Caller,
        trace: AuditTrace?, error: String?, fields: [(String, String)] = []
    ) {
        self.time = time
        self.socket = socket
        self.connectionID = connectionID
        self.requestID = requestID
        self.operation = operation
        self.caller = caller
        self.trace = trace
        self.error = error
        self.fields = fields
    }

    /// Appends the record's JSON (members in a fixed order, ending with `"prev"` and the closing brace) to `out`.
    /// The chain hashes exactly these bytes. Written byte by byte: building a `JSONValue` tree and a `String` per
    /// record cost ~0.4 M instructions a request (the whole request path is ~0.1 M).
    func encode(seq: UInt64, previous: [UInt8], into out: inout [UInt8]) {
        let t = trace?.snapshot
        var w = JSONBytes(out: out)
        out = []
        w.raw("{\"seq\":")
        w.number(seq)
        w.raw(",\"time\":\"")
        time.appendISO8601(to: &w.bytes)
        w.raw("\"")
        w.member("socket", socket)
        w.raw(",\"connection\":")
        w.number(connectionID)
        w.raw(",\"request\":")
        w.number(UInt64(requestID))
        w.member("operation", operation)
        w.raw(",\"principal\":{\"uid\":")
        w.number(UInt64(caller.uid))
        w.raw(",\"gid\":")
        w.number(UInt64(caller.gid))
        w.raw(",\"pid\":")
        w.signed(Int64(caller.pid))
        if let user = caller.userName { w.member("user", user) }
        w.raw(",\"groups\":[")
        for (i, group) in caller.groupNames.enumerated() {
            if i > 0 { w.raw(",") }
            w.string(group)
        }
        w.raw("]")
        if let facts = caller.process?.knownFacts ?? nil {
            if let unit = facts.systemdUnit { w.member("unit", unit) }
            if let exe = facts.executablePath { w.member("exe", exe) }
        }
        if let arn = t?.principalARN { w.member("arn", arn) }
        w.raw("}")
        if let resource = t?.resource { w.member("resource", resource) }
        if let version = t?.versionID { w.member("versionId", version) }
        if let stage = t?.versionStage { w.member("versionStage", stage) }
        w.member("decision", t?.decision ?? (error == nil ? "notEvaluated" : "rejected"))
        if let matched = t?.matched, !matched.isEmpty {
            w.raw(",\"matched\":[")
            for (i, statement) in matched.enumerated() {
                if i > 0 { w.raw(",") }
                w.string(statement)
            }
            w.raw("]")
        }
        if let error { w.member("error", error) }
        for (key, value) in fields { w.member(key, value) }
        w.raw(",\"prev\":\"")
        w.bytes.append(contentsOf: previous)
        w.raw("\"}")
        out = w.bytes
    }
}

/// A minimal JSON writer into bytes (strings escaped per RFC 8259; ASCII copied as is).
struct JSONBytes {
    var bytes: [UInt8]

    init(out: [UInt8]) { bytes = out }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func number(_ value: UInt64) {
        if value == 0 {
            bytes.append(UInt8(ascii: "0"))
            return
        }
        var digits: [UInt8] = []
        var v = value
        while v > 0 {
            digits.append(UInt8(ascii: "0") + UInt8(v % 10))
            v /= 10
        }
        bytes.append(contentsOf: digits.reversed())
    }

    mutating func signed(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        number(value.magnitude)
    }

    mutating func member(_ key: String, _ value: String) {
        bytes.append(UInt8(ascii: ","))
        string(key)
        bytes.append(UInt8(ascii: ":"))
        string(value)
    }

    mutating func string(_ text: String) {
        var copy = text
        copy.withUTF8 { utf8 in
            bytes.append(UInt8(ascii: "\""))
            var start = 0
            for (i, byte) in utf8.enumerated()
            where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<i]))
                switch byte {
                case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
                case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), 48, 48])
                    bytes.append(hex[Int(byte >> 4)])
                    bytes.append(hex[Int(byte & 0xF)])
                }
                start = i + 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
            bytes.append(UInt8(ascii: "\""))
        }
    }
}

/// The audit log: one JSON line per request, hash-chained (each record holds the previous record's hash and its
/// own, BLAKE2b-256 over the previous hash and the record's text), appended with one `write(2)` per batch and `fsync`ed periodically and at shutdown.
///
/// Fail closed: ``write(_:)`` reports whether the batch reached the file; the server sends the replies of a batch
/// only after it did, and answers with an error otherwise. A short write is rolled back (`ftruncate`) so the file
/// never holds half a record.
public final class AuditLog: Sendable {
    public let path: String
    private struct State {
        var fd: Int32
        var seq: UInt64
        /// The last record's hash, as its 64 hex characters.
        var head: [UInt8]
        var size: Int64
        var unsynced = 0
        var failures = 0
    }
    private let state: Mutex<State>
    private let hmacKey: SecureBytes
    /// The hash a chain starts from.
    public static let genesis = String(repeating: "0", count: 64)

    /// Opens (or creates, 0600) the log at `path` and recovers the chain head from its last line. The HMAC key for
    /// sensitive request fields is `keyPath` (32 random bytes, created 0600 on first use).
    public init(path: String, keyPath: String) throws {
        self.path = path
        if try SafeFile.status(path: keyPath) == nil {
            let key = try SecureBytes(randomCount: 32)
            try key.withUnsafeBytes { try SafeFile.createExclusive(path: keyPath, mode: 0o600, contents: $0) }
        }
        hmacKey = try SecureBytes(count: 32) { buffer in try SafeFile.readExactly(path: keyPath, into: buffer) }
        let file = try SafeFile.openForAppend(path: path, mode: 0o600)
        let status = try SafeFile.status(of: file)
        if status.mode & 0o077 != 0 { _ = fchmod(file.rawValue, 0o600) }
        let (seq, head) = try AuditLog.lastRecord(path: path)
        state = Mutex(State(fd: file.consume(), seq: seq, head: Array(head.utf8), size: Int64(status.size)))
    }

    deinit {
        state.withLock { s in
            if s.fd >= 0 {
                fsync(s.fd)
                close(s.fd)
                s.fd = -1
            }
        }
    }

    /// `hmac-sha256:<hex>` of a request field's value under the audit key.
    public func hashed(_ value: String) -> String {
        "hmac-sha256:" + Hex.encode(HMAC.sha256(key: hmacKey, message: Array(value.utf8)))
    }

    /// Chains and appends `records` in one write. False if they could not be written (nothing of the batch stays
    /// in the file then, and the chain continues from the last record that did).
    @discardableResult
    public func write(_ records: [AuditRecord]) -> Bool {
        guard !records.isEmpty else { return true }
        return state.withLock { s in
            guard s.fd >= 0 else { return false }
            var text: [UInt8] = []
            text.reserveCapacity(records.count * 768)
            var seq = s.seq
            var head = s.head
            var body: [UInt8] = []
            for record in records {
                seq += 1
                body.removeAll(keepingCapacity: true)
                record.encode(seq: seq, previous: head, into: &body)
                let hash = AuditLog.hex(AuditLog.hash(previous: head, body: body))
                text.append(contentsOf: body.dropLast())
                text.append(contentsOf: Array(",\"hash\":\"".utf8))
                text.append(contentsOf: hash)
                text.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: "}"), UInt8(ascii: "\n")])
                head = hash
            }
            let written = text.withUnsafeBytes { bytes -> Int in
                var offset = 0
                while offset < bytes.count {
                    let n = Glibc.write(s.fd, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { return offset }
                    offset += n
                }
                return offset
            }
            guard written == text.count else {
                if written > 0 { _ = ftruncate(s.fd, off_t(s.size)) }  // never leave half a record
                s.failures += 1
                return false
            }
            s.seq = seq
            s.head = head
            s.size += Int64(written)
            s.unsynced += records.count
            return true
        }
    }

    /// `fsync` if records were written since the last sync (the daemon calls this every second and at shutdown).
    public func sync() {
        state.withLock { s in
            guard s.unsynced > 0, s.fd >= 0 else { return }
            if fsync(s.fd) == 0 { s.unsynced = 0 }
        }
    }

    public var head: (seq: UInt64, hash: String) {
        state.withLock { ($0.seq, String(decoding: $0.head, as: UTF8.self)) }
    }
    public var writeFailures: Int { state.withLock { $0.failures } }

    /// BLAKE2b-256 over the previous record's hash (64 hex characters) and this record's text without its `hash`.
    static func hash(previous: [UInt8], body: [UInt8]) -> [UInt8] {
        Digest.blake2b256(previous, body)
    }

    /// Lower-case hex of a digest, as bytes.
    static func hex(_ digest: [UInt8]) -> [UInt8] {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: digest.count * 2)
        for (i, byte) in digest.enumerated() {
            out[2 * i] = digits[Int(byte >> 4)]
            out[2 * i + 1] = digits[Int(byte & 0xF)]
        }
        return out
    }

    /// The sequence number and hash of the last complete record (0 and the genesis hash for an empty log).
    static func lastRecord(path: String) throws -> (UInt64, String) {
        let lines = try readLines(path: path)
        guard let last = lines.last, let json = try? JSONValue.parse(last),
            let seq = json["seq"]?.int64Value, let hash = json["hash"]?.stringValue
        else { return (0, genesis) }
        return (UInt64(seq), hash)
    }

    static func readLines(path: String) throws -> [String] {
        guard try SafeFile.status(path: path) != nil else { return [] }
        let bytes = try SafeFile.readAll(path: path, maxBytes: 1 << 34)
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    // MARK: Verification and queries

    public struct Verification: Sendable {
        public var records: Int
        public var valid: Bool
        /// 1-based line of the first record that breaks the chain, and its sequence number if readable.
        public var firstBadLine: Int?
        public var firstBadSeq: UInt64?
        public var reason: String?
        public var head: String
    }

    /// Recomputes the chain: each record's hash over the previous hash and its own text, `prev` links, and
    /// consecutive sequence numbers. An edited, deleted, inserted or reordered record is named.
    public static func verify(path: String) throws -> Verification {
        let lines = try readLines(path: path)
        var previous = genesis
        var expectedSeq: UInt64 = 1
        let suffixLength = ",\"hash\":\"\"}".utf8.count + 64
        for (index, line) in lines.enumerated() {
            func bad(_ reason: String, _ seq: UInt64?) -> Verification {
                Verification(
                    records: index, valid: false, firstBadLine: index + 1, firstBadSeq: seq, reason: reason,
                    head: previous)
            }
            guard let json = try? JSONValue.parse(line), json.objectValue != nil else {
                return bad("not a JSON record", nil)
            }
            let seq = json["seq"]?.int64Value.map(UInt64.init)
            let bytes = Array(line.utf8)
            guard bytes.count > suffixLength, let hash = json["hash"]?.stringValue, hash.utf8.count == 64,
                Array(bytes[(bytes.count - suffixLength)...]) == Array(",\"hash\":\"\(hash)\"}".utf8)
            else { return bad("no hash at the end of the record", seq) }
            guard json["prev"]?.stringValue == previous else {
                return bad(
                    "its prev does not match the previous record's hash (a record before it was removed, "
                        + "inserted or reordered)", seq)
            }
            guard seq == expectedSeq else {
                return bad("sequence number \(seq.map(String.init) ?? "?") where \(expectedSeq) was expected", seq)
            }
            let body = Array(bytes[..<(bytes.count - suffixLength)]) + [UInt8(ascii: "}")]
            guard Hex.encode(AuditLog.hash(previous: Array(previous.utf8), body: body)) == hash else {
                return bad("its contents do not match its hash (edited)", seq)
            }
            previous = hash
            expectedSeq += 1
        }
        return Verification(
            records: lines.count, valid: true, firstBadLine: nil, firstBadSeq: nil, reason: nil, head: previous)
    }

    public struct Query: Sendable {
        public var principal: String?
        public var secret: String?
        public var decision: String?
        public var operation: String?
        public var since: Timestamp?
        public var until: Timestamp?
        public var limit = 100

        public init() {}
    }

    /// The newest `limit` records matching every given filter, oldest first, as their JSON lines.
    public static func query(path: String, _ query: Query) throws -> [String] {
        var out: [String] = []
        for line in try readLines(path: path).reversed() {
            guard out.count < query.limit else { break }
            guard let json = try? JSONValue.parse(line) else { continue }
            if let principal = query.principal {
                let p = json["principal"]
                let names = [
                    p?["user"]?.stringValue, p?["uid"]?.int64Value.map(String.init), p?["arn"]?.stringValue,
                    p?["unit"]?.stringValue,
                ]
                guard names.contains(where: { $0 == principal }) else { continue }
            }
            if let secret = query.secret {
                guard let resource = json["resource"]?.stringValue, resource.contains(secret) else { continue }
            }
            if let decision = query.decision, json["decision"]?.stringValue != decision { continue }
            if let operation = query.operation,
                json["operation"]?.stringValue?.lowercased() != operation.lowercased()
            {
                continue
            }
            if query.since != nil || query.until != nil {
                guard let time = json["time"]?.stringValue.flatMap(Timestamp.init(parsing:)) else { continue }
                if let since = query.since, time < since { continue }
                if let until = query.until, time > until { continue }
            }
            out.append(line)
        }
        return out.reversed()
    }
}
