#if canImport(Glibc)
    import Glibc
#endif

/// Corpus files on disk: the committed seeds (`Fuzz/Corpus/<target>/`) and past findings
/// (`Fuzz/Regressions/<target>/`), replayed by the tests and written by the seed generator.
public enum FuzzCorpus {
    /// A whole file (at most 1 MiB: libFuzzer's inputs are far smaller), or nil.
    public static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while bytes.count <= 1 << 20 {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { return nil }
            if n == 0 { return bytes }
            bytes += buffer[0..<n]
        }
        return nil
    }

    /// The regular files of a directory, sorted by name (empty if it does not exist).
    public static func files(in directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if !name.hasPrefix("."), entry.pointee.d_type == UInt8(DT_REG) { names.append(name) }
        }
        return names.sorted().map { directory + "/" + $0 }
    }
}
