import CofferCore
import CofferProtocol
import CofferSystem
import Glibc
import Testing

/// The real daemon over its real socket: protocol behaviour, limits, bad input, restarts.
@Suite(.serialized) struct DaemonTests {
    func configFile(_ daemon: Daemon, _ json: String) -> String {
        let path = daemon.root + "/config.json"
        _ = try? SafeFile.createExclusive(path: path, mode: 0o600, contents: Array(json.utf8))
        return path
    }

    @Test func helloAndSocketModes() throws {
        let daemon = try Daemon()
        let hello = try daemon.hello()
        #expect(hello["ProtocolVersion"]?.intValue == 1)
        #expect(hello["Server"]?.stringValue?.hasPrefix("cofferd ") == true)
        #expect(try SafeFile.fileMode(path: daemon.socketPath) == 0o666)
        #expect(try SafeFile.fileMode(path: daemon.stateDirectory) == 0o700)
        #expect(try SafeFile.fileMode(path: daemon.stateDirectory + "/master.key") == 0o600)
        #expect(try SafeFile.fileMode(path: daemon.stateDirectory + "/vault.db") == 0o600)
        #expect(daemon.stop() == 0)
        #expect(try SafeFile.status(path: daemon.socketPath) == nil)  // removed on a clean stop
    }

