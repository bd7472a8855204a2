import ArgumentParser

@main
struct BPC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bpc",
        abstract: "The backpropagation compiler: declarative networks of units and edges, compiled, run, checked and trained.",
        discussion: "Every command that takes SPEC reads a YAML spec (format v1, docs/spec-format.md) or a plan file written by bpc compile (docs/plan-format.md).",
        version: "0.2.0",
        subcommands: [Run.self, Predict.self, Evaluate.self, Grad.self, Compile.self, Test.self, Check.self, Emit.self, Graph.self, Explain.self, Export.self, Import.self]
    )
}
