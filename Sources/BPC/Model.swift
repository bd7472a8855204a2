@_exported import BPCCompiler
@_exported import BPCEmit
@_exported import BPCExpect
@_exported import BPCExplain
@_exported import BPCFastRuntime
@_exported import BPCInterop
@_exported import BPCNativeRuntime
@_exported import BPCPlan
@_exported import BPCRuntime
@_exported import BPCSpec

/// A network to use from Swift: load a spec or a plan, train it (with the fast runtime by
/// default), predict, evaluate, read gradients, check them, emit code and save it back.
///
///     var model = try Model(contentsOf: "specs/xor.yaml")
///     let result = try model.train()
///     print(try model.predict([0, 1]))
///
/// A value type: copies are independent networks. Reading (predict, gradients, evaluate)
/// never changes the model; only `train` and the parameter setters do. Every misuse throws a
/// `ModelError`; every load problem is a `LoadFailure` of `Diagnostic`s.
///
/// Inputs are raw, in the units the data has, everywhere: arguments, data sets, results. A
/// plan with an input normalisation (`data.normalize`) has it applied where samples enter a
/// runtime, so `predict(data.input(0))` is right whether or not the network normalises.
public struct Model: Sendable {
    /// The spec the model was compiled from; nil when it was loaded from a plan.
    public let spec: ModelSpec?
    private let compilation: Compilation
    /// The reference runtime's network; its parameters are the model's current parameters.
    /// The network with its current parameters (the plan inside keeps the initial ones).
    var network: Network
    /// Samples to train on (the spec's `data`, or any set of the right widths).
    public var trainingData: Dataset?
    /// Held-out samples (the spec's `data.test`).
    public var testData: Dataset?
    /// Samples training reports a loss on after every epoch, and early stopping watches (the
    /// spec's `data.validation`, or the samples `data.validation_split` set aside).
    public var validationData: Dataset?
    /// The spec's `train` section with defaults filled in (and overrides applied).
    public var trainingSettings: TrainingSettings

    /// Loads a spec (`.yaml`) or a plan (`.json`) file: parsed, compiled, its data loaded and
    /// its `expect` entries checked.
    public init(contentsOf path: String, options: LoadOptions = LoadOptions()) throws(LoadFailure) {
        try self.init(ModelSource(path: path), options: options)
    }

    /// Compiles spec text held in memory; `path` names it in messages and anchors data paths.
    public init(yaml: String, path: String = "spec.yaml", options: LoadOptions = LoadOptions()) throws(LoadFailure) {
        try self.init(.specText(yaml, path: path), options: options)
    }

    /// Runs the pipeline (`Pipeline` names the stages) on `source`.
    public init(_ source: ModelSource, options: LoadOptions = LoadOptions()) throws(LoadFailure) {
        var log = DiagnosticLog()
        switch source {
        case .planFile(let path):
            guard let plan = Pipeline.readPlan(path: path, limits: options.limits, log: &log) else { throw LoadFailure(log) }
            try self.init(plan: plan, path: path, settings: Pipeline.trainingSettings(overriddenBy: options.overrides))
        case .plan(let plan):
            try self.init(plan: plan, path: plan.name, settings: Pipeline.trainingSettings(overriddenBy: options.overrides))
        case .specFile, .specText, .spec:
            guard var spec = Pipeline.readSpec(source, limits: options.limits, log: &log), !log.hasErrors else {
                throw LoadFailure(log)
            }
            options.overrides.apply(to: &spec)
            guard var compilation = Pipeline.compile(spec, limits: options.limits, log: &log), !log.hasErrors else {
                throw LoadFailure(log)
            }
            Pipeline.validateExpectations(of: spec, against: compilation.plan, log: &log)
            // Without loadsData, still the training samples a label column or normalisation needs.
            let data = Pipeline.loadData(of: spec, plan: compilation.plan, scope: options.loadsData ? .all : .network, log: &log)
            guard !log.hasErrors else { throw LoadFailure(log) }
            compilation.plan = data.plan
            let settings = Pipeline.trainingSettings(of: spec, plan: compilation.plan, log: &log)
            guard !log.hasErrors else { throw LoadFailure(log) }
            try self.init(spec: spec, compilation: compilation, settings: settings, path: spec.path)
            if options.loadsData {
                trainingData = data.training
                validationData = data.validation
                testData = data.test
            }
        }
    }