    @Test func pipelinedRequestsAreAnsweredByID() throws {
        let daemon = try Daemon()
        let c = try daemon.connect()
        _ = try c.call(.createSecret, ["Name": "p", "SecretString": "v0"])
        // A write (fsync) then many reads, all sent before reading anything.
        var sent: [UInt32: Operation] = [:]
        sent[try c.sendRequest(.putSecretValue, ["SecretId": "p", "SecretString": "v1"], id: 1_000)] = .putSecretValue
        for i in 0..<50 {
            sent[try c.sendRequest(.describeSecret, ["SecretId": "p"], id: UInt32(2_000 + i))] = .describeSecret
        }
        sent[try c.sendRequest(.getSecretValue, ["SecretId": "missing"], id: 3_000)] = .getSecretValue
        var order: [UInt32] = []
        while order.count < sent.count {
            guard let frame = try c.readFrame() else {
                Issue.record("connection closed")
                return
            }
            order.append(frame.header.requestID)
            let op = sent[frame.header.requestID]
            #expect(op != nil)
            #expect(frame.header.operationCode == op?.rawValue)
            if frame.header.requestID == 3_000 { #expect(frame.header.kind == .error) }
        }
        #expect(Set(order) == Set(sent.keys))
        // Reads did not wait behind the write: the write's reply was not first.
        #expect(order.first != 1_000)
    }

    @Test func dataSurvivesARestartAndACrash() throws {
        let daemon = try Daemon()
        var c = try daemon.connect()
        for i in 0..<20 { _ = try c.call(.createSecret, ["Name": .string("r\(i)"), "SecretString": .string("v\(i)")]) }
        try daemon.restart()
        c = try daemon.connect()
        for i in 0..<20 {
            let value = try c.call(.getSecretValue, ["SecretId": .string("r\(i)")])
            #expect(value["SecretString"]?.secretText == "v\(i)")
        }
        _ = try c.call(.putSecretValue, ["SecretId": "r0", "SecretString": "after"])
        daemon.crash()  // SIGKILL right after an acknowledged write
        try daemon.start()
        c = try daemon.connect()
        #expect(try c.call(.getSecretValue, ["SecretId": "r0"])["SecretString"]?.secretText == "after")
    }

    @Test func malformedFramesGetTypedErrorsAndOthersAreServed() throws {
        let daemon = try Daemon()
        let good = try daemon.connect()
        _ = try good.call(.createSecret, ["Name": "ok", "SecretString": "fine"])
        let header = { (op: UInt16, kind: UInt8, version: UInt8) -> [UInt8] in
            [version, kind, UInt8(op >> 8), UInt8(op & 0xFF), 0, 0, 0, 7]
        }
        func frame(
            _ body: [UInt8], op: UInt16 = Operation.getSecretValue.rawValue, kind: UInt8 = 1, version: UInt8 = 1
        )
            -> [UInt8]
        {
            let length = UInt32(8 + body.count)
            return [
                UInt8(length >> 24), UInt8((length >> 16) & 0xFF), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF),
            ]
                + header(op, kind, version) + body
        }
        let validBody = try WireCodec.encode(["SecretId": "ok"])
        // (bytes, expected error type, connection closes?)
        let cases: [(String, [UInt8], String, Bool)] = [
            ("length below header", [0, 0, 0, 3, 1, 2, 3], "SerializationException", true),
            ("length too large", [0x7F, 0xFF, 0xFF, 0xFF], "SerializationException", true),
            ("length 2^32-1", [0xFF, 0xFF, 0xFF, 0xFF], "SerializationException", true),
            ("unknown operation", frame(validBody, op: 0x7777), "UnknownOperationException", false),
            ("response kind sent", frame(validBody, kind: 2), "SerializationException", false),
            ("bad version", frame(validBody, version: 9), "UnsupportedProtocolVersionException", true),
            ("truncated document", frame(Array(validBody.dropLast(2))), "SerializationException", false),
            ("bad tag", frame([0, 1, 0, 8] + Array("SecretId".utf8) + [0x77]), "SerializationException", false),
            (
                "bad UTF-8", frame([0, 1, 0, 8] + Array("SecretId".utf8) + [0x04, 0, 0, 0, 2, 0xC3, 0x28]),
                "SerializationException", false
            ),
            (
                "duplicate key",
                frame(
                    try WireCodec.encode(["SecretId": "a"]).dropFirst(2).reduce([0, 2]) { $0 + [$1] }
                        + Array(try WireCodec.encode(["SecretId": "a"]).dropFirst(2))), "SerializationException", false
            ),
            ("missing field", frame(try WireCodec.encode([:])), "ValidationException", false),
            (
                "admin op on client socket", frame(try WireCodec.encode([:]), op: Operation.status.rawValue),
                "AccessDeniedException", false
            ),
        ]
        for (name, bytes, expected, closes) in cases {
            let bad = try daemon.connect()
            try bad.send(bytes)
            guard let reply = try bad.readFrame() else {
                Issue.record("\(name): no reply")
                continue
            }
            #expect(reply.header.kind == .error, "\(name)")
            let body = try reply.decodeDocument()
            #expect(body["__type"]?.stringValue == expected, "\(name): \(body)")
            if closes {
                #expect(bad.isClosedByPeer(), "\(name): expected the daemon to close")
            } else {
                // The same connection still works.
                #expect(
                    try bad.call(.getSecretValue, ["SecretId": "ok"])["SecretString"]?.secretText == "fine", "\(name)")
            }
            // And other clients were never disturbed.
            #expect(try good.call(.getSecretValue, ["SecretId": "ok"])["SecretString"]?.secretText == "fine")
        }
        #expect(daemon.isRunning)
    }

    @Test func slowClientIsCutOffAtTheDeadlineWithoutStallingOthers() throws {
        let daemon = try Daemon(start: false)
        daemon.extraArguments = ["--config", configFile(daemon, #"{"frameDeadlineMilliseconds": 1500}"#)]
        try daemon.start()
        let slow = try daemon.connect()
        let good = try daemon.connect()
        _ = try good.call(.createSecret, ["Name": "s", "SecretString": "v"])
        let frame = try WireCodec.encodeFrame(
            header: FrameHeader(kind: .request, operation: .getSecretValue, requestID: 1), document: ["SecretId": "s"])
        let started = Monotonic.milliseconds()
        var cut = false
        for byte in frame {
            guard (try? slow.send([byte])) != nil else {
                cut = true
                break
            }
            // Meanwhile the good client is served promptly.
            let t0 = Monotonic.milliseconds()
            _ = try good.call(.getSecretValue, ["SecretId": "s"])
            #expect(Monotonic.milliseconds() - t0 < 1_000)
            usleep(400_000)
            if slow.isClosedByPeerNonBlocking() {
                cut = true
                break
            }
        }
        #expect(cut)
        let elapsed = Monotonic.milliseconds() - started
        #expect(elapsed >= 1_400 && elapsed < 4_000, "cut after \(elapsed) ms")
    }

    @Test func staleSocketIsReplacedAndALiveOneRefused() throws {
        let daemon = try Daemon()
        // A second daemon on the same socket path refuses to start (and does not steal the socket).
        let second = try Daemon(start: false)
        let result = try Subprocess.run([
            Daemon.cofferd, "--state-dir", second.stateDirectory, "--socket", daemon.socketPath, "--admin-socket",
            second.adminSocketPath,
        ])
        #expect(result.status != 0)
        #expect(result.stderrText.contains("in use"))
        _ = try daemon.hello()
        // A crash leaves a stale socket file; the next start replaces it.
        daemon.crash()
        #expect(try SafeFile.status(path: daemon.socketPath)?.kind == .socket)
        try daemon.start()
        _ = try daemon.hello()
    }

    @Test func symlinkedSocketPathIsRefused() throws {
        let daemon = try Daemon(start: false)
        _ = try SafeFile.ensurePrivateDirectory(path: daemon.root + "/run", mode: 0o755)
        symlink("/etc/passwd", daemon.socketPath)
        let result = try Subprocess.run([
            Daemon.cofferd, "--state-dir", daemon.stateDirectory, "--socket", daemon.socketPath,
        ])
        #expect(result.status != 0)
        #expect(result.stderrText.contains("symbolic link"))
        var info = stat()
        #expect(lstat("/etc/passwd", &info) == 0 && info.st_mode & S_IFMT == S_IFREG)
    }

    @Test func gracefulStopAnswersInFlightWrites() throws {
        let daemon = try Daemon()
        let c = try daemon.connect()
        _ = try c.call(.createSecret, ["Name": "g", "SecretString": "0"])
        for i in 0..<20 {
            try c.sendRequest(.putSecretValue, ["SecretId": "g", "SecretString": .string("\(i)")], id: UInt32(100 + i))
        }
        kill(daemon.pid, SIGTERM)
        var answered = 0
        while let frame = try c.readFrame() {
            #expect(frame.header.kind == .response)
            answered += 1
        }
        #expect(answered == 20)
        #expect(daemon.stop() == 0)
    }

    @Test func connectionCapPerUID() throws {
        let daemon = try Daemon(start: false)
        daemon.extraArguments = ["--config", configFile(daemon, #"{"maxConnectionsPerUID": 3}"#)]
        try daemon.start()
        usleep(300_000)  // the readiness probe's connection is released once the daemon sees it close
        let held = try (0..<3).map { _ in try daemon.connect() }
        for connection in held { _ = try connection.call(.hello, [:]) }
        let extra = try daemon.connect()
        let reply = try extra.readFrame()
        #expect(reply?.header.kind == .error)
        #expect((try reply?.decodeDocument())?["__type"]?.stringValue == "ThrottlingException")
        #expect(extra.isClosedByPeer())
        _ = held
    }
}

extension Value {
    var secretText: String? {
        if case .secret(let bytes, _) = self { return String(decoding: bytes.copyBytes(), as: UTF8.self) }
        return nil
    }
}

extension RawConnection {
    /// Non-blocking check for EOF (MSG_PEEK | MSG_DONTWAIT).
    func isClosedByPeerNonBlocking() -> Bool {
        var byte: UInt8 = 0
        let n = recv(fd.rawValue, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }
}
