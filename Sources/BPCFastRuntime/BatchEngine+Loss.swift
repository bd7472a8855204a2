import BPCPlan

extension BatchEngine {
    /// The summed loss of lanes `0 ..< count` against the targets of samples
    /// `order[first ..< first + count]`; fills the direct deltas (zero in unused lanes).
    ///
    /// Each sample's loss and dE/da go through `Loss.evaluate`, the definition every runtime
    /// shares, in binary64; only softmax cross-entropy over a batch takes the vectorised form
    /// below.
    func loss(targets: UnsafeBufferPointer<Double>, targetWidth: Int, order: UnsafeBufferPointer<Int>, first: Int, count: Int) -> Double {
        let lanes = lanes(for: count)
        let loss = plan.loss
        if loss == .softmaxCrossEntropy && width > 1 {
            return softmaxCrossEntropy(targets: targets, targetWidth: targetWidth, order: order, first: first, count: count, lanes: lanes)
        }
        var total = 0.0
        let a = lossNetInput, z = lossValue, direct = lossDirect
        let kinds = UnsafeBufferPointer(outputActivations)
        for lane in 0..<count {
            for (index, unit) in outputUnits.enumerated() {
                a[index] = Double(netInput[unit * width + lane])
                z[index] = Double(activation[unit * width + lane])
            }
            let offset = order[first + lane] * targetWidth
            total += loss.evaluate(
                a: UnsafeBufferPointer(a), z: UnsafeBufferPointer(z),
                target: UnsafeBufferPointer(rebasing: targets[offset..<(offset + targetWidth)]),
                activations: kinds, outputDelta: direct
            )
            for index in 0..<outputCount { directDelta[index * width + lane] = Scalar(direct[index]) }
        }
        for index in 0..<outputCount {
            for lane in count..<lanes { directDelta[index * width + lane] = 0 }
        }
        return total
    }

    /// `Loss.softmaxCrossEntropy.evaluate` specialised to a batch: the exponentials (10 or so
    /// per sample, most of a small classifier's loss time) come from the C kernel, in the
    /// run's precision and vectorised over lanes; the rest calls the per-output definitions
    /// `evaluate` is made of (`Loss.logSumExp`, `addingSoftmaxCrossEntropy`, `softmaxDelta`)
    /// in binary64 per sample, in its order:
    ///
    ///     E = sum_o t_o (logsumexp(a) - a_o),   dE/da_o = softmax(a)_o sum(t) - t_o
    ///
    /// `evaluate` computes its exponentials inside, so this cannot call it without giving up
    /// the vector exp; the tests compare the two on every dense-block shape.
    private func softmaxCrossEntropy(
        targets: UnsafeBufferPointer<Double>, targetWidth: Int, order: UnsafeBufferPointer<Int>, first: Int, count: Int, lanes: Int
    ) -> Double {
        guard let targetBase = targets.baseAddress, let units = outputUnits.baseAddress else { return 0 }
        Scalar.softmaxExponentials(vector, netInput, units, outputCount, width, lanes, directDelta, softmaxLargest, softmaxSums)
        var total = 0.0
        for column in 0..<lanes {
            guard column < count else {
                for index in 0..<outputCount { directDelta[index * width + column] = 0 }
                continue
            }
            let target = targetBase + order[first + column] * targetWidth
            var targetSum = 0.0
            for index in 0..<outputCount { targetSum += target[index] }
            let normaliser = Double(softmaxSums[column])
            let logSumExp = Loss.logSumExp(largest: Double(softmaxLargest[column]), sum: normaliser)
            for (index, unit) in outputUnits.enumerated() {
                let t = target[index]
                total = Loss.addingSoftmaxCrossEntropy(total, a: Double(netInput[unit * width + column]), target: t, logSumExp: logSumExp)
                let cell = directDelta + index * width + column
                cell.pointee = Scalar(Loss.softmaxDelta(exponential: Double(cell.pointee), sum: normaliser, targetSum: targetSum, target: t))
            }
        }
        return total
    }
}
