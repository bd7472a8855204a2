/// Which runtime trains a model.
public enum Runtime: Sendable, Equatable {
    /// The fast runtime in binary64 with the thread count it chooses: what `bpc run` uses.
    case automatic
    /// The reference runtime: one sample at a time in binary64, the code the gradient tests
    /// check against independent oracles.
    case reference
    /// The fast runtime's batched, vectorised kernels. `threads` 0 lets it choose.
    case fast(precision: Precision, threads: Int)
}

/// The runtime a training run actually used, as reported to the user.
public struct RuntimeUsed: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable { case reference, fast }
    public var kind: Kind
    public var precision: Precision
    public var threads: Int
    /// The fast runtime's kernel variant for this CPU (`avx512`, `avx2+fma`, `portable`);
    /// nil for the reference runtime.
    public var kernels: String?

    public var description: String {
        kind == .reference ? "reference (binary64)" : "fast (\(precision == .f32 ? "binary32" : "binary64"), \(threads) thread\(threads == 1 ? "" : "s"))"
    }
}

extension Runtime {
    /// The one place that decides how a run trains: the thread count and the memory check,
    /// before anything is allocated. The fast runtime runs on every CPU (its kernels pick the
    /// widest variant the CPU supports), so the choice never falls back.
    func resolve(plan: Plan, settings: TrainingSettings, samples: Int) throws(ModelError) -> (RuntimeUsed, FastTrainer?) {
        let precision: Precision, threads: Int
        switch self {
        case .reference:
            return (RuntimeUsed(kind: .reference, precision: .f64, threads: 1), nil)
        case .automatic:
            (precision, threads) = (.f64, 0)
        case .fast(let chosen, let count):
            (precision, threads) = (chosen, max(0, count))
        }
        let trainer = FastTrainer(settings: settings, precision: precision, threads: threads)
        let needed = trainer.memoryNeeded(for: plan, samples: samples)
        let available = physicalMemory()
        if needed > available {
            throw .insufficientMemory(batchSize: trainer.batchCapacity(samples: samples), needed: needed, available: available)
        }
        let used = RuntimeUsed(
            kind: .fast, precision: precision, threads: trainer.threadCount(for: plan, samples: samples), kernels: FastTrainer.instructionSet)
        return (used, trainer)
    }
}
