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
import CPUFeatures
import Testing

/// The batched kernels against the reference runtime: gradients of one batch, dense blocks of
/// awkward shapes, whole training runs, and the binary32 tanh.
@Suite("fast runtime", .enabled(if: bpc_cpu_runs_fast_runtime() != 0, "this CPU lacks AVX2/FMA"))
struct FastRuntimeTests {
    @Test("the binary32 tanh is within 8 units in the last place of the C library's, and exact at 0 and beyond the clamp")
    func tanhApproximation() {
        let (worst, worstAt) = worstError(from: -10, to: 10, step: 0.0001, Float.hyperbolicTangent) { Float(tanh(Double($0))) }
        #expect(worst <= 8, "worst error \(worst) ulp at \(worstAt)")
        let edges = Float.hyperbolicTangent(SIMD8<Float>(0, -0.0, 1e-30, -1e-30, 20, -20, .infinity, -.infinity))
        #expect(edges == SIMD8<Float>(0, -0.0, 1e-30, -1e-30, 1, -1, 1, -1))
    }

    @Test("the binary32 exp is within 2 units in the last place of the C library's over the range it does not clamp")
    func expApproximation() {
        let (worst, worstAt) = worstError(from: -87, to: 87.99, step: 0.0013, Float.exponential) { expf($0) }
        #expect(worst <= 2, "worst error \(worst) ulp at \(worstAt)")
        let edges = Float.exponential(SIMD8<Float>(0, -0.0, 1, -1, 200, -200, .infinity, -.infinity))
        #expect(edges[0] == 1 && edges[1] == 1 && edges[4].isFinite && edges[5] >= 0 && edges[6].isFinite && edges[7] >= 0, "\(edges)")
        #expect(abs(edges[2] - expf(1)) <= expf(1).ulp && abs(edges[3] - expf(-1)) <= expf(-1).ulp)
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
        for batchSize in [generated.samples.count, 17] {
            let problems = compareBatch(Double.self, plan: plan, samples: generated.samples, batchSize: batchSize, tolerance: 1e-10)
            #expect(problems.isEmpty, "seed \(seed), batch \(batchSize)\n\(problems.joined(separator: "\n"))\n\(generated.yaml)")
        }
    }

    @Test("one batch of binary32 kernels matches the reference within single precision on random DAGs",
          arguments: UInt64(0)..<60)
    func randomDAGsInBinary32(seed: UInt64) throws {
        let generated = RandomNetworks.generate(seed: seed, samples: 3)
        let plan = try #require(compile(generated))
        let problems = compareBatch(Float.self, plan: plan, samples: generated.samples, batchSize: 20, tolerance: 2e-4)
        #expect(problems.isEmpty, "seed \(seed)\n\(problems.joined(separator: "\n"))\n\(generated.yaml)")
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
        let problems64 = compareBatch(Double.self, plan: plan, samples: samples, batchSize: shape.batch, tolerance: 1e-10)
        #expect(problems64.isEmpty, "binary64: \(problems64.prefix(8).joined(separator: "\n"))")
        let problems32 = compareBatch(Float.self, plan: plan, samples: samples, batchSize: shape.batch, tolerance: 2e-4)
        #expect(problems32.isEmpty, "binary32: \(problems32.prefix(8).joined(separator: "\n"))")
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
            let fast = try FastTrainer(settings: settings, precision: precision).train(plan: plan, parameters: plan.parameters, on: data)
            let tolerance = precision == .f64 ? 1e-9 : 1e-3
            #expect(fast.report.updates == reference.updates)
            #expect(zip(fast.report.lossHistory, reference.lossHistory).allSatisfy { closeEnough($0, $1, relative: tolerance) },
                    "\(precision): \(fast.report.lossHistory) vs \(reference.lossHistory)")
            #expect(zip(fast.parameters, network.parameters).allSatisfy { closeEnough($0, $1, relative: tolerance) },
                    "\(precision): \(fast.parameters) vs \(network.parameters)")
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

/// The largest error, in units in the last place of `exact`, of a vector function over
/// [from, to] sampled every `step`, and where it occurs.
func worstError(
    from: Float, to: Float, step: Float, _ approximation: (SIMD8<Float>) -> SIMD8<Float>, exact: (Float) -> Float
) -> (ulps: Float, at: Float) {
    var worst: (ulps: Float, at: Float) = (0, from)
    var x = from
    while x <= to {
        var lanes = SIMD8<Float>()
        for lane in 0..<8 { lanes[lane] = min(x + Float(lane) * step, to) }
        let values = approximation(lanes)
        for lane in 0..<8 {
            let expected = exact(lanes[lane])
            let error = abs(values[lane] - expected) / max(expected.ulp, Float.leastNormalMagnitude)
            if error > worst.ulps { worst = (error, lanes[lane]) }
        }
        x += 8 * step
    }
    return worst
}

/// dE/dw of `samples` as one batch through `BatchEngine<Scalar>`, against the reference's
/// per-sample gradients summed; returns one line per parameter (and the loss) that differ by
/// more than `tolerance` relative to the largest gradient.
func compareBatch<Scalar: KernelScalar>(
    _ type: Scalar.Type, plan: Plan, samples: [(input: [Double], target: [Double])], batchSize: Int, tolerance: Double
) -> [String] {
    let engine = BatchEngine<Scalar>(plan: plan, batchSize: batchSize, parameters: ParameterSlab(plan.parameters))
    let data = dataset(samples)
    let order = Array(0..<samples.count)
    let count = samples.count
    let lanes = engine.lanes(for: count)
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
