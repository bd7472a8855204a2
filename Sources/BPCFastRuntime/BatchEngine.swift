#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import BPCPlan
import BPCRuntime

/// The fast runtime's buffers and kernels for one precision: a batch of samples runs through
/// the network at once, stored batch-major (row `u` of a buffer holds unit u's value for every
/// sample of the batch, `width` lanes), so that every edge is a vector operation over the batch.
///
/// Everything is allocated in `init`; `forward`, `backward` and the optimiser steps allocate
/// nothing. All index tables are copied from a verified plan, which is what makes the unchecked
/// pointer arithmetic below safe.
///
/// Backward runs over the fan-in table, in reverse topological order: when unit j's turn comes,
/// every unit it feeds has already added delta_k w_kj into row j, so
///
///     delta_j = h'(a_j) * (sum_k delta_k w_kj) + dE/da_j (outputs only)
///
/// is complete; unit j then adds delta_j z_i to dE/dw_ji and delta_j w_ji into row i for each
/// incoming edge. This is the fan-out sum of the reference runtime, accumulated from the other
/// end, so that weights, sources and gradients are read contiguously per unit.
final class BatchEngine<Scalar: KernelScalar> {
    typealias Vector = SIMD8<Scalar>

    let plan: Plan
    let kernels: KernelPlan
    /// Lanes per row: 1 for one sample at a time, else the batch size rounded up to 16.
    let width: Int
    let unitCount: Int
    let parameterCount: Int
    let outputCount: Int

    let netInput: UnsafeMutablePointer<Scalar>
    let activation: UnsafeMutablePointer<Scalar>
    /// Row j holds the downstream sum of unit j until its turn in `backward`, then delta_j.
    let delta: UnsafeMutablePointer<Scalar>
    /// dE/da_o from the loss, per output o and lane.
    let directDelta: UnsafeMutablePointer<Scalar>
    /// The parameters, shared by the engines of one training run; the engine keeps the slab
    /// alive and reads it through `parameters`.
    let slab: ParameterSlab<Scalar>
    let parameters: UnsafeMutablePointer<Scalar>
    /// dE/dw summed over the lanes of every batch since the last `clearGradients()`.
    let gradients: UnsafeMutablePointer<Scalar>

    private let fanInStart: UnsafeMutablePointer<Int32>
    private let fanInSource: UnsafeMutablePointer<Int32>
    private let isInput: UnsafeMutablePointer<Bool>
    /// For each unit, its index among the outputs, or -1.
    private let outputSlot: UnsafeMutablePointer<Int32>
    // The tables a step reads, as buffers: iterating an array stored in a class retains and
    // releases it on every pass, which costs more than a small network's whole step.
    private let steps: UnsafeMutableBufferPointer<KernelPlan.Step>
    private let inputUnits: UnsafeMutableBufferPointer<Int>
    /// Scratch for `denseBackward`: one block's sources, lane-major.
    private let transposedSources: UnsafeMutablePointer<Scalar>
    private let outputUnits: UnsafeMutableBufferPointer<Int>

    // Per-sample loss scratch in binary64: the loss is evaluated by `Loss.evaluate`, the one
    // definition every runtime shares.
    private let lossNetInput: UnsafeMutableBufferPointer<Double>
    private let lossValue: UnsafeMutableBufferPointer<Double>
    private let lossDirect: UnsafeMutableBufferPointer<Double>
    private let outputActivations: UnsafeMutableBufferPointer<Activation>

