import CofferCore
import CofferProtocol

/// `coffer admin audit tail/query` for more records than one reply holds.
///
/// AuditQuery answers the newest `Limit` matching records in one frame, and a frame holds 256 KiB: a few hundred
/// records. The CLI therefore asks in pages, newest first: each next page has `Until` set to the oldest time seen so
/// far plus 50 ms (a record's time is taken when its request completes, so times follow the log's order only to within
/// the write batching, well under that) and records already
/// seen are recognized by their sequence number. A page the daemon cannot encode (InternalServiceError) is asked for
/// again at half the size. Records within the 50 ms overlap come back again and count against the page: at several
/// thousand requests a second, a page may hold nothing new, and the result is then marked incomplete. (An AuditQuery
/// cursor by sequence number would make this exact.)
package enum AuditPaging {
    /// Records per request to start with (typical records are 300-600 bytes).
    package static let pageRecords = 200
    /// How far past the oldest time seen the next page reaches back up (milliseconds).
    static let slackMilliseconds: Int64 = 50

    /// What was found: the records oldest first, and whether paging stopped early (some could not be reached).
    package struct Outcome: Equatable {
        package var records: [String]
        package var complete: Bool
    }

    /// Up to `limit` of the newest records matching `query` (its `Limit` and `Until` are managed here), oldest first.
    /// `send` runs one AuditQuery.
    package static func newest(
        _ limit: Int, matching query: Document, send: (Document) throws(CofferClientError) -> [String]
    ) throws(CofferClientError) -> Outcome {
        var collected: [(seq: Int64, time: Timestamp?, line: String)] = []
        var seen = Set<Int64>()
        var until = query["Until"]?.timestampValue
        var page = min(pageRecords, limit)
        while collected.count < limit {
            let wanted = min(page, limit - collected.count)
            let overlap = until.map { bound in collected.filter { ($0.time ?? bound) <= bound }.count } ?? 0
            let asked = min(wanted + overlap, AdminOutput.auditLimits.upperBound)
            var request = query
            request["Limit"] = .int(Int64(asked))
            if let until { request["Until"] = .timestamp(until) }
            let lines: [String]
            do {
                lines = try send(request)
            } catch .service(let name, let message) where name == ErrorCode.internalServiceError.rawValue {
                if page > 1 {
                    page /= 2
                    continue
                }
                // Even one record more than those already seen does not fit: show what was found.
                guard collected.isEmpty else { return outcome(collected, limit: limit, complete: false) }
                throw .service(name: name, message: message)
            }
            var fresh: [(seq: Int64, time: Timestamp?, line: String)] = []
            for line in lines {
                let record = try? JSONValue.parse(line)
                let seq = record?["seq"]?.int64Value ?? -1
                guard seq < 0 || !seen.contains(seq) else { continue }
                if seq >= 0 { seen.insert(seq) }
                fresh.append((seq, record?["time"]?.stringValue.flatMap(Timestamp.init(parsing:)), line))
            }
            guard !fresh.isEmpty else {
                // Nothing new: the log has no more (a short page), or more records share one moment than a page holds.
                return outcome(collected, limit: limit, complete: lines.count < asked)
            }
            collected += fresh
            guard lines.count == asked else { break }  // a short page: nothing older matches
            guard let oldest = fresh.compactMap(\.time).min() else { break }
            let next = oldest.adding(milliseconds: slackMilliseconds)
            let bounded = query["Until"]?.timestampValue.map { min($0, next) } ?? next
            if let until, bounded >= until {
                // The window did not move back (a page's worth of records at one moment): the next page would only
                // repeat it with more overlap. Stop rather than crawl.
                return outcome(collected, limit: limit, complete: false)
            }
            until = bounded
        }
        return outcome(collected, limit: limit, complete: true)
    }

    private static func outcome(
        _ collected: [(seq: Int64, time: Timestamp?, line: String)], limit: Int, complete: Bool
    ) -> Outcome {
        let ordered = collected.sorted { $0.seq < $1.seq }.suffix(limit).map(\.line)
        return Outcome(records: Array(ordered), complete: complete)
    }
}
