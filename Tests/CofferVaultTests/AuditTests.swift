import CofferCore
import CofferSystem
import Glibc
import Testing

@testable import CofferVault

@Suite struct AuditLogTests {
    func record(_ i: Int, error: String? = nil) -> AuditRecord {
        let trace = AuditTrace()
        trace.recordDecision(
            AuthorizationResult(
                allowed: error == nil, matchedStatements: ["p:Sid\(i)"], decision: "allowed",
                principalARN: "arn:coffer:iam::123456789012:user/alice"),
            resource: "arn:coffer:secretsmanager:local:123456789012:secret:s\(i)-AbCdEf")
        return AuditRecord(
            time: Timestamp(milliseconds: 1_764_400_000_000 + Int64(i)), socket: "client", connectionID: 16,
            requestID: UInt32(i), operation: "GetSecretValue",
            caller: Caller(uid: 1000, gid: 1000, pid: 42, userName: "alice", groupNames: ["alice"]), trace: trace,
            error: error)
    }

    func lines(_ path: String) throws -> [String] {
        String(decoding: try SafeFile.readAll(path: path, maxBytes: 1 << 24), as: UTF8.self).split(separator: "\n")
            .map(String.init)
    }

    func rewrite(_ path: String, _ lines: [String]) throws {
        try SafeFile.atomicReplace(
            path: path, mode: 0o600, contents: Array((lines.joined(separator: "\n") + "\n").utf8))
    }

    @Test func chainVerifiesAndSurvivesReopen() throws {
        let dir = TempDir()
        let path = dir.path + "/audit.log"
        var log = try AuditLog(path: path, keyPath: dir.path + "/audit.key")
        #expect(log.write((1...5).map { record($0) }))
        log = try AuditLog(path: path, keyPath: dir.path + "/audit.key")  // the chain continues after a restart
        #expect(log.write((6...10).map { record($0) }))
        log.sync()
        let result = try AuditLog.verify(path: path)
        #expect(result.valid && result.records == 10)
        #expect(log.head.seq == 10)
        #expect(try SafeFile.fileMode(path: path) == 0o600)
        #expect(try SafeFile.fileMode(path: dir.path + "/audit.key") == 0o600)
        let first = try lines(path)[0]
        #expect(first.contains("\"user\":\"alice\"") && first.contains("\"matched\":[\"p:Sid1\"]"))
    }

    @Test(arguments: ["edit", "delete", "reorder", "insert", "truncate-hash"])
    func tamperingIsNamed(_ kind: String) throws {
        let dir = TempDir()
        let path = dir.path + "/audit.log"
        let log = try AuditLog(path: path, keyPath: dir.path + "/audit.key")
        #expect(log.write((1...8).map { record($0) }))
        var l = try lines(path)
        let expectedLine: Int
        switch kind {
        case "edit":
            l[4] = l[4].replacingOccurrences("\"user\":\"alice\"", "\"user\":\"mallory\"")
            expectedLine = 5
        case "delete":
            l.remove(at: 3)
            expectedLine = 4
        case "reorder":
            l.swapAt(2, 5)
            expectedLine = 3
        case "insert":
            l.insert(l[1], at: 2)
            expectedLine = 3
        default:
            l[6] = l[6].replacingOccurrences("\"hash\":\"", "\"hash\":\"0")
            expectedLine = 7
        }
        try rewrite(path, l)
        let result = try AuditLog.verify(path: path)
        #expect(!result.valid)
        #expect(result.firstBadLine == expectedLine, "\(kind): \(result.reason ?? "")")
    }

    @Test func sensitiveFieldsAreKeyedHashes() throws {
        let dir = TempDir()
        let log = try AuditLog(path: dir.path + "/audit.log", keyPath: dir.path + "/audit.key")
        let hashed = log.hashed("my-client-token-value-0000000001")
        #expect(hashed.hasPrefix("hmac-sha256:") && hashed.utf8.count == 12 + 64)
        #expect(!hashed.contains("my-client-token"))
        #expect(hashed == log.hashed("my-client-token-value-0000000001"))
    }

    @Test func queryFilters() throws {
        let dir = TempDir()
        let path = dir.path + "/audit.log"
        let log = try AuditLog(path: path, keyPath: dir.path + "/audit.key")
        #expect(log.write((1...20).map { record($0, error: $0 % 5 == 0 ? "AccessDeniedException" : nil) }))
        var q = AuditLog.Query()
        q.secret = "secret:s7-"
        #expect(try AuditLog.query(path: path, q).count == 1)
        q = AuditLog.Query()
        q.principal = "alice"
        q.limit = 3
        let newest = try AuditLog.query(path: path, q)
        #expect(newest.count == 3 && newest.last?.contains("\"seq\":20") == true)
        q = AuditLog.Query()
        q.since = Timestamp(milliseconds: 1_764_400_000_015)
        #expect(try AuditLog.query(path: path, q).count == 6)
    }

