import CofferCore
import Testing

@testable import CofferProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// One ```` ```hex name=… ```` block of docs/PROTOCOL.md.
struct SpecExample: CustomTestStringConvertible, Sendable {
    var name: String
    var bytes: [UInt8]
    var testDescription: String { name }
}

enum Spec {
    /// docs/PROTOCOL.md, found relative to this file so that the tests always read the spec in the repository.
    static let path: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Helpers.swift, CofferProtocolTests, Tests
        return parts.joined(separator: "/") + "/docs/PROTOCOL.md"
    }()

    static let text: String = readFile(path) ?? ""

    /// Every hex example, in document order. Whitespace is insignificant and `#` starts a comment.
    static let examples: [SpecExample] = {
        var result: [SpecExample] = []
        var name: String?
        var hex = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if let current = name {
                if line.hasPrefix("```") {
                    result.append(SpecExample(name: current, bytes: Hex.decode(hex) ?? []))
                    name = nil
                    hex = ""
                } else {
                    hex +=
                        (line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "") + " "
                }
            } else if line.hasPrefix("```hex name=") {
                name = String(line.dropFirst("```hex name=".count)).trimmingSpaces
            }
        }
        return result
    }()

    static func example(_ name: String) -> [UInt8] {
        examples.first(where: { $0.name == name })?.bytes ?? []
    }
}

extension String {
    var trimmingSpaces: String {
        String(self.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}

func readFile(_ path: String) -> String? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        if n == 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}

// MARK: - Structural equality (Value is deliberately not Equatable: secrets compare in constant time only)

func same(_ a: Value, _ b: Value) -> Bool {
    switch (a, b) {
    case (.bool(let x), .bool(let y)): return x == y
    case (.int(let x), .int(let y)): return x == y
    case (.string(let x), .string(let y)): return x == y
    case (.bytes(let x), .bytes(let y)): return x == y
    case (.secret(let x, let xs), .secret(let y, let ys)): return xs == ys && x.constantTimeEquals(y)
    case (.timestamp(let x), .timestamp(let y)): return x == y
    case (.list(let x), .list(let y)): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
    case (.map(let x), .map(let y)): return same(x, y)
    default: return false
    }
}

func same(_ a: Document, _ b: Document) -> Bool {
    a.fields.count == b.fields.count && zip(a.fields, b.fields).allSatisfy { $0.0 == $1.0 && same($0.1, $1.1) }
}

func secretBytes(_ value: Value?) -> (bytes: [UInt8], isString: Bool)? {
    guard case .secret(let secret, let isString)? = value else { return nil }
    return (secret.copyBytes(), isString)
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Decodes a body, returning the error (or nil on success).
func decodeError(_ body: [UInt8]) -> ProtocolError? {
    do {
        _ = try WireCodec.decodeDocument(from: body)
        return nil
    } catch {
        return error
    }
}

/// A body of one member `key` holding the raw value bytes `value` (tag included).
func body(key: String, value: [UInt8]) -> [UInt8] {
    [0, 0, 0, 1] + [UInt8(key.utf8.count >> 8), UInt8(key.utf8.count & 0xFF)] + Array(key.utf8) + value
}

/// A deterministic generator (SplitMix64) so that "random" tables are the same on every run.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
