import ArgumentParser
import BPC

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read a network saved by another tool (ONNX, FANN) into a spec.",
        subcommands: [ImportONNX.self, ImportFANN.self]
    )
}

/// What both importers take.
struct ImportArguments: ParsableArguments {
    @Argument(help: "The network file.", completion: .file())
    var file: String
    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the spec; standard output when omitted.", valueName: "spec.yaml"),
            completion: .file(extensions: ["yaml", "yml"]))
    var output: String?
    @Option(help: "The network's name (default: the file's name without its extension).")
    var name: String?
    @OptionGroup var limits: LimitOptions

    /// Imports, checks that the spec loads, prints the warnings, then writes the spec; on any
    /// error nothing is written.
    func run(_ format: ForeignFormat) throws {
        if let output { try checkWritable(output, besides: [file]) }
        let imported: ImportedSpec
        do {
            imported = try Model.importing(format, file: file, specPath: output ?? "imported.yaml", name: name, limits: limits.limits)
        } catch {
            for diagnostic in error.diagnostics { printError(diagnostic.description) }
            throw ExitCode(1)
        }
        for warning in imported.warnings { printError(warning.description) }
        if let output {
            try writeAtomically(imported.yaml, to: output)
        } else {
            print(imported.yaml, terminator: "")
        }
    }
}

struct ImportONNX: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "onnx",
        abstract: "An ONNX model of dense layers (PyTorch, Keras through tf2onnx, onnx.helper) as a spec.",
        discussion: """
            Reads Gemm, MatMul, Add, Relu, LeakyRelu (alpha 0.01), Sigmoid, Tanh, Softplus, SiLU, \
            BatchNormalization after a layer (folded into it), Identity, Dropout, Flatten/Reshape \
            of a vector, Concat and Gather of columns, Sub and Mul by constants, with several \
            inputs and outputs and weights in external data files beside the model; a final \
            Softmax or LogSoftmax becomes softmax cross-entropy and sigmoid outputs binary \
            cross-entropy (else half squared error). \
            Every weight and bias is written into the spec, one unit group per layer. Any other \
            operator is refused with the node's name and type. docs/interop.md has the details.
            """
    )
    @OptionGroup var arguments: ImportArguments

    func run() throws { try arguments.run(.onnx) }
}

struct ImportFANN: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fann",
        abstract: "A network saved by FANN's fann_save (.net) as a spec.",
        discussion: """
            Standard, shortcut and sparse networks in FANN_FLO_2.1 format; bias neurons become \
            biases; FANN_LINEAR, FANN_SIGMOID and FANN_SIGMOID_SYMMETRIC become identity, \
            sigmoid and tanh with the steepness folded into the weights (exactly when it is a \
            power of two, else with a warning). Other activations are refused by name. \
            docs/interop.md has the details.
            """
    )
    @OptionGroup var arguments: ImportArguments

    func run() throws { try arguments.run(.fann) }
}
