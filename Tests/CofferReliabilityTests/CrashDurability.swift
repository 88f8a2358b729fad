import CofferCore
import CofferCrypto
import CofferProtocol
import CofferStore
import CofferSystem
import Glibc
import Synchronization
import Testing

/// T1: `kill -9` at random moments under load loses no acknowledged write and never corrupts the database.
///
/// Four writers and four readers run against the real daemon; a writer appends `secret version sha256` to its own
/// ack log and fsyncs it **after** each acknowledged write. At a random moment (20–300 ms into the load) the daemon
/// gets SIGKILL. Then, before the restart, the database is opened read-only: `PRAGMA integrity_check` must say `ok`,
/// foreign keys must hold and every secret with a version must have an AWSCURRENT label. After the restart, through
/// the daemon: every version acknowledged in the cycle (and a sample of older ones) is present and decrypts to its
/// logged digest; every secret written in the cycle has exactly one AWSCURRENT — the last acknowledged version or
/// the write in flight at the kill — at most one AWSPREVIOUS, and that one is the version before. Readers check
/// that every value they are served is one a writer sent under that version id. At the end every line of every ack
/// log is read back and checked.
///
/// `make test` runs 20 cycles; `make crash-test CYCLES=N` runs N (`COFFER_CRASH_CYCLES`).
@Suite(.serialized, .enabled(if: Reliability.enabled))
struct CrashDurabilityTests {
    @Test func acknowledgedWritesSurviveSIGKILLUnderLoad() throws {
        let cycles = Reliability.knob("COFFER_CRASH_CYCLES", default: 20)
        let driver = try CrashDriver()
        let report = try driver.run(cycles: cycles)
        #expect(report.cycles == cycles)
        #expect(report.acknowledged > cycles, "the load acknowledged almost nothing: \(report)")
        #expect(report.lost == 0, "acknowledged writes lost: \(report.lostExamples)")
        #expect(report.integrityFailures == 0, "\(report.integrityExamples)")
        #expect(report.labelFailures == 0, "\(report.labelExamples)")
        #expect(report.wrongValues == 0, "readers were served a value no writer sent under that version")
        #expect(report.unexpectedErrors == 0, "\(report.errorExamples)")
        #expect(report.reads > 0)
        Figures.record("crash.cycles", "\(report.cycles)")
        Figures.record("crash.acknowledgedWrites", "\(report.acknowledged)")
        Figures.record("crash.acknowledgedWritesLost", "\(report.lost)")
        Figures.record("crash.integrityFailures", "\(report.integrityFailures)")
        Figures.record("crash.labelFailures", "\(report.labelFailures)")
        Figures.record("crash.reads", "\(report.reads)")
        Figures.record("crash.inFlightWritesFoundDurable", "\(report.inFlightDurable)/\(report.inFlight)")
        Figures.record("crash.maxRestartMilliseconds", "\(report.maxRestartMilliseconds)")
    }
}

/// What a crash run found.
struct CrashReport: CustomStringConvertible {
    var cycles = 0
    var acknowledged = 0
    var lost = 0
    var lostExamples: [String] = []
    var integrityFailures = 0
    var integrityExamples: [String] = []
    var labelFailures = 0
    var labelExamples: [String] = []
    var wrongValues = 0
    var unexpectedErrors = 0
    var errorExamples: [String] = []
    var reads = 0
    /// Writes in flight at a kill, and how many of them turned out durable (either is correct).
    var inFlight = 0
    var inFlightDurable = 0
    var maxRestartMilliseconds: Int64 = 0

    var description: String {
        "cycles \(cycles), acked \(acknowledged), lost \(lost), integrity \(integrityFailures), labels \(labelFailures), "
            + "wrong values \(wrongValues), errors \(unexpectedErrors), reads \(reads), in flight \(inFlightDurable)/\(inFlight)"
    }

    mutating func fail(
        _ kind: WritableKeyPath<CrashReport, Int>, _ examples: WritableKeyPath<CrashReport, [String]>, _ text: String
    ) {
        self[keyPath: kind] += 1
        if self[keyPath: examples].count < 10 { self[keyPath: examples].append(text) }
    }
}

/// One acknowledged (or in-flight) write.
struct WriteRecord: Sendable, Hashable {
    var secret: String
    var versionID: String
    var digest: String
}

/// A writer's state, kept across cycles.
struct WriterData: Sendable {
    var index: Int
    var secretSerial = 0
    var currentSecret: String?
    var versionsInSecret = 0
    /// Acknowledged versions per secret, in order.
    var history: [String: [WriteRecord]] = [:]
    /// Acknowledged in the current cycle (verified after the next restart).
    var cycleAcks: [WriteRecord] = []
    /// The write in flight when the connection died, and whether it was a CreateSecret.
    var pending: (record: WriteRecord, isCreate: Bool)?
    var errors: [String] = []
}

