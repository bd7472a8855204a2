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

/// Runs a spec's `expect` entries: the one implementation behind `bpc test` and `swift test`.
///
/// Entries at `init` run on the compiled initial parameters; entries `after: train` share one
/// training run with the spec's `train` settings on its `data`.
public enum ExpectationRunner {
    public static func run(_ model: LoadedModel) -> [ExpectationResult] {
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

    private static func train(_ initial: Network, _ model: LoadedModel) -> Result<Network, NonFiniteValue> {
        var network = initial
        var trainer = Trainer(settings: model.trainingSettings)
        do {
            _ = try trainer.train(&network, on: model.training ?? Dataset(inputWidth: 0, targetWidth: 0))
            return .success(network)
        } catch {
            return .failure(error)
        }
    }

    private static func check(
        _ entry: Expectation, on network: inout Network, model: LoadedModel,
        failures: inout [String], checked: inout [String]
    ) {
        let tolerance = entry.tolerance
        func compare(_ what: String, expected: Double, actual: Double) {
            let difference = abs(expected - actual)
            if !(difference <= tolerance) {
                failures.append("\(what): expected \(expected), got \(actual) (off by \(difference), tolerance \(tolerance))")
            }
        }
        if let input = entry.input?.value {
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
