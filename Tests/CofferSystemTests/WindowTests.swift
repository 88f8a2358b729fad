import CofferCore
import Glibc
import Synchronization
import Testing

@testable import CofferSystem

/// Threat T12 (reliability-and-threats.md): another uid must never reach a socket meant for root, not even during
/// the moment between `bind` (which creates the file with `0777 & ~umask`) and the `chmod` to the final mode.
@Suite("T12: no window between bind and the final socket mode")
struct WindowTests {
    static func directory(parent: Int32) -> String { "/tmp/coffer-t12-\(parent)" }

    @Test("1,000 bind cycles of a 0600 socket under umask 0 while uid 65534 loops connect(): none succeeds")
    func noWindow() async throws {
        let dir = Self.directory(parent: getpid())
        removeTree(dir)
        mkdir(dir, 0o755)
        chmod(dir, 0o755)
        mkdir("\(dir)/flags", 0o777)
        chmod("\(dir)/flags", 0o777)
        defer { removeTree(dir) }
        let cycles = Mutex(0)
        let binder = try Thread.spawn(name: "coffer-t12") {
            // The child is a fresh process of this test binary: allow for a slow start (sanitizers, loaded CI).
            var ready = false
            for _ in 0..<60_000 where !ready {
                ready = (try? SafeFile.status(path: "\(dir)/flags/ready")) != nil
                if !ready { usleep(1_000) }
            }
            guard ready else { return }
            withUmask(0) {
                for _ in 0..<1_000 {
                    guard let listener = try? UnixListener.bind(path: "\(dir)/api.sock", mode: 0o600) else { continue }
                    listener.removeSocketFile()
                    listener.descriptor.close()
                    cycles.withLock { $0 += 1 }
                }
            }
            writeFile("\(dir)/flags/done", "")
        }
        await #expect(processExitsWith: .success) {
            let dir = WindowTests.directory(parent: getppid())
            guard setgroups(0, nil) == 0, setegid(65_534) == 0, seteuid(65_534) == 0 else { exit(2) }
            writeFile("\(dir)/flags/ready", "")
            var connected = 0
            var denied = 0
            let deadline = Monotonic.nanoseconds() + 60_000_000_000
            while (try? SafeFile.status(path: "\(dir)/flags/done")) == nil, Monotonic.nanoseconds() < deadline {
                do {
                    _ = try UnixSocket.connect(path: "\(dir)/api.sock")
                    connected += 1
                } catch SocketError.permissionDenied {
                    denied += 1
                } catch {
                    // no socket, or not listening yet/any more
                }
            }
            // Fails if any connect got through, or if the loop never met a live 0600 socket (a vacuous pass).
            exit(connected > 0 ? 10 + Int32(min(connected, 50)) : denied == 0 ? 1 : 0)
        }
        binder.join()
        #expect(cycles.withLock { $0 } == 1_000)
    }
}