    private init(plan: Plan, path: String, settings: TrainingSettings) throws(LoadFailure) {
        let positions = Array(repeating: SourcePosition.startOfFile, count: plan.unitCount)
        try self.init(spec: nil, compilation: Compilation(plan: plan, unitPositions: positions), settings: settings, path: path)
    }

    /// Every source ends here: the plan is verified, once (a plan from a file may be hostile;
    /// the compiler's are valid, and a violation would be a compiler bug reported, not a trap).
    private init(spec: ModelSpec?, compilation: Compilation, settings: TrainingSettings, path: String) throws(LoadFailure) {
        do {
            network = try Network(plan: compilation.plan)
        } catch {
            let what = spec == nil ? "invalid plan" : "the compiled plan is invalid"
            throw LoadFailure(diagnostics: [Diagnostic(file: path, position: .startOfFile, message: "\(what): \(error)")])
        }
        self.path = path
        self.spec = spec
        self.compilation = compilation
        trainingSettings = settings
    }

    // MARK: The network

    /// The network with its current parameters (what `bpc compile` writes and emitters read).
    public var plan: Plan {
        var plan = network.plan
        plan.parameters = network.parameters
        return plan
    }

    /// The file diagnostics and messages name (a plan value's name when there is no file).
    public let path: String
    public var name: String { network.plan.name }
    public var inputNames: [String] { network.plan.inputUnits.map { network.plan.unitNames[Int($0)] } }
    public var outputNames: [String] { network.plan.outputUnits.map { network.plan.unitNames[Int($0)] } }
    /// Parameter keys (`x1->h1`, `h1.bias`) in parameter order.
    public var parameterKeys: [String] { network.plan.parameterKeys() }

    /// The current parameters in parameter order (weights in fan-in order, then biases).
    public var parameters: [Double] { network.parameters }

    /// Replaces every parameter, e.g. with values trained elsewhere.
    ///
    /// The slots of a tied parameter must hold equal values (a tied parameter is one
    /// parameter); values that differ within a group are refused.
    public mutating func setParameters(_ values: [Double]) throws(ModelError) {
        guard values.count == network.parameters.count else {
            throw .wrongParameterCount(expected: network.parameters.count, given: values.count)
        }
        if let bad = values.firstIndex(where: { !$0.isFinite }) { throw .nonFiniteParameter(key: parameterKeys[bad]) }
        if let sharing = network.sharing {
            for (member, canonical) in zip(sharing.members, sharing.canonicals) where values[Int(member)] != values[Int(canonical)] {
                let keys = parameterKeys
                throw .invalidSetting("\(keys[Int(member)]) shares \(keys[Int(canonical)]), so both must have the same value")
            }
        }
        network.parameters = values
    }

    /// The current value of one parameter.
    public func parameter(_ key: String) throws(ModelError) -> Double {
        network.parameters[try parameterIndex(key)]
    }

    /// Sets one parameter; for a tied parameter, any of its keys sets every slot of the group.
    public mutating func setParameter(_ key: String, to value: Double) throws(ModelError) {
        let index = try parameterIndex(key)
        guard value.isFinite else { throw .nonFiniteParameter(key: key) }
        let canonical = network.plan.sharedWith.map { $0[index] >= 0 ? Int($0[index]) : index } ?? index
        network.parameters[index] = value
        network.parameters[canonical] = value
        network.sharing?.spread(&network.parameters)
    }

