import BPCPlan

/// Why training stopped early: the first value that stopped being a finite number.
public struct NonFiniteValue: Error, Sendable, Equatable, CustomStringConvertible {
    /// 0-based epoch and batch.
    public var epoch: Int
    public var batch: Int
    /// "loss", or the parameter key that became non-finite.
    public var what: String

    public init(epoch: Int, batch: Int, what: String) {
        self.epoch = epoch
        self.batch = batch
        self.what = what
    }

    public var description: String {
        "training diverged in epoch \(epoch + 1), batch \(batch + 1): \(what) is not a finite number; lower the learning rate"
    }
}

/// What a training run produced.
public struct TrainingReport: Sendable {
    /// Mean training loss of each epoch, measured on each sample before its batch's update
    /// (from the first epoch, also across a resumed run).
    public var lossHistory: [Double]
    /// Epochs done in all (a resumed run counts those before it).
    public var epochsRun: Int
    public var updates: Int
    /// True when `afterEpoch` asked to stop.
    public var interrupted: Bool

    public init(lossHistory: [Double], epochsRun: Int, updates: Int, interrupted: Bool) {
        self.lossHistory = lossHistory
        self.epochsRun = epochsRun
        self.updates = updates
        self.interrupted = interrupted
    }
}

/// Where the epoch schedule stands after an epoch: with the optimiser's state and the
/// parameters, all a run needs to continue as if it had never stopped.
///
/// The sample order is kept, not just the generator: each epoch's shuffle permutes the
/// previous epoch's order.
public struct ScheduleState: Sendable, Equatable {
    public var epochsDone: Int
    public var updates: Int
    public var order: [Int]
    public var generator: UInt64
    public var lossHistory: [Double]

    public init(epochsDone: Int, updates: Int, order: [Int], generator: UInt64, lossHistory: [Double]) {
        self.epochsDone = epochsDone
        self.updates = updates
        self.order = order
        self.generator = generator
        self.lossHistory = lossHistory
    }
}

/// The optimiser's moments and update count, in binary64 (binary32 values convert exactly).
public struct OptimizerSnapshot: Sendable, Equatable {
    public var step: Int
    /// Momentum's velocity or Adam's m; empty for sgd.
    public var first: [Double]
    /// Adam's v; empty otherwise.
    public var second: [Double]

    public init(step: Int, first: [Double], second: [Double]) {
        self.step = step
        self.first = first
        self.second = second
    }
}

/// A run's whole state at the end of an epoch.
public struct TrainingState: Sendable, Equatable {
    public var schedule: ScheduleState
    public var optimizer: OptimizerSnapshot
    /// The parameters in binary64 (exactly the binary32 ones for a binary32 run).
    public var parameters: [Double]

    public init(schedule: ScheduleState, optimizer: OptimizerSnapshot, parameters: [Double]) {
        self.schedule = schedule
        self.optimizer = optimizer
        self.parameters = parameters
    }
}

/// What a trainer tells its caller after each epoch: the 0-based epoch, its mean training
/// loss, and the parameters and the run's whole state, built only when asked for (validation
/// and checkpoints ask; plain runs do not pay). Returning false stops cleanly.
public typealias EpochCallback = (_ epoch: Int, _ loss: Double, _ parameters: () -> [Double], _ state: () -> TrainingState) -> Bool

/// Mini-batch gradient descent over a `Network`, the textbook algorithm of the notes: samples
/// cut in order (or in a seeded shuffle per epoch) into batches of `batchSize` (the last may
/// be smaller); after each batch, w <- update(w, mean gradient, eta_n) with n the 0-based epoch.
///
/// Every buffer is allocated before the first epoch; a training step allocates nothing.
public struct Trainer {
    public var settings: TrainingSettings

    public init(settings: TrainingSettings) { self.settings = settings }