/// One writer's state behind a lock (the writer thread updates it; the driver reads it between cycles).
final class WriterBox: Sendable {
    let data: Mutex<WriterData>
    init(_ index: Int) { data = Mutex(WriterData(index: index)) }
    func withLock<R: Sendable>(_ body: (inout WriterData) -> R) -> R { data.withLock { body(&$0) } }
}

/// What the load threads share (the driver itself owns the daemon and stays on the test's thread).
final class CrashLoad: Sendable {
    let socketPath: String
    let ackDirectory: String
    let writers: [WriterBox]
    /// version id → digest of every value sent (readers check what they are served against it).
    let sent = Mutex<[String: String]>([:])
    /// Secrets with at least one acknowledged version (what readers read).
    let readable = Mutex<[String]>([])
    let wrongValues = Atomic<Int>(0)
    let reads = Atomic<Int>(0)
    let readerErrors = Mutex<[String]>([])
    static let writerCount = 4
    static let readerCount = 4
    /// A secret gets a new name after this many versions (the vault keeps at most 500 per secret).
    static let versionsPerSecret = 150

    init(socketPath: String, ackDirectory: String) {
        self.socketPath = socketPath
        self.ackDirectory = ackDirectory
        writers = (0..<CrashDriver.writerCount).map { WriterBox($0) }
    }

    func ackPath(_ writer: Int) -> String { "\(ackDirectory)/writer-\(writer).log" }

    func write(_ index: Int, cycle: Int, stop: borrowing Atomic<Bool>) {
        guard let connection = try? RawConnection(path: socketPath) else { return }
        let log = open(ackPath(index), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard log >= 0 else { return }
        defer { close(log) }
        while !stop.load(ordering: .relaxed) {
            var data = writers[index].withLock { $0 }
            let isCreate = data.currentSecret == nil || data.versionsInSecret >= CrashLoad.versionsPerSecret
            if isCreate {
                data.secretSerial += 1
                data.currentSecret = "crash/w\(index)-c\(cycle)-\(data.secretSerial)"
                data.versionsInSecret = 0
            }
            guard let secret = data.currentSecret else { return }
            let value = SecureRandom.bytes(count: Int.random(in: 1...512))
            let versionID = SecureRandom.bytes(count: 16).map { String($0, radix: 16).leftPadded(2) }.joined()
            let record = WriteRecord(secret: secret, versionID: versionID, digest: hex(Digest.sha256(value)))
            sent.withLock { $0[versionID] = record.digest }
            data.pending = (record, isCreate)
            writers[index].withLock { $0 = data }
            let request: Document =
                isCreate
                ? [
                    "Name": .string(secret), "ClientRequestToken": .string(versionID),
                    "SecretBinary": .secret(SensitiveBytes(copying: value), isString: false),
                ]
                : [
                    "SecretId": .string(secret), "ClientRequestToken": .string(versionID),
                    "SecretBinary": .secret(SensitiveBytes(copying: value), isString: false),
                ]
            let reply: Document
            do {
                reply = try connection.call(isCreate ? .createSecret : .putSecretValue, request)
            } catch let error as ServiceError {
                writers[index].withLock {
                    $0.pending = nil
                    $0.errors.append("\(secret) \(versionID): \(error)")
                    if isCreate { $0.currentSecret = nil }
                }
                continue
            } catch {
                return  // the daemon is gone: the write stays pending
            }
            guard reply["VersionId"]?.stringValue == versionID else {
                writers[index].withLock {
                    $0.errors.append("\(secret): reply names version \(String(describing: reply["VersionId"]))")
                }
                return
            }
            // Acknowledged: log it durably before anything else.
            let line = Array("\(secret) \(versionID) \(record.digest)\n".utf8)
            let written = line.withUnsafeBytes { Glibc.write(log, $0.baseAddress, $0.count) }
            guard written == line.count, fsync(log) == 0 else { return }
            writers[index].withLock {
                $0.pending = nil
                $0.versionsInSecret += 1
                $0.history[secret, default: []].append(record)
                $0.cycleAcks.append(record)
            }
            if isCreate { readable.withLock { $0.append(secret) } }
        }
    }

    func read(stop: borrowing Atomic<Bool>) {
        guard let connection = try? RawConnection(path: socketPath) else { return }
        while !stop.load(ordering: .relaxed) {
            let secret = readable.withLock { $0.randomElement() }
            guard let secret else {
                usleep(1_000)
                continue
            }
            do {
                let reply = try connection.call(.getSecretValue, ["SecretId": .string(secret)])
                reads.add(1, ordering: .relaxed)
                guard let version = reply["VersionId"]?.stringValue, let value = reply["SecretBinary"]?.secretBytes
                else {
                    wrongValues.add(1, ordering: .relaxed)
                    continue
                }
                let expected = sent.withLock { $0[version] }
                if expected != hex(Digest.sha256(value)) { wrongValues.add(1, ordering: .relaxed) }
            } catch let error as ServiceError {
                readerErrors.withLock { if $0.count < 10 { $0.append("read \(secret): \(error)") } }
            } catch {
                return
            }
        }
    }

}

/// Runs the cycles: load, kill, check the file, restart, check through the daemon.
final class CrashDriver {
    let daemon: Daemon
    let shared: CrashLoad
    var writers: [WriterBox] { shared.writers }
    static let writerCount = CrashLoad.writerCount
    static let readerCount = CrashLoad.readerCount

