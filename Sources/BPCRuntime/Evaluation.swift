import BPCPlan

/// How well a network does on a data set.
public struct Evaluation: Sendable, Equatable {
    public var meanLoss: Double
    /// Fraction of samples classified right. With binary cross-entropy (independent sigmoid
    /// outputs) or a single output, every output thresholded at 0.5 must match its target
    /// thresholded at 0.5; otherwise the argmax of the outputs must be the argmax of the targets.
    public var accuracy: Double
    public var count: Int
}

extension Network {
    public mutating func evaluate(_ data: Dataset) -> Evaluation {
        var totalLoss = 0.0
        var correct = 0
        let count = data.count
        data.inputs.withUnsafeBufferPointer { inputs in
            data.targets.withUnsafeBufferPointer { targets in
                for sample in 0..<count {
                    forward(UnsafeBufferPointer(rebasing: inputs[(sample * data.inputWidth)..<((sample + 1) * data.inputWidth)]))
                    let target = UnsafeBufferPointer(rebasing: targets[(sample * data.targetWidth)..<((sample + 1) * data.targetWidth)])
                    totalLoss += loss(target: target)
                    if isCorrect(target: target) { correct += 1 }
                }
            }
        }
        let n = Double(max(count, 1))
        return Evaluation(meanLoss: totalLoss / n, accuracy: Double(correct) / n, count: count)
    }

    private func isCorrect(target: UnsafeBufferPointer<Double>) -> Bool {
        let outputUnits = plan.outputUnits
        if outputUnits.count == 1 || plan.loss == .binaryCrossEntropy {
            for (index, unit) in outputUnits.enumerated() where (activations[Int(unit)] >= 0.5) != (target[index] >= 0.5) {
                return false
            }
            return true
        }
        var best = 0
        var bestTarget = 0
        for index in 1..<outputUnits.count {
            if activations[Int(outputUnits[index])] > activations[Int(outputUnits[best])] { best = index }
            if target[index] > target[bestTarget] { bestTarget = index }
        }
        return best == bestTarget
    }
}
