#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import BPCCompiler
@testable import BPCFastRuntime
import BPCPlan
import BPCRuntime
import BPCSpec
import Testing

/// Every kernel variant this CPU runs (the portable one always), for parameterised tests.
let variants = KernelVariant.supported

/// The batched kernels against the reference runtime: gradients of one batch, dense blocks of
/// awkward shapes, whole training runs, and the binary32 tanh and exp; each in every kernel
/// variant this CPU runs, the portable one included.
@Suite("fast runtime")
struct FastRuntimeTests {
    @Test("the binary32 tanh is within 8 units in the last place of the C library's, and exact at 0 and beyond the clamp",
          arguments: variants)
    func tanhApproximation(variant: KernelVariant) {
        let k = Float.kernels(variant)
        let (worst, worstAt) = worstError(from: -10, to: 10, step: 0.0001, { Float.tanh(k, $0, $1, $2) }) { Float(tanh(Double($0))) }
        #expect(worst <= 8, "\(variant): worst error \(worst) ulp at \(worstAt)")
        let edges = apply({ Float.tanh(k, $0, $1, $2) }, to: [0, -0.0, 1e-30, -1e-30, 20, -20, .infinity, -.infinity])
        #expect(edges == [0, -0.0, 1e-30, -1e-30, 1, -1, 1, -1], "\(variant)")
        #expect(edges[1].sign == .minus && apply({ Float.tanh(k, $0, $1, $2) }, to: [.nan])[0].isNaN, "\(variant)")
    }

    @Test("the binary32 exp is within 2 units in the last place of the C library's over the range it does not clamp",
          arguments: variants)
    func expApproximation(variant: KernelVariant) {
        let k = Float.kernels(variant)
        let (worst, worstAt) = worstError(from: -87, to: 87.99, step: 0.0013, { Float.exp(k, $0, $1, $2) }) { expf($0) }
        #expect(worst <= 2, "\(variant): worst error \(worst) ulp at \(worstAt)")
        let edges = apply({ Float.exp(k, $0, $1, $2) }, to: [0, -0.0, 1, -1, 200, -200, .infinity, -.infinity, .nan])
        #expect(edges[0] == 1 && edges[1] == 1 && edges[4].isFinite && edges[5] >= 0 && edges[6].isFinite && edges[7] >= 0, "\(edges)")
        #expect(abs(edges[2] - expf(1)) <= expf(1).ulp && abs(edges[3] - expf(-1)) <= expf(-1).ulp)
        #expect(edges[8].isNaN)
    }

    @Test("lowering covers every non-input unit once in order, and makes dense blocks only of units that read the same consecutive sources")
    func loweringCoversUnits() throws {
        let plan = try #require(compileText(Self.layered(inputs: 7, hidden: 33, outputs: 17, activation: "tanh", loss: "softmax_cross_entropy", skip: true)))
        let kernels = KernelPlan(plan: plan, dense: true)
        var next = plan.inputUnits.count
        for step in kernels.steps {
            #expect(step.firstUnit == next)
            next += step.unitCount
            guard case .dense(let start, let count, let weights) = step.kind else { continue }
            for unit in step.firstUnit..<(step.firstUnit + step.unitCount) {
                let edges = Int(plan.fanInStart[unit])..<Int(plan.fanInStart[unit + 1])
                #expect(edges.map { Int(plan.fanInSource[$0]) } == Array(start..<(start + count)))
                #expect(edges.lowerBound == weights + (unit - step.firstUnit) * count)
                #expect(plan.activations[unit] == step.activation)
            }
        }
        #expect(next == plan.unitCount)
        #expect(kernels.denseStepCount == 2)
        #expect(KernelPlan(plan: plan, dense: false).denseStepCount == 0)
    }

