import CofferCore
import CofferSystem

#if canImport(Glibc)
    import Glibc
#endif

/// `coffer admin unseal`: the passphrase, typed without echo or piped in, held only in wiped-on-release memory.
package enum PassphraseInput {
    /// The most a passphrase may be. Generous for a typed one and for a generated one read from a file.
    package static let maxBytes = 4_096

    /// Why reading stopped without a passphrase.
    package enum Failure: Error, Equatable {
        /// Ctrl-C or Ctrl-D at the prompt.
        case cancelled
        /// Nothing was given.
        case empty
        case invalid(UsageError)
    }

    /// Reads one line from the terminal on `fd` with echo off, after writing `prompt` to stderr. The terminal is
    /// in non-canonical mode with keyboard signals off while it reads, so that Ctrl-C arrives at once as a byte
    /// (cancelling) rather than killing the process with echo still off; the line is edited here (Backspace, Ctrl-U).
    /// Other termination signals wait until the terminal is restored.
    package static func readFromTerminal(prompt: String, fd: Int32 = 0) throws(Failure) -> SensitiveBytes {
        var saved = termios()
        guard tcgetattr(fd, &saved) == 0 else {
            throw .invalid(UsageError("Cannot read the terminal's settings: \(SystemError.message(for: errno))."))
        }
        var quiet = saved
        quiet.c_lflag &= ~tcflag_t(ECHO | ECHONL | ISIG | ICANON | IEXTEN)
        withUnsafeMutableBytes(of: &quiet.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }

        var blocked = sigset_t()
        var previous = sigset_t()
        sigemptyset(&blocked)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP] { sigaddset(&blocked, signal) }
        pthread_sigmask(SIG_BLOCK, &blocked, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }

        _ = CLIOutputStream.write(prompt, to: 2)
        guard tcsetattr(fd, TCSAFLUSH, &quiet) == 0 else {
            throw .invalid(UsageError("Cannot turn the terminal's echo off: \(SystemError.message(for: errno))."))
        }
        defer {
            _ = tcsetattr(fd, TCSAFLUSH, &saved)
            _ = CLIOutputStream.write("\n", to: 2)  // the newline the user typed was not echoed
        }
        let line = try readLine(fd: fd)
        return line
    }

    /// Reads `fd` (a pipe or file) to its end; trailing line ends are removed (as `cofferd restore
    /// --passphrase-stdin` does, so both read the same passphrase from the same file).
    package static func readFromStream(fd: Int32 = 0) throws(Failure) -> SensitiveBytes {
        let raw: SensitiveBytes
        do {
            raw = try CLIInput.read(fd: fd, limit: maxBytes)
        } catch {
            throw .invalid(UsageError("Cannot read the passphrase: \(error.message)"))
        }
        let trimmed = trimmingLineEnds(raw)
        try check(trimmed)
        return trimmed
    }

    /// The bytes without trailing `\n` and `\r`.
    package static func trimmingLineEnds(_ value: SensitiveBytes) -> SensitiveBytes {
        value.withUnsafeBytes { raw -> SensitiveBytes in
            var end = raw.count
            while end > 0, raw[end - 1] == 0x0A || raw[end - 1] == 0x0D { end -= 1 }
            guard end < raw.count else { return value }
            return SensitiveBytes(copying: UnsafeRawBufferPointer(rebasing: raw[0..<end]))
        }
    }

    /// Not empty, UTF-8 (it travels as a string member).
    package static func check(_ passphrase: SensitiveBytes) throws(Failure) {
        guard passphrase.count > 0 else { throw .empty }
        guard passphrase.isValidUTF8 else {
            throw .invalid(UsageError("The passphrase is not UTF-8 text."))
        }
    }

    /// One line, byte by byte: Enter ends it; Backspace/Delete removes the last character, Ctrl-U the whole line;
    /// Ctrl-C cancels, as does Ctrl-D or the end of input on an empty line.
    private static func readLine(fd: Int32) throws(Failure) -> SensitiveBytes {
        var outcome: Result<Int, Failure> = .success(0)
        let buffer = SensitiveBytes(count: maxBytes) { raw in outcome = readLine(fd: fd, into: raw) }
        let length = try outcome.get()
        let line = buffer.withUnsafeBytes { SensitiveBytes(copying: UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
        try check(line)
        return line
    }

    private static func readLine(fd: Int32, into line: UnsafeMutableRawBufferPointer) -> Result<Int, Failure> {
        var count = 0
        var byte: UInt8 = 0
        while true {
            let n = read(fd, &byte, 1)
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(
                    .invalid(UsageError("Cannot read the passphrase: \(SystemError.message(for: errno)).")))
            }
            if n == 0 { return count == 0 ? .failure(.cancelled) : .success(count) }
            switch byte {
            case 0x03:  // Ctrl-C
                return .failure(.cancelled)
            case 0x04:  // Ctrl-D
                if count == 0 { return .failure(.cancelled) }
                return .success(count)
            case 0x0A, 0x0D:
                return .success(count)
            case 0x08, 0x7F:  // Backspace, Delete: one character (a UTF-8 lead byte and its continuations)
                while count > 0 {
                    count -= 1
                    let removed = line[count]
                    line[count] = 0
                    if removed & 0xC0 != 0x80 { break }
                }
            case 0x15:  // Ctrl-U
                for index in 0..<count { line[index] = 0 }
                count = 0
            default:
                guard count < line.count else {
                    return .failure(.invalid(UsageError("The passphrase is longer than \(maxBytes) bytes.")))
                }
                line[count] = byte
                count += 1
            }
            byte = 0
        }
    }
}
