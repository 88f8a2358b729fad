import CCofferBench
import CofferPolicy
import Glibc

/// The whole benchmark: every figure next to a baseline measured in the same run (docs/PERFORMANCE.md, "Method").
final class Suite {
    let settings: Settings
    let paths: Paths
    let report = Report()
    private var servers: [ServerProcess] = []
    private var serial = 0
    /// Size of a real GetSecretValue audit record, read from the main daemon's log after the setup.
    private var realAuditRecordBytes = 0

    init(settings: Settings, paths: Paths) {
        self.settings = settings
        self.paths = paths
    }

    /// One server under comparison: a name for the table and the socket its clients use.
    struct Target {
        var name: String
        var socket: String
    }

    func run() throws {
        try makeDirectories(paths.sockets)
        try makeDirectories(paths.logs)
        let loadStart = loadAverage()
        report.set("date", .string(utcTimestamp()))
        report.set("mode", .string(settings.quick ? "quick" : "full"))
        report.set("commit", .string(paths.commit))
        report.set("rounds", .integer(settings.rounds))
        report.set("latency_rounds", .integer(settings.latencyRounds))
        report.set("cpus", .integer(settings.workers))
        report.set("workers", .integer(settings.workers))
        report.set("kernel", .string(kernelRelease()))
        report.set("sqlite_version", .string(String(cString: cb_sqlite_version())))
        report.set("load_at_start", .string(loadStart))
        report.set("load_at_start_1min", loadAverageOneMinute())
        progress("load average at start: \(loadStart); \(settings.workers) CPUs; work directory \(paths.work)")

        try measureRequestPath()
        policy()
        try audit()
        try scale()

        let loadEnd = loadAverage()
        report.set("load_at_end", .string(loadEnd))
        for server in servers { server.stop() }
        servers.removeAll()
        report.note(
            "ratios divide Coffer's figure by the baseline's from the same run; the raw baseline is the epoll echo "
                + "server (cofferd's architecture class); thread-per-connection figures are shown for reference.")
        report.note("load average at start \(loadStart), at end \(loadEnd)")
    }

    // MARK: Servers

    /// Stops every server still running (after a failure: no daemon outlives the benchmark).
    func stopAll() {
        for server in servers { server.stop(graceSeconds: 30) }
        servers.removeAll()
    }

    private func nextName(_ base: String) -> String {
        serial += 1
        return "\(base)-\(serial)"
    }

    func startCoffer(state: String, socket: String, label: String) throws -> ServerProcess {
        let tag = nextName(label)
        let server = try ServerProcess(
            name: label,
            arguments: [
                paths.cofferd, "--state-dir", state, "--socket", socket, "--admin-socket",
                paths.sockets + "/\(tag)-admin.sock", "--workers", String(settings.workers),
            ],
            socketPath: socket, notifyPath: paths.sockets + "/\(tag).notify", logPath: paths.logs + "/\(tag).log")
        servers.append(server)
        return server
    }

    func startEcho(mode: String, replyBytes: Int) throws -> ServerProcess {
        let tag = nextName("raw-\(mode)")
        let socket = paths.sockets + "/raw-\(mode).sock"
        let server = try ServerProcess(
            name: "raw \(mode)",
            arguments: [
                paths.echo, "--socket", socket, "--reply-bytes", String(replyBytes), "--mode", mode, "--workers",
                String(settings.workers),
            ],
            socketPath: socket, notifyPath: paths.sockets + "/\(tag).notify", logPath: paths.logs + "/\(tag).log")
        servers.append(server)
        return server
    }

    func stop(_ server: ServerProcess) -> Double {
        let started = now()
        let status = server.stop()
        if status != 0 { report.note("\(server.name) exited with status \(status) on SIGTERM") }
        servers.removeAll { $0 === server }
        return Double(now() - started) / 1e6
    }

