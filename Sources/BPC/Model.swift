@_exported import BPCPlan
@_exported import BPCRuntime
import BPCCompiler
import BPCSpec

/// A spec or plan that could not be loaded, or training that failed: every problem, each
/// printed as `PATH:LINE:COLUMN: error: MESSAGE`.
public struct BPCError: Error, Sendable, CustomStringConvertible {
    public var messages: [String]
    public var description: String { messages.joined(separator: "\n") }
}

/// A network to use from Swift without the command line: load a spec (`.yaml`) or a plan
/// (`.json`), train it, predict, read gradients, and save it back.
///
///     var model = try Model(contentsOf: "specs/xor.yaml")
///     let history = try model.train()
///     print(model.predict([0, 1]))
public struct Model: Sendable {
    private var loaded: LoadedModel
    /// The network with its current parameters.
    public private(set) var network: Network

    /// Loads, compiles and checks a spec or a plan file.
    public init(contentsOf path: String) throws(BPCError) {
        var log = DiagnosticLog()
        guard let loaded = LoadedModel.load(path: path, log: &log) else { throw BPCError(log) }
        try self.init(loaded)
    }

    /// Compiles spec text held in memory; `path` names it in messages and anchors data paths.
    public init(yaml: String, path: String = "spec.yaml") throws(BPCError) {
        var log = DiagnosticLog()
        guard let spec = SpecParser.parse(text: yaml, path: path, log: &log), !log.hasErrors,
              let loaded = LoadedModel.load(spec: spec, log: &log) else { throw BPCError(log) }
        try self.init(loaded)
    }

    private init(_ loaded: LoadedModel) throws(BPCError) {
        self.loaded = loaded
        do {
            network = try Network(plan: loaded.plan)
        } catch {
            throw BPCError(messages: ["\(loaded.spec.path): error: \(error)"])
        }
    }

    public var plan: Plan { loaded.plan }
    /// The spec's training samples, if it has data.
    public var trainingData: Dataset? { loaded.training }
    /// The spec's `train` section with defaults filled in.
    public var trainingSettings: TrainingSettings { loaded.trainingSettings }
    public var inputNames: [String] { plan.inputUnits.map { plan.unitNames[Int($0)] } }
    public var outputNames: [String] { plan.outputUnits.map { plan.unitNames[Int($0)] } }

    /// The current parameters by key (`x1->h1`, `h1.bias`).
    public var parameters: [String: Double] {
        Dictionary(uniqueKeysWithValues: zip(plan.parameterKeys(), network.parameters))
    }

    /// The outputs for one input vector (in input-unit order).
    public mutating func predict(_ input: [Double]) -> [Double] {
        precondition(input.count == plan.inputUnits.count, "predict: \(input.count) values for \(plan.inputUnits.count) inputs")
        return network.predict(input)
    }

    /// One forward and backward pass: the loss and dE/dw for every parameter, by key.
    public mutating func gradients(input: [Double], target: [Double]) -> (loss: Double, gradients: [String: Double]) {
        precondition(input.count == plan.inputUnits.count && target.count == plan.outputUnits.count, "gradients: wrong sizes")
        let loss = network.computeGradients(input: input, target: target)
        return (loss, Dictionary(uniqueKeysWithValues: zip(plan.parameterKeys(), network.gradients)))
    }

    /// Trains on the spec's data with its `train` settings (or `settings`); returns the mean
    /// loss of each epoch.
    @discardableResult
    public mutating func train(settings: TrainingSettings? = nil) throws(BPCError) -> [Double] {
        guard let data = loaded.training, data.count > 0 else {
            throw BPCError(messages: ["\(loaded.spec.path): error: the spec has no 'data' to train on"])
        }
        var trainer = Trainer(settings: settings ?? loaded.trainingSettings)
        do {
            return try trainer.train(&network, on: data).lossHistory
        } catch {
            throw BPCError(messages: ["\(loaded.spec.path): error: \(error)"])
        }
    }

    /// Mean loss and accuracy on the spec's test set (or its training data without one).
    public mutating func evaluate() -> Evaluation? {
        guard let data = loaded.test ?? loaded.training else { return nil }
        return network.evaluate(data)
    }

    /// The spec as YAML with the current parameters written in, ready to save and load again.
    public var trainedSpec: String {
        SpecWriter.yaml(loaded.spec.withParameters(network.parameters, of: plan))
    }
}

extension BPCError {
    init(_ log: DiagnosticLog) {
        messages = log.sorted().map(\.description)
    }
}
