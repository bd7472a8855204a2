import BPCPlan
import BPCRuntime
import CPUFeatures
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

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
/// Runs only on CPUs with the instructions this module was compiled for; callers check
/// `bpc_cpu_runs_fast_runtime()` (module CPUFeatures) first, from code built for any CPU.
public struct FastTrainer {
    public var settings: TrainingSettings
    public var precision: Precision
    /// Threads to use; 0 chooses (`automaticThreads`).
    public var threads: Int

    public init(settings: TrainingSettings, precision: Precision, threads: Int = 0) {
        self.settings = settings
        self.precision = precision
        self.threads = threads
    }

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
        let perThread = Double(width) * Double(3 * plan.unitCount + plan.outputUnits.count + widestBlock) + Double(plan.parameterCount)
        let values = Double(threadCount) * perThread + 3 * Double(plan.parameterCount)
        let bytes = values * Double(precision == .f32 ? 4 : 8)
        return bytes >= Double(Int.max) ? Int.max : Int(bytes)
    }

    /// Trains `plan` from `parameters` (a verified plan; `Network.init` verifies) on `data` and
    /// returns the trained parameters in binary64. `shouldContinue(epoch, meanLoss)` runs after
    /// each epoch; returning false stops cleanly.
    public func train(
        plan: Plan, parameters: [Double], on data: Dataset,
        shouldContinue: (Int, Double) -> Bool = { _, _ in true }
    ) throws(NonFiniteValue) -> (parameters: [Double], report: TrainingReport) {
        switch precision {
        case .f32: return try train(ParameterSlab<Float>(parameters), plan, data, shouldContinue)
        case .f64: return try train(ParameterSlab<Double>(parameters), plan, data, shouldContinue)
        }
    }

    private func train<Scalar: KernelScalar>(
        _ slab: ParameterSlab<Scalar>, _ plan: Plan, _ data: Dataset, _ shouldContinue: (Int, Double) -> Bool
    ) throws(NonFiniteValue) -> (parameters: [Double], report: TrainingReport) {
        let threadCount = threadCount(for: plan, samples: data.count)
        let share = share(capacity: batchCapacity(samples: data.count), threads: threadCount)
        let kernels = KernelPlan(plan: plan, dense: KernelPlan.laneWidth(batchSize: share) > 1)
        let engines = (0..<threadCount).map { _ in BatchEngine<Scalar>(plan: plan, batchSize: share, parameters: slab, kernels: kernels) }
        let primary = engines[0]
        let gradients = primary.gradients
        var optimizer = OptimizerState<Scalar>(settings.optimizer, parameterCount: slab.count)
        defer { optimizer.release() }
        let workers = engines.dropFirst().map { engine in
            let part = BatchPart()
            return (engine: engine, part: part, thread: WorkerThread { part.run(engine) })
        }
        defer { for worker in workers { worker.thread.stop() } }
        let online = share == 1 && settings.batchSize == 1 && settings.optimizer == .sgd
        let report = try data.inputs.withUnsafeBufferPointer { (inputs) throws(NonFiniteValue) in
            try data.targets.withUnsafeBufferPointer { (targets) throws(NonFiniteValue) in
                try runEpochs(samples: data.count, settings: settings, shouldContinue: shouldContinue) {
                    (order, first, count, rate, position) throws(NonFiniteValue) in
                    if online {
                        primary.loadInputs(inputs, inputWidth: data.inputWidth, order: order, first: first, count: 1)
                        primary.forwardSample()
                        let loss = primary.loss(targets: targets, targetWidth: data.targetWidth, order: order, first: first, count: 1)
                        guard loss.isFinite else { throw position.failure("the loss") }
                        if let bad = primary.backwardUpdatingOnline(rate: rate) {
                            throw position.failure("parameter \(plan.parameterKeys()[bad])")
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
                        let other = worker.engine.gradients
                        for p in 0..<slab.count { gradients[p] += other[p] }
                    }
                    guard loss.isFinite else { throw position.failure("the loss") }
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

/// The data of one batch as the engines read it.
struct SharedBatch: @unchecked Sendable {
    let inputs: UnsafeBufferPointer<Double>
    let inputWidth: Int
    let targets: UnsafeBufferPointer<Double>
    let targetWidth: Int
    let order: UnsafeBufferPointer<Int>
}

/// One worker's share of a batch, written by the training thread before `WorkerThread.start`
/// and read back after `wait`; the semaphores between them order the accesses.
final class BatchPart: @unchecked Sendable {
    private(set) var batch: SharedBatch?
    private(set) var first = 0
    private(set) var count = 0
    private(set) var loss = 0.0

    func set(_ batch: SharedBatch, first: Int, count: Int) {
        self.batch = batch
        self.first = first
        self.count = count
    }

    func run<Scalar: KernelScalar>(_ engine: BatchEngine<Scalar>) {
        guard let batch, count > 0 else { return }
        loss = engine.accumulateGradients(batch, first: first, count: count)
    }
}

/// A thread started once per training run that runs the same job each time it is started.
///
/// A hand-off allocates nothing (a dispatch to a thread pool allocates a few blocks per call)
/// and is fast: each side first spins on an atomic counter for a few tens of microseconds,
/// since on a virtual machine waking a thread blocked on a semaphore can take longer than the
/// work of a whole batch, and only then blocks on a semaphore. The semaphores may collect
/// extra signals while the other side spins; every wait therefore re-checks the counter.
final class WorkerThread: @unchecked Sendable {
    private let job: () -> Void
    /// Jobs requested and jobs finished, counted from 0; a job is pending while they differ.
    private let requested = Atomic<Int>(0)
    private let completed = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let begin = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private var thread: pthread_t?
    private var issued = 0

    /// Polls of the counter before blocking: about a millisecond, longer than the serial work
    /// between two batches (summing gradients, the update).
    static let spinLimit = 2_000_000

    init(job: @escaping () -> Void) {
        self.job = job
        var handle = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        if pthread_create(&handle, nil, { context in
            guard let context else { return nil }
            Unmanaged<WorkerThread>.fromOpaque(context).takeRetainedValue().loop()
            return nil
        }, context) == 0 {
            thread = handle
        } else {
            // No thread: run each job on the caller, in `start`.
            Unmanaged<WorkerThread>.fromOpaque(context).release()
        }
    }

    private func loop() {
        var done = 0
        while true {
            WorkerThread.await(begin) { requested.load(ordering: .acquiring) != done || stopping.load(ordering: .acquiring) }
            if requested.load(ordering: .acquiring) == done { return }  // stopping, nothing pending
            job()
            done += 1
            completed.store(done, ordering: .releasing)
            finished.signal()
        }
    }

    /// Spins until `ready`, then blocks on `semaphore` between checks.
    private static func await(_ semaphore: DispatchSemaphore, until ready: () -> Bool) {
        var polls = 0
        while !ready() {
            polls += 1
            if polls > spinLimit { semaphore.wait() }
        }
    }

    /// Runs the job once on the thread; `wait` returns when it is done.
    func start() {
        issued += 1
        if thread == nil {
            job()
            completed.store(issued, ordering: .releasing)
            return
        }
        requested.store(issued, ordering: .releasing)
        begin.signal()
    }

    func wait() {
        let target = issued
        WorkerThread.await(finished) { completed.load(ordering: .acquiring) == target }
    }

    /// Ends the thread; called when the run is over.
    func stop() {
        guard let thread else { return }
        stopping.store(true, ordering: .releasing)
        begin.signal()
        pthread_join(thread, nil)
        self.thread = nil
    }
}

extension BatchEngine {
    /// Forward and backward for samples `order[first ..< first + count]`; leaves their summed
    /// dE/dw in `gradients` (cleared first) and returns their summed loss.
    func accumulateGradients(_ batch: SharedBatch, first: Int, count: Int) -> Double {
        let lanes = lanes(for: count)
        clearGradients()
        loadInputs(batch.inputs, inputWidth: batch.inputWidth, order: batch.order, first: first, count: count)
        forward(lanes: lanes)
        let loss = loss(targets: batch.targets, targetWidth: batch.targetWidth, order: batch.order, first: first, count: count)
        backward(lanes: lanes)
        return loss
    }
}

/// Processors this process may run on (its CPU affinity), at least 1.
public func availableProcessors() -> Int { Int(bpc_available_processors()) }
