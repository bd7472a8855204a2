import BPC
import BPCTestSupport
import Foundation
import Testing

/// Tests/Fixtures/onnx: models written by scripts/onnx/make-fixtures.py (PyTorch's exporter and
/// onnx.helper), and expected.json, onnxruntime's outputs for fixed inputs.
let onnxFixtures = packageRoot.appendingPathComponent("Tests/Fixtures/onnx")

/// One entry of expected.json.
struct ONNXFixture: Decodable, Sendable, CustomStringConvertible {
    var file: String
    /// "float" (onnxruntime computed in binary32) or "double".
    var precision: String
    var input: String
    var output: String
    /// The input's shape without the batch dimension (for several inputs, the sum of their widths).
    var shape: [Int]
    /// A model with several inputs and outputs names them all, with the inputs' widths: a row
    /// of `inputs` is the inputs side by side, a row of `outputs` the outputs.
    var inputNames: [String]?
    var inputWidths: [Int]?
    var outputNames: [String]?
    /// The model ends in a LogSoftmax (PyTorch's NLLLoss setup): onnxruntime's outputs are
    /// log-probabilities, bpc's prediction the probabilities, so those are compared with their exp.
    var logSoftmax: Bool?

    enum CodingKeys: String, CodingKey {
        case file, precision, input, output, shape, inputs, outputs
        case inputNames = "input_names", inputWidths = "input_widths", outputNames = "output_names"
        case logSoftmax = "log_softmax"
    }

    /// What bpc's prediction must equal, given onnxruntime's `outputs` for this model.
    func comparable(_ outputs: [[Double]]) -> [[Double]] {
        logSoftmax == true ? outputs.map { $0.map { exp($0) } } : outputs
    }

    /// What onnxruntime is fed: each input's columns of the rows.
    var feeds: [String: [[Double]]] {
        guard let names = inputNames, let widths = inputWidths, names.count == widths.count else { return [input: inputs] }
        var feeds: [String: [[Double]]] = [:]
        var start = 0
        for (name, width) in zip(names, widths) {
            feeds[name] = inputs.map { Array($0[start..<(start + width)]) }
            start += width
        }
        return feeds
    }
    /// Rows of the input, flattened row-major.
    var inputs: [[Double]]
    var outputs: [[Double]]

    var path: String { onnxFixtures.appendingPathComponent(file).path }
    /// Relative to max(1, |expected|): onnxruntime rounds every float32 operation, bpc computes in
    /// binary64. It also covers what the import changes on purpose: BatchNormalization folded into
    /// the weights (rounded once instead of in two steps; 1e-12 in binary64 too), and PyTorch's
    /// softplus, which is the identity above 20 where bpc's differs by at most log1p(e^-20)
    /// ~ 2.1e-9, far below binary32's spacing there (1.9e-6).
    var tolerance: Double { precision == "double" ? 1e-12 : 1e-5 }
    var description: String { file }

    static let all: [ONNXFixture] = {
        struct Expected: Decodable { var models: [ONNXFixture] }
        guard let data = try? Data(contentsOf: onnxFixtures.appendingPathComponent("expected.json")),
              let expected = try? JSONDecoder().decode(Expected.self, from: data) else { return [] }
        return expected.models
    }()
}

func importONNX(_ path: String) throws -> (assembly: SpecAssembly, model: Model) {
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    let assembly = try ONNXImporter.assemble(bytes: bytes, file: path, specPath: "imported.yaml", name: "imported")
    return (assembly, try Model(yaml: assembly.yaml, path: "imported.yaml"))
}

/// What the graph outputs for one row: the probabilities for a softmax classifier (whose
/// output units are the logits), the output units otherwise.
func graphOutputs(of model: Model, for input: [Double]) throws -> [Double] {
    model.plan.loss == .softmaxCrossEntropy ? try model.prediction(for: input).probabilities ?? [] : try model.predict(input)
}

