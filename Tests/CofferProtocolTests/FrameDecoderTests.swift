import CofferCore
import Testing

@testable import CofferProtocol

extension FrameDecoder {
    /// Every complete frame buffered now.
    mutating func drain() throws(ProtocolError) -> [Frame] {
        var frames: [Frame] = []
        while let frame = try readFrame() { frames.append(frame) }
        return frames
    }
}

func summary(_ frames: [Frame]) -> [String] {
    frames.map { "\($0.header) \(Hex.encode($0.body))" }
}

/// swift-nio's decoder-verifier idea: the same stream fed whole, byte by byte and in random chunks gives the same
/// frames.
@Suite struct FrameDecoderTests {
    /// Every spec example back to back: a pipelined stream in both directions at once.
    static let stream: [UInt8] = Spec.examples.flatMap(\.bytes)

    static func expectedFrames() throws -> [Frame] {
        try Spec.examples.map { example in
            var decoder = FrameDecoder()
            decoder.writeBytes(example.bytes)
            return try #require(try decoder.readFrame())
        }
    }

    @Test func allAtOnceOneByteAtATimeAndInChunksAgree() throws {
        let expected = summary(try FrameDecoderTests.expectedFrames())
        #expect(expected.count == Spec.examples.count)

        var whole = FrameDecoder()
        whole.writeBytes(FrameDecoderTests.stream)
        #expect(summary(try whole.drain()) == expected)
        #expect(whole.bufferedBytes == 0)
        #expect(!whole.hasPartialFrame)

        var byteByByte = FrameDecoder()
        var frames: [Frame] = []
        for byte in FrameDecoderTests.stream {
            byteByByte.writeBytes([byte])
            frames += try byteByByte.drain()
        }
        #expect(summary(frames) == expected)
        #expect(byteByByte.bufferedBytes == 0)

        var rng = SplitMix(state: 2026)
        for _ in 0..<50 {
            var chunked = FrameDecoder()
            var chunkedFrames: [Frame] = []
            var index = 0
            while index < FrameDecoderTests.stream.count {
                let size = Int.random(in: 1...200, using: &rng)
                let end = min(index + size, FrameDecoderTests.stream.count)
                chunked.writeBytes(Array(FrameDecoderTests.stream[index..<end]))
                chunkedFrames += try chunked.drain()
                index = end
            }
            #expect(summary(chunkedFrames) == expected)
        }
    }