    /// `kernels` defaults to the plan's lowering for this batch size; the engines of one run
    /// share one.
    init(plan: Plan, batchSize: Int, parameters: ParameterSlab<Scalar>, kernels: KernelPlan? = nil) {
        self.plan = plan
        width = KernelPlan.laneWidth(batchSize: batchSize)
        self.kernels = kernels ?? KernelPlan(plan: plan, dense: width > 1)
        unitCount = plan.unitCount
        parameterCount = plan.parameterCount
        outputCount = plan.outputUnits.count
        let cells = unitCount * width
        netInput = allocateZeroed(cells)
        activation = allocateZeroed(cells)
        delta = allocateZeroed(cells)
        directDelta = allocateZeroed(outputCount * width)
        slab = parameters
        self.parameters = parameters.values
        gradients = allocateZeroed(parameterCount)
        fanInStart = copy(plan.fanInStart)
        fanInSource = copy(plan.fanInSource)
        isInput = copy(plan.roles.map { $0 == .input })
        var slots = [Int32](repeating: -1, count: unitCount)
        for (index, unit) in plan.outputUnits.enumerated() { slots[Int(unit)] = Int32(index) }
        outputSlot = copy(slots)
        transposedSources = allocateZeroed(self.kernels.widestDenseBlock * width)
        steps = bufferCopy(self.kernels.steps)
        inputUnits = bufferCopy(plan.inputUnits.map { Int($0) })
        outputUnits = bufferCopy(plan.outputUnits.map { Int($0) })
        lossNetInput = .allocate(capacity: outputCount)
        lossValue = .allocate(capacity: outputCount)
        lossDirect = .allocate(capacity: outputCount)
        for buffer in [lossNetInput, lossValue, lossDirect] { buffer.initialize(repeating: 0) }
        outputActivations = bufferCopy(plan.outputUnits.map { plan.activations[Int($0)] })
    }

    deinit {
        for pointer in [netInput, activation, delta, directDelta, gradients, transposedSources] { pointer.deallocate() }
        for buffer in [lossNetInput, lossValue, lossDirect] { buffer.deallocate() }
        steps.deallocate()
        inputUnits.deallocate()
        outputUnits.deallocate()
        outputActivations.deallocate()
        fanInStart.deallocate()
        fanInSource.deallocate()
        isInput.deallocate()
        outputSlot.deallocate()
    }

    /// The lanes a batch of `count` samples occupies: whole 16-lane tiles, or 1.
    func lanes(for count: Int) -> Int { width == 1 ? 1 : KernelPlan.wholeTiles(count) }

    func clearGradients() { gradients.update(repeating: 0, count: parameterCount) }

    /// Copies the inputs of samples `order[first ..< first + count]` into the input rows, and
    /// zeroes the unused lanes of the tile so they stay finite and contribute nothing.
    func loadInputs(_ inputs: UnsafeBufferPointer<Double>, inputWidth: Int, order: UnsafeBufferPointer<Int>, first: Int, count: Int) {
        let lanes = lanes(for: count)
        // Sample by sample, so each sample's inputs are read in one contiguous run; the
        // scattered writes land in the input rows, a few kilobytes that stay in L1.
        guard let source = inputs.baseAddress else { return }
        for lane in 0..<count {
            let sample = source + order[first &+ lane] &* inputWidth
            for (column, unit) in inputUnits.enumerated() {
                activation[unit &* width &+ lane] = Scalar(sample[column])
            }
        }
        for unit in inputUnits {
            for lane in count..<lanes { activation[unit * width + lane] = 0 }
        }
    }

    // MARK: forward

    func forward(lanes: Int) {
        guard width > 1 else { return forwardSample() }
        for step in steps {
            switch step.kind {
            case .sparse:
                sparseForward(unit: step.firstUnit, bias: step.biasStart, lanes: lanes)
            case .dense(let sourceStart, let sourceCount, let weightStart):
                denseForward(step, sourceStart: sourceStart, sourceCount: sourceCount, weightStart: weightStart, lanes: lanes)
            }
            for unit in step.firstUnit..<(step.firstUnit + step.unitCount) {
                activate(step.activation, row: unit * width, lanes: lanes)
            }
        }
    }

    private func sparseForward(unit: Int, bias: Int, lanes: Int) {
        let first = Int(fanInStart[unit]), last = Int(fanInStart[unit + 1])
        let w = parameters, z = activation
        let start: Scalar = bias >= 0 ? w[bias] : 0
        let out = netInput + unit * width
        var lane = 0
        while lane < lanes {
            var sum0 = Vector(repeating: start), sum1 = sum0
            for edge in first..<last {
                let weight = w[edge]
                let source = z + Int(fanInSource[edge]) * width + lane
                sum0.addProduct(weight, load(source))
                sum1.addProduct(weight, load(source + 8))
            }
            store(sum0, out + lane)
            store(sum1, out + lane + 8)
            lane += 16
        }
    }

