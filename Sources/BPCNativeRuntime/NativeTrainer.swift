import BPCEmit
import BPCFastRuntime
import BPCPlan
import BPCRuntime

/// Trains a small network with machine code generated for it: the straight-line C training
/// step of `bpc emit c --train` (every unit, edge and parameter index a constant), compiled by
/// the system's C compiler into a shared object that this process loads.
///
/// A learner's network (XOR's 2-2-1 has 9 parameters) costs the table-driven runtimes more in
/// walking their tables than in arithmetic; the generated step is what a person would write
/// by hand for that one network, and runs at hand-written C's speed. It serves what that step
/// does: online SGD (batches of one sample, no weight decay or clipping) with frozen and tied
/// parameters, on networks that straight-line code suits (`EmitOptions.straightLineEdgeLimit`
/// edges). The schedule (`runEpochs`) is the other runtimes', so it visits the same samples
/// in the same order, and the arithmetic is theirs formula for formula (with fused
/// multiply-adds where the CPU has them, as in the fast runtime's kernels): the parameters
/// agree with the other runtimes' to rounding.
///
/// Compiled objects are cached (`SharedObjectCache`) by a hash of the generated source, which
/// holds the network's structure but not its parameter values: retraining the same network
/// from other starting values compiles nothing.
public struct NativeTrainer {
    public var settings: TrainingSettings
    public var precision: Precision
    /// The compiler that built the code, and whether this trainer's creation ran it (false:
    /// the object came from the cache).
    public let compiler: String
    public let compiled: Bool
    private let library: SharedLibrary
    private let step: TrainFunction

    /// `bpc_native_train` of the generated source (`driver`).
    private typealias TrainFunction = @convention(c) (
        UnsafeMutableRawPointer, UnsafeRawPointer, Int, UnsafeRawPointer, Int, UnsafePointer<Int>, Int, Int, Double,
        UnsafeMutablePointer<Double>, UnsafeMutablePointer<Int>
    ) -> Int

    /// The C compiler a native run uses (`BPC_CC`, else clang, cc or gcc on the PATH), or nil:
    /// then `Runtime.automatic` trains with the fast runtime.
    public static var defaultCompiler: String? { SharedObjectCache.findCompiler() }

    /// Why `plan` with `settings` cannot train natively, or nil when it can.
    public static func unsupported(plan: Plan, settings: TrainingSettings) -> String? {
        if settings.batchSize != 1 { return "the native runtime trains online (batch_size 1), not in batches of \(settings.batchSize)" }
        if settings.optimizer != .sgd { return "the native runtime trains with plain SGD, not \(settings.optimizer.name)" }
        if settings.regularization.weightDecay != 0 || settings.regularization.clipNorm != nil {
            return "the native runtime does not apply weight_decay or clip_norm"
        }
        if plan.edgeCount > EmitOptions.straightLineEdgeLimit {
            return "the native runtime is for networks of at most \(EmitOptions.straightLineEdgeLimit) edges (this one has \(plan.edgeCount)); larger ones train faster batched"
        }
        return nil
    }

    /// Generates, compiles (or finds in the cache) and loads the training code for `plan`.
    /// `compiler` nil looks one up (`BPC_CC`, else clang, cc or gcc on the PATH).
    public init(plan: Plan, settings: TrainingSettings, precision: Precision, compiler: String? = nil) throws(NativeUnavailable) {
        if let reason = NativeTrainer.unsupported(plan: plan, settings: settings) { throw .unsupported(reason) }
        guard let compiler = compiler ?? NativeTrainer.defaultCompiler else { throw .noCompiler }
        let source = NativeTrainer.source(plan: plan, frozen: settings.regularization.frozen, precision: precision)
        // The fast runtime's kernel choice says whether this CPU has FMA (AVX2+FMA or AVX-512).
        let cache = SharedObjectCache(compiler: compiler, fusedMultiplyAdd: FastTrainer.instructionSet != "portable")
        let (library, compiled) = try cache.load(source)
        guard let symbol = library.symbol("bpc_native_train") else { throw .loadFailed("bpc_native_train is missing") }
        self.settings = settings
        self.precision = precision
        self.compiler = compiler
        self.compiled = compiled
        self.library = library
        self.step = unsafeBitCast(symbol, to: TrainFunction.self)
    }

    /// The C source: the emitted training step for the network the runtimes train (inputs
    /// already normalised, parameters passed in, so the text names neither the data's
    /// statistics nor the parameter values) and the loop over an epoch's samples.
    static func source(plan: Plan, frozen: [Bool], precision: Precision) -> String {
        var network = plan
        network.parameters = [Double](repeating: 0, count: plan.parameterCount)
        network.inputNormalization = nil
        network.classLabels = nil
        var options = EmitOptions(prefix: "bpc_native")
        options.train = true
        options.frozen = frozen
        options.singlePrecision = precision == .f32
        options.layout = .straightLine
        return CodeEmitter.c(network, options: options) + driver
    }

