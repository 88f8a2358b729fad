#if canImport(Glibc)
    import Glibc
#endif

/// A compiled `*`/`?` pattern over UTF-8 bytes: `*` matches any run (including `/` and `:`), `?` one character.
///
/// Matching is the iterative two-pointer algorithm (remember the last `*`, retry from one character further on a
/// mismatch): no recursion, no regex, O(pattern × text) in the worst case, so `a*a*a*…b` stays fast. `?` and the
/// `*` retry step move by whole UTF-8 scalars, so `?` is one *character* as in IAM, not one byte.
/// A class so that passing one around costs a single reference count, not one per array.
final class Glob: Sendable {
    /// Pattern elements: 0…255 is a literal byte, ``star`` and ``question`` are the wildcards.
    let elements: [Int16]
    /// Fast paths: the bytes when there is no wildcard; whether the pattern is only stars; the literal bytes before
    /// the first wildcard, and whether only stars follow them (`secretsmanager:Get*`).
    let literal: [UInt8]?
    let isMatchAll: Bool
    let prefix: [UInt8]
    let tailIsStars: Bool

    static let star: Int16 = -2
    static let question: Int16 = -1

    init(elements: [Int16]) {
        self.elements = elements
        let hasWildcards = elements.contains { $0 < 0 }
        self.literal = hasWildcards ? nil : elements.map { UInt8(truncatingIfNeeded: $0) }
        self.isMatchAll = !elements.isEmpty && elements.allSatisfy { $0 == Glob.star }
        let prefixCount = elements.firstIndex { $0 < 0 } ?? elements.count
        self.prefix = elements[..<prefixCount].map { UInt8(truncatingIfNeeded: $0) }
        self.tailIsStars = prefixCount < elements.count && elements[prefixCount...].allSatisfy { $0 == Glob.star }
    }

    /// A pattern that matches exactly `bytes` (wildcard characters in it are literal).
    convenience init(literal bytes: some Sequence<UInt8>) { self.init(elements: bytes.map { Int16($0) }) }

    /// Compiles `text`, treating `*` and `?` as wildcards.
    convenience init(pattern text: String) {
        self.init(
            elements: text.utf8.map { byte in
                switch byte {
                case UInt8(ascii: "*"): return Glob.star
                case UInt8(ascii: "?"): return Glob.question
                default: return Int16(byte)
                }
            }
        )
    }

    var hasWildcards: Bool { literal == nil }
    var endsWithStar: Bool { elements.last == Glob.star }

    /// The bytes before the first wildcard.
    var literalPrefix: [UInt8] {
        var out: [UInt8] = []
        for element in elements {
            guard element >= 0 else { break }
            out.append(UInt8(truncatingIfNeeded: element))
        }
        return out
    }

    func matches(_ text: String) -> Bool {
        withBytes(text) { matches($0) }
    }

    @inline(__always)
    func matches(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        if isMatchAll { return true }
        if let literal { return bytesEqual(literal, text) }
        guard hasPrefix(prefix, text) else { return false }
        if tailIsStars { return true }
        let skip = prefix.count
        return elements.withUnsafeBufferPointer { pattern in
            Glob.match(UnsafeBufferPointer(rebasing: pattern[skip...]), UnsafeBufferPointer(rebasing: text[skip...]))
        }
    }

    static func match(_ pattern: UnsafeBufferPointer<Int16>, _ text: UnsafeBufferPointer<UInt8>) -> Bool {
        let m = pattern.count
        let n = text.count
        var p = 0
        var t = 0
        var starP = -1
        var starT = 0
        while t < n {
            if p < m {
                let element = pattern[p]
                if element == star {
                    starP = p
                    starT = t
                    p += 1
                    continue
                }
                if element == question {
                    t = min(n, t + scalarLength(text[t]))
                    p += 1
                    continue
                }
                if element == Int16(text[t]) {
                    p += 1
                    t += 1
                    continue
                }
            }
            guard starP >= 0 else { return false }
            // Let the last `*` absorb one more character and retry the rest of the pattern from there.
            starT = min(n, starT + scalarLength(text[starT]))
            t = starT
            p = starP + 1
        }
        while p < m, pattern[p] == star { p += 1 }
        return p == m
    }

    @inline(__always)
    static func scalarLength(_ lead: UInt8) -> Int {
        switch lead {
        case 0xF0...0xF7: return 4
        case 0xE0...0xEF: return 3
        case 0xC0...0xDF: return 2
        default: return 1
        }
    }
}

/// Runs `body` over the UTF-8 bytes of `text` without copying when the string is native and contiguous.
@inline(__always)
func withBytes<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
    if let result = text.utf8.withContiguousStorageIfAvailable(body) { return result }
    let copy = Array(text.utf8)
    return copy.withUnsafeBufferPointer(body)
}

/// Byte-wise equality of two strings (IAM compares code units; Swift's `==` would apply Unicode equivalence).
@inline(__always)
func bytesEqual(_ a: String, _ b: String) -> Bool {
    guard a.utf8.count == b.utf8.count else { return false }
    return withBytes(a) { x in
        withBytes(b) { y in
            guard let xs = x.baseAddress, let ys = y.baseAddress else { return true }
            return memoryEqual(xs, ys, x.count)
        }
    }
}

@inline(__always)
func bytesEqual(_ a: [UInt8], _ b: UnsafeBufferPointer<UInt8>) -> Bool {
    guard a.count == b.count else { return false }
    return a.withUnsafeBufferPointer { x in
        guard let xs = x.baseAddress, let ys = b.baseAddress else { return true }
        return memoryEqual(xs, ys, a.count)
    }
}

@inline(__always)
func hasPrefix(_ prefix: [UInt8], _ text: UnsafeBufferPointer<UInt8>) -> Bool {
    guard prefix.count <= text.count else { return false }
    return prefix.withUnsafeBufferPointer { x in
        guard let xs = x.baseAddress, let ys = text.baseAddress else { return true }
        return memoryEqual(xs, ys, x.count)
    }
}

@inline(__always)
func memoryEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
    memcmp(a, b, count) == 0
}

/// Runs `body` over the lower-cased UTF-8 bytes of `text`; ASCII text is lower-cased into a stack buffer.
func withLowercasedBytes<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
    withBytes(text) { source in
        var hasUpper = false
        for byte in source {
            if byte >= 0x80 { return withBytes(text.lowercased(), body) }
            if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { hasUpper = true }
        }
        guard hasUpper else { return body(source) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: source.count) { buffer in
            for i in 0..<source.count {
                let byte = source[i]
                buffer[i] = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
            }
            return body(UnsafeBufferPointer(buffer))
        }
    }
}

/// Lower-cases ASCII letters only when the string is ASCII; falls back to Unicode lower-casing otherwise.
func lowercasedFast(_ text: String) -> String {
    var needsWork = false
    for byte in text.utf8 {
        if byte >= 0x80 { return text.lowercased() }
        if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { needsWork = true }
    }
    return needsWork ? text.lowercased() : text
}
