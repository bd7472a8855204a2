import BPC
import BPCTestSupport
import Foundation
import Testing

// The library's `Model` as a Swift program uses it: typed errors instead of traps, reading that
// never changes the model, parameters that move between runtimes, plans with separate data.

private let xorPath = packageRoot.appendingPathComponent("specs/xor.yaml").path

/// A spec of one input feeding one output, with `data` on its line 8.
private func inputToOutput(data: String) -> String {
    """
    bpc: 1
    units:
      - {name: x, role: input}
      - {name: y, role: output}
    edges:
      - {from: x, to: y}
    loss: half_squared_error
    data: \(data)
    """
}

@Suite("the library's Model")
struct ModelTests {
    @Test("wrong sizes and unknown keys are typed errors that say what is wrong, not traps")
    func misuseThrows() throws {
        var model = try Model(contentsOf: xorPath)
        #expect(throws: ModelError.wrongInputCount(expected: 2, given: 3)) { try model.predict([0, 1, 2]) }
        #expect(throws: ModelError.wrongTargetCount(expected: 1, given: 2)) { try model.gradients(input: [0, 1], target: [1, 0]) }
        #expect(throws: ModelError.wrongParameterCount(expected: 9, given: 1)) { try model.setParameters([0]) }
        #expect(throws: ModelError.unknownParameter(key: "h1->yy", closest: "h1->y")) { try model.parameter("h1->yy") }
        #expect(throws: ModelError.nonFiniteParameter(key: "h1->y")) { try model.setParameter("h1->y", to: .nan) }
        let wide = Dataset(inputWidth: 3, targetWidth: 1, inputs: [0, 0, 0], targets: [0])
        #expect(throws: ModelError.wrongInputCount(expected: 2, given: 3)) { try model.train(on: wide) }
        #expect(throws: ModelError.noData) { try model.train(on: Dataset(inputWidth: 2, targetWidth: 1)) }
        #expect(ModelError.unknownParameter(key: "h1->yy", closest: "h1->y").description == "unknown parameter 'h1->yy'; did you mean 'h1->y'?")
    }

    @Test("an inconsistent data set and out-of-range settings are typed errors, not traps")
    func badDataAndSettingsThrow() throws {
        var model = try Model(contentsOf: xorPath)
        let ragged = Dataset(inputWidth: 2, targetWidth: 1, inputs: [0, 0, 1, 1], targets: [0])
        #expect(throws: ModelError.inconsistentData(inputs: 4, targets: 1)) { try model.evaluate(ragged) }
        #expect(throws: ModelError.inconsistentData(inputs: 4, targets: 1)) { try model.train(on: ragged) }
        #expect(throws: ModelError.inconsistentData(inputs: 4, targets: 1)) { try model.checkGradients(on: ragged) }
        var settings = model.trainingSettings
        for change in [{ (s: inout TrainingSettings) in s.epochs = -3 }, { $0.batchSize = 0 },
                       { $0.learningRate = .constant(-1) }, { $0.learningRate = .step(initial: 0.1, factor: 0.5, every: 0) },
                       { $0.optimizer = .momentum(1.5) }] {
            settings = model.trainingSettings
            change(&settings)
            #expect(throws: ModelError.self) { try model.train(settings: settings) }
        }
        #expect(throws: ModelError.self) { try model.checkGradients(count: -1) }
    }

    @Test("an empty sample list is a spec error at its place")
    func emptySampleList() throws {
        let text = inputToOutput(data: "{samples: [{in: [1], out: [1]}], test: {samples: []}}")
        do {
            _ = try Model(yaml: text, path: "empty.yaml")
            Issue.record("the spec was accepted")
        } catch {
            #expect(error.diagnostics.map(\.description) == ["empty.yaml:8:56: error: 'samples' is empty; give at least one {in: [...], out: [...]}"])
        }
    }

    @Test("a rejected spec throws every problem as a Diagnostic with file, line and column")
    func loadFailuresAreDiagnostics() throws {
        let text = """
            bpc: 1
            units:
              - {name: x, role: input}
              - {name: y, role: output, activation: sigmod}
            edges:
              - {from: x, to: z}
            loss: half_squared_error
            """
        do {
            _ = try Model(yaml: text, path: "bad.yaml")
            Issue.record("the spec was accepted")
        } catch {
            let places = error.diagnostics.map { "\($0.file):\($0.position?.description ?? "-")" }
            #expect(places == ["bad.yaml:4:41"], "\(error.diagnostics)")
            #expect(error.diagnostics.first?.message.contains("did you mean 'sigmoid'") == true)
        }
    }

    @Test("predicting, evaluating and reading gradients leave the model as it was")
    func readingDoesNotChangeTheModel() throws {
        let model = try Model(contentsOf: xorPath)
        let before = model.parameters
        let first = try model.gradients(input: [1, 0], target: [1])
        _ = try model.predict([0, 1])
        _ = try model.evaluate()
        let second = try model.gradients(input: [1, 0], target: [1])
        #expect(model.parameters == before)
        #expect(first.gradients == second.gradients)
        #expect(first["h1->y"] == first.gradients[try #require(model.parameterKeys.firstIndex(of: "h1->y"))])
    }