    /// Online SGD over `order[first ..< first + count]`: one step per sample, the losses summed
    /// in binary64 as the other runtimes sum them. Stops at the first sample whose loss is not
    /// finite and returns its offset; otherwise returns -1 and sets `*bad_parameter` to the
    /// first parameter that is not finite after the last step (-1: none).
    private static let driver = """

        #include <stdint.h>

        intptr_t bpc_native_train(void *parameters, const void *inputs, intptr_t input_width, const void *targets,
                                  intptr_t target_width, const intptr_t *order, intptr_t first, intptr_t count,
                                  double rate, double *loss_sum, intptr_t *bad_parameter) {
            bpc_native_real *p = parameters;
            const bpc_native_real *x = inputs, *t = targets;
            const bpc_native_real learning_rate = (bpc_native_real)rate;
            double sum = 0.0;
            *bad_parameter = -1;
            for (intptr_t i = 0; i < count; i++) {
                intptr_t k = order[first + i];
                bpc_native_real loss = bpc_native_train_step(p, x + k * input_width, t + k * target_width, learning_rate);
                if (!isfinite(loss)) { *loss_sum = sum; return i; }
                sum += (double)loss;
            }
            *loss_sum = sum;
            for (intptr_t j = 0; j < BPC_NATIVE_PARAMETERS; j++) {
                if (!isfinite(p[j])) { *bad_parameter = j; break; }
            }
            return -1;
        }

        """

    /// Trains `plan` (verified; the one this trainer was built for) from `parameters` on
    /// `data` (normalised inputs), or from `resume`, as `FastTrainer.train` does.
    public func train(
        plan: Plan, parameters: [Double], on data: Dataset, resume: TrainingState? = nil,
        afterEpoch: EpochCallback = { _, _, _, _ in true }
    ) throws(NonFiniteValue) -> (parameters: [Double], report: TrainingReport) {
        switch precision {
        case .f32: return try train(Float.self, plan, resume?.parameters ?? parameters, data, resume, afterEpoch)
        case .f64: return try train(Double.self, plan, resume?.parameters ?? parameters, data, resume, afterEpoch)
        }
    }

    private func train<Scalar: BinaryFloatingPoint>(
        _: Scalar.Type, _ plan: Plan, _ start: [Double], _ data: Dataset, _ resume: TrainingState?, _ afterEpoch: EpochCallback
    ) throws(NonFiniteValue) -> (parameters: [Double], report: TrainingReport) {
        // One spare value at the end: a network without parameters still has a buffer to point
        // at. A width of 0 likewise leaves an array empty, and the code never reads it then.
        var values = start.map { Scalar($0) } + [0]
        let inputs = data.inputs.isEmpty ? [Scalar(0)] : data.inputs.map { Scalar($0) }
        let targets = data.targets.isEmpty ? [Scalar(0)] : data.targets.map { Scalar($0) }
        let optimizer = OptimizerState<Double>(.sgd, parameterCount: 0).snapshot()
        let step = self.step
        let report = try values.withUnsafeMutableBufferPointer { (buffer) throws(NonFiniteValue) in
            let p = buffer
            return try inputs.withUnsafeBufferPointer { (x) throws(NonFiniteValue) in
                try targets.withUnsafeBufferPointer { (t) throws(NonFiniteValue) in
                    let binary64 = { p.dropLast().map { Double($0) } }
                    return try runEpochs(samples: data.count, settings: settings, resume: resume?.schedule, wholeEpochs: true, afterEpoch: { epoch, loss, schedule in
                        afterEpoch(epoch, loss, binary64, { TrainingState(schedule: schedule, optimizer: optimizer, parameters: binary64()) })
                    }) { (order, first, count, rate, position) throws(NonFiniteValue) in
                        var loss = 0.0, bad = -1
                        // Every pointer is a live buffer of at least one value (the arrays above);
                        // `runEpochs` keeps first + count within the order.
                        let failed = step(UnsafeMutableRawPointer(p.baseAddress!), UnsafeRawPointer(x.baseAddress!), data.inputWidth,
                                          UnsafeRawPointer(t.baseAddress!), data.targetWidth, order.baseAddress!, first, count, rate, &loss, &bad)
                        if failed >= 0 { throw position.advanced(by: failed).failure("the loss") }
                        // Checked once per call: the epoch's last sample is where it shows.
                        if bad >= 0 { throw position.advanced(by: count - 1).failure("parameter \(plan.parameterKeys()[bad])") }
                        return loss
                    }
                }
            }
        }
        return (values.dropLast().map { Double($0) }, report)
    }
}