    init() throws {
        daemon = try Daemon()
        let acks = daemon.root + "/acks"
        mkdir(acks, 0o700)
        shared = CrashLoad(socketPath: daemon.socketPath, ackDirectory: acks)
    }

    func ackPath(_ writer: Int) -> String { shared.ackPath(writer) }
    func run(cycles: Int) throws -> CrashReport {
        var report = CrashReport()
        for cycle in 0..<cycles {
            try load(cycle: cycle, report: &report)
            checkDatabase(cycle: cycle, report: &report)
            let started = Monotonic.milliseconds()
            try daemon.start()
            report.maxRestartMilliseconds = max(report.maxRestartMilliseconds, Monotonic.milliseconds() - started)
            try verify(cycle: cycle, report: &report)
            report.cycles += 1
        }
        try verifyAckLogs(report: &report)
        report.wrongValues = shared.wrongValues.load(ordering: .relaxed)
        report.reads = shared.reads.load(ordering: .relaxed)
        for error in shared.readerErrors.withLock({ $0 }) {
            report.fail(\CrashReport.unexpectedErrors, \CrashReport.errorExamples, error)
        }
        daemon.stop()
        return report
    }

    // MARK: Load and kill

    func load(cycle: Int, report: inout CrashReport) throws {
        let stop = Atomic<Bool>(false)
        var threads: [OSThread] = []
        for writer in 0..<CrashDriver.writerCount {
            threads.append(
                try OSThread(name: "crash-writer") { [shared] in shared.write(writer, cycle: cycle, stop: stop) })
        }
        for _ in 0..<CrashDriver.readerCount {
            threads.append(try OSThread(name: "crash-reader") { [shared] in shared.read(stop: stop) })
        }
        usleep(UInt32.random(in: 20_000...300_000))
        daemon.crash()
        stop.store(true, ordering: .relaxed)
        for thread in threads { thread.join() }
    }

    // MARK: Checks

    /// The database as the kill left it, opened read-only before the daemon restarts.
    func checkDatabase(cycle: Int, report: inout CrashReport) {
        let path = daemon.stateDirectory + "/vault.db"
        do {
            let db = try SQLiteConnection(path: path, readOnly: true)
            let integrity = try db.scalarText("PRAGMA integrity_check")
            if integrity != "ok" {
                report.fail(
                    \CrashReport.integrityFailures, \CrashReport.integrityExamples,
                    "cycle \(cycle): integrity_check: \(integrity ?? "nil")")
            }
            let statement = try db.prepare("PRAGMA foreign_key_check")
            if try statement.step() {
                report.fail(
                    \CrashReport.integrityFailures, \CrashReport.integrityExamples,
                    "cycle \(cycle): foreign_key_check found rows")
            }
            let headless = try db.scalarInt(
                """
                SELECT count(*) FROM secrets s WHERE EXISTS (SELECT 1 FROM versions v WHERE v.secret_id = s.id)
                AND NOT EXISTS (SELECT 1 FROM stages t WHERE t.secret_id = s.id AND t.stage = 'AWSCURRENT')
                """)
            if headless != 0 {
                report.fail(
                    \CrashReport.labelFailures, \CrashReport.labelExamples,
                    "cycle \(cycle): \(headless ?? -1) secrets without AWSCURRENT")
            }
        } catch {
            report.fail(
                \CrashReport.integrityFailures, \CrashReport.integrityExamples,
                "cycle \(cycle): cannot open read-only: \(error)")
        }
    }

