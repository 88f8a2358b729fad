/// UTF-8 validation in place, without building a String (Unicode 15, table 3-7: no overlong forms, no surrogates,
/// nothing above U+10FFFF, no truncated sequences).
///
/// Used for secret strings, which must be validated but must never pass through a `String`.
enum UTF8Validation {
    static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        var i = 0
        while i < count {
            // ASCII runs, 32 then 8 bytes at a time: secrets are mostly ASCII (passwords, JSON, PEM).
            while i + 32 <= count {
                let a = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                let b = bytes.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self)
                let c = bytes.loadUnaligned(fromByteOffset: i + 16, as: UInt64.self)
                let d = bytes.loadUnaligned(fromByteOffset: i + 24, as: UInt64.self)
                if (a | b | c | d) & 0x8080_8080_8080_8080 != 0 { break }
                i += 32
            }
            while i + 8 <= count {
                let word = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                if word & 0x8080_8080_8080_8080 != 0 { break }
                i += 8
            }
            guard i < count else { return true }
            let b0 = bytes[i]
            if b0 < 0x80 {
                i += 1
                continue
            }
            if b0 < 0xC2 { return false }  // a continuation byte, or an overlong two-byte form
            if b0 < 0xE0 {
                guard i + 1 < count, isContinuation(bytes[i + 1]) else { return false }
                i += 2
            } else if b0 < 0xF0 {
                guard i + 2 < count, isContinuation(bytes[i + 2]) else { return false }
                let b1 = bytes[i + 1]
                switch b0 {
                case 0xE0: guard b1 >= 0xA0, b1 <= 0xBF else { return false }  // overlong
                case 0xED: guard b1 >= 0x80, b1 <= 0x9F else { return false }  // surrogates
                default: guard isContinuation(b1) else { return false }
                }
                i += 3
            } else if b0 < 0xF5 {
                guard i + 3 < count, isContinuation(bytes[i + 2]), isContinuation(bytes[i + 3]) else { return false }
                let b1 = bytes[i + 1]
                switch b0 {
                case 0xF0: guard b1 >= 0x90, b1 <= 0xBF else { return false }  // overlong
                case 0xF4: guard b1 >= 0x80, b1 <= 0x8F else { return false }  // above U+10FFFF
                default: guard isContinuation(b1) else { return false }
                }
                i += 4
            } else {
                return false
            }
        }
        return true
    }

    @inline(__always)
    private static func isContinuation(_ byte: UInt8) -> Bool { byte & 0xC0 == 0x80 }
}
