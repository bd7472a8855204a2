@testable import BPCInterop
import BPC
import BPCTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small models built here, for the cases a fixture cannot show: exact bounds (binary64, which
/// onnxruntime cannot run for Softplus) and graphs the importer must refuse.
enum ONNXTestModel {
    static let double = Int32(Onnx_TensorProto.DataType.double.rawValue)

    static func tensor(_ name: String, _ values: [Double], dims: [Int64]) -> Onnx_TensorProto {
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dataType = double
        tensor.dims = dims
        tensor.doubleData = values
        return tensor
    }

    static func node(_ op: String, _ inputs: [String], _ output: String, name: String,
                     ints: [String: Int64] = [:]) -> Onnx_NodeProto {
        var node = Onnx_NodeProto()
        node.opType = op
        node.input = inputs
        node.output = [output]
        node.name = name
        for (key, value) in ints.sorted(by: { $0.key < $1.key }) {
            var attribute = Onnx_AttributeProto()
            attribute.name = key
            attribute.type = .int
            attribute.i = value
            node.attribute.append(attribute)
        }
        return node
    }

    static func info(_ name: String, width: Int64) -> Onnx_ValueInfoProto {
        var info = Onnx_ValueInfoProto()
        info.name = name
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = double
        var batch = Onnx_TensorShapeProto.Dimension()
        batch.dimParam = "N"
        var columns = Onnx_TensorShapeProto.Dimension()
        columns.dimValue = width
        tensor.shape.dim = [batch, columns]
        info.type.tensorType = tensor
        return info
    }

    /// A binary64 model of `x` [N, width] to `y`, opset 17.
    static func bytes(_ nodes: [Onnx_NodeProto], _ initializers: [Onnx_TensorProto], width: Int64 = 1, outputWidth: Int64 = 1) throws -> [UInt8] {
        var model = Onnx_ModelProto()
        model.irVersion = 8
        var opset = Onnx_OperatorSetIdProto()
        opset.version = 17
        model.opsetImport = [opset]
        model.graph.name = "test"
        model.graph.node = nodes
        model.graph.initializer = initializers
        model.graph.input = [info("x", width: width)]
        model.graph.output = [info("y", width: outputWidth)]
        return try model.serializedBytes()
    }

    /// The one diagnostic importing `bytes` (as `file`) gives.
    static func rejection(_ bytes: [UInt8], file: String = "m.onnx") -> String {
        do {
            _ = try ONNXImporter.assemble(bytes: bytes, file: file, specPath: "m.yaml", name: "m")
            return "imported"
        } catch {
            return error.description
        }
    }
}

@Suite("ONNX import of PyTorch's default exporter") struct ONNXPyTorchImportTests {
    static func fixture(_ file: String) throws -> (assembly: SpecAssembly, model: Model) {
        try importONNX(onnxFixtures.appendingPathComponent(file).path)
    }

    @Test("a model traced with a fixed batch (inputs [1, 1, 2, 2], Reshape to [1, 4] or [1, -1]) flattens each sample; another batch size is refused with the one the inputs fix")
    func fixedBatchReshape() throws {
        func model(batch: Int64, shape: [Int64]) throws -> [UInt8] {
            var input = ONNXTestModel.info("x", width: 1)
            var dims: [Onnx_TensorShapeProto.Dimension] = []
            for size in [batch, 1, 2, 2] as [Int64] {
                var dim = Onnx_TensorShapeProto.Dimension()
                dim.dimValue = size
                dims.append(dim)
            }
            input.type.tensorType.shape.dim = dims
            var proto = try Onnx_ModelProto(serializedBytes: try ONNXTestModel.bytes(
                [ONNXTestModel.node("Reshape", ["x", "shape"], "flat", name: "node_view"),
                 ONNXTestModel.node("Gemm", ["flat", "w", "b"], "y", name: "fc")],
                [ONNXTestModel.tensor("w", [1, 2, 3, 4], dims: [4, 1]), ONNXTestModel.tensor("b", [0.5], dims: [1])]))
            var shapeTensor = Onnx_TensorProto()
            shapeTensor.name = "shape"
            shapeTensor.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
            shapeTensor.dims = [Int64(shape.count)]
            shapeTensor.int64Data = shape
            proto.graph.initializer.append(shapeTensor)
            proto.graph.input = [input]
            return try proto.serializedBytes()
        }
        for shape in [[1, 4], [1, -1], [-1, 4]] as [[Int64]] {
            let assembly = try ONNXImporter.assemble(bytes: try model(batch: 1, shape: shape), file: "m.onnx", specPath: "m.yaml", name: "m")
            let imported = try Model(yaml: assembly.yaml, path: "m.yaml")
            let expected: Double = 1 - 2 + 1.5 + 8 + 0.5  // x . w + b
            #expect(try imported.predict([1, -1, 0.5, 2]) == [expected], "\(shape)")
        }
        #expect(ONNXTestModel.rejection(try model(batch: 8, shape: [1, 4])).contains("the shape [1, 4] does not keep the batch dimension first and the 4 values of each row (input shape [N, 1, 2, 2] (the model's inputs fix the batch at 8))"))
    }

    @Test("generic node names give way to the weights' module paths: layer0 for 0.weight, fc1 for fc1.weight, layers_0 for layers.0.weight")
    func layersAreNamedAfterWeights() throws {
        let external = try Self.fixture("torch_external_data.onnx")
        #expect(external.assembly.spec.units.map(\.name.value) == ["input", "layer0", "linear_1"])
        let silu = try Self.fixture("torch_silu.onnx")
        #expect(silu.assembly.spec.units.map(\.name.value) == ["x", "fc1", "linear_1"])
        let softplus = try Self.fixture("torch_softplus.onnx")
        #expect(softplus.assembly.spec.units.map(\.name.value) == ["x", "layers_0", "linear_1"])
        // The TorchScript exporter without input_names or output_names: `/0/Gemm` is the module
        // `0`, a MatMul's weight `onnx::MatMul_24` names no module, the output `23` nothing.
        let normalised = try Self.fixture("torch_batchnorm.onnx")
        #expect(normalised.assembly.spec.units.map(\.name.value) == ["onnx_Gemm_0", "layer0", "layer3", "layer6"])
        #expect(normalised.model.inputNames == (0..<4).map { "onnx_Gemm_0[\($0)]" })
        #expect(normalised.model.outputNames == ["layer6[0]", "layer6[1]"])
        // The dynamo exporter names a LogSoftmax's output `log_softmax`; the group holds the
        // logits, so it takes its layer's name.
        let logSoftmax = try Self.fixture("torch_log_softmax.onnx")
        #expect(logSoftmax.assembly.spec.units.last?.name.value == "layer2")
    }

    @Test("module paths become group names", arguments: [
        ("fc1.weight", "fc1"), ("0.weight", "layer0"), ("layers.2.weight", "layers_2"), ("encoder.0.1.weight", "encoder_0_1"),
    ])
    func modulePaths(weight: String, name: String) {
        #expect(ONNXNode.modulePath(ofWeight: weight) == name)
    }

    @Test("names that are not a module's weight name no module", arguments: ["fc1.bias", "weight", ".weight", "a..weight", "onnx::MatMul_24", "val_3"])
    func notModulePaths(weight: String) {
        #expect(ONNXNode.modulePath(ofWeight: weight) == nil)
    }

    @Test("SiLU and the thresholded softplus are the activations of the layers they follow, not groups of their own")
    func activationsAreFused() throws {
        let silu = try Self.fixture("torch_silu.onnx")
        #expect(silu.assembly.spec.units.map { $0.activation?.value } == [nil, .silu, nil])
        let softplus = try Self.fixture("torch_softplus.onnx")
        #expect(softplus.assembly.spec.units.map { $0.activation?.value } == [nil, .softplus, nil])
        let normalised = try Self.fixture("torch_batchnorm.onnx")
        #expect(normalised.assembly.spec.units.map { $0.activation?.value } == [nil, .tanh, .relu, nil])
    }

    @Test("a final LogSoftmax becomes softmax cross-entropy over its input, whose probabilities are the exp of the model's outputs")
    func logSoftmaxIsTheLoss() throws {
        let fixture = try #require(ONNXFixture.all.first { $0.file == "torch_log_softmax.onnx" })
        let model = try importONNX(fixture.path).model
        #expect(model.plan.loss == .softmaxCrossEntropy)
        for (input, logProbabilities) in zip(fixture.inputs, fixture.outputs) {
            let probabilities = try #require(try model.prediction(for: input).probabilities)
            #expect(probabilities.count == logProbabilities.count)
            for (p, log) in zip(probabilities, logProbabilities) {
                #expect(abs(p - exp(log)) <= 1e-6, "bpc \(p), onnxruntime exp(\(log)) = \(exp(log))")
            }
        }
    }

    /// x -> Gemm (weight 1, bias 0) -> Where(Greater(a, threshold), a, Softplus(a)): PyTorch's
    /// softplus of the input itself, in binary64.
    static func thresholdedSoftplus(threshold: Double) throws -> [UInt8] {
        try ONNXTestModel.bytes(
            [ONNXTestModel.node("Gemm", ["x", "W", "b"], "a", name: "node_linear"),
             ONNXTestModel.node("Softplus", ["a"], "s", name: "n3"),
             ONNXTestModel.node("Greater", ["a", "threshold"], "g", name: "n9"),
             ONNXTestModel.node("Where", ["g", "a", "s"], "y", name: "n10")],
            [ONNXTestModel.tensor("W", [1], dims: [1, 1]), ONNXTestModel.tensor("b", [0], dims: [1]),
             ONNXTestModel.tensor("threshold", [threshold], dims: [])])
    }

    @Test("PyTorch's softplus, the identity above 20, imports as bpc's: within log1p(e^-20) ~ 2.1e-9 above the threshold, to rounding below")
    func thresholdedSoftplusBound() throws {
        let assembly = try ONNXImporter.assemble(bytes: try Self.thresholdedSoftplus(threshold: 20), file: "s.onnx", specPath: "s.yaml", name: "s")
        let model = try Model(yaml: assembly.yaml, path: "s.yaml")
        let bound = log1p(exp(-20.0))
        #expect(bound < 2.1e-9)
        for a in [-40.0, -5, -0.5, 0, 0.5, 5, 19.5, 20, 20.0000001, 21, 30, 700] {
            let torch = a > 20 ? a : log1p(exp(a))
            let bpc = try #require(try model.predict([a]).first)
            if a > 20 {
                #expect(abs(bpc - torch) <= bound, "a = \(a): bpc \(bpc), torch \(torch)")
            } else {
                #expect(abs(bpc - torch) <= 4e-16 * max(1, abs(torch)), "a = \(a): bpc \(bpc), torch \(torch)")
            }
        }
    }

    @Test("a softplus threshold below 20, where the two differ by more, is read node by node and refused")
    func lowThresholdIsRefused() throws {
        let message = ONNXTestModel.rejection(try Self.thresholdedSoftplus(threshold: 10))
        #expect(message.contains("node 'n9' (Greater): the op is not supported"), "\(message)")
    }

    /// x [N, 2] -> Gemm (2 x 2) -> `between` -> BatchNormalization -> y.
    static func batchNormalization(between: [Onnx_NodeProto] = [], trainingMode: Int64? = nil, extraUse: Bool = false) throws -> [UInt8] {
        let last = between.last?.output.first ?? "g"
        var nodes = [ONNXTestModel.node("Gemm", ["x", "W", "b"], "g", name: "fc1")] + between
        nodes.append(ONNXTestModel.node("BatchNormalization", [last, "scale", "shift", "mean", "var"], extraUse ? "n" : "y", name: "bn",
                                        ints: trainingMode.map { ["training_mode": $0] } ?? [:]))
        if extraUse { nodes.append(ONNXTestModel.node("Add", ["n", last], "y", name: "sum")) }
        return try ONNXTestModel.bytes(nodes, [
            ONNXTestModel.tensor("W", [1, 2, 3, 4], dims: [2, 2]), ONNXTestModel.tensor("b", [0.5, -0.5], dims: [2]),
            ONNXTestModel.tensor("scale", [2, 0.5], dims: [2]), ONNXTestModel.tensor("shift", [1, -1], dims: [2]),
            ONNXTestModel.tensor("mean", [0.25, 3], dims: [2]), ONNXTestModel.tensor("var", [3, 0.75], dims: [2]),
        ], width: 2, outputWidth: 2)
    }

    @Test("BatchNormalization after a Gemm folds into its weights and biases in binary64: w s and (b - mean) s + B")
    func batchNormalizationFolds() throws {
        let assembly = try ONNXImporter.assemble(bytes: try Self.batchNormalization(), file: "bn.onnx", specPath: "bn.yaml", name: "bn")
        #expect(assembly.spec.units.map(\.name.value) == ["x", "y"])
        let model = try Model(yaml: assembly.yaml, path: "bn.yaml")
        let epsilon = Double(Float(1e-5))
        let s = [2 / (3 + epsilon).squareRoot(), 0.5 / (0.75 + epsilon).squareRoot()]
        for x in [[0.0, 0.0], [1, -2], [-3.5, 0.25]] {
            // Gemm without transB: B is [K, M], so output t reads column t.
            let g = [x[0] * 1 + x[1] * 3 + 0.5, x[0] * 2 + x[1] * 4 - 0.5]
            let want = [(g[0] - 0.25) * s[0] + 1, (g[1] - 3) * s[1] - 1]
            let got = try model.predict(x)
            for (a, b) in zip(got, want) { #expect(abs(a - b) <= 1e-12 * max(1, abs(b)), "\(x): bpc \(a), expected \(b)") }
        }
    }

    @Test("BatchNormalization after an activation, of a layer used twice, or in training mode is refused with the node and why",
          arguments: ["after", "twice", "training"])
    func misplacedBatchNormalizationIsRefused(_ kind: String) throws {
        let bytes: [UInt8]
        let expected: String
        switch kind {
        case "after":
            bytes = try Self.batchNormalization(between: [ONNXTestModel.node("Relu", ["g"], "r", name: "relu")])
            expected = "node 'bn' (BatchNormalization): BatchNormalization is supported only directly after a Gemm or MatMul layer"
        case "twice":
            bytes = try Self.batchNormalization(extraUse: true)
            expected = "node 'bn' (BatchNormalization): BatchNormalization is supported only directly after a Gemm or MatMul layer"
        default:
            bytes = try Self.batchNormalization(trainingMode: 1)
            expected = "node 'bn' (BatchNormalization): training_mode = 1 is not supported"
        }
        let message = ONNXTestModel.rejection(bytes)
        #expect(message.contains(expected), "\(message)")
    }
}

/// External data read from a copy of torch_external_data.onnx in a folder of its own, next to
/// data files, directories and links placed there.
@Suite("ONNX import of external data") struct ONNXExternalDataTests {
    static let model = "torch_external_data.onnx"
    static let data = "torch_external_data.onnx.data"

    /// A new folder holding a copy of the model; `prepare` puts the data (or not) beside it.
    static func withFolder(_ prepare: (URL) throws -> Void, _ body: (String) throws -> Void) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bpc-onnx-external-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(at: onnxFixtures.appendingPathComponent(model), to: folder.appendingPathComponent(model))
        try prepare(folder)
        try body(folder.appendingPathComponent(model).path)
    }

    static func rejection(_ path: String) throws -> String {
        ONNXTestModel.rejection([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), file: path)
    }

    @Test("the weights are read from the data file beside the model, wherever the model is, through a link that stays in its folder")
    func readsBesideTheModel() throws {
        let fixture = try #require(ONNXFixture.all.first { $0.file == Self.model })
        try Self.withFolder({ folder in
            try FileManager.default.createDirectory(at: folder.appendingPathComponent("store"), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: onnxFixtures.appendingPathComponent(Self.data), to: folder.appendingPathComponent("store/weights"))
            try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent(Self.data).path, withDestinationPath: "store/weights")
        }) { path in
            let model = try importONNX(path).model
            expectClose(try fixture.inputs.map { try model.predict($0) }, fixture.outputs, tolerance: fixture.tolerance, "copy")
        }
    }

    @Test("a missing data file is named with the node and the initializer")
    func missingDataFile() throws {
        try Self.withFolder({ _ in }) { path in
            let message = try Self.rejection(path)
            #expect(message.contains("node 'node_linear' (Gemm): initializer '0.weight' keeps its data in 'torch_external_data.onnx.data' (external data), which is not found next to the model"), "\(message)")
        }
    }

    @Test("a link in the model's folder to a data file outside it is refused")
    func linkOutOfTheFolder() throws {
        try Self.withFolder({ folder in
            try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent(Self.data).path,
                                                       withDestinationPath: onnxFixtures.appendingPathComponent(Self.data).path)
        }) { path in
            let message = try Self.rejection(path)
            #expect(message.contains("outside the model's folder (through a symbolic link)"), "\(message)")
        }
    }

    @Test("a directory or a FIFO in place of the data file is refused without reading it")
    func notARegularFile() throws {
        try Self.withFolder({ folder in
            try FileManager.default.createDirectory(at: folder.appendingPathComponent(Self.data), withIntermediateDirectories: true)
        }) { path in
            let message = try Self.rejection(path)
            #expect(message.contains("(external data), which is not a regular file"), "\(message)")
        }
        try Self.withFolder({ folder in
            #expect(mkfifo(folder.appendingPathComponent(Self.data).path, 0o600) == 0)
        }) { path in
            let message = try Self.rejection(path)
            #expect(message.contains("(external data), which is not a regular file"), "\(message)")
        }
    }
}
