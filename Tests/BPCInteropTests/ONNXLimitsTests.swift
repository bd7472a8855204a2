@testable import BPCInterop
import BPC
import BPCSpec
import Foundation
import Testing

/// Models built here that test the import's limits, the checks it makes before reading a
/// tensor's data, and the dense layers it refuses because a spec cannot say them.
@Suite("ONNX import limits") struct ONNXLimitsTests {
    static func int64s(_ name: String, _ values: [Int64]) -> Onnx_TensorProto {
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        tensor.dims = [Int64(values.count)]
        tensor.int64Data = values
        return tensor
    }

    /// A DOUBLE initializer whose data is in `location` beside the model.
    static func external(_ name: String, dims: [Int64], location: String) -> Onnx_TensorProto {
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dataType = ONNXTestModel.double
        tensor.dims = dims
        tensor.dataLocation = .external
        var entry = Onnx_StringStringEntryProto()
        entry.key = "location"
        entry.value = location
        tensor.externalData = [entry]
        return tensor
    }

    /// The one diagnostic importing `bytes` (as `file`) with `limits` gives.
    static func rejection(_ bytes: [UInt8], file: String = "m.onnx", limits: Limits = Limits()) -> String {
        do {
            _ = try ONNXImporter.assemble(bytes: bytes, file: file, specPath: "m.yaml", name: "m", limits: limits)
            return "imported"
        } catch {
            return error.description
        }
    }

    @Test("a MatMul of a concatenation that repeats a column is refused with the node and the unit read twice")
    func repeatedColumnFromConcatIsRefused() throws {
        let bytes = try ONNXTestModel.bytes([
            ONNXTestModel.node("Concat", ["x", "x"], "xx", name: "both", ints: ["axis": 1]),
            ONNXTestModel.node("MatMul", ["xx", "W"], "y", name: "fc"),
        ], [ONNXTestModel.tensor("W", [0.25, 0.5], dims: [2, 1])])
        let message = Self.rejection(bytes)
        #expect(message.contains("node 'fc' (MatMul): it reads the unit x[0] twice (a repeated column of A"), "\(message)")
        #expect(message.contains("bpc has one edge per pair of units"), "\(message)")
    }

    @Test("a Gemm of a Gather that picks a column twice is refused with the node and the unit read twice")
    func repeatedColumnFromGatherIsRefused() throws {
        let bytes = try ONNXTestModel.bytes([
            ONNXTestModel.node("Gather", ["x", "i"], "picked", name: "pick", ints: ["axis": 1]),
            ONNXTestModel.node("Gemm", ["picked", "W"], "y", name: "fc"),
        ], [Self.int64s("i", [1, 0, 1]), ONNXTestModel.tensor("W", [1, 2, 3], dims: [3, 1])], width: 2)
        let message = Self.rejection(bytes)
        #expect(message.contains("node 'fc' (Gemm): it reads the unit x[1] twice"), "\(message)")
    }

    @Test("a Gather that reorders distinct columns before a Gemm still imports")
    func distinctGatheredColumnsImport() throws {
        let bytes = try ONNXTestModel.bytes([
            ONNXTestModel.node("Gather", ["x", "i"], "picked", name: "pick", ints: ["axis": 1]),
            ONNXTestModel.node("Gemm", ["picked", "W"], "y", name: "fc"),
        ], [Self.int64s("i", [1, 0]), ONNXTestModel.tensor("W", [1, 2], dims: [2, 1])], width: 2)
        #expect(Self.rejection(bytes) == "imported")
    }

    @Test("the units limit passed in bounds the graph inputs and the layers, and the message names --max-units")
    func unitLimitIsTheOnePassed() throws {
        let bytes = try ONNXTestModel.bytes([ONNXTestModel.node("MatMul", ["x", "W"], "y", name: "fc")],
                                            [ONNXTestModel.tensor("W", [1, 2, 3, 4, 5, 6, 7, 8], dims: [4, 2])], width: 4, outputWidth: 2)
        #expect(Self.rejection(bytes) == "imported")
        var limits = Limits()
        limits.maxUnits = 3
        let inputs = Self.rejection(bytes, limits: limits)
        #expect(inputs.contains("the graph input 'x' of shape [N, 4] has more than 3 units; the limit is 3; raise it with --max-units"), "\(inputs)")
        limits.maxUnits = 5
        let layers = Self.rejection(bytes, limits: limits)
        #expect(layers.contains("node 'fc' (MatMul): the model needs more than 5 units (in its layers, concatenations and gathers); the limit is 5; raise it with --max-units"), "\(layers)")
    }

    /// A model of y = x W, W [2, 1] kept in `w.bin` beside it in a new folder, which `prepare`
    /// fills; `body` gets the model's path.
    static func withExternalModel(dims: [Int64] = [2, 1], _ prepare: (URL) throws -> Void, _ body: (String) throws -> Void) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bpc-onnx-limits-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let bytes = try ONNXTestModel.bytes([ONNXTestModel.node("MatMul", ["x", "W"], "y", name: "fc")],
                                            [Self.external("W", dims: dims, location: "w.bin")], width: 2)
        let model = folder.appendingPathComponent("m.onnx")
        try Data(bytes).write(to: model)
        try prepare(folder)
        try body(model.path)
    }

    /// The little-endian bytes of binary64 values, as external data holds them.
    static func doubles(_ values: [Double]) -> Data {
        Data(values.flatMap { value in (0..<8).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * $0)) } })
    }

    static func rejection(path: String, limits: Limits = Limits()) throws -> String {
        Self.rejection([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), file: path, limits: limits)
    }

    @Test("external data beyond the file-size limit passed in is refused before it is read, naming --max-file-size")
    func externalDataIsBoundedByTheFileSizeLimit() throws {
        try Self.withExternalModel({ folder in
            try Self.doubles([0.5, -2]).write(to: folder.appendingPathComponent("w.bin"))
        }) { path in
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            let assembly = try ONNXImporter.assemble(bytes: bytes, file: path, specPath: "m.yaml", name: "m")
            #expect(assembly.spec.edges.count == 1)
            var limits = Limits()
            limits.maxFileSize = 8
            let message = try Self.rejection(path: path, limits: limits)
            #expect(message.contains("node 'fc' (MatMul): initializer 'W' keeps its data in 'w.bin' (external data): its 16 bytes are more external data than bpc reads; the limit is 8; raise it with --max-file-size"), "\(message)")
        }
    }

    @Test("a data file shorter than the tensor's dims need is refused with the bytes it lacks")
    func shortDataFileIsRefused() throws {
        try Self.withExternalModel({ folder in
            try Self.doubles([0.5]).write(to: folder.appendingPathComponent("w.bin"))
        }) { path in
            let message = try Self.rejection(path: path)
            #expect(message.contains("its dims [2, 1] of DOUBLE need 16 bytes from the offset 0, but the file has 8 there"), "\(message)")
        }
    }

    @Test("a tensor whose dims do not fit the node is refused by its shape before its data is looked for")
    func dimsAreCheckedBeforeTheData() throws {
        try Self.withExternalModel(dims: [1 << 40, 1], { _ in }) { path in
            let message = try Self.rejection(path: path)
            #expect(message.contains("node 'fc' (MatMul): A has shape [N, 2] and B [1099511627776, 1]"), "\(message)")
        }
    }
}
