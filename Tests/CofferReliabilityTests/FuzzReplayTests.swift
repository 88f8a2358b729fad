import CofferCore
import CofferCrypto
import CofferFuzzing
import CofferProtocol
import CofferSystem
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Replays every committed fuzz input through its target without the fuzzer runtime: the seed corpora
/// (`Fuzz/Corpus/<target>/`, grown and minimized by `make fuzz`) and every past finding (`Fuzz/Regressions/<target>/`),
/// as SQLite's `fuzzcheck` replays its fuzz findings on every `make test`.
@Suite(.serialized, .enabled(if: Reliability.enabled))
struct FuzzReplayTests {
    static let repository: String = {
        // …/Tests/CofferReliabilityTests/FuzzReplayTests.swift → the repository root.
        String(#filePath).split(separator: "/", omittingEmptySubsequences: false).dropLast(3).joined(separator: "/")
    }()

    @Test(arguments: FuzzTarget.allCases)
    func committedCorpusAndPastFindingsReplayClean(_ target: FuzzTarget) throws {
        let corpus = FuzzCorpus.files(in: "\(Self.repository)/Fuzz/Corpus/\(target.rawValue)")
        let findings = FuzzCorpus.files(in: "\(Self.repository)/Fuzz/Regressions/\(target.rawValue)")
        #expect(corpus.count >= 10, "the \(target.rawValue) corpus is missing or nearly empty")
        for path in corpus + findings {
            guard let bytes = FuzzCorpus.read(path) else {
                Issue.record("cannot read \(path)")
                continue
            }
            let problems = target.run(bytes)
            #expect(problems.isEmpty, "\(path): \(problems.joined(separator: "; "))")
        }
        Figures.record("fuzz.\(target.rawValue).corpusFiles", "\(corpus.count)")
        Figures.record("fuzz.\(target.rawValue).regressionFiles", "\(findings.count)")
    }

    /// Findings not fixed yet (Fuzz/KnownBugs/<target>/, each file named after its bug): they must still fail, so that
    /// a fix is noticed (then move the file to Fuzz/Regressions/). Run with COFFER_KNOWN_BUGS=1: a trap ends the run.
    @Test(
        .disabled(if: !Reliability.knownBugs, "bug: the inputs in Fuzz/KnownBugs trap (docs/RELIABILITY.md, Findings)"))
    func knownBugsStillReproduce() throws {
        for target in FuzzTarget.allCases {
            for path in FuzzCorpus.files(in: "\(Self.repository)/Fuzz/KnownBugs/\(target.rawValue)") {
                guard let bytes = FuzzCorpus.read(path) else { continue }
                #expect(!target.run(bytes).isEmpty, "\(path) no longer fails: move it to Fuzz/Regressions")
            }
        }
    }

    @Test(arguments: FuzzTarget.allCases)
    func generatedSeedsReplayClean(_ target: FuzzTarget) {
        let seeds = FuzzSeeds.seeds(for: target)
        #expect(seeds.count >= 10)
        for seed in seeds {
            let problems = target.run(seed)
            #expect(problems.isEmpty, "\(target.rawValue) seed of \(seed.count) bytes: \(problems)")
        }
    }

    /// The harness checks can fail: a document whose description shows a secret, a reply that leaks the canary.
    @Test func theTargetsReportBrokenInvariants() throws {
        // A frame target input whose framing error is not fatal cannot be built from bytes, so check the property
        // checks directly: a secret member never prints, and an error message with the canary is caught.
        let leaky = ServiceError(.validation, "value FUZZCANARY-db-password is invalid")
        let problems = DispatchProbe.checkError(leaky)
        #expect(!problems.isEmpty)
        #expect(DispatchProbe.checkError(ServiceError(.validation, "nothing secret")).isEmpty)
    }

    /// `COFFER_WRITE_SEEDS=1 make test-reliability` writes the generated seeds into Fuzz/Corpus (then commit them).
    @Test(.enabled(if: Reliability.knob("COFFER_WRITE_SEEDS", default: 0) == 1))
    func writeSeeds() throws {
        for target in FuzzTarget.allCases {
            let directory = "\(Self.repository)/Fuzz/Corpus/\(target.rawValue)"
            mkdir("\(Self.repository)/Fuzz/Corpus", 0o755)
            mkdir(directory, 0o755)
            for seed in FuzzSeeds.seeds(for: target) {
                let name = Digest.sha256(seed).prefix(10).map { String($0, radix: 16).leftPadded(2) }.joined()
                try SafeFile.atomicReplace(path: "\(directory)/seed-\(name)", mode: 0o644, contents: seed)
            }
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