    @Test("one batch of binary64 kernels gives the sum of the reference's per-sample gradients on random DAGs",
          arguments: UInt64(0)..<120)
    func randomDAGsInBinary64(seed: UInt64) throws {
        let generated = RandomNetworks.generate(seed: seed, samples: Int(seed % 5) + 1)
        let plan = try #require(compile(generated))
        for variant in variants {
            for batchSize in [generated.samples.count, 17] {
                let problems = compareBatch(Double.self, plan: plan, samples: generated.samples, batchSize: batchSize, tolerance: 1e-10, variant: variant)
                #expect(problems.isEmpty, "\(variant), seed \(seed), batch \(batchSize)\n\(problems.joined(separator: "\n"))\n\(generated.yaml)")
            }
        }
    }

    @Test("one batch of binary32 kernels matches the reference within single precision on random DAGs",
          arguments: UInt64(0)..<60)
    func randomDAGsInBinary32(seed: UInt64) throws {
        let generated = RandomNetworks.generate(seed: seed, samples: 3)
        let plan = try #require(compile(generated))
        for variant in variants {
            let problems = compareBatch(Float.self, plan: plan, samples: generated.samples, batchSize: 20, tolerance: 2e-4, variant: variant)
            #expect(problems.isEmpty, "\(variant), seed \(seed)\n\(problems.joined(separator: "\n"))\n\(generated.yaml)")
        }
    }

    struct Shape: Sendable, CustomStringConvertible {
        var inputs, hidden, outputs: Int
        var activation: String
        var loss: String
        var skip: Bool
        var batch: Int
        var description: String { "\(inputs)-\(hidden)-\(outputs) \(activation) \(loss)\(skip ? " with skip edges" : "") batch \(batch)" }
    }

    static let shapes: [Shape] = [
        Shape(inputs: 3, hidden: 12, outputs: 2, activation: "sigmoid", loss: "half_squared_error", skip: false, batch: 3),
        Shape(inputs: 16, hidden: 9, outputs: 4, activation: "tanh", loss: "softmax_cross_entropy", skip: true, batch: 16),
        Shape(inputs: 7, hidden: 33, outputs: 17, activation: "relu", loss: "mean_squared_error", skip: true, batch: 21),
        Shape(inputs: 64, hidden: 64, outputs: 10, activation: "tanh", loss: "softmax_cross_entropy", skip: false, batch: 32),
        Shape(inputs: 5, hidden: 40, outputs: 3, activation: "softplus", loss: "binary_cross_entropy", skip: false, batch: 40),
    ]

