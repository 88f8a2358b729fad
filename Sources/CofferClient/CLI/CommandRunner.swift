import CofferCore
import CofferSystem

#if canImport(Glibc)
    import Glibc
#endif

/// `coffer run`: a command started with secrets added to its environment.
///
/// The environment is built as C strings in memory this type owns and wipes: the values never pass through a Swift
/// `String`, and never through argv. Without files to clean up, ``exec(_:environment:)`` replaces the `coffer`
/// process (`execve`): the command gets coffer's pid, its signals and its exit status directly. With files,
/// ``spawnAndWait(_:environment:)`` runs it as a child, relays signals sent to `coffer` (not those the terminal
/// already sent to the whole process group), and returns how it ended, so that the files are removed afterwards.
package final class ChildEnvironment {
    /// `NAME=value\0` entries: the inherited ones, then the injected ones (an injected name replaces an inherited).
    private var entries: [UnsafeMutableRawBufferPointer] = []

    /// The environment `base` (by default this process's) with `injected` added or replacing. A value holding a NUL
    /// byte cannot be an environment variable: ``UsageError``.
    package init(
        base: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = environ,
        injected: [(name: String, value: SensitiveBytes)]
    ) throws(UsageError) {
        let names = Set(injected.map(\.name))
        if var cursor = base {
            while let entry = cursor.pointee {
                let raw = UnsafeRawBufferPointer(start: entry, count: strlen(entry))
                let name = raw.firstIndex(of: 0x3D).map { String(decoding: raw[..<$0], as: UTF8.self) }
                if name.map({ !names.contains($0) }) ?? true { append(raw, nil) }
                cursor += 1
            }
        }
        for (name, value) in injected {
            let hasNUL = value.withUnsafeBytes { $0.contains(0) }
            guard !hasNUL else {
                throw UsageError(
                    "The value for \(name) contains a NUL byte, which an environment variable cannot hold; use --file.")
            }
            var prefix = Array((name + "=").utf8)
            prefix.withUnsafeBytes { head in value.withUnsafeBytes { append(head, $0) } }
            prefix.removeAll()
        }
    }

    deinit {
        for entry in entries {
            if let base = entry.baseAddress { explicit_bzero(base, entry.count) }
            entry.deallocate()
        }
    }

    private func append(_ head: UnsafeRawBufferPointer, _ tail: UnsafeRawBufferPointer?) {
        let count = head.count + (tail?.count ?? 0)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count + 1, alignment: 1)
        buffer.copyMemory(from: head)
        if let tail, let base = buffer.baseAddress, let source = tail.baseAddress, tail.count > 0 {
            memcpy(base + head.count, source, tail.count)
        }
        buffer[count] = 0
        entries.append(buffer)
    }

    /// Whether a variable of this name is present (for tests).
    package func contains(name: String) -> Bool {
        let prefix = Array((name + "=").utf8)
        return entries.contains { entry in entry.count > prefix.count && entry.starts(with: prefix) }
    }

    /// The `envp` array, valid during `body`.
    func withEnvp<R>(_ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        let pointers = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: entries.count + 1)
        defer { pointers.deallocate() }
        for (index, entry) in entries.enumerated() {
            pointers[index] = entry.baseAddress?.assumingMemoryBound(to: CChar.self)
        }
        pointers[entries.count] = nil
        return body(pointers)
    }
}

