/// How a run saves its state: every `every` epochs (and when it is interrupted), through
/// `save` (the command line writes a file).
public struct CheckpointPolicy {
    public var every: Int
    public var save: (Checkpoint) -> Void

    public init(every: Int = 1, save: @escaping (Checkpoint) -> Void) {
        self.every = every
        self.save = save
    }
}

extension Model {
    /// Trains on `data` (default: the training data) with `settings` (default: the spec's),
    /// on `runtime` (default: native code for a small network trained online, else the fast
    /// runtime).
    ///
    /// After every epoch: the validation loss on `validation` (default: `validationData`),
    /// early stopping (`settings.earlyStopping`), `progress` (returning `.stop` ends training
    /// cleanly after that epoch; the report says it was interrupted) and `checkpoints`.
    /// `resume` continues a run from its checkpoint (same network, settings but epochs, data
    /// and runtime), ending with parameters bit-identical to a run that never stopped.
    /// The parameters afterwards are the trained ones (the best epoch's when early stopping
    /// restores them), in binary64, whichever runtime ran.
    @discardableResult
    public mutating func train(
        on data: Dataset? = nil, settings: TrainingSettings? = nil, runtime: Runtime = .automatic,
        validation: Dataset? = nil, resume: Checkpoint? = nil, checkpoints: CheckpointPolicy? = nil,
        progress: (TrainingProgress) -> TrainingDecision = { _ in .continue }
    ) throws(ModelError) -> TrainingResult {
        guard let data = data ?? trainingData, data.count > 0 else { throw .noData }
        try checkWidths(data)
        let validation = (validation ?? validationData).flatMap { $0.count > 0 ? $0 : nil }
        if let validation { try checkWidths(validation) }
        let settings = settings ?? trainingSettings
        try checkSettings(settings)
        if let checkpoints, checkpoints.every < 1 { throw .invalidSetting("checkpoints must be every 1 or more epochs, not \(checkpoints.every)") }
        let plan = network.plan
        // Data sets hold raw inputs; the runtimes take them normalised (the plan's statistics).
        let (samples, validationSamples) = (plan.networkData(data), validation.map(plan.networkData))

        // A resumed run uses the runtime that wrote the checkpoint: another precision or thread
        // count would add in another order and leave the bit-identical path.
        var runtime = runtime
        if let resume {
            let written = resume.identity
            let recorded: Runtime
            switch written.runtime {
            case .reference: recorded = .reference
            case .fast: recorded = .fast(precision: written.precision, threads: written.threads)
            case .native: recorded = .native(precision: written.precision)
            }
            // The choice may repeat the recorded one, or leave the runtime or thread count to bpc.
            let compatible: Bool
            switch runtime {
            case .automatic: compatible = true
            case .best(let precision, let threads):
                compatible = written.runtime != .reference && precision == written.precision && (threads == 0 || threads == written.threads)
            case .reference: compatible = written.runtime == .reference
            case .fast(let precision, let threads):
                compatible = written.runtime == .fast && precision == written.precision && (threads == 0 || threads == written.threads)
            case .native(let precision): compatible = written.runtime == .native && precision == written.precision
            }
            guard compatible else {
                let name: String
                switch written.runtime {
                case .reference: name = "the reference runtime"
                case .fast: name = "the fast runtime (\(written.precision.rawValue), \(written.threads) thread\(written.threads == 1 ? "" : "s"))"
                case .native: name = "the native runtime (\(written.precision.rawValue))"
                }
                throw .invalidCheckpoint(.mismatch("it was written by \(name); resume with that runtime or without a runtime choice"))
            }
            runtime = recorded
        }
        let (used, trainer) = try runtime.resolve(plan: plan, settings: settings, samples: data.count)
        let identity = Checkpoint.Identity(
            plan: plan.structureFingerprint, settings: settings.trajectoryFingerprint,
            data: Self.fingerprint(data, validation), runtime: used.kind, precision: used.precision, threads: used.threads)
        if let resume, let reason = resume.mismatch(with: identity, parameterCount: plan.parameterCount, samples: data.count, settings: settings) {
            throw .invalidCheckpoint(.mismatch(reason))
        }

        var validationHistory = resume?.validationHistory ?? []
        var early = resume?.earlyStopping
        var stoppedEarly = false
        if let stopping = settings.earlyStopping, let state = early, state.epochsWithoutImprovement >= stopping.patience {
            stoppedEarly = true
        }
        var evaluator = network
        let checkpointInterval = checkpoints?.every
        func afterEpoch(_ epoch: Int, _ loss: Double, _ parameters: () -> [Double], _ state: () -> TrainingState) -> Bool {
            var validationLoss: Double?
            if let validation = validationSamples {
                evaluator.parameters = parameters()
                validationLoss = evaluator.evaluate(validation).meanLoss
                validationHistory.append(validationLoss ?? .nan)
            }
            var stop = false
            if let stopping = settings.earlyStopping {
                let monitored = validationLoss ?? loss
                var state = early ?? Checkpoint.EarlyStoppingState(bestLoss: .infinity, bestEpoch: -1, epochsWithoutImprovement: 0, bestParameters: [])
                if monitored < state.bestLoss - stopping.minDelta {
                    state = Checkpoint.EarlyStoppingState(bestLoss: monitored, bestEpoch: epoch, epochsWithoutImprovement: 0,
                                                          bestParameters: stopping.restoreBest ? parameters() : [])
                } else {
                    state.epochsWithoutImprovement += 1
                }
                early = state
                stop = state.epochsWithoutImprovement >= stopping.patience
                stoppedEarly = stop
            }
            let decision = progress(TrainingProgress(epoch: epoch, epochs: settings.epochs, loss: loss, validationLoss: validationLoss))
            let interrupted = decision == .stop
            // The interval is tested before the policy (and its closure) is touched: most epochs
            // of most runs save nothing, and an epoch can be four samples long.
            if let every = checkpointInterval, interrupted || (epoch + 1) % every == 0 || epoch + 1 == settings.epochs || stop {
                checkpoints?.save(Checkpoint(identity: identity, state: state(), validationHistory: validationHistory, earlyStopping: early))
            }
            return !interrupted && !stop
        }

        if let resume, !stoppedEarly, resume.epochsDone >= settings.epochs {
            throw .invalidSetting("the checkpoint has done \(resume.epochsDone) epochs of \(settings.epochs) already; ask for more epochs (--epochs) to continue it")
        }
        let clock = ContinuousClock()
        let start = clock.now
        var report: TrainingReport
        do throws(NonFiniteValue) {
            if stoppedEarly, let resume {
                // The checkpoint's run had already stopped early: nothing more to train.
                network.parameters = resume.state.parameters
                report = TrainingReport(lossHistory: resume.state.schedule.lossHistory, epochsRun: resume.epochsDone,
                                        updates: resume.state.schedule.updates, interrupted: false)
            } else if let trainer {
                let trained: (parameters: [Double], report: TrainingReport)
                switch trainer {
                case .fast(let fast):
                    trained = try fast.train(plan: plan, parameters: network.parameters, on: samples, resume: resume?.state, afterEpoch: afterEpoch)
                case .native(let native):
                    trained = try native.train(plan: plan, parameters: network.parameters, on: samples, resume: resume?.state, afterEpoch: afterEpoch)
                }
                network.parameters = trained.parameters
                report = trained.report
            } else {
                var trainer = Trainer(settings: settings)
                report = try trainer.train(&network, on: samples, resume: resume?.state, afterEpoch: afterEpoch)
            }
        } catch {
            throw .diverged(error)
        }
        // Early stopping ends a run without interrupting it.
        if stoppedEarly { report.interrupted = false }
        if stoppedEarly, let best = early, !best.bestParameters.isEmpty { network.parameters = best.bestParameters }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return TrainingResult(report: report, runtime: used, seconds: seconds, samples: data.count, resumedAt: resume?.epochsDone ?? 0,
                              validationHistory: validationHistory, stoppedEarly: stoppedEarly, bestEpoch: early.map(\.bestEpoch))
    }

