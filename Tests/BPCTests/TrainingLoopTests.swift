import BPC
import BPCTestSupport
import Foundation
import Testing

// The user's loop in the library: frozen parameters, weight decay, clipping, validation,
// early stopping and checkpoints that resume bit for bit, on every runtime.

/// A 2-3-2 network with biases, trained on eight samples; `train` is the spec's train section.
private func smallNetwork(train: String, loss: String = "half_squared_error") -> String {
    """
    bpc: 1
    name: small
    defaults: {activation: tanh, bias: true}
    units:
      - {name: x, role: input, count: 2}
      - {name: h, count: 3}
      - {name: y, role: output, count: 2, activation: \(loss == "softmax_cross_entropy" ? "identity" : "sigmoid")}
    edges:
      - {from: x, to: h}
      - {from: h, to: y}
      - {from: x, to: y}
    init: {seed: 7}
    loss: \(loss)
    data:
      samples:
        - {in: [0.1, 0.9], out: [1, 0]}
        - {in: [0.8, 0.2], out: [0, 1]}
        - {in: [0.4, 0.5], out: [1, 0]}
        - {in: [0.9, 0.7], out: [0, 1]}
        - {in: [0.2, 0.3], out: [1, 0]}
        - {in: [0.6, 0.1], out: [0, 1]}
        - {in: [0.3, 0.8], out: [1, 0]}
        - {in: [0.7, 0.6], out: [0, 1]}
    train: \(train)
    """
}

/// Every runtime a run can use.
private let runtimes: [Runtime] = [.reference, .fast(precision: .f64, threads: 1), .fast(precision: .f32, threads: 1), .fast(precision: .f64, threads: 2)]

private let optimizers = ["sgd", "momentum", "adam"]

/// Eight validation samples, other than the training ones.
private let validation = Dataset(inputWidth: 2, targetWidth: 2,
                                 inputs: [0.15, 0.85, 0.75, 0.25, 0.35, 0.55, 0.95, 0.65, 0.25, 0.35, 0.65, 0.15, 0.35, 0.75, 0.75, 0.55],
                                 targets: [1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1])

@Suite("the training loop")
struct TrainingLoopTests {
    @Test("frozen parameters keep their values bit for bit under every optimiser and runtime, and still have gradients",
          arguments: optimizers)
    func frozenParametersStay(optimizer: String) throws {
        let spec = smallNetwork(train: "{epochs: 5, batch_size: 3, optimizer: \(optimizer), learning_rate: 0.5, freeze: [\"*.bias\", \"x[0]->*\"]}")
        let initial = try Model(yaml: spec)
        let keys = initial.parameterKeys
        let frozen = keys.map { $0.hasSuffix(".bias") || $0.hasPrefix("x[0]->") }
        #expect(initial.trainingSettings.regularization.frozen == frozen)
        for runtime in runtimes {
            var model = initial
            try model.train(runtime: runtime)
            // A binary32 run holds its parameters in binary32 from the start.
            let start = runtime == .fast(precision: .f32, threads: 1) ? initial.parameters.map { Double(Float($0)) } : initial.parameters
            for (index, key) in keys.enumerated() {
                if frozen[index] {
                    #expect(model.parameters[index].bitPattern == start[index].bitPattern, "\(runtime) \(key) moved")
                } else {
                    #expect(model.parameters[index] != initial.parameters[index], "\(runtime) \(key) did not train")
                }
            }
        }
        let pass = try initial.gradients(input: [0.1, 0.9], target: [1, 0])
        #expect(keys.indices.filter { frozen[$0] }.contains { pass.gradients[$0] != 0 })
    }