    /// Trains `network` on `data`, from the start or from `resume` (a state an earlier run of
    /// the same plan and settings reported). `afterEpoch` runs after each epoch; returning
    /// false stops cleanly.
    public mutating func train(
        _ network: inout Network, on data: Dataset, resume: TrainingState? = nil,
        afterEpoch: EpochCallback = { _, _, _, _ in true }
    ) throws(NonFiniteValue) -> TrainingReport {
        var optimizer = OptimizerState<Double>(settings.optimizer, parameterCount: network.parameters.count,
                                               regularization: settings.regularization)
        if let resume {
            network.parameters = resume.parameters
            optimizer.restore(resume.optimizer)
        }
        let plan = network.plan
        return try runEpochs(samples: data.count, settings: settings, resume: resume?.schedule, afterEpoch: { epoch, loss, schedule in
            afterEpoch(epoch, loss, { network.parameters }, {
                TrainingState(schedule: schedule, optimizer: optimizer.snapshot(), parameters: network.parameters)
            })
        }) { (order, first, count, rate, position) throws(NonFiniteValue) in
            network.resetGradients()
            var batchLoss = 0.0
            data.inputs.withUnsafeBufferPointer { inputs in
                data.targets.withUnsafeBufferPointer { targets in
                    for sample in order[first..<(first + count)] {
                        network.forward(UnsafeBufferPointer(rebasing: inputs[(sample * data.inputWidth)..<((sample + 1) * data.inputWidth)]))
                        batchLoss += network.backward(target: UnsafeBufferPointer(rebasing: targets[(sample * data.targetWidth)..<((sample + 1) * data.targetWidth)]))
                    }
                }
            }
            guard batchLoss.isFinite else { throw position.failure("the loss") }
            network.foldSharedGradients()
            let gradients = network.gradients
            let bad = gradients.withUnsafeBufferPointer { g in
                network.parameters.withUnsafeMutableBufferPointer { w in
                    // A network without parameters has nothing to update.
                    guard let weights = w.baseAddress, let gradient = g.baseAddress else { return Int?.none }
                    return optimizer.apply(parameters: weights, gradients: gradient, batchCount: count, rate: rate)
                }
            }
            if let bad { throw position.failure("parameter \(plan.parameterKeys()[bad])") }
            return batchLoss
        }
    }
}

/// Where in a run a batch is, for error reports.
public struct BatchPosition: Sendable {
    public var epoch: Int
    public var batch: Int

    public func failure(_ what: String) -> NonFiniteValue { NonFiniteValue(epoch: epoch, batch: batch, what: what) }
    /// The position `batches` batches later in the same epoch: a step given a whole epoch
    /// (`runEpochs`' `wholeEpochs`) names the sample where something went wrong.
    public func advanced(by batches: Int) -> BatchPosition { BatchPosition(epoch: epoch, batch: batch + batches) }
}

/// The epoch and batch schedule every runtime trains with, so that they visit the same samples
/// in the same order: per epoch a seeded Fisher-Yates shuffle (when asked), then batches of
/// `batchSize` in that order. `step(order, first, count, eta_n, position)` trains on samples
/// `order[first ..< first + count]` and returns their summed loss.
///
/// A run continues from `resume` (the schedule an earlier run reported) exactly as if it had
/// not stopped. `afterEpoch(epoch, meanLoss, schedule)` runs after each epoch with the
/// schedule's state, passed in place (no copy, no retain: a training run may have an epoch of
/// four samples); returning false stops cleanly.
///
/// With `wholeEpochs` and batches of one sample, `step` gets each epoch's samples in one call
/// (`first` 0, `count` all) and updates after every sample itself, as batches of one would:
/// the schedule is the same, without a call per sample, which on a small network costs as much
/// as the step. Such a step names a non-finite value's sample as batch `position.batch + k`.
public func runEpochs(
    samples count: Int, settings: TrainingSettings, resume: ScheduleState? = nil, wholeEpochs: Bool = false,
    afterEpoch: (Int, Double, inout ScheduleState) -> Bool,
    step: (UnsafeBufferPointer<Int>, Int, Int, Double, BatchPosition) throws(NonFiniteValue) -> Double
) throws(NonFiniteValue) -> TrainingReport {
    // The schedule's state lives in one value that `afterEpoch` borrows: no copy per epoch.
    var state = resume ?? ScheduleState(epochsDone: 0, updates: 0, order: Array(0..<count),
                                        generator: settings.seed ^ 0x5348_5546_464C_4521, lossHistory: [])
    var interrupted = false
    guard count > 0 else { return TrainingReport(lossHistory: state.lossHistory, epochsRun: state.epochsDone, updates: state.updates, interrupted: false) }
    var generator = SeededGenerator(seed: state.generator)
    state.lossHistory.reserveCapacity(min(settings.epochs, 1 << 16))
    let batchSize = max(1, settings.batchSize)
    // One call per epoch serves batches of one sample; `updates` still counts one per sample.
    let samplesPerCall = wholeEpochs && batchSize == 1 ? count : batchSize
    for epoch in state.epochsDone..<max(settings.epochs, state.epochsDone) {
        if settings.shuffle {
            for index in stride(from: count - 1, to: 0, by: -1) {
                state.order.swapAt(index, generator.nextIndex(below: index + 1))
            }
        }
        let rate = settings.learningRate.rate(epoch: epoch)
        var epochLoss = 0.0
        var batch = 0
        var first = 0
        while first < count {
            let size = min(samplesPerCall, count - first)
            epochLoss += try state.order.withUnsafeBufferPointer { (order) throws(NonFiniteValue) in
                try step(order, first, size, rate, BatchPosition(epoch: epoch, batch: batch))
            }
            let updates = samplesPerCall == batchSize ? 1 : size
            state.updates += updates
            batch += updates
            first += size
        }
        state.lossHistory.append(epochLoss / Double(count))
        state.epochsDone = epoch + 1
        state.generator = generator.currentState
        if !afterEpoch(epoch, epochLoss / Double(count), &state) {
            interrupted = true
            break
        }
    }
    return TrainingReport(lossHistory: state.lossHistory, epochsRun: state.epochsDone, updates: state.updates, interrupted: interrupted)
}