    /// The data's identity for checkpoints: every value's bits, in order, training then
    /// validation.
    static func fingerprint(_ data: Dataset, _ validation: Dataset?) -> UInt64 {
        var hasher = Fingerprint.Hasher()
        for set in [data] + (validation.map { [$0] } ?? []) {
            hasher.add(set.inputWidth)
            hasher.add(set.targetWidth)
            hasher.add(set.count)
            for value in set.inputs { hasher.add(value) }
            for value in set.targets { hasher.add(value) }
        }
        return hasher.value
    }
}

extension Plan {
    /// The network's structure (names, roles, activations, tables, loss, tied parameters; not
    /// the parameter values), hashed: checkpoints name the network they belong to by it.
    var structureFingerprint: UInt64 {
        var hasher = Fingerprint.Hasher()
        hasher.add(unitCount)
        for name in unitNames { hasher.add(name) }
        for role in roles { hasher.add(role.rawValue) }
        for activation in activations { hasher.add(activation.name) }
        for table in [biasParameter, inputUnits, outputUnits, fanInStart, fanInSource, fanInParameter] {
            hasher.add(table.count)
            for value in table { hasher.add(Int(value)) }
        }
        hasher.add(loss.name)
        hasher.add(parameterCount)
        // Only when present, so untied networks keep the fingerprints of earlier checkpoints.
        if let sharedWith {
            hasher.add("shared")
            for value in sharedWith { hasher.add(Int(value)) }
        }
        return hasher.value
    }
}

