import BPC
import BPCTestSupport
import Foundation
import Testing

/// `bpc export onnx` read back by `bpc import onnx`: the exporter's inputs (one per unit,
/// joined by Concat), output columns (Gather, Identity), probabilities output, normalisation and
/// activation subgraphs must come back as a network that predicts what the exported one does.
/// No onnxruntime: both sides are bpc, so the comparison is exact or nearly so.
@Suite("ONNX round trip") struct ONNXRoundTripTests {
    static func roundTrip(_ model: Model, _ precision: ONNXExportOptions.Precision) throws -> (assembly: SpecAssembly, model: Model) {
        let bytes = try ONNXExporter.model(of: model.plan, options: ONNXExportOptions(precision: precision))
        let assembly = try ONNXImporter.assemble(bytes: bytes, file: "\(model.plan.name).onnx", specPath: "roundtrip.yaml", name: model.plan.name)
        return (assembly, try Model(yaml: assembly.yaml, path: "roundtrip.yaml"))
    }

    /// The same loss, as many inputs and outputs, and the same predictions: to 1e-12 from a
    /// binary64 export (summation order may differ within a layer), to 1e-6 from a binary32 one
    /// (whose weights are rounded to float), relative to max(1, |v|).
    static func expectSameNetwork(_ original: Model, _ imported: Model, _ precision: ONNXExportOptions.Precision,
                                  rows: [[Double]], _ label: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(imported.plan.loss == original.plan.loss, "\(label) \(precision)", sourceLocation: sourceLocation)
        #expect(imported.inputNames.count == original.inputNames.count, "\(label) \(precision)", sourceLocation: sourceLocation)
        #expect(imported.outputNames.count == original.outputNames.count, "\(label) \(precision)", sourceLocation: sourceLocation)
        let tolerance = precision == .double ? 1e-12 : 1e-6
        for row in rows {
            let want = try original.predict(row)
            let got = try imported.predict(row)
            #expect(got.count == want.count, sourceLocation: sourceLocation)
            for (g, w) in zip(got, want) {
                #expect(abs(g - w) <= tolerance * max(1, abs(w)), "\(label) \(precision) \(row): imported \(g), original \(w)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test("every spec in specs/ exported in both precisions imports back to a network that predicts what the spec does",
          arguments: ONNXExportTests.specs)
    func everySpec(file: String) throws {
        let original = try Model(contentsOf: packageRoot.appendingPathComponent("specs/\(file)").path)
        for precision in ONNXExportOptions.Precision.allCases {
            let imported = try Self.roundTrip(original, precision).model
            try Self.expectSameNetwork(original, imported, precision, rows: ONNXExportTests.inputs(of: original), file)
        }
    }

    static let activations = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softplus", "silu"]

    /// x -> h -> y, and x -> y too for the squared error (a dense group reading two groups).
    static func layered(activation: String, loss: String, outputActivation: String? = nil) -> String {
        let output = outputActivation ?? (loss == "binary_cross_entropy" ? "sigmoid" : "identity")
        return """
            bpc: 1
            name: layered
            units:
              - {name: x, role: input, count: 3}
              - {name: h, count: 5, activation: \(activation), bias: true}
              - {name: y, role: output, count: 2, activation: \(output), bias: true}
            edges:
              - {from: x, to: h}
            \(loss == "half_squared_error" ? "  - {from: x, to: y}\n" : "")  - {from: h, to: y}
            loss: \(loss)
            init: {scheme: xavier, seed: 3}
            """
    }

    @Test("layered networks with every activation and loss come back from both precisions, binary64 leaky ReLU, softplus and SiLU subgraphs included",
          arguments: activations)
    func layeredNetworks(activation: String) throws {
        let rows = (0..<4).map { row in (0..<3).map { column in Double(row * 3 + column) * 0.7 - 3.5 } }
        for loss in ["half_squared_error", "softmax_cross_entropy", "binary_cross_entropy"] {
            let original = try Model(yaml: Self.layered(activation: activation, loss: loss), path: "layered.yaml")
            for precision in ONNXExportOptions.Precision.allCases {
                let (assembly, imported) = try Self.roundTrip(original, precision)
                try Self.expectSameNetwork(original, imported, precision, rows: rows, "\(activation) \(loss)")
                // The activation is the hidden group's again, not a subgraph of groups.
                let hidden = assembly.spec.units.filter { $0.role == .hidden }
                #expect(hidden.map { $0.activation?.value.rawValue ?? "identity" } == [activation], "\(activation) \(loss) \(precision)")
            }
        }
    }

    @Test("bpc's names come back: inputs x[0], x[1], ... are the group x again, outputs y[0], y[1], ... the group y, and the probabilities output is the loss")
    func namesComeBack() throws {
        let original = try Model(contentsOf: packageRoot.appendingPathComponent("specs/iris.yaml").path)
        for precision in ONNXExportOptions.Precision.allCases {
            let (assembly, imported) = try Self.roundTrip(original, precision)
            #expect(assembly.spec.units.map(\.name.value) == ["x", "h", "y"])
            #expect(imported.inputNames == original.inputNames)
            #expect(imported.outputNames == original.outputNames)
            #expect(imported.plan.loss == .softmaxCrossEntropy)
        }
        // One-column inputs and outputs come back as units of their own, with their names; the
        // hidden units h1 and h2 (one group in the graph) as the group h1.
        let xor = try Model(contentsOf: packageRoot.appendingPathComponent("specs/xor.yaml").path)
        let (assembly, imported) = try Self.roundTrip(xor, .double)
        #expect(assembly.spec.units.map(\.name.value) == ["x1", "x2", "h1", "y"])
        #expect(assembly.spec.units.map { $0.count?.value } == [nil, nil, 2, nil])
        #expect(imported.inputNames == ["x1", "x2"])
        #expect(imported.outputNames == ["y"])
    }

    @Test("a normalised spec is imported exactly: (x - shift) * scale as a group with biases -shift and one with weights scale")
    func normalisation() throws {
        let original = try Model(contentsOf: packageRoot.appendingPathComponent("specs/iris-labelled.yaml").path)
        let (assembly, imported) = try Self.roundTrip(original, .double)
        #expect(assembly.spec.units.map(\.name.value) == ["x", "normalize", "normalize_2", "h", "y"])
        // Bit for bit: every sum is the same, in the same order.
        for row in ONNXExportTests.inputs(of: original) {
            #expect(try imported.predict(row) == original.predict(row))
        }
    }

    @Test("the loss in the metadata is kept where the graph allows it: half squared error over sigmoid outputs")
    func metadataLoss() throws {
        let original = try Model(yaml: Self.layered(activation: "tanh", loss: "half_squared_error", outputActivation: "sigmoid"), path: "l.yaml")
        let imported = try Self.roundTrip(original, .double).model
        #expect(imported.plan.loss == .halfSquaredError)
    }

    @Test("a bpc export of units outside dense layers is rejected with the node, its op and advice to import the spec")
    func sparseExportIsRejected() throws {
        let original = try Model(yaml: """
            bpc: 1
            name: sparse
            units:
              - {name: x, role: input, count: 2}
              - {name: h, count: 2, activation: tanh, bias: true}
              - {name: y, role: output, activation: identity}
            edges:
              - {from: "x[0]", to: "h[0]"}
              - {from: x, to: "h[1]"}
              - {from: h, to: y}
            loss: half_squared_error
            init: {scheme: xavier, seed: 1}
            """, path: "sparse.yaml")
        let bytes = try ONNXExporter.model(of: original.plan)
        let failure = #expect(throws: ImportFailure.self) {
            _ = try ONNXImporter.assemble(bytes: bytes, file: "sparse.onnx", specPath: "s.yaml", name: "s")
        }
        let message = failure?.description ?? ""
        #expect(message.contains("the op is not supported"), "\(message)")
        #expect(message.contains("this bpc export holds units that are not in dense layers"), "\(message)")
        #expect(failure?.diagnostics.count == 1)
    }
}
