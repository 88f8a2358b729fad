/// The six `:`-separated parts of a request ARN, as byte ranges into its text.
///
/// A request value is an ARN when it starts with `arn:` and has at least five colons; everything after the fifth
/// colon is the resource part (which may itself contain colons).
struct ARNSplit {
    /// Start offsets of parts 0…5 and the end of the text.
    var starts: (Int, Int, Int, Int, Int, Int)
    var end: Int

    init?(_ text: UnsafeBufferPointer<UInt8>) {
        guard text.count >= 4, text[0] == UInt8(ascii: "a"), text[1] == UInt8(ascii: "r"),
            text[2] == UInt8(ascii: "n"), text[3] == UInt8(ascii: ":")
        else { return nil }
        // Part 1 starts after the `arn:` checked above; look for the next four colons.
        var found: (Int, Int, Int, Int, Int) = (4, 0, 0, 0, 0)
        var count = 1
        var i = 4
        while i < text.count, count < 5 {
            if text[i] == UInt8(ascii: ":") {
                switch count {
                case 1: found.1 = i + 1
                case 2: found.2 = i + 1
                case 3: found.3 = i + 1
                default: found.4 = i + 1
                }
                count += 1
            }
            i += 1
        }
        guard count == 5 else { return nil }
        starts = (0, found.0, found.1, found.2, found.3, found.4)
        end = text.count
    }

    func start(_ part: Int) -> Int {
        switch part {
        case 0: return starts.0
        case 1: return starts.1
        case 2: return starts.2
        case 3: return starts.3
        case 4: return starts.4
        default: return starts.5
        }
    }

    /// Part `index` without its trailing colon; part 5 runs to the end.
    func part(_ index: Int, of text: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        let from = start(index)
        let to = index == 5 ? end : start(index + 1) - 1
        return UnsafeBufferPointer(rebasing: text[from..<to])
    }

    /// Everything from the start of part `index` to the end of the text.
    func rest(from index: Int, of text: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: text[start(index)..<end])
    }
}

/// An ARN pattern from a `Resource`/`NotResource` element or an `Arn*` condition value.
///
/// Matching is per segment, as IAM documents it: each of the first five parts is globbed against the request's
/// corresponding part (a `*` there stays inside its segment), and the resource part is globbed against everything
/// after the request's fifth colon (so `*` there crosses `/` and `:`). A *truncated* resource pattern with fewer than
/// six parts whose last part ends in `*` (`arn:aws:secretsmanager:*`) lets that `*` "expand beyond the colon
/// boundaries": its last part is globbed against the rest of the request ARN. `Resource: "*"` matches everything,
/// including the `*` that stands for resource-less actions.
final class ARNPattern: Sendable {
    enum Shape: Sendable {
        case everything
        case parts([GlobValue], truncated: Bool)
        case never
    }

    let shape: Shape
    /// Literal bytes every matching request starts with (for the index); empty when unknown.
    let literalPrefix: [UInt8]
    /// When the first five parts are plain text (the common case), those parts with their colons: one comparison
    /// then replaces five segment matches.
    let literalHeader: [UInt8]?

    /// A `Resource` element entry. `allowTruncation` is false for `Arn*` condition values, which need all six parts.
    init(_ text: String, variables: Bool, allowTruncation: Bool) {
        if text == "*" && allowTruncation {
            shape = .everything
            literalPrefix = []
            literalHeader = nil
            return
        }
        let template = Template(parsing: text, variables: variables, wildcards: true)
        let parts = template.splitARNParts()
        if parts.count == 6 {
            shape = .parts(parts.map(GlobValue.init), truncated: false)
        } else if allowTruncation, parts.count >= 2, let last = parts.last?.tokens.last, last == .star {
            shape = .parts(parts.map(GlobValue.init), truncated: true)
        } else {
            shape = .never
            literalPrefix = []
            literalHeader = nil
            return
        }
        literalPrefix = template.literalPrefix
        var header: [UInt8]? = []
        if parts.count == 6 {
            for part in parts[0..<5] {
                guard let literal = part.staticGlob?.literal else {
                    header = nil
                    break
                }
                header? += literal
                header?.append(UInt8(ascii: ":"))
            }
        } else {
            header = nil
        }
        literalHeader = header
    }

    /// Whether `text` (a request resource or condition value) matches; `lookup` resolves policy variables.
    func matches(
        _ text: UnsafeBufferPointer<UInt8>,
        split: ARNSplit?,
        _ lookup: (PolicyVariable) -> String?
    ) -> Bool {
        switch shape {
        case .everything: return true
        case .never: return false
        case .parts(let parts, let truncated):
            guard let split else { return false }
            if let literalHeader {
                // The header text has exactly five colons, so equal bytes mean equal parts 0…4.
                guard split.start(5) == literalHeader.count, hasPrefix(literalHeader, text) else { return false }
                return parts[5].matches(split.part(5, of: text), lookup)
            }
            let fixed = truncated ? parts.count - 1 : 5
            for index in 0..<fixed where !parts[index].matches(split.part(index, of: text), lookup) {
                return false
            }
            if truncated {
                return parts[fixed].matches(split.rest(from: fixed, of: text), lookup)
            }
            return parts[5].matches(split.part(5, of: text), lookup)
        }
    }
}