    /// a[r] = b[r] + sum_c W[r][c] z[sourceStart + c] for the block's rows: the rows start at
    /// their bias, then one `accumulate` adds the matrix product.
    private func denseForward(_ step: KernelPlan.Step, sourceStart: Int, sourceCount k: Int, weightStart: Int, lanes: Int) {
        let out = netInput + step.firstUnit * width
        for row in 0..<step.unitCount {
            let bias: Scalar = step.biasStart >= 0 ? parameters[step.biasStart + row] : 0
            (out + row * width).update(repeating: bias, count: lanes)
        }
        accumulate(
            into: out, rows: step.unitCount, rowStride: width, columns: lanes,
            coefficients: parameters + weightStart, rowStep: k, termStep: 1,
            terms: activation + sourceStart * width, termStride: width, termCount: k)
    }

    /// z = h(a) over one row. tanh and identity, the common hidden and output functions, run
    /// as vector code; the rest evaluate `Activation`'s binary64 formulas lane by lane.
    private func activate(_ kind: Activation, row: Int, lanes: Int) {
        let a = netInput + row, z = activation + row
        switch kind {
        case .identity:
            z.update(from: a, count: lanes)
        case .tanh where lanes % 8 == 0:
            var lane = 0
            while lane < lanes {
                store(Scalar.hyperbolicTangent(load(a + lane)), z + lane)
                lane += 8
            }
        default:
            for lane in 0..<lanes { z[lane] = Scalar(kind.value(Double(a[lane]))) }
        }
    }

    /// `forward` for one sample (width 1) in one loop, each unit's sum and activation inline,
    /// summed in the reference runtime's order.
    func forwardSample() {
        let w = parameters, a = netInput, z = activation
        for step in steps {
            let unit = step.firstUnit
            var sum: Scalar = 0
            for edge in Int(fanInStart[unit])..<Int(fanInStart[unit + 1]) {
                sum += w[edge] * z[Int(fanInSource[edge])]
            }
            if step.biasStart >= 0 { sum += w[step.biasStart] }
            a[unit] = sum
            z[unit] = step.activation == .tanh ? Scalar.hyperbolicTangent(sum) : Scalar(step.activation.value(Double(sum)))
        }
    }

    // MARK: loss

    /// The summed loss of lanes `0 ..< count` against the targets of samples
    /// `order[first ..< first + count]`; fills the direct deltas (zero in unused lanes).
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

    /// `Loss.softmaxCrossEntropy` for 8 samples at a time: the exponentials, 10 or so per
    /// sample and most of a small classifier's loss time, run as vector code; the rest is the
    /// formula of `Loss.evaluate` (which the tests compare this with) in binary64 per sample:
    ///
    ///     E = sum_o t_o (logsumexp(a) - a_o),   dE/da_o = softmax(a)_o sum(t) - t_o
    private func softmaxCrossEntropy(
        targets: UnsafeBufferPointer<Double>, targetWidth: Int, order: UnsafeBufferPointer<Int>, first: Int, count: Int, lanes: Int
    ) -> Double {
        guard let targetBase = targets.baseAddress else { return 0 }
        var total = 0.0
        var lane = 0
        while lane < lanes {
            // The largest a_o per sample, lane by lane: a masked vector select in this loop
            // compiles to per-lane code through the stack, which is slower.
            var largest = Vector.zero
            for offset in 0..<8 {
                var value = -Scalar.infinity
                for unit in outputUnits { value = max(value, netInput[unit * width + lane + offset]) }
                largest[offset] = value
            }
            var sum = Vector.zero
            for (index, unit) in outputUnits.enumerated() {
                let e = Scalar.exponential(load(netInput + unit * width + lane) - largest)
                store(e, directDelta + index * width + lane)
                sum += e
            }
            for offset in 0..<8 {
                let column = lane + offset
                guard column < count else {
                    for index in 0..<outputCount { directDelta[index * width + column] = 0 }
                    continue
                }
                let target = targetBase + order[first + column] * targetWidth
                var targetSum = 0.0
                for index in 0..<outputCount { targetSum += target[index] }
                let normaliser = Double(sum[offset])
                let logSumExp = Double(largest[offset]) + log(normaliser)
                for (index, unit) in outputUnits.enumerated() {
                    let t = target[index]
                    if t != 0 { total += t * (logSumExp - Double(netInput[unit * width + column])) }
                    let cell = directDelta + index * width + column
                    cell.pointee = Scalar(Double(cell.pointee) / normaliser * targetSum - t)
                }
            }
            lane += 8
        }
        return total
    }

