import BPCPlan
import BPCRuntime

/// The fast runtime's buffers and kernels for one precision: a batch of samples runs through
/// the network at once, stored batch-major (row `u` of a buffer holds unit u's value for every
/// sample of the batch, `width` lanes), so that every edge is a vector operation over the batch.
///
/// The type is split by facet, as one type over several files:
/// - this file: the stored state and `init`;
/// - `BatchEngine+Storage.swift`: the one arena all buffers live in, the parameter slab,
///   loading a batch's inputs;
/// - `+Forward`, `+Loss`, `+Backward`: the passes, which call the C kernels (`Kernels.swift`)
///   for every loop over lanes.
///
/// Everything is allocated in `init`, in one block; `forward`, `backward` and the optimiser
/// steps allocate nothing. All index tables are copied from a verified plan, which is what
/// makes the unchecked pointer arithmetic of the passes safe.
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
    let plan: Plan
    let kernels: KernelPlan
    /// Lanes per row: 1 for one sample at a time, else the batch size rounded up to 16.
    let width: Int
    let unitCount: Int
    let parameterCount: Int
    let outputCount: Int
    /// The C kernels in the variant this engine runs (the CPU's widest unless a test picks one).
    let variant: KernelVariant
    let vector: Scalar.Kernels

    /// The parameters, shared by the engines of one training run; the engine keeps the slab
    /// alive and reads it through `parameters`.
    let slab: ParameterSlab<Scalar>
    let parameters: UnsafeMutablePointer<Scalar>

    // Views into `arena`, valid as long as the engine.
    let netInput: UnsafeMutablePointer<Scalar>
    let activation: UnsafeMutablePointer<Scalar>
    /// Row j holds the downstream sum of unit j until its turn in `backward`, then delta_j.
    let delta: UnsafeMutablePointer<Scalar>
    /// dE/da_o from the loss, per output o and lane.
    let directDelta: UnsafeMutablePointer<Scalar>
    /// dE/dw summed over the lanes of the batch `backward` last ran, after `clearGradients()`.
    let gradients: UnsafeMutablePointer<Scalar>
    /// Scratch for `denseBackward`: one block's sources, lane-major.
    let transposedSources: UnsafeMutablePointer<Scalar>
    /// Scratch for the batched softmax: per lane the largest net input and the sum of the
    /// exponentials.
    let softmaxLargest: UnsafeMutablePointer<Scalar>
    let softmaxSums: UnsafeMutablePointer<Scalar>
    let fanInStart: UnsafeMutablePointer<Int32>
    let fanInSource: UnsafeMutablePointer<Int32>
    let isInput: UnsafeMutablePointer<Bool>
    /// For each unit, its index among the outputs, or -1.
    let outputSlot: UnsafeMutablePointer<Int32>
    // The tables a step reads, as buffers: iterating an array stored in a class retains and
    // releases it on every pass, which costs more than a small network's whole step.
    let steps: UnsafeMutableBufferPointer<KernelPlan.Step>
    let inputUnits: UnsafeMutableBufferPointer<Int>
    let outputUnits: UnsafeMutableBufferPointer<Int>
    // Per-sample loss scratch in binary64: the loss is evaluated by `Loss.evaluate`, the one
    // definition every runtime shares.
    let lossNetInput: UnsafeMutableBufferPointer<Double>
    let lossValue: UnsafeMutableBufferPointer<Double>
    let lossDirect: UnsafeMutableBufferPointer<Double>
    let outputActivations: UnsafeMutableBufferPointer<Activation>
    /// The one allocation behind every view above; freed when the engine goes.
    private let arena: Arena

    /// `kernels` defaults to the plan's lowering for this batch size; the engines of one run
    /// share one.
    init(plan: Plan, batchSize: Int, parameters: ParameterSlab<Scalar>, kernels: KernelPlan? = nil,
         variant: KernelVariant = .selected) {
        self.plan = plan
        width = KernelPlan.laneWidth(batchSize: batchSize)
        let kernels = kernels ?? KernelPlan(plan: plan, dense: width > 1)
        self.kernels = kernels
        unitCount = plan.unitCount
        parameterCount = plan.parameterCount
        outputCount = plan.outputUnits.count
        self.variant = variant
        vector = Scalar.kernels(variant)
        slab = parameters
        self.parameters = parameters.values

        let layout = Layout(plan: plan, kernels: kernels, width: width)
        let arena = Arena(layout.arena)
        netInput = arena.zeroed(layout.netInput)
        activation = arena.zeroed(layout.activation)
        delta = arena.zeroed(layout.delta)
        directDelta = arena.zeroed(layout.directDelta)
        gradients = arena.zeroed(layout.gradients)
        transposedSources = arena.zeroed(layout.transposedSources)
        softmaxLargest = arena.zeroed(layout.softmaxLargest)
        softmaxSums = arena.zeroed(layout.softmaxSums)
        fanInStart = arena.copy(plan.fanInStart, into: layout.fanInStart)
        fanInSource = arena.copy(plan.fanInSource, into: layout.fanInSource)
        var slots = [Int32](repeating: -1, count: unitCount)
        for (index, unit) in plan.outputUnits.enumerated() { slots[Int(unit)] = Int32(index) }
        outputSlot = arena.copy(slots, into: layout.outputSlot)
        isInput = arena.copy(plan.roles.map { $0 == .input }, into: layout.isInput)
        steps = arena.buffer(kernels.steps, into: layout.steps)
        inputUnits = arena.buffer(plan.inputUnits.map { Int($0) }, into: layout.inputUnits)
        outputUnits = arena.buffer(plan.outputUnits.map { Int($0) }, into: layout.outputUnits)
        let zeros = [Double](repeating: 0, count: outputCount)
        lossNetInput = arena.buffer(zeros, into: layout.lossNetInput)
        lossValue = arena.buffer(zeros, into: layout.lossValue)
        lossDirect = arena.buffer(zeros, into: layout.lossDirect)
        outputActivations = arena.buffer(plan.outputUnits.map { plan.activations[Int($0)] }, into: layout.outputActivations)
        self.arena = arena
    }
}