    func parameterIndex(_ key: String) throws(ModelError) -> Int {
        let keys = parameterKeys
        guard let index = keys.firstIndex(of: key) else { throw .unknownParameter(key: key, closest: closestMatch(to: key, among: keys)) }
        return index
    }

    // MARK: Passes

    // Inputs and data sets here are raw, in the units the data has; each pass applies the
    // plan's normalisation (`networkInput`, `networkData`) where they enter the runtime.

    /// The outputs for one input vector (in input-unit order).
    public func predict(_ input: [Double]) throws(ModelError) -> [Double] {
        try checkInput(input)
        var pass = network
        return pass.predict(network.plan.networkInput(input))
    }

    /// The loss of one sample at the current parameters.
    public func loss(input: [Double], target: [Double]) throws(ModelError) -> Double {
        try checkInput(input)
        try checkTarget(target)
        var pass = network
        return pass.loss(input: network.plan.networkInput(input), target: target)
    }

    /// One forward and backward pass for one sample: the loss, every unit's a, z and delta, and
    /// dE/dw for every parameter.
    public func gradients(input: [Double], target: [Double]) throws(ModelError) -> BackwardPass {
        try checkInput(input)
        try checkTarget(target)
        var pass = network
        let loss = pass.computeGradients(input: network.plan.networkInput(input), target: target)
        return BackwardPass(
            loss: loss, outputs: pass.outputs, netInputs: pass.netInputs, activations: pass.activations,
            deltas: pass.deltas, gradients: pass.gradients, parameterKeys: parameterKeys)
    }

    /// One forward and backward pass with every value an explanation quotes (the loss's own
    /// term at each output, each unit's slope h'(a)), for `explain`, `trace` and the report.
    public func samplePass(input: [Double], target: [Double]) throws(ModelError) -> SamplePass {
        try checkInput(input)
        try checkTarget(target)
        return SamplePass(network: network, input: network.plan.networkInput(input), target: target)
    }

    /// Mean loss and accuracy on `data` (default: the test set, else the training data).
    public func evaluate(_ data: Dataset? = nil) throws(ModelError) -> Evaluation {
        guard let data = data ?? testData ?? trainingData, data.count > 0 else { throw .noData }
        try checkWidths(data)
        var pass = network
        return pass.evaluate(network.plan.networkData(data))
    }

    private func checkInput(_ input: [Double]) throws(ModelError) {
        guard input.count == network.inputCount else { throw .wrongInputCount(expected: network.inputCount, given: input.count) }
    }

    private func checkTarget(_ target: [Double]) throws(ModelError) {
        guard target.count == network.outputCount else { throw .wrongTargetCount(expected: network.outputCount, given: target.count) }
    }

    /// A data set's widths must be the network's, and its flat arrays whole samples of one
    /// count: the runtimes index them without further checks. Its values must be what the
    /// loader accepts from files too (finite inputs, targets the loss takes), so a data set
    /// built in code cannot train a cross-entropy to a negative loss.
    func checkWidths(_ data: Dataset) throws(ModelError) {
        guard data.inputWidth == network.inputCount else { throw .wrongInputCount(expected: network.inputCount, given: data.inputWidth) }
        guard data.targetWidth == network.outputCount else { throw .wrongTargetCount(expected: network.outputCount, given: data.targetWidth) }
        let count = data.count
        guard data.inputs.count == count * data.inputWidth, data.targets.count == count * data.targetWidth else {
            throw .inconsistentData(inputs: data.inputs.count, targets: data.targets.count)
        }
        let loss = network.plan.loss
        for sample in 0..<count {
            if let bad = data.input(sample).first(where: { !$0.isFinite }) {
                throw .invalidSample(index: sample, problem: "inputs must be finite numbers, not \(bad)")
            }
            if let problem = loss.targetProblem(data.target(sample)) { throw .invalidSample(index: sample, problem: problem.message) }
        }
    }

