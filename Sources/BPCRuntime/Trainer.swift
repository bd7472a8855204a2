import BPCPlan

/// Why training stopped early: the first value that stopped being a finite number.
public struct NonFiniteValue: Error, Sendable, Equatable, CustomStringConvertible {
    /// 0-based epoch and batch.
    public var epoch: Int
    public var batch: Int
    /// "loss", or the parameter key that became non-finite.
    public var what: String

    public var description: String {
        "training diverged in epoch \(epoch + 1), batch \(batch + 1): \(what) is not a finite number; lower the learning rate"
    }
}

/// What a training run produced.
public struct TrainingReport: Sendable {
    /// Mean training loss of each epoch, measured on each sample before its batch's update.
    public var lossHistory: [Double]
    public var epochsRun: Int
    public var updates: Int
    /// True when `shouldContinue` asked to stop.
    public var interrupted: Bool
}

/// Mini-batch gradient descent over a `Network`, the textbook algorithm of the notes: samples
/// cut in order (or in a seeded shuffle per epoch) into batches of `batchSize` (the last may
/// be smaller); after each batch, w <- update(w, mean gradient, eta_n) with n the 0-based epoch.
///
/// Every buffer is allocated before the first epoch; a training step allocates nothing.
public struct Trainer {
    public var settings: TrainingSettings
    private var velocity: [Double] = []
    private var secondMoment: [Double] = []
    private var step = 0

    public init(settings: TrainingSettings) { self.settings = settings }

    /// Trains `network` on `data`. `shouldContinue(epoch, meanLoss)` runs after each epoch;
    /// returning false stops cleanly.
    public mutating func train(
        _ network: inout Network, on data: Dataset,
        shouldContinue: (Int, Double) -> Bool = { _, _ in true }
    ) throws(NonFiniteValue) -> TrainingReport {
        let count = data.count
        var order = Array(0..<count)
        var generator = SeededGenerator(seed: settings.seed ^ 0x5348_5546_464C_4521)
        velocity = [Double](repeating: 0, count: network.parameters.count)
        secondMoment = velocity
        step = 0
        var history: [Double] = []
        history.reserveCapacity(min(settings.epochs, 1 << 16))
        var report = TrainingReport(lossHistory: [], epochsRun: 0, updates: 0, interrupted: false)
        guard count > 0 else { return report }
        let batchSize = max(1, settings.batchSize)
        for epoch in 0..<settings.epochs {
            if settings.shuffle {
                for index in stride(from: count - 1, to: 0, by: -1) {
                    order.swapAt(index, generator.nextIndex(below: index + 1))
                }
            }
            let rate = settings.learningRate.rate(epoch: epoch)
            var epochLoss = 0.0
            var batch = 0
            var first = 0
            while first < count {
                let last = min(first + batchSize, count)
                network.resetGradients()
                var batchLoss = 0.0
                data.inputs.withUnsafeBufferPointer { inputs in
                    data.targets.withUnsafeBufferPointer { targets in
                        for position in first..<last {
                            let sample = order[position]
                            network.forward(UnsafeBufferPointer(rebasing: inputs[(sample * data.inputWidth)..<((sample + 1) * data.inputWidth)]))
                            batchLoss += network.backward(target: UnsafeBufferPointer(rebasing: targets[(sample * data.targetWidth)..<((sample + 1) * data.targetWidth)]))
                        }
                    }
                }
                guard batchLoss.isFinite else { throw NonFiniteValue(epoch: epoch, batch: batch, what: "the loss") }
                if let bad = update(&network, batchCount: last - first, rate: rate) {
                    throw NonFiniteValue(epoch: epoch, batch: batch, what: "parameter \(network.plan.parameterKeys()[bad])")
                }
                epochLoss += batchLoss
                report.updates += 1
                batch += 1
                first = last
            }
            history.append(epochLoss / Double(count))
            report.epochsRun = epoch + 1
            report.lossHistory = history
            if !shouldContinue(epoch, epochLoss / Double(count)) {
                report.interrupted = true
                break
            }
        }
        return report
    }

    /// Applies one update with the mean of the gradients summed over `batchCount` samples;
    /// returns the index of the first parameter that became non-finite, if any.
    private mutating func update(_ network: inout Network, batchCount: Int, rate: Double) -> Int? {
        step += 1
        let divisor = Double(batchCount)
        let gradients = network.gradients
        var firstBad: Int?
        let optimizer = settings.optimizer
        let t = Double(step)
        network.parameters.withUnsafeMutableBufferPointer { w in
            gradients.withUnsafeBufferPointer { g in
                velocity.withUnsafeMutableBufferPointer { v in
                    secondMoment.withUnsafeMutableBufferPointer { s in
                        switch optimizer {
                        case .sgd:
                            for p in 0..<w.count { w[p] -= rate * (g[p] / divisor) }
                        case .momentum(let mu):
                            for p in 0..<w.count {
                                v[p] = mu * v[p] - rate * (g[p] / divisor)
                                w[p] += v[p]
                            }
                        case .adam(let beta1, let beta2, let epsilon):
                            let correction1 = 1 - power(beta1, t)
                            let correction2 = 1 - power(beta2, t)
                            for p in 0..<w.count {
                                let mean = g[p] / divisor
                                v[p] = beta1 * v[p] + (1 - beta1) * mean
                                s[p] = beta2 * s[p] + (1 - beta2) * mean * mean
                                w[p] -= rate * (v[p] / correction1) / ((s[p] / correction2).squareRoot() + epsilon)
                            }
                        }
                        for p in 0..<w.count where !w[p].isFinite {
                            firstBad = p
                            break
                        }
                    }
                }
            }
        }
        return firstBad
    }
}

/// x^n for a whole n >= 1 by repeated squaring (no libm dependence for Adam's corrections).
private func power(_ x: Double, _ n: Double) -> Double {
    var result = 1.0
    var base = x
    var exponent = Int(n)
    while exponent > 0 {
        if exponent & 1 == 1 { result *= base }
        base *= base
        exponent >>= 1
    }
    return result
}
