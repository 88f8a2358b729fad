import CofferCore
import CofferProtocol
import CofferSystem
import Glibc
import Synchronization
import Testing

/// T16: abuse by one local user does not starve another; caps, deadlines and the EMFILE back-off hold.
///
/// One test uid (`coffr-abuse`) opens idle connections past its per-uid cap, trickles slowloris frames and floods
/// pipelined reads; meanwhile another uid (`coffr-reader`) does sequential reads and must see no errors. The
/// daemon's descriptors, memory and CPU are sampled from /proc throughout. `make test` runs a smaller version
/// (300 idle, 30 slowloris, 2 flood connections, 2,000 reads); `make abuse-test` the full one (1,000 idle, 100
/// slowloris, 4 flood connections, 10,000 reads). Latency is reported, not asserted.
@Suite(.serialized, .enabled(if: Reliability.enabled))
struct AbuseTests {
    static let full = Reliability.knob("COFFER_ABUSE_FULL", default: 0) == 1
    static let script =
        String(#filePath).split(separator: "/", omittingEmptySubsequences: false).dropLast(2).joined(separator: "/")
        + "/Reliability/abuse_client.py"

    struct Sample {
        var descriptors = 0
        var rssKiB = 0
    }

    @Test func anotherUserIsServedWithoutErrorsWhileOneUserAbusesTheDaemon() throws {
        let idle = Self.full ? 1_000 : 300
        let slowloris = Self.full ? 100 : 30
        let flood = Self.full ? 4 : 2
        let reads = Self.full ? 10_000 : 2_000
        let cap = Self.full ? 256 : 96
        let deadline = 2_000
        let attacker = try TestUser.named("abuse")
        let reader = try TestUser.named("reader")

        let daemon = try Daemon(start: false)
        let config = try daemon.writeConfig(
            #"{"maxConnectionsPerUID": \#(cap), "frameDeadlineMilliseconds": \#(deadline)}"#)
        daemon.extraArguments = ["--config", config]
        try daemon.start()
        let admin = try daemon.connectAdmin()
        let client = try daemon.connect()
        for (name, user) in [("abuse/secret", attacker), ("abuse/reader", reader)] {
            _ = try client.call(
                .createSecret, ["Name": .string(name), "SecretString": RequestCatalogue.secret("value of \(name)")])
            let policy = """
                {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue",\
                "Resource":"arn:*:secretsmanager:*:*:secret:\(name)-??????"}]}
                """
            _ = try admin.call(
                .putUserPolicy,
                ["UserName": .string(user.name), "PolicyName": "read", "PolicyDocument": .string(policy)])
        }
        let baseline = Sample(descriptors: daemon.descriptorCount, rssKiB: daemon.rssKiB)

        // The attack.
        let stopFile = daemon.root + "/stop-attack"
        let attackLog = daemon.root + "/attacker.json"
        let attackPID = try Subprocess.start(
            attacker.setprivPrefix + [
                "/usr/bin/python3", Self.script, "attacker", daemon.socketPath, "--secret", "abuse/secret",
                "--idle", "\(idle)", "--slowloris", "\(slowloris)", "--flood", "\(flood)", "--seconds", "120",
                "--stop-file", stopFile,
            ], logPath: attackLog)
        // Wait until the attacker holds its cap (idle connections opened, the excess refused).
        var waited = 0
        while daemon.descriptorCount < baseline.descriptors + cap && waited < 300 {
            usleep(100_000)
            waited += 1
        }
        usleep(1_500_000)

        // Sample the daemon while the other uid reads.
        let samples = Mutex<[Sample]>([])
        let stopSampling = Atomic<Bool>(false)
        let pid = daemon.pid
        let sampler = try OSThread(name: "abuse-sampler") {
            while !stopSampling.load(ordering: .relaxed) {
                let sample = Sample(
                    descriptors: ProcFS.descriptorCount(pid: pid), rssKiB: ProcFS.statusField(pid: pid, "VmRSS") ?? -1)
                samples.withLock { $0.append(sample) }
                usleep(100_000)
            }
        }
        let cpuBefore = daemon.cpuTicks
        let started = Monotonic.milliseconds()
        let readRun = try Subprocess.run(
            reader.setprivPrefix + [
                "/usr/bin/python3", Self.script, "reader", daemon.socketPath, "--secret", "abuse/reader", "--count",
                "\(reads)",
            ])
        let readSeconds = Double(Monotonic.milliseconds() - started) / 1_000
        let cpu = Double(daemon.cpuTicks - cpuBefore) / Double(ProcFS.ticksPerSecond) / max(readSeconds, 0.001)
        // Let the slowloris clients run into the deadline before stopping the attack.
        usleep(UInt32(deadline + 1_500) * 1_000)
        stopSampling.store(true, ordering: .relaxed)
        sampler.join()
        _ = creat(stopFile, 0o644)
        var status: Int32 = 0
        while waitpid(attackPID, &status, 0) < 0 && errno == EINTR {}

        // The reader: every read answered, no error at all.
        let readResult = try JSONValue.parse(readRun.stdoutText)
        #expect(readRun.status == 0, "\(readRun.stderrText)")
        #expect(readResult["count"]?.int64Value == Int64(reads))
        #expect(readResult["errors"]?.objectValue?.isEmpty == true, "the reader got errors: \(readRun.stdoutText)")
        let p99 = readResult["p99_ms"]?.doubleValue ?? -1
        #expect(p99 >= 0 && p99 < 5_000, "generous hang check; the goal (50 ms) is reported")

        // The attacker: capped, throttled, its slow frames cut at the deadline.
        let attackText =
            (try? SafeFile.readAll(path: attackLog, maxBytes: 1 << 20)).map {
                String(decoding: $0, as: UTF8.self)
            } ?? ""
        let attack = try JSONValue.parse(String(attackText.split(separator: "\n").last ?? ""))
        let throttled = Int(attack["idle_throttled"]?.int64Value ?? -1)
        let held = Int(attack["idle_held"]?.int64Value ?? -1)
        #expect(throttled > 0, "the per-uid cap did not throttle: \(attackText)")
        #expect(held >= 0 && held <= cap, "more idle connections held than the cap: \(attackText)")
        #expect(throttled + held + Int(attack["idle_closed_without_reply"]?.int64Value ?? 0) == idle)
        #expect(attack["slowloris_completed_frames"]?.int64Value == 0)
        let cut = Int(attack["slowloris_cut"]?.int64Value ?? -1)
        let slowThrottled = Int(attack["slowloris_throttled"]?.int64Value ?? 0)
        #expect(cut + slowThrottled == Int(attack["slowloris_started"]?.int64Value ?? -2), "\(attackText)")
        if let longest = attack["slowloris_cut_max_seconds"]?.doubleValue {
            #expect(longest < Double(deadline) / 1_000 + 5, "a slow frame outlived the deadline: \(longest) s")
        }
        if let shortest = attack["slowloris_cut_min_seconds"]?.doubleValue {
            #expect(shortest >= Double(deadline) / 1_000 * 0.9, "a slow frame was cut before the deadline")
        }
        #expect(Int(attack["flood_requests"]?.int64Value ?? 0) > 0)

        // The daemon: bounded descriptors and memory, still healthy.
        let taken = samples.withLock { $0 }
        let maxDescriptors = taken.map(\.descriptors).max() ?? -1
        let maxRSS = taken.map(\.rssKiB).max() ?? -1
        // Each connection holds a socket and a pidfd; the attacker gets at most `cap` connections.
        #expect(maxDescriptors <= baseline.descriptors + 2 * (cap + 8), "descriptors peaked at \(maxDescriptors)")
        #expect(maxRSS < 512 * 1_024, "RSS peaked at \(maxRSS) KiB")
        #expect(daemon.isRunning)
        _ = try daemon.hello()
        let tag = Self.full ? "abuse.full" : "abuse.short"
        Figures.record("\(tag).readerReads", "\(reads)")
        Figures.record("\(tag).readerErrors", readResult["errors"]?.serialized() ?? "?")
        for key in ["p50_ms", "p99_ms", "p999_ms", "max_ms"] {
            Figures.record("\(tag).reader.\(key)", format3(readResult[key]?.doubleValue ?? -1))
        }
        Figures.record("\(tag).daemonCPUWhileReading", format3(cpu))
        Figures.record("\(tag).attacker", attack.serialized())
        Figures.record("\(tag).descriptors", "\(baseline.descriptors)->max \(maxDescriptors)")
        Figures.record("\(tag).rssKiB", "\(baseline.rssKiB)->max \(maxRSS)")
    }

    /// A connection with nothing in flight is closed after the idle timeout.
    @Test func idleConnectionsAreClosedAtTheIdleTimeout() throws {
        let daemon = try Daemon(start: false)
        daemon.extraArguments = ["--config", try daemon.writeConfig(#"{"idleTimeoutMilliseconds": 1000}"#)]
        try daemon.start()
        let connections = try (0..<5).map { _ in try RawConnection(path: daemon.socketPath, timeoutMilliseconds: 8_000)
        }
        _ = try connections[0].call(.hello, [:])
        let started = Monotonic.milliseconds()
        for connection in connections { #expect(connection.isClosedByPeer()) }
        let elapsed = Monotonic.milliseconds() - started
        #expect(elapsed >= 700 && elapsed < 7_000, "closed after \(elapsed) ms")
        _ = try daemon.hello()
    }

    /// Out of descriptors (`prlimit --nofile=40`), the daemon does not spin: with connections waiting that it cannot
    /// take, its CPU stays near zero; connections it has are served; it serves new ones once descriptors return.
    ///
    /// What it does with the waiting connections: each accepted connection needs a second descriptor (the peer's
    /// pidfd), so with one descriptor left `accept` succeeds, `SO_PEERPIDFD` fails with EMFILE and the connection
    /// is closed without a reply; the accept back-off (1 s pause on EMFILE) is never reached. See the disabled test
    /// below.
    @Test func outOfDescriptorsTheDaemonDoesNotSpinAndRecovers() throws {
        let daemon = try Daemon(start: false)
        daemon.launchPrefix = ["/usr/bin/prlimit", "--nofile=40:40", "--"]
        try daemon.start()
        let first = try daemon.connect()
        _ = try first.call(.hello, [:])
        var held: [RawConnection] = []
        for _ in 0..<60 { held.append(try RawConnection(path: daemon.socketPath)) }
        usleep(500_000)
        let before = daemon.cpuTicks
        sleep(3)
        let cpu = Double(daemon.cpuTicks - before) / Double(ProcFS.ticksPerSecond) / 3
        #expect(cpu < 0.5, "the daemon used \(cpu * 100)% of a core while out of descriptors")
        #expect(daemon.log.contains("Too many open files"), "the descriptor limit was never reached")
        // /proc/PID/fd is read while descriptors come and go: the smallest of a few readings.
        #expect((0..<3).map { _ in daemon.descriptorCount }.min() ?? 99 <= 40)
        // Served while out of descriptors.
        #expect(try first.call(.hello, [:])["ProtocolVersion"]?.intValue == 1)
        held.removeAll()
        var recovered = false
        for _ in 0..<100 {
            if (try? daemon.hello()) != nil {
                recovered = true
                break
            }
            usleep(100_000)
        }
        #expect(recovered, "the daemon did not serve new connections after descriptors returned")
        Figures.record("emfile.cpuFractionWhileOutOfDescriptors", format3(cpu))
    }

    /// A connection the daemon has no descriptor for should be told (ThrottlingException, as over the connection
    /// caps) or left waiting in the backlog while accepting pauses — not accepted and closed without a word.
    @Test(
        .disabled(
            if: !Reliability.knownBugs,
            Comment(
                rawValue: "bug: CofferServer/Worker.swift admit(): when PeerCredentials.read fails with EMFILE/ENFILE "
                    + "the connection is closed silently and the listener is not paused (accept's EMFILE back-off is "
                    + "unreachable while each connection needs a pidfd); answer ThrottlingException and pauseListener "
                    + "as for accept's EMFILE")))
    func connectionsOverTheDescriptorBudgetAreThrottledOrWait() throws {
        let daemon = try Daemon(start: false)
        daemon.launchPrefix = ["/usr/bin/prlimit", "--nofile=40:40", "--"]
        try daemon.start()
        let held = try (0..<30).map { _ in try RawConnection(path: daemon.socketPath, timeoutMilliseconds: 3_000) }
        usleep(1_000_000)
        var silentlyClosed = 0
        for connection in held {
            var byte: UInt8 = 0
            let n = recv(connection.fd.rawValue, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
            if n == 0 { silentlyClosed += 1 }  // EOF with no reply (a ThrottlingException would be readable data)
        }
        #expect(silentlyClosed == 0, "\(silentlyClosed) of 30 connections were closed without a reply")
    }
}
