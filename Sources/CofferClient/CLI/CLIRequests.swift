import CofferCore
import CofferProtocol

// What the `coffer` CLI needs beyond the public client API, kept here (package access, not public API) so that it is
// unit-tested without spawning the binary: argument values to request documents, output formatting, exit statuses.

/// A mistake in the command line or its input: the CLI prints the message and exits with ``CLIExit/usage``.
package struct UsageError: Error, Equatable, CustomStringConvertible {
    package var message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}

/// Exit statuses, as the AWS CLI v2 uses them.
package enum CLIExit {
    package static let success: Int32 = 0
    /// The command line could not be parsed or its input is invalid (AWS CLI: 252).
    package static let usage: Int32 = 252
    /// The daemon answered with an error (AWS CLI: 254, "the service returned an error").
    package static let serviceError: Int32 = 254
    /// Anything else: the daemon cannot be reached, the connection broke (AWS CLI: 255, general error).
    package static let failure: Int32 = 255

    /// The status for a failed call.
    package static func status(for error: CofferClientError) -> Int32 {
        error.isServiceError ? serviceError : failure
    }
}

/// Which daemon socket an operation goes to (docs/PROTOCOL.md, section 1).
package enum SocketRole: Equatable {
    case client, admin

    package init(for operation: Operation) {
        switch operation.service {
        case .iam, .admin: self = .admin
        case .protocolControl, .secretsManager: self = .client
        }
    }
}

/// Friendly-command arguments to requests.
package enum CLIRequests {
    /// `coffer call <Operation> [JSON]`: the operation by AWS name (any case) and the AWS-shaped request. No JSON, or
    /// only whitespace, is `{}`. Create, Put, Update and Rotate get a ClientRequestToken when the JSON has none.
    package static func call(operation name: String, json: String?) throws(UsageError) -> (Operation, Document) {
        var text = json ?? ""
        let result = text.withUTF8 { bytes in
            Result { () throws(UsageError) in try call(operation: name, jsonBytes: UnsafeRawBufferPointer(bytes)) }
        }
        return try result.get()
    }

    /// The same, with the JSON as UTF-8 bytes (read from stdin into wiped memory: it may hold a secret value).
    package static func call(
        operation name: String, jsonBytes: UnsafeRawBufferPointer
    ) throws(UsageError)
        -> (Operation, Document)
    {
        let operation = try self.operation(named: name)
        let isBlank = jsonBytes.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        guard !isBlank else { return (operation, SecretsManagerRequests.fillingIdempotencyToken(operation, [:])) }
        let json: JSONValue
        do {
            json = try JSONValue.parse(utf8: jsonBytes.assumingMemoryBound(to: UInt8.self))
        } catch {
            throw UsageError("Invalid request JSON for \(operation.name): \(error.description).")
        }
        let request: Document
        do {
            request = try AWSJSON.document(from: json)
        } catch {
            throw UsageError("Invalid request for \(operation.name): \(error.message)")
        }
        return (operation, SecretsManagerRequests.fillingIdempotencyToken(operation, request))
    }

    /// An operation by its AWS name, any case.
    package static func operation(named name: String) throws(UsageError) -> Operation {
        guard let operation = Operation(name: name) else {
            let names = Operation.allCases.filter { $0.service == .secretsManager }.map(\.name)
            throw UsageError(
                "Unknown operation \"\(name)\". Secrets Manager operations: \(names.joined(separator: ", ")) "
                    + "(IAM and administration operations go to the admin socket).")
        }
        return operation
    }

    /// `KEY=VALUE` arguments as tags (the value may be empty; the key may not).
    package static func tags(_ specs: [String]) throws(UsageError) -> [Tag] {
        var tags: [Tag] = []
        for spec in specs {
            guard let equals = spec.firstIndex(of: "="), equals != spec.startIndex else {
                throw UsageError("Expected a tag as KEY=VALUE, got \"\(spec)\".")
            }
            tags.append(Tag(key: String(spec[..<equals]), value: String(spec[spec.index(after: equals)...])))
        }
        return tags
    }

    /// `KEY=VALUE[,VALUE…]` arguments as ListSecrets filters: the values of one filter are alternatives (filter
    /// values cannot contain commas), several filters must all match.
    package static func filters(_ specs: [String]) throws(UsageError) -> [Filter] {
        var filters: [Filter] = []
        for spec in specs {
            guard let equals = spec.firstIndex(of: "="), equals != spec.startIndex else {
                throw UsageError(
                    "Expected a filter as KEY=VALUE[,VALUE…] (keys: name, description, tag-key, tag-value, "
                        + "owning-service, primary-region, all), got \"\(spec)\".")
            }
            let values = spec[spec.index(after: equals)...].split(separator: ",", omittingEmptySubsequences: false)
            filters.append(Filter(key: String(spec[..<equals]), values: values.map(String.init)))
        }
        return filters
    }

    /// `coffer rm NAME [--recovery-window-in-days N | --force]`.
    package static func delete(name: String, recoveryWindowInDays: Int?, force: Bool) throws(UsageError) -> Document {
        if force, recoveryWindowInDays != nil {
            throw UsageError("--force and --recovery-window-in-days cannot be used together.")
        }
        return SecretsManagerRequests.deleteSecret(
            secretId: name, recoveryWindowInDays: recoveryWindowInDays,
            forceDeleteWithoutRecovery: force ? true : nil)
    }

    /// A value read for `put`/`create`, checked for the request: SecretString must be UTF-8 text.
    package static func secretMembers(
        _ value: SensitiveBytes, binary: Bool
    ) throws(UsageError)
        -> (string: SensitiveBytes?, binary: SensitiveBytes?)
    {
        if binary { return (nil, value) }
        guard value.isValidUTF8 else {
            throw UsageError("The value is not UTF-8 text; store it with --binary (as SecretBinary).")
        }
        return (value, nil)
    }

    /// `--trim-newline`: the value without one trailing `\n` or `\r\n`.
    package static func trimmingNewline(_ value: SensitiveBytes) -> SensitiveBytes {
        value.withUnsafeBytes { raw -> SensitiveBytes in
            var end = raw.count
            if end > 0, raw[end - 1] == 0x0A {
                end -= 1
                if end > 0, raw[end - 1] == 0x0D { end -= 1 }
            }
            guard end < raw.count else { return value }
            return SensitiveBytes(copying: UnsafeRawBufferPointer(rebasing: raw[0..<end]))
        }
    }
}
