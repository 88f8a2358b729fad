import CofferCore
import CofferVault
import Glibc

/// The audit record's cost per request, measured in process on the product's own `AuditLog` (the daemon cannot run
/// without its audit log, so an on/off comparison of two daemons is not possible; see docs/PERFORMANCE.md).
///
/// Each iteration builds one GetSecretValue-shaped record and appends it, as a worker does for a request answered
/// alone in its event-loop iteration (`write` with a batch of one: one `write(2)`). The trace members a real record
/// carries (resource, version, decision reasons) are filled in through `fields` with strings of the same
/// sizes, because `AuditTrace` is written only by the vault; the record sizes are reported side by side with a real
/// record from the daemon's log so that the two can be compared.
enum AuditProbe {
    struct Result {
        var perRecordMicroseconds: Double
        var batchedPerRecordMicroseconds: Double
        var recordBytes: Int
    }

    static func measure(directory: String, iterations: Int, batch: Int) throws -> Result {
        let path = directory + "/audit-probe.log"
        let keyPath = directory + "/audit-probe.key"
        unlink(path)
        unlink(keyPath)
        defer {
            unlink(path)
            unlink(keyPath)
        }
        let log = try AuditLog(path: path, keyPath: keyPath)
        let caller = Caller(uid: 0, gid: 0, groups: [], pid: getpid(), userName: "root", groupNames: ["root"])
        let arn = "arn:coffer:secretsmanager:local:123456789012:secret:bench/rtt-0-AbCdEf"
        func record(_ n: Int) -> AuditRecord {
            AuditRecord(
                time: SystemClock().now(), socket: "client", connectionID: 16, requestID: UInt32(truncatingIfNeeded: n),
                operation: "GetSecretValue", caller: caller, trace: nil, error: nil,
                fields: [
                    ("resource", arn), ("versionId", "4b2e7b9a-3c1d-4e8f-9a0b-1c2d3e4f5a6b"),
                    ("versionStage", "AWSCURRENT"), ("matched", "root"),
                ])
        }
        for n in 0..<100 { log.write([record(n)]) }  // warm-up
        var start = now()
        for n in 0..<iterations {
            guard log.write([record(n)]) else { throw BenchError("audit probe: write failed") }
        }
        let single = Double(now() - start) / 1_000 / Double(iterations)
        let rounds = max(1, iterations / batch)
        start = now()
        for n in 0..<rounds {
            var records: [AuditRecord] = []
            records.reserveCapacity(batch)
            for i in 0..<batch { records.append(record(n * batch + i)) }
            guard log.write(records) else { throw BenchError("audit probe: write failed") }
        }
        let batched = Double(now() - start) / 1_000 / Double(rounds * batch)
        var info = stat()
        let total = 100 + iterations + rounds * batch
        let bytes = stat(path, &info) == 0 ? Int(info.st_size) / total : 0
        return Result(perRecordMicroseconds: single, batchedPerRecordMicroseconds: batched, recordBytes: bytes)
    }

    /// The length of the daemon's last audit line for `operation` in `path` (0 if none).
    static func realRecordBytes(path: String, operation: String) -> Int {
        guard let text = readTextFile(path, limit: 64 << 20) else { return 0 }
        var last = 0
        for line in text.split(separator: "\n") where line.contains("\"operation\":\"\(operation)\"") {
            last = line.utf8.count + 1
        }
        return last
    }
}
