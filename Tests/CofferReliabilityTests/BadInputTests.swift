import CofferCore
import CofferProtocol
import CofferSystem
import Glibc
import Testing

/// T15: every input of the bad-input corpus gets a typed error reply or a clean close, the daemon answers a Hello
/// after each, and its memory stays bounded (docs/RELIABILITY.md, "Bad input").
@Suite(.serialized, .enabled(if: Reliability.enabled))
struct BadInputTests {
    static let knownErrors = Set(ErrorCode.allCases.map(\.rawValue))

    @Test func everyBadInputGetsATypedReplyOrACleanCloseAndTheDaemonStaysHealthy() throws {
        let corpus = BadInputCorpus.build()
        #expect(corpus.count >= 2_000)
        let daemon = try Daemon()
        let setup = try daemon.connect()
        _ = try setup.call(
            .createSecret,
            ["Name": .string(BadInputCorpus.target), "SecretString": RequestCatalogue.secret("CANARY-target")])
        let health = try daemon.connect()
        // Warm up (first connections, the admin socket, the policy engine), then take the baseline.
        var warmUp: [String: Int] = [:]
        for input in corpus.prefix(50) { _ = exercise(input, daemon, outcomes: &warmUp) }
        let rssBefore = daemon.rssKiB
        var latencies: [Double] = []
        var failures: [String] = []
        var slowest = ("", 0.0)
        var outcomes: [String: Int] = [:]
        for input in corpus {
            let (milliseconds, failure) = exercise(input, daemon, outcomes: &outcomes)
            latencies.append(milliseconds)
            if milliseconds > slowest.1 { slowest = (input.name, milliseconds) }
            if let failure { failures.append("\(input.name): \(failure)") }
            do {
                _ = try health.call(.hello, [:])
            } catch {
                failures.append("\(input.name): no Hello afterwards: \(error)")
                break
            }
        }
        let rssAfter = daemon.rssKiB
        for failure in failures.prefix(40) { Issue.record(Comment(rawValue: failure)) }
        #expect(failures.isEmpty, "\(failures.count) of \(corpus.count) inputs failed")
        #expect(daemon.isRunning)
        let sorted = latencies.sorted()
        // Generous: only a hang fails here; the 100 ms goal is reported (docs/RELIABILITY.md).
        #expect((sorted.last ?? 0) < 10_000, "slowest: \(slowest.0)")
        #expect(rssAfter - rssBefore < 128 * 1_024, "RSS grew from \(rssBefore) to \(rssAfter) KiB")
        Figures.record("badInput.inputs", "\(corpus.count)")
        Figures.record("badInput.failures", "\(failures.count)")
        Figures.record("badInput.maxLatencyMilliseconds", String(format3(sorted.last ?? 0)))
        Figures.record("badInput.p99LatencyMilliseconds", String(format3(percentile(sorted, 99))))
        Figures.record("badInput.slowestInput", "\"\(slowest.0)\"")
        Figures.record("badInput.rssKiB", "\(rssBefore)->\(rssAfter)")
        let tally = outcomes.sorted { $0.value > $1.value }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        Figures.record("badInput.outcomes", tally)
        // Every kind of outcome the corpus is built to provoke happened.
        for outcome in [
            "close", "response", "SerializationException", "ValidationException", "UnknownOperationException",
            "UnsupportedProtocolVersionException", "AccessDeniedException", "MalformedPolicyDocumentException",
        ] {
            #expect(outcomes[outcome, default: 0] > 0, "no input ended in \(outcome)")
        }
    }