    @Test("dense blocks of every tile remainder compute the reference's gradients", arguments: shapes)
    func denseBlocks(shape: Shape) throws {
        let plan = try #require(compileText(Self.layered(inputs: shape.inputs, hidden: shape.hidden, outputs: shape.outputs,
                                                         activation: shape.activation, loss: shape.loss, skip: shape.skip)))
        #expect(KernelPlan(plan: plan, dense: true).denseStepCount >= 1)
        var random = TestRandom(seed: UInt64(shape.inputs * 1000 + shape.hidden))
        let samples = (0..<shape.batch).map { _ in
            (input: (0..<shape.inputs).map { _ in random.uniform(-1, 1) },
             target: shape.loss.contains("entropy") ? (0..<shape.outputs).map { _ in Double(random.int(0...1)) } : (0..<shape.outputs).map { _ in random.uniform(-1, 1) })
        }
        for variant in variants {
            let problems64 = compareBatch(Double.self, plan: plan, samples: samples, batchSize: shape.batch, tolerance: 1e-10, variant: variant)
            #expect(problems64.isEmpty, "\(variant) binary64: \(problems64.prefix(8).joined(separator: "\n"))")
            let problems32 = compareBatch(Float.self, plan: plan, samples: samples, batchSize: shape.batch, tolerance: 2e-4, variant: variant)
            #expect(problems32.isEmpty, "\(variant) binary32: \(problems32.prefix(8).joined(separator: "\n"))")
        }
    }

    @Test("the fast trainer follows the reference trainer for every optimiser, batch size and schedule",
          arguments: [
            (Optimizer.sgd, 1, true), (.sgd, 3, false), (.momentum(0.9), 4, true),
            (.adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8), 2, true), (.sgd, 7, true),
          ])
    func trainerFollowsReference(optimizer: Optimizer, batchSize: Int, shuffle: Bool) throws {
        let generated = RandomNetworks.generate(seed: 7, samples: 7)
        let plan = try #require(compile(generated))
        let settings = TrainingSettings(epochs: 6, batchSize: batchSize, learningRate: .inverseTime(initial: 0.05, decay: 0.5),
                                        shuffle: shuffle, optimizer: optimizer, seed: 11)
        var network = try Network(plan: plan)
        var trainer = Trainer(settings: settings)
        let data = dataset(generated.samples)
        let reference = try trainer.train(&network, on: data)
        for precision in Precision.allCases {
            for variant in variants {
                var trainer = FastTrainer(settings: settings, precision: precision)
                trainer.variant = variant
                let fast = try trainer.train(plan: plan, parameters: plan.parameters, on: data)
                let tolerance = precision == .f64 ? 1e-9 : 1e-3
                #expect(fast.report.updates == reference.updates)
                #expect(zip(fast.report.lossHistory, reference.lossHistory).allSatisfy { closeEnough($0, $1, relative: tolerance) },
                        "\(precision) \(variant): \(fast.report.lossHistory) vs \(reference.lossHistory)")
                #expect(zip(fast.parameters, network.parameters).allSatisfy { closeEnough($0, $1, relative: tolerance) },
                        "\(precision) \(variant): \(fast.parameters) vs \(network.parameters)")
            }
        }
    }

    @Test("two threads, each with half of every batch, train to the parameters one thread reaches", arguments: [2, 5, 33, 64])
    func threadsAgree(batchSize: Int) throws {
        let plan = try #require(compileText(Self.layered(inputs: 6, hidden: 20, outputs: 3, activation: "tanh", loss: "softmax_cross_entropy", skip: true)))
        var random = TestRandom(seed: 99)
        var data = Dataset(inputWidth: 6, targetWidth: 3)
        for _ in 0..<70 {
            var target = [0.0, 0.0, 0.0]
            target[random.int(0...2)] = 1
            data.append(input: (0..<6).map { _ in random.uniform(-1, 1) }, target: target)
        }
        let settings = TrainingSettings(epochs: 4, batchSize: batchSize, learningRate: .constant(0.1), shuffle: true, optimizer: .momentum(0.9), seed: 5)
        let one = try FastTrainer(settings: settings, precision: .f64, threads: 1).train(plan: plan, parameters: plan.parameters, on: data)
        let two = FastTrainer(settings: settings, precision: .f64, threads: 2)
        #expect(two.threadCount(for: plan, samples: data.count) == 2)
        let result = try two.train(plan: plan, parameters: plan.parameters, on: data)
        #expect(zip(one.parameters, result.parameters).allSatisfy { closeEnough($0, $1, relative: 1e-10) })
        #expect(zip(one.report.lossHistory, result.report.lossHistory).allSatisfy { closeEnough($0, $1, relative: 1e-10) })
    }

    @Test("automatic threading uses two threads only for large batches of large networks on two or more processors")
    func automaticThreads() throws {
        let small = try #require(compileText(Self.layered(inputs: 2, hidden: 2, outputs: 1, activation: "tanh", loss: "half_squared_error", skip: false)))
        let wide = try #require(compileText(Self.layered(inputs: 64, hidden: 256, outputs: 10, activation: "tanh", loss: "softmax_cross_entropy", skip: false)))
        #expect(FastTrainer.automaticThreads(plan: small, batchSize: 1024, processors: 8) == 1)
        #expect(FastTrainer.automaticThreads(plan: wide, batchSize: 1, processors: 8) == 1)
        #expect(FastTrainer.automaticThreads(plan: wide, batchSize: 128, processors: 8) == 2)
        #expect(FastTrainer.automaticThreads(plan: wide, batchSize: 128, processors: 1) == 1)
        #expect(availableProcessors() >= 1)
    }

    @Test("a batch larger than the data set is cut to it, and the memory estimate saturates instead of overflowing")
    func hugeBatches() throws {
        let plan = try #require(compileText(Self.layered(inputs: 2, hidden: 3, outputs: 1, activation: "tanh", loss: "half_squared_error", skip: false)))
        let data = Dataset(inputWidth: 2, targetWidth: 1, inputs: [0, 1, 1, 0, 1, 1], targets: [1, 1, 0])
        let settings = TrainingSettings(epochs: 2, batchSize: 1 << 40, learningRate: .constant(0.1), shuffle: false, optimizer: .sgd, seed: 0)
        let trainer = FastTrainer(settings: settings, precision: .f32, threads: 0)
        #expect(trainer.batchCapacity(samples: data.count) == 3)
        #expect(trainer.memoryNeeded(for: plan, samples: data.count) < 1 << 20)
        #expect(trainer.memoryNeeded(for: plan, samples: 1 << 62) > 1 << 40)
        let unbounded = FastTrainer(settings: TrainingSettings(epochs: 1, batchSize: .max, learningRate: .constant(0.1), shuffle: false, optimizer: .sgd, seed: 0), precision: .f64)
        #expect(unbounded.memoryNeeded(for: plan, samples: .max) == .max)
        let trained = try trainer.train(plan: plan, parameters: plan.parameters, on: data)
        #expect(trained.report.updates == 2)
    }

    @Test("the fast trainer stops on divergence where the reference trainer stops")
    func divergence() throws {
        let plan = try #require(compileText(Self.layered(inputs: 2, hidden: 3, outputs: 1, activation: "identity", loss: "half_squared_error", skip: false)))
        let data = Dataset(inputWidth: 2, targetWidth: 1, inputs: [1e150, 1e150, -1e150, 1e150], targets: [1e150, -1e150])
        let settings = TrainingSettings(epochs: 3, batchSize: 2, learningRate: .constant(10), shuffle: false, optimizer: .sgd, seed: 0)
        var network = try Network(plan: plan)
        var trainer = Trainer(settings: settings)
        let reference = #expect(throws: NonFiniteValue.self) { try trainer.train(&network, on: data) }
        for precision in Precision.allCases {
            let fast = #expect(throws: NonFiniteValue.self) {
                try FastTrainer(settings: settings, precision: precision).train(plan: plan, parameters: plan.parameters, on: data)
            }
            // Binary32 overflows sooner; binary64 must stop exactly where the reference stops.
            #expect(fast != nil && (precision == .f32 || fast == reference), "\(precision): \(String(describing: fast)), reference \(String(describing: reference))")
        }
    }

    /// inputs -> hidden -> outputs, fully connected by group entries; with `skip`, inputs also
    /// feed the outputs directly, listed first so each output's sources stay consecutive.
    static func layered(inputs: Int, hidden: Int, outputs: Int, activation: String, loss: String, skip: Bool) -> String {
        let outputActivation = loss == "binary_cross_entropy" ? "sigmoid" : "identity"
        return """
            bpc: 1
            name: layered
            units:
              - {name: x, role: input, count: \(inputs)}
              - {name: h, count: \(hidden), activation: \(activation), bias: true}
              - {name: y, role: output, count: \(outputs), activation: \(outputActivation), bias: true}
            edges:
              - {from: x, to: h}
            \(skip ? "  - {from: x, to: y}\n" : "")  - {from: h, to: y}
            loss: \(loss)
            init: {scheme: xavier, seed: 3}
            """
    }
}

