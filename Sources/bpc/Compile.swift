import ArgumentParser
import BPC
import Foundation

struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile a spec to a plan file (JSON): topological order, fan-in and fan-out tables, parameters.",
        discussion: "The plan format is documented in docs/plan-format.md. Nothing is written when the spec is rejected."
    )

    @Argument(help: "The spec (YAML) or plan (JSON).", completion: .specOrPlan)
    var spec: String
    @Option(name: .shortAndLong, help: "Where to write the plan; standard output when omitted.")
    var output: String?
    @Flag(help: "Print the seconds spent reading and compiling, and writing, as one JSON line on standard error.")
    var timings = false
    @OptionGroup var limits: LimitOptions

    func run() throws {
        if let output { try checkWritable(output, besides: [spec]) }
        let clock = ContinuousClock()
        let start = clock.now
        let model = try loadModel(spec, limits: limits.limits, loadsData: false)
        let compiled = clock.now
        if let output {
            try writeAtomically(to: output) { emit in PlanJSON.write(model.plan, to: emit) }
        } else {
            PlanJSON.write(model.plan) { print($0, terminator: "") }
        }
        if timings {
            printError("{\"parse_compile_seconds\": \((compiled - start).seconds), \"write_seconds\": \((clock.now - compiled).seconds)}")
        }
        if let output {
            let summary = model.plan.summary
            print("wrote \(output): \(summary.units) units, \(summary.edges) edges, \(summary.parameters) parameters")
        }
    }
}