    /// Creates secrets `names(first ..< first + count)` with pipelined CreateSecret requests; returns seconds.
    @discardableResult
    func seed(_ socket: String, _ names: NumberedNames, first: Int, count: Int) throws -> Double {
        guard count > 0 else { return 0 }
        let (template, offset) = try names.template { try Requests.createSecret($0) }
        let chunk = 100_000
        var elapsed: UInt64 = 0
        var done = 0
        while done < count {
            let size = min(chunk, count - done)
            let result = try Measure.pipeline(
                socket, template: template, digitsOffset: offset, width: names.width, first: first + done,
                total: size, connections: settings.seedConnections, window: settings.seedWindow, what: "seeding")
            guard result.errors == 0 else {
                throw BenchError("seeding: \(result.errors) error replies; first: \(Measure.firstError(result))")
            }
            elapsed += result.elapsed_ns
            done += size
            if count >= 200_000 {
                let rate = Double(done) / (Double(elapsed) / 1e9)
                progress("  seeded \(done)/\(count) (\(format(rate, 0))/s)")
            }
        }
        return Double(elapsed) / 1e9
    }

    private func rotated<T>(_ items: [T], _ round: Int) -> [T] {
        guard !items.isEmpty else { return items }
        let shift = round % items.count
        return Array(items[shift...] + items[..<shift])
    }

    // MARK: Request path: round trip, throughput, connect, CLI, writes

    func measureRequestPath() throws {
        let valueName = "bench/rtt-0"
        let coffer = try startCoffer(
            state: paths.work + "/main", socket: paths.sockets + "/coffer.sock", label: "cofferd")
        report.set("ready_ms_empty", coffer.readyMilliseconds)
        try seed(coffer.socketPath, NumberedNames(prefix: "bench/rtt-", width: 1), first: 0, count: 1)
        let putNames = NumberedNames(prefix: "bench/put/", width: 5)
        try seed(coffer.socketPath, putNames, first: 0, count: settings.putPool)
        let probe = try probeGet(socketPath: coffer.socketPath, name: valueName, expected: Requests.secretValue)
        guard probe.valueMatches else { throw BenchError("GetSecretValue \(valueName) returned a different value") }
        let getFrame = try Requests.getSecretValue(valueName)
        realAuditRecordBytes = AuditProbe.realRecordBytes(
            path: paths.work + "/main/audit.log", operation: "GetSecretValue")
        report.set("get_request_bytes", .integer(getFrame.count))
        report.set("get_reply_bytes", .integer(probe.replyBytes))

        let epoll = try startEcho(mode: "epoll", replyBytes: probe.replyBytes)
        let thread = try startEcho(mode: "thread", replyBytes: probe.replyBytes)
        let targets = [
            Target(name: "coffer", socket: coffer.socketPath), Target(name: "epoll", socket: epoll.socketPath),
            Target(name: "thread", socket: thread.socketPath),
        ]
        let gets = RequestSet([getFrame])
        try roundTrip(targets, gets, requestBytes: getFrame.count, replyBytes: probe.replyBytes)
        try throughput(targets, gets)
        try connectGetClose(targets, gets)
        _ = stop(epoll)
        _ = stop(thread)
        try cli(coffer.socketPath, valueName)
        try writes(coffer, putNames)
        let rss = coffer.residentMiB
        report.set("rss_main_mib", rss.current)
        _ = stop(coffer)
    }

    func roundTrip(_ targets: [Target], _ gets: RequestSet, requestBytes: Int, replyBytes: Int) throws {
        report.begin("GetSecretValue round trip, persistent connection, 1 client")
        var pooled: [String: Samples] = [:]
        for round in 0..<settings.latencyRounds {
            progress("get round trip, round \(round + 1)/\(settings.latencyRounds)")
            for target in rotated(targets, round) {
                let samples = try Measure.roundTrips(
                    target.socket, gets, warmup: settings.rttWarmup, iterations: settings.rttIterations,
                    what: "round trip to \(target.name)")
                pooled[target.name, default: Samples()].add(samples)
            }
        }
        let coffer = pooled["coffer"] ?? Samples()
        let epoll = pooled["epoll"] ?? Samples()
        let thread = pooled["thread"] ?? Samples()
        report.set("get_rtt_p50_us", coffer.p50)
        report.set("get_rtt_p99_us", coffer.p99)
        report.set("raw_epoll_rtt_p50_us", epoll.p50)
        report.set("raw_epoll_rtt_p99_us", epoll.p99)
        report.set("raw_thread_rtt_p50_us", thread.p50)
        report.set("raw_thread_rtt_p99_us", thread.p99)
        report.set("get_rtt_samples", .integer(coffer.count))
        let p50 = coffer.p50 / epoll.p50
        let p99 = coffer.p99 / epoll.p99
        report.set("get_rtt_p50_ratio", p50)
        report.set("get_rtt_p99_ratio", p99)
        report.set("get_rtt_p50_ratio_vs_thread", coffer.p50 / thread.p50)
        report.row(
            "p50 (µs)", coffer: format(coffer.p50), baseline: "epoll \(format(epoll.p50)) / thr \(format(thread.p50))",
            ratio: p50, target: "≤ 1.5×", met: Report.atMost(p50, 1.5),
            note: "\(requestBytes) B request, \(replyBytes) B reply")
        report.row(
            "p99 (µs)", coffer: format(coffer.p99), baseline: "epoll \(format(epoll.p99)) / thr \(format(thread.p99))",
            ratio: p99, target: "≤ 2×", met: Report.atMost(p99, 2))
    }

