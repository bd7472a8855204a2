/// Where a network comes from. A spec carries the network, its data, training settings and
/// checks; a plan file (written by `bpc compile`) carries the network alone, so its data and
/// settings are given separately.
public enum ModelSource: Sendable {
    /// A YAML spec file.
    case specFile(String)
    /// YAML spec text held in memory; `path` names it in diagnostics and anchors data paths.
    case specText(String, path: String)
    /// A spec already parsed (or built in code).
    case spec(ModelSpec)
    /// A plan file (JSON); it is verified before use.
    case planFile(String)
    /// A plan already in memory; it is verified before use.
    case plan(Plan)

    /// The kind of file by its name: `*.json` is a plan, anything else a spec.
    public init(path: String) {
        self = path.hasSuffix(".json") ? .planFile(path) : .specFile(path)
    }

    /// True for a plan (file or value): the network alone, without data, settings or checks.
    public var isPlan: Bool {
        switch self {
        case .planFile, .plan: return true
        case .specFile, .specText, .spec: return false
        }
    }

    /// The path diagnostics name.
    public var path: String {
        switch self {
        case .specFile(let path), .planFile(let path), .specText(_, let path): return path
        case .spec(let spec): return spec.path
        case .plan(let plan): return plan.name
        }
    }
}

/// How much of a source to load, and what to change on the way.
public struct LoadOptions: Sendable {
    public var limits: Limits
    /// Replace the spec's training settings (and `init.seed`) before compiling.
    public var overrides: TrainingOverrides
    /// Read the spec's `data` (CSV files included). Commands that only need the network (compile,
    /// emit, grad) turn this off and touch no data file, except the training file when
    /// `data.label` or `data.normalize` makes the plan depend on it (classes, statistics).
    public var loadsData: Bool

    public init(limits: Limits = Limits(), overrides: TrainingOverrides = TrainingOverrides(), loadsData: Bool = true) {
        self.limits = limits
        self.overrides = overrides
        self.loadsData = loadsData
    }
}

/// `--epochs`, `--learning-rate`, `--batch-size`, `--seed`: each replaces the spec's value
/// before compiling (a new seed draws new initial parameters and a new shuffle). For a plan,
/// whose parameters are fixed, they replace the default training settings.
public struct TrainingOverrides: Sendable, Equatable {
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

/// The stages between a source and a trainable `Model`, each a function from one plain value
/// to the next with its problems collected in a `DiagnosticLog` beside it:
///
///     spec file --readSpec--> ModelSpec --compile--> Compilation (Plan) --+--> Model
///                                 |                                        |
///                                 +--validateExpectations, loadData--------+
///     plan file --readPlan--> Plan -------------------------------------->+
///
/// `Model.init(_:options:)` runs them; each is public so a tool can stop after any stage.
/// A stage runs only on what the previous one accepted, so errors do not cascade, and every
/// problem of a stage is reported at once.
public enum Pipeline {
    /// Parses a spec; nil when nothing useful could be read (the problems are in `log`).
    public static func readSpec(_ source: ModelSource, limits: Limits, log: inout DiagnosticLog) -> ModelSpec? {
        switch source {
        case .specFile(let path): return SpecParser.parse(path: path, limits: limits, log: &log)
        case .specText(let text, let path): return SpecParser.parse(text: text, path: path, limits: limits, log: &log)
        case .spec(let spec): return spec
        case .planFile, .plan: return nil
        }
    }

    /// Lowers a spec to a plan (names resolved, groups expanded, ordered, indexed, initialised).
    public static func compile(_ spec: ModelSpec, limits: Limits, log: inout DiagnosticLog) -> Compilation? {
        Compiler.compile(spec, limits: limits, log: &log)
    }

