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
                let t = target[o]
                loss += t * Activation.softplus(-a[o]) + (1 - t) * Activation.softplus(a[o])
                outputDelta[o] = z[o] - t
            }
        case .softmaxCrossEntropy:
            var largest = -Double.infinity
            for o in 0..<n where a[o] > largest { largest = a[o] }
            var sum = 0.0
            for o in 0..<n { sum += exp(a[o] - largest) }
            let logSumExp = largest + log(sum)
            var targetSum = 0.0
            for o in 0..<n { targetSum += target[o] }
            for o in 0..<n {
                let t = target[o]
                if t != 0 { loss += t * (logSumExp - a[o]) }
                outputDelta[o] = exp(a[o] - logSumExp) * targetSum - t
            }
        }
        return loss
    }
}
