import BPCPlan

/// The reference runtime: a verified plan with its parameters and every buffer a pass needs,
/// allocated once here and reused by every pass (no allocation per sample).
///
/// Binary64 throughout. Forward runs over fan-in in topological order; backward runs in reverse
/// order over fan-out:
///
///     delta_j = dE/da_j (direct, output units only) + h'(a_j) * sum_k delta_k w_kj
///     dE/dw_ji = delta_j z_i,   dE/db_j = delta_j
///
/// so an output unit that also feeds other units gets both terms. Input units get
/// delta_i = sum_k delta_k w_ki, which is dE/dx_i.
public struct Network: Sendable {
    public let plan: Plan
    /// The current parameters, indexed like `plan.parameters`.
    public var parameters: [Double]
    /// Net input a_j of every unit after the last forward pass (the sample's value for inputs).
    public private(set) var netInputs: [Double]
    /// Activation z_j = h(a_j) of every unit after the last forward pass.
    public private(set) var activations: [Double]
    /// delta_j = dE/da_j of every unit after the last backward pass.
    public private(set) var deltas: [Double]
    /// dE/dw summed over the samples passed backward since the last `resetGradients()`.
    /// `backward` adds each slot's own use; with tied parameters, `foldSharedGradients()`
    /// (which `computeGradients` calls) makes every member of a group hold the group's sum.
    public private(set) var gradients: [Double]
    /// The plan's tied parameters; nil when nothing is shared.
    public let sharing: ParameterSharing?

    /// For each unit, its index among the outputs, or -1.
    private let outputSlot: [Int32]
    private let outputActivations: [Activation]
    private var outputNetInputs: [Double]
    private var outputValues: [Double]
    /// dE/da_o of each output as the loss alone gives it (in output order), before what flows
    /// back from units the output feeds is added; derivations quote it as the output's term.
    public private(set) var outputDirectDeltas: [Double]

    /// Verifies the plan (a plan from a file may be hostile) and allocates the buffers.
    public init(plan: Plan) throws(PlanViolation) {
        try plan.verify()
        self.plan = plan
        parameters = plan.parameters
        sharing = ParameterSharing(plan)
        let n = plan.unitCount
        netInputs = [Double](repeating: 0, count: n)
        activations = [Double](repeating: 0, count: n)
        deltas = [Double](repeating: 0, count: n)
        gradients = [Double](repeating: 0, count: plan.parameterCount)
        var slots = [Int32](repeating: -1, count: n)
        for (index, unit) in plan.outputUnits.enumerated() { slots[Int(unit)] = Int32(index) }
        outputSlot = slots
        outputActivations = plan.outputUnits.map { plan.activations[Int($0)] }
        outputNetInputs = [Double](repeating: 0, count: plan.outputUnits.count)
        outputValues = outputNetInputs
        outputDirectDeltas = outputNetInputs
    }

    public var inputCount: Int { plan.inputUnits.count }
    public var outputCount: Int { plan.outputUnits.count }

    /// The outputs z_o of the last forward pass, in output order.
    public var outputs: [Double] { plan.outputUnits.map { activations[Int($0)] } }

    /// Runs the forward pass; `input` must hold `inputCount` values.
    public mutating func forward(_ input: UnsafeBufferPointer<Double>) {
        precondition(input.count == inputCount, "forward: \(input.count) inputs for \(inputCount) input units")
        let plan = self.plan
        plan.inputUnits.withUnsafeBufferPointer { inputUnits in
        plan.activations.withUnsafeBufferPointer { kinds in
        plan.biasParameter.withUnsafeBufferPointer { bias in
        plan.fanInStart.withUnsafeBufferPointer { start in
        plan.fanInSource.withUnsafeBufferPointer { source in
        parameters.withUnsafeBufferPointer { w in
        netInputs.withUnsafeMutableBufferPointer { a in
        activations.withUnsafeMutableBufferPointer { z in
            for (index, unit) in inputUnits.enumerated() {
                a[Int(unit)] = input[index]
                z[Int(unit)] = input[index]
            }
            for unit in 0..<plan.unitCount where plan.roles[unit] != .input {
                var sum = 0.0
                for edge in Int(start[unit])..<Int(start[unit + 1]) {
                    sum += w[edge] * z[Int(source[edge])]
                }
                let b = Int(bias[unit])
                if b >= 0 { sum += w[b] }
                a[unit] = sum
                z[unit] = kinds[unit].value(sum)
            }
        }}}}}}}}
    }

