#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import BPCCompiler
import BPCPlan
import BPCRuntime
import BPCSpec
import Testing

/// Seeded property tests: random spec text -> parser -> compiler -> plan -> runtime, against an
/// independent reverse-mode autodiff built from the same network's names and weights, and
/// against central finite differences of that reference's loss.
@Suite("random networks")
struct GradientPropertyTests {
    static let seeds: Range<UInt64> = 0..<300

    @Test("compiled random networks keep the plan invariants", arguments: seeds)
    func planInvariants(seed: UInt64) throws {
        let generated = RandomNetworks.generate(seed: seed)
        let plan = try #require(compile(generated))
        var problems: [String] = []
        do { try plan.verify() } catch { problems.append("verify(): \(error)") }
        problems += independentPlanProblems(plan, generated.network)
        #expect(problems.isEmpty, "seed \(seed)\n\(problems.joined(separator: "\n"))\n\(generated.yaml)")
    }

    @Test("the runtime's loss, outputs and gradients match the reference autodiff", arguments: seeds)
    func runtimeMatchesReference(seed: UInt64) throws {
        let generated = RandomNetworks.generate(seed: seed)
        let plan = try #require(compile(generated))
        var network = try Network(plan: plan)
        let keys = plan.parameterKeys()
        var problems: [String] = []
        for (index, sample) in generated.samples.enumerated() {
            let loss = network.computeGradients(input: sample.input, target: sample.target)
            let reference = ReferenceAutodiff.evaluate(generated.network, input: sample.input, target: sample.target)
            func check(_ what: String, _ runtime: Double, _ expected: Double) {
                if !closeEnough(runtime, expected, relative: 1e-9) {
                    problems.append("sample \(index): \(what): runtime \(runtime), reference \(expected)")
                }
            }
            check("loss", loss, reference.loss)
            let outputs = network.outputs
            for (slot, name) in generated.network.outputNames.enumerated() { check("output \(name)", outputs[slot], reference.outputs[slot]) }
            for unit in 0..<plan.unitCount {
                let name = plan.unitNames[unit]
                check("a of \(name)", network.netInputs[unit], reference.netInputs[name] ?? .nan)
                check("z of \(name)", network.activations[unit], reference.activations[name] ?? .nan)
                if plan.roles[unit] == .input {
                    check("dE/d\(name) (input delta)", network.deltas[unit], reference.inputGradients[name] ?? .nan)
                }
            }
            for (parameter, key) in keys.enumerated() {
                check("dE/d[\(key)]", network.gradients[parameter], reference.gradients[key] ?? .nan)
            }
        }
        #expect(problems.isEmpty, "seed \(seed)\n\(problems.joined(separator: "\n"))\n\(generated.yaml)")
    }

    @Test("the runtime's gradients match central finite differences of the reference loss", arguments: seeds)
    func runtimeMatchesFiniteDifferences(seed: UInt64) throws {
        let generated = RandomNetworks.generate(seed: seed)
        let plan = try #require(compile(generated))
        var network = try Network(plan: plan)
        let sample = generated.samples[0]
        guard !nearKink(generated.network, sample) else { return }
        network.computeGradients(input: sample.input, target: sample.target)
        let problems = finiteDifferenceProblems(generated.network, sample, runtime: Dictionary(
            uniqueKeysWithValues: zip(plan.parameterKeys(), network.gradients)))
        #expect(problems.isEmpty, "seed \(seed)\n\(problems.joined(separator: "\n"))\n\(generated.yaml)")
    }

