import CofferCore
import CofferProtocol
import Synchronization

/// Request counters and latency histograms, exported in Prometheus text format by the admin socket.
public final class ServerMetrics: Sendable {
    public let acceptedConnections = Atomic<Int>(0)
    public let closedConnections = Atomic<Int>(0)
    public let rejectedConnections = Atomic<Int>(0)
    public let malformedFrames = Atomic<Int>(0)
    public let deadlineCloses = Atomic<Int>(0)
    public let auditFailures = Atomic<Int>(0)
    public let bytesIn = Atomic<Int>(0)
    public let bytesOut = Atomic<Int>(0)

    /// Upper bounds of the latency buckets, in seconds (Prometheus `le`), from 25 µs to 1 s.
    public static let bucketBounds: [Double] = [
        0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
    ]

    struct OperationStats {
        var results: [String: Int] = [:]
        var buckets = [Int](repeating: 0, count: ServerMetrics.bucketBounds.count + 1)
        var count = 0
        var sumSeconds = 0.0
    }
    private let operations = Mutex([Operation: OperationStats]())

    public init() {}

    func record(_ operation: Operation, _ result: Result<Document, ServiceError>, nanoseconds: UInt64) {
        let seconds = Double(nanoseconds) / 1e9
        let outcome: String
        switch result {
        case .success: outcome = "ok"
        case .failure(let error): outcome = error.code.rawValue
        }
        let bucket = ServerMetrics.bucketBounds.firstIndex(where: { seconds <= $0 }) ?? ServerMetrics.bucketBounds.count
        operations.withLock { table in
            table[operation, default: OperationStats()].results[outcome, default: 0] += 1
            table[operation, default: OperationStats()].buckets[bucket] += 1
            table[operation, default: OperationStats()].count += 1
            table[operation, default: OperationStats()].sumSeconds += seconds
        }
    }

    /// Requests answered so far, all operations and results.
    public var requestCount: Int { operations.withLock { $0.values.reduce(0) { $0 + $1.count } } }

    /// Prometheus text exposition (version 0.0.4) of everything above.
    public func prometheusText(extra: [(name: String, help: String, value: Double)] = []) -> String {
        var out = ""
        func gauge(_ name: String, _ help: String, _ type: String, _ value: Double) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(format(value))\n"
        }
        gauge(
            "coffer_connections_accepted_total", "Connections accepted.", "counter",
            Double(acceptedConnections.load(ordering: .relaxed)))
        gauge(
            "coffer_connections_closed_total", "Connections closed.", "counter",
            Double(closedConnections.load(ordering: .relaxed)))
        gauge(
            "coffer_connections_rejected_total", "Connections refused by the connection caps.", "counter",
            Double(rejectedConnections.load(ordering: .relaxed)))
        gauge(
            "coffer_connections_open", "Connections open now.", "gauge",
            Double(acceptedConnections.load(ordering: .relaxed) - closedConnections.load(ordering: .relaxed)))
        gauge(
            "coffer_malformed_frames_total", "Frames answered with a protocol error.", "counter",
            Double(malformedFrames.load(ordering: .relaxed)))
        gauge(
            "coffer_frame_deadline_closes_total", "Connections closed for a frame that arrived too slowly.",
            "counter", Double(deadlineCloses.load(ordering: .relaxed)))
        gauge(
            "coffer_audit_write_failures_total", "Audit batches that could not be written (their replies refused).",
            "counter", Double(auditFailures.load(ordering: .relaxed)))
        for item in extra { gauge(item.name, item.help, "gauge", item.value) }
        let snapshot = operations.withLock { $0 }
        out += "# HELP coffer_requests_total Requests answered, by operation and result.\n"
        out += "# TYPE coffer_requests_total counter\n"
        for (op, stats) in snapshot.sorted(by: { $0.key.name < $1.key.name }) {
            for (result, count) in stats.results.sorted(by: { $0.key < $1.key }) {
                out += "coffer_requests_total{operation=\"\(op.name)\",result=\"\(result)\"} \(count)\n"
            }
        }
        out += "# HELP coffer_request_duration_seconds Time from decoded request to encoded reply.\n"
        out += "# TYPE coffer_request_duration_seconds histogram\n"
        for (op, stats) in snapshot.sorted(by: { $0.key.name < $1.key.name }) {
            var cumulative = 0
            for (i, bound) in ServerMetrics.bucketBounds.enumerated() {
                cumulative += stats.buckets[i]
                out +=
                    "coffer_request_duration_seconds_bucket{operation=\"\(op.name)\",le=\"\(format(bound))\"} \(cumulative)\n"
            }
            out += "coffer_request_duration_seconds_bucket{operation=\"\(op.name)\",le=\"+Inf\"} \(stats.count)\n"
            out += "coffer_request_duration_seconds_sum{operation=\"\(op.name)\"} \(format(stats.sumSeconds))\n"
            out += "coffer_request_duration_seconds_count{operation=\"\(op.name)\"} \(stats.count)\n"
        }
        return out
    }

    private func format(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
