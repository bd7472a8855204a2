@testable import BPCInterop
import BPC
import BPCTestSupport
import Foundation
import Testing

/// `bpc export onnx` as a library call: every spec of the repository exported in both
/// precisions and run by onnxruntime, plus what a plan knows that ONNX has no field for.
@Suite struct ONNXExportTests {
    static let specs: [String] = (try? FileManager.default.contentsOfDirectory(atPath: packageRoot.appendingPathComponent("specs").path))?
        .filter { $0.hasSuffix(".yaml") }.sorted() ?? []

    /// Up to `count` raw input rows: the spec's own data where it has some, else a grid.
    static func inputs(of model: Model, count: Int = 12) -> [[Double]] {
        if let data = model.testData ?? model.trainingData, data.count > 0 {
            return (0..<min(count, data.count)).map { Array(data.input($0)) }
        }
        return (0..<count).map { row in model.inputNames.indices.map { column in Double((row * 7 + column * 3) % 11) * 0.4 - 2 } }
    }

    /// Exports `model` in both precisions and both layouts, runs them, and compares every output
    /// (and softmax cross-entropy's probabilities) with bpc's: 1e-12 in binary64, 1e-5 in
    /// binary32, relative to the value or 1, whichever is larger.
    static func expectOnnxruntimeAgrees(_ model: Model, label: String, rows: [[Double]]) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bpc-onnx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let variants = ONNXExportOptions.Precision.allCases.flatMap { precision in [false, true].map { ONNXExportOptions(precision: precision, packed: $0) } }
        var requests: [(model: URL, feeds: [String: [[Double]]])] = []
        for (index, options) in variants.enumerated() {
            let url = folder.appendingPathComponent("\(index).onnx")
            try Data(try model.exportONNX(options: options)).write(to: url)
            requests.append((url, ONNXOracle.feeds(inputs: ONNXExporter.interfaceNames(of: model.plan, packed: options.packed).inputs, rows: rows)))
        }
        let predictions = try rows.map { try model.prediction(for: $0) }
        let answers = try ONNXOracle.run(requests)
        for (options, answer) in zip(variants, answers) {
            let variant = "\(label) \(options.precision)\(options.packed ? " packed" : "")"
            let interface = ONNXExporter.interfaceNames(of: model.plan, packed: options.packed)
            let tolerance = options.precision == .double ? 1e-12 : 1e-5
            func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= tolerance * max(1, abs(a), abs(b)) }
            #expect(answer.checker == "ok", "\(variant): \(answer.checker)")
            #expect(answer.opset == 17)
            #expect(answer.metadata["bpc.loss"] == model.plan.loss.name)
            #expect(answer.inputs.count == (options.packed ? 1 : model.inputNames.count))
            let outputs = try #require(answer.outputs, "\(variant): \(answer.error ?? "")")
            let values = try ONNXOracle.rows(of: outputs, names: interface.outputs, count: rows.count)
            for (row, prediction) in predictions.enumerated() {
                #expect(values[row].count == prediction.outputs.count && zip(values[row], prediction.outputs).allSatisfy { close($0, $1) },
                        "\(variant) row \(row): onnxruntime \(values[row]), bpc \(prediction.outputs)")
            }
            if model.plan.loss == .softmaxCrossEntropy {
                let name = try #require(interface.probabilities)
                #expect(answer.metadata["bpc.probabilities"] == name)
                let values = try #require(outputs[name], "\(variant): no \(name) output")
                for (row, prediction) in predictions.enumerated() {
                    let probabilities = try #require(prediction.probabilities)
                    #expect(values[row].count == probabilities.count && zip(values[row], probabilities).allSatisfy { close($0, $1) },
                            "\(variant) row \(row): \(values[row]) vs \(probabilities)")
                }
            }
        }
    }

    @Test("every spec in specs/ exported in both precisions is computed by onnxruntime as bpc computes it",
          .enabled(if: ONNXOracle.isAvailable, "no Python with onnx and onnxruntime ($BPC_ONNX_PYTHON)"), arguments: specs)
    func everySpec(file: String) throws {
        let model = try Model(contentsOf: packageRoot.appendingPathComponent("specs/\(file)").path)
        try Self.expectOnnxruntimeAgrees(model, label: file, rows: Self.inputs(of: model))
    }

    @Test("a trained network is exported with its trained parameters",
          .enabled(if: ONNXOracle.isAvailable, "no Python with onnx and onnxruntime ($BPC_ONNX_PYTHON)"))
    func trainedParameters() throws {
        var model = try Model(contentsOf: packageRoot.appendingPathComponent("specs/xor.yaml").path)
        let before = model.parameters
        var settings = model.trainingSettings
        settings.epochs = 50
        try model.train(settings: settings, runtime: .reference)
        #expect(model.parameters != before)
        try Self.expectOnnxruntimeAgrees(model, label: "trained xor", rows: [[0, 0], [0, 1], [1, 0], [1, 1]])
    }

    static let tiedSpec = """
        bpc: 1
        name: siamese
        units:
          - {name: x1, role: input}
          - {name: x2, role: input}
          - {name: h1, activation: softplus, bias: 0.25}
          - {name: h2, activation: softplus, bias: {share: h1.bias}}
          - {name: probabilities, role: output, activation: identity}
          - {name: other, role: output, activation: identity}
        edges:
          - {from: x1, to: h1, weight: 0.75}
          - {from: x2, to: h2, share: "x1->h1"}
          - {from: [h1, h2], to: [probabilities, other], weight: [1, -1, 0.5, 2]}
        loss: softmax_cross_entropy
        """

    @Test("tied parameters hold their shared value everywhere and are listed in the metadata; a unit named probabilities keeps its name",
          .enabled(if: ONNXOracle.isAvailable, "no Python with onnx and onnxruntime ($BPC_ONNX_PYTHON)"))
    func tiedParameters() throws {
        let model = try Model(yaml: Self.tiedSpec, path: "siamese.yaml")
        try Self.expectOnnxruntimeAgrees(model, label: "siamese", rows: [[0.5, -1], [3, 40], [-60, 0]])
        let metadata = Dictionary(uniqueKeysWithValues: ONNXExporter.metadata(
            of: model.plan, options: ONNXExportOptions(), interface: ONNXExporter.interfaceNames(of: model.plan, packed: false)))
        #expect(metadata["bpc.tied"] == "x1->h1=x2->h2;h1.bias=h2.bias")
        #expect(metadata["bpc.probabilities"] == "probabilities_2")
    }

    @Test("the graph's inputs and outputs are the units, [N, 1] each, and the model declares opset 17 and IR version 8")
    func interface() throws {
        let model = try Model(contentsOf: packageRoot.appendingPathComponent("specs/iris-labelled.yaml").path)
        for precision in ONNXExportOptions.Precision.allCases {
            let proto = ONNXExporter.modelProto(of: model.plan, options: ONNXExportOptions(precision: precision, producerVersion: "9.9"))
            let elementType = Int32(precision == .double ? Onnx_TensorProto.DataType.double.rawValue : Onnx_TensorProto.DataType.float.rawValue)
            #expect(proto.graph.input.map(\.name) == model.inputNames)
            #expect(proto.graph.output.map(\.name) == model.outputNames + ["probabilities"])
            let packed = ONNXExporter.modelProto(of: model.plan, options: ONNXExportOptions(precision: precision, packed: true))
            #expect(packed.graph.input.map(\.name) == ["x"] && packed.graph.output.map(\.name) == ["y", "probabilities"])
            #expect(packed.graph.input[0].type.tensorType.shape.dim.map(\.dimValue) == [0, 4])
            for info in proto.graph.input + proto.graph.output.dropLast() {
                #expect(info.type.tensorType.elemType == elementType)
                #expect(info.type.tensorType.shape.dim.map(\.dimParam) == ["N", ""])
                #expect(info.type.tensorType.shape.dim.map(\.dimValue) == [0, 1])
            }
            #expect(proto.opsetImport.map(\.version) == [17])
            #expect(proto.irVersion == 8)
            #expect(proto.producerName == "bpc" && proto.producerVersion == "9.9")
            let metadata = Dictionary(uniqueKeysWithValues: proto.metadataProps.map { ($0.key, $0.value) })
            #expect(metadata["bpc.classes"] == #"["setosa","versicolor","virginica"]"#)
            #expect(metadata["bpc.normalize"] == "standard")
            #expect(metadata["bpc.precision"] == precision.rawValue)
            // The normalisation comes first, with the plan's statistics.
            #expect(proto.graph.node.prefix(3).map(\.opType) == ["Concat", "Sub", "Mul"])
        }
    }

    @Test("a packed export comes back through bpc import onnx with the spec's groups and outputs")
    func packedRoundTrip() throws {
        let original = try Model(contentsOf: packageRoot.appendingPathComponent("specs/iris.yaml").path)
        for precision in ONNXExportOptions.Precision.allCases {
            let bytes = try original.exportONNX(options: ONNXExportOptions(precision: precision, packed: true))
            let assembly = try ONNXImporter.assemble(bytes: bytes, file: "iris.onnx", specPath: "iris.yaml", name: "iris")
            let imported = try Model(yaml: assembly.yaml, path: "iris.yaml")
            #expect(imported.inputNames == original.inputNames)
            #expect(imported.outputNames == original.outputNames)
            #expect(imported.plan.loss == original.plan.loss)
            for row in Self.inputs(of: original) {
                let want = try original.predict(row), got = try imported.predict(row)
                // binary32 rounds every weight once.
                #expect(precision == .double ? got == want : zip(got, want).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) },
                        "\(precision): \(got) vs \(want)")
            }
        }
    }

    @Test("packed names never meet a unit's name: a fallback or the probabilities output takes a suffix instead")
    func packedNamesAreDistinct() throws {
        let model = try Model(yaml: """
            bpc: 1
            units:
              - {name: a, role: input}
              - {name: b, role: input}
              - {name: inputs, role: output, activation: identity}
              - {name: probabilities, role: output, activation: identity}
            edges:
              - {from: [a, b], to: [inputs, probabilities]}
            loss: softmax_cross_entropy
            """, path: "names.yaml")
        let interface = ONNXExporter.interfaceNames(of: model.plan, packed: true)
        #expect(interface.inputs == ["inputs_2"])
        #expect(interface.outputs == ["outputs"])
        #expect(interface.probabilities == "probabilities_2")
        let proto = ONNXExporter.modelProto(of: model.plan, options: ONNXExportOptions(packed: true))
        let names = proto.graph.input.map(\.name) + proto.graph.output.map(\.name)
        #expect(names == ["inputs_2", "outputs", "probabilities_2"])
    }

    @Test("a plan without input units is refused rather than written as an invalid model")
    func noInputs() throws {
        var plan = try Model(contentsOf: packageRoot.appendingPathComponent("specs/xor.yaml").path).plan
        plan.inputUnits = []
        #expect(throws: ExportFailure.self) { try ONNXExporter.model(of: plan) }
    }
}