    @Test("the reference autodiff matches finite differences on most seeds, and the seeds cover every feature")
    func generatorCoverage() {
        var features: Set<GeneratedFeature> = []
        var activations: Set<ReferenceActivation> = []
        var losses: Set<ReferenceLoss> = []
        var smooth = 0
        var problems: [String] = []
        for seed in Self.seeds {
            let generated = RandomNetworks.generate(seed: seed)
            features.formUnion(generated.features)
            losses.insert(generated.network.loss)
            for unit in generated.network.units where unit.role != .input { activations.insert(unit.activation) }
            if !nearKink(generated.network, generated.samples[0]) { smooth += 1 }
        }
        // The oracle itself, on seeds the property tests also use.
        for seed in UInt64(0)..<40 {
            let generated = RandomNetworks.generate(seed: seed)
            let sample = generated.samples[0]
            guard !nearKink(generated.network, sample) else { continue }
            let reference = ReferenceAutodiff.evaluate(generated.network, input: sample.input, target: sample.target)
            problems += finiteDifferenceProblems(generated.network, sample, runtime: reference.gradients).map { "seed \(seed): \($0)" }
        }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        #expect(features == Set(GeneratedFeature.allCases), "missing: \(Set(GeneratedFeature.allCases).subtracting(features))")
        #expect(activations == Set(ReferenceActivation.allCases))
        #expect(losses == Set(ReferenceLoss.allCases))
        #expect(smooth >= Self.seeds.count * 8 / 10, "only \(smooth) seeds are away from relu kinks")
    }

    @Test("softmax cross-entropy gradients follow E = -sum t log p even when the targets do not sum to one", arguments: UInt64(0)..<40)
    func softmaxWithUnnormalizedTargets(seed: UInt64) throws {
        let generated = RandomNetworks.generate(seed: seed, loss: .softmaxCrossEntropy)
        let plan = try #require(compile(generated))
        var network = try Network(plan: plan)
        var random = TestRandom(seed: seed ^ 0xABCD)
        var problems: [String] = []
        let input = generated.samples[0].input
        let target = generated.network.outputNames.map { _ in random.uniform(0, 1.5) }
        let loss = network.computeGradients(input: input, target: target)
        let reference = ReferenceAutodiff.evaluate(generated.network, input: input, target: target)
        if !closeEnough(loss, reference.loss, relative: 1e-9) { problems.append("loss: runtime \(loss), reference \(reference.loss)") }
        for (p, key) in plan.parameterKeys().enumerated() where !closeEnough(network.gradients[p], reference.gradients[key]!, relative: 1e-9) {
            problems.append("dE/d[\(key)]: runtime \(network.gradients[p]), reference \(reference.gradients[key]!)")
        }
        #expect(problems.isEmpty, "seed \(seed), target \(target)\n\(problems.joined(separator: "\n"))\n\(generated.yaml)")
    }

