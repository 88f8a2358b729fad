/// Typed interpretations of condition values (numbers, dates, IP ranges), parsed once for policy literals and per
/// request for context values.
enum NumericValue {
    /// A decimal number: optional sign, digits, optional fraction, optional exponent. `10` equals `10.0`.
    /// Anything else (hex, `inf`, `nan`, spaces, empty) is not a number, and a non-number never matches.
    static func parse(_ text: String) -> Double? {
        guard !text.isEmpty, text.utf8.count <= 64 else { return nil }
        var sawDigit = false
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): sawDigit = true
            case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"): break
            default: return nil
            }
        }
        guard sawDigit, let value = Double(text), value.isFinite else { return nil }
        return value
    }
}

/// An instant with nanosecond precision and a range wide enough for every date IAM accepts.
struct Instant: Sendable, Hashable, Comparable {
    var seconds: Int64
    var nanoseconds: Int32

    static func < (a: Instant, b: Instant) -> Bool {
        a.seconds != b.seconds ? a.seconds < b.seconds : a.nanoseconds < b.nanoseconds
    }
}

/// IAM's date syntax, as its "legacy parsing" accepts it (mirrored from the grammar moto reverse-engineered from
/// real IAM): either whole epoch seconds (0…2^63−1), or an ISO 8601 form `[-]YYYY[-MM[-DD]][T[hh[:mm[:ss[.f]
/// [Z|±hh[:mm]]]]]]` with lenient widths. Coffer also accepts a `-hh:mm` offset, which moto's model rejects.
enum PolicyDate {
    static func parse(_ original: String) -> Instant? {
        let text = lowercasedFast(original)
        guard !text.isEmpty, text.utf8.count <= 64 else { return nil }
        if !text.contains("t") && !text.contains("-") {
            guard text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let seconds = Int64(text) else { return nil }
            return Instant(seconds: seconds, nanoseconds: 0)
        }
        return parseISO(text)
    }

    private static func digits(_ text: Substring, min: Int = 1, max: Int = 10) -> Int64? {
        guard text.utf8.count >= min, text.utf8.count <= max, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
            return nil
        }
        return Int64(text)
    }

    private static func parseISO(_ text: String) -> Instant? {
        let datePart: Substring
        let timePart: Substring
        if let t = text.firstIndex(of: "t") {
            datePart = text[..<t]
            timePart = text[text.index(after: t)...]
        } else {
            datePart = text[...]
            timePart = ""
        }
        // Date: [-]year[-month[-day]]
        let negative = datePart.hasPrefix("-")
        let dateFields = (negative ? datePart.dropFirst() : datePart).split(
            separator: "-", omittingEmptySubsequences: false)
        guard dateFields.count <= 3, let yearMagnitude = digits(dateFields[0]) else { return nil }
        let year = negative ? -yearMagnitude : yearMagnitude
        guard year >= -292_275_054, year <= 292_278_993 else { return nil }
        var month: Int64 = 1
        var day: Int64 = 1
        if dateFields.count > 1 {
            guard let value = digits(dateFields[1], max: 2), (1...12).contains(value) else { return nil }
            month = value
        }
        if dateFields.count > 2 {
            guard let value = digits(dateFields[2], max: 2), (1...31).contains(value) else { return nil }
            day = value
        }
        // Time: [hh[:mm[:ss[.fraction][z|±hh[:mm]]]]]
        var secondsOfDay: Int64 = 0
        var nanos: Int64 = 0
        var offset: Int64 = 0
        let timeFields = timePart.split(separator: ":", omittingEmptySubsequences: false)
        if let hours = timeFields.first, !hours.isEmpty {
            guard let value = digits(hours, max: 2), value <= 23 else { return nil }
            secondsOfDay += value * 3_600
        }
        if timeFields.count > 1 {
            guard let value = digits(timeFields[1], max: 2), value <= 59 else { return nil }
            secondsOfDay += value * 60
        }
        if timeFields.count > 2 {
            var field = timeFields[2]
            if let z = field.firstIndex(of: "z") {
                guard field[field.index(after: z)...].isEmpty, timeFields.count == 3 else { return nil }
                field = field[..<z]
            } else if let signIndex = field.firstIndex(where: { $0 == "+" || $0 == "-" }) {
                let sign: Int64 = field[signIndex] == "+" ? 1 : -1
                guard let offsetHours = digits(field[field.index(after: signIndex)...], min: 2, max: 2),
                    offsetHours <= 23
                else { return nil }
                var offsetMinutes: Int64 = 0
                if timeFields.count > 3 {
                    guard timeFields.count == 4, let value = digits(timeFields[3], min: 2, max: 2), value <= 59 else {
                        return nil
                    }
                    offsetMinutes = value
                }
                offset = sign * (offsetHours * 3_600 + offsetMinutes * 60)
                field = field[..<signIndex]
            } else if timeFields.count > 3 {
                return nil
            }
            let secondParts = field.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
            guard let seconds = digits(secondParts[0], max: 2), seconds <= 59 else { return nil }
            secondsOfDay += seconds
            if secondParts.count == 2 {
                let fraction = secondParts[1]
                guard let value = digits(fraction, max: 9) else { return nil }
                var scaled = value
                for _ in fraction.utf8.count..<9 { scaled *= 10 }
                nanos = scaled
            }
        }
        let days = daysFromCivil(year: year, month: month, day: day)
        return Instant(seconds: days * 86_400 + secondsOfDay - offset, nanoseconds: Int32(nanos))
    }

    /// Howard Hinnant's days-from-civil (proleptic Gregorian); day 31 of a short month rolls over arithmetically.
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