    // MARK: backward

    /// Adds dE/dw of the loaded batch (after `forward` and `loss`) to `gradients`.
    func backward(lanes: Int) {
        if width == 1 {
            for unit in 0..<unitCount { delta[unit] = 0 }
        } else {
            for unit in 0..<unitCount where !isInput[unit] {
                (delta + unit * width).update(repeating: 0, count: lanes)
            }
        }
        for index in stride(from: steps.count - 1, through: 0, by: -1) {
            let step = steps[index]
            for unit in step.firstUnit..<(step.firstUnit + step.unitCount) {
                finishDelta(unit: unit, kind: step.activation, lanes: lanes)
            }
            switch step.kind {
            case .sparse:
                sparseBackward(unit: step.firstUnit, bias: step.biasStart, lanes: lanes)
            case .dense(let sourceStart, let sourceCount, let weightStart):
                denseBackward(step, sourceStart: sourceStart, sourceCount: sourceCount, weightStart: weightStart, lanes: lanes)
            }
        }
    }

    /// delta_j = h'(a_j) * downstream_j (+ dE/da_j for an output), in place. Inlined: for a
    /// small network a call per unit costs more than its arithmetic.
    @inline(__always)
    private func finishDelta(unit: Int, kind: Activation, lanes: Int) {
        let a = netInput + unit * width, z = activation + unit * width, d = delta + unit * width
        switch kind {
        case .identity:
            break
        case .tanh:
            for lane in 0..<lanes { d[lane] *= 1 - z[lane] * z[lane] }
        default:
            for lane in 0..<lanes { d[lane] *= Scalar(kind.derivative(a: Double(a[lane]), z: Double(z[lane]))) }
        }
        let slot = Int(outputSlot[unit])
        if slot >= 0 {
            let direct = directDelta + slot * width
            for lane in 0..<lanes { d[lane] += direct[lane] }
        }
    }

    /// Online SGD (one sample, plain `sgd`), fused: backward with every weight updated the
    /// moment its last use is over, as hand-written online backpropagation does. Each weight
    /// feeds the backward sum once, so reading it just before overwriting it sees the value the
    /// forward pass used; w - eta * (delta z) is what the optimiser computes from a gradient
    /// accumulated from zero, bit for bit. Returns the first parameter that became non-finite.
    func backwardUpdatingOnline(rate: Double) -> Int? {
        let eta = Scalar(rate)
        let w = parameters
        for unit in 0..<unitCount { delta[unit] = 0 }
        var probe: Scalar = 0
        for index in stride(from: steps.count - 1, through: 0, by: -1) {
            let step = steps[index]
            let unit = step.firstUnit
            finishDelta(unit: unit, kind: step.activation, lanes: 1)
            let value = delta[unit]
            if step.biasStart >= 0 {
                w[step.biasStart] -= eta * value
                probe += 0 * w[step.biasStart]
            }
            for edge in Int(fanInStart[unit])..<Int(fanInStart[unit + 1]) {
                let source = Int(fanInSource[edge])
                let weight = w[edge]
                if !isInput[source] { delta[source] += value * weight }
                w[edge] = weight - eta * (value * activation[source])
                probe += 0 * w[edge]
            }
        }
        guard !probe.isFinite else { return nil }
        return (0..<parameterCount).first { !w[$0].isFinite }
    }

