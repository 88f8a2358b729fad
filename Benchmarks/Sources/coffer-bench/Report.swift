/// A JSON value for `results/latest.json` (written by hand: the driver does not use Foundation).
enum JSONOut {
    case number(Double)
    case integer(Int)
    case string(String)
    case bool(Bool)
    case null

    var text: String {
        switch self {
        case .number(let value):
            guard value.isFinite else { return "null" }
            return format(value, abs(value) >= 100 ? 1 : 3)
        case .integer(let value): return String(value)
        case .string(let value): return JSONOut.quote(value)
        case .bool(let value): return value ? "true" : "false"
        case .null: return "null"
        }
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// One line of the table: Coffer's figure, the baseline it is compared with, the ratio and the target.
struct TableRow {
    var section: String
    var label: String
    var coffer: String
    var baseline: String
    var ratio: Double
    var target: String
    /// nil: no target, or the figure is pending.
    var met: Bool?
    var note: String = ""
}

/// Everything one run measured: the table rows, the flat JSON keys and free-text notes, in the order recorded.
final class Report {
    private(set) var rows: [TableRow] = []
    private(set) var keys: [(String, JSONOut)] = []
    private(set) var notes: [String] = []
    private var section = ""

    func begin(_ section: String) { self.section = section }

    func set(_ key: String, _ value: JSONOut) {
        if let index = keys.firstIndex(where: { $0.0 == key }) {
            keys[index].1 = value
        } else {
            keys.append((key, value))
        }
    }

    func set(_ key: String, _ value: Double) { set(key, .number(value)) }

    /// A number recorded earlier under `key`.
    func number(_ key: String) -> Double? {
        guard let entry = keys.first(where: { $0.0 == key }), case .number(let value) = entry.1 else { return nil }
        return value
    }

    func row(
        _ label: String, coffer: String, baseline: String, ratio: Double, target: String, met: Bool?,
        note: String = ""
    ) {
        rows.append(
            TableRow(
                section: section, label: label, coffer: coffer, baseline: baseline, ratio: ratio, target: target,
                met: met, note: note))
    }

    func note(_ text: String) { notes.append(text) }

    /// Whether `ratio` satisfies "≤ limit" (nil when the ratio is not a number).
    static func atMost(_ ratio: Double, _ limit: Double) -> Bool? { ratio.isFinite ? ratio <= limit : nil }
    static func atLeast(_ ratio: Double, _ limit: Double) -> Bool? { ratio.isFinite ? ratio >= limit : nil }

    // MARK: Output

    func table(header: [String]) -> String {
        var lines = header
        let widths = (label: 46, coffer: 22, baseline: 30, ratio: 9, target: 10)
        lines.append("")
        lines.append(
            pad("measurement", widths.label) + pad("Coffer", widths.coffer)
                + pad("baseline (same run)", widths.baseline)
                + pad("ratio", widths.ratio, right: true) + "  " + pad("target", widths.target) + "met")
        lines.append(String(repeating: "-", count: widths.label + widths.coffer + widths.baseline + widths.ratio + 16))
        var current = ""
        for row in rows {
            if row.section != current {
                current = row.section
                lines.append("[\(current)]")
            }
            let ratio = row.ratio.isFinite ? format(row.ratio, 2) + "×" : "—"
            let met: String
            switch row.met {
            case .some(true): met = "yes"
            case .some(false): met = "NO"
            case .none: met = row.target.isEmpty ? "" : "—"
            }
            var line =
                pad("  " + row.label, widths.label) + pad(row.coffer, widths.coffer)
                + pad(row.baseline, widths.baseline) + pad(ratio, widths.ratio, right: true) + "  "
                + pad(row.target, widths.target) + met
            if !row.note.isEmpty { line += "  " + row.note }
            lines.append(line)
        }
        if !notes.isEmpty {
            lines.append("")
            for note in notes { lines.append("note: " + note) }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func json() -> String {
        var out = "{\n"
        for (index, entry) in keys.enumerated() {
            out += "  " + JSONOut.quote(entry.0) + ": " + entry.1.text
            out += index + 1 < keys.count ? ",\n" : "\n"
        }
        return out + "}\n"
    }
}
