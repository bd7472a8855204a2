import BPCCompiler
import BPCPlan
import BPCRuntime
import BPCSpec
import Testing

/// x -> y (identity), one weight w, half squared error: g = (w x - t) x.
private func oneWeightNetwork(weight: Double) throws -> Network {
    let text = """
        bpc: 1
        units:
          - {name: x, role: input}
          - {name: y, role: output, activation: identity}
        edges:
          - {from: x, to: y, weight: \(weight)}
        loss: half_squared_error
        """
    var log = DiagnosticLog()
    let spec = try #require(SpecParser.parse(text: text, path: "one.yaml", log: &log))
    let plan = try #require(Compiler.compile(spec, log: &log)).plan
    return try Network(plan: plan)
}

private let samples = Dataset(inputWidth: 1, targetWidth: 1, inputs: [1.5, -0.5, 2.0], targets: [1.0, 0.25, -1.0])

private func settings(_ optimizer: Optimizer, epochs: Int = 2, batch: Int = 1) -> TrainingSettings {
    TrainingSettings(epochs: epochs, batchSize: batch, learningRate: .inverseTime(initial: 0.1, decay: 0.5),
                     shuffle: false, optimizer: optimizer, seed: 0)
}

@Suite("training")
struct TrainerTests {
    @Test("sgd does the textbook online updates w <- w - eta_n g, in sample order")
    func sgd() throws {
        var network = try oneWeightNetwork(weight: 0.3)
        var trainer = Trainer(settings: settings(.sgd))
        _ = try trainer.train(&network, on: samples)
        var w = 0.3
        for epoch in 0..<2 {
            let eta = 0.1 / (1 + 0.5 * Double(epoch))
            for i in 0..<3 {
                let x = samples.inputs[i], t = samples.targets[i]
                w -= eta * ((w * x - t) * x)
            }
        }
        #expect(network.parameters[0] == w)
    }

    @Test("batches are cut in order, the last one smaller, and use the mean gradient")
    func batches() throws {
        var network = try oneWeightNetwork(weight: 0.3)
        var trainer = Trainer(settings: settings(.sgd, epochs: 1, batch: 2))
        let report = try trainer.train(&network, on: samples)
        #expect(report.updates == 2)
        var w = 0.3
        let g01 = ((w * 1.5 - 1.0) * 1.5 + (w * -0.5 - 0.25) * -0.5)
        w -= 0.1 * (g01 / 2)
        w -= 0.1 * ((w * 2.0 + 1.0) * 2.0 / 1)
        #expect(network.parameters[0] == w)
    }

    @Test("momentum follows v <- mu v - eta g, w <- w + v")
    func momentum() throws {
        var network = try oneWeightNetwork(weight: 0.3)
        var trainer = Trainer(settings: settings(.momentum(0.9)))
        _ = try trainer.train(&network, on: samples)
        var w = 0.3, v = 0.0
        for epoch in 0..<2 {
            let eta = 0.1 / (1 + 0.5 * Double(epoch))
            for i in 0..<3 {
                let x = samples.inputs[i], t = samples.targets[i]
                v = 0.9 * v - eta * ((w * x - t) * x)
                w += v
            }
        }
        #expect(network.parameters[0] == w)
    }

    @Test("adam follows its bias-corrected update")
    func adam() throws {
        var network = try oneWeightNetwork(weight: 0.3)
        var trainer = Trainer(settings: settings(.adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8)))
        _ = try trainer.train(&network, on: samples)
        var w = 0.3, m = 0.0, s = 0.0, b1t = 1.0, b2t = 1.0
        for epoch in 0..<2 {
            let eta = 0.1 / (1 + 0.5 * Double(epoch))
            for i in 0..<3 {
                let x = samples.inputs[i], t = samples.targets[i]
                let g = (w * x - t) * x
                b1t *= 0.9
                b2t *= 0.999
                m = 0.9 * m + (1 - 0.9) * g
                s = 0.999 * s + (1 - 0.999) * g * g
                w -= eta * (m / (1 - b1t)) / ((s / (1 - b2t)).squareRoot() + 1e-8)
            }
        }
        #expect(abs(network.parameters[0] - w) <= 1e-15)
    }

    @Test("a seeded shuffle gives the same run every time and differs from no shuffle")
    func shuffleDeterminism() throws {
        func run(shuffle: Bool, seed: UInt64) throws -> [Double] {
            var network = try oneWeightNetwork(weight: 0.3)
            var s = settings(.sgd, epochs: 5)
            s.shuffle = shuffle
            s.seed = seed
            var trainer = Trainer(settings: s)
            _ = try trainer.train(&network, on: samples)
            return network.parameters
        }
        #expect(try run(shuffle: true, seed: 7) == run(shuffle: true, seed: 7))
        #expect(try run(shuffle: true, seed: 7) != run(shuffle: false, seed: 7))
    }

    @Test("a diverging run stops with the epoch, the batch and the parameter that went non-finite")
    func divergence() throws {
        var network = try oneWeightNetwork(weight: 0.3)
        var s = settings(.sgd, epochs: 50)
        s.learningRate = .constant(1e150)
        var trainer = Trainer(settings: s)
        #expect(throws: NonFiniteValue.self) { try trainer.train(&network, on: samples) }
        do {
            _ = try trainer.train(&network, on: samples)
        } catch {
            #expect(error.description.contains("epoch 1, batch"))
            #expect(error.description.contains("x->y") || error.description.contains("loss"))
        }
    }
}
