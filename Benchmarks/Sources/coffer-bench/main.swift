// coffer-bench: Coffer measured as ratios against raw baselines measured in the same run (docs/PERFORMANCE.md).
//
//   coffer-bench [run] [--quick] [--rounds N] [--work-dir DIR] [--keep-work] [--bin-dir DIR] [--json PATH]
//                [--commit ID] [--wait-quiet SECONDS]
//   coffer-bench load --socket PATH --op get|put|connect-get|hello --count N [--setup no]   (for profiling)
//   coffer-bench policy [--iterations N]
//   coffer-bench sqlite [--dir DIR] [--iterations N]   (the raw fsync'd insert baseline alone)
import CofferPolicy
import Glibc

func fail(_ message: String) -> Never {
    var line = "coffer-bench: " + message + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(1)
}

func say(_ text: String) {
    var copy = text
    copy.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
}

/// `--name value` pairs and bare flags after the command.
struct Arguments {
    var values: [String: String] = [:]
    var flags: Set<String> = []

    init(_ list: ArraySlice<String>, flags known: Set<String>) {
        var iterator = list.makeIterator()
        while let argument = iterator.next() {
            guard argument.hasPrefix("--") else { fail("unexpected argument \(argument)") }
            let name = String(argument.dropFirst(2))
            if known.contains(name) {
                flags.insert(name)
            } else if let value = iterator.next() {
                values[name] = value
            } else {
                fail("\(argument) needs a value")
            }
        }
    }

    func integer(_ name: String) -> Int? {
        guard let text = values[name] else { return nil }
        guard let value = Int(text), value > 0 else { fail("--\(name) must be a positive integer") }
        return value
    }
}

func runSuite(_ arguments: Arguments) {
    var settings = arguments.flags.contains("quick") ? Settings.quickSettings : Settings()
    if let rounds = arguments.integer("rounds") { settings.rounds = rounds }
    let binaries = arguments.values["bin-dir"] ?? Paths.executableDirectory()
    var work = arguments.values["work-dir"] ?? ""
    if work.isEmpty {
        var template = Array("/var/tmp/coffer-bench.XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let base = buffer.baseAddress, let result = mkdtemp(base) else { return nil }
            return String(cString: result)
        }
        guard let made else { fail("mkdtemp: \(String(cString: strerror(errno)))") }
        work = made
    }
    let paths = Paths(
        binaries: binaries, work: work, json: arguments.values["json"] ?? "Benchmarks/results/latest.json",
        commit: arguments.values["commit"] ?? "unknown")
    for binary in [paths.cofferd, paths.echo] where access(binary, X_OK) != 0 {
        fail("\(binary) is missing: build with `swift build -c release` (make bench does)")
    }
    if let seconds = arguments.integer("wait-quiet") {
        // The reference run should start on a quiet machine: wait (bounded) for the 1-minute load to settle.
        var waited = 0
        while loadAverageOneMinute() > 0.5 && waited < seconds {
            if waited % 30 == 0 { say("waiting for a quiet machine: load \(loadAverage())\n") }
            pause(milliseconds: 5_000)
            waited += 5
        }
    }
    let suite = Suite(settings: settings, paths: paths)
    do {
        try suite.run()
    } catch {
        suite.stopAll()
        fail("\(error) (work directory kept: \(work))")
    }
    let title =
        "Coffer benchmark \(utcTimestamp()) — commit \(paths.commit), \(settings.quick ? "quick" : "full") mode, "
        + "\(settings.rounds) throughput rounds / \(settings.latencyRounds) latency slices, \(settings.workers) CPUs, kernel "
        + kernelRelease()
    say(suite.report.table(header: [title]))
    do {
        if let slash = paths.json.lastIndex(of: "/") { try makeDirectories(String(paths.json[..<slash])) }
        try writeTextFile(paths.json, suite.report.json())
        say("\nwrote \(paths.json)\n")
    } catch {
        fail("\(error)")
    }
    if arguments.flags.contains("keep-work") {
        say("work directory kept: \(work)\n")
    } else {
        removeTree(work)
    }
}

/// A fixed request count against a running daemon, for callgrind/perf (Benchmarks/profile.sh).
func runLoad(_ arguments: Arguments) {
    guard let socket = arguments.values["socket"] else { fail("load needs --socket PATH") }
    let operation = arguments.values["op"] ?? "get"
    let count = arguments.integer("count") ?? 10_000
    do {
        let names = NumberedNames(prefix: "bench/profile-", width: 3)
        let (template, offset) = try names.template { try Requests.createSecret($0) }
        // Create the secrets once; on a second run they exist already (ResourceExistsException is expected).
        // `--setup no` skips this, so that an instrumented run counts only the requests themselves.
        if arguments.values["setup"] != "no" {
            _ = try Measure.pipeline(
                socket, template: template, digitsOffset: offset, width: names.width, first: 0, total: 64,
                connections: 1, window: 64, what: "setup")
        }
        let requests: RequestSet
        switch operation {
        case "get", "connect-get": requests = RequestSet([try Requests.getSecretValue(names.name(0))])
        case "put":
            let (put, putOffset) = try names.template { try Requests.putSecretValue($0) }
            requests = RequestSet(template: put, digitsOffset: putOffset, width: names.width, numbers: Array(0..<64))
        case "hello": requests = RequestSet([try Requests.hello()])
        default: fail("--op must be get, put, connect-get or hello")
        }
        let started = now()
        let samples =
            operation == "connect-get"
            ? try Measure.connectRoundTrips(socket, requests, warmup: 0, iterations: count, what: operation)
            : try Measure.roundTrips(socket, requests, warmup: 0, iterations: count, what: operation)
        let elapsed = Double(now() - started) / 1e3
        let stats = Samples(samples)
        say(
            "\(count) \(operation) requests: \(format(elapsed / Double(count))) µs each (wall), p50 \(format(stats.p50)) "
                + "µs, p99 \(format(stats.p99)) µs, p99.9 \(format(stats.percentileMicroseconds(99.9))) µs, max "
                + "\(format(stats.percentileMicroseconds(100))) µs\n")
    } catch {
        fail("\(error)")
    }
}

let argv = CommandLine.arguments
let command = argv.count > 1 && !argv[1].hasPrefix("--") ? argv[1] : "run"
let rest = argv.dropFirst(command == "run" && (argv.count < 2 || argv[1].hasPrefix("--")) ? 1 : 2)
switch command {
case "run":
    runSuite(Arguments(rest, flags: ["quick", "keep-work"]))
case "load":
    runLoad(Arguments(rest, flags: []))
case "sqlite":
    // The raw durable-write baseline alone (diagnostics: compare with `strace -f -c`, try other directories).
    let arguments = Arguments(rest, flags: [])
    let directory = arguments.values["dir"] ?? "."
    let iterations = arguments.integer("iterations") ?? 200
    do {
        let samples = Samples(
            try Measure.sqliteInserts(
                path: directory + "/raw-baseline.db", blobBytes: 160, warmup: 20, iterations: iterations))
        say("raw SQLite insert (WAL, synchronous=FULL): p50 \(format(samples.p50)) µs, p99 \(format(samples.p99)) µs\n")
    } catch {
        fail("\(error)")
    }
case "policy":
    let arguments = Arguments(rest, flags: [])
    let iterations = arguments.integer("iterations") ?? 100_000
    say("policy decision, 1,005 statements: \(format(PolicyBenchmark.run1000(iterations: iterations), 3)) µs\n")
default:
    fail("unknown command \(command); use run, load, policy or sqlite")
}
