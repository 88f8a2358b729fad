// `coffer run` and `coffer render`: the `--env` and `--file` arguments, parsed and checked before anything is fetched.

/// A secret to fetch: its name or ARN, and a staging label (nil: AWSCURRENT).
package struct SecretSelector: Equatable, Sendable, CustomStringConvertible {
    package var secretId: String
    package var versionStage: String?

    package init(secretId: String, versionStage: String? = nil) {
        self.secretId = secretId
        self.versionStage = versionStage
    }

    package var description: String { versionStage.map { "\(secretId)@\($0)" } ?? secretId }
}

/// A user or group given by number or by name (looked up when the file is written).
package enum AccountReference: Equatable, Sendable, CustomStringConvertible {
    case id(UInt32)
    case name(String)

    package var description: String {
        switch self {
        case .id(let id): return String(id)
        case .name(let name): return name
        }
    }
}

/// `--env VAR=SECRET[@STAGE]`.
package struct EnvironmentInjection: Equatable, Sendable {
    package var variable: String
    package var secret: SecretSelector

    package init(variable: String, secret: SecretSelector) {
        self.variable = variable
        self.secret = secret
    }
}

/// `--file PATH=SECRET[@STAGE][:MODE[:OWNER[:GROUP]]]`.
package struct FileInjection: Equatable, Sendable {
    package var path: String
    package var secret: SecretSelector
    package var mode: UInt32
    package var owner: AccountReference?
    package var group: AccountReference?

    package init(
        path: String, secret: SecretSelector, mode: UInt32 = FileInjection.defaultMode,
        owner: AccountReference? = nil, group: AccountReference? = nil
    ) {
        self.path = path
        self.secret = secret
        self.mode = mode
        self.owner = owner
        self.group = group
    }

    /// Owner read-only: a secret file is read, never edited in place.
    package static let defaultMode: UInt32 = 0o400
}

package enum InjectionSpecs {
    /// The grammar, for help texts and error messages.
    package static let environmentSyntax = "VAR=SECRET[@STAGE]"
    package static let fileSyntax = "PATH=SECRET[@STAGE][:MODE[:OWNER[:GROUP]]]"

    /// POSIX's portable environment variable names: `[A-Za-z_][A-Za-z0-9_]*`.
    package static func isValidVariableName(_ name: String) -> Bool {
        guard let first = name.utf8.first else { return false }
        func isLetter(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F }
        return isLetter(first) && name.utf8.allSatisfy { isLetter($0) || ($0 >= 0x30 && $0 <= 0x39) }
    }

    /// `VAR=SECRET[@STAGE]`.
    package static func environment(_ spec: String) throws(UsageError) -> EnvironmentInjection {
        guard let equals = spec.firstIndex(of: "=") else {
            throw UsageError("Expected --env \(environmentSyntax), got \"\(spec)\".")
        }
        let variable = String(spec[..<equals])
        guard isValidVariableName(variable) else {
            throw UsageError(
                "\"\(variable)\" is not a valid environment variable name (letters, digits and _, not starting "
                    + "with a digit).")
        }
        let secret = try secretReference(spec[spec.index(after: equals)...], in: spec)
        return EnvironmentInjection(variable: variable, secret: secret)
    }

    /// `PATH=SECRET[@STAGE][:MODE[:OWNER[:GROUP]]]`, or the same with `:` after PATH when the spec has no `=` at all
    /// (`PATH:SECRET:0400`). In the `=` form PATH cannot contain `=`; in the `:` form it cannot contain `:`. SECRET
    /// is a name (names cannot contain `:`) or a full ARN (`arn:` and six more `:`-separated parts).
    package static func file(_ spec: String) throws(UsageError) -> FileInjection {
        let separator: Character = spec.contains("=") ? "=" : ":"
        guard let split = spec.firstIndex(of: separator) else {
            throw UsageError("Expected --file \(fileSyntax), got \"\(spec)\".")
        }
        let path = String(spec[..<split])
        guard !path.isEmpty, !path.hasSuffix("/") else {
            throw UsageError("--file \"\(spec)\": the path must name a file.")
        }
        var parts = spec[spec.index(after: split)...].split(separator: ":", omittingEmptySubsequences: false)
        var secretParts = 1
        if parts.first == "arn" {
            // arn:partition:service:region:account:secret:name-suffix
            secretParts = 7
            guard parts.count >= secretParts else {
                throw UsageError("--file \"\(spec)\": an ARN has seven parts separated by colons.")
            }
        }
        let secretText = parts.prefix(secretParts).joined(separator: ":")
        parts.removeFirst(min(secretParts, parts.count))
        guard parts.count <= 3 else {
            throw UsageError("--file \"\(spec)\": too many fields; expected \(fileSyntax).")
        }
        var injection = FileInjection(path: path, secret: try secretReference(Substring(secretText), in: spec))
        if let mode = parts.first, !mode.isEmpty { injection.mode = try fileMode(mode, in: spec) }
        if parts.count > 1, !parts[1].isEmpty { injection.owner = account(parts[1]) }
        if parts.count > 2, !parts[2].isEmpty { injection.group = account(parts[2]) }
        return injection
    }

    /// `SECRET[@STAGE]`: the last `@` starts the staging label (names may contain `@`; such a name is given with an
    /// explicit label, `user@example@AWSCURRENT`).
    static func secretReference(_ text: Substring, in spec: String) throws(UsageError) -> SecretSelector {
        var secret = text
        var stage: String?
        if let at = text.lastIndex(of: "@") {
            secret = text[..<at]
            stage = String(text[text.index(after: at)...])
            guard stage?.isEmpty == false else {
                throw UsageError("\"\(spec)\": nothing follows @ (give a staging label, like AWSPREVIOUS).")
            }
        }
        guard !secret.isEmpty else { throw UsageError("\"\(spec)\": the secret's name is missing.") }
        return SecretSelector(secretId: String(secret), versionStage: stage)
    }

    /// Octal permission bits, at most 0777 (set-id and sticky bits have no business on a secret file).
    static func fileMode(_ text: Substring, in spec: String) throws(UsageError) -> UInt32 {
        guard text.count <= 4, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x37 }), let mode = UInt32(text, radix: 8),
            mode <= 0o777
        else {
            throw UsageError("--file \"\(spec)\": \"\(text)\" is not a file mode (octal, 0000 to 0777, like 0400).")
        }
        return mode
    }

    static func account(_ text: Substring) -> AccountReference {
        if text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let id = UInt32(text) { return .id(id) }
        return .name(String(text))
    }

    /// Every spec of a command; the same variable or path twice is a mistake.
    package static func parse(
        environment specs: [String], files fileSpecs: [String]
    ) throws(UsageError)
        -> (environment: [EnvironmentInjection], files: [FileInjection])
    {
        var variables: [EnvironmentInjection] = []
        for spec in specs {
            let injection = try environment(spec)
            guard !variables.contains(where: { $0.variable == injection.variable }) else {
                throw UsageError("--env \(injection.variable) is given twice.")
            }
            variables.append(injection)
        }
        var files: [FileInjection] = []
        for spec in fileSpecs {
            let injection = try file(spec)
            guard !files.contains(where: { $0.path == injection.path }) else {
                throw UsageError("--file \(injection.path) is given twice.")
            }
            files.append(injection)
        }
        return (variables, files)
    }
}
