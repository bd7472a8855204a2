/// The loss E of one sample, defined once with its gradient with respect to the output units'
/// net inputs a_o, so that every consumer (runtime, checker, emitters) agrees.
public enum Loss: String, CaseIterable, Sendable, Hashable {
    case halfSquaredError = "half_squared_error"
    case meanSquaredError = "mean_squared_error"
    case binaryCrossEntropy = "binary_cross_entropy"
    case softmaxCrossEntropy = "softmax_cross_entropy"

    public var name: String { rawValue }

    /// The activation every output unit must have, if the loss fixes one: the cross-entropy
    /// losses are paired with their canonical output so that delta_o = z_o - t_o (or p_o - t_o).
    public var requiredOutputActivation: Activation? {
        switch self {
        case .halfSquaredError, .meanSquaredError: return nil
        case .binaryCrossEntropy: return .sigmoid
        case .softmaxCrossEntropy: return .identity
        }
    }

    /// The fewest output units the loss means something for: a softmax over one output is 1
    /// whatever its logit, so the loss would be 0 and nothing would be learnt.
    public var minimumOutputs: Int { self == .softmaxCrossEntropy ? 2 : 1 }

    /// How far from 1 the sum of a softmax cross-entropy target may be (rounding in written
    /// probabilities); beyond it the targets are not a distribution.
    public static let targetSumTolerance = 1e-6

    /// Why `target` (one sample's targets, in output order) is not a target of this loss, or
    /// nil. The cross-entropies take probabilities: a binary target outside [0, 1] makes the
    /// loss negative, and softmax targets that are negative or do not sum to 1 are no
    /// distribution. Every loss needs finite targets.
    /// - Complexity: O(outputs); concrete (not generic) since loaders call it for every sample.
    public func targetProblem(_ target: ArraySlice<Double>) -> TargetProblem? {
        var sum = 0.0
        for index in target.indices {
            let value = target[index]
            let output = index - target.startIndex
            if !value.isFinite { return TargetProblem(output: output, message: "targets must be finite numbers, not \(value)") }
            switch self {
            case .binaryCrossEntropy where value < 0 || value > 1:
                return TargetProblem(output: output, message: "\(name) targets must be between 0 and 1, not \(value)")
            case .softmaxCrossEntropy where value < 0:
                return TargetProblem(output: output, message: "\(name) targets must not be negative, not \(value)")
            default: break
            }
            sum += value
        }
        if self == .softmaxCrossEntropy {
            if !(abs(sum - 1) <= Loss.targetSumTolerance) {
                return TargetProblem(output: nil, message: "\(name) targets must sum to 1 (one-hot or probabilities), not \(sum)")
            }
        }
        return nil
    }

    /// E for one sample and writes dE/da_o for every output into `outputDelta` (the "direct"
    /// part of each output unit's delta; the runtime adds what flows back from units the
    /// output feeds).
    ///
    /// Softmax cross-entropy uses dE/da_o = p_o * sum(t) - t_o, which is p_o - t_o for one-hot
    /// targets and stays exact for targets that do not sum to one.
    /// Cross-entropy is evaluated from a, not z, so that saturated outputs give a finite loss:
    /// -log(sigma(a)) = softplus(-a) and log sum exp is shifted by the largest a.
    /// - Parameters:
    ///   - a: net inputs of the output units, in output order.
    ///   - z: their activations h(a).
    ///   - target: the sample's targets.
    ///   - activations: each output unit's activation (for h'(a) in the squared errors).
    @inline(__always)
    public func evaluate(
        a: UnsafeBufferPointer<Double>,
        z: UnsafeBufferPointer<Double>,
        target: UnsafeBufferPointer<Double>,
        activations: UnsafeBufferPointer<Activation>,
        outputDelta: UnsafeMutableBufferPointer<Double>
    ) -> Double {
        let n = a.count
        var loss = 0.0
        switch self {
        case .halfSquaredError, .meanSquaredError:
            let scale: Double = squaredErrorScale(outputs: n)
            for o in 0..<n {
                let difference = Loss.difference(z: z[o], target: target[o])
                loss = Loss.addingSquare(loss, of: difference)
                outputDelta[o] = Loss.squaredErrorDelta(difference: difference, scale: scale, activation: activations[o], a: a[o], z: z[o])
            }
            loss = Loss.scaled(loss, by: scale)
        case .binaryCrossEntropy:
            for o in 0..<n {
                loss = Loss.addingBinaryCrossEntropy(loss, a: a[o], target: target[o])
                outputDelta[o] = Loss.difference(z: z[o], target: target[o])
            }
        case .softmaxCrossEntropy:
            var largest = -Double.infinity
            for o in 0..<n where a[o] > largest { largest = a[o] }
            // e^(a_o - max) once per output, kept in outputDelta until the deltas are formed.
            var sum = 0.0
            for o in 0..<n {
                outputDelta[o] = Loss.softmaxExponential(a: a[o], largest: largest)
                sum += outputDelta[o]
            }
            let logSumExp = Loss.logSumExp(largest: largest, sum: sum)
            var targetSum = 0.0
            for o in 0..<n { targetSum += target[o] }
            for o in 0..<n {
                loss = Loss.addingSoftmaxCrossEntropy(loss, a: a[o], target: target[o], logSumExp: logSumExp)
                outputDelta[o] = Loss.softmaxDelta(exponential: outputDelta[o], sum: sum, targetSum: targetSum, target: target[o])
            }
        }
        return loss
    }
}