    @Test func aFailedWriteLeavesNoPartialRecordAndTheChainIntact() throws {
        let dir = TempDir()
        let path = dir.path + "/audit.log"
        let log = try AuditLog(path: path, keyPath: dir.path + "/audit.key")
        #expect(log.write([record(1)]))
        // RLIMIT_FSIZE makes the next write fail (EFBIG) part-way; SIGXFSZ is ignored for the test.
        let size = try SafeFile.status(path: path)?.size ?? 0
        signal(SIGXFSZ, SIG_IGN)
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &limit)
        let saved = limit
        limit.rlim_cur = rlim_t(size + 100)
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limit)
        let written = log.write([record(2), record(3)])
        var restore = saved
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &restore)
        #expect(!written)
        #expect(try SafeFile.status(path: path)?.size == size)  // rolled back
        #expect(log.write([record(4)]))
        let result = try AuditLog.verify(path: path)
        #expect(result.valid && result.records == 2)
    }
}

extension AuditLogTests {
    @Test func openingRemovesACutShortRecordAndContinuesTheChain() throws {
        let dir = TempDir()
        let path = dir.path + "/audit.log"
        do {
            let log = try AuditLog(path: path, keyPath: dir.path + "/audit.key")
            #expect(log.write((1...3).map { record($0) }))
        }
        let complete = try SafeFile.status(path: path)?.size ?? 0
        // A crash in the middle of a write: half a record, no newline.
        let partial = "{\"seq\":4,\"time\":\"2026-"
        let fd = open(path, O_WRONLY | O_APPEND)
        _ = partial.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        let log = try AuditLog(path: path, keyPath: dir.path + "/audit.key")
        #expect(log.truncatedAtOpen == partial.utf8.count)
        #expect(try SafeFile.status(path: path)?.size == complete)
        #expect(log.head.seq == 3)
        #expect(log.write([record(4)]))
        let result = try AuditLog.verify(path: path)
        #expect(result.valid && result.records == 4)
    }

    @Test func anUnreadableLastRecordStopsTheLogFromOpening() throws {
        let dir = TempDir()
        let path = dir.path + "/audit.log"
        do {
            let log = try AuditLog(path: path, keyPath: dir.path + "/audit.key")
            #expect(log.write((1...3).map { record($0) }))
        }
        var l = try lines(path)
        l[2] = "{\"seq\":3,\"edited\":true}"
        try rewrite(path, l)
        #expect(throws: AuditLogError.self) { try AuditLog(path: path, keyPath: dir.path + "/audit.key") }
        // Moved aside, a new log starts a new chain.
        #expect(rename(path, path + ".old") == 0)
        let fresh = try AuditLog(path: path, keyPath: dir.path + "/audit.key")
        #expect(fresh.head.seq == 0 && fresh.head.hash == AuditLog.genesis)
    }

    /// The chain head is read from the end of the file, in a window that grows until it holds a whole line: a log
    /// far larger than the window, and a last record larger than it, both reopen where they were.
    @Test func theChainHeadIsFoundAtTheEndOfALongLog() throws {
        let dir = TempDir()
        let path = dir.path + "/audit.log"
        do {
            let log = try AuditLog(path: path, keyPath: dir.path + "/audit.key")
            for batch in 0..<40 { #expect(log.write((1...50).map { record(batch * 50 + $0) })) }
            var big = record(2_001)
            big.fields = [("note", String(repeating: "x", count: 200_000))]
            #expect(log.write([big]))
        }
        #expect((try SafeFile.status(path: path)?.size ?? 0) > 1_000_000)
        let log = try AuditLog(path: path, keyPath: dir.path + "/audit.key")
        #expect(log.head.seq == 2_001)
        #expect(log.write([record(2_002)]))
        let result = try AuditLog.verify(path: path)
        #expect(result.valid && result.records == 2_002)
        var q = AuditLog.Query()
        q.limit = 2
        let newest = try AuditLog.query(path: path, q)
        #expect(newest.count == 2 && newest[0].contains("\"seq\":2001,") && newest[1].contains("\"seq\":2002,"))
    }

    @Test func verifyIgnoresARecordBeingWritten() throws {
        let dir = TempDir()
        let path = dir.path + "/audit.log"
        let log = try AuditLog(path: path, keyPath: dir.path + "/audit.key")
        #expect(log.write((1...3).map { record($0) }))
        let fd = open(path, O_WRONLY | O_APPEND)
        _ = "{\"seq\":4,".withCString { write(fd, $0, strlen($0)) }
        close(fd)
        let result = try AuditLog.verify(path: path)
        #expect(result.valid && result.records == 3)
    }
}

extension String {
    /// Replaces every occurrence of `target` (no Foundation in the tests either).
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        let text = Array(self.utf8)
        let needle = Array(target.utf8)
        var out: [UInt8] = []
        var i = 0
        while i < text.count {
            if i + needle.count <= text.count && Array(text[i..<i + needle.count]) == needle {
                out += Array(replacement.utf8)
                i += needle.count
            } else {
                out.append(text[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