/// An optimiser's running state (velocity, second moment, step count) in either precision,
/// with the one implementation of each update rule (`Optimizer` documents the formulas).
///
/// The state owns its memory: one allocation for both moment vectors, freed by `deinit`.
/// The type is noncopyable, so no copy can outlive the memory or free it a second time, and
/// no caller has to remember to release it.
///
/// The rules run over 8 parameters at a time (`SIMD8`) with a vector probe for non-finite
/// values: a scalar running check would be a serial floating-point sum, which compilers may
/// not vectorise.
public struct OptimizerState<Scalar: BinaryFloatingPoint & SIMDScalar>: ~Copyable {
    public typealias Vector = SIMD8<Scalar>
    public let optimizer: Optimizer
    public let count: Int
    /// The first moment (momentum's velocity, Adam's m), then the second (Adam's v), in one
    /// allocation of 2 x `count` values.
    @usableFromInline let velocity: UnsafeMutablePointer<Scalar>
    @usableFromInline let secondMoment: UnsafeMutablePointer<Scalar>
    @usableFromInline var step = 0
    public let regularization: Regularization
    /// The regularised mean gradient, when `regularization` changes it (a third vector of the
    /// same allocation); nil otherwise.
    @usableFromInline let adjusted: UnsafeMutablePointer<Scalar>?

    public init(_ optimizer: Optimizer, parameterCount: Int, regularization: Regularization = Regularization()) {
        self.optimizer = optimizer
        self.regularization = regularization
        count = max(parameterCount, 0)
        let vectors = regularization.isIdentity ? 2 : 3
        // Saturating: an absurd count fails in the allocation, not in the arithmetic.
        let (all, overflow) = count.multipliedReportingOverflow(by: vectors)
        let capacity = overflow ? Int.max : max(all, 1)
        velocity = .allocate(capacity: capacity)
        velocity.initialize(repeating: 0, count: capacity)
        secondMoment = velocity + count
        adjusted = regularization.isIdentity ? nil : velocity + 2 * count
    }

    deinit { velocity.deallocate() }

    /// The moments this optimiser uses and the update count, for a checkpoint.
    public func snapshot() -> OptimizerSnapshot {
        let moments = optimizer.momentCount
        return OptimizerSnapshot(
            step: step,
            first: moments > 0 ? (0..<count).map { Double(velocity[$0]) } : [],
            second: moments > 1 ? (0..<count).map { Double(secondMoment[$0]) } : [])
    }