/// A row kernel `(out, in, count)` applied to `values`.
func apply(_ kernel: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int) -> Void, to values: [Float]) -> [Float] {
    var out = [Float](repeating: 0, count: values.count)
    values.withUnsafeBufferPointer { input in
        out.withUnsafeMutableBufferPointer { output in
            if let i = input.baseAddress, let o = output.baseAddress { kernel(o, i, values.count) }
        }
    }
    return out
}

/// The largest error, in units in the last place of `exact`, of a row kernel over [from, to]
/// sampled every `step`, and where it occurs. Rows of 1003 values, so the vector loop and
/// the tail both run.
func worstError(
    from: Float, to: Float, step: Float, _ approximation: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int) -> Void,
    exact: (Float) -> Float
) -> (ulps: Float, at: Float) {
    var worst: (ulps: Float, at: Float) = (0, from)
    var x = from
    while x <= to {
        let inputs = (0..<1003).map { min(x + Float($0) * step, to) }
        let values = apply(approximation, to: inputs)
        for (input, value) in zip(inputs, values) {
            let expected = exact(input)
            let error = abs(value - expected) / max(expected.ulp, Float.leastNormalMagnitude)
            if error > worst.ulps { worst = (error, input) }
        }
        x += 1003 * step
    }
    return worst
}