/// The largest difference relative to max(1, |expected|), recording an issue above `tolerance`.
@discardableResult
func expectClose(_ actual: [[Double]], _ expected: [[Double]], tolerance: Double, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) -> Double {
    #expect(actual.map(\.count) == expected.map(\.count), "\(what): shapes differ", sourceLocation: sourceLocation)
    var largest = 0.0
    for (row, (a, e)) in zip(actual, expected).enumerated() {
        for (column, (x, y)) in zip(a, e).enumerated() {
            let difference = abs(x - y) / max(1, abs(y))
            largest = max(largest, difference)
            #expect(difference <= tolerance, "\(what) row \(row) output \(column): bpc \(x), expected \(y)", sourceLocation: sourceLocation)
        }
    }
    return largest
}

@Suite("ONNX import") struct ONNXImportTests {
    @Test("the committed expectations list every valid fixture")
    func fixturesAreListed() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: onnxFixtures.path)
            .filter { $0.hasSuffix(".onnx") && !$0.hasPrefix("invalid_") }
        #expect(Set(ONNXFixture.all.map(\.file)) == Set(files))
    }

    @Test("an imported fixture predicts what onnxruntime computed for it", arguments: ONNXFixture.all)
    func predictionsMatchOnnxruntime(_ fixture: ONNXFixture) throws {
        let model = try importONNX(fixture.path).model
        let actual = try fixture.inputs.map { try graphOutputs(of: model, for: $0) }
        expectClose(actual, fixture.comparable(fixture.outputs), tolerance: fixture.tolerance, fixture.file)
    }

    @Test("PyTorch's modules name the layers, the graph's input and output the outer groups")
    func groupsAreNamedAfterModules() throws {
        let iris = try importONNX(onnxFixtures.appendingPathComponent("torch_iris_softmax.onnx").path)
        #expect(iris.assembly.spec.units.map(\.name.value) == ["features", "fc1", "fc2", "probabilities"])
        #expect(iris.assembly.spec.units.map { $0.activation?.value } == [nil, .relu, .tanh, nil])
        #expect(iris.model.plan.loss == .softmaxCrossEntropy)
        let regression = try importONNX(onnxFixtures.appendingPathComponent("torch_regression.onnx").path)
        #expect(regression.assembly.spec.units.map(\.name.value) == ["features", "hidden", "prediction"])
        #expect(regression.model.plan.loss == .halfSquaredError)
        let keras = try importONNX(onnxFixtures.appendingPathComponent("matmul_add_sigmoid.onnx").path)
        #expect(keras.assembly.spec.units.map(\.name.value) == ["x", "dense", "y"])
        #expect(keras.model.plan.loss == .binaryCrossEntropy)
    }

    @Test("several inputs are concatenated into one layer's sources and several outputs select its units: groups a, b, fc1, first and last")
    func severalInputsAndOutputs() throws {
        let imported = try importONNX(onnxFixtures.appendingPathComponent("multi_input.onnx").path)
        #expect(imported.assembly.spec.units.map(\.name.value) == ["a", "b", "fc1", "first", "last"])
        #expect(imported.assembly.spec.units.map { $0.role } == [.input, .input, .hidden, .output, .output])
        #expect(imported.model.inputNames == ["a[0]", "a[1]", "b[0]", "b[1]", "b[2]"])
        // A one-column output is a unit of its own, named after the graph output.
        #expect(imported.model.outputNames == ["first[0]", "first[1]", "last"])
        #expect(imported.model.plan.loss == .halfSquaredError)
    }

    @Test("a residual sum and an activation of units used twice become groups joined by weight-1 edges")
    func residualBlockBecomesIdentityGroups() throws {
        let residual = try importONNX(onnxFixtures.appendingPathComponent("residual.onnx").path)
        // fc1 + relu; fc2 + tanh; skip = t2 + h1; gate = sigmoid(h1); shift = gate + constant; merge; fc3.
        #expect(residual.assembly.spec.units.map(\.name.value) == ["x", "fc1", "fc2", "skip", "gate", "shift", "merge", "out"])
        #expect(residual.assembly.spec.units.map { $0.activation?.value } == [nil, .relu, .tanh, nil, .sigmoid, nil, nil, nil])
    }

    @Test("the generated C of every imported fixture prints onnxruntime's outputs")
    func generatedCMatchesOnnxruntime() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bpc-onnx-c-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var program = "#include <stdio.h>\n"
        var models: [(fixture: ONNXFixture, model: Model)] = []
        for (index, fixture) in ONNXFixture.all.enumerated() {
            let model = try importONNX(fixture.path).model
            models.append((fixture, model))
            try model.emit(.c, options: EmitOptions(prefix: "m\(index)")).write(to: folder.appendingPathComponent("m\(index).h"), atomically: true, encoding: .utf8)
            program += "#include \"m\(index).h\"\n"
        }
        program += "static void show(const double *v, int n) { int i; for (i = 0; i < n; ++i) printf(\"%.17g\\n\", v[i]); }\nint main(void) {\n"
        for (index, (fixture, _)) in models.enumerated() {
            for row in fixture.inputs {
                let values = row.map { $0.description }.joined(separator: ", ")
                program += "    { static const double in[] = {\(values)}; double out[M\(index)_OUTPUTS]; m\(index)_forward(in, out); show(out, M\(index)_OUTPUTS); }\n"
            }
        }
        program += "    return 0;\n}\n"
        try program.write(to: folder.appendingPathComponent("main.c"), atomically: true, encoding: .utf8)
        let cc = try runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O1", "main.c", "-o", "main", "-lm"], in: folder)
        try #require(cc.exited && cc.status == 0, "cc failed: \(cc.stderr.prefix(2000))")
        let run = try runProcess(folder.appendingPathComponent("main"), [], in: folder)
        var printed = run.stdout.split(separator: "\n").compactMap { Double($0) }[...]
        for (fixture, model) in models {
            let actual = fixture.inputs.map { input in
                let outputs = Array(printed.prefix(model.plan.outputUnits.count))
                printed = printed.dropFirst(outputs.count)
                // Read as Model.prediction reads its own outputs: softmax of the logits.
                let prediction = Prediction(input: input, outputs: outputs, loss: model.plan.loss, classNames: [])
                return model.plan.loss == .softmaxCrossEntropy ? prediction.probabilities ?? [] : outputs
            }
            expectClose(actual, fixture.comparable(fixture.outputs), tolerance: fixture.tolerance, "C of \(fixture.file)")
        }
        #expect(printed.isEmpty)
    }

    /// What each rejected fixture's one diagnostic says (the node and op type where there is one).
    static let rejections: [(file: String, message: String)] = [
        ("invalid_conv.onnx", "node 'conv1' (Conv): the op is not supported"),
        ("invalid_leaky_alpha.onnx", "node 'leaky1' (LeakyRelu): alpha 0.2 is not supported"),
        ("invalid_two_outputs.onnx", "the graph outputs 'y' and 'g' hold the same unit; bpc's output units are distinct"),
        ("invalid_gather_index.onnx", "node 'pick' (Gather): index 2 (position 1) is out of range for data of 2 units (ONNX allows -2 to 1)"),
        ("invalid_concat_axis.onnx", "node 'rows' (Concat): axis 0 is not supported; bpc concatenates the units of each sample"),
        ("invalid_external_data.onnx", "node 'fc1' (Gemm): initializer 'B' keeps its data in 'weights.bin' (external data), which is not found next to the model"),
        ("invalid_initializer_size.onnx", "node 'fc1' (Gemm): initializer 'B' has 12 bytes of raw_data, but its dims [2, 2] of FLOAT need 16"),
        ("invalid_weight_shape.onnx", "node 'fc1' (Gemm): B has shape [2, 3] (transposed) but A has 2 values per row"),
        ("invalid_order.onnx", "node 'relu1' (Relu): it uses 'g' before node 'fc1' (Gemm) produces it"),
        ("invalid_float16.onnx", "node 'fc1' (Gemm): initializer 'B' is FLOAT16"),
        ("invalid_nan_bias.onnx", "node 'fc1' (Gemm): C ('C') holds nan at index 1"),
        ("invalid_domain.onnx", "node 'gelu1' (Gelu): its domain 'com.microsoft' is not ai.onnx"),
        ("hostile/dims_overflow.onnx", "node 'fc1' (Gemm): initializer 'B' has impossible dims"),
        ("hostile/negative_dims.onnx", "node 'fc1' (Gemm): initializer 'B' has impossible dims"),
        ("hostile/huge_input.onnx", "the graph input 'x' of shape [N, 100000, 100000] has more than"),
        ("hostile/reshape_overflow.onnx", "node 'reshape' (Reshape): the shape [0, 4611686018427387904, 4611686018427387904, -1] does not keep"),
        ("hostile/cycle.onnx", "node 'first' (Relu): it uses 'b' before node 'second' (Add) produces it"),
        ("hostile/external_parent.onnx", "node 'fc1' (Gemm): initializer 'B' keeps its data in '../torch_external_data.onnx.data' (external data), a path that leaves the model's folder ('..')"),
        ("hostile/external_absolute.onnx", "node 'fc1' (Gemm): initializer 'B' keeps its data in '/etc/passwd' (external data), an absolute path"),
        ("hostile/external_offset.onnx", "node 'fc1' (Gemm): initializer 'B' keeps its data in 'external_weights.data' (external data) at the offset 4096, beyond the end of the file (16 bytes)"),
        ("hostile/external_past_end.onnx", "node 'fc1' (Gemm): initializer 'B' keeps its data in 'external_weights.data' (external data): its dims [2, 2] of FLOAT need 16 bytes from the offset 8, but the file has 8 there"),
        ("hostile/external_length.onnx", "node 'fc1' (Gemm): initializer 'B' keeps its data in 'external_weights.data' (external data) with the length 12, but its dims [2, 2] of FLOAT are 16 bytes"),
        // B's dims are checked against A before its data is looked for (ONNXLimitsTests reads
        // past the end of a data file with dims that fit).
        ("hostile/external_huge.onnx", "node 'fc1' (Gemm): B has shape [1073741824, 4] (transposed) but A has 2 values per row"),
    ]

    @Test("an invalid or hostile model is rejected with one diagnostic naming the node and what is wrong",
          arguments: rejections.map(\.file))
    func invalidModelsAreRejected(_ file: String) throws {
        let path = onnxFixtures.appendingPathComponent(file).path
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let message = try #require(Self.rejections.first { $0.file == file }?.message)
        let failure = #expect(throws: ImportFailure.self) {
            _ = try ONNXImporter.assemble(bytes: bytes, file: path, specPath: "x.yaml", name: "x")
        }
        #expect(failure?.diagnostics.count == 1)
        #expect(failure?.diagnostics.first?.file == path)
        #expect(failure?.diagnostics.first?.position == nil)
        #expect(failure?.description.contains(message) == true, "\(failure?.description ?? "")")
    }

    @Test("every invalid and hostile fixture has its expected rejection")
    func rejectionsListEveryFixture() throws {
        let invalid = try FileManager.default.contentsOfDirectory(atPath: onnxFixtures.path).filter { $0.hasPrefix("invalid_") }
        // hostile/external_weights.data is the data file the external data fixtures point into.
        let hostile = try FileManager.default.contentsOfDirectory(atPath: onnxFixtures.appendingPathComponent("hostile").path)
            .filter { $0.hasSuffix(".onnx") }.map { "hostile/\($0)" }
        #expect(Set(Self.rejections.map(\.file)) == Set(invalid + hostile))
    }

    @Test("bytes that are not an ONNX model are rejected in words, without swift-protobuf's error names")
    func garbageIsRejected() throws {
        let failure = #expect(throws: ImportFailure.self) {
            _ = try ONNXImporter.assemble(bytes: Array("name: not onnx\n".utf8), file: "x.onnx", specPath: "x.yaml", name: "x")
        }
        #expect(failure?.description.contains("not an ONNX model") == true)
        // Cut inside a field: the protobuf does not decode.
        let bytes = [UInt8](try Data(contentsOf: onnxFixtures.appendingPathComponent("torch_silu.onnx")))
        let truncated = #expect(throws: ImportFailure.self) {
            _ = try ONNXImporter.assemble(bytes: Array(bytes.prefix(bytes.count / 2)), file: "x.onnx", specPath: "x.yaml", name: "x")
        }
        #expect(truncated?.diagnostics.first?.message == "not an ONNX model: the file is not a protobuf ModelProto (truncated or corrupt, or another format)",
                "\(truncated?.description ?? "")")
        #expect(truncated?.description.contains("malformed") == false)
    }

    @Test("an empty file is rejected as empty")
    func emptyFileIsRejected() {
        let failure = #expect(throws: ImportFailure.self) {
            _ = try ONNXImporter.assemble(bytes: [], file: "x.onnx", specPath: "x.yaml", name: "x")
        }
        #expect(failure?.diagnostics.first?.message == "the file is empty; an ONNX model is a protobuf ModelProto", "\(failure?.description ?? "")")
    }
}

