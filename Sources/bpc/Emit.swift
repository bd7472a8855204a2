import ArgumentParser
import BPC

struct Emit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate dependency-free code for a network: a C99 header or a Swift file.",
        subcommands: [EmitC.self, EmitSwift.self]
    )
}

/// The options both emitters take.
struct EmitArguments: ParsableArguments {
    @Argument(help: "The spec (YAML) or plan (JSON).", completion: .specOrPlan)
    var spec: String
    @Option(help: "Prefix of every generated name (default: the network's name made a valid C and Swift identifier, e.g. 'in' -> 'in_net').")
    var prefix: String?
    @Option(name: .shortAndLong, help: "Where to write the code; standard output when omitted.")
    var output: String?
    @Flag(help: "Also generate a training step (one SGD step on one sample).")
    var train = false
    @Flag(name: .customLong("float"), help: "Single precision (binary32) instead of double.")
    var singlePrecision = false
    @Flag(help: "Straight-line code (one statement per edge) whatever the size.")
    var straightLine = false
    @Flag(help: "Table-driven loops over the fan-in and fan-out tables whatever the size.")
    var tables = false
    @OptionGroup var limits: LimitOptions

    func validate() throws {
        if straightLine && tables { throw ValidationError("--straight-line and --tables exclude each other") }
        if let prefix, let problem = CodeEmitter.problem(withPrefix: prefix) { throw ValidationError("--prefix: \(problem)") }
    }

    func generate(_ language: CodeLanguage) throws {
        if let output { try checkWritable(output, besides: [spec]) }
        let model = try loadModel(spec, limits: limits.limits, loadsData: false)
        // The network's name may be anything (a keyword, "my net"); it becomes a valid identifier.
        var options = EmitOptions(prefix: prefix ?? CodeEmitter.identifier(from: model.name))
        options.train = train
        options.singlePrecision = singlePrecision
        options.layout = straightLine ? .straightLine : tables ? .tables : nil
        options.source = spec.split(separator: "/").last.map(String.init) ?? spec
        let text = model.emit(language, options: options)
        if let output {
            try writeAtomically(text, to: output)
        } else {
            print(text, terminator: "")
        }
    }
}

struct EmitC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "c",
        abstract: "One self-contained C99 header: PREFIX_forward, PREFIX_forward_with and (with --train) PREFIX_train_step.",
        discussion: "Compiles with cc -std=c99 -Wall -Wextra -Werror -pedantic; needs only <math.h> (link with -lm)."
    )
    @OptionGroup var arguments: EmitArguments

    func run() throws { try arguments.generate(.c) }
}

struct EmitSwift: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swift",
        abstract: "One dependency-free Swift file: an enum PREFIX with forward and (with --train) trainStep."
    )
    @OptionGroup var arguments: EmitArguments

    func run() throws { try arguments.generate(.swift) }
}