extension TrainingSettings {
    /// Everything but the epoch count that shapes a run's trajectory, hashed: a checkpoint
    /// resumes only under the same settings (more or fewer epochs are fine).
    var trajectoryFingerprint: UInt64 {
        var hasher = Fingerprint.Hasher()
        hasher.add(batchSize)
        switch learningRate {
        case .constant(let rate): hasher.add("constant"); hasher.add(rate)
        case .inverseTime(let initial, let decay): hasher.add("inverse_time"); hasher.add(initial); hasher.add(decay)
        case .step(let initial, let factor, let every): hasher.add("step"); hasher.add(initial); hasher.add(factor); hasher.add(every)
        }
        hasher.add(shuffle ? 1 as Int : 0)
        hasher.add(seed)
        switch optimizer {
        case .sgd: hasher.add("sgd")
        case .momentum(let mu): hasher.add("momentum"); hasher.add(mu)
        case .adam(let beta1, let beta2, let epsilon): hasher.add("adam"); hasher.add(beta1); hasher.add(beta2); hasher.add(epsilon)
        }
        hasher.add(regularization.weightDecay)
        hasher.add(regularization.clipNorm ?? -1)
        for flag in regularization.frozen { hasher.add(flag ? 1 as UInt8 : 0) }
        if let stopping = earlyStopping {
            hasher.add(stopping.patience); hasher.add(stopping.minDelta); hasher.add(stopping.restoreBest ? 1 as Int : 0)
        }
        return hasher.value
    }
}

/// Where training is, after each epoch.
public struct TrainingProgress: Sendable {
    /// 0-based epoch just finished.
    public var epoch: Int
    public var epochs: Int
    /// Mean training loss of that epoch.
    public var loss: Double
    /// Mean loss on the validation data after that epoch, when there is validation data.
    public var validationLoss: Double?
}

public enum TrainingDecision: Sendable {
    case `continue`, stop
}

/// What a training run did.
public struct TrainingResult: Sendable {
    public var report: TrainingReport
    public var runtime: RuntimeUsed
    /// Seconds in the training loop alone.
    public var seconds: Double
    /// Samples in the data set trained on.
    public var samples: Int
    /// Epochs done before this run (by the run a checkpoint resumed); 0 for a fresh run.
    public var resumedAt = 0
    /// Mean validation loss after each epoch (empty without validation data).
    public var validationHistory: [Double] = []
    /// True when early stopping ended the run.
    public var stoppedEarly = false
    /// The epoch (0-based) early stopping found best, when it ran.
    public var bestEpoch: Int?

    public var samplesPerSecond: Double { seconds > 0 ? Double((report.epochsRun - resumedAt) * samples) / seconds : 0 }
}