    private func sparseBackward(unit: Int, bias: Int, lanes: Int) {
        let first = Int(fanInStart[unit]), last = Int(fanInStart[unit + 1])
        let d = delta + unit * width
        let w = parameters, g = gradients
        if width == 1 {
            let value = d[0]
            if bias >= 0 { g[bias] += value }
            for edge in first..<last {
                let source = Int(fanInSource[edge])
                g[edge] += value * activation[source]
                if !isInput[source] { delta[source] += value * w[edge] }
            }
            return
        }
        if bias >= 0 { g[bias] += rowSum(d, lanes: lanes) }
        for edge in first..<last {
            let source = Int(fanInSource[edge])
            let z = activation + source * width
            let weight = w[edge]
            var product = Vector.zero
            if isInput[source] {
                var lane = 0
                while lane < lanes {
                    product.addProduct(load(d + lane), load(z + lane))
                    lane += 8
                }
            } else {
                let downstream = delta + source * width
                var lane = 0
                while lane < lanes {
                    let dv = load(d + lane)
                    product.addProduct(dv, load(z + lane))
                    var sum = load(downstream + lane)
                    sum.addProduct(weight, dv)
                    store(sum, downstream + lane)
                    lane += 8
                }
            }
            g[edge] += product.sum()
        }
    }

    private func denseBackward(_ step: KernelPlan.Step, sourceStart: Int, sourceCount k: Int, weightStart: Int, lanes: Int) {
        let rows = step.unitCount
        let d = delta + step.firstUnit * width
        let z = activation + sourceStart * width
        let w = parameters + weightStart, g = gradients + weightStart
        if step.biasStart >= 0 {
            for row in 0..<rows { gradients[step.biasStart + row] += rowSum(d + row * width, lanes: lanes) }
        }
        // dE/dW[r][c] += sum over lanes of delta[r] z[c]: with the sources transposed to
        // lane-major (one row of k values per sample), each sample adds an outer product
        // delta[.][lane] x z[lane][.] to the gradient rows, the shape `accumulate` computes.
        let transposed = transposedSources
        // Sequential stores, strided loads: scattered stores stall the store buffer.
        for lane in 0..<lanes {
            let target = transposed + lane * k
            for c in 0..<k { target[c] = z[c &* width &+ lane] }
        }
        let vectorColumns = k / 8 * 8
        accumulate(
            into: g, rows: rows, rowStride: k, columns: vectorColumns,
            coefficients: d, rowStep: width, termStep: 1,
            terms: transposed, termStride: k, termCount: lanes)
        for r in 0..<rows {
            for c in vectorColumns..<k { g[r * k + c] += dot(d + r * width, z + c * width, lanes: lanes) }
        }
        guard !step.sourcesAreInputs else { return }
        // downstream[c] += sum_r W[r][c] delta[r]: the transpose of the forward product.
        accumulate(
            into: delta + sourceStart * width, rows: k, rowStride: width, columns: lanes,
            coefficients: w, rowStep: 1, termStep: k,
            terms: d, termStride: width, termCount: rows)
    }