/// Each loss's arithmetic for one output, written once for numbers and text (`FormulaValue`).
///
/// `evaluate` and `code` both run the same loop over outputs and call these for every step
/// that computes something, so the runtime and generated code evaluate the same operations in
/// the same order; the loops, sums and the softmax's running maximum are theirs.
extension Loss {
    /// 1/2 (`half_squared_error`) or 1/n (`mean_squared_error`): the factor on the sum of
    /// squared differences over n outputs.
    @inlinable @inline(__always)
    public func squaredErrorScale<V: FormulaValue>(outputs n: Int) -> V {
        self == .halfSquaredError ? 0.5 : 1 / V(constant: Double(n))
    }

    /// z_o - t_o: the squared errors' difference, and binary cross-entropy's dE/da_o (sigmoid
    /// outputs make the two the same expression).
    @inlinable @inline(__always)
    public static func difference<V: FormulaValue>(z: V, target t: V) -> V { z - t }

    /// loss + d^2: the running sum of squared differences.
    @inlinable @inline(__always)
    public static func addingSquare<V: FormulaValue>(_ loss: V, of d: V) -> V { loss + d * d }

    /// dE/da_o = 2 scale (z_o - t_o) h'(a_o) for the squared errors.
    @inlinable @inline(__always)
    public static func squaredErrorDelta<V: FormulaValue>(difference d: V, scale: V, activation: Activation, a: V, z: V) -> V {
        2 * scale * d * activation.derivative(a: a, z: z)
    }

    /// sum * scale: the squared errors' loss from the running sum.
    @inlinable @inline(__always)
    public static func scaled<V: FormulaValue>(_ sum: V, by scale: V) -> V { sum * scale }

    /// loss + t softplus(-a) + (1 - t) softplus(a), which is -t log(sigma(a)) - (1 - t)
    /// log(1 - sigma(a)) evaluated from a so that a saturated output still gives a finite loss.
    ///
    /// The two softplus terms share log1p(e^-|a|): one exp and one log1p per output.
    @inlinable @inline(__always)
    public static func addingBinaryCrossEntropy<V: FormulaValue>(_ loss: V, a x: V, target t: V) -> V {
        let negated = V.operand(-x)
        let (negatedTail, tail) = V.sharedAtMagnitude(x) { Activation.softplusTail(magnitude: $0) }
        return loss + (t * (Activation.positivePart(negated) + negatedTail) + (1 - t) * (Activation.positivePart(x) + tail))
    }

    /// e^(a_o - max_k a_k): softmax's numerator, shifted by the largest net input so that it
    /// cannot overflow.
    @inlinable @inline(__always)
    public static func softmaxExponential<V: FormulaValue>(a: V, largest: V) -> V { V.exp(a - largest) }

    /// log sum_k e^(a_k) = max + log(sum of the shifted exponentials).
    @inlinable @inline(__always)
    public static func logSumExp<V: FormulaValue>(largest: V, sum: V) -> V { largest + V.log(sum) }

    /// loss + t_o (logsumexp - a_o), i.e. loss - t_o log(p_o); an output whose target is 0 adds
    /// nothing, not even a NaN from a net input of -infinity.
    @inlinable @inline(__always)
    public static func addingSoftmaxCrossEntropy<V: FormulaValue>(_ loss: V, a: V, target t: V, logSumExp: V) -> V {
        V.select(t != 0, loss + t * (logSumExp - a), loss)
    }

    /// p_o = e_o / sum_k e_k: the class probability from the shifted exponentials
    /// (`softmaxExponential`) and their sum; the generated code's `probabilities` renders it.
    @inlinable @inline(__always)
    public static func softmaxProbability<V: FormulaValue>(exponential e: V, sum: V) -> V { e / sum }