/// Starting the command.
package enum CommandRunner {
    /// How a child ended.
    package enum Termination: Equatable {
        case exited(Int32)
        case signalled(Int32)
    }

    /// Why the command could not be started: the exit status follows the shell's convention (127: not found,
    /// 126: found but not executable).
    package struct LaunchError: Error, Equatable, CustomStringConvertible {
        package var command: String
        package var errno: Int32
        package var status: Int32 { errno == ENOENT || errno == ENOTDIR ? 127 : 126 }
        package var description: String { "cannot run \(command): \(SystemError.message(for: errno))." }
    }

    /// The signals relayed to the child; blocked in `coffer` while it waits (and restored in the child).
    static let relayed: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM]

    /// Replaces this process with `arguments[0]` (searched in `$PATH` when it has no `/`, as `execvp` does). Returns
    /// only on failure.
    package static func exec(_ arguments: [String], environment: ChildEnvironment) -> LaunchError {
        guard let command = arguments.first, !command.isEmpty else {
            return LaunchError(command: "", errno: ENOENT)
        }
        signal(SIGPIPE, SIG_DFL)  // ignored dispositions survive execve; the command gets the default
        return withCStrings(arguments) { argv -> LaunchError in
            environment.withEnvp { envp -> LaunchError in
                var lastError = ENOENT
                var sawDenied = false
                for candidate in searchPath(for: command) {
                    _ = execve(candidate, argv, envp)
                    let code = errno
                    switch code {
                    case EACCES:
                        sawDenied = true
                    case ENOENT, ENOTDIR, ESTALE, ENODEV, ETIMEDOUT:
                        break
                    default:
                        return LaunchError(command: command, errno: code)
                    }
                    lastError = code
                }
                return LaunchError(command: command, errno: sawDenied ? EACCES : lastError)
            }
        }
    }

    /// Runs the command as a child and waits for it, relaying signals; returns how it ended.
    package static func spawnAndWait(
        _ arguments: [String], environment: ChildEnvironment
    ) -> Result<Termination, LaunchError> {
        guard let command = arguments.first, !command.isEmpty else {
            return .failure(LaunchError(command: "", errno: ENOENT))
        }
        var waited = sigset_t()
        sigemptyset(&waited)
        for signal in relayed + [SIGCHLD] { sigaddset(&waited, signal) }
        var original = sigset_t()
        pthread_sigmask(SIG_BLOCK, &waited, &original)
        defer { pthread_sigmask(SIG_SETMASK, &original, nil) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in relayed + [SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &original)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var pid: pid_t = 0
        let spawned = withCStrings(arguments) { argv in
            environment.withEnvp { envp in posix_spawnp(&pid, command, nil, &attributes, argv, envp) }
        }
        guard spawned == 0 else { return .failure(LaunchError(command: command, errno: spawned)) }

        while true {
            var info = siginfo_t()
            let signal = sigwaitinfo(&waited, &info)
            if signal < 0 { continue }  // EINTR
            if signal == SIGCHLD {
                var status: Int32 = 0
                let done = waitpid(pid, &status, WNOHANG)
                guard done == pid else { continue }
                let low = status & 0x7F
                return .success(low == 0 ? .exited((status >> 8) & 0xFF) : .signalled(low))
            }
            // A signal from the terminal (SI_KERNEL) already reached the child's process group; one sent to
            // coffer alone (kill, systemd) is passed on.
            if info.si_code <= 0 { kill(pid, signal) }
        }
    }

    /// Ends this process the way the child ended: its exit status, or the same signal (after the caller's
    /// clean-up), so that a shell sees `coffer run` die of SIGINT when the command did.
    package static func exit(like termination: Termination) -> Never {
        switch termination {
        case .exited(let status):
            Glibc.exit(status)
        case .signalled(let number):
            Glibc.signal(number, SIG_DFL)
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, number)
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
            raise(number)
            Glibc.exit(128 + number)
        }
    }

    /// Where `execvp` would look for `command`: itself when it has a `/`, else each `$PATH` directory.
    static func searchPath(
        for command: String, in path: String? = getenv("PATH").map { String(cString: $0) }
    ) -> [String] {
        if command.contains("/") { return [command] }
        let path = path ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":", omittingEmptySubsequences: false).map { directory in
            directory.isEmpty ? command : "\(directory)/\(command)"
        }
    }

    private static func withCStrings<R>(
        _ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R
    ) -> R {
        let pointers = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: strings.count + 1)
        defer {
            for index in 0..<strings.count { free(pointers[index]) }
            pointers.deallocate()
        }
        for (index, string) in strings.enumerated() { pointers[index] = strdup(string) }
        pointers[strings.count] = nil
        return body(pointers)
    }
}
