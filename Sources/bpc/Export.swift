import ArgumentParser
import BPC

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a network in another tool's format: ONNX.",
        subcommands: [ExportONNX.self]
    )
}

struct ExportONNX: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "onnx",
        abstract: "The network as an ONNX model (opset 17) for onnxruntime, Netron and ONNX converters.",
        discussion: """
            One graph input per input unit and one output per output unit, named after the \
            units, each [N, 1] (--packed: one [N, inputs] input and one [N, outputs] output); \
            softmax cross-entropy adds a 'probabilities' output [N, outputs]. \
            Dense layers become Gemm/MatMul, any other units gathers and sums. The loss, the \
            classes, the normalisation and tied parameters are in the metadata (bpc.*). \
            docs/interop.md describes the model in full.
            """
    )
    @Argument(help: "The spec (YAML) or plan (JSON).", completion: .specOrPlan)
    var spec: String
    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the model.", valueName: "model.onnx"),
            completion: .file(extensions: ["onnx"]))
    var output: String
    @Flag(name: .customLong("float"), help: "Binary32 tensors (what most runtimes accelerate).")
    var singlePrecision = false
    @Flag(name: .customLong("double"), help: "Binary64 tensors, computing what bpc computes (the default).")
    var doublePrecision = false
    @Flag(help: "One input [N, inputs] and one output [N, outputs], named after the units' group (else 'inputs', 'outputs'), instead of one per unit.")
    var packed = false
    @OptionGroup var limits: LimitOptions

    func validate() throws {
        if singlePrecision && doublePrecision { throw ValidationError("--float and --double exclude each other") }
    }

    func run() throws {
        try checkWritable(output, besides: [spec])
        let model = try loadModel(spec, limits: limits.limits, loadsData: false)
        let options = ONNXExportOptions(precision: singlePrecision ? .float : .double, packed: packed,
                                        producerVersion: BPC.configuration.version)
        let bytes: [UInt8]
        do {
            bytes = try model.exportONNX(options: options)
        } catch {
            printError("\(spec): error: \(error)")
            throw ExitCode(1)
        }
        try writeAtomically(bytes: bytes, to: output)
    }
}
