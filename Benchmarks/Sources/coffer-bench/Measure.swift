import CCofferBench

/// Swift faces of the C measuring loops (Benchmarks/Sources/CCofferBench).
enum Measure {
    /// Sequential round trips on one persistent connection. Error replies are a benchmark failure unless allowed.
    static func roundTrips(
        _ path: String, _ requests: RequestSet, warmup: Int, iterations: Int, what: String
    ) throws -> [UInt64] {
        var samples = [UInt64](repeating: 0, count: iterations)
        var counts = cb_counts()
        let rc = requests.withView { view in
            samples.withUnsafeMutableBufferPointer { cb_rtt(path, view, warmup, iterations, $0.baseAddress, &counts) }
        }
        try BenchError.check(rc, what)
        guard counts.errors == 0 else { throw BenchError("\(what): \(counts.errors) error replies") }
        return samples
    }

    /// Connect, one request, close, per iteration.
    static func connectRoundTrips(
        _ path: String, _ requests: RequestSet, warmup: Int, iterations: Int, what: String
    ) throws -> [UInt64] {
        var samples = [UInt64](repeating: 0, count: iterations)
        var counts = cb_counts()
        let rc = requests.withView { view in
            samples.withUnsafeMutableBufferPointer {
                cb_connect_rtt(path, view, warmup, iterations, $0.baseAddress, &counts)
            }
        }
        try BenchError.check(rc, what)
        guard counts.errors == 0 else { throw BenchError("\(what): \(counts.errors) error replies") }
        return samples
    }

    /// Closed-loop throughput with `clients` connections.
    static func throughput(
        _ path: String, _ requests: RequestSet, clients: Int, warmupMilliseconds: Int, durationMilliseconds: Int,
        what: String
    ) throws -> cb_throughput_result {
        var result = cb_throughput_result()
        let rc = requests.withView { view in
            cb_throughput(path, view, Int32(clients), Int32(warmupMilliseconds), Int32(durationMilliseconds), &result)
        }
        try BenchError.check(rc, what)
        guard result.errors == 0 else { throw BenchError("\(what): \(result.errors) error replies") }
        return result
    }

    /// Pipelined requests from a template (seeding). Error replies are returned, not thrown.
    static func pipeline(
        _ path: String, template: [UInt8], digitsOffset: Int, width: Int, first: Int, total: Int, connections: Int,
        window: Int, what: String
    ) throws -> cb_pipeline_result {
        var result = cb_pipeline_result()
        let rc = template.withUnsafeBufferPointer { frame in
            cb_pipeline(
                path, frame.baseAddress, frame.count, digitsOffset, width, UInt64(first), UInt64(total),
                Int32(connections), Int32(window), &result)
        }
        try BenchError.check(rc, what)
        return result
    }

    /// The first error reply's body of a pipeline, decoded for the message.
    static func firstError(_ result: cb_pipeline_result) -> String {
        var copy = result
        let bytes = withUnsafeBytes(of: &copy.first_error) { Array($0.prefix(Int(result.first_error_length))) }
        return String(decoding: bytes.map { $0 >= 0x20 && $0 < 0x7F ? $0 : UInt8(ascii: " ") }, as: UTF8.self)
    }

    /// Spawn-to-exit times of a whole process.
    static func spawnLoop(
        _ arguments: [String], environment: [String], warmup: Int, iterations: Int, what: String
    ) throws -> [UInt64] {
        var samples = [UInt64](repeating: 0, count: iterations)
        var failures: UInt64 = 0
        let rc = try withCStrings(arguments) { argv in
            try withCStrings(environment) { env in
                samples.withUnsafeMutableBufferPointer {
                    cb_spawn_loop(argv, env, warmup, iterations, $0.baseAddress, &failures)
                }
            }
        }
        try BenchError.check(rc, what)
        guard failures == 0 else { throw BenchError("\(what): \(failures) runs failed") }
        return samples
    }

    /// Runs a process once and returns (exit status, stdout).
    static func capture(_ arguments: [String], environment: [String]) throws -> (Int32, String) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var length = 0
        let status = try withCStrings(arguments) { argv in
            try withCStrings(environment) { env in
                buffer.withUnsafeMutableBufferPointer { cb_run_capture(argv, env, $0.baseAddress, $0.count, &length) }
            }
        }
        return (status, String(decoding: buffer.prefix(length), as: UTF8.self))
    }

    /// PutSecretValue round trips and raw fsync'd SQLite inserts, alternating one by one (see `cb_write_pairs`).
    static func writePairs(
        _ path: String, _ requests: RequestSet, databasePath: String, blobBytes: Int, warmup: Int, iterations: Int
    ) throws -> (requests: [UInt64], inserts: [UInt64]) {
        guard let baseline = cb_sqlite_open(databasePath, blobBytes) else {
            throw BenchError("raw SQLite baseline at \(databasePath) could not be prepared")
        }
        defer { cb_sqlite_close(baseline) }
        var puts = [UInt64](repeating: 0, count: iterations)
        var inserts = [UInt64](repeating: 0, count: iterations)
        var counts = cb_counts()
        let rc = requests.withView { view in
            puts.withUnsafeMutableBufferPointer { putBuffer in
                inserts.withUnsafeMutableBufferPointer { insertBuffer in
                    cb_write_pairs(
                        path, view, baseline, warmup, iterations, putBuffer.baseAddress, insertBuffer.baseAddress,
                        &counts)
                }
            }
        }
        try BenchError.check(rc, "PutSecretValue / SQLite insert pairs")
        guard counts.errors == 0 else { throw BenchError("PutSecretValue: \(counts.errors) error replies") }
        return (puts, inserts)
    }

    /// Raw fsync'd SQLite inserts (one row per transaction).
    static func sqliteInserts(path: String, blobBytes: Int, warmup: Int, iterations: Int) throws -> [UInt64] {
        var samples = [UInt64](repeating: 0, count: iterations)
        let rc = samples.withUnsafeMutableBufferPointer {
            cb_sqlite_insert(path, blobBytes, warmup, iterations, $0.baseAddress)
        }
        try BenchError.check(rc, "raw SQLite insert at \(path)")
        return samples
    }
}