    /// dE/da_o = p_o sum(t) - t_o with p_o = e_o / sum: p_o - t_o for one-hot targets, and exact
    /// for targets that do not sum to one.
    @inlinable @inline(__always)
    public static func softmaxDelta<V: FormulaValue>(exponential e: V, sum: V, targetSum: V, target t: V) -> V {
        softmaxProbability(exponential: e, sum: sum) * targetSum - t
    }
}

/// One output unit as generated code names it.
public struct OutputCode: Sendable {
    public var a: String
    public var z: String
    public var target: String
    /// Where the statements store dE/da (the direct part of the unit's delta).
    public var direct: String
    public var activation: Activation

    public init(a: String, z: String, target: String, direct: String, activation: Activation) {
        self.a = a
        self.z = z
        self.target = target
        self.direct = direct
        self.activation = activation
    }
}

extension Loss {
    /// Statements that add this sample's loss to `loss` (already declared, 0) and store each
    /// output's dE/da: `evaluate`'s loop, with each step's arithmetic rendered from the same
    /// definitions `evaluate` calls. Softmax keeps each output's shifted exponential in its
    /// `direct` slot until the deltas are formed, as `evaluate` does.
    /// `declare(name, value, mutable)` spells a new local in the target language.
    public func code(
        outputs: [OutputCode], loss: String, math m: MathSpelling, declare: (String, String, Bool) -> String
    ) -> [String] {
        typealias E = FormulaExpression
        let total = E.name(loss)
        var lines: [String] = []
        switch self {
        case .halfSquaredError, .meanSquaredError:
            let scale: E = squaredErrorScale(outputs: outputs.count)
            lines.append(declare("loss_scale", scale.operandCode(m), false))
            for (k, o) in outputs.enumerated() {
                let difference = "diff\(k)"
                lines.append(declare(difference, Loss.difference(z: E.name(o.z), target: E.name(o.target)).code(m), false))
                lines.append(Loss.addingSquare(total, of: E.name(difference)).assignment(to: loss, m))
                let delta = Loss.squaredErrorDelta(difference: E.name(difference), scale: E.name("loss_scale"),
                                                   activation: o.activation, a: E.name(o.a), z: E.name(o.z))
                lines.append(delta.assignment(to: o.direct, m))
            }
            lines.append(Loss.scaled(total, by: E.name("loss_scale")).assignment(to: loss, m))
        case .binaryCrossEntropy:
            for o in outputs {
                lines.append(Loss.addingBinaryCrossEntropy(total, a: E.name(o.a), target: E.name(o.target)).assignment(to: loss, m))
                lines.append(Loss.difference(z: E.name(o.z), target: E.name(o.target)).assignment(to: o.direct, m))
            }
        case .softmaxCrossEntropy:
            guard let first = outputs.first else { return [] }
            lines.append(declare("largest", first.a, outputs.count > 1))
            for o in outputs.dropFirst() { lines.append("if (\(o.a) > largest) { largest = \(o.a); }") }
            lines.append(declare("sum", m.literal(0), true))
            for o in outputs {
                lines.append(Loss.softmaxExponential(a: E.name(o.a), largest: E.name("largest")).assignment(to: o.direct, m))
                lines.append((E.name("sum") + E.name(o.direct)).assignment(to: "sum", m))
            }
            lines.append(declare("log_sum_exp", Loss.logSumExp(largest: E.name("largest"), sum: E.name("sum")).code(m), false))
            lines.append(declare("target_sum", m.literal(0), true))
            for o in outputs { lines.append((E.name("target_sum") + E.name(o.target)).assignment(to: "target_sum", m)) }
            for o in outputs {
                let added = Loss.addingSoftmaxCrossEntropy(total, a: E.name(o.a), target: E.name(o.target), logSumExp: E.name("log_sum_exp"))
                lines.append(added.assignment(to: loss, m))
                let delta = Loss.softmaxDelta(exponential: E.name(o.direct), sum: E.name("sum"), targetSum: E.name("target_sum"),
                                              target: E.name(o.target))
                lines.append(delta.assignment(to: o.direct, m))
            }
        }
        return lines
    }
}

/// A sample's targets that do not fit the loss: which output (nil when the targets as a whole
/// are wrong, such as a softmax target that does not sum to 1) and why.
public struct TargetProblem: Sendable, Equatable {
    public var output: Int?
    public var message: String

    public init(output: Int?, message: String) {
        self.output = output
        self.message = message
    }
}