    /// Reads a plan file; damaged JSON or a broken invariant (`PlanJSON.decode` runs
    /// `Plan.verify()`) is a diagnostic with its line and column, never a trap.
    public static func readPlan(path: String, limits: Limits, log: inout DiagnosticLog) -> Plan? {
        guard let bytes = readRegularFile(path, maxSize: limits.maxFileSize, log: &log) else { return nil }
        do {
            return try PlanJSON.decode(bytes)
        } catch {
            let position = error.line > 0 ? SourcePosition(line: error.line, column: error.column) : nil
            log.error("invalid plan file: \(error.message)", in: path, at: position ?? .startOfFile)
            return nil
        }
    }

    /// Checks that every `expect` entry fits the plan (sizes, parameter keys, something to check).
    public static func validateExpectations(of spec: ModelSpec, against plan: Plan, log: inout DiagnosticLog) {
        ExpectationRunner.validate(spec, against: plan, log: &log)
    }

    /// The spec's training, validation and test samples, shaped for the plan (raw inputs, as
    /// written), and the plan with what it keeps from them: the column mapping, the classes
    /// of a label column, the input normalisation's statistics. `scope: .network` reads only
    /// what the plan needs (for commands that use the network alone). Large CSV files are
    /// read with every processor.
    public static func loadData(
        of spec: ModelSpec, plan: Plan, scope: DataLoader.Scope = .all, log: inout DiagnosticLog
    ) -> SpecData {
        DataLoader.load(spec, plan: plan, scope: scope, threads: availableProcessors(), log: &log)
    }

    /// Samples from a CSV file given on its own, read with the plan's columns and label column
    /// (header naming input and output units when the plan has neither); a large file is read
    /// with every processor.
    public static func loadData(csvFile path: String, plan: Plan, targets: Bool = true, log: inout DiagnosticLog) -> Dataset? {
        DataLoader.load(csvFile: path, plan: plan, targets: targets, threads: availableProcessors(), log: &log)
    }

    /// The `train` section as the runtimes take it; the shuffle is seeded by `init`'s seed.
    /// Without a plan, `freeze` is not resolved (nothing is frozen).
    public static func trainingSettings(of spec: ModelSpec) -> TrainingSettings {
        let train = spec.train
        return TrainingSettings(
            epochs: train.epochs, batchSize: train.batchSize, learningRate: train.learningRate,
            shuffle: train.shuffle, optimizer: train.optimizer, seed: spec.initialization.seed,
            regularization: Regularization(weightDecay: train.weightDecay, clipNorm: train.clipNorm),
            earlyStopping: train.earlyStopping)
    }

    /// The `train` section with `freeze` resolved against the plan's parameter keys: a
    /// pattern that matches no parameter is an error at its place (with the closest key).
    public static func trainingSettings(of spec: ModelSpec, plan: Plan, log: inout DiagnosticLog) -> TrainingSettings {
        var settings = trainingSettings(of: spec)
        guard !spec.train.freeze.isEmpty else { return settings }
        let keys = plan.parameterKeys()
        var frozen = [Bool](repeating: false, count: keys.count)
        for pattern in spec.train.freeze {
            var matched = false
            for (index, key) in keys.enumerated() where KeyPattern.matches(pattern.value, key) {
                frozen[index] = true
                matched = true
            }
            if !matched {
                let hint = closestMatch(to: pattern.value, among: keys).map { "; did you mean '\($0)'?" } ?? ""
                log.error("freeze: '\(pattern.value)' matches no parameter (keys look like x1->h1 and h1.bias; * stands for any unit name)\(hint)",
                          in: spec.path, at: pattern.position)
            }
        }
        // A tied parameter is one parameter: freezing any of its keys freezes all of them.
        if let sharing = ParameterSharing(plan) {
            for (member, canonical) in zip(sharing.members, sharing.canonicals) where frozen[Int(member)] {
                frozen[Int(canonical)] = true
            }
            sharing.spread(&frozen)
        }
        settings.regularization.frozen = frozen
        return settings
    }

    /// The format's default training settings with `overrides` applied: what a plan trains with.
    public static func trainingSettings(overriddenBy overrides: TrainingOverrides) -> TrainingSettings {
        var spec = ModelSpec(path: "")
        overrides.apply(to: &spec)
        return trainingSettings(of: spec)
    }
}