/// Truncated and mutated fixtures: the importer must answer each with a spec or an
/// ImportFailure, and an imported spec must load or be refused, never trap.
@Suite("ONNX import of hostile bytes") struct ONNXHostileInputTests {
    /// Each fixture's path (which places its external data) and bytes.
    static func fixtureBytes() throws -> [(path: String, bytes: [UInt8])] {
        let names = try FileManager.default.contentsOfDirectory(atPath: onnxFixtures.path).filter { $0.hasSuffix(".onnx") }.sorted()
        return try names.map { name in
            let url = onnxFixtures.appendingPathComponent(name)
            return (url.path, [UInt8](try Data(contentsOf: url)))
        }
    }

    /// Imports `bytes` as the model at `path` (so that mutated external data references are
    /// read, or refused, in the fixtures' folder); when that succeeds, loads the spec and runs
    /// it once.
    static func survive(_ bytes: [UInt8], path: String) {
        guard let assembly = try? ONNXImporter.assemble(bytes: bytes, file: path, specPath: "h.yaml", name: "h"),
              let model = try? Model(yaml: assembly.yaml, path: "h.yaml") else { return }
        _ = try? model.predict(Array(repeating: 0.5, count: model.plan.inputUnits.count))
    }

    @Test("every fixture cut at forty points is imported or rejected without a crash")
    func truncatedFixtures() throws {
        for (path, bytes) in try Self.fixtureBytes() {
            for cut in 0..<40 { Self.survive(Array(bytes.prefix(bytes.count * cut / 40)), path: path) }
        }
    }