    func throughput(_ targets: [Target], _ gets: RequestSet) throws {
        report.begin("GetSecretValue throughput, closed loop, client threads in the bench process (ops/s)")
        var rates: [String: [Int: [Double]]] = [:]
        var fairness: [Int: [Double]] = [:]
        for round in 0..<settings.rounds {
            progress("get throughput, round \(round + 1)/\(settings.rounds)")
            for clients in settings.throughputClients {
                for target in rotated(targets, round + clients) {
                    let result = try Measure.throughput(
                        target.socket, gets, clients: clients,
                        warmupMilliseconds: settings.throughputWarmupMilliseconds,
                        durationMilliseconds: settings.throughputMilliseconds,
                        what: "throughput of \(target.name) with \(clients) clients")
                    rates[target.name, default: [:]][clients, default: []].append(result.ops_per_second)
                    if target.name == "coffer" { fairness[clients, default: []].append(result.min_client_share) }
                }
            }
        }
        func rate(_ name: String, _ clients: Int) -> Double { median(rates[name]?[clients] ?? []) }
        for clients in settings.throughputClients {
            let coffer = rate("coffer", clients)
            let epoll = rate("epoll", clients)
            let thread = rate("thread", clients)
            let ratio = coffer / epoll
            report.set("tput_\(clients)_ops", coffer)
            report.set("raw_epoll_tput_\(clients)_ops", epoll)
            report.set("raw_thread_tput_\(clients)_ops", thread)
            report.set("tput_\(clients)_ratio", ratio)
            report.set("tput_\(clients)_slowest_client_share", median(fairness[clients] ?? []))
            var target = ""
            var met: Bool?
            if clients == 16 {
                target = "≥ 0.5×"
                met = Report.atLeast(ratio, 0.5)
            }
            report.row(
                "\(clients) connection\(clients == 1 ? "" : "s")", coffer: format(coffer, 0),
                baseline: "epoll \(format(epoll, 0)) / thr \(format(thread, 0))", ratio: ratio, target: target,
                met: met)
        }
        if settings.throughputClients.contains(16) && settings.throughputClients.contains(64) {
            let drop = rate("coffer", 64) / rate("coffer", 16)
            report.set("tput_64_over_16", drop)
            report.row(
                "64 vs 16 connections (Coffer)", coffer: format(rate("coffer", 64), 0),
                baseline: "Coffer at 16: \(format(rate("coffer", 16), 0))", ratio: drop, target: "≥ 0.95×",
                met: Report.atLeast(drop, 0.95), note: "\"no drop at 64\", 5% noise allowance")
        }
    }