    /// Settings the runtimes can run: the command line and the spec parser enforce the same
    /// ranges, a program building `TrainingSettings` by hand gets an error instead of a trap.
    func checkSettings(_ settings: TrainingSettings) throws(ModelError) {
        guard settings.epochs >= 1 else { throw .invalidSetting("epochs must be at least 1, not \(settings.epochs)") }
        guard settings.batchSize >= 1 else { throw .invalidSetting("the batch size must be at least 1, not \(settings.batchSize)") }
        let positive = { (value: Double) in value > 0 && value.isFinite }
        switch settings.learningRate {
        case .constant(let rate):
            guard positive(rate) else { throw .invalidSetting("the learning rate must be a positive number, not \(rate)") }
        case .inverseTime(let initial, let decay):
            guard positive(initial), decay >= 0, decay.isFinite else {
                throw .invalidSetting("an inverse_time schedule needs a positive initial rate and a decay of 0 or more")
            }
        case .step(let initial, let factor, let every):
            guard positive(initial), positive(factor), every >= 1 else {
                throw .invalidSetting("a step schedule needs a positive initial rate and factor, and every >= 1")
            }
        }
        let fraction = { (value: Double) in value >= 0 && value <= 1 }
        switch settings.optimizer {
        case .sgd: break
        case .momentum(let mu):
            guard fraction(mu) else { throw .invalidSetting("momentum must be between 0 and 1, not \(mu)") }
        case .adam(let beta1, let beta2, let epsilon):
            guard fraction(beta1), fraction(beta2), positive(epsilon) else {
                throw .invalidSetting("adam needs beta1 and beta2 between 0 and 1 and a positive epsilon")
            }
        }
        let regularization = settings.regularization
        guard regularization.weightDecay >= 0, regularization.weightDecay.isFinite else {
            throw .invalidSetting("weight decay must be a number of 0 or more, not \(regularization.weightDecay)")
        }
        if let limit = regularization.clipNorm, !positive(limit) { throw .invalidSetting("clip_norm must be a positive number, not \(limit)") }
        guard regularization.frozen.isEmpty || regularization.frozen.count == network.parameters.count else {
            throw .invalidSetting("the frozen flags name \(regularization.frozen.count) parameters but the network has \(network.parameters.count)")
        }
        if let stopping = settings.earlyStopping {
            guard stopping.patience >= 1, stopping.minDelta >= 0, stopping.minDelta.isFinite else {
                throw .invalidSetting("early stopping needs a patience of at least 1 and a min_delta of 0 or more")
            }
        }
    }

    // MARK: Checks and output

    /// Warnings about units that cannot matter: ones no input reaches, ones that reach no output.
    public var warnings: [Diagnostic] { compilation.reachabilityWarnings(file: path) }

    /// Compares every analytic gradient with central finite differences over `samples`
    /// (default: the first `count` training samples, else the `expect` samples, else seeded
    /// random samples).
    public func checkGradients(on samples: Dataset? = nil, count: Int = 8, tolerance: Double = 1e-6) throws(ModelError) -> GradientCheck {
        guard count >= 1 else { throw .invalidSetting("the gradient check needs at least 1 sample, not \(count)") }
        guard tolerance > 0 else { throw .invalidSetting("the gradient check's tolerance must be positive") }
        let data = samples ?? gradientCheckSamples(count: count)
        try checkWidths(data)
        return GradientCheck(samples: data.count, rows: GradientChecker(tolerance: tolerance).check(network, on: network.plan.networkData(data)))
    }

