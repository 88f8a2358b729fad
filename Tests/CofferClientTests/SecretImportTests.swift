import CofferCore
import CofferProtocol
import Glibc
import Testing

@testable import CofferClient

/// `coffer admin import`: lines to entries, batches split until the entries at fault stand alone, errors back to
/// line numbers, and the line reader.
@Suite struct SecretImportTests {
    func entry(_ line: Int, _ json: String) -> Result<SecretImport.Entry, SecretImport.Failure>? {
        var text = json
        return text.withUTF8 { SecretImport.entry(line: line, text: UnsafeRawBufferPointer($0)) }
    }

    func entries(_ names: [String]) -> [SecretImport.Entry] {
        names.enumerated().map { index, name in
            SecretImport.Entry(line: index + 1, name: name, document: ["Name": .string(name)], size: 10)
        }
    }

    @Test func linesBecomeCreateSecretDocuments() throws {
        let parsed = try #require(entry(3, #"{"Name": "app/db", "SecretString": "hunter2", "Tags": []}"#))
        let value = try parsed.get()
        #expect(value.line == 3)
        #expect(value.name == "app/db")
        guard case .secret(let secret, isString: true)? = value.document["SecretString"] else {
            Issue.record("SecretString is not a secret member")
            return
        }
        #expect(secret.copyBytes() == Array("hunter2".utf8))
        #expect(value.size > 20)
        #expect(entry(4, "   \r") == nil)
        #expect(entry(4, "") == nil)
    }