    @Test func readsStraightIntoTheBuffer() throws {
        let expected = summary(try FrameDecoderTests.expectedFrames())
        var decoder = FrameDecoder()
        var frames: [Frame] = []
        var offset = 0
        let stream = FrameDecoderTests.stream
        while offset < stream.count {
            // Like read(2) with a 7-byte buffer.
            let written = decoder.writeWithUnsafeMutableBytes(minimumWritableBytes: 7) { target in
                let n = min(7, target.count, stream.count - offset)
                stream.withUnsafeBytes { source in
                    target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[offset..<(offset + n)]))
                }
                return n
            }
            offset += written
            frames += try decoder.drain()
        }
        #expect(summary(frames) == expected)

        // A failed read (-1) and an over-report write nothing beyond what fits.
        #expect(decoder.writeWithUnsafeMutableBytes(minimumWritableBytes: 16) { _ in -1 } == 0)
        #expect(decoder.bufferedBytes == 0)
        let capped = decoder.writeWithUnsafeMutableBytes(minimumWritableBytes: 4) { $0.count + 100 }
        #expect(capped == decoder.bufferedBytes)
    }

    @Test func decodesInPlaceInOrder() throws {
        var decoder = FrameDecoder()
        decoder.writeBytes(FrameDecoderTests.stream)
        var ids: [UInt32] = []
        while let decoded = try decoder.readDecodedFrame() {
            ids.append(decoded.header.requestID)
            if decoded.header.version == 1 { _ = try decoded.document.get() }
        }
        #expect(ids == Spec.examples.map { UInt32($0.bytes[8]) << 24 | UInt32($0.bytes[11]) })
    }

    @Test func peeksWithoutConsuming() throws {
        let example = Spec.example("get-secret-value-request")
        var decoder = FrameDecoder()
        decoder.writeBytes(Array(example[0..<3]))
        #expect(try decoder.getFrameLength() == nil)
        decoder.writeBytes(Array(example[3..<10]))
        #expect(try decoder.getFrameLength() == example.count - 4)
        #expect(try decoder.getFrameLength() == example.count - 4)
        #expect(try decoder.readFrame() == nil)
        #expect(decoder.bufferedBytes == 10)
        #expect(decoder.hasPartialFrame)
        var called = false
        #expect(try decoder.readFrame { _, _ in called = true } == nil)
        #expect(!called)
        decoder.writeBytes(Array(example[10...]))
        #expect(try decoder.readFrame()?.header.operation == .getSecretValue)
        #expect(decoder.bufferedBytes == 0)
    }

    static let badLengths: [(UInt32, ProtocolError)] =
        (0..<8).map { (UInt32($0), ProtocolError.frameTooShort(length: UInt32($0))) } + [
            (UInt32(WireFormat.maximumFrameLength + 1), .frameTooLarge(length: WireFormat.maximumFrameLength + 1)),
            (0x8000_0000, .frameTooLarge(length: 0x8000_0000)),
            (0xFFFF_FFFF, .frameTooLarge(length: 0xFFFF_FFFF)),
        ]

    @Test(arguments: badLengths)
    func badLengthsAreRejectedFromThePrefixAlone(_ length: UInt32, _ error: ProtocolError) {
        var decoder = FrameDecoder()
        let prefix = [
            UInt8(length >> 24), UInt8((length >> 16) & 0xFF), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF),
        ]
        decoder.writeBytes(Array(prefix[0..<3]))
        #expect(throws: Never.self) { try decoder.readFrame() }
        decoder.writeBytes([prefix[3]])
        #expect(throws: error) { try decoder.getFrameLength() }
        #expect(throws: error) { try decoder.readFrame() }
        // Fatal: it stays an error, whatever follows.
        decoder.writeBytes([UInt8](repeating: 0, count: 64))
        #expect(throws: error) { try decoder.readDecodedFrame() }
        #expect(error.closesConnection)
        #expect(error.serviceError.code == .serializationError)
        // Nothing was allocated for the announced body.
        #expect(decoder.capacity <= FrameDecoder.initialCapacity)

        decoder.reset()
        #expect(decoder.bufferedBytes == 0)
        #expect(throws: Never.self) { try decoder.readFrame() }
    }

    @Test func theLargestFrameIsAcceptedAndReleasedAfterwards() throws {
        let bodySize = WireFormat.maximumFrameLength - WireFormat.headerSize
        let header = FrameHeader(kind: .request, operation: .putSecretValue, requestID: 9)
        let frame = try Frame(header: header, body: [UInt8](repeating: 0x5A, count: bodySize)).encoded()
        var decoder = FrameDecoder()
        decoder.writeBytes(Array(frame[0..<4]))
        #expect(try decoder.getFrameLength() == WireFormat.maximumFrameLength)
        #expect(decoder.capacity <= FrameDecoder.initialCapacity)
        decoder.writeBytes(Array(frame[4...]))
        #expect(decoder.capacity >= frame.count)
        let read = try #require(try decoder.readFrame())
        #expect(read.body.count == bodySize)
        #expect(decoder.capacity == 0)  // drained and above retainedCapacityLimit: released
    }

    @Test func consumedFramesAreWipedFromTheBuffer() throws {
        let secret = Spec.example("create-secret-request")
        let next = Spec.example("get-secret-value-request")
        var decoder = FrameDecoder()
        decoder.writeBytes(secret + next[0..<5])
        _ = try #require(try decoder.readFrame())
        // The secret's frame is gone from the buffer; only the partial next frame remains.
        let contents = decoder.rawStorage
        #expect(!contents.containsSubsequence(bytes("hunter2")))
        #expect(contents.containsSubsequence(Array(next[0..<5])))
        // A write that does not fit after the partial frame, but does once it slides to the front: compaction,
        // not growth, and the bytes it slid are zeroed where they were.
        let capacity = decoder.capacity
        let filler = capacity - (secret.count + 5) + 1 - (next.count - 5)
        decoder.writeBytes(Array(next[5...]) + [UInt8](repeating: 0xEE, count: filler))
        #expect(decoder.capacity == capacity)
        #expect(!decoder.rawStorage.containsSubsequence(bytes("hunter2")))
        #expect(try decoder.readFrame()?.header.requestID == 3)
        #expect(!decoder.rawStorage.containsSubsequence(Array(next[8..<20])))
    }

    @Test func copiesAreIndependent() throws {
        let example = Spec.example("hello-request")
        var original = FrameDecoder()
        original.writeBytes(Array(example[0..<20]))
        var copy = original
        copy.writeBytes(Array(example[20...]))
        #expect(try copy.readFrame()?.header.operation == .hello)
        #expect(original.bufferedBytes == 20)
        #expect(try original.readFrame() == nil)
        original.writeBytes(Array(example[20...]))
        #expect(try original.readFrame()?.header.operation == .hello)
    }

    @Test func headersAreYieldedWhateverTheirFields() throws {
        // Unknown version, reserved kind, unknown operation: still frames; validateRequest judges them.
        let cases: [(FrameHeader, ProtocolError)] = [
            (FrameHeader(version: 0, kind: .request, operationCode: 0x0102, requestID: 1), .unsupportedVersion(0)),
            (FrameHeader(version: 255, kind: .request, operationCode: 0x0102, requestID: 1), .unsupportedVersion(255)),
            (
                FrameHeader(kind: FrameKind(rawValue: 0), operationCode: 0x0102, requestID: 1),
                .unexpectedKind(FrameKind(rawValue: 0))
            ),
            (FrameHeader(kind: .response, operationCode: 0x0102, requestID: 1), .unexpectedKind(.response)),
            (FrameHeader(kind: .error, operationCode: 0x0102, requestID: 1), .unexpectedKind(.error)),
            (
                FrameHeader(kind: FrameKind(rawValue: 0xFF), operationCode: 0x0102, requestID: 1),
                .unexpectedKind(FrameKind(rawValue: 0xFF))
            ),
            (FrameHeader(kind: .request, operationCode: 0x0000, requestID: 1), .unknownOperation(0)),
            (FrameHeader(kind: .request, operationCode: 0xFFFF, requestID: 1), .unknownOperation(0xFFFF)),
        ]
        for (header, expected) in cases {
            var decoder = FrameDecoder()
            decoder.writeBytes(try Frame(header: header, document: Document()).encoded())
            let frame = try #require(try decoder.readFrame())
            #expect(frame.header == header)
            #expect(throws: expected) { try frame.header.validateRequest() }
            #expect(expected.closesConnection == (expected == .unsupportedVersion(header.version)))
        }
        let valid = FrameHeader(kind: .request, operation: .getSecretValue, requestID: 1)
        #expect(try valid.validateRequest() == .getSecretValue)
        #expect(ProtocolError.unexpectedKind(.response).serviceError.code == .serializationError)
    }

    @Test func everyOperationCodeRoundTripsThroughAHeader() throws {
        for operation in Operation.allCases {
            let header = FrameHeader(kind: .request, operation: operation, requestID: UInt32(operation.rawValue) << 8)
            let frame = try WireCodec.encodeFrame(header: header, document: Document())
            #expect(frame[6] == UInt8(operation.rawValue >> 8))
            #expect(frame[7] == UInt8(operation.rawValue & 0xFF))
            let decoded = try #require(try Frame.decodeFromStart(frame))
            #expect(decoded.header.operation == operation)
            #expect(Operation(name: operation.name) == operation)
        }
        #expect(Set(Operation.allCases.map(\.rawValue)).count == Operation.allCases.count)
    }
}

extension FrameDecoder {
    var capacity: Int { rawStorageCapacity }
}

extension [UInt8] {
    func containsSubsequence(_ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= count else { return needle.isEmpty }
        for start in 0...(count - needle.count) where self[start..<(start + needle.count)].elementsEqual(needle) {
            return true
        }
        return false
    }
}