    /// After the restart: this cycle's acknowledgements, a sample of older ones, labels, the in-flight writes.
    func verify(cycle: Int, report: inout CrashReport) throws {
        let connection = try daemon.connect()
        for index in 0..<CrashDriver.writerCount {
            var data = writers[index].withLock { $0 }
            for error in data.errors { report.fail(\CrashReport.unexpectedErrors, \CrashReport.errorExamples, error) }
            data.errors = []
            report.acknowledged += data.cycleAcks.count
            var sample = data.cycleAcks
            let older = data.history.values.flatMap { $0 }
            for _ in 0..<min(5, older.count) { if let pick = older.randomElement() { sample.append(pick) } }
            for record in sample { try checkPresent(record, connection, &report) }
            // Labels of every secret this writer touched in the cycle.
            var touched = Set(data.cycleAcks.map(\.secret))
            if let pending = data.pending { touched.insert(pending.record.secret) }
            var pendingDurable = false
            if let pending = data.pending {
                report.inFlight += 1
                switch lookup(pending.record, connection) {
                case .some(let digest):
                    pendingDurable = true
                    report.inFlightDurable += 1
                    if digest != pending.record.digest {
                        report.fail(
                            \CrashReport.lost, \CrashReport.lostExamples,
                            "in-flight \(pending.record.versionID) has another value")
                    }
                case .none:
                    if pending.isCreate { data.currentSecret = nil }
                }
            }
            for secret in touched {
                try checkLabels(
                    secret, history: data.history[secret] ?? [],
                    pending: pendingDurable && data.pending?.record.secret == secret ? data.pending?.record : nil,
                    connection, &report)
            }
            if pendingDurable, let pending = data.pending {
                // It is durable: it is now part of the history (and the secret exists).
                data.history[pending.record.secret, default: []].append(pending.record)
                data.versionsInSecret += 1
                if pending.isCreate { shared.readable.withLock { $0.append(pending.record.secret) } }
            }
            data.pending = nil
            data.cycleAcks = []
            writers[index].withLock { $0 = data }
        }
    }

    func checkPresent(_ record: WriteRecord, _ connection: RawConnection, _ report: inout CrashReport) throws {
        switch lookup(record, connection) {
        case .some(let digest) where digest == record.digest: break
        case .some:
            report.fail(
                \CrashReport.lost, \CrashReport.lostExamples, "\(record.secret) \(record.versionID): wrong value")
        case .none:
            report.fail(\CrashReport.lost, \CrashReport.lostExamples, "\(record.secret) \(record.versionID): missing")
        }
    }

    /// The digest of the stored value of a version, nil if the version does not exist.
    func lookup(_ record: WriteRecord, _ connection: RawConnection) -> String? {
        do {
            let reply = try connection.call(
                .getSecretValue, ["SecretId": .string(record.secret), "VersionId": .string(record.versionID)])
            return reply["SecretBinary"]?.secretBytes.map { hex(Digest.sha256($0)) } ?? "no value"
        } catch {
            return nil
        }
    }

    func checkLabels(
        _ secret: String, history: [WriteRecord], pending: WriteRecord?, _ connection: RawConnection,
        _ report: inout CrashReport
    ) throws {
        let versions = history.map(\.versionID) + (pending.map { [$0.versionID] } ?? [])
        guard let last = versions.last else { return }
        let described: Document
        do {
            described = try connection.call(.describeSecret, ["SecretId": .string(secret)])
        } catch {
            report.fail(\CrashReport.labelFailures, \CrashReport.labelExamples, "\(secret): describe failed: \(error)")
            return
        }
        var current: [String] = []
        var previous: [String] = []
        for (version, labels) in described["VersionIdsToStages"]?.mapValue?.fields ?? [] {
            let names = (labels.listValue ?? []).compactMap(\.stringValue)
            if names.contains("AWSCURRENT") { current.append(version) }
            if names.contains("AWSPREVIOUS") { previous.append(version) }
        }
        if current != [last] {
            report.fail(
                \CrashReport.labelFailures, \CrashReport.labelExamples,
                "\(secret): AWSCURRENT on \(current), expected \(last)")
        }
        let expectedPrevious = versions.count >= 2 ? [versions[versions.count - 2]] : []
        if previous != expectedPrevious {
            report.fail(
                \CrashReport.labelFailures, \CrashReport.labelExamples,
                "\(secret): AWSPREVIOUS on \(previous), expected \(expectedPrevious)")
        }
    }

    /// Every line of every ack log, read back from disk, against the daemon.
    func verifyAckLogs(report: inout CrashReport) throws {
        let connection = try daemon.connect()
        var lines = 0
        for index in 0..<CrashDriver.writerCount {
            let text = String(decoding: try SafeFile.readAll(path: ackPath(index), maxBytes: 256 << 20), as: UTF8.self)
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ").map(String.init)
                guard fields.count == 3 else {
                    report.fail(\CrashReport.lost, \CrashReport.lostExamples, "malformed ack line: \(line)")
                    continue
                }
                lines += 1
                try checkPresent(
                    WriteRecord(secret: fields[0], versionID: fields[1], digest: fields[2]), connection, &report)
            }
        }
        if lines != report.acknowledged {
            report.fail(
                \CrashReport.lost, \CrashReport.lostExamples,
                "ack logs hold \(lines) lines, \(report.acknowledged) acknowledged")
        }
    }
}

func hex(_ bytes: [UInt8]) -> String { bytes.map { String($0, radix: 16).leftPadded(2) }.joined() }
