import BPC
import Foundation
import Testing

/// Tied parameters at run time: both runtimes, every optimiser, gradients, the checker,
/// explain, and setting parameters keep each group one parameter.
@Suite("shared parameters at run time")
struct SharedParameterTests {
    /// A siamese pair: x1 -> h1 and x2 -> h2 share the weight w and the bias b.
    static func yaml(optimizer: String = "sgd", batch: Int = 2, epochs: Int = 1, freeze: String = "") -> String {
        """
        bpc: 1
        name: siamese
        units:
          - {name: x1, role: input}
          - {name: x2, role: input}
          - {name: h1, activation: tanh, bias: 0.1}
          - {name: h2, activation: tanh, bias: {share: h1.bias}}
          - {name: y, role: output, activation: identity}
        edges:
          - {from: x1, to: h1, weight: 0.3}
          - {from: x2, to: h2, share: "x1->h1"}
          - {from: [h1, h2], to: y, weight: [0.5, -0.4]}
        loss: half_squared_error
        data:
          samples:
            - {in: [0.5, -1.0], out: [0.2]}
            - {in: [1.5, 0.25], out: [-0.3]}
        train: {epochs: \(epochs), batch_size: \(batch), learning_rate: 0.1, optimizer: \(optimizer)\(freeze)}
        """
    }

    static let samples: [(x1: Double, x2: Double, t: Double)] = [(0.5, -1.0, 0.2), (1.5, 0.25, -0.3)]

    /// dE/dw, dE/db, dE/dv1, dE/dv2 of one sample, by hand: E = (y - t)^2 / 2,
    /// y = v1 tanh(w x1 + b) + v2 tanh(w x2 + b).
    static func handGradient(w: Double, b: Double, v1: Double, v2: Double, _ s: (x1: Double, x2: Double, t: Double)) -> [Double] {
        let h1 = Foundation.tanh(w * s.x1 + b), h2 = Foundation.tanh(w * s.x2 + b)
        let e = v1 * h1 + v2 * h2 - s.t
        let s1 = v1 * (1 - h1 * h1), s2 = v2 * (1 - h2 * h2)
        return [e * (s1 * s.x1 + s2 * s.x2), e * (s1 + s2), e * h1, e * h2]
    }

    static let runtimes: [Runtime] = [.reference, .fast(precision: .f64, threads: 1), .fast(precision: .f32, threads: 1)]

    func expectTied(_ parameters: [Double], _ note: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(parameters[1].bitPattern == parameters[0].bitPattern, "x2->h2 left x1->h1: \(note)", sourceLocation: sourceLocation)
        #expect(parameters[5].bitPattern == parameters[4].bitPattern, "h2.bias left h1.bias: \(note)", sourceLocation: sourceLocation)
    }

    @Test("one SGD step moves the tied weight and bias by the summed gradient, in every runtime", arguments: runtimes)
    func oneStepByHand(runtime: Runtime) throws {
        var model = try Model(yaml: Self.yaml())
        try model.train(runtime: runtime)
        var mean = [Double](repeating: 0, count: 4)
        for sample in Self.samples {
            let g = Self.handGradient(w: 0.3, b: 0.1, v1: 0.5, v2: -0.4, sample)
            for index in 0..<4 { mean[index] += g[index] / 2 }
        }
        let expected = [0.3 - 0.1 * mean[0], 0.3 - 0.1 * mean[0], 0.5 - 0.1 * mean[2], -0.4 - 0.1 * mean[3], 0.1 - 0.1 * mean[1], 0.1 - 0.1 * mean[1]]
        let tolerance = runtime == .fast(precision: .f32, threads: 1) ? 1e-6 : 1e-14
        for (actual, wanted) in zip(model.parameters, expected) {
            #expect(abs(actual - wanted) <= tolerance, "\(runtime): \(model.parameters) against \(expected)")
        }
        expectTied(model.parameters, "\(runtime)")
    }

    @Test("members stay bit-identical through many steps of every optimiser and batch size in every runtime",
          arguments: ["sgd", "momentum", "adam"], [1, 2])
    func membersStayEqual(optimizer: String, batch: Int) throws {
        var results: [[Double]] = []
        for runtime in Self.runtimes {
            var model = try Model(yaml: Self.yaml(optimizer: optimizer, batch: batch, epochs: 40))
            let initial = model.parameters
            try model.train(runtime: runtime)
            expectTied(model.parameters, "\(optimizer), batch \(batch), \(runtime)")
            #expect(model.parameters != initial)
            results.append(model.parameters)
        }
        for (reference, fast) in zip(results[0], results[1]) {
            #expect(abs(reference - fast) <= 1e-12 * max(1, abs(reference)), "\(optimizer) batch \(batch): \(results[0]) against \(results[1])")
        }
    }