    @Test("a batch gradient is the mean of the per-sample gradients", arguments: UInt64(0)..<40)
    func batchGradientIsMean(seed: UInt64) throws {
        let generated = RandomNetworks.generate(seed: seed, samples: 4)
        let plan = try #require(compile(generated))
        let keys = plan.parameterKeys()
        var network = try Network(plan: plan)
        var problems: [String] = []

        // Per sample, from zeroed gradients, and the reference's mean.
        var sum = [Double](repeating: 0, count: plan.parameterCount)
        var referenceMean: [String: Double] = [:]
        var referenceLoss = 0.0
        let count = Double(generated.samples.count)
        for sample in generated.samples {
            network.computeGradients(input: sample.input, target: sample.target)
            for p in sum.indices { sum[p] += network.gradients[p] }
            let reference = ReferenceAutodiff.evaluate(generated.network, input: sample.input, target: sample.target)
            for (key, value) in reference.gradients { referenceMean[key, default: 0] += value / count }
            referenceLoss += reference.loss / count
        }
        // Accumulated over the batch without resetting.
        network.resetGradients()
        for sample in generated.samples {
            sample.input.withUnsafeBufferPointer { network.forward($0) }
            sample.target.withUnsafeBufferPointer { _ = network.backward(target: $0) }
        }
        for (p, key) in keys.enumerated() {
            let batch = network.gradients[p] / count
            if !closeEnough(batch, sum[p] / count, relative: 1e-12) { problems.append("\(key): accumulated \(batch), mean of samples \(sum[p] / count)") }
            if !closeEnough(batch, referenceMean[key]!, relative: 1e-9) { problems.append("\(key): accumulated \(batch), reference mean \(referenceMean[key]!)") }
        }
        // One full-batch SGD step with rate 1 moves every parameter by minus the mean gradient.
        var trained = try Network(plan: plan)
        var trainer = Trainer(settings: TrainingSettings(
            epochs: 1, batchSize: generated.samples.count, learningRate: .constant(1), shuffle: false, optimizer: .sgd, seed: 0))
        let report = try trainer.train(&trained, on: dataset(generated.samples))
        #expect(report.updates == 1)
        if !closeEnough(report.lossHistory.first ?? .nan, referenceLoss, relative: 1e-9) {
            problems.append("epoch loss \(report.lossHistory), reference mean loss \(referenceLoss)")
        }
        for (p, key) in keys.enumerated() {
            let step = plan.parameters[p] - trained.parameters[p]
            if !closeEnough(step, referenceMean[key]!, relative: 1e-9) { problems.append("\(key): trainer step \(step), reference mean \(referenceMean[key]!)") }
        }
        #expect(problems.isEmpty, "seed \(seed)\n\(problems.joined(separator: "\n"))\n\(generated.yaml)")
    }
}

// MARK: Trajectories

@Suite("training trajectories")
struct TrajectoryTests {
    static let schedules: [LearningRate] = [
        .inverseTime(initial: 0.3, decay: 0.5),
        .step(initial: 0.4, factor: 0.5, every: 2),
    ]

    static let handWritten = """
        bpc: 1
        name: trajectory
        units:
          - {name: y, role: output, activation: tanh, bias: 0.1}
          - {name: h, count: 3, activation: silu, bias: [0.1, -0.2, 0.05]}
          - {name: x, role: input, count: 2}
          - {name: z, role: output, activation: identity}
          - {name: g, activation: leaky_relu, bias: true}
        edges:
          - {from: x, to: h, weight: [0.5, -0.4, 0.3, 0.2, 0.7, -0.6]}
          - {from: h, to: y, weight: [0.8, -0.5, 0.4]}
          - {from: y, to: g, weight: 1.2}
          - {from: ["x[1]", y], to: z, weight: [-0.3, 0.9]}
          - {from: g, to: z, weight: 0.6}
          - {from: "h[2]", to: g, weight: -0.7}
        loss: half_squared_error
        """

    /// The same network, written out by hand for the reference.
    static let handWrittenNetwork = NetworkDescription(
        units: [
            .init(name: "y", role: .output, activation: .tanh, bias: 0.1),
            .init(name: "h[0]", role: .hidden, activation: .silu, bias: 0.1),
            .init(name: "h[1]", role: .hidden, activation: .silu, bias: -0.2),
            .init(name: "h[2]", role: .hidden, activation: .silu, bias: 0.05),
            .init(name: "x[0]", role: .input, activation: .identity, bias: nil),
            .init(name: "x[1]", role: .input, activation: .identity, bias: nil),
            .init(name: "z", role: .output, activation: .identity, bias: nil),
            .init(name: "g", role: .hidden, activation: .leakyReLU, bias: 0),
        ],
        edges: [
            .init(from: "x[0]", to: "h[0]", weight: 0.5), .init(from: "x[0]", to: "h[1]", weight: -0.4),
            .init(from: "x[0]", to: "h[2]", weight: 0.3), .init(from: "x[1]", to: "h[0]", weight: 0.2),
            .init(from: "x[1]", to: "h[1]", weight: 0.7), .init(from: "x[1]", to: "h[2]", weight: -0.6),
            .init(from: "h[0]", to: "y", weight: 0.8), .init(from: "h[1]", to: "y", weight: -0.5),
            .init(from: "h[2]", to: "y", weight: 0.4), .init(from: "y", to: "g", weight: 1.2),
            .init(from: "x[1]", to: "z", weight: -0.3), .init(from: "y", to: "z", weight: 0.9),
            .init(from: "g", to: "z", weight: 0.6), .init(from: "h[2]", to: "g", weight: -0.7),
        ],
        loss: .halfSquaredError)