    private func gradientCheckSamples(count: Int) -> Dataset {
        let plan = network.plan
        var data = Dataset(inputWidth: plan.inputUnits.count, targetWidth: plan.outputUnits.count)
        if let training = trainingData, training.count > 0 {
            for sample in 0..<min(count, training.count) {
                data.append(input: Array(training.input(sample)), target: Array(training.target(sample)))
            }
            return data
        }
        for entry in spec?.expectations ?? [] where data.count < count {
            if let input = entry.input?.value, let target = entry.target?.value { data.append(input: input, target: target) }
        }
        if data.count > 0 { return data }
        var generator = SeededGenerator(seed: spec?.initialization.seed ?? 0)
        for _ in 0..<count {
            let input = (0..<data.inputWidth).map { _ in generator.nextUniform(scale: 1) }
            var target = (0..<data.targetWidth).map { _ in generator.nextUnit() }
            if plan.loss == .softmaxCrossEntropy {
                let hot = generator.nextIndex(below: data.targetWidth)
                target = target.indices.map { $0 == hot ? 1 : 0 }
            }
            data.append(input: input, target: target)
        }
        return data
    }

    /// Runs the spec's `expect` entries (none for a plan) on the initial parameters of the spec.
    public func runExpectations() -> [ExpectationResult] {
        guard let spec else { return [] }
        return ExpectationRunner.run(ExpectationSubject(
            spec: spec, plan: compilation.plan, training: trainingData, test: testData, settings: trainingSettings))
    }

    /// Samples from a CSV file read as the spec's data files are (the plan keeps their column
    /// mapping and label column), with raw inputs.
    /// `targets: false` reads the input columns alone (the data set has no targets; for
    /// prediction): target and label columns may be missing and are not checked.
    public func loadDataset(csvFile path: String, targets: Bool = true) throws(LoadFailure) -> Dataset {
        var log = DiagnosticLog()
        guard let data = Pipeline.loadData(csvFile: path, plan: network.plan, targets: targets, log: &log), !log.hasErrors else {
            throw LoadFailure(log)
        }
        return data
    }

    /// Generated C or Swift for the network with its current parameters.
    /// Generated code for the current parameters; the training step keeps `train.freeze`'s
    /// parameters as they are unless `options.frozen` says otherwise.
    public func emit(_ language: CodeLanguage, options: EmitOptions) -> String {
        var options = options
        if options.frozen.isEmpty { options.frozen = trainingSettings.regularization.frozen }
        switch language {
        case .c: return CodeEmitter.c(plan, options: options)
        case .swift: return CodeEmitter.swift(plan, options: options)
        }
    }

    /// The spec as YAML with the current parameters written in, so loading it starts from
    /// exactly this network. With `path`, relative data paths are rewritten to still name the
    /// same files from that path's folder.
    public func trainedSpec(writtenTo path: String? = nil) throws(ModelError) -> String {
        guard let spec else { throw .noSpec }
        var trained = spec.withParameters(network.parameters, of: network.plan)
        if let path { trained = trained.relocated(to: path, currentDirectory: currentDirectory()) }
        return SpecWriter.yaml(trained)
    }
}

/// The languages `Model.emit` writes.
public enum CodeLanguage: String, Sendable, CaseIterable {
    case c, swift
}

/// One forward and backward pass: every unit's values by plan index, every dE/dw by parameter
/// index, and lookup by parameter key.
public struct BackwardPass: Sendable {
    public var loss: Double
    public var outputs: [Double]
    /// a_j per unit (the sample's value for input units).
    public var netInputs: [Double]
    /// z_j = h(a_j) per unit.
    public var activations: [Double]
    /// delta_j = dE/da_j per unit (for inputs, dE/dx).
    public var deltas: [Double]
    /// dE/dw per parameter.
    public var gradients: [Double]
    public var parameterKeys: [String]

    /// dE/dw for the parameter `key`, or nil when there is no such parameter.
    public subscript(key: String) -> Double? {
        parameterKeys.firstIndex(of: key).map { gradients[$0] }
    }
}

/// A finite-difference check of every parameter's gradient.
public struct GradientCheck: Sendable {
    public var samples: Int
    public var rows: [GradientChecker.Row]
    public var failures: [GradientChecker.Row] { rows.filter { !$0.ok } }
    public var worstError: Double { rows.map(\.error).max() ?? 0 }
}