    /// Sends one input on a fresh connection; returns the time to the first reply or close, and what went wrong.
    func exercise(_ input: BadInput, _ daemon: Daemon, outcomes: inout [String: Int]) -> (Double, String?) {
        let connection: RawConnection
        do {
            connection = try RawConnection(path: input.socket == .admin ? daemon.adminSocketPath : daemon.socketPath)
        } catch {
            return (0, "connect: \(error)")
        }
        let started = Monotonic.nanoseconds()
        var sendFailed = false
        do {
            try connection.send(input.bytes)
            if input.halfClose { try connection.fd.shutdown(.write) }
        } catch {
            sendFailed = true  // the daemon may close before taking everything (a length out of range)
        }
        let frame: Frame?
        do {
            frame = try connection.readFrame()
        } catch {
            return (elapsed(started), "no reply and no close: \(error)")
        }
        let milliseconds = elapsed(started)
        switch frame?.header.kind {
        case nil: outcomes["close", default: 0] += 1
        case .response?: outcomes["response", default: 0] += 1
        default:
            let name = (try? frame?.decodeDocument())?["__type"]?.stringValue ?? "?"
            outcomes[name, default: 0] += 1
        }
        switch input.expectation {
        case .silentClose:
            if let frame { return (milliseconds, "expected a close without reply, got \(frame.header)") }
        case .connectionErrorThenClose:
            if let problem = typed(frame, id: WireFormat.connectionErrorRequestID, type: "SerializationException") {
                return (milliseconds, problem)
            }
            if !connection.isClosedByPeer() { return (milliseconds, "the connection stayed open") }
        case .versionErrorThenClose(let id):
            if let problem = typed(frame, id: id, type: "UnsupportedProtocolVersionException") {
                return (milliseconds, problem)
            }
            if !connection.isClosedByPeer() { return (milliseconds, "the connection stayed open") }
        case .reply(let id):
            if sendFailed { return (milliseconds, "the daemon closed while the frame was sent") }
            if let problem = typed(frame, id: id, type: nil) { return (milliseconds, problem) }
            // Body and header errors keep the connection usable (docs/PROTOCOL.md, section 3.3).
            do {
                let hello = try connection.call(.hello, [:])
                if hello["ProtocolVersion"]?.intValue != 1 {
                    return (milliseconds, "Hello on the same connection: \(hello)")
                }
            } catch {
                return (milliseconds, "the connection is unusable afterwards: \(error)")
            }
        }
        return (milliseconds, nil)
    }

    /// Nil if `frame` is a reply to `id` that is a response or a typed error (of `type`, when given).
    func typed(_ frame: Frame?, id: UInt32, type: String?) -> String? {
        guard let frame else { return "closed without a reply" }
        guard frame.header.requestID == id else { return "reply to request \(frame.header.requestID), expected \(id)" }
        guard let body = try? frame.decodeDocument() else { return "the reply body does not decode" }
        switch frame.header.kind {
        case .response:
            return type == nil ? nil : "a response where \(type ?? "") was expected"
        case .error:
            guard let name = body["__type"]?.stringValue, Self.knownErrors.contains(name) else {
                return "untyped error reply \(body)"
            }
            if let type, name != type { return "\(name), expected \(type)" }
            if body["Message"]?.stringValue?.contains("CANARY") == true { return "the message shows a secret value" }
            return nil
        default:
            return "a reply of kind \(frame.header.kind)"
        }
    }

    /// The checks reject what they must.
    @Test func theReplyCheckRejectsWhatItMust() throws {
        #expect(typed(nil, id: 7, type: nil) != nil)
        let untyped = try Frame(
            header: FrameHeader(kind: .error, operationCode: 0x0102, requestID: 7),
            document: ["__type": "Oops", "Message": "x"])
        #expect(typed(untyped, id: 7, type: nil) != nil)
        let leaky = try Frame(
            header: FrameHeader(kind: .error, operationCode: 0x0102, requestID: 7),
            document: ["__type": "ValidationException", "Message": "CANARY-x is bad"])
        #expect(typed(leaky, id: 7, type: nil) != nil)
        let fine = try Frame(
            header: FrameHeader(kind: .error, operationCode: 0x0102, requestID: 7),
            document: ["__type": "ValidationException", "Message": "bad"])
        #expect(typed(fine, id: 7, type: nil) == nil)
        #expect(typed(fine, id: 8, type: nil) != nil)
        #expect(typed(fine, id: 7, type: "SerializationException") != nil)
        // Every expectation the corpus relies on is derived from the bytes.
        #expect(BadInput(name: "", bytes: [0, 0]).expectation == .silentClose)
        #expect(BadInput(name: "", bytes: [0, 0, 0, 3]).expectation == .connectionErrorThenClose)
        #expect(BadInput(name: "", bytes: [0, 0, 0, 12]).expectation == .silentClose)
        #expect(
            BadInput(name: "", bytes: [0, 0, 0, 12, 2, 1, 1, 2, 0, 0, 0, 9, 0, 0, 0, 0]).expectation
                == .versionErrorThenClose(requestID: 9))
    }

    func elapsed(_ started: UInt64) -> Double { Double(Monotonic.nanoseconds() - started) / 1e6 }
}

func format3(_ value: Double) -> String {
    let scaled = (value * 1_000).rounded() / 1_000
    return String(scaled)
}
