import CofferCore
import CofferCrypto
import CofferSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Master keys in a file (the embedded default key source, and the format of a systemd credential holding the key):
/// created on first start, mode 0600, exclusively (no umask window, no symlink following); read straight into
/// guarded memory.
///
/// Format: the magic `COFFERK1` then the key id (uint32, big-endian) and 32 key bytes (44 bytes); or, while a
/// master-key rotation is in progress, `COFFERK2`, a key count (uint32) and that many id+key pairs.
public enum KeyFile {
    static let magicV1 = Array("COFFERK1".utf8)
    static let magicV2 = Array("COFFERK2".utf8)
    static let entrySize = 4 + MasterKey.byteCount
    /// Size of a one-key file.
    public static let size = 8 + entrySize
    /// Rotation keeps at most a handful of keys at once.
    static let maxKeys = 16

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

    /// Loads the keys at `path`, or creates a new random key there if no file exists. Returns the keys (the newest
    /// last) and whether the file was created.
    public static func loadOrCreate(path: String, newKeyID: UInt32 = 1) throws -> ([MasterKey], created: Bool) {
        if try SafeFile.status(path: path) == nil {
            let key = try MasterKey.generate(id: newKeyID)
            try write([key], to: path, replace: false)
            return ([key], true)
        }
        return (try load(path: path, requirePrivate: true), false)
    }

    /// Reads a key file into guarded memory. Refuses symlinks, wrong sizes and a wrong magic; with
    /// `requirePrivate`, a file readable by group or others or owned by another user is refused too.
    public static func load(path: String, requirePrivate: Bool = true) throws -> [MasterKey] {
        guard let status = try SafeFile.status(path: path) else { throw Failure.missing(path: path) }
        guard status.kind == .regular else { throw PathError.notARegularFile(path: path) }
        if requirePrivate && (status.mode & 0o077 != 0 || status.uid != geteuid()) {
            throw Failure.unsafeMode(path: path, mode: status.mode & 0o7777, owner: status.uid)
        }
        guard status.size >= size, status.size <= 12 + maxKeys * entrySize else { throw Failure.malformed(path: path) }
        let raw = try SecureBytes(count: status.size) { buffer in try SafeFile.readExactly(path: path, into: buffer) }
        return try raw.withUnsafeBytes { bytes -> [MasterKey] in
            let magic = Array(bytes[0..<8])
            var offset: Int
            var count: Int
            if magic == magicV1, bytes.count == size {
                offset = 8
                count = 1
            } else if magic == magicV2, bytes.count >= 12 {
                count = Int(bytes[8..<12].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
                offset = 12
                guard count >= 1, count <= maxKeys, bytes.count == 12 + count * entrySize else {
                    throw Failure.malformed(path: path)
                }
            } else {
                throw Failure.malformed(path: path)
            }
            var keys: [MasterKey] = []
            for _ in 0..<count {
                let id = bytes[offset..<offset + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                let start = offset + 4
                let keyBytes = try SecureBytes(count: MasterKey.byteCount) { out in
                    out.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[start..<start + MasterKey.byteCount]))
                }
                keys.append(try MasterKey(id: id, bytes: keyBytes))
                offset += entrySize
            }
            return keys.sorted { $0.keyID < $1.keyID }
        }
    }

    /// Writes `keys` to `path`: a new file (exclusive) or, with `replace`, an atomic replacement (temp file, fsync,
    /// rename, fsync of the directory). One key is written in the v1 format, several in v2.
    public static func write(_ keys: [MasterKey], to path: String, replace: Bool) throws {
        guard !keys.isEmpty, keys.count <= maxKeys else { throw Failure.malformed(path: path) }
        let total = keys.count == 1 ? size : 12 + keys.count * entrySize
        let content = try SecureBytes(count: total) { out in
            var offset = 0
            func put(_ byte: UInt8) {
                out[offset] = byte
                offset += 1
            }
            func put32(_ value: UInt32) {
                for i in 0..<4 { put(UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32(i)))) }
            }
            for byte in keys.count == 1 ? magicV1 : magicV2 { put(byte) }
            if keys.count > 1 { put32(UInt32(keys.count)) }
            for key in keys {
                put32(key.keyID)
                key.bytes.withUnsafeBytes { source in
                    UnsafeMutableRawBufferPointer(rebasing: out[offset..<offset + MasterKey.byteCount])
                        .copyMemory(from: source)
                }
                offset += MasterKey.byteCount
            }
        }
        try content.withUnsafeBytes { bytes in
            if replace {
                try SafeFile.atomicReplace(path: path, mode: 0o600, contents: bytes)
            } else {
                try SafeFile.createExclusive(path: path, mode: 0o600, contents: bytes)
            }
        }
    }
}
