import BPCPlan
import BPCRuntime

extension BatchEngine {
    /// dE/dw of the loaded batch (after `forward` and `loss`) into `gradients`, after
    /// `clearGradients`: the dense blocks' weight gradients are stored (one product per block,
    /// so the old values are never read and need no clearing), every other gradient is added.
    func backward(lanes: Int) {
        // Every row at once, in one pass over a contiguous block: input units' rows and lanes
        // past `lanes` are never read, so clearing them too costs less than skipping them.
        delta.update(repeating: 0, count: unitCount * width)
        for index in stride(from: steps.count - 1, through: 0, by: -1) {
            let step = steps[index]
            let units = step.firstUnit..<(step.firstUnit + step.unitCount)
            if step.activation == .tanh && width > 1 {
                // The whole step's rows in one C call, vectorised at the CPU's width.
                Scalar.tanhDelta(vector, delta + step.firstUnit * width, activation + step.firstUnit * width,
                                 step.unitCount, width, lanes)
                for unit in units { addDirectDelta(unit: unit, lanes: lanes) }
            } else {
                for unit in units { finishDelta(unit: unit, kind: step.activation, lanes: lanes) }
            }
            switch step.kind {
            case .sparse:
                sparseBackward(unit: step.firstUnit, bias: step.biasStart, lanes: lanes)
            case .dense(let sourceStart, let sourceCount, let weightStart):
                denseBackward(step, sourceStart: sourceStart, sourceCount: sourceCount, weightStart: weightStart, lanes: lanes)
            }
        }
    }

    /// delta_j = h'(a_j) * downstream_j (+ dE/da_j for an output), in place, with h' from
    /// `Activation.derivative`, the one definition. For tanh that call is specialised with
    /// the case fixed, so it inlines to 1 - z^2 in binary64 (the `tanhDelta` kernel, which
    /// batches take, computes the same); the other cases evaluate it lane by lane. Inlined:
    /// for a small network a call per unit costs more than its arithmetic.
    @inline(__always)
    private func finishDelta(unit: Int, kind: Activation, lanes: Int) {
        let a = netInput + unit * width, z = activation + unit * width, d = delta + unit * width
        switch kind {
        case .identity:
            break
        case .tanh:
            for lane in 0..<lanes { d[lane] *= Scalar(Activation.tanh.derivative(a: 0, z: Double(z[lane]))) }
        default:
            for lane in 0..<lanes { d[lane] *= Scalar(kind.derivative(a: Double(a[lane]), z: Double(z[lane]))) }
        }
        addDirectDelta(unit: unit, lanes: lanes)
    }

    /// delta_j += dE/da_j when unit j is an output.
    @inline(__always)
    private func addDirectDelta(unit: Int, lanes: Int) {
        let slot = Int(outputSlot[unit])
        if slot >= 0 {
            let d = delta + unit * width, direct = directDelta + slot * width
            for lane in 0..<lanes { d[lane] += direct[lane] }
        }
    }