    static let handWrittenSamples: [(input: [Double], target: [Double])] = [
        ([0.5, -1.0], [0.2, 0.4]),
        ([1.5, 0.25], [-0.3, 0.1]),
        ([-0.75, 0.8], [0.6, -0.2]),
        ([0.1, 0.1], [0.0, 0.5]),
        ([-1.2, -0.6], [-0.5, -0.4]),
    ]

    /// Network -1 is the hand-written one; 0..<8 are generated (two per loss).
    struct Case: Sendable, CustomStringConvertible {
        var network: Int
        var batchSize: Int
        var schedule: Int
        var description: String { "network \(network), batch size \(batchSize), schedule \(schedule)" }
    }

    static var cases: [Case] {
        var all: [Case] = []
        for network in -1..<8 {
            for batchSize in [1, 3] {
                for schedule in schedules.indices { all.append(Case(network: network, batchSize: batchSize, schedule: schedule)) }
            }
        }
        return all
    }

    @Test("SGD without shuffle does exactly the textbook updates", arguments: cases)
    func trajectory(_ testCase: Case) throws {
        let yaml: String
        let description: NetworkDescription
        let samples: [(input: [Double], target: [Double])]
        if testCase.network < 0 {
            (yaml, description, samples) = (Self.handWritten, Self.handWrittenNetwork, Self.handWrittenSamples)
        } else {
            let generated = RandomNetworks.generate(seed: 1000 + UInt64(testCase.network), samples: 5,
                                                   loss: ReferenceLoss.allCases[testCase.network % 4])
            (yaml, description, samples) = (generated.yaml, generated.network, generated.samples)
        }
        let schedule = Self.schedules[testCase.schedule]
        let epochs = 3
        let label = "network \(testCase.network), batch size \(testCase.batchSize), \(schedule)\n\(yaml)"

        var log = DiagnosticLog()
        let spec = try #require(SpecParser.parse(text: yaml, path: "trajectory.yaml", log: &log))
        let plan = try #require(Compiler.compile(spec, log: &log)?.plan)
        #expect(log.diagnostics.isEmpty, "\(log.diagnostics)\n\(label)")
        var network = try Network(plan: plan)
        var trainer = Trainer(settings: TrainingSettings(
            epochs: epochs, batchSize: testCase.batchSize, learningRate: schedule, shuffle: false, optimizer: .sgd, seed: 3))
        let report = try trainer.train(&network, on: dataset(samples))

        // The same run, by hand: batches cut in order, the last one smaller.
        var parameters = description.initialParameters
        var lossHistory: [Double] = []
        var updates = 0
        for epoch in 0..<epochs {
            let rate: Double = switch schedule {
            case .inverseTime(let initial, let decay): initial / (1 + decay * Double(epoch))
            case .step(let initial, let factor, let every): initial * pow(factor, Double(epoch / every))
            case .constant(let value): value
            }
            var epochLoss = 0.0
            var first = 0
            while first < samples.count {
                let batch = samples[first..<min(first + testCase.batchSize, samples.count)]
                var mean: [String: Double] = [:]
                for sample in batch {
                    let reference = ReferenceAutodiff.evaluate(description, parameters: parameters, input: sample.input, target: sample.target)
                    epochLoss += reference.loss
                    for (key, value) in reference.gradients { mean[key, default: 0] += value }
                }
                for key in parameters.keys { parameters[key]! -= rate * (mean[key]! / Double(batch.count)) }
                updates += 1
                first += testCase.batchSize
            }
            lossHistory.append(epochLoss / Double(samples.count))
        }

        #expect(report.updates == updates, "\(label)")
        #expect(report.epochsRun == epochs)
        #expect(report.lossHistory.count == epochs)
        var problems: [String] = []
        for (index, expected) in lossHistory.enumerated() where index < report.lossHistory.count {
            if !closeEnough(report.lossHistory[index], expected, relative: 1e-12) {
                problems.append("epoch \(index) loss: trainer \(report.lossHistory[index]), by hand \(expected)")
            }
        }
        for (p, key) in plan.parameterKeys().enumerated() {
            if !closeEnough(network.parameters[p], parameters[key] ?? .nan, relative: 1e-12) {
                problems.append("\(key): trainer \(network.parameters[p]), by hand \(parameters[key] ?? .nan)")
            }
        }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))\n\(label)")
    }
}

