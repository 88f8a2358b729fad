import CofferCore
import CofferCrypto
import CofferSystem

/// The master key in a file (the embedded default): created on first start, mode 0600, exclusively (no umask
/// window, no symlink following); read straight into guarded memory.
///
/// Format (44 bytes): the magic `COFFERK1`, the key id (uint32, big-endian), the 32 key bytes.
public enum KeyFile {
    static let magic = Array("COFFERK1".utf8)
    public static let size = 8 + 4 + MasterKey.byteCount

    public enum Failure: Error, Sendable, CustomStringConvertible {
        case malformed(path: String)
        case missing(path: String)
        case unsafeMode(path: String, mode: UInt32, owner: UInt32)
        public var description: String {
            switch self {
            case .malformed(let path): return "\(path) is not a Coffer key file"
            case .missing(let path): return "\(path): no key file"
            case .unsafeMode(let path, let mode, let owner):
                return "\(path): key file has mode \(String(mode, radix: 8)) and owner uid \(owner); "
                    + "it must be 0600 (or stricter) and owned by the daemon's user"
            }
        }
    }

    /// Loads the key at `path`, or creates a new random key there if no file exists. Returns the key and whether it
    /// was created.
    public static func loadOrCreate(path: String, newKeyID: UInt32 = 1) throws -> (MasterKey, created: Bool) {
        if try SafeFile.status(path: path) == nil {
            let key = try MasterKey.generate(id: newKeyID)
            try write(key, to: path)
            return (key, true)
        }
        return (try load(path: path), false)
    }

    /// Reads a key file into guarded memory. Refuses symlinks, wrong sizes and a wrong magic; a file readable by
    /// group or others is refused as well (fix its mode to 0600).
    public static func load(path: String) throws -> MasterKey {
        guard let status = try SafeFile.status(path: path) else { throw Failure.missing(path: path) }
        guard status.kind == .regular else { throw PathError.notARegularFile(path: path) }
        if status.mode & 0o077 != 0 || status.uid != geteuid() {
            throw Failure.unsafeMode(path: path, mode: status.mode & 0o7777, owner: status.uid)
        }
        let raw = try SecureBytes(count: size) { buffer in try SafeFile.readExactly(path: path, into: buffer) }
        let (valid, keyID) = raw.withUnsafeBytes { bytes -> (Bool, UInt32) in
            guard Array(bytes[0..<8]) == magic else { return (false, 0) }
            let id = bytes[8..<12].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            return (true, id)
        }
        guard valid else { throw Failure.malformed(path: path) }
        let keyBytes = try raw.withUnsafeBytes { bytes in
            try SecureBytes(count: MasterKey.byteCount) { out in
                out.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[12..<size]))
            }
        }
        return try MasterKey(id: keyID, bytes: keyBytes)
    }

    /// Writes `key` to a new file at `path` (fails if the path exists).
    public static func write(_ key: MasterKey, to path: String) throws {
        let content = try SecureBytes(count: size) { out in
            for (i, byte) in magic.enumerated() { out[i] = byte }
            for i in 0..<4 { out[8 + i] = UInt8(truncatingIfNeeded: key.keyID >> (24 - 8 * UInt32(i))) }
            key.bytes.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(rebasing: out[12..<size]).copyMemory(from: source)
            }
        }
        try content.withUnsafeBytes { bytes in try SafeFile.createExclusive(path: path, mode: 0o600, contents: bytes) }
    }
}

#if canImport(Glibc)
    import Glibc
#endif