    static let badLines: [(String, String)] = [
        ("not json", ErrorCode.serializationError.rawValue),
        ("[1, 2]", ErrorCode.serializationError.rawValue),
        (#"{"SecretString": "x"}"#, ErrorCode.validation.rawValue),
        (#"{"Name": 5}"#, ErrorCode.validation.rawValue),
        (#"{"Name": "n", "SecretBinary": "not base64!"}"#, ErrorCode.serializationError.rawValue),
        (#"{"Name": "n", "X": null}"#, ErrorCode.serializationError.rawValue),
    ]

    @Test(arguments: badLines)
    func badLinesAreReportedWithTheirNumber(line: String, code: String) throws {
        guard case .failure(let failure)? = entry(9, line) else {
            Issue.record("\(line) was accepted")
            return
        }
        #expect(failure.line == 9)
        #expect(failure.errorCode == code)
        #expect(failure.description.hasPrefix("line 9"))
    }

    @Test func aSecretValueNeverAppearsInAFailure() throws {
        guard case .failure(let failure)? = entry(1, #"{"Name": "n", "SecretBinary": "c2VjcmV0LXZhbHVl!"}"#) else {
            Issue.record("accepted")
            return
        }
        #expect(!failure.description.contains("c2VjcmV0LXZhbHVl"))
    }

    @Test func anEntryTooLargeForARequestIsRefusedLocally() {
        let big = String(repeating: "x", count: SecretImport.batchBytes)
        guard case .failure(let failure)? = entry(2, #"{"Name": "big", "Description": "\#(big)"}"#) else {
            Issue.record("accepted")
            return
        }
        #expect(failure.errorCode == ErrorCode.limitExceeded.rawValue)
        #expect(failure.name == "big")
    }

    /// A fake daemon: validation fails the whole batch when any entry's name starts with "bad"; a name starting with
    /// "dup" is reported in Errors (a write-time failure).
    final class FakeImport {
        var calls: [[String]] = []
        func send(_ batch: [SecretImport.Entry]) throws(CofferClientError) -> Document {
            calls.append(batch.map(\.name))
            if let bad = batch.first(where: { $0.name.hasPrefix("bad") }) {
                throw .service(name: ErrorCode.validation.rawValue, message: "Invalid name \(bad.name)")
            }
            let duplicates = batch.filter { $0.name.hasPrefix("dup") }
            return [
                "Imported": .int(Int64(batch.count - duplicates.count)),
                "Errors": .list(
                    duplicates.map {
                        .map([
                            "Name": .string($0.name), "ErrorCode": "ResourceExistsException", "Message": "exists",
                        ])
                    }),
            ]
        }
    }

    @Test func aBatchFailingValidationIsSplitUntilTheBadEntriesStandAlone() throws {
        let fake = FakeImport()
        let names = (1...16).map { $0 == 5 ? "bad-5" : $0 == 12 ? "bad-12" : $0 == 14 ? "dup-14" : "ok-\($0)" }
        let outcome = try SecretImport.importBatch(entries(names)) { (batch) throws(CofferClientError) in
            try fake.send(batch)
        }
        #expect(outcome.imported == 13)
        #expect(outcome.failures.map(\.line).sorted() == [5, 12, 14])
        #expect(outcome.failures.first { $0.line == 5 }?.errorCode == ErrorCode.validation.rawValue)
        #expect(outcome.failures.first { $0.line == 14 }?.errorCode == "ResourceExistsException")
        // Bisection, not one call per entry: 16 → 8+8 → 4+4+4+4 → the two bad quarters in halves and quarters.
        #expect(fake.calls.count < 16)
        // Every good entry was sent in exactly one successful call.
        let succeeded = fake.calls.filter { !$0.contains { $0.hasPrefix("bad") } }.flatMap { $0 }
        #expect(succeeded.sorted() == names.filter { !$0.hasPrefix("bad") }.sorted())
    }

    @Test func requestLevelErrorsStopTheImport() {
        #expect(throws: CofferClientError.service(name: "VaultSealedException", message: "sealed")) {
            try SecretImport.importBatch(entries(["a", "b"])) { (_) throws(CofferClientError) -> Document in
                throw .service(name: "VaultSealedException", message: "sealed")
            }
        }
        var calls = 0
        #expect(throws: CofferClientError.self) {
            try SecretImport.importBatch(entries(["a", "b", "c", "d"])) { (_) throws(CofferClientError) -> Document in
                calls += 1
                throw .service(name: ErrorCode.accessDenied.rawValue, message: "denied")
            }
        }
        #expect(calls == 1)
    }

    @Test func errorsMapToLinesEvenWhenANameRepeats() {
        let batch = entries(["a", "dup", "b", "dup"])
        let response: Document = [
            "Imported": 3,
            "Errors": [.map(["Name": "dup", "ErrorCode": "ResourceExistsException", "Message": "exists"])],
        ]
        // The first "dup" was created; the second one failed. Errors come in entry order, so the second error for a
        // name is the next entry with it.
        let twoErrors: Document = [
            "Imported": 2,
            "Errors": [
                .map(["Name": "dup", "ErrorCode": "ResourceExistsException", "Message": "exists"]),
                .map(["Name": "dup", "ErrorCode": "ResourceExistsException", "Message": "exists"]),
            ],
        ]
        #expect(SecretImport.outcome(response, batch: batch).failures.map(\.line) == [2])
        #expect(SecretImport.outcome(twoErrors, batch: batch).failures.map(\.line) == [2, 4])
        #expect(SecretImport.outcome(response, batch: batch).imported == 3)
    }

    // MARK: Line reader

    func lines(_ input: [UInt8], limit: Int) throws -> [String] {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let writer = Thread(fd: fds[1], bytes: input)
        defer { close(fds[0]) }
        let reader = LineReader(fd: fds[0], limit: limit)
        var out: [String] = []
        while let line = try reader.next({ line -> String in
            switch line {
            case .text(let text): return "\(reader.lineNumber):" + String(decoding: text, as: UTF8.self)
            case .tooLong: return "\(reader.lineNumber):<too long>"
            }
        }) {
            out.append(line)
        }
        writer.join()
        return out
    }

    @Test func theLineReaderSplitsLinesAcrossReads() throws {
        #expect(try lines(Array("a\nbb\n\nccc".utf8), limit: 100) == ["1:a", "2:bb", "3:", "4:ccc"])
        #expect(try lines(Array("a\n".utf8), limit: 100) == ["1:a"])
        #expect(try lines([], limit: 100) == [])
        // Lines longer than the first buffer (64 KiB) grow it.
        let long = String(repeating: "x", count: 150_000)
        #expect(try lines(Array("\(long)\nend".utf8), limit: 1 << 20) == ["1:\(long)", "2:end"])
    }

    @Test func anOverlongLineIsReportedAndSkipped() throws {
        let long = String(repeating: "y", count: 200_000)
        #expect(
            try lines(Array("ok\n\(long)\nafter\n\(long)".utf8), limit: 100_000) == [
                "1:ok", "2:<too long>", "3:after", "4:<too long>",
            ])
    }

    /// Writes bytes into a pipe on a thread (a pipe holds 64 KiB), then closes it.
    final class Thread: @unchecked Sendable {
        // @unchecked: set once before the thread starts, joined once.
        private var thread = pthread_t()
        init(fd: Int32, bytes: [UInt8]) {
            final class Box {
                let fd: Int32
                let bytes: [UInt8]
                init(fd: Int32, bytes: [UInt8]) {
                    self.fd = fd
                    self.bytes = bytes
                }
            }
            let box = Unmanaged.passRetained(Box(fd: fd, bytes: bytes)).toOpaque()
            pthread_create(
                &thread, nil,
                { raw in
                    guard let raw else { return nil }
                    let box = Unmanaged<Box>.fromOpaque(raw).takeRetainedValue()
                    var offset = 0
                    while offset < box.bytes.count {
                        let n = box.bytes.withUnsafeBytes { bytes -> Int in
                            guard let base = bytes.baseAddress else { return -1 }
                            return write(box.fd, base + offset, bytes.count - offset)
                        }
                        if n <= 0 { break }
                        offset += n
                    }
                    close(box.fd)
                    return nil
                }, box)
        }

        func join() { pthread_join(thread, nil) }
    }
}