    /// Continues from a snapshot of a run with the same optimiser and parameter count (a
    /// checkpoint's reader checks both).
    public mutating func restore(_ snapshot: OptimizerSnapshot) {
        step = snapshot.step
        for (index, value) in snapshot.first.prefix(count).enumerated() { velocity[index] = Scalar(value) }
        for (index, value) in snapshot.second.prefix(count).enumerated() { secondMoment[index] = Scalar(value) }
    }

    /// The update rules (`Optimizer.step`, their one definition) on a vector of parameters:
    /// given the mean gradient `mean` and the learning rate `eta`, updates the weights and the
    /// moments `first`, `second`. `apply` runs it on 8 parameters at a time; the fast runtime's
    /// online step (batch 1, `sgd`) runs it on one weight through `descend`. `corrections` are
    /// Adam's bias corrections 1 - beta^t (1 otherwise).
    @inlinable @inline(__always)
    public static func rule<V: SIMD & FormulaArithmetic>(
        _ optimizer: Optimizer, weights: inout V, mean: V, first: inout V, second: inout V, rate eta: V,
        corrections: (Scalar, Scalar)
    ) where V.Scalar == Scalar {
        weights = optimizer.step(weight: weights, gradient: mean, rate: eta,
                                 corrections: (V(repeating: corrections.0), V(repeating: corrections.1)),
                                 first: &first, second: &second)
    }

    /// `rule` for plain SGD on one weight: w - eta * g, with g the gradient of one sample (the
    /// mean of a batch of one). Through the same code as `apply`, so the two cannot drift.
    @inlinable @inline(__always)
    public static func descend(_ weight: Scalar, gradient: Scalar, rate: Scalar) -> Scalar {
        var weights = SIMD2(repeating: weight), first = SIMD2<Scalar>(), second = SIMD2<Scalar>()
        rule(.sgd, weights: &weights, mean: SIMD2(repeating: gradient), first: &first, second: &second,
             rate: SIMD2(repeating: rate), corrections: (1, 1))
        return weights[0]
    }

    /// One update with the mean of gradients summed over `batchCount` samples; returns the
    /// index of the first parameter that became non-finite, if any.
    @inlinable
    public mutating func apply(parameters w: UnsafeMutablePointer<Scalar>, gradients g: UnsafePointer<Scalar>, batchCount: Int, rate: Double) -> Int? {
        step += 1
        var corrections = (Scalar(1), Scalar(1))
        if case .adam(let beta1, let beta2, _) = optimizer {
            corrections = (Scalar(1 - power(beta1, step)), Scalar(1 - power(beta2, step)))
        }
        var g = g, batchCount = batchCount
        if let adjusted {
            regularize(w, g, batchCount: batchCount, into: adjusted)
            g = UnsafePointer(adjusted)
            batchCount = 1
        }
        // Dividing by a power of two and multiplying by its reciprocal round alike (both
        // scale by an exact power of two), and a multiplication costs a fraction of a division.
        let exactReciprocal = batchCount > 0 && batchCount & (batchCount - 1) == 0
        // One loop per optimiser and divisor, each touching only the state its rule uses:
        // sgd reads and writes no moment, momentum only the first.
        switch (optimizer, exactReciprocal) {
        case (.sgd, true): return sweep(w, g, batchCount, rate, corrections, moments: 0, reciprocal: true)
        case (.sgd, false): return sweep(w, g, batchCount, rate, corrections, moments: 0, reciprocal: false)
        case (.momentum, true): return sweep(w, g, batchCount, rate, corrections, moments: 1, reciprocal: true)
        case (.momentum, false): return sweep(w, g, batchCount, rate, corrections, moments: 1, reciprocal: false)
        case (.adam, true): return sweep(w, g, batchCount, rate, corrections, moments: 2, reciprocal: true)
        case (.adam, false): return sweep(w, g, batchCount, rate, corrections, moments: 2, reciprocal: false)
        }
    }

