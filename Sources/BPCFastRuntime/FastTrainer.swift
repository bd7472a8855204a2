internal import BPCKernels
import BPCPlan
import BPCRuntime

/// The arithmetic a fast run uses. Binary64 (the default) matches the reference runtime up to
/// the order of additions; binary32 halves memory traffic and doubles the vector width.
public enum Precision: String, CaseIterable, Sendable {
    case f32, f64
}

/// Trains a plan with the batched, vectorised kernels of `BatchEngine`, on the same schedule
/// (`runEpochs`) and with the same optimiser code (`OptimizerState`) as the reference `Trainer`,
/// so the two differ only in rounding.
///
/// With two threads each batch is cut in two halves of samples; each thread runs forward and
/// backward for its half with its own engine (activations, deltas, gradients) over the shared
/// parameters, then the gradients are summed and one update applied: one hand-off per batch,
/// to a worker thread started once per run.
///
/// Runs on every CPU: the vector loops are C kernels in several instruction-set variants, of
/// which the widest this CPU supports runs (`instructionSet` names it).
public struct FastTrainer {
    public var settings: TrainingSettings
    public var precision: Precision
    /// Threads to use; 0 chooses (`automaticThreads`).
    public var threads: Int
    /// The kernel variant the engines run; the tests set each variant the CPU supports.
    var variant = KernelVariant.selected

    public init(settings: TrainingSettings, precision: Precision, threads: Int = 0) {
        self.settings = settings
        self.precision = precision
        self.threads = threads
    }

    /// The instruction set of the kernels this CPU runs: "avx512" (AVX-512 F/VL/DQ/BW with
    /// FMA), "avx2+fma" or "portable" (the baseline instruction set: SSE2 on x86-64, NEON on
    /// arm64). Chosen once per process; `BPC_KERNELS=<name>` in the environment picks a
    /// narrower supported one, for measurements.
    public static var instructionSet: String { KernelVariant.selected.name }

    /// Multiply-adds per thread and batch below which a second thread costs more than it
    /// saves. Measured on a 2-core virtual machine (benchmarks/RESULTS.md): 64 -> 256 -> 256
    /// -> 10 at batch 32 (2.7e6 per batch) gains about 1.25x; the sparse W3 DAG at batch 64
    /// (1e6 per batch) and 64 -> 64 -> 10 at batch 32 (1.5e5) gain nothing.
    public static let minimumWorkPerThread = 1_000_000

    /// Two threads when the processor has them, each half of the batch fills at least one
    /// 16-lane tile, and the batch's work dwarfs the hand-off; otherwise one.
    public static func automaticThreads(plan: Plan, batchSize: Int, processors: Int = availableProcessors()) -> Int {
        guard processors >= 2, batchSize >= 32 else { return 1 }
        let (work, overflow) = plan.edgeCount.multipliedReportingOverflow(by: batchSize)
        return overflow || work >= 2 * minimumWorkPerThread ? 2 : 1
    }

    /// The most samples a batch holds when training on `samples` samples: a data set smaller
    /// than `batch_size` makes every batch smaller.
    public func batchCapacity(samples: Int) -> Int { max(1, min(settings.batchSize, samples)) }

    /// Samples per thread in a full batch: the batch cut into `threads` parts, rounded up.
    private func share(capacity: Int, threads: Int) -> Int {
        capacity / threads + (capacity % threads == 0 ? 0 : 1)
    }

    /// The thread count a run of `plan` on `samples` samples will use.
    public func threadCount(for plan: Plan, samples: Int) -> Int {
        let capacity = batchCapacity(samples: samples)
        let requested = threads > 0 ? threads : FastTrainer.automaticThreads(plan: plan, batchSize: capacity)
        // No more threads than samples in a batch: every thread needs at least one.
        return max(1, min(requested, capacity))
    }

    /// Bytes the run's buffers take (saturating at Int.max): per thread three values per unit
    /// and lane plus the gradients, and the parameters with the optimiser's state. The command
    /// line compares it with the machine's memory before it allocates anything.
    public func memoryNeeded(for plan: Plan, samples: Int) -> Int {
        let threadCount = threadCount(for: plan, samples: samples)
        let width = KernelPlan.laneWidth(batchSize: share(capacity: batchCapacity(samples: samples), threads: threadCount))
        let widestBlock = KernelPlan(plan: plan, dense: width > 1).widestDenseBlock
        // Per lane: net input, activation and delta per unit, the direct deltas, the transposed
        // block and the two softmax rows.
        let perThread = Double(width) * Double(3 * plan.unitCount + plan.outputUnits.count + widestBlock + 2) + Double(plan.parameterCount)
        let values = Double(threadCount) * perThread + 3 * Double(plan.parameterCount)
        let bytes = values * Double(precision == .f32 ? 4 : 8)
        return bytes >= Double(Int.max) ? Int.max : Int(bytes)
    }

