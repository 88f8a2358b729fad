#if canImport(Glibc)
    import Glibc
#endif

/// A point in time with millisecond precision, as milliseconds since the Unix epoch (UTC).
///
/// AWS returns dates as epoch seconds with a fraction; the AWS CLI prints them as ISO 8601. Coffer stores and sends
/// milliseconds and formats with ``iso8601`` where a human reads.
///
/// Any `Int64` is a valid value (a decoded document may carry one): arithmetic saturates instead of trapping, and
/// the text forms clamp to years 0000–9999, the range ISO 8601's four-digit year can say.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }
    public init(seconds: Int64) {
        milliseconds = Timestamp.saturating(seconds.multipliedReportingOverflow(by: 1_000), negative: seconds < 0)
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.milliseconds < rhs.milliseconds }

    public var seconds: Int64 { milliseconds.floorDiv(1_000) }

    public func adding(milliseconds delta: Int64) -> Timestamp {
        Timestamp(milliseconds: Timestamp.saturating(milliseconds.addingReportingOverflow(delta), negative: delta < 0))
    }
    public func adding(days: Int) -> Timestamp {
        adding(
            milliseconds: Timestamp.saturating(
                Int64(days).multipliedReportingOverflow(by: 86_400_000), negative: days < 0))
    }

    /// The UTC day this instant falls in, as days since the epoch (AWS's LastAccessedDate granularity).
    public var dayNumber: Int64 { milliseconds.floorDiv(86_400_000) }
    /// Midnight UTC of this instant's day.
    public var startOfDay: Timestamp {
        Timestamp(
            milliseconds: Timestamp.saturating(
                milliseconds.subtractingReportingOverflow(milliseconds.floorMod(86_400_000)), negative: true))
    }

    /// `2026-11-29T14:13:41.123000+00:00`, the way AWS CLI v2 prints timestamps (in UTC).
    public var iso8601: String {
        let (y, mo, d, h, mi, s, ms) = components
        return "\(pad(y, 4))-\(pad(mo, 2))-\(pad(d, 2))T\(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2)).\(pad(ms, 3))000+00:00"
    }

    /// Appends ``iso8601``'s text as UTF-8 bytes, without building a `String` (the audit log writes one per request).
    public func appendISO8601(to out: inout [UInt8]) {
        let (y, mo, d, h, mi, s, ms) = components
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var v = value
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8((v / divisor) % 10))
                v %= divisor
                divisor /= 10
            }
        }
        digits(y, 4)
        out.append(UInt8(ascii: "-"))
        digits(mo, 2)
        out.append(UInt8(ascii: "-"))
        digits(d, 2)
        out.append(UInt8(ascii: "T"))
        digits(h, 2)
        out.append(UInt8(ascii: ":"))
        digits(mi, 2)
        out.append(UInt8(ascii: ":"))
        digits(s, 2)
        out.append(UInt8(ascii: "."))
        digits(ms, 3)
        out.append(contentsOf: [48, 48, 48, 43, 48, 48, 58, 48, 48])  // "000+00:00"
    }

    /// `2026-11-29T14:13:41Z` (IAM's `aws:CurrentTime` format).
    public var iso8601Seconds: String {
        let (y, mo, d, h, mi, s, _) = components
        return "\(pad(y, 4))-\(pad(mo, 2))-\(pad(d, 2))T\(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2))Z"
    }

    public var description: String { iso8601 }

    /// Epoch seconds with a millisecond fraction, as AWS's JSON protocol sends dates (`1700000000.123`).
    public var epochSecondsText: String {
        let whole = milliseconds.floorDiv(1_000)
        let fraction = milliseconds.floorMod(1_000)
        return fraction == 0 ? "\(whole)" : "\(whole).\(pad(Int(fraction), 3))"
    }

    /// 0000-01-01T00:00:00.000Z through 9999-12-31T23:59:59.999Z: what the text forms can show.
    static let formattable: ClosedRange<Int64> = -62_167_219_200_000...253_402_300_799_999

    /// A result past Int64's range becomes the end it went past (`negative`: the lower one).
    static func saturating(_ result: (partialValue: Int64, overflow: Bool), negative: Bool) -> Int64 {
        guard result.overflow else { return result.partialValue }
        return negative ? .min : .max
    }

    var components: (Int, Int, Int, Int, Int, Int, Int) {
        let clamped = min(max(milliseconds, Timestamp.formattable.lowerBound), Timestamp.formattable.upperBound)
        let ms = Int(clamped.floorMod(1_000))
        let secs = clamped.floorDiv(1_000)
        let days = secs.floorDiv(86_400)
        let rem = Int(secs - days * 86_400)
        let (y, m, d) = Timestamp.civil(fromDays: days)
        return (y, m, d, rem / 3_600, (rem % 3_600) / 60, rem % 60, ms)
    }

    /// Howard Hinnant's days-from-civil algorithm (proleptic Gregorian).
    static func civil(fromDays z0: Int64) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (Int(m <= 2 ? y + 1 : y), Int(m), Int(d))
    }

    static func days(fromCivil year: Int, _ month: Int, _ day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Parses ISO 8601 date-times as IAM accepts them: `2026-11-29`, `2026-11-29T14:13:41Z`,
    /// `2026-11-29T14:13:41.123+01:00`, `2026-11-29T14:13Z`; or epoch seconds (`1700000000`, `1700000000.5`).
    public init?(parsing text: String) {
        if let value = Timestamp.parseEpoch(text) {
            self = value
            return
        }
        guard let value = Timestamp.parseISO(Array(text.utf8)) else { return nil }
        self = value
    }

    static func parseEpoch(_ text: String) -> Timestamp? {
        guard !text.isEmpty, text.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || $0 == 46 || $0 == 45 }) else {
            return nil
        }
        if let whole = Int64(text) { return whole.magnitude < 10_000_000_000_000 ? Timestamp(seconds: whole) : nil }
        guard let value = Double(text), value.isFinite, abs(value) < 1e13 else { return nil }
        return Timestamp(milliseconds: Int64((value * 1_000).rounded()))
    }

    static func parseISO(_ b: [UInt8]) -> Timestamp? {
        var i = 0
        func number(_ digits: Int) -> Int? {
            guard i + digits <= b.count else { return nil }
            var v = 0
            for k in 0..<digits {
                let c = b[i + k]
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            i += digits
            return v
        }
        func take(_ c: UInt8) -> Bool {
            if i < b.count && b[i] == c {
                i += 1
                return true
            }
            return false
        }
        guard let year = number(4), take(45), let month = number(2), (1...12).contains(month), take(45),
            let day = number(2), (1...31).contains(day)
        else { return nil }
        var seconds = 0
        var millis = 0
        var offset = 0
        if i == b.count {
            return Timestamp(milliseconds: days(fromCivil: year, month, day) * 86_400_000)
        }
        guard take(84) || take(116) else { return nil }  // 'T' or 't'
        guard let hour = number(2), hour < 24, take(58), let minute = number(2), minute < 60 else { return nil }
        seconds = hour * 3_600 + minute * 60
        if take(58) {
            guard let second = number(2), second < 61 else { return nil }
            seconds += second
            if take(46) {
                var scale = 100
                var digits = 0
                while i < b.count, b[i] >= 48, b[i] <= 57 {
                    millis += Int(b[i] - 48) * scale
                    scale /= 10
                    digits += 1
                    i += 1
                }
                guard digits > 0 else { return nil }
            }
        }
        if take(90) || take(122) {  // 'Z' / 'z'
            offset = 0
        } else if i < b.count, b[i] == 43 || b[i] == 45 {
            let sign = b[i] == 43 ? 1 : -1
            i += 1
            guard let oh = number(2), oh < 24 else { return nil }
            _ = take(58)
            guard let om = number(2), om < 60 else { return nil }
            offset = sign * (oh * 3_600 + om * 60)
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let total = days(fromCivil: year, month, day) * 86_400 + Int64(seconds - offset)
        return Timestamp(milliseconds: total * 1_000 + Int64(millis))
    }
}

private func pad(_ value: Int, _ width: Int) -> String {
    let text = String(value)
    return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
}

extension Int64 {
    func floorDiv(_ d: Int64) -> Int64 {
        let q = self / d
        return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q
    }

    /// The remainder that goes with ``floorDiv(_:)``: in `0..<d` for a positive `d`, without overflow at the ends.
    func floorMod(_ d: Int64) -> Int64 {
        let r = self % d
        return (r != 0 && (r < 0) != (d < 0)) ? r + d : r
    }
}

/// The source of "now". Injectable so that tests can cross recovery windows and retention ages.
public protocol Clock: Sendable {
    func now() -> Timestamp
}

/// Wall-clock time (`CLOCK_REALTIME`).
public struct SystemClock: Clock {
    public init() {}
    public func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(milliseconds: Int64(ts.tv_sec) * 1_000 + Int64(ts.tv_nsec) / 1_000_000)
    }
}

/// Monotonic nanoseconds (`CLOCK_MONOTONIC`) for deadlines and latency measurement.
public enum Monotonic {
    public static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
    public static func milliseconds() -> Int64 { Int64(nanoseconds() / 1_000_000) }
}