    @Test("freeze patterns match unit names with *, and a pattern that matches nothing is an error at its place")
    func freezePatterns() throws {
        #expect(KeyPattern.matches("h[*]->y", "h[10]->y"))
        #expect(KeyPattern.matches("*.bias", "h1.bias") && !KeyPattern.matches("*.bias", "x->h1"))
        #expect(KeyPattern.matches("x1->*", "x1->h2") && !KeyPattern.matches("x1->*", "x1->h2.bias"))
        #expect(!KeyPattern.matches("*", "x1->h1") && KeyPattern.matches("*->*", "x1->h1"))
        let spec = smallNetwork(train: "{epochs: 1, freeze: [\"q->*\"]}")
        let failure = try #require(throws: LoadFailure.self) { try Model(yaml: spec, path: "small.yaml") }
        #expect(failure.diagnostics.count == 1)
        #expect(failure.description.hasPrefix("small.yaml:24:"), "\(failure)")
        #expect(failure.description.contains("freeze: 'q->*' matches no parameter"))
    }

    @Test("weight decay adds lambda w to the mean gradient and clipping scales it to the norm limit")
    func decayAndClipping() throws {
        let rate = 0.5, decay = 0.01, limit = 0.05
        var plain = try Model(yaml: smallNetwork(train: "{epochs: 1, batch_size: 8, learning_rate: \(rate)}"))
        let data = try #require(plain.trainingData)
        var mean = [Double](repeating: 0, count: plain.parameters.count)
        for sample in 0..<data.count {
            let pass = try plain.gradients(input: Array(data.input(sample)), target: Array(data.target(sample)))
            for index in mean.indices { mean[index] += pass.gradients[index] / 8 }
        }
        let start = plain.parameters
        let decayed = zip(mean, start).map { $0 + decay * $1 }
        let norm = decayed.reduce(0) { $0 + $1 * $1 }.squareRoot()
        #expect(norm > limit)
        for (train, expected) in [
            ("weight_decay: \(decay)", zip(start, decayed).map { $0 - rate * $1 }),
            ("weight_decay: \(decay), clip_norm: \(limit)", zip(start, decayed).map { $0 - rate * $1 * limit / norm }),
        ] {
            var model = try Model(yaml: smallNetwork(train: "{epochs: 1, batch_size: 8, learning_rate: \(rate), \(train)}"))
            for runtime in runtimes where runtime != .fast(precision: .f32, threads: 1) {
                var run = model
                try run.train(runtime: runtime)
                for (got, want) in zip(run.parameters, expected) {
                    #expect(abs(got - want) <= 1e-12 * max(1, abs(want)), "\(train) \(runtime): \(got) vs \(want)")
                }
            }
            model = plain
        }
        try plain.train()
        #expect(zip(plain.parameters, start).contains { $0 != $1 })
    }

    @Test("the validation loss is measured after every epoch, and early stopping restores the best epoch's parameters")
    func validationAndEarlyStopping() throws {
        var model = try Model(yaml: smallNetwork(train: "{epochs: 40, batch_size: 2, learning_rate: 2, optimizer: adam, early_stopping: {patience: 3, min_delta: 0.0001}}"))
        model.validationData = validation
        let before = model
        let result = try model.train(runtime: .reference)
        #expect(result.validationHistory.count == result.report.epochsRun)
        let best = try #require(result.bestEpoch)
        if result.stoppedEarly {
            #expect(result.report.epochsRun == best + 1 + 3)
            #expect(!result.report.interrupted)
        }
        // The restored parameters are those after the best epoch: train that many epochs again.
        var again = before
        var settings = again.trainingSettings
        settings.epochs = best + 1
        settings.earlyStopping = nil
        try again.train(settings: settings, runtime: .reference)
        #expect(model.parameters == again.parameters)
        #expect(abs(try model.evaluate(validation).meanLoss - result.validationHistory[best]) <= 1e-15)
        // A loss that cannot improve by min_delta stops after `patience` epochs past the first.
        var stuck = try Model(yaml: smallNetwork(train: "{epochs: 50, learning_rate: 1e-9, early_stopping: {patience: 2, min_delta: 1}}"))
        let stopped = try stuck.train()
        #expect(stopped.stoppedEarly && stopped.report.epochsRun == 3 && stopped.bestEpoch == 0)
    }

