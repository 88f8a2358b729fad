import CofferCore
import Glibc
import Synchronization
import Testing

@testable import CofferSystem

@Suite("Event loop primitives: Epoll, EventFD, non-blocking I/O, SignalFD, Thread")
struct EventTests {
    @Test("an EventFD signalled from another thread wakes Epoll.wait; drain resets it")
    func wakeup() throws {
        let epoll = try Epoll()
        let wake = try EventFD()
        #expect(try epoll.descriptor.isCloseOnExec())
        #expect(try wake.descriptor.isCloseOnExec())
        #expect(try wake.descriptor.isNonBlocking())
        try epoll.add(wake.descriptor.rawValue, events: .readable, userData: 42)
        var events: [Epoll.Event] = []
        #expect(try epoll.wait(into: &events, timeoutMilliseconds: 0) == 0)
        #expect(events.isEmpty)

        let thread = try Thread.spawn(name: "coffer-waker") {
            usleep(20_000)
            try? wake.signal()
            try? wake.signal()
        }
        let started = Stopwatch()
        #expect(try epoll.wait(into: &events, timeoutMilliseconds: 5_000) == 1)
        #expect(started.elapsedMilliseconds < 4_000)
        thread.join()
        #expect(events == [Epoll.Event(userData: 42, events: .readable)])
        #expect(try wake.drain() == 2)
        #expect(try wake.drain() == 0)
        #expect(try epoll.wait(into: &events, timeoutMilliseconds: 0) == 0)

        // Modify and remove.
        try epoll.modify(wake.descriptor.rawValue, events: [.readable, .edgeTriggered], userData: 7)
        try wake.signal()
        #expect(try epoll.wait(into: &events, timeoutMilliseconds: 1_000) == 1)
        #expect(events.first?.userData == 7)
        #expect(try epoll.wait(into: &events, timeoutMilliseconds: 0) == 0)  // edge-triggered: reported once
        try epoll.remove(wake.descriptor.rawValue)
        try wake.signal()
        #expect(try epoll.wait(into: &events, timeoutMilliseconds: 0) == 0)
        #expect(throws: SystemError(call: "epoll_ctl(DEL)", errno: ENOENT)) {
            try epoll.remove(wake.descriptor.rawValue)
        }
    }

    @Test("level-triggered readiness, hang-up, and maxEvents")
    func levelTriggered() throws {
        let epoll = try Epoll(maxEvents: 2)
        var pairs: [(FileDescriptor, FileDescriptor)] = []
        for i in 0..<3 {
            let pair = try UnixSocket.pair()
            try pair.0.setNonBlocking()
            try epoll.add(pair.0.rawValue, events: [.readable, .readHangup], userData: UInt64(i))
            try pair.1.writeFully([1])
            pairs.append(pair)
        }
        var events: [Epoll.Event] = []
        #expect(try epoll.wait(into: &events, timeoutMilliseconds: 1_000) == 2)
        #expect(try epoll.wait(into: &events, timeoutMilliseconds: 1_000) == 2)  // still ready: level-triggered
        pairs[0].1.close()
        let seenHangup = try eventually {
            try epoll.wait(into: &events, timeoutMilliseconds: 10)
            return events.contains { $0.userData == 0 && $0.events.contains(.readHangup) }
        }
        #expect(seenHangup)
    }

    @Test("non-blocking read/write/send/writev results: bytes, wouldBlock, closed (no SIGPIPE)")
    func nonBlockingIO() throws {
        let (a, b) = try UnixSocket.pair()
        try a.setNonBlocking()
        try b.setNonBlocking()
        var buffer = [UInt8](repeating: 0, count: 64)
        #expect(try buffer.withUnsafeMutableBytes { try a.read(into: $0) } == .wouldBlock)
        #expect(try Array("hi".utf8).withUnsafeBytes { try b.write($0) } == .bytes(2))
        #expect(try buffer.withUnsafeMutableBytes { try a.read(into: $0) } == .bytes(2))
        #expect(Array(buffer.prefix(2)) == Array("hi".utf8))

        let head: [UInt8] = [0, 0, 0, 3]
        let body: [UInt8] = [7, 8, 9]
        let sent = try head.withUnsafeBytes { h in try body.withUnsafeBytes { bd in try b.sendv([h, bd]) } }
        #expect(sent == .bytes(7))
        let gathered = try head.withUnsafeBytes { h in try body.withUnsafeBytes { bd in try b.writev([h, bd]) } }
        #expect(gathered == .bytes(7))
        #expect(try buffer.withUnsafeMutableBytes { try a.read(into: $0) } == .bytes(14))
        #expect(Array(buffer.prefix(7)) == [0, 0, 0, 3, 7, 8, 9])

        // Fill the socket buffer: writes eventually report wouldBlock.
        let chunk = [UInt8](repeating: 0xAB, count: 65_536)
        var sawWouldBlock = false
        for _ in 0..<1_000 where !sawWouldBlock {
            if try chunk.withUnsafeBytes({ try b.send($0) }) == .wouldBlock { sawWouldBlock = true }
        }
        #expect(sawWouldBlock)

        a.close()
        // EPIPE, and the process is still alive (no SIGPIPE).
        #expect(try eventually { try chunk.withUnsafeBytes { try b.send($0) } == .closed })
        #expect(try chunk.withUnsafeBytes { try b.sendv([$0]) } == .closed)
        #expect(try eventually { try buffer.withUnsafeMutableBytes { try b.read(into: $0) } == .closed })
    }

    @Test("blocking readFully/writeFully, shutdown(write) gives EOF, receive timeout")
    func blockingIO() throws {
        let (a, b) = try UnixSocket.pair()
        let payload = (0..<200_000).map { UInt8(truncatingIfNeeded: $0) }
        let writer = try Thread.spawn(name: "coffer-writer") {
            try? a.writeFully(payload)
            try? a.shutdown(.write)
        }
        var received = [UInt8](repeating: 0, count: 300_000)
        let n = try received.withUnsafeMutableBytes { try b.readFully(into: $0) }
        writer.join()
        #expect(n == payload.count)
        #expect(Array(received.prefix(n)) == payload)

        try b.setReceiveTimeout(milliseconds: 50)
        let (c, d) = try UnixSocket.pair()
        try d.setReceiveTimeout(milliseconds: 50)
        var one = [UInt8](repeating: 0, count: 1)
        #expect(throws: SocketError.timedOut) { try one.withUnsafeMutableBytes { try d.readFully(into: $0) } }
        c.close()
        let refused = eventually {
            do {
                try d.writeFully([1, 2, 3])
                return false
            } catch {
                return error as? SocketError == .closed
            }
        }
        #expect(refused)
        try d.shutdown(.both)
    }

    @Test("descriptor ownership: deinit closes, consume hands the number over")
    func ownership() throws {
        let (a, b) = try UnixSocket.pair()
        try b.setNonBlocking()
        var buffer = [UInt8](repeating: 0, count: 8)
        do {
            let raw = a.consume()
            #expect(!a.isOpen)
            #expect(a.rawValue == -1)
            a.close()  // nothing to close
            // Still open after consume: the peer sees no EOF.
            #expect(try buffer.withUnsafeMutableBytes { try b.read(into: $0) } == .wouldBlock)
            var owner: FileDescriptor? = FileDescriptor(owning: raw)
            #expect(owner?.rawValue == raw)
            owner = nil
            #expect(owner == nil)
        }
        #expect(try eventually { try buffer.withUnsafeMutableBytes { try b.read(into: $0) } == .closed })
    }

    @Test("SignalFD receives a blocked signal sent to this thread, with the sender")
    func signals() throws {
        let signal = try SignalFD(signals: [SIGUSR2])
        defer { try? SignalFD.unblock([SIGUSR2]) }
        #expect(try signal.descriptor.isCloseOnExec())
        #expect(try signal.next() == nil)
        TestSupport.raiseInCurrentThread(SIGUSR2)
        let delivery = try #require(try signal.next())
        #expect(delivery.signal == SIGUSR2)
        #expect(delivery.senderPID == getpid())
        #expect(delivery.senderUID == geteuid())
        #expect(try signal.next() == nil)
    }

    @Test("Thread.spawn names the thread, runs the body with the requested stack, joins")
    func threadName() throws {
        let seen = Mutex<String?>(nil)
        let thread = try Thread.spawn(name: "coffer-a-very-long-thread-name", stackSize: 512 * 1_024) {
            let name = ProcessFacts.readProcFile("/proc/thread-self/comm", limit: 64)
            seen.withLock { $0 = name.map { String(decoding: $0, as: UTF8.self) } }
        }
        thread.join()
        thread.join()  // second join returns at once
        #expect(seen.withLock { $0 } == "coffer-a-very-l\n")
    }
}

/// Milliseconds since creation (CLOCK_MONOTONIC).
struct Stopwatch {
    let start = Monotonic.nanoseconds()
    var elapsedMilliseconds: UInt64 { (Monotonic.nanoseconds() - start) / 1_000_000 }
}
