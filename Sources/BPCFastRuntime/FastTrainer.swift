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
/// Runs only on CPUs with the instructions this module was compiled for; callers check
/// `bpc_cpu_runs_fast_runtime()` (module CPUFeatures) first, from code built for any CPU.
public struct FastTrainer {
    public var settings: TrainingSettings
    public var precision: Precision

    public init(settings: TrainingSettings, precision: Precision) {
        self.settings = settings
        self.precision = precision
    }

    /// Trains `plan` from `parameters` (a verified plan; `Network.init` verifies) on `data` and
    /// returns the trained parameters in binary64. `shouldContinue(epoch, meanLoss)` runs after
    /// each epoch; returning false stops cleanly.
    public func train(
        plan: Plan, parameters: [Double], on data: Dataset,
        shouldContinue: (Int, Double) -> Bool = { _, _ in true }
    ) throws(NonFiniteValue) -> (parameters: [Double], report: TrainingReport) {
        switch precision {
        case .f32: return try train(BatchEngine<Float>(plan: plan, batchSize: settings.batchSize, parameters: parameters), data, shouldContinue)
        case .f64: return try train(BatchEngine<Double>(plan: plan, batchSize: settings.batchSize, parameters: parameters), data, shouldContinue)
        }
    }

    private func train<Scalar: KernelScalar>(
        _ engine: BatchEngine<Scalar>, _ data: Dataset, _ shouldContinue: (Int, Double) -> Bool
    ) throws(NonFiniteValue) -> (parameters: [Double], report: TrainingReport) {
        var optimizer = OptimizerState<Scalar>(settings.optimizer, parameterCount: engine.parameterCount)
        defer { optimizer.release() }
        let report = try data.inputs.withUnsafeBufferPointer { (inputs) throws(NonFiniteValue) in
            try data.targets.withUnsafeBufferPointer { (targets) throws(NonFiniteValue) in
                try runEpochs(samples: data.count, settings: settings, shouldContinue: shouldContinue) {
                    (order, first, count, rate, position) throws(NonFiniteValue) in
                    let lanes = engine.lanes(for: count)
                    engine.loadInputs(inputs, inputWidth: data.inputWidth, order: order, first: first, count: count)
                    engine.forward(lanes: lanes)
                    let loss = engine.loss(targets: targets, targetWidth: data.targetWidth, order: order, first: first, count: count)
                    guard loss.isFinite else { throw position.failure("the loss") }
                    engine.clearGradients()
                    engine.backward(lanes: lanes)
                    if let bad = optimizer.apply(parameters: engine.parameters, gradients: engine.gradients, batchCount: count, rate: rate) {
                        throw position.failure("parameter \(engine.plan.parameterKeys()[bad])")
                    }
                    return loss
                }
            }
        }
        return (engine.parameterValues, report)
    }
}