    func connectGetClose(_ targets: [Target], _ gets: RequestSet) throws {
        report.begin("connect + authorize + one GetSecretValue + close (raw: connect + SO_PEERCRED + echo + close)")
        var pooled: [String: Samples] = [:]
        for round in 0..<settings.latencyRounds {
            progress("connect-get-close, round \(round + 1)/\(settings.latencyRounds)")
            for target in rotated(targets, round) {
                let samples = try Measure.connectRoundTrips(
                    target.socket, gets, warmup: 50, iterations: settings.connectIterations,
                    what: "connect-get-close on \(target.name)")
                pooled[target.name, default: Samples()].add(samples)
            }
        }
        let coffer = pooled["coffer"] ?? Samples()
        let epoll = pooled["epoll"] ?? Samples()
        let thread = pooled["thread"] ?? Samples()
        let ratio = coffer.p50 / epoll.p50
        report.set("connect_get_close_p50_us", coffer.p50)
        report.set("connect_get_close_p99_us", coffer.p99)
        report.set("raw_epoll_connect_p50_us", epoll.p50)
        report.set("raw_thread_connect_p50_us", thread.p50)
        report.set("connect_get_close_p50_ratio", ratio)
        report.set("connect_get_close_p50_ratio_vs_thread", coffer.p50 / thread.p50)
        report.row(
            "p50 (µs)", coffer: format(coffer.p50), baseline: "epoll \(format(epoll.p50)) / thr \(format(thread.p50))",
            ratio: ratio, target: "≤ 1.5×", met: Report.atMost(ratio, 1.5))
    }

    func cli(_ socket: String, _ name: String) throws {
        report.begin("`coffer get NAME` as a whole process (spawn to exit)")
        let environment = ["COFFER_SOCKET=" + socket]
        var pending: String?
        if access(paths.cli, X_OK) != 0 {
            pending = "\(paths.cli) is not built"
        } else {
            let (status, output) = try Measure.capture([paths.cli, "get", name], environment: environment)
            if status != 0 || (output != Requests.secretValue && output != Requests.secretValue + "\n") {
                let shown = output.prefix(40).replacingOccurrences(of: "\n", with: "\\n")
                pending = "`coffer get` does not print the value yet (exit \(status), printed \"\(shown)\")"
            }
        }
        if let pending {
            report.set("cli_get_ratio", .null)
            report.set("cli_get_status", .string("pending: " + pending))
            report.row(
                "p50 (ms)", coffer: "pending", baseline: "", ratio: .nan, target: "≤ 4×", met: nil, note: pending)
            return
        }
        var coffer = Samples()
        var baseline = Samples()
        for round in 0..<settings.latencyRounds {
            progress("coffer get vs /bin/true, round \(round + 1)/\(settings.latencyRounds)")
            for which in rotated([true, false], round) {
                let samples = try Measure.spawnLoop(
                    which ? [paths.cli, "get", name] : ["/bin/true"], environment: environment,
                    warmup: settings.cliWarmup, iterations: settings.cliIterations,
                    what: which ? "coffer get" : "/bin/true")
                if which { coffer.add(samples) } else { baseline.add(samples) }
            }
        }
        let ratio = coffer.p50 / baseline.p50
        report.set("cli_get_p50_us", coffer.p50)
        report.set("bin_true_p50_us", baseline.p50)
        report.set("cli_get_ratio", ratio)
        report.set("cli_get_status", .string("measured"))
        report.row(
            "p50 (ms)", coffer: format(coffer.p50 / 1_000, 2), baseline: "/bin/true \(format(baseline.p50 / 1_000, 2))",
            ratio: ratio, target: "≤ 4×", met: Report.atMost(ratio, 4))
    }