    /// Trains `plan` from `parameters` (a verified plan; `Network.init` verifies) on `data`, or
    /// from `resume` (a state an earlier run of the same plan, settings, precision and thread
    /// count reported), and returns the trained parameters in binary64. `afterEpoch` runs after
    /// each epoch; returning false stops cleanly.
    public func train(
        plan: Plan, parameters: [Double], on data: Dataset, resume: TrainingState? = nil,
        afterEpoch: EpochCallback = { _, _, _, _ in true }
    ) throws(NonFiniteValue) -> (parameters: [Double], report: TrainingReport) {
        let start = resume?.parameters ?? parameters
        switch precision {
        case .f32: return try train(ParameterSlab<Float>(start), plan, data, resume, afterEpoch)
        case .f64: return try train(ParameterSlab<Double>(start), plan, data, resume, afterEpoch)
        }
    }

    private func train<Scalar: KernelScalar>(
        _ slab: ParameterSlab<Scalar>, _ plan: Plan, _ data: Dataset, _ resume: TrainingState?, _ afterEpoch: EpochCallback
    ) throws(NonFiniteValue) -> (parameters: [Double], report: TrainingReport) {
        let threadCount = threadCount(for: plan, samples: data.count)
        let share = share(capacity: batchCapacity(samples: data.count), threads: threadCount)
        let kernels = KernelPlan(plan: plan, dense: KernelPlan.laneWidth(batchSize: share) > 1)
        let primary = BatchEngine<Scalar>(plan: plan, batchSize: share, parameters: slab, kernels: kernels, variant: variant)
        let gradients = primary.gradients
        var optimizer = OptimizerState<Scalar>(settings.optimizer, parameterCount: slab.count, regularization: settings.regularization)
        if let resume { optimizer.restore(resume.optimizer) }
        let workers = (1..<threadCount).map { _ in
            let engine = BatchEngine<Scalar>(plan: plan, batchSize: share, parameters: slab, kernels: kernels, variant: variant)
            let part = BatchPart()
            return (engine: engine, part: part, thread: WorkerThread { part.run(engine) })
        }
        defer { for worker in workers { worker.thread.stop() } }
        // Tied parameters sum their gradients before the update (nil when nothing is shared).
        let sharing = ParameterSharing(plan)
        // The online step updates inside the backward pass, so it serves plain SGD without
        // tied parameters only.
        let online = share == 1 && settings.batchSize == 1 && settings.optimizer == .sgd && settings.regularization.isIdentity
            && sharing == nil
        let report = try data.inputs.withUnsafeBufferPointer { (inputs) throws(NonFiniteValue) in
            try data.targets.withUnsafeBufferPointer { (targets) throws(NonFiniteValue) in
                try runEpochs(samples: data.count, settings: settings, resume: resume?.schedule, wholeEpochs: online, afterEpoch: { epoch, loss, schedule in
                    afterEpoch(epoch, loss, { slab.binary64 }, {
                        TrainingState(schedule: schedule, optimizer: optimizer.snapshot(), parameters: slab.binary64)
                    })
                }) { (order, first, count, rate, position) throws(NonFiniteValue) in
                    if online {
                        // The whole epoch, one update per sample.
                        var loss = 0.0
                        for sample in first..<first + count {
                            primary.loadInputs(inputs, inputWidth: data.inputWidth, order: order, first: sample, count: 1)
                            primary.forwardSample()
                            let sampleLoss = primary.loss(targets: targets, targetWidth: data.targetWidth, order: order, first: sample, count: 1)
                            guard sampleLoss.isFinite else { throw position.advanced(by: sample - first).failure("the loss") }
                            if let bad = primary.backwardUpdatingOnline(rate: rate) {
                                throw position.advanced(by: sample - first).failure("parameter \(plan.parameterKeys()[bad])")
                            }
                            loss += sampleLoss
                        }
                        return loss
                    }
                    let batch = SharedBatch(inputs: inputs, inputWidth: data.inputWidth, targets: targets,
                                            targetWidth: data.targetWidth, order: order)
                    // Part t of the batch is samples [t * share, (t + 1) * share); the workers
                    // take parts 1..., this thread part 0.
                    for (index, worker) in workers.enumerated() {
                        let start = (index + 1) * share
                        worker.part.set(batch, first: first + start, count: max(0, min(share, count - start)))
                        worker.thread.start()
                    }
                    var loss = primary.accumulateGradients(batch, first: first, count: min(share, count))
                    for worker in workers {
                        worker.thread.wait()
                        guard worker.part.count > 0 else { continue }
                        loss += worker.part.loss
                        Scalar.add(primary.vector, gradients, worker.engine.gradients, slab.count)
                    }
                    guard loss.isFinite else { throw position.failure("the loss") }
                    sharing?.fold(gradients)
                    if let bad = optimizer.apply(parameters: slab.values, gradients: gradients, batchCount: count, rate: rate) {
                        throw position.failure("parameter \(plan.parameterKeys()[bad])")
                    }
                    return loss
                }
            }
        }
        return (slab.binary64, report)
    }
}

/// Processors this process may run on (its CPU affinity), at least 1.
public func availableProcessors() -> Int { bpc_processor_count() }
