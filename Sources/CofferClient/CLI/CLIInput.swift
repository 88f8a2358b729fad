import CofferCore
import CofferSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Where the CLI reads secret values from, into wiped-on-release memory.
package enum CLIInput {
    /// The most a value can be: AWS's 65,536-byte limit for SecretString and SecretBinary.
    package static let maxValueBytes = Limits.maxSecretValueBytes

    /// Reads descriptor `fd` (stdin) to its end; more than `limit` bytes is a usage error.
    package static func read(fd: Int32 = 0, limit: Int = maxValueBytes) throws(UsageError) -> SensitiveBytes {
        let input = FileDescriptor(owning: fd)
        defer { _ = input.consume() }  // borrowed: never close stdin
        var count = 0
        let buffer: SensitiveBytes
        do {
            buffer = try SensitiveBytes(count: limit + 1) { raw in count = try input.readFully(into: raw) }
        } catch {
            throw UsageError("Cannot read the value from standard input: \(error).")
        }
        guard count <= limit else {
            throw UsageError("The value is larger than \(limit) bytes, the most a secret can hold.")
        }
        return buffer.withUnsafeBytes { SensitiveBytes(copying: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }

    /// Reads a regular file (not a symlink: Coffer never follows one; use stdin for pipes).
    package static func read(path: String, limit: Int = maxValueBytes) throws(UsageError) -> SensitiveBytes {
        do {
            return try SafeFile.readSensitive(path: path, maxBytes: limit)
        } catch let error as PathError {
            if case .tooLarge = error {
                throw UsageError("\(path) is larger than \(limit) bytes, the most a secret can hold.")
            }
            throw UsageError("Cannot read \(path): \(error).")
        } catch {
            throw UsageError("Cannot read \(path): \(error).")
        }
    }

    /// Opens a file to read line by line (`coffer admin import`): never through a symbolic link, never a terminal
    /// as the controlling one. The caller closes the descriptor.
    package static func open(path: String) throws(UsageError) -> Int32 {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY)
        guard fd >= 0 else {
            let code = errno
            let why = code == ELOOP ? "it is a symbolic link" : SystemError.message(for: code)
            throw UsageError("Cannot read \(path): \(why).")
        }
        return fd
    }

    /// Whether `fd` is a terminal (a value typed by hand, or nothing piped in).
    package static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }
}

/// Writes to the standard streams without Foundation, whole (partial writes and EINTR are retried).
package enum CLIOutputStream {
    package static func write(_ bytes: UnsafeRawBufferPointer, to fd: Int32 = 1) -> Bool {
        let output = FileDescriptor(owning: fd)
        defer { _ = output.consume() }  // borrowed: never close stdout
        do {
            try output.writeFully(bytes)
            return true
        } catch {
            return false
        }
    }

    package static func write(_ text: String, to fd: Int32 = 1) -> Bool {
        guard !text.isEmpty else { return true }
        var text = text
        return text.withUTF8 { write(UnsafeRawBufferPointer($0), to: fd) }
    }
}