    func writes(_ coffer: ServerProcess, _ names: NumberedNames) throws {
        report.begin(
            "PutSecretValue vs one fsync'd SQLite insert per transaction (WAL, synchronous=FULL), alternating one by one"
        )
        let (template, offset) = try names.template { try Requests.putSecretValue($0) }
        let puts = RequestSet(
            template: template, digitsOffset: offset, width: names.width, numbers: Array(0..<settings.putPool))
        let rawPath = paths.work + "/main/raw-baseline.db"
        // Interleaved operation by operation, so no slices are needed: one prepared baseline database for all.
        progress("put vs raw SQLite insert, alternating one by one")
        let pairs = try Measure.writePairs(
            coffer.socketPath, puts, databasePath: rawPath, blobBytes: 160, warmup: settings.putWarmup,
            iterations: settings.putIterations * settings.latencyRounds)
        let coffers = Samples(pairs.requests)
        let raws = Samples(pairs.inserts)
        let ratio = coffers.p50 / raws.p50
        report.set("put_p50_us", coffers.p50)
        report.set("put_p99_us", coffers.p99)
        report.set("raw_sqlite_insert_p50_us", raws.p50)
        report.set("raw_sqlite_insert_p99_us", raws.p99)
        report.set("put_p50_ratio", ratio)
        report.row(
            "p50 (µs)", coffer: format(coffers.p50), baseline: "SQLite insert \(format(raws.p50))", ratio: ratio,
            target: "≤ 1.1×", met: Report.atMost(ratio, 1.1))

        var rates: [Int: [Double]] = [:]
        for round in 0..<settings.rounds {
            progress("put throughput 1 vs 16 writers, round \(round + 1)/\(settings.rounds)")
            for writers in rotated([1, 16], round) {
                let result = try Measure.throughput(
                    coffer.socketPath, puts, clients: writers,
                    warmupMilliseconds: settings.throughputWarmupMilliseconds,
                    durationMilliseconds: settings.putThroughputMilliseconds, what: "put throughput, \(writers) writers"
                )
                rates[writers, default: []].append(result.ops_per_second)
            }
        }
        let one = median(rates[1] ?? [])
        let sixteen = median(rates[16] ?? [])
        report.set("put_tput_1_ops", one)
        report.set("put_tput_16_ops", sixteen)
        report.set("put_tput_16_over_1", sixteen / one)
        report.row(
            "16 writers vs 1 (ops/s)", coffer: format(sixteen, 0), baseline: "1 writer \(format(one, 0))",
            ratio: sixteen / one, target: "≥ 8×", met: Report.atLeast(sixteen / one, 8), note: "group commit")
    }

    // MARK: Policy and audit

    func policy() {
        report.begin("policy decision, 1,000 attached statements (CofferPolicy.PolicyBenchmark, in process)")
        var means: [Double] = []
        for round in 0..<settings.policyRounds {
            progress("policy, round \(round + 1)/\(settings.policyRounds)")
            means.append(PolicyBenchmark.run1000(iterations: settings.policyIterations))
        }
        let value = median(means)
        report.set("policy_eval_1000_us", value)
        report.row(
            "mean decision (µs)", coffer: format(value, 2), baseline: "(absolute target)", ratio: .nan,
            target: "≤ 10 µs", met: Report.atMost(value, 10))
    }

    /// The audit record's cost per request (see ``AuditProbe``): appending one GetSecretValue-shaped record to the
    /// product's hash-chained audit log, in process, next to the size of a real record from the daemon's log.
    func audit() throws {
        report.begin("audit record per request (CofferVault.AuditLog, in process)")
        let result = try AuditProbe.measure(
            directory: paths.work, iterations: settings.quick ? 2_000 : 20_000, batch: 16)
        report.set("audit_per_request_us", result.perRecordMicroseconds)
        report.set("audit_per_request_batched_us", result.batchedPerRecordMicroseconds)
        report.set("audit_probe_record_bytes", .integer(result.recordBytes))
        report.set("audit_real_get_record_bytes", .integer(realAuditRecordBytes))
        report.set("audit_status", .string("measured in process"))
        let share = result.perRecordMicroseconds / (report.number("get_rtt_p50_us") ?? .nan)
        report.row(
            "build + chain + write(2) one record (µs)", coffer: format(result.perRecordMicroseconds, 2),
            baseline: "get p50 \(format(report.number("get_rtt_p50_us") ?? .nan))", ratio: share, target: "",
            met: nil,
            note: "\(format(result.batchedPerRecordMicroseconds, 2)) µs/record in batches of 16; probe record "
                + "\(result.recordBytes) B, daemon's GetSecretValue record \(realAuditRecordBytes) B")
    }

    // MARK: Scale

