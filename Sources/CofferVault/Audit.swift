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

    /// Appends the record's JSON (members in a fixed order, `seq` first, ending with `"prev"` and the closing
    /// brace) to `out`. The chain hashes exactly these bytes.
    func encode(seq: UInt64, previous: [UInt8], into out: inout [UInt8]) {
        var w = JSONBytes(out: out)
        out = []
        w.raw("{\"seq\":")
        w.number(seq)
        encodeFields(into: &w.bytes)
        w.raw(",\"prev\":\"")
        w.bytes.append(contentsOf: previous)
        w.raw("\"}")
        out = w.bytes
    }

    /// The members between `seq` and `prev` (starting with `,"time":`), which do not depend on the chain: the
    /// log encodes them before it takes its lock. Written byte by byte: building a `JSONValue` tree and a `String`
    /// per record cost ~0.4 M instructions a request (the whole request path is ~0.1 M).
    func encodeFields(into out: inout [UInt8]) {
        let t = trace?.snapshot
        var w = JSONBytes(out: out)
        out = []
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
