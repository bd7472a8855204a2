/// Which runtime trains a model.
public enum Runtime: Sendable, Equatable {
    /// What `bpc run` uses: `best(precision: .f64, threads: 0)`.
    case automatic
    /// Native code where it applies (a network of at most 512 edges trained online with plain
    /// SGD, and a C compiler on this machine), otherwise the fast runtime; `threads` above 1
    /// asks for the fast runtime's threads, 0 lets it choose.
    case best(precision: Precision, threads: Int)
    /// The reference runtime: one sample at a time in binary64, the code the gradient tests
    /// check against independent oracles.
    case reference
    /// The fast runtime's batched, vectorised kernels. `threads` 0 lets it choose.
    case fast(precision: Precision, threads: Int)
    /// The network's own generated C training step, compiled and loaded (`NativeTrainer`); an
    /// error where it does not apply or no C compiler is found.
    case native(precision: Precision)
}

/// The runtime a training run actually used, as reported to the user.
public struct RuntimeUsed: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable { case reference, fast, native }
    public var kind: Kind
    public var precision: Precision
    public var threads: Int
    /// The fast runtime's kernel variant for this CPU (`avx512`, `avx2+fma`, `portable`);
    /// nil for the other runtimes.
    public var kernels: String?
    /// The C compiler that built the native runtime's code; nil for the other runtimes.
    public var compiler: String?
    /// Why a run that could have used native code did not (no compiler, or it failed); nil
    /// when native code ran or did not apply.
    public var note: String?

    public var description: String {
        let arithmetic = precision == .f32 ? "binary32" : "binary64"
        switch kind {
        case .reference: return "reference (binary64)"
        case .fast: return "fast (\(arithmetic), \(threads) thread\(threads == 1 ? "" : "s"))"
        case .native: return "native (\(arithmetic), generated C)"
        }
    }
}

/// The trainer a resolved runtime runs with (none for the reference runtime).
enum ResolvedTrainer {
    case fast(FastTrainer)
    case native(NativeTrainer)
}

extension Runtime {
    /// The one place that decides how a run trains: native code or the fast runtime, the
    /// thread count and the memory check, before anything is allocated.
    func resolve(plan: Plan, settings: TrainingSettings, samples: Int) throws(ModelError) -> (RuntimeUsed, ResolvedTrainer?) {
        func native(_ precision: Precision) throws(NativeUnavailable) -> (RuntimeUsed, ResolvedTrainer?) {
            let trainer = try NativeTrainer(plan: plan, settings: settings, precision: precision)
            return (RuntimeUsed(kind: .native, precision: precision, threads: 1, compiler: trainer.compiler), .native(trainer))
        }
        let precision: Precision, threads: Int
        var note: String?
        switch self {
        case .reference:
            return (RuntimeUsed(kind: .reference, precision: .f64, threads: 1), nil)
        case .native(let chosen):
            do { return try native(chosen) } catch { throw .nativeUnavailable(error) }
        case .automatic, .best:
            if case .best(let chosen, let count) = self { (precision, threads) = (chosen, max(0, count)) } else { (precision, threads) = (.f64, 0) }
            if threads <= 1 && NativeTrainer.unsupported(plan: plan, settings: settings) == nil {
                do {
                    return try native(precision)
                } catch .noCompiler {
                    // A machine without a compiler (or BPC_CC= turning native code off) is not news.
                } catch {
                    note = "native code unavailable (\(error)); trained with the fast runtime"
                }
            }
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
            kind: .fast, precision: precision, threads: trainer.threadCount(for: plan, samples: samples), kernels: FastTrainer.instructionSet,
            note: note)
        return (used, .fast(trainer))
    }
}
