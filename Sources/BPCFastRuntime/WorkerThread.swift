import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

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
