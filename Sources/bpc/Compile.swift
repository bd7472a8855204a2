import ArgumentParser
import BPCEmit
import BPCPlan

struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile a spec to a plan file (JSON): topological order, fan-in and fan-out tables, parameters.",
        discussion: "The plan format is documented in docs/plan-format.md. Nothing is written when the spec is rejected."
    )

    @Argument(help: "The spec (YAML).")
    var spec: String
    @Option(name: .shortAndLong, help: "Where to write the plan; standard output when omitted.")
    var output: String?
    @OptionGroup var limits: LimitOptions

    func run() throws {
        let model = try loadModel(spec, limits: limits.limits)
        let text = PlanJSON.encode(model.plan)
        guard let output else {
            print(text, terminator: "")
            return
        }
        try writeAtomically(text, to: output)
        let summary = model.plan.summary
        print("wrote \(output): \(summary.units) units, \(summary.edges) edges, \(summary.parameters) parameters")
    }
}