    /// The one matrix kernel: for r < rows and c < columns (a multiple of 8),
    ///
    ///     out[r * rowStride + c] += sum over t < termCount of
    ///         coefficients[r * rowStep + t * termStep] * terms[t * termStride + c]
    ///
    /// The forward product, the backward product into the sources, and the weight gradient
    /// (over transposed sources) are all this shape with different strides. Tiles of 4 rows x
    /// 16 columns keep 8 accumulators in registers, so each loaded term vector serves 4 rows.
    private func accumulate(
        into out: UnsafeMutablePointer<Scalar>, rows: Int, rowStride: Int, columns: Int,
        coefficients: UnsafeMutablePointer<Scalar>, rowStep: Int, termStep: Int,
        terms: UnsafeMutablePointer<Scalar>, termStride: Int, termCount: Int
    ) {
        var row = 0
        while row + 4 <= rows {
            let o0 = out + row * rowStride, o1 = o0 + rowStride, o2 = o1 + rowStride, o3 = o2 + rowStride
            let k0 = coefficients + row * rowStep, k1 = k0 + rowStep, k2 = k1 + rowStep, k3 = k2 + rowStep
            var column = 0
            while column + 16 <= columns {
                var a0 = load(o0 + column), b0 = load(o0 + column + 8), a1 = load(o1 + column), b1 = load(o1 + column + 8)
                var a2 = load(o2 + column), b2 = load(o2 + column + 8), a3 = load(o3 + column), b3 = load(o3 + column + 8)
                var term = terms + column
                var step = 0
                for _ in 0..<termCount {
                    let low = load(term), high = load(term + 8)
                    a0.addProduct(k0[step], low); b0.addProduct(k0[step], high)
                    a1.addProduct(k1[step], low); b1.addProduct(k1[step], high)
                    a2.addProduct(k2[step], low); b2.addProduct(k2[step], high)
                    a3.addProduct(k3[step], low); b3.addProduct(k3[step], high)
                    term += termStride
                    step += termStep
                }
                store(a0, o0 + column); store(b0, o0 + column + 8); store(a1, o1 + column); store(b1, o1 + column + 8)
                store(a2, o2 + column); store(b2, o2 + column + 8); store(a3, o3 + column); store(b3, o3 + column + 8)
                column += 16
            }
            if column < columns {
                for r in row..<(row + 4) {
                    accumulateRow(out + r * rowStride, from: column, to: columns, coefficients + r * rowStep, termStep, terms, termStride, termCount)
                }
            }
            row += 4
        }
        for r in row..<rows {
            accumulateRow(out + r * rowStride, from: 0, to: columns, coefficients + r * rowStep, termStep, terms, termStride, termCount)
        }
    }

    /// `accumulate` for one row, 8 columns at a time: the tiles' remainder.
    private func accumulateRow(
        _ out: UnsafeMutablePointer<Scalar>, from first: Int, to columns: Int,
        _ coefficients: UnsafeMutablePointer<Scalar>, _ termStep: Int,
        _ terms: UnsafeMutablePointer<Scalar>, _ termStride: Int, _ termCount: Int
    ) {
        var column = first
        while column < columns {
            var sum = load(out + column)
            for t in 0..<termCount { sum.addProduct(coefficients[t * termStep], load(terms + t * termStride + column)) }
            store(sum, out + column)
            column += 8
        }
    }

    private func rowSum(_ row: UnsafeMutablePointer<Scalar>, lanes: Int) -> Scalar {
        var sum = Vector.zero
        var lane = 0
        while lane < lanes {
            sum += load(row + lane)
            lane += 8
        }
        return sum.sum()
    }

    private func dot(_ x: UnsafeMutablePointer<Scalar>, _ y: UnsafeMutablePointer<Scalar>, lanes: Int) -> Scalar {
        var sum = Vector.zero
        var lane = 0
        while lane < lanes {
            sum.addProduct(load(x + lane), load(y + lane))
            lane += 8
        }
        return sum.sum()
    }
}

/// The parameters of one run in the run's precision, owned here because several engines (one
/// per thread) read them.
final class ParameterSlab<Scalar: KernelScalar> {
    let values: UnsafeMutablePointer<Scalar>
    let count: Int

    init(_ initial: [Double]) {
        count = initial.count
        values = allocateZeroed(count)
        for index in 0..<count { values[index] = Scalar(initial[index]) }
    }

    deinit { values.deallocate() }

    var binary64: [Double] { (0..<count).map { Double(values[$0]) } }
}

/// 64-byte aligned, zeroed: rows start on cache lines when the width is a multiple of 16.
private func allocateZeroed<Element: KernelScalar>(_ count: Int) -> UnsafeMutablePointer<Element> {
    let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Element>.stride, alignment: 64)
    let pointer = raw.bindMemory(to: Element.self, capacity: max(count, 1))
    pointer.initialize(repeating: 0, count: max(count, 1))
    return pointer
}

private func bufferCopy<Element>(_ array: [Element]) -> UnsafeMutableBufferPointer<Element> {
    UnsafeMutableBufferPointer(start: copy(array), count: array.count)
}

private func copy<Element>(_ array: [Element]) -> UnsafeMutablePointer<Element> {
    let pointer = UnsafeMutablePointer<Element>.allocate(capacity: max(array.count, 1))
    for (index, element) in array.enumerated() { (pointer + index).initialize(to: element) }
    return pointer
}