    func scale() throws {
        let small = settings.scaleSmall
        let large = settings.scaleLarge
        let smallLabel = Settings.countLabel(small)
        let largeLabel = Settings.countLabel(large)
        report.begin("scale: \(smallLabel) vs \(largeLabel) secrets (two daemons, alternating rounds)")
        report.set("scale_small_secrets", .integer(small))
        report.set("scale_large_secrets", .integer(large))
        let names = NumberedNames(prefix: "scale/s", width: 7)

        progress("seeding \(smallLabel) secrets")
        var smallServer = try startCoffer(
            state: paths.work + "/scale-small", socket: paths.sockets + "/scale-small.sock", label: "cofferd-small")
        try seed(smallServer.socketPath, names, first: 0, count: small)
        _ = stop(smallServer)
        smallServer = try startCoffer(
            state: paths.work + "/scale-small", socket: paths.sockets + "/scale-small.sock", label: "cofferd-small")

        progress("seeding \(largeLabel) secrets (CreateSecret pipelined on \(settings.seedConnections) connections)")
        var largeServer = try startCoffer(
            state: paths.work + "/scale-large", socket: paths.sockets + "/scale-large.sock", label: "cofferd-large")
        let seconds = try seed(largeServer.socketPath, names, first: 0, count: large)
        let seedRSS = largeServer.residentMiB
        let stopMs = stop(largeServer)
        report.set("seed_seconds", seconds)
        report.set("seed_rate_per_s", Double(large) / seconds)
        report.set("rss_seeding_peak_mib", seedRSS.peak)
        report.set("stop_ms_after_seed", stopMs)
        progress("restarting the \(largeLabel) daemon: start to READY")
        largeServer = try startCoffer(
            state: paths.work + "/scale-large", socket: paths.sockets + "/scale-large.sock", label: "cofferd-large")
        report.set("rss_peak_at_ready_1m_mib", largeServer.residentMiB.peak)

        var random = SeededRandom(seed: 42)
        let (template, offset) = try names.template { try Requests.getSecretValue($0) }
        func sample(_ count: Int) -> RequestSet {
            RequestSet(
                template: template, digitsOffset: offset, width: names.width,
                numbers: (0..<settings.scaleSample).map { _ in random.below(count) })
        }
        let sets = [small: sample(small), large: sample(large)]
        let hot = [
            small: RequestSet(template: template, digitsOffset: offset, width: names.width, numbers: [small / 2]),
            large: RequestSet(template: template, digitsOffset: offset, width: names.width, numbers: [large / 2]),
        ]
        let daemons = [small: smallServer, large: largeServer]
        // Warm-up: read each sampled secret once. The first read of a secret on a day records its access date (one
        // background write, AWS's day granularity); that is done before measuring, then the writer settles.
        for count in [small, large] {
            guard let daemon = daemons[count], let set = sets[count], let one = hot[count] else { continue }
            _ = try Measure.roundTrips(daemon.socketPath, set, warmup: set.count, iterations: 1, what: "scale warm-up")
            _ = try Measure.roundTrips(daemon.socketPath, one, warmup: 100, iterations: 1, what: "scale warm-up")
        }
        pause(milliseconds: 500)
        var randomSamples: [Int: Samples] = [:]
        var hotSamples: [Int: Samples] = [:]
        for round in 0..<settings.latencyRounds {
            progress("scale gets, round \(round + 1)/\(settings.latencyRounds)")
            for count in rotated([small, large], round) {
                guard let daemon = daemons[count], let set = sets[count], let one = hot[count] else { continue }
                randomSamples[count, default: Samples()].add(
                    try Measure.roundTrips(
                        daemon.socketPath, set, warmup: 200, iterations: settings.scaleIterations,
                        what: "get at \(count)"))
                hotSamples[count, default: Samples()].add(
                    try Measure.roundTrips(
                        daemon.socketPath, one, warmup: 200, iterations: settings.scaleIterations / 2,
                        what: "hot get at \(count)"))
            }
        }
        let smallRandom = randomSamples[small] ?? Samples()
        let largeRandom = randomSamples[large] ?? Samples()
        let smallHot = hotSamples[small] ?? Samples()
        let largeHot = hotSamples[large] ?? Samples()
        let ratio = largeRandom.p50 / smallRandom.p50
        let hotRatio = largeHot.p50 / smallHot.p50
        let rss = largeServer.residentMiB
        let smallRSS = smallServer.residentMiB
        report.set("get_p50_1k_us", smallRandom.p50)
        report.set("get_p50_1m_us", largeRandom.p50)
        report.set("get_p99_1k_us", smallRandom.p99)
        report.set("get_p99_1m_us", largeRandom.p99)
        report.set("get_p50_1m_over_1k", ratio)
        report.set("get_hot_p50_1k_us", smallHot.p50)
        report.set("get_hot_p50_1m_us", largeHot.p50)
        report.set("get_hot_p50_1m_over_1k", hotRatio)
        report.set("rss_1m_mib", rss.current)
        report.set("rss_1m_peak_mib", rss.peak)
        report.set("rss_1k_mib", smallRSS.current)
        report.set("ready_ms_1m", largeServer.readyMilliseconds)
        report.set("hello_ms_1m", largeServer.helloMilliseconds)
        report.set("ready_ms_1k", smallServer.readyMilliseconds)
        report.set("hello_ms_1k", smallServer.helloMilliseconds)

        report.row(
            "get p50, \(settings.scaleSample) random secrets (µs)", coffer: "\(largeLabel): \(format(largeRandom.p50))",
            baseline: "\(smallLabel): \(format(smallRandom.p50))", ratio: ratio, target: "≤ 1.3×",
            met: Report.atMost(ratio, 1.3))
        report.row(
            "get p50, one secret (µs)", coffer: "\(largeLabel): \(format(largeHot.p50))",
            baseline: "\(smallLabel): \(format(smallHot.p50))", ratio: hotRatio, target: "", met: nil,
            note: "index depth alone, no cache misses")
        report.row(
            "daemon RSS after the gets (MiB)", coffer: "\(largeLabel): \(format(rss.current))",
            baseline: "\(smallLabel): \(format(smallRSS.current))", ratio: .nan, target: "≤ 64 MiB",
            met: Report.atMost(rss.current, 64), note: "VmRSS; peak \(format(rss.peak))")
        report.row(
            "start to READY=1 (ms)", coffer: "\(largeLabel): \(format(largeServer.readyMilliseconds))",
            baseline: "\(smallLabel): \(format(smallServer.readyMilliseconds))", ratio: .nan, target: "≤ 200 ms",
            met: Report.atMost(largeServer.readyMilliseconds, 200),
            note: "first Hello answered at \(format(largeServer.helloMilliseconds)) ms")
        report.row(
            "seeding rate (CreateSecret/s)", coffer: format(Double(large) / seconds, 0),
            baseline: "\(format(seconds, 1)) s for \(largeLabel)", ratio: .nan, target: "", met: nil,
            note: "\(settings.seedConnections) connections × \(settings.seedWindow) in flight; peak RSS while seeding "
                + "\(format(seedRSS.peak)) MiB")
        _ = stop(smallServer)
        _ = stop(largeServer)
        try readinessWithoutAuditHistory(state: paths.work + "/scale-large", label: largeLabel)
    }

