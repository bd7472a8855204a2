import ArgumentParser
import BPC

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a spec, warn about units that cannot matter, and check every gradient against finite differences.",
        discussion: """
            The gradient check uses the first --samples samples of data (or of the expect entries; \
            without either, seeded random samples) and compares each analytic dE/dw with a central \
            difference of the mean loss. Exit status 1 if any parameter disagrees.
            """
    )

    @Argument(help: "The spec (YAML) or plan (JSON).", completion: .specOrPlan)
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
        let model = try loadModel(spec, limits: limits.limits, loadsData: true)
        let warnings = model.warnings
        for warning in warnings { printError(warning.description) }
        let check = try reporting(spec) { () throws(ModelError) in try model.checkGradients(count: samples, tolerance: tolerance) }
        let rows = check.rows
        let failed = check.failures
        let worst = check.worstError
        if json {
            print(JSONValue.object([
                ("ok", .bool(failed.isEmpty)),
                ("warnings", .array(warnings.map { .string($0.description) })),
                ("samples", .integer(check.samples)),
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
            print("gradient check on \(check.samples) samples: \(rows.count - failed.count) of \(rows.count) parameters agree (worst error \(number(worst)), tolerance \(number(tolerance)))")
        }
        if !failed.isEmpty { throw ExitCode(1) }
    }
}
