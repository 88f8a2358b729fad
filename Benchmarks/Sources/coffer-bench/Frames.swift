import CCofferBench
import CofferProtocol

/// Request frames encoded once, up front, with the product's own codec (docs/PROTOCOL.md), so that the measured
/// loops only move bytes.
enum Requests {
    /// The value every benchmark secret holds: 32 bytes, the size of a typical API token or database password.
    static let secretValue = "bench-value-0123456789abcdefghij"

    static func frame(_ operation: Operation, id: UInt32, _ document: Document) throws -> [UInt8] {
        try WireCodec.encodeFrame(
            header: FrameHeader(kind: .request, operation: operation, requestID: id), document: document)
    }

    static func getSecretValue(_ name: String, id: UInt32 = 1) throws -> [UInt8] {
        try frame(.getSecretValue, id: id, ["SecretId": .string(name)])
    }

    static func createSecret(_ name: String, id: UInt32 = 1) throws -> [UInt8] {
        try frame(.createSecret, id: id, ["Name": .string(name), "SecretString": .string(secretValue)])
    }

    /// A new version with a fresh ClientRequestToken chosen by the daemon (the SDK default when none is given).
    static func putSecretValue(_ name: String, id: UInt32 = 1) throws -> [UInt8] {
        try frame(.putSecretValue, id: id, ["SecretId": .string(name), "SecretString": .string(secretValue)])
    }

    static func hello(id: UInt32 = 1) throws -> [UInt8] {
        try frame(.hello, id: id, Hello.request(client: "coffer-bench/1"))
    }
}

/// Names of numbered secrets (`scale/s0000042`): a fixed-width decimal field, so that one encoded frame is a
/// template whose digits the C pipeline patches in place.
struct NumberedNames: Sendable {
    let prefix: String
    let width: Int

    func name(_ n: Int) -> String {
        var digits = String(n)
        if digits.count < width { digits = String(repeating: "0", count: width - digits.count) + digits }
        return prefix + digits
    }

    /// One frame built by `make` for name 0, and the offset of the name's digits in it.
    func template(_ make: (String) throws -> [UInt8]) throws -> (frame: [UInt8], digitsOffset: Int) {
        let frame = try make(name(0))
        let needle = Array((prefix + String(repeating: "0", count: width)).utf8)
        guard let start = Self.find(needle, in: frame) else { throw BenchError("template: name not found in frame") }
        return (frame, start + prefix.utf8.count)
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        for start in 0...(haystack.count - needle.count)
        where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return start
        }
        return nil
    }
}

/// Complete request frames laid end to end, in the layout `cb_requests` describes.
struct RequestSet {
    private(set) var bytes: [UInt8] = []
    private(set) var offsets: [Int] = [0]

    init() {}

    init(_ frames: [[UInt8]]) {
        for frame in frames { append(frame) }
    }

    /// `count` frames from `template`, with the digits at `digitsOffset` set to each of `numbers`.
    init(template: [UInt8], digitsOffset: Int, width: Int, numbers: [Int]) {
        bytes.reserveCapacity(template.count * numbers.count)
        for n in numbers {
            var frame = template
            frame.withUnsafeMutableBufferPointer { buffer in
                if let base = buffer.baseAddress { cb_write_digits(base + digitsOffset, width, UInt64(n)) }
            }
            append(frame)
        }
    }

    mutating func append(_ frame: [UInt8]) {
        bytes.append(contentsOf: frame)
        offsets.append(bytes.count)
    }

    var count: Int { offsets.count - 1 }

    /// Calls `body` with a `cb_requests` view valid for the duration of the call.
    func withView<R>(_ body: (UnsafePointer<cb_requests>) throws -> R) rethrows -> R {
        try bytes.withUnsafeBufferPointer { frames in
            try offsets.withUnsafeBufferPointer { starts in
                var view = cb_requests(bytes: frames.baseAddress, offsets: starts.baseAddress, count: count)
                return try withUnsafePointer(to: &view) { try body($0) }
            }
        }
    }
}

/// A deterministic pseudo-random generator (xorshift64*), so two runs read the same secrets.
struct SeededRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }

    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }

    /// Uniform in 0..<bound (bound ≤ 2^32: the modulo bias is below 2^-32).
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
