import CofferCore
import CofferProtocol
import Testing

@testable import CofferClient

/// `coffer admin audit tail/query` for more records than one AuditQuery reply holds.
@Suite struct AuditPagingTests {
    /// A fake log answering AuditQuery as the daemon does (the newest `Limit` records with time ≤ Until, oldest
    /// first), refusing replies of more than `cap` records as the daemon refuses a reply over the frame limit.
    final class FakeLog {
        var records: [(seq: Int64, time: Int64)]
        let cap: Int
        var requests: [Document] = []

        init(records: [(seq: Int64, time: Int64)], cap: Int) {
            self.records = records
            self.cap = cap
        }

        func line(_ record: (seq: Int64, time: Int64)) -> String {
            #"{"seq":\#(record.seq),"time":"\#(Timestamp(milliseconds: record.time).iso8601)","operation":"GetSecretValue"}"#
        }

        func query(_ request: Document) throws(CofferClientError) -> [String] {
            requests.append(request)
            let limit = Int(request["Limit"]?.intValue ?? 100)
            let until = request["Until"]?.timestampValue?.milliseconds ?? .max
            var out: [String] = []
            for record in records.reversed() where record.time <= until {
                guard out.count < limit else { break }
                out.append(line(record))
            }
            guard out.count <= cap else {
                throw .service(name: "InternalServiceError", message: "The response could not be encoded.")
            }
            return out.reversed()
        }
    }

    func sequences(_ outcome: AuditPaging.Outcome) -> [Int64] {
        outcome.records.compactMap { try? JSONValue.parse($0)["seq"]?.int64Value }
    }

    @Test func theNewestRecordsInPagesOldestFirst() throws {
        // 2,000 records, one per millisecond; a reply holds at most 150.
        let log = FakeLog(records: (0..<2_000).map { (Int64($0), 1_000_000 + Int64($0)) }, cap: 150)
        let outcome = try AuditPaging.newest(1_000, matching: ["Operation": "GetSecretValue"]) {
            (request) throws(CofferClientError) in try log.query(request)
        }
        #expect(outcome.complete)
        #expect(sequences(outcome) == Array(1_000..<2_000))
        // The filters went with every page; no page was over the cap once the size was halved.
        #expect(log.requests.allSatisfy { $0["Operation"]?.stringValue == "GetSecretValue" })
        #expect(log.requests.count < 30)
    }

    @Test func timesOutOfLogOrderWithinTheSlackAreNotMissed() throws {
        // Each record's time is up to 40 ms off its place in the log (within the 50 ms slack).
        var records: [(seq: Int64, time: Int64)] = []
        for index in 0..<1_000 {
            let offset: Int64 = index % 7 == 0 ? -20 : (index % 5 == 0 ? 20 : 0)
            records.append((Int64(index), 5_000_000 + Int64(index) * 2 + offset))
        }
        let log = FakeLog(records: records, cap: 10_000)
        let outcome = try AuditPaging.newest(900, matching: [:]) { (request) throws(CofferClientError) in
            try log.query(request)
        }
        #expect(sequences(outcome) == Array(100..<1_000))
    }

    @Test func fewerRecordsThanAskedIsEverything() throws {
        let log = FakeLog(records: (0..<30).map { (Int64($0), 9_000 + Int64($0)) }, cap: 100)
        let outcome = try AuditPaging.newest(500, matching: [:]) { (request) throws(CofferClientError) in
            try log.query(request)
        }
        #expect(outcome.complete)
        #expect(sequences(outcome) == Array(0..<30))
        #expect(log.requests.count == 1)
    }

    @Test func theQuerysOwnUntilIsKept() throws {
        let log = FakeLog(records: (0..<600).map { (Int64($0), 10_000 + Int64($0) * 10) }, cap: 100)
        let until = Timestamp(milliseconds: 10_000 + 399 * 10)
        let outcome = try AuditPaging.newest(250, matching: ["Until": .timestamp(until)]) {
            (request) throws(CofferClientError) in try log.query(request)
        }
        #expect(sequences(outcome) == Array(150..<400))
        #expect(log.requests.allSatisfy { ($0["Until"]?.timestampValue ?? .init(milliseconds: .max)) <= until })
    }

    @Test func moreRecordsAtOneMomentThanAReplyHoldsStopsWithANote() throws {
        let log = FakeLog(records: (0..<500).map { (Int64($0), 42_000) }, cap: 120)
        let outcome = try AuditPaging.newest(400, matching: [:]) { (request) throws(CofferClientError) in
            try log.query(request)
        }
        #expect(!outcome.complete)
        #expect(!outcome.records.isEmpty)
        #expect(sequences(outcome).last == 499)
    }

    @Test func otherErrorsAreThrown() {
        var calls = 0
        #expect(throws: CofferClientError.service(name: "AccessDeniedException", message: "no")) {
            try AuditPaging.newest(10, matching: [:]) { (_) throws(CofferClientError) -> [String] in
                calls += 1
                throw .service(name: "AccessDeniedException", message: "no")
            }
        }
        #expect(calls == 1)
    }
}
