import CCofferBench
import Glibc

/// A failure of the benchmark itself (not a slow result): the run stops and says why.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }

    /// For the C loops: `rc` is 0 or a negative errno.
    static func check(_ rc: Int32, _ what: String) throws {
        guard rc >= 0 else { throw BenchError("\(what): \(String(cString: strerror(-rc)))") }
    }
}

/// Latency samples in nanoseconds, with nearest-rank percentiles.
struct Samples: Sendable {
    private(set) var sorted: [UInt64] = []

    init(_ values: [UInt64] = []) { sorted = values.sorted() }

    mutating func add(_ values: [UInt64]) {
        sorted.append(contentsOf: values)
        sorted.sort()
    }

    var count: Int { sorted.count }

    /// The `p`-th percentile (0…100) in microseconds; NaN without samples.
    func percentileMicroseconds(_ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return Double(sorted[min(max(rank, 1), sorted.count) - 1]) / 1_000
    }

    var p50: Double { percentileMicroseconds(50) }
    var p99: Double { percentileMicroseconds(99) }

    var meanMicroseconds: Double {
        guard !sorted.isEmpty else { return .nan }
        return Double(sorted.reduce(0, +)) / Double(sorted.count) / 1_000
    }
}

/// The median of a few per-round figures (throughput rounds, policy rounds).
func median(_ values: [Double]) -> Double {
    let finite = values.filter { $0.isFinite }.sorted()
    guard !finite.isEmpty else { return .nan }
    let middle = finite.count / 2
    return finite.count % 2 == 1 ? finite[middle] : (finite[middle - 1] + finite[middle]) / 2
}

/// Reads a whole (small) file; nil if it cannot be opened.
func readTextFile(_ path: String, limit: Int = 1 << 20) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while bytes.count < limit {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Writes `text` to `path` (0644), replacing it atomically through a temporary file.
func writeTextFile(_ path: String, _ text: String) throws {
    let temporary = path + ".tmp"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw BenchError("open \(temporary): \(String(cString: strerror(errno)))") }
    var bytes = Array(text.utf8)
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress.map { $0 + done }, $0.count - done) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else {
            close(fd)
            throw BenchError("write \(temporary): \(String(cString: strerror(errno)))")
        }
        done += n
    }
    bytes.removeAll()
    close(fd)
    guard rename(temporary, path) == 0 else {
        throw BenchError("rename to \(path): \(String(cString: strerror(errno)))")
    }
}

/// `mkdir -p`, mode 0700.
func makeDirectories(_ path: String) throws {
    var prefix = path.hasPrefix("/") ? "" : "."
    for component in path.split(separator: "/") {
        prefix += "/" + component
        if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
            throw BenchError("mkdir \(prefix): \(String(cString: strerror(errno)))")
        }
    }
}

/// `rm -rf` of a directory the benchmark created (one level of files, plus nested directories).
func removeTree(_ path: String) {
    guard let directory = opendir(path) else {
        unlink(path)
        return
    }
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        if name == "." || name == ".." { continue }
        let child = path + "/" + name
        var info = stat()
        if lstat(child, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
            removeTree(child)
        } else {
            unlink(child)
        }
    }
    closedir(directory)
    rmdir(path)
}

/// `/proc/loadavg`'s three averages, as text ("0.52 0.40 0.33").
func loadAverage() -> String {
    guard let text = readTextFile("/proc/loadavg") else { return "unknown" }
    return text.split(separator: " ").prefix(3).joined(separator: " ")
}

/// The one-minute load average as a number.
func loadAverageOneMinute() -> Double {
    Double(loadAverage().split(separator: " ").first.map(String.init) ?? "") ?? .nan
}

/// A `/proc/PID/status` field in KiB (`VmRSS`, `VmHWM`); nil if unavailable.
func procStatusKiB(pid: pid_t, field: String) -> Int? {
    guard let text = readTextFile("/proc/\(pid)/status") else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        let digits = line.dropFirst(field.count + 1).filter { $0.isNumber }
        return Int(String(digits))
    }
    return nil
}

/// The kernel release (`uname -r`).
func kernelRelease() -> String {
    var names = utsname()
    uname(&names)
    return withUnsafeBytes(of: names.release) { raw in
        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
}

/// Current UTC time as ISO 8601 (seconds).
func utcTimestamp() -> String {
    var now = time(nil)
    var parts = tm()
    gmtime_r(&now, &parts)
    func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
        + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
}

/// Sleeps for `milliseconds`.
func pause(milliseconds: Int) {
    var request = timespec(tv_sec: milliseconds / 1_000, tv_nsec: (milliseconds % 1_000) * 1_000_000)
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}

/// A number for the table: `digits` decimals, "—" for NaN.
func format(_ value: Double, _ digits: Int = 1) -> String {
    guard value.isFinite else { return "—" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = String(rounded)
    if let dot = text.firstIndex(of: ".") {
        let decimals = text.distance(from: dot, to: text.endIndex) - 1
        if digits == 0 {
            text = String(text[..<dot])
        } else if decimals < digits {
            text += String(repeating: "0", count: digits - decimals)
        }
    }
    return text
}

/// Pads to `width` columns (left-aligned), or right-aligned with `right`.
func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
    let length = text.count
    guard length < width else { return text }
    let fill = String(repeating: " ", count: width - length)
    return right ? fill + text : text + fill
}

/// Monotonic nanoseconds.
func now() -> UInt64 { cb_now_ns() }
