// swift-tools-version: 6.1
import PackageDescription

/// Counts the heap allocations of bpc's training loop with ordo-one/benchmark.
/// A package of its own, so that the main build does not fetch or compile the benchmark tool.
///
/// Only the MallocInterposer trait of the benchmark package is enabled: its default traits
/// also include RuntimeInterposer, which on Linux with Swift 6.3 needs
/// ordo-one/swift-runtime-interposer (ARC counters), a package this build does not use.
let package = Package(
    name: "bpc-malloc-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(name: "bpc", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "TrainingAllocations",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "BPC", package: "bpc"),
            ],
            path: "Benchmarks/TrainingAllocations",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
    ]
)
