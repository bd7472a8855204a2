import BPCPlan

/// Where each of an engine's buffers lives in its arena: offsets planned before the one
/// allocation, each buffer starting on a 64-byte cache line.
struct ArenaLayout {
    private(set) var byteCount = 0

    /// Reserves `count` values of `T` (trivial types only: the arena never deinitialises).
    mutating func reserve<T>(_ type: T.Type, count: Int) -> ArenaSlot<T> {
        assert(_isPOD(T.self), "the arena holds trivial values only")
        let start = ArenaLayout.roundedUp(byteCount)
        let (bytes, overflow) = max(count, 0).multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        let (end, overflow2) = start.addingReportingOverflow(bytes)
        // An absurd size saturates; the allocation then fails like any allocation larger than
        // memory (the command line checks `memoryNeeded` before it gets here).
        byteCount = overflow || overflow2 ? Int.max : end
        return ArenaSlot(offset: start, count: max(count, 0))
    }

    private static func roundedUp(_ offset: Int) -> Int {
        let (padded, overflow) = offset.addingReportingOverflow(Arena.alignment - 1)
        return overflow ? Int.max & ~(Arena.alignment - 1) : padded & ~(Arena.alignment - 1)
    }
}

/// A reserved run of `count` values of `T` at `offset` bytes into an arena.
struct ArenaSlot<T> {
    let offset: Int
    let count: Int
}

/// One 64-byte aligned block holding all of an engine's rows and tables, allocated once and
/// freed once. Noncopyable: the engine that owns it is the only way to reach it, and its
/// `deinit` is the only deallocation. The views it hands out stay valid while it lives,
/// which is as long as the engine that stores both.
struct Arena: ~Copyable {
    /// A cache line: rows of 16 binary32 (or 8 binary64) values start on one.
    static let alignment = 64
    private let base: UnsafeMutableRawPointer

    init(_ layout: ArenaLayout) {
        base = .allocate(byteCount: max(layout.byteCount, 1), alignment: Arena.alignment)
    }

    deinit { base.deallocate() }

    /// The slot's memory, bound to `T` and zeroed.
    func zeroed<T: Numeric>(_ slot: ArenaSlot<T>) -> UnsafeMutablePointer<T> {
        let pointer = (base + slot.offset).bindMemory(to: T.self, capacity: slot.count)
        pointer.initialize(repeating: 0, count: slot.count)
        return pointer
    }

    /// The slot's memory, bound to `T` and holding `values` (as many as the slot has room for;
    /// the slots are planned from the same arrays, so that is all of them).
    func copy<T>(_ values: [T], into slot: ArenaSlot<T>) -> UnsafeMutablePointer<T> {
        let pointer = (base + slot.offset).bindMemory(to: T.self, capacity: slot.count)
        _ = UnsafeMutableBufferPointer(start: pointer, count: slot.count).initialize(from: values)
        return pointer
    }

    /// `copy` as a buffer of the slot's count.
    func buffer<T>(_ values: [T], into slot: ArenaSlot<T>) -> UnsafeMutableBufferPointer<T> {
        UnsafeMutableBufferPointer(start: copy(values, into: slot), count: slot.count)
    }
}

/// The parameters of one run in the run's precision, owned here because several engines (one
/// per thread) read them.
final class ParameterSlab<Scalar: KernelScalar> {
    let values: UnsafeMutablePointer<Scalar>
    let count: Int
    private let arena: Arena

    init(_ initial: [Double]) {
        count = initial.count
        var layout = ArenaLayout()
        let slot = layout.reserve(Scalar.self, count: count)
        let arena = Arena(layout)
        values = arena.zeroed(slot)
        for index in 0..<count { values[index] = Scalar(initial[index]) }
        self.arena = arena
    }

    var binary64: [Double] { (0..<count).map { Double(values[$0]) } }
}

extension BatchEngine {
    /// The buffers of an engine for `plan` with rows of `width` lanes, planned in one arena.
    struct Layout {
        var arena = ArenaLayout()
        let netInput, activation, delta, directDelta, gradients, transposedSources: ArenaSlot<Scalar>
        let softmaxLargest, softmaxSums: ArenaSlot<Scalar>
        let fanInStart, fanInSource, outputSlot: ArenaSlot<Int32>
        let isInput: ArenaSlot<Bool>
        let steps: ArenaSlot<KernelPlan.Step>
        let inputUnits, outputUnits: ArenaSlot<Int>
        let lossNetInput, lossValue, lossDirect: ArenaSlot<Double>
        let outputActivations: ArenaSlot<Activation>

