import CofferCore
import CofferSystem
import Glibc

/// Reading the audit log back: chain verification and filtered queries. Both stream the file in 1 MiB chunks, so
/// memory stays bounded whatever its length, and read up to the size it had when they started (a record being
/// appended meanwhile is not half-read).
extension AuditLog {
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
    /// consecutive sequence numbers. An edited, deleted, inserted or reordered record is named. An incomplete last
    /// line (a write in progress, or cut short by a crash: the daemon removes it when it opens the log) is not
    /// counted.
    public static func verify(path: String) throws -> Verification {
        var previous = genesis
        var expectedSeq: UInt64 = 1
        var count = 0
        var failure: Verification?
        let suffixLength = ",\"hash\":\"\"}".utf8.count + 64
        try forEachLine(path: path) { line in
            let bytes = Array(line)
            func bad(_ reason: String, _ seq: UInt64?) -> Bool {
                failure = Verification(
                    records: count, valid: false, firstBadLine: count + 1, firstBadSeq: seq, reason: reason,
                    head: previous)
                return false
            }
            guard let json = try? JSONValue.parse(String(decoding: bytes, as: UTF8.self)), json.objectValue != nil
            else { return bad("not a JSON record", nil) }
            let seq = json["seq"]?.int64Value.map(UInt64.init)
            guard bytes.count > suffixLength, let hash = json["hash"]?.stringValue, hash.utf8.count == 64,
                bytes[(bytes.count - suffixLength)...].elementsEqual(",\"hash\":\"\(hash)\"}".utf8)
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
            count += 1
            return true
        }
        return failure
            ?? Verification(
                records: count, valid: true, firstBadLine: nil, firstBadSeq: nil, reason: nil, head: previous)
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
        guard query.limit > 0 else { return [] }
        // A ring of the newest matches so far.
        var ring: [String] = []
        ring.reserveCapacity(min(query.limit, 1_024))
        var next = 0
        try forEachLine(path: path) { bytes in
            let line = String(decoding: bytes, as: UTF8.self)
            if let json = try? JSONValue.parse(line), matches(json, query) {
                if ring.count < query.limit {
                    ring.append(line)
                } else {
                    ring[next] = line
                    next = (next + 1) % query.limit
                }
            }
            return true
        }
        return Array(ring[next...] + ring[..<next])
    }

    private static func matches(_ json: JSONValue, _ query: Query) -> Bool {
        if let principal = query.principal {
            let p = json["principal"]
            let names = [
                p?["user"]?.stringValue, p?["uid"]?.int64Value.map(String.init), p?["arn"]?.stringValue,
                p?["unit"]?.stringValue,
            ]
            guard names.contains(where: { $0 == principal }) else { return false }
        }
        if let secret = query.secret {
            guard let resource = json["resource"]?.stringValue, resource.contains(secret) else { return false }
        }
        if let decision = query.decision, json["decision"]?.stringValue != decision { return false }
        if let operation = query.operation, json["operation"]?.stringValue?.lowercased() != operation.lowercased() {
            return false
        }
        if query.since != nil || query.until != nil {
            guard let time = json["time"]?.stringValue.flatMap(Timestamp.init(parsing:)) else { return false }
            if let since = query.since, time < since { return false }
            if let until = query.until, time > until { return false }
        }
        return true
    }

    /// Calls `body` with each complete line (without its newline) up to the file's size at the start, in order,
    /// until it returns false. A line longer than 16 MiB (no audit record is) is passed cut at that length.
    static func forEachLine(path: String, _ body: (ArraySlice<UInt8>) throws -> Bool) throws {
        guard try SafeFile.status(path: path) != nil else { return }
        let file = try SafeFile.openForReading(path: path)
        let end = try SafeFile.status(of: file).size
        let chunk = 1 << 20
        let maxLine = 16 << 20
        var buffer: [UInt8] = []
        var offset = 0
        while offset < end {
            let want = min(chunk, end - offset)
            let kept = buffer.count
            buffer.append(contentsOf: repeatElement(0, count: want))
            let fd = file.rawValue
            let n = buffer.withUnsafeMutableBytes { raw in
                pread(fd, raw.baseAddress.map { $0 + kept }, want, off_t(offset))
            }
            guard n > 0 else { break }  // the file shrank (rotated away): stop at what was read
            buffer.removeLast(want - n)
            offset += n
            var start = 0
            while let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                guard try body(buffer[start..<newline]) else { return }
                start = newline + 1
            }
            buffer.removeFirst(start)
            if buffer.count > maxLine {
                guard try body(buffer[0..<maxLine]) else { return }
                buffer.removeAll()
            }
        }
    }
}
