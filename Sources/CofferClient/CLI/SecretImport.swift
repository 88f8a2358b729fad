import CofferCore
import CofferProtocol
import CofferSystem

#if canImport(Glibc)
    import Glibc
#endif

/// `coffer admin import FILE.jsonl`: one AWS CreateSecret request per line, sent as ImportSecrets in batches.
///
/// Lines are read, parsed and batched here; the command sends the batches. The daemon imports a batch entry by
/// entry and reports the entries that failed to be written (a name that exists...), but it checks every entry's
/// shape before writing any, so one malformed entry fails its whole batch with a validation error. Such a batch is
/// then split in halves, recursively, until the entries at fault stand alone: each is reported under its line and
/// the others are imported (a batch that failed validation wrote nothing, so sending its entries again is safe).
package enum SecretImport {
    /// Entries per ImportSecrets request (the daemon takes at most 10,000).
    package static let batchEntries = 1_000
    /// Encoded bytes of entries per request: a frame holds ``Limits/maxFrameBytes``; the rest is headroom for the
    /// request's own header and member names.
    package static let batchBytes = Limits.maxFrameBytes - 4_096
    /// A line longer than this cannot be one secret (a 64 KiB value escaped as JSON is well under it).
    package static let maxLineBytes = 1 << 20

    /// One line to import.
    package struct Entry: Sendable {
        package var line: Int
        package var name: String
        package var document: Document
        /// Its encoded size in a request.
        package var size: Int
    }

    /// A line that was not imported, and why (an AWS error name and message, or a local reason).
    package struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        package var line: Int
        package var name: String?
        package var errorCode: String
        package var message: String

        package init(line: Int, name: String?, errorCode: String, message: String) {
            self.line = line
            self.name = name
            self.errorCode = errorCode
            self.message = message
        }

        package var description: String {
            "line \(line)\(name.map { " (\($0))" } ?? ""): \(errorCode): \(CLIOutput.oneLine(message))"
        }
    }

    /// Error names that concern one entry rather than the request (a batch failing with one of them is split).
    /// Anything else — a sealed vault, access denied, an internal error — stops the import.
    package static let entryErrors: Set<String> = [
        ErrorCode.validation.rawValue, ErrorCode.invalidParameter.rawValue, ErrorCode.invalidRequest.rawValue,
        ErrorCode.serializationError.rawValue, ErrorCode.resourceExists.rawValue, ErrorCode.limitExceeded.rawValue,
    ]

    /// Parses one line: nil for a blank line, an entry, or a failure that names the line.
    package static func entry(line: Int, text: UnsafeRawBufferPointer) -> Result<Entry, Failure>? {
        let isBlank = text.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
        guard !isBlank else { return nil }
        func failure(_ code: String, _ message: String, name: String? = nil) -> Result<Entry, Failure> {
            .failure(Failure(line: line, name: name, errorCode: code, message: message))
        }
        let json: JSONValue
        do {
            json = try JSONValue.parse(utf8: text.assumingMemoryBound(to: UInt8.self))
        } catch {
            return failure(ErrorCode.serializationError.rawValue, "Not valid JSON: \(error.description).")
        }
        let document: Document
        do {
            document = try AWSJSON.document(from: json)
        } catch {
            return failure(error.code.rawValue, error.message)
        }
        guard let name = document["Name"]?.stringValue, !name.isEmpty else {
            return failure(ErrorCode.validation.rawValue, "The line has no Name (a CreateSecret request per line).")
        }
        let size: Int
        do {
            // A list element: tag, then the map's own encoding (its member count and members).
            size = try WireCodec.encodedSize(of: document) + 8
        } catch {
            return failure(ErrorCode.serializationError.rawValue, error.message, name: name)
        }
        guard size <= batchBytes else {
            return failure(
                ErrorCode.limitExceeded.rawValue, "The entry is \(size) bytes; a request holds at most \(batchBytes).",
                name: name)
        }
        return .success(Entry(line: line, name: name, document: document, size: size))
    }

    /// The ImportSecrets request for a batch.
    package static func request(_ batch: [Entry]) -> Document {
        ["Secrets": .list(batch.map { .map($0.document) })]
    }

    /// Imports one batch through `send` (one ImportSecrets call), splitting it when it fails as a whole with an
    /// entry error. Returns the count imported and the entries that failed; a request-level failure is thrown.
    package static func importBatch(
        _ batch: [Entry], send: ([Entry]) throws(CofferClientError) -> Document
    ) throws(CofferClientError) -> (imported: Int, failures: [Failure]) {
        guard !batch.isEmpty else { return (0, []) }
        let response: Document
        do {
            response = try send(batch)
        } catch .service(let name, let message) where entryErrors.contains(name) {
            if batch.count == 1 {
                return (0, [Failure(line: batch[0].line, name: batch[0].name, errorCode: name, message: message)])
            }
            let middle = batch.count / 2
            let first = try importBatch(Array(batch[..<middle]), send: send)
            let second = try importBatch(Array(batch[middle...]), send: send)
            return (first.imported + second.imported, first.failures + second.failures)
        }
        return outcome(response, batch: batch)
    }

    /// Reads ImportSecrets' answer: `Imported`, and `Errors` matched back to lines (errors come in entry order, so
    /// each one matches the next entry with its name).
    static func outcome(_ response: Document, batch: [Entry]) -> (imported: Int, failures: [Failure]) {
        var failures: [Failure] = []
        var next = 0
        for error in response["Errors"]?.listValue ?? [] {
            let name = error.mapValue?["Name"]?.stringValue ?? ""
            var line = batch.last?.line ?? 0
            if let index = batch[next...].firstIndex(where: { $0.name == name }) {
                line = batch[index].line
                next = index + 1
            }
            failures.append(
                Failure(
                    line: line, name: name, errorCode: error.mapValue?["ErrorCode"]?.stringValue ?? "Error",
                    message: error.mapValue?["Message"]?.stringValue ?? ""))
        }
        let imported = Int(response["Imported"]?.intValue ?? Int64(batch.count - failures.count))
        return (imported, failures)
    }
}

