// swift-tools-version: 6.0
import PackageDescription

/// One module per pipeline stage: SourceFile -> ModelSpec (BPCSpec) -> Plan (BPCCompiler)
/// -> Network (BPCRuntime) or emitted text (BPCEmit); BPCExplain shows the math of a plan
/// (derivations, traces, plots, the report page). BPCPlan and BPCRuntime use only the
/// standard library and the platform's C math library, so they can be embedded.
/// BPCNativeRuntime compiles the generated C training step of a small network with the system's
/// C compiler and loads it (online SGD at hand-written C's speed), falling back to the fast
/// runtime where no compiler is.
/// BPCInterop reads and writes other tools' formats (ONNX through swift-protobuf, FANN's saved
/// networks): it turns plans into ONNX models and foreign networks into specs.
/// The fast runtime's vector loops live in a C target (BPCKernels) compiled in AVX-512, AVX2+FMA
/// and portable variants from one source, by per-function target attributes; one check of the
/// CPU at run time picks the variant. No target needs compiler flags, so packages can depend on
/// bpc by version, and one binary runs on every CPU at full speed.

let package = Package(
    name: "bpc",
    products: [
        .executable(name: "bpc", targets: ["bpc"]),
        .library(name: "BPC", targets: ["BPC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
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
        .target(name: "BPCKernels"),
        .target(name: "BPCFastRuntime", dependencies: ["BPCPlan", "BPCRuntime", "BPCKernels"]),
        .target(name: "BPCEmit", dependencies: ["BPCPlan"]),
        .target(name: "BPCNativeRuntime", dependencies: ["BPCPlan", "BPCRuntime", "BPCFastRuntime", "BPCEmit"]),
        .target(name: "BPCExpect", dependencies: ["BPCSpec", "BPCCompiler", "BPCRuntime"]),
        .target(name: "BPCExplain", dependencies: ["BPCPlan", "BPCRuntime", "BPCEmit"]),
        .target(
            name: "BPCInterop",
            dependencies: ["BPCPlan", "BPCSpec", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .target(
            name: "BPC",
            dependencies: ["BPCPlan", "BPCSpec", "BPCCompiler", "BPCRuntime", "BPCFastRuntime", "BPCNativeRuntime", "BPCEmit", "BPCExpect", "BPCExplain", "BPCInterop"]
        ),
        .executableTarget(name: "bpc-library-example", dependencies: ["BPC"], path: "Examples/LibraryExample"),
        .executableTarget(
            name: "bpc",
            dependencies: ["BPC", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "BPCPlanTests", dependencies: ["BPCPlan"]),
        .target(name: "BPCTestSupport", dependencies: ["BPCSpec"], path: "Tests/BPCTestSupport"),
        .testTarget(name: "BPCSpecTests", dependencies: ["BPCSpec", "BPCTestSupport"]),
        .testTarget(name: "BPCCompilerTests", dependencies: ["BPC", "BPCTestSupport"]),
        .testTarget(name: "BPCRuntimeTests", dependencies: ["BPCInterop", "BPCTestSupport", "BPCRuntime", "BPCFastRuntime", "BPCNativeRuntime", "BPCEmit", "BPCKernels", "BPCCompiler", "BPCSpec", "BPCPlan", "BPCExplain"]),
        .testTarget(name: "BPCEmitTests", dependencies: ["BPC"]),
        .testTarget(name: "BPCExpectTests", dependencies: ["BPC"]),
        .testTarget(name: "BPCTests", dependencies: ["BPC", "BPCTestSupport"]),
        .testTarget(name: "BPCExplainTests", dependencies: ["BPC", "BPCTestSupport"]),
        .testTarget(name: "BPCInteropTests", dependencies: ["BPC", "BPCTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