// MARK: Helpers

/// Parses and compiles generated text, recording any diagnostic as a failure with the seed.
func compile(_ generated: GeneratedNetwork) -> Plan? {
    var log = DiagnosticLog()
    let spec = SpecParser.parse(text: generated.yaml, path: "random_\(generated.seed).yaml", log: &log)
    #expect(log.diagnostics.isEmpty, "seed \(generated.seed): parser: \(log.diagnostics)\n\(generated.yaml)")
    guard let spec, !log.hasErrors else { return nil }
    let compilation = Compiler.compile(spec, log: &log)
    #expect(log.diagnostics.isEmpty, "seed \(generated.seed): compiler: \(log.diagnostics)\n\(generated.yaml)")
    guard !log.hasErrors else { return nil }
    return compilation?.plan
}

func dataset(_ samples: [(input: [Double], target: [Double])]) -> Dataset {
    var data = Dataset(inputWidth: samples[0].input.count, targetWidth: samples[0].target.count)
    for sample in samples { data.append(input: sample.input, target: sample.target) }
    return data
}

/// The plan's invariants, checked here without `verify()`, plus agreement with what the
/// generator meant: names, roles, activations, biases, edge keys and initial values.
fileprivate func independentPlanProblems(_ plan: Plan, _ network: NetworkDescription) -> [String] {
    var problems: [String] = []
    let n = plan.unitCount
    guard plan.fanInStart.count == n + 1, plan.fanOutStart.count == n + 1 else { return ["start tables have the wrong length"] }

    // Inputs first, and every fan-in source before its unit.
    let firstNonInput = plan.roles.firstIndex { $0 != .input } ?? n
    if plan.roles[firstNonInput...].contains(.input) { problems.append("an input unit comes after a non-input unit: \(plan.roles)") }
    for unit in 0..<n {
        for edge in Int(plan.fanInStart[unit])..<Int(plan.fanInStart[unit + 1]) where Int(plan.fanInSource[edge]) >= unit {
            problems.append("edge \(edge) into \(plan.unitNames[unit]) comes from \(plan.fanInSource[edge]), not an earlier unit")
        }
    }

    // Fan-out is the transpose of fan-in, as a multiset of (source, target, parameter).
    struct Triple: Hashable, Comparable {
        var source: Int32, target: Int32, parameter: Int32
        static func < (l: Triple, r: Triple) -> Bool { (l.source, l.target, l.parameter) < (r.source, r.target, r.parameter) }
    }
    var fanIn: [Triple] = []
    var fanOut: [Triple] = []
    for unit in 0..<n {
        for edge in Int(plan.fanInStart[unit])..<Int(plan.fanInStart[unit + 1]) {
            fanIn.append(Triple(source: plan.fanInSource[edge], target: Int32(unit), parameter: plan.fanInParameter[edge]))
        }
        for slot in Int(plan.fanOutStart[unit])..<Int(plan.fanOutStart[unit + 1]) {
            fanOut.append(Triple(source: Int32(unit), target: plan.fanOutTarget[slot], parameter: plan.fanOutParameter[slot]))
        }
    }
    if fanIn.sorted() != fanOut.sorted() { problems.append("fan-out is not the transpose of fan-in") }

    // Parameter keys: unique, exactly the generated edges and biases, with their initial values.
    let keys = plan.parameterKeys()
    if Set(keys).count != keys.count { problems.append("parameter keys are not unique: \(keys)") }
    let expected = network.initialParameters
    if Set(keys) != Set(expected.keys) {
        problems.append("parameter keys \(keys.sorted()) differ from the generated \(expected.keys.sorted())")
    }
    for (p, key) in keys.enumerated() where expected[key] != nil && plan.parameters[p] != expected[key] {
        problems.append("\(key) starts at \(plan.parameters[p]), the spec says \(expected[key]!)")
    }

    // Units, and the order of the in and out vectors.
    if plan.inputUnits.map({ plan.unitNames[Int($0)] }) != network.inputNames {
        problems.append("inputs \(plan.inputUnits.map { plan.unitNames[Int($0)] }), declared \(network.inputNames)")
    }
    if plan.outputUnits.map({ plan.unitNames[Int($0)] }) != network.outputNames {
        problems.append("outputs \(plan.outputUnits.map { plan.unitNames[Int($0)] }), declared \(network.outputNames)")
    }
    if Set(plan.unitNames) != Set(network.units.map(\.name)) || plan.unitCount != network.units.count {
        problems.append("units \(plan.unitNames), declared \(network.units.map(\.name))")
    }
    var index: [String: Int] = [:]
    for (unit, name) in plan.unitNames.enumerated() { index[name] = unit }
    for unit in network.units {
        guard let planned = index[unit.name] else { continue }
        if plan.roles[planned].rawValue != unit.role.rawValue { problems.append("\(unit.name) has role \(plan.roles[planned])") }
        if plan.activations[planned].name != unit.activation.rawValue {
            problems.append("\(unit.name) has activation \(plan.activations[planned].name), generated \(unit.activation.rawValue)")
        }
        if (plan.biasParameter[planned] >= 0) != (unit.bias != nil) { problems.append("\(unit.name): bias presence differs") }
    }
    return problems
}

