// coffer-fuzz: the libFuzzer driver for the targets in CofferFuzzing (docs/RELIABILITY.md, "Fuzzing").
//
//     coffer-fuzz <frame|dispatch|policy|admin> [libFuzzer flags] [corpus directories or files]
//
// Built for fuzzing with `make fuzz` (`-sanitize=fuzzer,address -DFUZZING`, scratch path .build-fuzz). The
// target's name travels in COFFER_FUZZ_TARGET, so libFuzzer's child processes (-jobs, -fork, -merge) pick the same
// target. In an ordinary build (`swift build`, `make test`) there is no fuzzer runtime: the same command replays
// the given files through the target and reports what each one broke (a reproducer for findings).
import CofferFuzzing

#if canImport(Glibc)
    import Glibc
#endif

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    let problems = FuzzTarget.selected.run(input)
    if !problems.isEmpty {
        for problem in problems { FuzzTarget.report("coffer-fuzz: \(FuzzTarget.selected.rawValue): \(problem)") }
        abort()  // libFuzzer records the input as a crash
    }
    return 0
}

/// `coffer-fuzz <target> …`: the target goes to the environment, the other arguments stay in order.
func takeTargetArgument() -> [String] {
    var arguments = CommandLine.arguments
    if arguments.count > 1, let target = FuzzTarget(rawValue: arguments[1]) {
        setenv("COFFER_FUZZ_TARGET", target.rawValue, 1)
        arguments.remove(at: 1)
    } else if getenv("COFFER_FUZZ_TARGET") == nil {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
        FuzzTarget.report("usage: coffer-fuzz <\(names)> [libFuzzer flags] [corpus …]")
        exit(2)
    }
    return arguments
}

#if FUZZING
    @_silgen_name("LLVMFuzzerRunDriver")
    func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    let arguments = takeTargetArgument()
    var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    var argc = CInt(arguments.count)
    let status = cArguments.withUnsafeMutableBufferPointer { buffer -> CInt in
        var argv = buffer.baseAddress
        return LLVMFuzzerRunDriver(&argc, &argv, fuzzOne)
    }
    exit(status)
#else
    let arguments = takeTargetArgument()
    var failures = 0
    for path in arguments.dropFirst() {
        guard let bytes = FuzzCorpus.read(path) else {
            FuzzTarget.report("coffer-fuzz: cannot read \(path)")
            exit(2)
        }
        let problems = FuzzTarget.selected.run(bytes)
        print("\(path): \(problems.isEmpty ? "ok" : problems.joined(separator: "; "))")
        if !problems.isEmpty { failures += 1 }
    }
    if arguments.count < 2 { print("this build has no fuzzer runtime (build with make fuzz); give files to replay") }
    exit(failures == 0 ? 0 : 1)
#endif
