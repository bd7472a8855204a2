// swift-tools-version: 6.0
import PackageDescription

/// One module per pipeline stage: SourceFile -> ModelSpec (BPCSpec) -> Plan (BPCCompiler)
/// -> Network (BPCRuntime) or emitted text (BPCEmit). BPCPlan and BPCRuntime use only the
/// standard library and the platform's C math library, so they can be embedded.
/// The fast runtime's kernels are compiled for AVX2 and FMA on x86-64: without a target CPU,
/// Swift lowers SIMD8 multiply-adds to scalar `fmaf` calls. The `bpc` command checks the CPU
/// (CPUFeatures) before it enters this module and uses the reference runtime otherwise.
#if arch(x86_64)
let fastRuntimeSettings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let fastRuntimeSettings: [SwiftSetting] = []
#endif

let package = Package(
    name: "bpc",
    products: [
        .executable(name: "bpc", targets: ["bpc"]),
        .library(name: "BPC", targets: ["BPC"]),
        .library(name: "BPCFastRuntime", targets: ["BPCFastRuntime"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        .target(name: "BPCPlan"),
        .target(name: "BPCSpec", dependencies: ["CYAML", "BPCPlan"]),
        .target(name: "BPCCompiler", dependencies: ["BPCSpec", "BPCPlan"]),
        .target(name: "BPCRuntime", dependencies: ["BPCPlan"]),
        .target(name: "CPUFeatures"),
        .target(
            name: "BPCFastRuntime", dependencies: ["BPCPlan", "BPCRuntime", "CPUFeatures"],
            swiftSettings: fastRuntimeSettings
        ),
        .target(name: "BPCEmit", dependencies: ["BPCPlan"]),
        .target(name: "BPCExpect", dependencies: ["BPCSpec", "BPCCompiler", "BPCRuntime"]),
        .target(name: "BPC", dependencies: ["BPCPlan", "BPCSpec", "BPCCompiler", "BPCRuntime"]),
        .executableTarget(name: "bpc-library-example", dependencies: ["BPC"], path: "Examples/LibraryExample"),
        .executableTarget(
            name: "bpc",
            dependencies: [
                "BPCSpec", "BPCCompiler", "BPCRuntime", "BPCFastRuntime", "CPUFeatures", "BPCEmit", "BPCExpect",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "BPCPlanTests", dependencies: ["BPCPlan"]),
        .target(name: "BPCTestSupport", dependencies: ["BPCSpec"], path: "Tests/BPCTestSupport"),
        .testTarget(name: "BPCSpecTests", dependencies: ["BPCSpec", "BPCTestSupport"]),
        .testTarget(name: "BPCCompilerTests", dependencies: ["BPCCompiler", "BPCSpec", "BPCPlan", "BPCRuntime", "BPCTestSupport"]),
        .testTarget(name: "BPCRuntimeTests", dependencies: ["BPCRuntime", "BPCFastRuntime", "CPUFeatures", "BPCCompiler", "BPCSpec", "BPCPlan"]),
        .testTarget(name: "BPCEmitTests", dependencies: ["BPCEmit", "BPCCompiler", "BPCSpec", "BPCPlan"]),
        .testTarget(name: "BPCExpectTests", dependencies: ["BPCExpect", "BPCCompiler", "BPCRuntime", "BPCSpec", "BPCPlan"]),
    ],
    swiftLanguageModes: [.v6]
)
