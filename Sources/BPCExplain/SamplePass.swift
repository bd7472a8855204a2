import BPCPlan
import BPCRuntime

/// One sample's forward and backward pass with every value a derivation quotes, computed by the
/// reference runtime, so an explanation's numbers are `bpc grad`'s numbers.
public struct SamplePass: Sendable {
    /// The plan with the parameters the pass used.
    public var plan: Plan
    public var input: [Double]
    public var target: [Double]
    public var loss: Double
    /// a_j, z_j and δ_j of every unit.
    public var netInputs: [Double]
    public var activations: [Double]
    public var deltas: [Double]
    /// dE/dw of every parameter.
    public var gradients: [Double]
    /// ∂E/∂a_o as the loss alone gives it for each output unit (0 for other units): the term
    /// every path ends with, and the part of an output's δ that does not flow back from
    /// units it feeds.
    public var outputTerms: [Double]
    /// h'(a_j) of every unit (1 for inputs).
    public var slopes: [Double]

    /// Runs the pass on a copy of `network` (whose plan is verified); `input` and `target` must
    /// have one value per input and output unit.
    public init(network: Network, input: [Double], target: [Double]) {
        var network = network
        loss = network.computeGradients(input: input, target: target)
        var plan = network.plan
        plan.parameters = network.parameters
        self.plan = plan
        self.input = input
        self.target = target
        netInputs = network.netInputs
        activations = network.activations
        deltas = network.deltas
        gradients = network.gradients
        var terms = [Double](repeating: 0, count: plan.unitCount)
        for (index, unit) in plan.outputUnits.enumerated() { terms[Int(unit)] = network.outputDirectDeltas[index] }
        outputTerms = terms
        slopes = (0..<plan.unitCount).map { unit in
            plan.roles[unit] == .input ? 1 : plan.activations[unit].derivative(a: network.netInputs[unit], z: network.activations[unit])
        }
    }

    public var isOutput: [Bool] {
        var flags = [Bool](repeating: false, count: plan.unitCount)
        for unit in plan.outputUnits { flags[Int(unit)] = true }
        return flags
    }
}
