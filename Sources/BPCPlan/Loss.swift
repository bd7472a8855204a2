#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

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
            let scale = self == .halfSquaredError ? 0.5 : 1.0 / Double(n)
            let gradientScale = 2 * scale
            for o in 0..<n {
                let difference = z[o] - target[o]
                loss += difference * difference
                outputDelta[o] = gradientScale * difference * activations[o].derivative(a: a[o], z: z[o])
            }
            loss *= scale
        case .binaryCrossEntropy:
            for o in 0..<n {
                // softplus(-a) and softplus(a) share log1p(e^-|a|): one exp and one log1p.
                let t = target[o], x = a[o], shared = log1p(exp(-abs(x)))
                loss += t * ((-x > 0 ? -x : 0) + shared) + (1 - t) * ((x > 0 ? x : 0) + shared)
                outputDelta[o] = z[o] - t
            }
        case .softmaxCrossEntropy:
            var largest = -Double.infinity
            for o in 0..<n where a[o] > largest { largest = a[o] }
            // e^(a_o - max) once per output, kept in outputDelta until the deltas are formed.
            var sum = 0.0
            for o in 0..<n {
                outputDelta[o] = exp(a[o] - largest)
                sum += outputDelta[o]
            }
            let logSumExp = largest + log(sum)
            var targetSum = 0.0
            for o in 0..<n { targetSum += target[o] }
            for o in 0..<n {
                let t = target[o]
                if t != 0 { loss += t * (logSumExp - a[o]) }
                outputDelta[o] = outputDelta[o] / sum * targetSum - t
            }
        }
        return loss
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
    /// output's dE/da, computed in the order and form `evaluate` uses.
    /// `declare(name, value, mutable)` spells a new local in the target language.
    public func code(
        outputs: [OutputCode], loss: String, math m: MathSpelling, declare: (String, String, Bool) -> String
    ) -> [String] {
        let one = m.literal(1)
        var lines: [String] = []
        switch self {
        case .halfSquaredError, .meanSquaredError:
            let scale = self == .halfSquaredError ? m.literal(0.5) : "(\(one) / \(m.literal(Double(outputs.count))))"
            lines.append(declare("loss_scale", scale, false))
            for (k, o) in outputs.enumerated() {
                lines.append(declare("diff\(k)", "\(o.z) - \(o.target)", false))
                lines.append("\(loss) += diff\(k) * diff\(k);")
                lines.append("\(o.direct) = \(m.literal(2)) * loss_scale * diff\(k) * \(o.activation.derivativeCode(o.a, o.z, m));")
            }
            lines.append("\(loss) *= loss_scale;")
        case .binaryCrossEntropy:
            for o in outputs {
                let positive = Activation.softplus.valueCode("(-\(o.a))", m)
                let negative = Activation.softplus.valueCode(o.a, m)
                lines.append("\(loss) += \(o.target) * \(positive) + (\(one) - \(o.target)) * \(negative);")
                lines.append("\(o.direct) = \(o.z) - \(o.target);")
            }
        case .softmaxCrossEntropy:
            lines.append(declare("largest", outputs[0].a, outputs.count > 1))
            for o in outputs.dropFirst() { lines.append("if (\(o.a) > largest) { largest = \(o.a); }") }
            lines.append(declare("sum", m.literal(0), true))
            for o in outputs { lines.append("sum += \(m.exp)(\(o.a) - largest);") }
            lines.append(declare("log_sum_exp", "largest + \(m.log)(sum)", false))
            lines.append(declare("target_sum", m.literal(0), true))
            for o in outputs { lines.append("target_sum += \(o.target);") }
            for o in outputs {
                lines.append("if (\(o.target) != \(m.literal(0))) { \(loss) += \(o.target) * (log_sum_exp - \(o.a)); }")
                lines.append("\(o.direct) = \(m.exp)(\(o.a) - log_sum_exp) * target_sum - \(o.target);")
            }
        }
        return lines
    }
}
