import CofferCore
import CofferProtocol
import CofferVault

#if canImport(Glibc)
    import Glibc
#endif

/// The whole dispatcher against a populated vault (openssh's `agent_fuzz` pattern).
///
/// Input: a byte stream of up to eight frames. Each frame is decoded as the daemon's worker decodes it (framing,
/// header checks, body), then, as the worker does, Hello is negotiated and every other operation goes to its
/// handler: `Vault.handle` (Secrets Manager), `handleIAM` or `handleAdmin`, as the caller chosen by the request
/// id's two low bits (``DispatchEngine/callers``). The reply is encoded as the worker encodes it.
///
/// `Seal` and `RotateMasterKey` are not dispatched: they take no members (their decoding is `checkOnly([])`, run
/// here) and would otherwise seal the fixture or start a background re-encryption on every other input.
///
/// Invariants: no error message shows a seeded value (``DispatchEngine/canary``); the caller without an account or
/// a policy never receives one; every reply encodes as a frame, or is too large and becomes the worker's
/// `InternalServiceError`; a response document survives the codec.
enum DispatchTarget {
    static let maxFrames = 8

    static func run(_ input: UnsafeRawBufferPointer) -> [String] {
        var decoder = FrameDecoder()
        decoder.writeBytes(input)
        var problems: [String] = []
        for _ in 0..<maxFrames {
            let frame: DecodedFrame
            do {
                guard let next = try decoder.readDecodedFrame() else { break }
                frame = next
            } catch {
                _ = error.serviceError  // the connection-level reply; the connection closes
                break
            }
            problems += dispatch(frame)
        }
        return problems
    }

    static func dispatch(_ frame: DecodedFrame) -> [String] {
        let operation: Operation
        do {
            operation = try frame.header.validateRequest()
        } catch {
            return checkReply(frame.header, .failure(error.serviceError), caller: -1)
        }
        let request: Document
        switch frame.document {
        case .success(let document): request = document
        case .failure(let error): return checkReply(frame.header, .failure(error.serviceError), caller: -1)
        }
        return execute(operation, request, header: frame.header, callerIndex: Int(frame.header.requestID & 3))
    }

    /// Runs one decoded request through its handler and checks the reply.
    static func execute(
        _ operation: Operation, _ request: Document, header: FrameHeader, callerIndex: Int
    )
        -> [String]
    {
        if operation == .hello {
            let result = Result { () throws(ServiceError) -> Document in
                _ = try Hello.negotiate(request)
                return Hello.response(server: "cofferd fuzz")
            }
            return checkReply(header, result, caller: callerIndex)
        }
        if operation == .seal || operation == .rotateMasterKey {
            _ = try? request.checkOnly([])
            return []
        }
        let caller = DispatchEngine.callers[callerIndex]
        let result = DispatchEngine.shared.withVault { vault, reader -> Result<Document, ServiceError> in
            switch operation.service {
            case .secretsManager, .protocolControl:
                return vault.perform(operation, request, caller: caller, reader: reader)
            case .iam:
                let reply = OneShot<Result<Document, ServiceError>>()
                vault.handleIAM(operation, request, caller: caller) { reply.fulfill($0) }
                return reply.wait()
            case .admin:
                let reply = OneShot<Result<Document, ServiceError>>()
                vault.handleAdmin(operation, request, caller: caller) { reply.fulfill($0) }
                return reply.wait()
            }
        }
        return checkReply(header, result, caller: callerIndex)
    }

    /// `COFFER_FUZZ_VERBOSE=1`: print each request and its outcome (when replaying a finding).
    static let verbose = getenv("COFFER_FUZZ_VERBOSE") != nil

    static func checkReply(_ header: FrameHeader, _ result: Result<Document, ServiceError>, caller: Int) -> [String] {
        if verbose {
            switch result {
            case .success(let document): FuzzFixture.report("\(header) as caller \(caller): \(document)")
            case .failure(let error): FuzzFixture.report("\(header) as caller \(caller): \(error)")
            }
        }
        var problems: [String] = []
        let canary = Array(DispatchEngine.canary.utf8)
        var out: [UInt8] = []
        switch result {
        case .success(let document):
            do {
                try WireCodec.appendFrame(header: header.reply(.response), document: document, to: &out)
                let body = Array(out.dropFirst(WireFormat.lengthFieldSize + WireFormat.headerSize))
                let again = try WireCodec.decodeDocument(from: body)
                if (try again.encoded()) != body { problems.append("a response does not survive the codec") }
            } catch ProtocolError.frameTooLarge {
                // The worker answers InternalServiceError instead (docs/PROTOCOL.md, BatchGetSecretValue).
            } catch {
                problems.append("a response does not encode: \(error)")
            }
            if caller == 3 {
                for secret in FrameTarget.secrets(in: document) where contains(secret, canary) {
                    problems.append("\(header) returned a seeded value to a caller with no policy")
                }
            }
            wipe(&out)
        case .failure(let error):
            if contains(Array(error.message.utf8), canary) {
                problems.append("\(header): the error message shows a secret value: \(error.code.rawValue)")
            }
            do {
                try WireCodec.appendFrame(header: header.reply(.error), document: ErrorReply(error).document, to: &out)
            } catch {
                problems.append("an error reply does not encode: \(error)")
            }
        }
        return problems
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }
}

/// The dispatch target's reply checks, for the tests that show they can fail.
public enum DispatchProbe {
    /// What ``DispatchTarget`` reports for an error reply (a canary in the message is a finding).
    public static func checkError(_ error: ServiceError) -> [String] {
        DispatchTarget.checkReply(
            FrameHeader(kind: .request, operation: .getSecretValue, requestID: 1), .failure(error), caller: 1)
    }
}