    @Test("three thousand random byte mutations are imported or rejected without a crash")
    func mutatedFixtures() throws {
        let fixtures = try Self.fixtureBytes()
        var generator = SeededGenerator(seed: 20240601)
        for _ in 0..<3000 {
            let fixture = fixtures[generator.nextIndex(below: fixtures.count)]
            var bytes = fixture.bytes
            for _ in 0...generator.nextIndex(below: 4) {
                bytes[generator.nextIndex(below: bytes.count)] = UInt8(generator.nextIndex(below: 256))
            }
            Self.survive(bytes, path: fixture.path)
        }
    }
}

/// The committed outputs, checked again against a live onnxruntime (and onnx's checker).
@Suite("ONNX import against onnxruntime", .enabled(if: ONNXOracle.isAvailable))
struct ONNXImportOracleTests {
    /// The oracle feeds rows, so models whose input has more than one dimension per sample
    /// (flatten.onnx) are checked only against the committed outputs.
    @Test("every imported fixture predicts what a live onnxruntime computes, and onnx's checker accepts it")
    func predictionsMatchLiveOnnxruntime() throws {
        let fixtures = ONNXFixture.all.filter { $0.shape.count == 1 }
        let answers = try ONNXOracle.run(fixtures.map { (URL(fileURLWithPath: $0.path), $0.feeds) })
        #expect(answers.count == fixtures.count)
        for (fixture, answer) in zip(fixtures, answers) {
            #expect(answer.checker == "ok", "\(fixture.file): \(answer.checker)")
            // Several outputs: each row is the outputs side by side.
            var live: [[Double]] = fixture.inputs.map { _ in [] }
            for name in fixture.outputNames ?? [fixture.output] {
                let rows = try #require(answer.outputs?[name], "\(fixture.file): \(answer.error ?? "no output \(name)")")
                try #require(rows.count == live.count)
                for (row, values) in rows.enumerated() { live[row] += values }
            }
            let model = try importONNX(fixture.path).model
            let actual = try fixture.inputs.map { try graphOutputs(of: model, for: $0) }
            expectClose(actual, fixture.comparable(live), tolerance: fixture.tolerance, "live \(fixture.file)")
        }
    }
}