        init(plan: Plan, kernels: KernelPlan, width: Int) {
            let (cells, overflow) = plan.unitCount.multipliedReportingOverflow(by: width)
            let rows = overflow ? Int.max : cells
            let outputs = plan.outputUnits.count
            let (outputCells, overflow2) = outputs.multipliedReportingOverflow(by: width)
            let (scratch, overflow3) = kernels.widestDenseBlock.multipliedReportingOverflow(by: width)
            netInput = arena.reserve(Scalar.self, count: rows)
            activation = arena.reserve(Scalar.self, count: rows)
            delta = arena.reserve(Scalar.self, count: rows)
            directDelta = arena.reserve(Scalar.self, count: overflow2 ? Int.max : outputCells)
            gradients = arena.reserve(Scalar.self, count: plan.parameterCount)
            transposedSources = arena.reserve(Scalar.self, count: overflow3 ? Int.max : scratch)
            softmaxLargest = arena.reserve(Scalar.self, count: width)
            softmaxSums = arena.reserve(Scalar.self, count: width)
            fanInStart = arena.reserve(Int32.self, count: plan.fanInStart.count)
            fanInSource = arena.reserve(Int32.self, count: plan.fanInSource.count)
            outputSlot = arena.reserve(Int32.self, count: plan.unitCount)
            isInput = arena.reserve(Bool.self, count: plan.unitCount)
            steps = arena.reserve(KernelPlan.Step.self, count: kernels.steps.count)
            inputUnits = arena.reserve(Int.self, count: plan.inputUnits.count)
            outputUnits = arena.reserve(Int.self, count: outputs)
            lossNetInput = arena.reserve(Double.self, count: outputs)
            lossValue = arena.reserve(Double.self, count: outputs)
            lossDirect = arena.reserve(Double.self, count: outputs)
            outputActivations = arena.reserve(Activation.self, count: outputs)
        }
    }

    /// The lanes a batch of `count` samples occupies: whole 16-lane tiles, or 1.
    func lanes(for count: Int) -> Int { width == 1 ? 1 : KernelPlan.wholeTiles(count) }

    /// Zeroes the gradients `backward` adds to: all but the dense blocks' weight gradients,
    /// which it stores. Clearing those too would be a pass over most of the parameters'
    /// memory for nothing.
    func clearGradients() {
        // The blocks' weights lie in step order (the fan-in table is in unit order): clear the
        // gaps between them, or everything should a block ever come out of order.
        var next = 0
        for step in steps {
            guard case .dense(_, let sourceCount, let weightStart) = step.kind else { continue }
            guard weightStart >= next else { return gradients.update(repeating: 0, count: parameterCount) }
            (gradients + next).update(repeating: 0, count: weightStart - next)
            next = weightStart + step.unitCount * sourceCount
        }
        (gradients + next).update(repeating: 0, count: parameterCount - next)
    }

    /// Copies the inputs of samples `order[first ..< first + count]` into the input rows, and
    /// zeroes the unused lanes of the tile so they stay finite and contribute nothing. A batch
    /// goes through the C kernel (blocks of 8 samples x 8 inputs transposed in registers); one
    /// sample, a few values, is cheaper copied here than through a call.
    func loadInputs(_ inputs: UnsafeBufferPointer<Double>, inputWidth: Int, order: UnsafeBufferPointer<Int>, first: Int, count: Int) {
        guard let source = inputs.baseAddress, let samples = order.baseAddress, let units = inputUnits.baseAddress else { return }
        if width == 1 {
            let sample = source + samples[first] &* inputWidth
            for column in 0..<inputUnits.count { activation[units[column]] = Scalar(sample[column]) }
            return
        }
        Scalar.loadInputs(vector, activation, width, units, inputUnits.count, source, inputWidth, samples + first, count)
        let lanes = lanes(for: count)
        for unit in inputUnits {
            for lane in count..<lanes { activation[unit * width + lane] = 0 }
        }
    }
}