    /// The loss of the last forward pass against `target`; fills the outputs' direct deltas.
    @discardableResult
    public mutating func loss(target: UnsafeBufferPointer<Double>) -> Double {
        precondition(target.count == outputCount, "loss: \(target.count) targets for \(outputCount) output units")
        for (index, unit) in plan.outputUnits.enumerated() {
            outputNetInputs[index] = netInputs[Int(unit)]
            outputValues[index] = activations[Int(unit)]
        }
        let loss = plan.loss
        return outputNetInputs.withUnsafeBufferPointer { a in
            outputValues.withUnsafeBufferPointer { z in
                outputActivations.withUnsafeBufferPointer { kinds in
                    outputDirectDeltas.withUnsafeMutableBufferPointer { direct in
                        loss.evaluate(a: a, z: z, target: target, activations: kinds, outputDelta: direct)
                    }
                }
            }
        }
    }

    /// Runs the backward pass for the last forward pass and adds this sample's dE/dw to
    /// `gradients`; returns the sample's loss.
    @discardableResult
    public mutating func backward(target: UnsafeBufferPointer<Double>) -> Double {
        let sampleLoss = loss(target: target)
        let plan = self.plan
        plan.activations.withUnsafeBufferPointer { kinds in
        plan.biasParameter.withUnsafeBufferPointer { bias in
        plan.fanInStart.withUnsafeBufferPointer { inStart in
        plan.fanInSource.withUnsafeBufferPointer { source in
        plan.fanOutStart.withUnsafeBufferPointer { outStart in
        plan.fanOutTarget.withUnsafeBufferPointer { outTarget in
        plan.fanOutParameter.withUnsafeBufferPointer { outParameter in
        outputSlot.withUnsafeBufferPointer { slot in
        outputDirectDeltas.withUnsafeBufferPointer { direct in
        parameters.withUnsafeBufferPointer { w in
        netInputs.withUnsafeBufferPointer { a in
        activations.withUnsafeBufferPointer { z in
        deltas.withUnsafeMutableBufferPointer { delta in
        gradients.withUnsafeMutableBufferPointer { gradient in
            var unit = plan.unitCount - 1
            while unit >= 0 {
                var downstream = 0.0
                for edge in Int(outStart[unit])..<Int(outStart[unit + 1]) {
                    downstream += delta[Int(outTarget[edge])] * w[Int(outParameter[edge])]
                }
                var d = kinds[unit].derivative(a: a[unit], z: z[unit]) * downstream
                let outputIndex = Int(slot[unit])
                if outputIndex >= 0 { d += direct[outputIndex] }
                delta[unit] = d
                for edge in Int(inStart[unit])..<Int(inStart[unit + 1]) {
                    gradient[edge] += d * z[Int(source[edge])]
                }
                let b = Int(bias[unit])
                if b >= 0 { gradient[b] += d }
                unit -= 1
            }
        }}}}}}}}}}}}}}
        return sampleLoss
    }

    /// With tied parameters, sums each group's gradients into every member (the gradient of
    /// the one parameter they stand for); nothing otherwise.
    public mutating func foldSharedGradients() {
        sharing?.fold(&gradients)
    }

    public mutating func resetGradients() {
        gradients.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }

    /// Forward and backward for one sample from zeroed gradients: afterwards `gradients` holds
    /// this sample's dE/dw, tied groups summed into every member. Returns the loss.
    @discardableResult
    public mutating func computeGradients(input: [Double], target: [Double]) -> Double {
        resetGradients()
        input.withUnsafeBufferPointer { forward($0) }
        let loss = target.withUnsafeBufferPointer { backward(target: $0) }
        foldSharedGradients()
        return loss
    }

    /// The outputs for one input.
    public mutating func predict(_ input: [Double]) -> [Double] {
        input.withUnsafeBufferPointer { forward($0) }
        return outputs
    }

    /// The loss for one sample at the current parameters (forward only).
    public mutating func loss(input: [Double], target: [Double]) -> Double {
        input.withUnsafeBufferPointer { forward($0) }
        return target.withUnsafeBufferPointer { loss(target: $0) }
    }
}