    /// Online SGD (one sample, plain `sgd`), fused: backward with every weight updated the
    /// moment its last use is over, as hand-written online backpropagation does. Each weight
    /// feeds the backward sum once, so reading it just before overwriting it sees the value the
    /// forward pass used; the update is `OptimizerState.descend`, the SGD rule `apply` runs,
    /// on the gradient of one sample, so the result is bit for bit what `apply` computes from
    /// a gradient accumulated from zero. Returns the first parameter that became non-finite.
    func backwardUpdatingOnline(rate: Double) -> Int? {
        let eta = Scalar(rate)
        let w = parameters, z = activation, d = delta, sources = fanInSource
        d.update(repeating: 0, count: unitCount)
        // 0 * w is 0 for finite w and NaN otherwise; two sums, so that the check is not one
        // serial chain of additions through every edge.
        var probe: Scalar = 0, probe2: Scalar = 0
        for index in stride(from: steps.count - 1, through: 0, by: -1) {
            let step = steps[index]
            let unit = step.firstUnit
            finishDelta(unit: unit, kind: step.activation, lanes: 1)
            let value = d[unit]
            if step.biasStart >= 0 {
                w[step.biasStart] = OptimizerState<Scalar>.descend(w[step.biasStart], gradient: value, rate: eta)
                probe += 0 * w[step.biasStart]
            }
            // Two edges per pass, each in the order of the one-edge loop below. Input units'
            // rows take their delta sums too: nothing reads them, and skipping them would
            // cost a test and a branch per edge. (Indices come from the verified plan, hence
            // the wrapping arithmetic: no overflow checks in the loop.)
            var edge = Int(fanInStart[unit])
            let end = Int(fanInStart[unit &+ 1])
            while edge &+ 1 < end {
                let first = Int(sources[edge]), second = Int(sources[edge &+ 1])
                let w0 = w[edge], w1 = w[edge &+ 1]
                d[first] += value * w0
                w[edge] = OptimizerState<Scalar>.descend(w0, gradient: value * z[first], rate: eta)
                d[second] += value * w1
                w[edge &+ 1] = OptimizerState<Scalar>.descend(w1, gradient: value * z[second], rate: eta)
                probe += 0 * w[edge]
                probe2 += 0 * w[edge &+ 1]
                edge &+= 2
            }
            if edge < end {
                let source = Int(sources[edge])
                let weight = w[edge]
                d[source] += value * weight
                w[edge] = OptimizerState<Scalar>.descend(weight, gradient: value * z[source], rate: eta)
                probe += 0 * w[edge]
            }
        }
        guard !(probe + probe2).isFinite else { return nil }
        return (0..<parameterCount).first { !w[$0].isFinite }
    }

    /// One unit's backward step: in scalar code for one sample, else the C kernel over lanes.
    private func sparseBackward(unit: Int, bias: Int, lanes: Int) {
        let first = Int(fanInStart[unit]), last = Int(fanInStart[unit + 1])
        let d = delta + unit * width
        if width == 1 {
            let w = parameters, g = gradients
            let value = d[0]
            if bias >= 0 { g[bias] += value }
            for edge in first..<last {
                let source = Int(fanInSource[edge])
                g[edge] += value * activation[source]
                if !isInput[source] { delta[source] += value * w[edge] }
            }
            return
        }
        Scalar.sparseBackward(vector, d, bias >= 0 ? gradients + bias : nil, parameters + first, gradients + first,
                              fanInSource + first, last - first, isInput, activation, delta, width, lanes)
    }

    private func denseBackward(_ step: KernelPlan.Step, sourceStart: Int, sourceCount k: Int, weightStart: Int, lanes: Int) {
        let rows = step.unitCount
        let d = delta + step.firstUnit * width
        let z = activation + sourceStart * width
        let w = parameters + weightStart, g = gradients + weightStart
        if step.biasStart >= 0 {
            for row in 0..<rows { gradients[step.biasStart + row] += Scalar.rowSum(vector, d + row * width, lanes) }
        }
        // dE/dW[r][c] = sum over lanes of delta[r] z[c]: with the sources transposed to
        // lane-major (one row of k values per sample), each sample adds an outer product
        // delta[.][lane] x z[lane][.] to the gradient rows, the shape `accumulate` computes;
        // `product` stores the sum, the block's only contribution, so no pass clears it first.
        Scalar.transpose(vector, transposedSources, z, k, width, lanes)
        let vectorColumns = k / 8 * 8
        Scalar.product(
            vector, g, rows, k, vectorColumns,
            d, width, 1,
            transposedSources, k, lanes)
        for r in 0..<rows {
            for c in vectorColumns..<k { g[r * k + c] = Scalar.dot(vector, d + r * width, z + c * width, lanes) }
        }
        guard !step.sourcesAreInputs else { return }
        // downstream[c] += sum_r W[r][c] delta[r]: the transpose of the forward product.
        Scalar.accumulate(
            vector, delta + sourceStart * width, k, width, lanes,
            w, 1, k,
            d, width, rows)
    }
}
