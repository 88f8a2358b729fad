// swift-tools-version: 6.1
// Coffer: a local secrets vault for Linux with AWS Secrets Manager's model and IAM-style access control.
//
// Layering (dependencies point one way; see ../shared/STYLE.md):
//   CofferCore ← CofferProtocol, CofferPolicy, CofferCrypto, CofferStore, CofferSystem ← CofferVault ← CofferServer ← cofferd
//   CofferClient depends on CofferProtocol and CofferSystem only; the `coffer` CLI on CofferClient.
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .unsafeFlags(["-warnings-as-errors"]),
]

let package = Package(
    name: "Coffer",
    products: [
        .executable(name: "cofferd", targets: ["cofferd"]),
        .executable(name: "coffer", targets: ["coffer"]),
        .library(name: "CofferClient", targets: ["CofferClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
    ],
    targets: [
        // C fences: one per C library, imported by exactly one Swift module each.
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // Linux syscalls Swift's Glibc module does not expose (struct ucred, accept4, SO_PEERPIDFD, pidfd).
        .target(name: "CCofferSys", cSettings: [.define("_GNU_SOURCE")]),

        .target(name: "CofferCore", swiftSettings: strict),
        .target(name: "CofferProtocol", dependencies: ["CofferCore"], swiftSettings: strict),
        .target(name: "CofferPolicy", dependencies: ["CofferCore"], swiftSettings: strict),
        .target(name: "CofferCrypto", dependencies: ["CofferCore", "CSodium"], swiftSettings: strict),
        .target(name: "CofferStore", dependencies: ["CofferCore", "CSQLite"], swiftSettings: strict),
        .target(name: "CofferSystem", dependencies: ["CofferCore", "CCofferSys"], swiftSettings: strict),
        .target(
            name: "CofferVault",
            dependencies: ["CofferCore", "CofferProtocol", "CofferPolicy", "CofferCrypto", "CofferStore", "CofferSystem"],
            swiftSettings: strict
        ),
        .target(
            name: "CofferServer",
            dependencies: ["CofferCore", "CofferProtocol", "CofferVault", "CofferSystem"],
            swiftSettings: strict
        ),
        .target(name: "CofferClient", dependencies: ["CofferCore", "CofferProtocol", "CofferSystem"], swiftSettings: strict),
        .executableTarget(
            name: "cofferd",
            dependencies: [
                "CofferCore", "CofferServer", "CofferSystem", "CofferVault", "CofferCrypto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict,
            // Release builds carry the Swift runtime (a service must not depend on the toolchain in /opt/swift);
            // glibc, libsodium and SQLite stay shared system libraries, updated by the distribution. The extra archives
            // are what the static FoundationEssentials (linked by ArgumentParser) needs.
            linkerSettings: [
                .unsafeFlags(
                    ["-static-stdlib", "-l_FoundationCollections", "-lswiftSynchronization", "-l_FoundationCShims"],
                    .when(configuration: .release))
            ]
        ),
        .executableTarget(
            name: "coffer",
            dependencies: [
                "CofferCore", "CofferProtocol", "CofferClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict,
            // Start-up time is a target for `coffer get` (≤ 4× /bin/true, ../shared/research/performance-targets.md).
            // Release builds are one static executable: no dynamic loader, no relocation of a PIE, no libgcc_s/
            // libstdc++ start-up (whose CPU-feature probing traps to the hypervisor on this VM). Measured: 1.4× /bin/true
            // with a daemon round trip; a static-stdlib PIE is 4.1×. The price: the executable image is not
            // randomized (stack, heap and mappings are), and glibc's NSS (getpwnam) needs the same glibc at run time.
            // The three archives are what the static FoundationEssentials (linked by ArgumentParser) needs and
            // `-static-executable` does not name.
            linkerSettings: [
                .unsafeFlags(
                    [
                        "-static-executable", "-l_FoundationCollections", "-lswiftSynchronization",
                        "-l_FoundationCShims",
                    ],
                    .when(configuration: .release)
                )
            ]
        ),

        // The benchmark suite (Benchmarks/, `make bench`, docs/PERFORMANCE.md); not part of the product. The C target
        // holds the measuring loops and the raw baselines (its SQLite insert links sqlite3 directly: it is the
        // baseline, not product code); coffer-bench-echo is the raw echo server.
        .target(
            name: "CCofferBench", path: "Benchmarks/Sources/CCofferBench", linkerSettings: [.linkedLibrary("sqlite3")]
        ),
        .executableTarget(name: "coffer-bench-echo", path: "Benchmarks/Sources/coffer-bench-echo"),
        .executableTarget(
            name: "coffer-bench",
            dependencies: [
                "CCofferBench", "CofferCore", "CofferPolicy", "CofferProtocol", "CofferSystem", "CofferVault",
            ],
            path: "Benchmarks/Sources/coffer-bench",
            swiftSettings: strict
        ),

        .testTarget(name: "CofferCoreTests", dependencies: ["CofferCore"], swiftSettings: strict),
        .testTarget(name: "CofferProtocolTests", dependencies: ["CofferCore", "CofferProtocol"], swiftSettings: strict),
        .testTarget(name: "CofferPolicyTests", dependencies: ["CofferCore", "CofferPolicy"], swiftSettings: strict),
        .testTarget(name: "CofferCryptoTests", dependencies: ["CofferCore", "CofferCrypto"], swiftSettings: strict),
        .testTarget(name: "CofferStoreTests", dependencies: ["CofferCore", "CofferStore"], swiftSettings: strict),
        .testTarget(name: "CofferSystemTests", dependencies: ["CofferCore", "CofferSystem"], swiftSettings: strict),
        .testTarget(
            name: "CofferClientTests", dependencies: ["CofferCore", "CofferProtocol", "CofferClient", "CofferSystem"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CofferVaultTests",
            dependencies: [
                "CofferCore", "CofferProtocol", "CofferVault", "CofferCrypto", "CofferStore", "CofferPolicy",
                "CofferSystem",
            ],
            swiftSettings: strict
        ),
        // Starts the real `cofferd` binary on a temp dir and talks to it over its real socket.
        .testTarget(
            name: "CofferIntegrationTests",
            dependencies: ["CofferCore", "CofferProtocol", "CofferClient", "CofferSystem", "CofferCrypto"],
            swiftSettings: strict
        ),

        // Reliability and security suite (docs/RELIABILITY.md). CofferFuzzing holds the fuzz targets' entry points,
        // shared by the libFuzzer driver (coffer-fuzz: a replay tool unless built with -DFUZZING by `make fuzz`) and
        // the corpus-replay tests. The tests run only under `make test-reliability` (COFFER_RELIABILITY=1).
        .target(
            name: "CofferFuzzing",
            dependencies: ["CofferCore", "CofferProtocol", "CofferPolicy", "CofferCrypto", "CofferVault"],
            path: "Fuzz/Sources/CofferFuzzing", swiftSettings: strict
        ),
        .executableTarget(
            name: "coffer-fuzz", dependencies: ["CofferFuzzing"], path: "Fuzz/Sources/coffer-fuzz",
            swiftSettings: strict
        ),
        .testTarget(
            name: "CofferReliabilityTests",
            dependencies: [
                "CofferCore", "CofferProtocol", "CofferPolicy", "CofferCrypto", "CofferStore", "CofferSystem",
                "CofferVault", "CofferFuzzing",
            ],
            swiftSettings: strict
        ),
    ]
)
