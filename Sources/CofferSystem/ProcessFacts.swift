import CCofferSys
import Glibc

/// Facts about a peer process read from `/proc`, pinned to the process through its pidfd.
///
/// With a pidfd (``PeerCredentials/pidfd``) the read is race-free: `/proc/<pid>/exe` and `/proc/<pid>/cgroup` are
/// read first, then the pidfd is checked to still name a live (unreaped) process whose pid is `pid` (fdinfo `Pid:`
/// line, plus `pidfd_send_signal(0)`). A pid number cannot be reused while its process is unreaped, so if the check
/// passes afterwards, the `/proc` entries read before belonged to that process. If it fails, ``read(pid:pidfd:)``
/// returns nil: fail closed (threat T10).
///
/// Without a pidfd (kernels before 6.5) the facts are ``isPinned`` = false: the peer may have exited and its pid been
/// reused by another process between `connect` and the read, so they must not be used to grant access on their own.
///
/// Reading another user's `/proc/<pid>/exe` needs ptrace-read permission: a daemon not running as root gets nil for
/// other users' executables (the cgroup file is world-readable).
public struct ProcessFacts: Sendable, Equatable {
    /// `readlink /proc/<pid>/exe`: absolute path of the executable (with `" (deleted)"` appended by the kernel if it
    /// was replaced or removed since exec). Nil for kernel threads, zombies, or without permission.
    public var executablePath: String?
    /// The contents of `/proc/<pid>/cgroup` (see ``SystemdUnit/parse(cgroupFile:)``).
    public var cgroup: String?
    /// True when a pidfd confirmed, after the reads, that they were about the connecting process.
    public var isPinned: Bool

    public init(executablePath: String?, cgroup: String?, isPinned: Bool) {
        self.executablePath = executablePath
        self.cgroup = cgroup
        self.isPinned = isPinned
    }

    /// The systemd unit (system manager) the process runs in, if any.
    public var systemdUnit: String? { cgroup.flatMap { SystemdUnit.parse(cgroupFile: $0) } }

    /// Reads the executable path and cgroup of `pid`, then re-checks through `pidfd` (see the type's documentation).
    /// Nil if the check fails (the process exited or `pidfd` is not `pid`'s process) or `pid` is not positive.
    public static func read(pid: Int32, pidfd: FileDescriptor?) -> ProcessFacts? {
        guard pid > 0 else { return nil }
        let executable = readLink("/proc/\(pid)/exe")
        let cgroup = readProcFile("/proc/\(pid)/cgroup", limit: 65_536).flatMap {
            String(validating: $0, as: UTF8.self)
        }
        guard let pidfd else { return ProcessFacts(executablePath: executable, cgroup: cgroup, isPinned: false) }
        guard isAlive(pidfd), ProcessFacts.pid(ofPidfd: pidfd) == pid else { return nil }
        return ProcessFacts(executablePath: executable, cgroup: cgroup, isPinned: true)
    }

    /// The pid a pidfd refers to, from `/proc/self/fdinfo/<fd>` (`Pid:` line): -1 once the process has been reaped,
    /// nil if it cannot be read.
    public static func pid(ofPidfd pidfd: FileDescriptor) -> Int32? {
        guard let bytes = readProcFile("/proc/self/fdinfo/\(pidfd.rawValue)", limit: 8_192),
            let text = String(validating: bytes, as: UTF8.self)
        else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("Pid:") {
            return Int32(line.dropFirst(4).trimmingSpaces)
        }
        return nil
    }

    /// Opens a pidfd for `pid` (`pidfd_open`, close-on-exec by definition).
    public static func openPidfd(pid: Int32) throws -> FileDescriptor {
        FileDescriptor(owning: try retryingEINTR("pidfd_open") { coffer_pidfd_open(pid) })
    }

    /// `pidfd_send_signal(pidfd, 0)`: 0 or EPERM (exists, owned by someone we may not signal) means not yet reaped.
    static func isAlive(_ pidfd: FileDescriptor) -> Bool {
        let fd = pidfd.rawValue
        do {
            _ = try retryingEINTR("pidfd_send_signal") { coffer_pidfd_send_signal(fd, 0) }
            return true
        } catch let error as SystemError {
            return error.errno == EPERM
        } catch {
            return false
        }
    }

    static func readLink(_ path: String) -> String? {
        guard !path.utf8.contains(0) else { return nil }
        var capacity = 256
        while capacity <= 65_536 {
            var buffer = [CChar](repeating: 0, count: capacity)
            let n = path.withCString { p in
                buffer.withUnsafeMutableBufferPointer { b in b.baseAddress.map { readlink(p, $0, capacity) } ?? -1 }
            }
            if n < 0 { return nil }
            if n < capacity { return String(validating: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
            capacity *= 4  // possibly truncated: grow
        }
        return nil
    }

    /// Reads a `/proc` file (their `st_size` is 0, so read until EOF), at most `limit` bytes.
    static func readProcFile(_ path: String, limit: Int) -> [UInt8]? {
        guard
            let fd = try? withPath(path, { p in try retryingEINTR("open") { open(p, O_RDONLY | O_CLOEXEC) } })
        else { return nil }
        let file = FileDescriptor(owning: fd)
        var bytes = [UInt8](repeating: 0, count: limit)
        guard let n = try? bytes.withUnsafeMutableBytes({ try file.readFully(into: $0) }) else { return nil }
        bytes.removeLast(limit - n)
        return bytes
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text = text.dropLast() }
        return text
    }
}
