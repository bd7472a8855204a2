import ArgumentParser
import BPC

struct Grad: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "One forward and backward pass for a sample at the spec's initial parameters.",
        discussion: """
            Prints the loss, every unit's a, z and delta (for inputs, delta is dE/dx), and dE/dw for \
            every parameter. Negative values work as --input -1,0.5.
            """
    )

    @Argument(help: "The spec (YAML) or plan (JSON).", completion: .specOrPlan)
    var spec: String
    @Option(parsing: .unconditional, help: "The sample's inputs, comma-separated, in input-unit order.")
    var input: String
    @Option(parsing: .unconditional, help: "The sample's targets, comma-separated, in output-unit order.")
    var target: String
    @Flag(help: "Write the backward pass out: every unit's delta rule in reverse topological order with its numbers, then every dE/dw = delta_j z_i.")
    var trace = false
    @Flag(help: "Print one JSON object.")
    var json = false
    @OptionGroup var limits: LimitOptions

    func validate() throws {
        _ = try parseNumbers(input, option: "--input")
        _ = try parseNumbers(target, option: "--target")
    }

    func run() throws {
        let model = try loadModel(spec, limits: limits.limits, loadsData: false)
        let plan = model.plan
        let (inputs, targets) = try sample(input: input, target: target, for: model, command: "grad")
        let pass = try reporting(spec) { () throws(ModelError) in try model.gradients(input: inputs, target: targets) }
        let loss = pass.loss
        let keys = pass.parameterKeys
        if trace && !json {
            print(try reporting(spec) { () throws(ModelError) in try model.trace(input: inputs, target: targets) }.explanation.text)
            return
        }
        if json {
            let document = JSONValue.object([
                ("loss", .number(loss)),
                ("outputs", .object(plan.outputUnits.map { (plan.unitNames[Int($0)], .number(pass.activations[Int($0)])) })),
                ("units", .object((0..<plan.unitCount).map { unit in
                    (plan.unitNames[unit], .object([
                        ("a", .number(pass.netInputs[unit])),
                        ("z", .number(pass.activations[unit])),
                        ("delta", .number(pass.deltas[unit])),
                    ]))
                })),
                ("gradients", .object(keys.indices.map { (keys[$0], .number(pass.gradients[$0])) })),
            ] + (trace ? [("trace", try reporting(spec) { () throws(ModelError) in try model.trace(input: inputs, target: targets) }.json)] : []))
            print(document.serialized())
            return
        }
        print("loss \(number(loss)) (\(plan.loss.name))\n")
        var units = [["unit", "role", "activation", "a", "z", "delta"]]
        for unit in 0..<plan.unitCount {
            units.append([plan.unitNames[unit], plan.roles[unit].rawValue,
                          plan.roles[unit] == .input ? "" : plan.activations[unit].name,
                          number(pass.netInputs[unit]), number(pass.activations[unit]), number(pass.deltas[unit])])
        }
        print(table(units) + "\n")
        var parameters = [["parameter", "value", "dE/dw"]]
        for (index, key) in keys.enumerated() {
            parameters.append([key, number(plan.parameters[index]), number(pass.gradients[index])])
        }
        print(table(parameters))
    }
}

