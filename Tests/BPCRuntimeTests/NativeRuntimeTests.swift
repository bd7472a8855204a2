import BPCEmit
import BPCFastRuntime
@testable import BPCNativeRuntime
import BPCPlan
import BPCRuntime
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The native runtime: the generated C training step, compiled by the system's compiler and
/// loaded. It must train exactly what the reference runtime trains (same schedule, same
/// formulas, operation for operation), cache what it compiles, and say why it cannot run.
@Suite("Native runtime", .enabled(if: NativeTrainer.defaultCompiler != nil, "no C compiler on this machine"))
struct NativeRuntimeTests {
    /// Online SGD with a decaying rate and shuffling: the schedule the native runtime serves.
    static func onlineSettings(epochs: Int = 5, shuffle: Bool = true, frozen: [Bool] = []) -> TrainingSettings {
        var settings = TrainingSettings(epochs: epochs, batchSize: 1, learningRate: .inverseTime(initial: 0.05, decay: 0.5),
                                        shuffle: shuffle, optimizer: .sgd, seed: 13)
        settings.regularization.frozen = frozen
        return settings
    }

    @Test("native training follows the reference trainer on random DAGs, in binary64 to rounding and in binary32 to single precision",
          arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func followsReferenceOnRandomDAGs(seed: UInt64) throws {
        let generated = RandomNetworks.generate(seed: seed, samples: 6)
        let plan = try #require(compile(generated))
        try #require(NativeTrainer.unsupported(plan: plan, settings: Self.onlineSettings()) == nil)
        let settings = Self.onlineSettings()
        let data = dataset(generated.samples)
        var network = try Network(plan: plan)
        var reference = Trainer(settings: settings)
        let expected = try reference.train(&network, on: data)
        for precision in Precision.allCases {
            let native = try NativeTrainer(plan: plan, settings: settings, precision: precision)
            let trained = try native.train(plan: plan, parameters: plan.parameters, on: data)
            let tolerance = precision == .f64 ? 1e-12 : 2e-3
            #expect(trained.report.updates == expected.updates)
            #expect(trained.report.lossHistory.count == expected.lossHistory.count)
            #expect(zip(trained.report.lossHistory, expected.lossHistory).allSatisfy { closeEnough($0, $1, relative: tolerance) },
                    "\(precision): \(trained.report.lossHistory) vs \(expected.lossHistory)")
            #expect(zip(trained.parameters, network.parameters).allSatisfy { closeEnough($0, $1, relative: tolerance) },
                    "\(precision): \(trained.parameters) vs \(network.parameters)")
        }
    }

    @Test("frozen parameters keep their values bit for bit and the others train as the reference trains them")
    func frozenParameters() throws {
        let plan = try #require(compileText(FastRuntimeTests.layered(inputs: 3, hidden: 4, outputs: 2, activation: "tanh", loss: "half_squared_error", skip: true)))
        var frozen = [Bool](repeating: false, count: plan.parameterCount)
        for index in stride(from: 0, to: plan.parameterCount, by: 3) { frozen[index] = true }
        let settings = Self.onlineSettings(frozen: frozen)
        let data = Dataset(inputWidth: 3, targetWidth: 2, inputs: [0.1, -0.4, 0.9, 1, 0.5, -1, -0.3, 0.2, 0.7], targets: [1, 0, 0, 1, 0.5, 0.5])
        var network = try Network(plan: plan)
        var reference = Trainer(settings: settings)
        _ = try reference.train(&network, on: data)
        let trained = try NativeTrainer(plan: plan, settings: settings, precision: .f64).train(plan: plan, parameters: plan.parameters, on: data)
        for index in plan.parameters.indices {
            if frozen[index] {
                #expect(trained.parameters[index].bitPattern == plan.parameters[index].bitPattern)
            } else {
                #expect(trained.parameters[index] != plan.parameters[index])
                #expect(closeEnough(trained.parameters[index], network.parameters[index], relative: 1e-12))
            }
        }
    }

    @Test("a second trainer of the same network, from other parameter values, loads the cached object without compiling")
    func cacheReusesCompiledCode() throws {
        var plan = try #require(compileText(FastRuntimeTests.layered(inputs: 2, hidden: 3, outputs: 1, activation: "sigmoid", loss: "binary_cross_entropy", skip: false)))
        let settings = Self.onlineSettings()
        _ = try NativeTrainer(plan: plan, settings: settings, precision: .f64)
        plan.parameters = plan.parameters.map { $0 * 0.5 + 0.25 }
        let again = try NativeTrainer(plan: plan, settings: settings, precision: .f64)
        #expect(!again.compiled)
        // Another precision is other code.
        #expect(NativeTrainer.source(plan: plan, frozen: [], precision: .f32) != NativeTrainer.source(plan: plan, frozen: [], precision: .f64))
    }

    @Test("the generated source names neither the parameter values nor the data's statistics")
    func sourceIsStructureOnly() throws {
        var plan = try #require(compileText(FastRuntimeTests.layered(inputs: 2, hidden: 2, outputs: 1, activation: "tanh", loss: "half_squared_error", skip: false)))
        let before = NativeTrainer.source(plan: plan, frozen: [], precision: .f64)
        plan.parameters = plan.parameters.map { $0 + 0.123456789 }
        plan.inputNormalization = InputNormalization(method: .standard, shift: [3, 4], scale: [0.5, 0.25])
        #expect(NativeTrainer.source(plan: plan, frozen: [], precision: .f64) == before)
    }

    @Test("settings the generated step does not serve are refused with the reason",
          arguments: [
            (2, Optimizer.sgd, 0.0), (1, .momentum(0.9), 0.0), (1, .adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8), 0.0), (1, .sgd, 0.01),
          ])
    func unsupportedSettings(batchSize: Int, optimizer: Optimizer, weightDecay: Double) throws {
        let plan = try #require(compileText(FastRuntimeTests.layered(inputs: 2, hidden: 2, outputs: 1, activation: "tanh", loss: "half_squared_error", skip: false)))
        var settings = TrainingSettings(epochs: 1, batchSize: batchSize, learningRate: .constant(0.1), shuffle: false, optimizer: optimizer, seed: 0)
        settings.regularization.weightDecay = weightDecay
        let reason = try #require(NativeTrainer.unsupported(plan: plan, settings: settings))
        #expect(reason.contains("native runtime"))
        #expect(throws: NativeUnavailable.unsupported(reason)) { try NativeTrainer(plan: plan, settings: settings, precision: .f64) }
    }

    @Test("a network above the straight-line limit is left to the batched runtimes")
    func largeNetworksAreRefused() throws {
        let plan = try #require(compileText(FastRuntimeTests.layered(inputs: 30, hidden: 20, outputs: 2, activation: "tanh", loss: "half_squared_error", skip: false)))
        #expect(plan.edgeCount > EmitOptions.straightLineEdgeLimit)
        #expect(NativeTrainer.unsupported(plan: plan, settings: Self.onlineSettings()) != nil)
    }

    @Test("a compiler that fails is reported with what it printed, and a missing one as missing")
    func compilerFailures() throws {
        let plan = try #require(compileText(FastRuntimeTests.layered(inputs: 2, hidden: 2, outputs: 1, activation: "tanh", loss: "half_squared_error", skip: false)))
        let settings = Self.onlineSettings()
        #expect {
            try NativeTrainer(plan: plan, settings: settings, precision: .f64, compiler: "/bin/false")
        } throws: { error in
            guard case NativeUnavailable.compileFailed(let compiler, _) = error else { return false }
            return compiler == "/bin/false"
        }
        #expect(SharedObjectCache.findCompiler(environment: { $0 == "BPC_CC" ? "" : nil }) == nil)
        #expect(SharedObjectCache.findCompiler(environment: { $0 == "BPC_CC" ? "/no/such/cc" : nil }) == nil)
        #expect(SharedObjectCache.findCompiler(environment: { $0 == "PATH" ? "/no/such/folder" : nil }) == nil)
        #expect(SharedObjectCache.findCompiler(environment: { $0 == "BPC_CC" ? "/bin/sh" : nil }) == "/bin/sh")
    }

    @Test("without a writable cache the object is built in a temporary folder and still loads")
    func uncachedBuild() throws {
        let plan = try #require(compileText(FastRuntimeTests.layered(inputs: 2, hidden: 2, outputs: 1, activation: "relu", loss: "half_squared_error", skip: false)))
        let compiler = try #require(SharedObjectCache.findCompiler())
        let cache = SharedObjectCache(compiler: compiler, fusedMultiplyAdd: false, directory: "/proc/bpc-cannot-write-here")
        #expect(cache.directory == nil)
        let (library, compiled) = try cache.load(NativeTrainer.source(plan: plan, frozen: [], precision: .f64))
        #expect(compiled)
        #expect(library.symbol("bpc_native_train") != nil)
    }

    @Test("native training stops where the reference trainer stops when the loss overflows")
    func divergence() throws {
        let plan = try #require(compileText(FastRuntimeTests.layered(inputs: 2, hidden: 3, outputs: 1, activation: "identity", loss: "half_squared_error", skip: false)))
        let data = Dataset(inputWidth: 2, targetWidth: 1, inputs: [1e150, 1e150, -1e150, 1e150], targets: [1e150, -1e150])
        let settings = TrainingSettings(epochs: 3, batchSize: 1, learningRate: .constant(10), shuffle: false, optimizer: .sgd, seed: 0)
        var network = try Network(plan: plan)
        var trainer = Trainer(settings: settings)
        let reference = #expect(throws: NonFiniteValue.self) { try trainer.train(&network, on: data) }
        let native = #expect(throws: NonFiniteValue.self) {
            try NativeTrainer(plan: plan, settings: settings, precision: .f64).train(plan: plan, parameters: plan.parameters, on: data)
        }
        #expect(native?.epoch == reference?.epoch)
        #expect(native != nil)
    }

    @Test("a run resumed from its state after any epoch ends bit-identical to a run that never stopped")
    func resumeIsBitIdentical() throws {
        let plan = try #require(compileText(FastRuntimeTests.layered(inputs: 2, hidden: 3, outputs: 1, activation: "sigmoid", loss: "binary_cross_entropy", skip: false)))
        let data = Dataset(inputWidth: 2, targetWidth: 1, inputs: [0, 0, 0, 1, 1, 0, 1, 1], targets: [0, 1, 1, 0])
        let settings = Self.onlineSettings(epochs: 8)
        for precision in Precision.allCases {
            let native = try NativeTrainer(plan: plan, settings: settings, precision: precision)
            var saved: TrainingState?
            let whole = try native.train(plan: plan, parameters: plan.parameters, on: data) { epoch, _, _, state in
                if epoch == 2 { saved = state() }
                return true
            }
            let state = try #require(saved)
            let resumed = try native.train(plan: plan, parameters: plan.parameters, on: data, resume: state)
            #expect(resumed.parameters.map(\.bitPattern) == whole.parameters.map(\.bitPattern), "\(precision)")
            #expect(resumed.report.lossHistory.map(\.bitPattern) == whole.report.lossHistory.map(\.bitPattern), "\(precision)")
        }
    }
}
