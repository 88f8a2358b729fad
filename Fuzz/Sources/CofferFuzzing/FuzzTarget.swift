import CofferCore

/// The fuzz targets (docs/RELIABILITY.md, "Fuzzing").
///
/// Each target takes one input and returns the invariants the input broke (empty: nothing found). Under libFuzzer
/// (`coffer-fuzz`, built with `-sanitize=fuzzer,address -DFUZZING`) a non-empty result aborts, which libFuzzer
/// records as a crash; the corpus-replay tests (`CofferReliabilityTests/FuzzReplayTests`) feed every committed
/// corpus file and past crash through the same function and expect an empty result. A trap or a sanitizer report
/// in product code is a finding either way.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// The frame decoder (chunked and whole), the document codec (decode, re-encode, decode) and the header checks.
    case frame
    /// The whole dispatcher, as the openssh `agent_fuzz` harness does it: frames decoded from the input run through
    /// `Vault.handle`, `handleIAM` and `handleAdmin` against a populated vault, as one of four fixed callers.
    case dispatch
    /// The policy parser (every policy kind) and the evaluator, with metamorphic checks (deny always wins).
    case policy
    /// The admin socket's request decoding: IAM and administration operations from a binary or JSON document.
    case admin

    /// Runs one input.
    public func run(_ input: UnsafeRawBufferPointer) -> [String] {
        switch self {
        case .frame: return FrameTarget.run(input)
        case .dispatch: return DispatchTarget.run(input)
        case .policy: return PolicyTarget.run(input)
        case .admin: return AdminTarget.run(input)
        }
    }

    public func run(_ input: [UInt8]) -> [String] { input.withUnsafeBytes { run($0) } }

    /// A line on standard error.
    public static func report(_ line: String) { FuzzFixture.report(line) }

    /// The target named by `COFFER_FUZZ_TARGET` (how `coffer-fuzz` passes the choice to libFuzzer's child
    /// processes), `frame` when unset.
    public static let selected: FuzzTarget = {
        guard let raw = getenv("COFFER_FUZZ_TARGET") else { return .frame }
        return FuzzTarget(rawValue: String(cString: raw)) ?? .frame
    }()
}

/// Workarounds for known, reported bugs, so that fuzzing continues past them. `COFFER_KNOWN_BUGS=1` turns them off
/// (the replay of Fuzz/KnownBugs/ then shows each bug; once fixed, its inputs move to Fuzz/Regressions/).
public enum KnownBugs {
    public static let enabled: Bool = getenv("COFFER_KNOWN_BUGS").map { String(cString: $0) == "1" } ?? false
}

#if canImport(Glibc)
    import Glibc
#endif