/// Reads a descriptor line by line into one reusable buffer, wiped when the reader is released (lines may hold
/// secret values). A line longer than the limit is reported once and skipped to its end.
package final class LineReader {
    package enum Line {
        case text(UnsafeRawBufferPointer)
        case tooLong
    }

    private let fd: Int32
    private let limit: Int
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    private var atEOF = false
    /// The number of the line last returned (from 1).
    package private(set) var lineNumber = 0

    package init(fd: Int32, limit: Int) {
        self.fd = fd
        self.limit = limit
        buffer = [UInt8](repeating: 0, count: 65_536)
    }

    deinit { wipe(&buffer) }

    /// Calls `body` with the next line (without its `\n`), valid only during the call; false at the end.
    package func next<R>(_ body: (Line) throws -> R) throws -> R? {
        var skipping = false
        while true {
            if let newline = buffer[start..<end].firstIndex(of: 0x0A) {
                let lineStart = start
                start = newline + 1
                if skipping { return try finishLine(.tooLong, body) }
                return try buffer.withUnsafeBytes { raw in
                    try finishLine(.text(UnsafeRawBufferPointer(rebasing: raw[lineStart..<newline])), body)
                }
            }
            if atEOF {
                guard start < end || skipping else { return nil }
                let lineStart = start
                start = end
                if skipping { return try finishLine(.tooLong, body) }
                return try buffer.withUnsafeBytes { raw in
                    try finishLine(.text(UnsafeRawBufferPointer(rebasing: raw[lineStart..<end])), body)
                }
            }
            if end - start > limit {
                skipping = true
                start = end  // drop what was read of the long line
            }
            try fill()
        }
    }

    private func finishLine<R>(_ line: Line, _ body: (Line) throws -> R) throws -> R {
        lineNumber += 1
        return try body(line)
    }

    /// Moves the unread bytes to the front (wiping what they leave), grows the buffer if full, and reads more.
    private func fill() throws {
        if start > 0 {
            let pending = end - start
            buffer.withUnsafeMutableBytes { raw in
                guard let base = raw.baseAddress else { return }
                memmove(base, base + start, pending)
                explicit_bzero(base + pending, raw.count - pending)
            }
            start = 0
            end = pending
        }
        if end == buffer.count {
            var grown = [UInt8](repeating: 0, count: buffer.count * 2)
            grown.withUnsafeMutableBytes { target in
                buffer.withUnsafeBytes { source in target.copyMemory(from: source) }
            }
            wipe(&buffer)
            buffer = grown
        }
        while true {
            let n = buffer.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return read(fd, base + end, raw.count - end)
            }
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw UsageError("Cannot read the input: \(SystemError.message(for: code)).")
            }
            if n == 0 { atEOF = true } else { end += n }
            return
        }
    }
}
