import BPCPlan

extension BatchEngine {
    /// Net inputs and activations of every unit for the loaded batch (`lanes` lanes).
    func forward(lanes: Int) {
        guard width > 1 else { return forwardSample() }
        for step in steps {
            switch step.kind {
            case .sparse where step.activation == .tanh:
                // The gather kernel applies tanh from its registers: one call per unit.
                sparseForward(unit: step.firstUnit, bias: step.biasStart, lanes: lanes, tanh: true)
                continue
            case .sparse:
                sparseForward(unit: step.firstUnit, bias: step.biasStart, lanes: lanes, tanh: false)
            case .dense(let sourceStart, let sourceCount, let weightStart):
                denseForward(step, sourceStart: sourceStart, sourceCount: sourceCount, weightStart: weightStart, lanes: lanes)
            }
            if lanes == width && step.activation == .tanh {
                // A full batch: the step's rows are one contiguous run, one call for all.
                activate(.tanh, row: step.firstUnit * width, lanes: step.unitCount * width)
                continue
            }
            for unit in step.firstUnit..<(step.firstUnit + step.unitCount) {
                activate(step.activation, row: unit * width, lanes: lanes)
            }
        }
    }

    /// a = b + sum over fan-in of w z, one unit over all lanes (the C gather kernel), and with
    /// `tanh` also z = tanh(a), as `activate` would compute it.
    private func sparseForward(unit: Int, bias: Int, lanes: Int, tanh: Bool) {
        let first = Int(fanInStart[unit]), last = Int(fanInStart[unit + 1])
        let start: Scalar = bias >= 0 ? parameters[bias] : 0
        let row = unit * width
        Scalar.sparseForward(vector, netInput + row, tanh ? activation + row : nil, start, parameters + first,
                             fanInSource + first, last - first, activation, width, lanes)
    }

    /// a[r] = b[r] + sum_c W[r][c] z[sourceStart + c] for the block's rows: the rows start at
    /// their bias, then one `accumulate` adds the matrix product.
    private func denseForward(_ step: KernelPlan.Step, sourceStart: Int, sourceCount k: Int, weightStart: Int, lanes: Int) {
        let out = netInput + step.firstUnit * width
        for row in 0..<step.unitCount {
            let bias: Scalar = step.biasStart >= 0 ? parameters[step.biasStart + row] : 0
            (out + row * width).update(repeating: bias, count: lanes)
        }
        Scalar.accumulate(
            vector, out, step.unitCount, width, lanes,
            parameters + weightStart, k, 1,
            activation + sourceStart * width, width, k)
    }

    /// z = h(a) over one row. tanh runs as a C kernel (binary32: the rational approximation;
    /// binary64: the C library's tanh, which is `Activation.tanh`'s definition) and identity
    /// as a copy; the rest evaluate `Activation`'s binary64 formulas lane by lane.
    private func activate(_ kind: Activation, row: Int, lanes: Int) {
        let a = netInput + row, z = activation + row
        switch kind {
        case .identity:
            z.update(from: a, count: lanes)
        case .tanh:
            Scalar.tanh(vector, z, a, lanes)
        default:
            for lane in 0..<lanes { z[lane] = Scalar(kind.value(Double(a[lane]))) }
        }
    }

    /// `forward` for one sample (width 1) in one loop, each unit's sum and activation inline,
    /// summed in the reference runtime's order.
    func forwardSample() {
        let w = parameters, a = netInput, z = activation, sources = fanInSource
        for step in steps {
            let unit = step.firstUnit
            var sum: Scalar = 0
            // Two edges per pass, added in order (indices from the verified plan: wrapping
            // arithmetic, no overflow checks).
            var edge = Int(fanInStart[unit])
            let end = Int(fanInStart[unit &+ 1])
            while edge &+ 1 < end {
                sum += w[edge] * z[Int(sources[edge])]
                sum += w[edge &+ 1] * z[Int(sources[edge &+ 1])]
                edge &+= 2
            }
            if edge < end { sum += w[edge] * z[Int(sources[edge])] }
            if step.biasStart >= 0 { sum += w[step.biasStart] }
            a[unit] = sum
            z[unit] = step.activation == .tanh ? Scalar.hyperbolicTangent(sum) : Scalar(step.activation.value(Double(sum)))
        }
    }
}
