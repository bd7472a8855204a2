import ArgumentParser
import BPCCompiler
import BPCEmit
import BPCExpect
import BPCPlan
import BPCRuntime

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a spec, warn about units that cannot matter, and check every gradient against finite differences.",
        discussion: """
            The gradient check uses the first --samples samples of data (or of the expect entries; \
            without either, seeded random samples) and compares each analytic dE/dw with a central \
            difference of the mean loss. Exit status 1 if any parameter disagrees.
            """
    )

    @Argument(help: "The spec (YAML).")
    var spec: String
    @Option(help: "How many samples the gradient check averages over.")
    var samples = 8
    @Option(help: "Largest accepted |analytic - numeric| / max(1, |analytic|, |numeric|).")
    var tolerance = 1e-6
    @Flag(help: "Print one JSON object.")
    var json = false
    @OptionGroup var limits: LimitOptions

    func validate() throws {
        guard samples >= 1 else { throw ValidationError("--samples must be at least 1") }
        guard tolerance > 0 else { throw ValidationError("--tolerance must be positive") }
    }

    func run() throws {
        let model = try loadModel(spec, limits: limits.limits)
        let warnings = model.compilation.reachabilityWarnings(file: spec)
        for warning in warnings { printError(warning.description) }
        let data = checkSamples(model)
        let network = try Network(plan: model.plan)
        let rows = GradientChecker(tolerance: tolerance).check(network, on: data)
        let failed = rows.filter { !$0.ok }
        let worst = rows.map(\.error).max() ?? 0
        if json {
            print(JSONValue.object([
                ("ok", .bool(failed.isEmpty)),
                ("warnings", .array(warnings.map { .string($0.description) })),
                ("samples", .integer(data.count)),
                ("worst_error", .number(worst)),
                ("gradients", .array(rows.map { row in
                    .object([("key", .string(row.key)), ("analytic", .number(row.analytic)),
                             ("numeric", .number(row.numeric)), ("error", .number(row.error)), ("ok", .bool(row.ok))])
                })),
            ]).serialized())
        } else {
            let plan = model.plan
            print("\(spec): \(plan.unitCount) units, \(plan.edgeCount) edges, \(plan.parameterCount) parameters, loss \(plan.loss.name)")
            var lines = [["parameter", "analytic", "numeric", "error"]]
            for row in failed.isEmpty ? [] : failed {
                lines.append([row.key, number(row.analytic), number(row.numeric), number(row.error)])
            }
            if !failed.isEmpty { print(table(lines)) }
            print("gradient check on \(data.count) samples: \(rows.count - failed.count) of \(rows.count) parameters agree (worst error \(number(worst)), tolerance \(number(tolerance)))")
        }
        if !failed.isEmpty { throw ExitCode(1) }
    }

    private func checkSamples(_ model: LoadedModel) -> Dataset {
        let plan = model.plan
        var data = Dataset(inputWidth: plan.inputUnits.count, targetWidth: plan.outputUnits.count)
        if let training = model.training, training.count > 0 {
            for sample in 0..<min(samples, training.count) {
                data.append(input: Array(training.input(sample)), target: Array(training.target(sample)))
            }
            return data
        }
        for entry in model.spec.expectations where data.count < samples {
            if let input = entry.input?.value, let target = entry.target?.value { data.append(input: input, target: target) }
        }
        if data.count > 0 { return data }
        var generator = SeededGenerator(seed: model.spec.initialization.seed)
        for _ in 0..<samples {
            let input = (0..<data.inputWidth).map { _ in generator.nextUniform(scale: 1) }
            var target = (0..<data.targetWidth).map { _ in generator.nextUnit() }
            if plan.loss == .softmaxCrossEntropy {
                let hot = generator.nextIndex(below: data.targetWidth)
                target = target.indices.map { $0 == hot ? 1 : 0 }
            }
            data.append(input: input, target: target)
        }
        return data
    }
}
