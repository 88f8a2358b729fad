import Glibc

/// How much to measure. `full` is `make bench`; `quick` is `make bench-quick` (a smoke run, well under a minute).
struct Settings {
    var quick = false
    /// Measurements alternate between Coffer and its baselines this many times (the order rotates every round),
    /// so that drift of this noisy machine hits both sides alike; samples are pooled across rounds.
    var rounds = 3
    /// Latency measurements (round trips, connect, CLI, put, scale gets) alternate in more, shorter slices: each
    /// slice pair is measured within a second or two, so that a burst of other work on the machine lands on both
    /// sides of a ratio rather than on one.
    var latencyRounds = 10
    var workers = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))

    var rttWarmup = 500
    var rttIterations = 5_000
    var throughputClients = [1, 4, 16, 64]
    var throughputWarmupMilliseconds = 300
    var throughputMilliseconds = 1_500
    var connectIterations = 1_000
    var cliWarmup = 5
    var cliIterations = 60
    var putWarmup = 20
    var putIterations = 150
    var putThroughputMilliseconds = 2_000
    /// Secrets the put measurements spread their versions over (each secret keeps far fewer than the 100 versions
    /// after which pruning starts; a multiple of 16 so that concurrent writers never share a secret).
    var putPool = 4_096
    var scaleSmall = 1_000
    var scaleLarge = 1_000_000
    /// Distinct random secrets a scale measurement reads (the same sample across rounds).
    var scaleSample = 4_096
    var scaleIterations = 3_000
    var seedConnections = 4
    var seedWindow = 64
    var policyRounds = 5
    var policyIterations = 20_000

    static var quickSettings: Settings {
        var settings = Settings()
        settings.quick = true
        settings.rounds = 1
        settings.latencyRounds = 1
        settings.rttWarmup = 200
        settings.rttIterations = 2_000
        settings.throughputWarmupMilliseconds = 100
        settings.throughputMilliseconds = 300
        settings.connectIterations = 300
        settings.cliWarmup = 2
        settings.cliIterations = 20
        settings.putWarmup = 5
        settings.putIterations = 40
        settings.putThroughputMilliseconds = 400
        settings.putPool = 512
        settings.scaleLarge = 10_000
        settings.scaleSample = 1_024
        settings.scaleIterations = 2_000
        settings.policyRounds = 3
        settings.policyIterations = 2_000
        return settings
    }

    /// "1M", "10k", "1000".
    static func countLabel(_ n: Int) -> String {
        if n >= 1_000_000 && n % 1_000_000 == 0 { return "\(n / 1_000_000)M" }
        if n >= 1_000 && n % 1_000 == 0 { return "\(n / 1_000)k" }
        return String(n)
    }
}

/// Where things are.
struct Paths {
    /// Built executables: cofferd, coffer, coffer-bench-echo.
    var binaries: String
    /// Vault state, raw SQLite baseline, logs and sockets of this run.
    var work: String
    var json: String
    var commit: String

    var sockets: String { work + "/run" }
    var logs: String { work + "/logs" }
    var cofferd: String { binaries + "/cofferd" }
    var cli: String { binaries + "/coffer" }
    var echo: String { binaries + "/coffer-bench-echo" }

    /// The directory of the running executable (`/proc/self/exe`).
    static func executableDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: 4_096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return "." }
        let path = String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return String(path[..<slash])
    }
}