    @Test("every key of a tied group reports the gradient summed over its uses")
    func gradientsAreSummed() throws {
        let model = try Model(yaml: Self.yaml())
        let sample = Self.samples[0]
        let pass = try model.gradients(input: [sample.x1, sample.x2], target: [sample.t])
        let hand = Self.handGradient(w: 0.3, b: 0.1, v1: 0.5, v2: -0.4, sample)
        #expect(pass.gradients[0].bitPattern == pass.gradients[1].bitPattern)
        #expect(pass.gradients[4].bitPattern == pass.gradients[5].bitPattern)
        #expect(abs(pass.gradients[0] - hand[0]) <= 1e-15)
        #expect(abs(pass.gradients[4] - hand[1]) <= 1e-15)
    }

    @Test("the gradient check moves a tied group together and passes")
    func gradientCheckPasses() throws {
        let model = try Model(yaml: Self.yaml())
        let check = try model.checkGradients()
        #expect(check.rows.count == 6)
        #expect(check.failures.isEmpty, "\(check.failures.map { "\($0.key): \($0.analytic) vs \($0.numeric)" })")
    }

    @Test("explain gives a tied parameter the summed value, with the term of each use")
    func explainSumsTheUses() throws {
        let model = try Model(yaml: Self.yaml())
        let derivation = try model.explain("x2->h2", input: [0.5, -1.0], target: [0.2])
        let pass = try model.gradients(input: [0.5, -1.0], target: [0.2])
        #expect(derivation.value == pass.gradients[1])
        #expect(derivation.uses.map(\.key) == ["x1->h1", "x2->h2"])
        #expect(abs(derivation.uses.reduce(0) { $0 + $1.value } - derivation.value) <= 1e-15)
        #expect(derivation.paths.count == 1)
        #expect(abs(derivation.paths[0].value - derivation.useValue) <= 1e-15)
        #expect(derivation.explanation.text.contains("x2->h2 is tied: it shares one parameter with x1->h1"))
        #expect(derivation.otherUses.map(\.key) == ["x1->h1"])
        #expect(derivation.otherUses[0].useValue == derivation.uses[0].value)
        #expect(derivation.otherUses[0].paths.count == 1)
        let untied = try model.explain("h1->y", input: [0.5, -1.0], target: [0.2])
        #expect(untied.uses.isEmpty)
    }

    @Test("a tied plan written to a file loads and trains like the spec it came from")
    func planFileTrains() throws {
        let source = try Model(yaml: Self.yaml(optimizer: "momentum", epochs: 10))
        var fromSpec = source
        try fromSpec.train(runtime: .reference)
        var fromPlan = try Model(.plan(PlanJSON.decode(Array(PlanJSON.encode(source.plan).utf8))))
        #expect(fromPlan.plan.sharedWith == [-1, 0, -1, -1, -1, 4])
        try fromPlan.train(on: source.trainingData, settings: source.trainingSettings, runtime: .reference)
        #expect(fromPlan.parameters.map(\.bitPattern) == fromSpec.parameters.map(\.bitPattern))
    }

    @Test("setting one key of a tied group sets the group; differing values for a group are refused")
    func settingParameters() throws {
        var model = try Model(yaml: Self.yaml())
        try model.setParameter("x2->h2", to: 0.75)
        #expect(try model.parameter("x1->h1") == 0.75 && model.parameter("x2->h2") == 0.75)
        try model.setParameter("h1.bias", to: -0.5)
        #expect(try model.parameter("h2.bias") == -0.5)
        var values = model.parameters
        values[1] = 2
        #expect(throws: ModelError.self) { try model.setParameters(values) }
        values[0] = 2
        try model.setParameters(values)
        #expect(model.parameters[0] == 2 && model.parameters[1] == 2)
    }

    @Test("freezing one key of a tied group freezes the whole group")
    func freezingAGroup() throws {
        var model = try Model(yaml: Self.yaml(epochs: 3, freeze: ", freeze: [\"x2->h2\"]"))
        #expect(model.trainingSettings.regularization.frozen == [true, true, false, false, false, false])
        try model.train(runtime: .reference)
        #expect(model.parameters[0] == 0.3 && model.parameters[1] == 0.3)
        #expect(model.parameters[4] != 0.1)
        expectTied(model.parameters, "frozen")
    }
}
