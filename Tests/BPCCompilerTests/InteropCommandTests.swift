@testable import BPCInterop
import BPC
import BPCTestSupport
import Foundation
import SwiftProtobuf
import Testing

// `bpc export` and `bpc import` as users run them: files written only when everything worked,
// errors with their locations and exit status 1, and the written files usable by the rest of bpc.

@Suite("bpc export and import")
struct InteropCommandTests {
    @Test("export onnx writes a model whose inputs and outputs are the spec's units, in binary64 unless --float")
    func exportWritesAModel() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for (flags, elementType) in [([], Onnx_TensorProto.DataType.double), (["--double"], .double), (["--float"], .float)] {
            let path = folder.appendingPathComponent("xor\(flags.joined()).onnx").path
            let result = try bpc(["export", "onnx", "specs/xor.yaml", "-o", path] + flags)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.isEmpty && result.stderr.isEmpty)
            let model = try Onnx_ModelProto(serializedBytes: try Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(model.graph.input.map(\.name) == ["x1", "x2"])
            #expect(model.graph.output.map(\.name) == ["y"])
            #expect(model.graph.input[0].type.tensorType.elemType == Int32(elementType.rawValue))
            #expect(model.producerName == "bpc")
        }
    }

    @Test("export onnx of a bad spec, to a folder, or with both precisions fails without writing anything")
    func exportRefusals() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let bad = folder.appendingPathComponent("bad.yaml")
        try "bpc: 1\nunits: [{name: x, role: input}]\nedges: [{from: x, to: nowhere}]\nloss: half_squared_error\n".write(to: bad, atomically: true, encoding: .utf8)
        let target = folder.appendingPathComponent("out.onnx").path
        let failed = try bpc(["export", "onnx", bad.path, "-o", target])
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("bad.yaml:3:"), "\(failed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: target))

        let intoFolder = try bpc(["export", "onnx", "specs/xor.yaml", "-o", folder.path])
        #expect(intoFolder.status == 1)
        #expect(intoFolder.stderr.contains("folder"), "\(intoFolder.stderr)")

        let both = try bpc(["export", "onnx", "specs/xor.yaml", "-o", target, "--float", "--double"])
        #expect(both.status != 0)
        #expect(both.stderr.contains("exclude each other"))
        #expect(!FileManager.default.fileExists(atPath: target))

        let missing = try bpc(["export", "onnx", "specs/xor.yaml"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("--output"))
    }
}
