import CofferCore
import CofferCrypto
import CofferSystem
import Glibc
import Synchronization

/// The audit log: one JSON line per request, hash-chained (each record holds the previous record's hash and its
/// own, BLAKE2b-256 over the previous hash and the record's text), appended with one `write(2)` per batch and
/// `fsync`ed periodically and at shutdown.
///
/// Fail closed: ``write(_:)`` reports whether the batch reached the file; the server sends the replies of a batch
/// only after it did, and answers with an error otherwise. A short write is rolled back (`ftruncate`) so the file
/// never holds half a record.
///
/// Concurrency: the workers encode their records' members in parallel; only the chaining (sequence number, `prev`,
/// hash) and the `write(2)` run under the lock. `fsync` runs outside it, so a slow disk flush does not stall
/// requests. Opening reads only the end of the file, so start-up does not grow with the log's history.
public final class AuditLog: Sendable {
    public let path: String
    /// Bytes of an incomplete last record removed when the log was opened (a crash in the middle of a write; that
    /// record's request was never answered). 0 normally.
    public let truncatedAtOpen: Int
    private struct State {
        var fd: Int32
        var seq: UInt64
        /// The last record's hash, as its 64 hex characters.
        var head: [UInt8]
        var size: Int64
        var unsynced = 0
        var syncing = false
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
        let tail = try AuditLog.tail(path: path, size: status.size)
        if tail.completeSize < status.size {
            let fd = file.rawValue
            guard ftruncate(fd, off_t(tail.completeSize)) == 0, fsync(fd) == 0 else {
                throw SystemError(call: "ftruncate", errno: errno)
            }
        }
        truncatedAtOpen = status.size - tail.completeSize
        state = Mutex(
            State(fd: file.consume(), seq: tail.seq, head: Array(tail.hash.utf8), size: Int64(tail.completeSize)))
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
        // Outside the lock: everything but seq and prev.
        var fields: [UInt8] = []
        fields.reserveCapacity(records.count * 640)
        var ends: [Int] = []
        ends.reserveCapacity(records.count)
        for record in records {
            record.encodeFields(into: &fields)
            ends.append(fields.count)
        }
        return state.withLock { s in
            guard s.fd >= 0 else { return false }
            var text: [UInt8] = []
            text.reserveCapacity(fields.count + records.count * 240)
            // The previous hash followed by the record's body: the message its hash is computed over.
            var message = JSONBytes(out: [])
            message.bytes.reserveCapacity(1_024)
            var seq = s.seq
            var head = s.head
            var start = 0
            for end in ends {
                seq += 1
                message.bytes.removeAll(keepingCapacity: true)
                message.bytes.append(contentsOf: head)
                let bodyStart = message.bytes.count
                message.raw("{\"seq\":")
                message.number(seq)
                message.bytes.append(contentsOf: fields[start..<end])
                message.raw(",\"prev\":\"")
                message.bytes.append(contentsOf: head)
                message.raw("\"}")
                let hash = AuditLog.hex(message.bytes.withUnsafeBytes { Digest.blake2b256($0) })
                text.append(contentsOf: message.bytes[bodyStart..<(message.bytes.count - 1)])
                text.append(contentsOf: AuditLog.hashMember)
                text.append(contentsOf: hash)
                text.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: "}"), UInt8(ascii: "\n")])
                head = hash
                start = end
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

    private static let hashMember = Array(",\"hash\":\"".utf8)

    /// `fsync` if records were written since the last sync (the daemon calls this every second and at shutdown).
    /// The flush runs outside the lock: writers keep appending meanwhile (the descriptor is closed only in
    /// `deinit`, which cannot run while this method holds the log).
    public func sync() {
        let pending: (fd: Int32, count: Int)? = state.withLock { s in
            guard s.unsynced > 0, s.fd >= 0, !s.syncing else { return nil }
            s.syncing = true
            return (s.fd, s.unsynced)
        }
        guard let pending else { return }
        let synced = fsync(pending.fd) == 0
        state.withLock { s in
            s.syncing = false
            if synced { s.unsynced -= pending.count }
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

    /// Where the chain stands at the end of the file.
    struct Tail: Equatable {
        var seq: UInt64
        var hash: String
        /// The size up to the end of the last complete line (the file's size unless a write was cut short).
        var completeSize: Int
    }

    /// The last complete record's sequence number and hash, read from the end of the file (64 KiB, doubled until
    /// a whole line is in view): constant time whatever the log's length. An empty log gives the genesis hash.
    static func tail(path: String, size: Int) throws -> Tail {
        guard size > 0 else { return Tail(seq: 0, hash: genesis, completeSize: 0) }
        let file = try SafeFile.openForReading(path: path)
        var window = min(size, 64 * 1_024)
        while true {
            let start = size - window
            var bytes = [UInt8](repeating: 0, count: window)
            let fd = file.rawValue
            let n = bytes.withUnsafeMutableBytes { buffer in
                pread(fd, buffer.baseAddress, window, off_t(start))
            }
            guard n == window else { throw AuditLogError.unreadableTail(path: path, reason: "the file shrank") }
            // The complete part ends at the last newline; anything after it is a cut-short write.
            guard let lastNewline = bytes.lastIndex(of: UInt8(ascii: "\n")) else {
                if start == 0 { return Tail(seq: 0, hash: genesis, completeSize: 0) }  // one incomplete line
                window = min(size, window * 2)
                continue
            }
            let lineStart: Int
            if let previous = bytes[..<lastNewline].lastIndex(of: UInt8(ascii: "\n")) {
                lineStart = previous + 1
            } else if start == 0 {
                lineStart = 0
            } else {
                window = min(size, window * 2)
                continue
            }
            let line = String(decoding: bytes[lineStart..<lastNewline], as: UTF8.self)
            guard let json = try? JSONValue.parse(line), let seq = json["seq"]?.int64Value, seq > 0,
                let hash = json["hash"]?.stringValue, hash.utf8.count == 64,
                hash.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) })
            else {
                throw AuditLogError.unreadableTail(
                    path: path, reason: "its last line is not an audit record (the file was edited or damaged)")
            }
            return Tail(seq: UInt64(seq), hash: hash, completeSize: start + lastNewline + 1)
        }
    }
}

public enum AuditLogError: Error, Equatable, CustomStringConvertible {
    /// The chain cannot be continued: the daemon will not start a new chain on top of a log it cannot read.
    case unreadableTail(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadableTail(let path, let reason):
            return "audit log \(path): \(reason); inspect its end, then move the file aside to start a new log"
        }
    }
}
