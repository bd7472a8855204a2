import BPCPlan
import BPCSpec

/// A spec taken through the whole front end: parsed, compiled, its data loaded and its
/// `expect` entries checked against the plan. What every command starts from.
public struct LoadedModel: Sendable {
    public var spec: ModelSpec
    public var compilation: Compilation
    public var training: Dataset?
    public var test: Dataset?

    public var plan: Plan { compilation.plan }

    /// Parses and compiles `path`; nil when any error was found (all of them are in `log`).
    /// Nothing after parsing runs on a spec with parse errors, so errors do not cascade.
    ///
    /// A path ending in `.json` is read as a plan file (from `bpc compile`): it is verified and
    /// stands for a spec with that network and nothing else (no data, training or expect).
    public static func load(
        path: String, limits: Limits = Limits(), overrides: TrainingOverrides = TrainingOverrides(), log: inout DiagnosticLog
    ) -> LoadedModel? {
        if path.hasSuffix(".json") { return loadPlan(path: path, limits: limits, log: &log) }
        guard var spec = SpecParser.parse(path: path, limits: limits, log: &log), !log.hasErrors else { return nil }
        overrides.apply(to: &spec)
        return load(spec: spec, limits: limits, log: &log)
    }

    public static func load(spec: ModelSpec, limits: Limits = Limits(), log: inout DiagnosticLog) -> LoadedModel? {
        guard let compilation = Compiler.compile(spec, limits: limits, log: &log), !log.hasErrors else { return nil }
        let plan = compilation.plan
        var model = LoadedModel(spec: spec, compilation: compilation)
        if let data = spec.data {
            model.training = DataLoader.load(data.training, specPath: spec.path, plan: plan, log: &log)
            if let test = data.test {
                model.test = DataLoader.load(test, specPath: spec.path, plan: plan, log: &log)
            }
        }
        model.checkExpectations(log: &log)
        return log.hasErrors ? nil : model
    }

    private static func loadPlan(path: String, limits: Limits, log: inout DiagnosticLog) -> LoadedModel? {
        guard let bytes = readRegularFile(path, maxSize: limits.maxFileSize, log: &log) else { return nil }
        do {
            let plan = try PlanJSON.decode(bytes)
            var spec = ModelSpec(path: path)
            spec.name = plan.name
            spec.loss = Located(plan.loss, at: .startOfFile)
            let positions = [SourcePosition](repeating: .startOfFile, count: plan.unitCount)
            return LoadedModel(spec: spec, compilation: Compilation(plan: plan, unitPositions: positions))
        } catch {
            let position = error.line > 0 ? SourcePosition(line: error.line, column: error.column) : nil
            log.error("invalid plan file: \(error.message)", in: path, at: position ?? .startOfFile)
            return nil
        }
    }

    private init(spec: ModelSpec, compilation: Compilation) {
        self.spec = spec
        self.compilation = compilation
    }

    /// Every `expect` entry must be checkable: right lengths, known parameter keys, and
    /// something to check.
    private func checkExpectations(log: inout DiagnosticLog) {
        // Keys are built only when some entry names one: for a large plan they cost seconds.
        let orderedKeys = spec.expectations.contains { !$0.gradients.isEmpty } ? plan.parameterKeys() : []
        let keys = Set(orderedKeys)
        for entry in spec.expectations {
            let file = spec.path
            if let input = entry.input {
                DataLoader.checkWidths(input: input.value.count, target: nil, plan: plan, file: file, at: input.position, log: &log)
            }
            for vector in [entry.target, entry.outputs].compactMap({ $0 }) where vector.value.count != plan.outputUnits.count {
                log.error("this list has \(counted(vector.value.count, "value")) but the network has \(counted(plan.outputUnits.count, "output"))", in: file, at: vector.position)
            }
            for (key, _) in entry.gradients where !keys.contains(key.value) {
                log.error("unknown parameter '\(key.value)'\(suggestion(for: key.value, among: orderedKeys))", in: file, at: key.position)
            }
            let needsInput = entry.outputs != nil || entry.loss != nil || !entry.gradients.isEmpty || (entry.after == .train && entry.target != nil)
            if needsInput && entry.input == nil {
                log.error("this entry checks a sample but gives no 'in'", in: file, at: entry.position)
            }
            if (entry.loss != nil || !entry.gradients.isEmpty) && entry.target == nil {
                log.error("a loss or gradient check needs the target 'out'", in: file, at: entry.position)
            }
            if entry.after == .initial && (entry.lossBelow != nil || entry.accuracyAtLeast != nil) {
                log.error("'loss_below' and 'accuracy_at_least' judge training; add 'after: train'", in: file, at: entry.position)
            }
            if entry.after == .train && spec.data == nil {
                log.error("'after: train' needs 'data' to train on", in: file, at: entry.position)
            }
            let checksSomething = entry.outputs != nil || entry.loss != nil || !entry.gradients.isEmpty
                || entry.lossBelow != nil || entry.accuracyAtLeast != nil || (entry.after == .train && entry.target != nil)
            if !checksSomething {
                log.error("this entry checks nothing; give outputs, loss, gradients, loss_below or accuracy_at_least (or 'out' with after: train)", in: file, at: entry.position)
            }
        }
    }

    /// The `train` section as the runtime takes it; the shuffle is seeded by `init`'s seed.
    public var trainingSettings: TrainingSettings {
        TrainingSettings(
            epochs: spec.train.epochs, batchSize: spec.train.batchSize, learningRate: spec.train.learningRate,
            shuffle: spec.train.shuffle, optimizer: spec.train.optimizer, seed: spec.initialization.seed)
    }
}

/// `--epochs`, `--learning-rate`, `--batch-size`, `--seed`: each replaces the spec's value
/// before compiling (a new seed draws new initial parameters and a new shuffle).
public struct TrainingOverrides: Sendable {
    public var epochs: Int?
    public var learningRate: Double?
    public var batchSize: Int?
    public var seed: UInt64?

    public init(epochs: Int? = nil, learningRate: Double? = nil, batchSize: Int? = nil, seed: UInt64? = nil) {
        self.epochs = epochs
        self.learningRate = learningRate
        self.batchSize = batchSize
        self.seed = seed
    }

    public func apply(to spec: inout ModelSpec) {
        if let epochs { spec.train.epochs = epochs }
        if let learningRate { spec.train.learningRate = .constant(learningRate) }
        if let batchSize { spec.train.batchSize = batchSize }
        if let seed { spec.initialization.seed = seed }
    }
}