/// dE/dw of `samples` as one batch through `BatchEngine<Scalar>`, against the reference's
/// per-sample gradients summed; returns one line per parameter (and the loss) that differ by
/// more than `tolerance` relative to the largest gradient.
func compareBatch<Scalar: KernelScalar>(
    _ type: Scalar.Type, plan: Plan, samples: [(input: [Double], target: [Double])], batchSize: Int, tolerance: Double,
    variant: KernelVariant = .selected
) -> [String] {
    let engine = BatchEngine<Scalar>(plan: plan, batchSize: batchSize, parameters: ParameterSlab(plan.parameters), variant: variant)
    let data = dataset(samples)
    let order = Array(0..<samples.count)
    let count = samples.count
    let lanes = engine.lanes(for: count)
    // NaN where a previous batch's gradients would be: `backward` must overwrite what
    // `clearGradients` leaves (the dense blocks' weight gradients), never read it.
    engine.gradients.update(repeating: .nan, count: plan.parameterCount)
    engine.clearGradients()
    let loss = data.inputs.withUnsafeBufferPointer { inputs in
        data.targets.withUnsafeBufferPointer { targets in
            order.withUnsafeBufferPointer { order in
                engine.loadInputs(inputs, inputWidth: data.inputWidth, order: order, first: 0, count: count)
                engine.forward(lanes: lanes)
                let loss = engine.loss(targets: targets, targetWidth: data.targetWidth, order: order, first: 0, count: count)
                engine.backward(lanes: lanes)
                return loss
            }
        }
    }
    guard var network = try? Network(plan: plan) else { return ["the plan does not verify"] }
    var expected = [Double](repeating: 0, count: plan.parameterCount)
    var expectedLoss = 0.0
    for sample in samples {
        expectedLoss += network.computeGradients(input: sample.input, target: sample.target)
        for p in expected.indices { expected[p] += network.gradients[p] }
    }
    let scale = max(1, expected.map { abs($0) }.max() ?? 0)
    var problems: [String] = []
    if abs(loss - expectedLoss) > tolerance * max(1, abs(expectedLoss)) { problems.append("loss: \(loss), reference \(expectedLoss)") }
    let keys = plan.parameterKeys()
    for p in expected.indices {
        let value = Double(engine.gradients[p])
        if !(abs(value - expected[p]) <= tolerance * scale) { problems.append("\(keys[p]): \(value), reference \(expected[p])") }
    }
    return problems
}

func compileText(_ yaml: String) -> Plan? {
    var log = DiagnosticLog()
    guard let spec = SpecParser.parse(text: yaml, path: "test.yaml", log: &log), !log.hasErrors else {
        Issue.record("parser: \(log.diagnostics)\n\(yaml)")
        return nil
    }
    guard let plan = Compiler.compile(spec, log: &log)?.plan, !log.hasErrors else {
        Issue.record("compiler: \(log.diagnostics)\n\(yaml)")
        return nil
    }
    return plan
}
