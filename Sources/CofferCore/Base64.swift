/// Standard base64 (RFC 4648 §4, with padding), used where AWS's JSON carries bytes (SecretBinary).
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var iterator = bytes.makeIterator()
        while let b0 = iterator.next() {
            let b1 = iterator.next()
            let b2 = iterator.next()
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | (b1 ?? 0) >> 4)])
            out.append(b1 == nil ? UInt8(ascii: "=") : alphabet[Int(((b1 ?? 0) & 0x0F) << 2 | (b2 ?? 0) >> 6)])
            out.append(b2 == nil ? UInt8(ascii: "=") : alphabet[Int((b2 ?? 0) & 0x3F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes padded or unpadded base64; whitespace is not allowed. Returns nil on any invalid input.
    public static func decode(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        var trimmed = input[...]
        var padding = 0
        while let last = trimmed.last, last == UInt8(ascii: "=") {
            trimmed = trimmed.dropLast()
            padding += 1
        }
        guard padding <= 2, (trimmed.count + padding) % 4 == 0 || padding == 0 else { return nil }
        guard trimmed.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(trimmed.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in trimmed {
            guard let value = sextet(byte) else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        // Canonical form: leftover bits must be zero.
        if bits > 0, accumulator & ((1 << UInt32(bits)) - 1) != 0 { return nil }
        return out
    }

    private static func sextet(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return byte - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return byte - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        default: return nil
        }
    }
}

/// Lower-case hexadecimal, used for digests and hex dumps.
public enum Hex {
    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes hex, ignoring ASCII whitespace (so that documented hex dumps can be pasted). Nil on odd length or a
    /// non-hex character.
    public static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var high: UInt8?
        for byte in text.utf8 {
            let nibble: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = byte - 48
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = byte - 87
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = byte - 55
            case 0x20, 0x09, 0x0A, 0x0D: continue
            default: return nil
            }
            if let h = high {
                out.append(h << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return high == nil ? out : nil
    }
}