/// True when a relu or leaky_relu unit whose net input depends on parameters sits within 1e-4
/// of its kink for this sample (finite differences are meaningless there).
fileprivate func nearKink(_ network: NetworkDescription, _ sample: (input: [Double], target: [Double])) -> Bool {
    let reference = ReferenceAutodiff.evaluate(network, input: sample.input, target: sample.target)
    for unit in network.units where unit.activation.hasKink && unit.role != .input {
        let hasParameters = unit.bias != nil || network.edges.contains { $0.to == unit.name }
        if hasParameters, abs(reference.netInputs[unit.name]!) < 1e-4 { return true }
    }
    return false
}

/// Central differences of the reference loss against `runtime` gradients, ~1e-5 relative.
fileprivate func finiteDifferenceProblems(
    _ network: NetworkDescription, _ sample: (input: [Double], target: [Double]), runtime: [String: Double]
) -> [String] {
    let parameters = network.initialParameters
    var problems: [String] = []
    for key in parameters.keys.sorted() {
        let step = 1e-6 * max(1, abs(parameters[key]!))
        var plus = parameters
        plus[key]! += step
        var minus = parameters
        minus[key]! -= step
        let difference = (ReferenceAutodiff.loss(network, parameters: plus, input: sample.input, target: sample.target)
            - ReferenceAutodiff.loss(network, parameters: minus, input: sample.input, target: sample.target)) / (plus[key]! - minus[key]!)
        let gradient = runtime[key] ?? .nan
        if !closeEnough(gradient, difference, relative: 1e-5) {
            problems.append("dE/d[\(key)]: \(gradient), finite difference \(difference)")
        }
    }
    return problems
}
