import BPCCompiler
import BPCPlan
import BPCRuntime
import BPCSpec

/// The outcome of one `expect` entry.
public struct ExpectationResult: Sendable {
    public var spec: String
    /// 0-based index of the entry in the spec's `expect` list.
    public var index: Int
    public var position: SourcePosition
    public var ok: Bool
    public var message: String
}

/// What a spec's `expect` entries run against: the spec, its compiled plan and its data.
public struct ExpectationSubject: Sendable {
    public var spec: ModelSpec
    public var plan: Plan
    public var training: Dataset?
    public var test: Dataset?
    public var settings: TrainingSettings

    public init(spec: ModelSpec, plan: Plan, training: Dataset?, test: Dataset?, settings: TrainingSettings) {
        self.spec = spec
        self.plan = plan
        self.training = training
        self.test = test
        self.settings = settings
    }
}

/// Checks and runs a spec's `expect` entries: the one implementation behind `bpc test` and
/// `swift test`.
///
/// Entries at `init` run on the compiled initial parameters; entries `after: train` share one
/// training run with the spec's `train` settings on its `data`.
public enum ExpectationRunner {
    /// Every `expect` entry must be checkable: right lengths, known parameter keys, and
    /// something to check. Runs at load time, so a broken entry is a spec error with its place.
    public static func validate(_ spec: ModelSpec, against plan: Plan, log: inout DiagnosticLog) {
        // Keys are built only when some entry names one: for a large plan they cost seconds.
        let orderedKeys = spec.expectations.contains { !$0.gradients.isEmpty } ? plan.parameterKeys() : []
        let keys = Set(orderedKeys)
        let file = spec.path
        for entry in spec.expectations {
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

    /// Runs every entry of a validated spec (`validate` found no error). The subject's samples
    /// and the entries' `in` are raw, as written; the plan's normalisation is applied here,
    /// where they enter the runtime.
    public static func run(_ subject: ExpectationSubject) -> [ExpectationResult] {
        var model = subject
        model.training = subject.training.map(subject.plan.networkData)
        model.test = subject.test.map(subject.plan.networkData)
        var initial: Network
        do {
            initial = try Network(plan: model.plan)
        } catch {
            return model.spec.expectations.indices.map {
                ExpectationResult(spec: model.spec.path, index: $0, position: model.spec.expectations[$0].position,
                                  ok: false, message: "the compiled plan is invalid: \(error)")
            }
        }
        var trained: Result<Network, NonFiniteValue>?
        var results: [ExpectationResult] = []
        for (index, entry) in model.spec.expectations.enumerated() {
            var failures: [String] = []
            var checked: [String] = []
            if entry.after == .train {
                if trained == nil { trained = train(initial, model) }
                switch trained {
                case .success(var network)?:
                    check(entry, on: &network, model: model, failures: &failures, checked: &checked)
                case .failure(let error)?:
                    failures.append(error.description)
                case nil:
                    break
                }
            } else {
                check(entry, on: &initial, model: model, failures: &failures, checked: &checked)
            }
            let message = failures.isEmpty ? checked.joined(separator: ", ") + " ok" : failures.joined(separator: "; ")
            results.append(ExpectationResult(spec: model.spec.path, index: index, position: entry.position,
                                             ok: failures.isEmpty, message: message))
        }
        return results
    }

    private static func train(_ initial: Network, _ model: ExpectationSubject) -> Result<Network, NonFiniteValue> {
        var network = initial
        var trainer = Trainer(settings: model.settings)
        do {
            _ = try trainer.train(&network, on: model.training ?? Dataset(inputWidth: 0, targetWidth: 0))
            return .success(network)
        } catch {
            return .failure(error)
        }
    }

    private static func check(
        _ entry: Expectation, on network: inout Network, model: ExpectationSubject,
        failures: inout [String], checked: inout [String]
    ) {
        let tolerance = entry.tolerance
        func compare(_ what: String, expected: Double, actual: Double) {
            let difference = abs(expected - actual)
            if !(difference <= tolerance) {
                failures.append("\(what): expected \(expected), got \(actual) (off by \(difference), tolerance \(tolerance))")
            }
        }
        if let input = entry.input.map({ model.plan.networkInput($0.value) }) {
            let outputs = network.predict(input)
            let expectedOutputs = entry.outputs?.value ?? (entry.after == .train ? entry.target?.value : nil)
            if let expectedOutputs {
                for (index, unit) in model.plan.outputUnits.enumerated() {
                    compare("output \(model.plan.unitNames[Int(unit)])", expected: expectedOutputs[index], actual: outputs[index])
                }
                checked.append("outputs")
            }
            if let target = entry.target?.value, entry.loss != nil || !entry.gradients.isEmpty {
                let loss = network.computeGradients(input: input, target: target)
                if let expected = entry.loss {
                    compare("loss", expected: expected, actual: loss)
                    checked.append("loss")
                }
                if !entry.gradients.isEmpty {
                    let keys = model.plan.parameterKeys()
                    var index: [String: Int] = [:]
                    for (position, key) in keys.enumerated() { index[key] = position }
                    for (key, expected) in entry.gradients {
                        guard let parameter = index[key.value] else { continue }
                        compare("dE/d(\(key.value))", expected: expected, actual: network.gradients[parameter])
                    }
                    checked.append("\(entry.gradients.count) gradients")
                }
            }
        }
        if let bound = entry.lossBelow, let data = model.training {
            let loss = network.evaluate(data).meanLoss
            if !(loss < bound) { failures.append("mean training loss \(loss) is not below \(bound)") }
            checked.append("loss below \(bound)")
        }
        if let bound = entry.accuracyAtLeast, let data = model.test ?? model.training {
            let accuracy = network.evaluate(data).accuracy
            let set = model.test == nil ? "training" : "test"
            if !(accuracy >= bound) { failures.append("\(set) accuracy \(accuracy) is below \(bound)") }
            checked.append("\(set) accuracy \(accuracy) >= \(bound)")
        }
    }
}
