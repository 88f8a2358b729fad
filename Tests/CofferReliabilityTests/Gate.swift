import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The reliability suite runs only under `make test-reliability` (or its long forms), which sets
/// `COFFER_RELIABILITY=1`: it kills daemons, fills file systems, changes pid counters and opens a thousand
/// connections, so it runs on its own, serialized, after the unit and integration suites (docs/RELIABILITY.md).
enum Reliability {
    static let enabled: Bool = getenv("COFFER_RELIABILITY").map { String(cString: $0) == "1" } ?? false

    /// `COFFER_KNOWN_BUGS=1` runs the tests disabled for known bugs (each says `bug: …` and where), to check a fix.
    static let knownBugs: Bool = getenv("COFFER_KNOWN_BUGS").map { String(cString: $0) == "1" } ?? false

    /// An integer knob from the environment (cycle counts, sizes of the long runs).
    static func knob(_ name: String, default value: Int) -> Int {
        getenv(name).flatMap { Int(String(cString: $0)) } ?? value
    }
}