    /// The mean gradient after `regularization` (its documentation gives the order): weight
    /// decay, frozen parameters, clipping by global norm. The norm is summed in binary64.
    @inlinable
    func regularize(_ w: UnsafeMutablePointer<Scalar>, _ g: UnsafePointer<Scalar>, batchCount: Int, into mean: UnsafeMutablePointer<Scalar>) {
        let divisor = Scalar(batchCount)
        let decay = Scalar(regularization.weightDecay)
        let frozen = regularization.frozen
        var squares = 0.0
        for index in 0..<count {
            var value = g[index] / divisor + decay * w[index]
            if index < frozen.count && frozen[index] { value = 0 }
            mean[index] = value
            squares += Double(value) * Double(value)
        }
        if let limit = regularization.clipNorm, squares.squareRoot() > limit {
            let scale = Scalar(limit / squares.squareRoot())
            for index in 0..<count { mean[index] *= scale }
        }
    }

    /// `rule` over all parameters, 8 at a time, for an optimiser that keeps `moments` moment
    /// vectors; inlined with constant `moments` and `reciprocal`, so each case is its own loop.
    @inlinable @inline(__always)
    func sweep(
        _ w: UnsafeMutablePointer<Scalar>, _ g: UnsafePointer<Scalar>, _ batchCount: Int, _ rate: Double,
        _ corrections: (Scalar, Scalar), moments: Int, reciprocal: Bool
    ) -> Int? {
        let eta = Vector(repeating: Scalar(rate))
        let divisor = Vector(repeating: Scalar(batchCount))
        let inverse = Vector(repeating: 1 / Scalar(batchCount))
        // 0 * w is 0 for finite w and NaN otherwise: one sum tells whether any went bad.
        var probe = Vector.zero
        let whole = count / 8 * 8
        let optimizer = self.optimizer
        let v = velocity, s = secondMoment
        /// The rule on 8 parameters held in vectors.
        @inline(__always)
        func update(_ weights: inout Vector, _ gradient: Vector, _ first: inout Vector, _ second: inout Vector) {
            let mean = reciprocal ? gradient * inverse : gradient / divisor
            Self.rule(optimizer, weights: &weights, mean: mean, first: &first, second: &second,
                      rate: eta, corrections: corrections)
            probe += 0 * weights
        }
        var p = 0
        while p < whole {
            var weights = load(w + p)
            var first = moments > 0 ? load(v + p) : .zero
            var second = moments > 1 ? load(s + p) : .zero
            update(&weights, load(g + p), &first, &second)
            store(weights, w + p)
            if moments > 0 { store(first, v + p) }
            if moments > 1 { store(second, s + p) }
            p += 8
        }
        if whole < count {
            // The last count % 8 parameters, in zero-padded vectors.
            var weights = Vector.zero, gradient = Vector.zero, first = Vector.zero, second = Vector.zero
            for lane in 0..<(count - whole) {
                weights[lane] = w[whole + lane]; gradient[lane] = g[whole + lane]
                first[lane] = v[whole + lane]; second[lane] = s[whole + lane]
            }
            update(&weights, gradient, &first, &second)
            for lane in 0..<(count - whole) {
                w[whole + lane] = weights[lane]; v[whole + lane] = first[lane]; s[whole + lane] = second[lane]
            }
        }
        guard !probe.sum().isFinite else { return nil }
        return (0..<count).first { !w[$0].isFinite }
    }
}

// 8 values from or to memory at any alignment: the optimiser here and the fast runtime's
// kernels share these (package access: not part of the library's API).

@inlinable @inline(__always)
package func load<Scalar: SIMDScalar>(_ pointer: UnsafePointer<Scalar>) -> SIMD8<Scalar> {
    UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Scalar>.self)
}

@inlinable @inline(__always)
package func load<Scalar: SIMDScalar>(_ pointer: UnsafeMutablePointer<Scalar>) -> SIMD8<Scalar> {
    UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Scalar>.self)
}

@inlinable @inline(__always)
package func store<Scalar: SIMDScalar>(_ value: SIMD8<Scalar>, _ pointer: UnsafeMutablePointer<Scalar>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD8<Scalar>.self)
}

/// x^n for a whole n >= 1 by repeated squaring (no libm dependence for Adam's corrections).
@usableFromInline
func power(_ x: Double, _ n: Int) -> Double {
    var result = 1.0
    var base = x
    var exponent = n
    while exponent > 0 {
        if exponent & 1 == 1 { result *= base }
        base *= base
        exponent >>= 1
    }
    return result
}