/// An IPv4 or IPv6 network (`IpAddress`/`NotIpAddress`); a bare address is a /32 or /128.
struct IPNetwork: Sendable, Hashable {
    var isIPv6: Bool
    var bytes: [UInt8]
    var prefixLength: Int

    /// Parses `address` or `address/prefix`. With `allowPrefix: false` only a bare address is accepted (request side).
    init?(_ text: String, allowPrefix: Bool = true) {
        let pieces = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let addressText = pieces.first, pieces.count == 1 || allowPrefix else { return nil }
        if let v4 = IPNetwork.parseIPv4(addressText) {
            isIPv6 = false
            bytes = v4
        } else if let v6 = IPNetwork.parseIPv6(addressText) {
            isIPv6 = true
            bytes = v6
        } else {
            return nil
        }
        let maximum = bytes.count * 8
        if pieces.count == 2 {
            guard pieces[1].utf8.count <= 3, pieces[1].utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                let length = Int(pieces[1]), length <= maximum
            else { return nil }
            prefixLength = length
        } else {
            prefixLength = maximum
        }
    }

    func contains(_ address: IPNetwork) -> Bool {
        guard address.isIPv6 == isIPv6 else { return false }
        var remaining = prefixLength
        var i = 0
        while remaining > 0 {
            let bits = min(8, remaining)
            let mask: UInt8 = bits == 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            if bytes[i] & mask != address.bytes[i] & mask { return false }
            remaining -= bits
            i += 1
        }
        return true
    }

    static func parseIPv4(_ text: Substring) -> [UInt8]? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var out: [UInt8] = []
        for octet in octets {
            guard !octet.isEmpty, octet.utf8.count <= 3, octet.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                let value = UInt8(octet)
            else { return nil }
            out.append(value)
        }
        return out
    }

    static func parseIPv6(_ text: Substring) -> [UInt8]? {
        guard text.contains(":") else { return nil }
        let halves = text.splitAtDoubleColons()
        guard halves.count <= 2 else { return nil }
        func groups(_ part: Substring) -> [UInt8]? {
            if part.isEmpty { return [] }
            var out: [UInt8] = []
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, field) in fields.enumerated() {
                if index == fields.count - 1, field.contains("."), let v4 = parseIPv4(field) {
                    out += v4
                    continue
                }
                guard !field.isEmpty, field.utf8.count <= 4, let value = UInt16(field, radix: 16) else { return nil }
                out.append(UInt8(value >> 8))
                out.append(UInt8(value & 0xFF))
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 1 {
            return head.count == 16 ? head : nil
        }
        guard let tail = groups(halves[1]), head.count + tail.count <= 14 else { return nil }
        return head + [UInt8](repeating: 0, count: 16 - head.count - tail.count) + tail
    }
}

extension Substring {
    /// Splits at the first `::` (IPv6 zero compression); a second `::` yields three pieces (invalid).
    fileprivate func splitAtDoubleColons() -> [Substring] {
        var pieces: [Substring] = []
        var start = startIndex
        var i = startIndex
        while i < endIndex {
            let next = index(after: i)
            if self[i] == ":", next < endIndex, self[next] == ":" {
                pieces.append(self[start..<i])
                start = index(after: next)
                i = start
                continue
            }
            i = next
        }
        pieces.append(self[start...])
        return pieces
    }
}
