/// A policy variable reference: `${aws:username}` or `${aws:username, 'nobody'}`.
struct PolicyVariable: Sendable, Hashable {
    /// Lower-cased context key name (context keys are case-insensitive).
    let key: String
    let defaultValue: String?
}

/// One piece of a policy string after variable and wildcard parsing.
enum PatternToken: Sendable, Hashable {
    case literal([UInt8])
    case star
    case question
    case variable(PolicyVariable)
}

/// A policy string (resource pattern, condition value) split into literal text, wildcards and variables.
///
/// Variables exist only under Version 2012-10-17; a substituted value is always literal text (a `*` coming from the
/// request is not a wildcard). A variable whose key is absent (and that has no default) or is multivalued is
/// *unresolved*: the whole value then matches nothing.
struct Template: Sendable, Hashable {
    let tokens: [PatternToken]

    init(tokens: [PatternToken]) { self.tokens = tokens }

    /// Splits `text`. With `variables`, `${key}`, `${key, 'default'}` and the escapes `${*}` `${?}` `${$}` are
    /// recognised; with `wildcards`, `*` and `?` are wildcard tokens (otherwise literal).
    init(parsing text: String, variables: Bool, wildcards: Bool) {
        let bytes = Array(text.utf8)
        var tokens: [PatternToken] = []
        var literal: [UInt8] = []
        func flush() {
            if !literal.isEmpty {
                tokens.append(.literal(literal))
                literal.removeAll(keepingCapacity: true)
            }
        }
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if variables, byte == UInt8(ascii: "$"), i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "{"),
                let close = bytes[(i + 2)...].firstIndex(of: UInt8(ascii: "}"))
            {
                let content = bytes[(i + 2)..<close]
                if content.count == 1, let only = content.first,
                    only == UInt8(ascii: "*") || only == UInt8(ascii: "?") || only == UInt8(ascii: "$")
                {
                    literal.append(only)
                } else {
                    flush()
                    tokens.append(.variable(Template.parseVariable(content)))
                }
                i = close + 1
                continue
            }
            if wildcards, byte == UInt8(ascii: "*") {
                flush()
                tokens.append(.star)
            } else if wildcards, byte == UInt8(ascii: "?") {
                flush()
                tokens.append(.question)
            } else {
                literal.append(byte)
            }
            i += 1
        }
        flush()
        self.tokens = tokens
    }

    /// `aws:username` or `aws:username, 'default'` (spaces around the comma tolerated).
    static func parseVariable(_ content: ArraySlice<UInt8>) -> PolicyVariable {
        let text = String(decoding: content, as: UTF8.self)
        if let comma = text.firstIndex(of: ",") {
            let key = trimSpaces(text[..<comma])
            let rest = trimSpaces(text[text.index(after: comma)...])
            if rest.count >= 2, rest.hasPrefix("'"), rest.hasSuffix("'") {
                let value = rest.dropFirst().dropLast()
                return PolicyVariable(key: lowercasedFast(String(key)), defaultValue: String(value))
            }
        }
        return PolicyVariable(key: lowercasedFast(String(trimSpaces(Substring(text)))), defaultValue: nil)
    }

    static func trimSpaces(_ text: Substring) -> Substring {
        var slice = text
        while slice.first == " " { slice = slice.dropFirst() }
        while slice.last == " " { slice = slice.dropLast() }
        return slice
    }

    var hasVariables: Bool {
        tokens.contains { if case .variable = $0 { return true } else { return false } }
    }

    /// The glob when the template has no variables.
    var staticGlob: Glob? {
        hasVariables ? nil : glob(resolving: { _ in nil })
    }

    /// The literal bytes before the first wildcard or variable.
    var literalPrefix: [UInt8] {
        var out: [UInt8] = []
        for token in tokens {
            guard case .literal(let bytes) = token else { break }
            out += bytes
        }
        return out
    }

    /// The glob after substituting variables; nil when a variable is unresolved.
    func glob(resolving lookup: (PolicyVariable) -> String?) -> Glob? {
        var elements: [Int16] = []
        for token in tokens {
            switch token {
            case .literal(let bytes): elements += bytes.lazy.map { Int16($0) }
            case .star: elements.append(Glob.star)
            case .question: elements.append(Glob.question)
            case .variable(let variable):
                guard let value = lookup(variable) else { return nil }
                elements += value.utf8.lazy.map { Int16($0) }
            }
        }
        return Glob(elements: elements)
    }

    /// The text after substituting variables (wildcard tokens rendered as `*`/`?`); nil when unresolved.
    func string(resolving lookup: (PolicyVariable) -> String?) -> String? {
        var bytes: [UInt8] = []
        for token in tokens {
            switch token {
            case .literal(let literal): bytes += literal
            case .star: bytes.append(UInt8(ascii: "*"))
            case .question: bytes.append(UInt8(ascii: "?"))
            case .variable(let variable):
                guard let value = lookup(variable) else { return nil }
                bytes += value.utf8
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Splits at literal colons: the first five colons separate the six ARN parts; later colons stay in the last part.
    func splitARNParts() -> [Template] {
        var parts: [Template] = []
        var current: [PatternToken] = []
        var literal: [UInt8] = []
        func flushLiteral() {
            if !literal.isEmpty {
                current.append(.literal(literal))
                literal = []
            }
        }
        for token in tokens {
            guard case .literal(let bytes) = token else {
                flushLiteral()
                current.append(token)
                continue
            }
            for byte in bytes {
                if byte == UInt8(ascii: ":") && parts.count < 5 {
                    flushLiteral()
                    parts.append(Template(tokens: current))
                    current = []
                } else {
                    literal.append(byte)
                }
            }
            flushLiteral()
        }
        flushLiteral()
        parts.append(Template(tokens: current))
        return parts
    }
}

/// A template compiled for matching: the static glob when there are no variables, else the tokens to resolve.
struct GlobValue: Sendable {
    let template: Template
    let staticGlob: Glob?

    init(_ template: Template) {
        self.template = template
        self.staticGlob = template.staticGlob
    }

    /// Whether `text` matches; false when a variable is unresolved.
    @inline(__always)
    func matches(_ text: UnsafeBufferPointer<UInt8>, _ lookup: (PolicyVariable) -> String?) -> Bool {
        if let glob = staticGlob { return glob.matches(text) }
        guard let glob = template.glob(resolving: lookup) else { return false }
        return glob.matches(text)
    }
}

/// A template compiled for equality: the static text when there are no variables.
struct TextValue: Sendable {
    let template: Template
    let staticText: String?

    init(_ template: Template, transform: (String) -> String = { $0 }) {
        self.template = template
        self.staticText = template.hasVariables ? nil : template.string(resolving: { _ in nil }).map(transform)
    }

    @inline(__always)
    func resolve(_ lookup: (PolicyVariable) -> String?, transform: (String) -> String = { $0 }) -> String? {
        if let text = staticText { return text }
        return template.string(resolving: lookup).map(transform)
    }
}