    @Test("a run resumed from any checkpoint ends bit-identical to one that never stopped, on every runtime and optimiser",
          arguments: optimizers)
    func resumeIsBitIdentical(optimizer: String) throws {
        let spec = smallNetwork(train: "{epochs: 12, batch_size: 3, shuffle: true, optimizer: \(optimizer), learning_rate: 0.3, weight_decay: 0.001, early_stopping: {patience: 20}}")
        for runtime in runtimes {
            var whole = try Model(yaml: spec)
            whole.validationData = validation
            var saved: [Checkpoint] = []
            let full = try whole.train(runtime: runtime, checkpoints: CheckpointPolicy(every: 5) { saved.append($0) })
            #expect(saved.map(\.epochsDone) == [5, 10, 12], "\(runtime)")
            for checkpoint in saved.prefix(2) {
                // Through the file format, as a new process would read it.
                let read = try Checkpoint(bytes: checkpoint.bytes)
                #expect(read == checkpoint)
                var resumed = try Model(yaml: spec)
                resumed.validationData = validation
                let rest = try resumed.train(resume: read)
                #expect(resumed.parameters.map(\.bitPattern) == whole.parameters.map(\.bitPattern), "\(runtime) from epoch \(checkpoint.epochsDone)")
                #expect(rest.report.lossHistory == full.report.lossHistory && rest.validationHistory == full.validationHistory)
                #expect(rest.runtime == full.runtime)
            }
        }
    }

    @Test("a checkpoint of another network, other settings or other data, or damaged bytes, is refused with a reason")
    func checkpointsAreChecked() throws {
        var model = try Model(yaml: smallNetwork(train: "{epochs: 2, batch_size: 4}"))
        var saved: [Checkpoint] = []
        try model.train(checkpoints: CheckpointPolicy { saved.append($0) })
        let checkpoint = try #require(saved.last)
        let bytes = checkpoint.bytes
        func refusal(_ spec: String, data: Dataset? = nil) throws -> String {
            var other = try Model(yaml: spec)
            do {
                try other.train(on: data, resume: checkpoint)
            } catch {
                return error.description
            }
            return "accepted"
        }
        #expect(try refusal(smallNetwork(train: "{epochs: 2, batch_size: 4}", loss: "softmax_cross_entropy")).contains("another network"))
        #expect(try refusal(smallNetwork(train: "{epochs: 2, batch_size: 2}")).contains("other settings"))
        #expect(try refusal(smallNetwork(train: "{epochs: 5, batch_size: 4}")) == "accepted")
        let shifted = Dataset(inputWidth: 2, targetWidth: 2, inputs: validation.inputs, targets: validation.targets)
        #expect(try refusal(smallNetwork(train: "{epochs: 2, batch_size: 4}"), data: shifted).contains("other data"))
        #expect(throws: CheckpointError.notACheckpoint) { try Checkpoint(bytes: Array("not a checkpoint at all".utf8)) }
        // Every truncation and every single flipped byte is refused, never trusted or trapped on.
        for length in stride(from: 0, to: bytes.count, by: 7) {
            #expect(throws: CheckpointError.self) { try Checkpoint(bytes: Array(bytes.prefix(length))) }
        }
        for position in stride(from: 8, to: bytes.count, by: 5) {
            var damaged = bytes
            damaged[position] ^= 0x41
            #expect(throws: CheckpointError.self) { try Checkpoint(bytes: damaged) }
        }
    }

    @Test("settings out of range are typed errors before training")
    func settingsAreChecked() throws {
        var model = try Model(yaml: smallNetwork(train: "{epochs: 1}"))
        var settings = model.trainingSettings
        settings.regularization.weightDecay = -1
        #expect(throws: ModelError.self) { try model.train(settings: settings) }
        settings = model.trainingSettings
        settings.regularization.frozen = [true]
        #expect(throws: ModelError.self) { try model.train(settings: settings) }
        settings = model.trainingSettings
        settings.earlyStopping = EarlyStopping(patience: 0)
        #expect(throws: ModelError.self) { try model.train(settings: settings) }
        #expect(throws: ModelError.self) { try model.train(checkpoints: CheckpointPolicy(every: 0) { _ in }) }
    }
}
