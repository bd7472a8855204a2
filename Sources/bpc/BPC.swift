import ArgumentParser

@main
struct BPC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bpc",
        abstract: "The backpropagation compiler: declarative networks of units and edges, compiled, run, checked and trained.",
        discussion: "Every command that takes SPEC reads a YAML spec (format v1, see README.md).",
        version: "0.1.0",
        subcommands: [Run.self, Grad.self, Compile.self, Test.self, Check.self, Emit.self]
    )
}