    @Test("the default runtime is native code where a C compiler is (the fast runtime otherwise), and every runtime's trained parameters match the reference runtime's")
    func parametersMoveBetweenRuntimes() throws {
        var fast = try Model(contentsOf: xorPath)
        var automatic = fast, reference = fast
        let automaticResult = try automatic.train(settings: nil)
        let fastResult = try fast.train(runtime: .fast(precision: .f64, threads: 1))
        let referenceResult = try reference.train(runtime: .reference)
        if let compiler = NativeTrainer.defaultCompiler {
            #expect(automaticResult.runtime.kind == .native)
            #expect(automaticResult.runtime.compiler == compiler)
        } else {
            #expect(automaticResult.runtime.kind == .fast)
        }
        #expect(fastResult.runtime.kind == .fast)
        #expect(fastResult.runtime.kernels == FastTrainer.instructionSet)
        #expect(referenceResult.runtime.kind == .reference)
        for (a, b) in zip(fast.parameters, reference.parameters) { #expect(abs(a - b) <= 1e-9 * max(1, abs(b))) }
        for (a, b) in zip(automatic.parameters, reference.parameters) { #expect(abs(a - b) <= 1e-9 * max(1, abs(b))) }
        // Parameters trained by one runtime, put into a fresh model, give its exact outputs.
        var copy = try Model(contentsOf: xorPath)
        try copy.setParameters(fast.parameters)
        #expect(try copy.predict([1, 0]) == fast.predict([1, 0]))
        #expect(try copy.evaluate().accuracy == 1)
        // And the plan the model hands to emitters and plan files carries them.
        #expect(copy.plan.parameters == fast.parameters)
    }

    @Test("progress is reported after every epoch and can stop training early")
    func progressCanStop() throws {
        var model = try Model(contentsOf: xorPath)
        var seen: [Int] = []
        let result = try model.train { step in
            seen.append(step.epoch)
            return step.epoch == 9 ? .stop : .continue
        }
        #expect(seen == Array(0...9))
        #expect(result.report.interrupted)
        #expect(result.report.epochsRun == 10)
    }

    @Test("a plan trains on data given separately, with default settings and overrides")
    func planWithSeparateData() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bpc-model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let spec = try Model(contentsOf: xorPath)
        let planFile = folder.appendingPathComponent("xor.json")
        try PlanJSON.encode(spec.plan).write(to: planFile, atomically: true, encoding: .utf8)
        let csv = folder.appendingPathComponent("xor.csv")
        try "x1,x2,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n".write(to: csv, atomically: true, encoding: .utf8)

        let overrides = TrainingOverrides(epochs: 4000, learningRate: 0.5)
        var model = try Model(contentsOf: planFile.path, options: LoadOptions(overrides: overrides))
        #expect(model.spec == nil)
        #expect(model.trainingData == nil)
        #expect(throws: ModelError.noData) { try model.train() }
        #expect(throws: ModelError.noSpec) { try model.trainedSpec() }
        model.trainingData = try model.loadDataset(csvFile: csv.path)
        try model.train()
        #expect(try model.evaluate().accuracy == 1)
    }

    @Test("a plan file that breaks an invariant is a diagnostic naming the file and the invariant")
    func hostilePlanFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bpc-model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let json = PlanJSON.encode(try Model(contentsOf: xorPath).plan)
        let broken = json.replacingOccurrences(of: "\"inputs\": [0, 1]", with: "\"inputs\": [0, 0]")
        #expect(broken != json)
        let file = folder.appendingPathComponent("broken.json")
        try broken.write(to: file, atomically: true, encoding: .utf8)
        do {
            _ = try Model(contentsOf: file.path)
            Issue.record("the broken plan was accepted")
        } catch {
            #expect(error.diagnostics.count == 1)
            #expect(error.diagnostics.first?.file == file.path)
            #expect(error.diagnostics.first?.message == "invalid plan file: the plan breaks an invariant: inputs names unit x1 twice", "\(error)")
        }
    }

    @Test("with loadsData off, a spec whose data file is missing still loads")
    func networkOnlyLoadSkipsData() throws {
        let text = inputToOutput(data: "{csv: /nonexistent/data.csv}")
        let model = try Model(yaml: text, options: LoadOptions(loadsData: false))
        #expect(model.trainingData == nil)
        #expect(throws: LoadFailure.self) { try Model(yaml: text) }
    }
}

@Suite("numbers in specs")
struct SpecNumberTests {
    @Test("hexadecimal and octal integers read as their values, not as bit patterns")
    func hexAndOctal() throws {
        let text = """
            bpc: 1
            units:
              - {name: x, role: input}
              - {name: y, role: output, bias: 0o20}
            edges:
              - {from: x, to: y, weight: 0x10}
            loss: half_squared_error
            init: {seed: 0x10}
            """
        let model = try Model(yaml: text)
        #expect(try model.parameter("x->y") == 16)
        #expect(try model.parameter("y.bias") == 16)
        #expect(model.spec?.initialization.seed == 16)
    }
}
