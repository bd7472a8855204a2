import ArgumentParser
import BPC

/// How `bpc explain` writes a derivation.
enum ExplanationFormat: String, ExpressibleByArgument, CaseIterable {
    case text, markdown, latex
}

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Derive dE/dw for a parameter as the lecture notes do, with one sample's numbers.",
        discussion: """
            For each parameter: the chain rule as a sum over every path from the parameter's unit \
            to the outputs, the same with the sample's numbers, the recursive delta form, and the \
            value (the one bpc grad prints). Notation: a_j net input, z_j = h(a_j) output, \
            w_{i->j} weight, delta_j = dE/da_j; y_hat and y (squared errors), y and r (binary \
            cross-entropy), p and t (softmax cross-entropy). Without --input/--target the first \
            sample of the spec's data is used. A network with more than --max-paths paths from \
            the parameter's unit lists the largest terms and says how many are left out.
            """
    )

    @Argument(help: "The spec (YAML) or plan (JSON).", completion: .specOrPlan)
    var spec: String
    @Option(name: .customLong("param"), help: "A parameter to derive, as the spec names it (x1->h1, h1.bias); repeatable.")
    var parameters: [String] = []
    @Flag(help: "Derive every parameter.")
    var all = false
    @Option(parsing: .unconditional, help: "The sample's inputs, comma-separated, in input-unit order (default: the first sample of the spec's data).")
    var input: String?
    @Option(parsing: .unconditional, help: "The sample's targets, comma-separated, in output-unit order.")
    var target: String?
    @Option(help: "text (for a terminal), markdown (with $-delimited LaTeX math) or latex (a complete document for pdflatex).")
    var format: ExplanationFormat = .text
    @Option(help: "Most paths to list per parameter; beyond it the largest terms are listed.")
    var maxPaths: Int = 64
    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.")
    var output: String?
    @Flag(help: "Print one JSON object: parameter, value, paths (units, value), paths_total, formula, delta.")
    var json = false
    @OptionGroup var limits: LimitOptions

    func validate() throws {
        if parameters.isEmpty && !all { throw ValidationError("name a parameter with --param KEY (or --all)") }
        if !parameters.isEmpty && all { throw ValidationError("--all derives every parameter; give it or --param, not both") }
        if (input == nil) != (target == nil) { throw ValidationError("give --input and --target together (or neither, for the spec's first sample)") }
        if let input { _ = try parseNumbers(input, option: "--input") }
        if let target { _ = try parseNumbers(target, option: "--target") }
        if maxPaths < 1 || maxPaths > Derivation.maxPathsLimit {
            throw ValidationError("--max-paths must be between 1 and \(Derivation.maxPathsLimit) (the delta form covers every path whatever the listing holds)")
        }
        if json && format != .text { throw ValidationError("--json prints JSON; it excludes --format") }
    }

    func run() throws {
        if let output { try checkWritable(output, besides: [spec]) }
        let model = try loadModel(spec, limits: limits.limits, loadsData: input == nil)
        let sample = try chosenSample(model)
        let keys = all ? model.parameterKeys : parameters
        let derivations = try keys.map { key in
            try reporting(spec) { () throws(ModelError) in
                try model.explain(key, input: sample.input, target: sample.target, maxPaths: maxPaths)
            }
        }
        let text: String
        if json {
            text = (derivations.count == 1 ? derivations[0].json : JSONValue.object([("derivations", .array(derivations.map(\.json)))])).serialized() + "\n"
        } else {
            switch format {
            case .text: text = derivations.map(\.explanation.text).joined(separator: "\n")
            case .markdown: text = derivations.map(\.explanation.markdown).joined(separator: "\n")
            case .latex: text = Explanation.latexDocument(derivations.map(\.explanation))
            }
        }
        if let output {
            try writeAtomically(text, to: output)
        } else {
            print(text, terminator: "")
        }
    }

    /// The sample given on the command line, or the spec's first one.
    private func chosenSample(_ model: Model) throws -> (input: [Double], target: [Double]) {
        if let input, let target { return try sample(input: input, target: target, for: model, command: "explain") }
        guard let data = model.trainingData, data.count > 0 else {
            printError("\(spec): error: there is no data to take a sample from; give one with --input and --target")
            throw ExitCode(1)
        }
        return (Array(data.input(0)), Array(data.target(0)))
    }
}