    /// Diagnostic for READY: start the large vault once more with its audit log moved aside (the daemon starts a
    /// new chain), which separates what start-up spends on the database from what it spends on the audit history.
    func readinessWithoutAuditHistory(state: String, label: String) throws {
        let log = state + "/audit.log"
        var info = stat()
        let bytes = stat(log, &info) == 0 ? Int(info.st_size) : 0
        report.set("audit_log_bytes_1m", .integer(bytes))
        guard bytes > 0, rename(log, log + ".moved") == 0 else { return }
        progress("restarting the \(label) daemon with its audit log moved aside")
        let server = try startCoffer(
            state: state, socket: paths.sockets + "/scale-large.sock", label: "cofferd-large-no-audit-history")
        let rss = server.residentMiB
        report.set("ready_ms_1m_without_audit_history", server.readyMilliseconds)
        report.set("rss_peak_at_ready_1m_without_audit_history_mib", rss.peak)
        report.row(
            "start to READY, audit log moved aside (ms)", coffer: "\(label): \(format(server.readyMilliseconds))",
            baseline: "audit log was \(format(Double(bytes) / 1_048_576)) MiB", ratio: .nan, target: "", met: nil,
            note: "diagnostic: start-up time owed to the audit history")
        _ = stop(server)
    }

    // MARK: Output

    func progress(_ message: String) {
        var line = "· " + message + "\n"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}

extension Substring {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        var out = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            out += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return out + rest
    }
}
