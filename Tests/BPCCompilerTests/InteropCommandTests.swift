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

    @Test("import fann writes a spec that predicts what fann_run computed, and emit c takes it")
    func importFANN() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let spec = folder.appendingPathComponent("shortcut.yaml").path
        let imported = try bpc(["import", "fann", "Tests/Fixtures/fann/shortcut.net", "-o", spec])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.isEmpty && imported.stderr.isEmpty)
        let text = try String(contentsOfFile: spec, encoding: .utf8)
        #expect(text.hasPrefix("# Imported by bpc from shortcut.net (fann)."))
        #expect(text.contains("name: shortcut\n"))
        // The libfann oracle's outputs for this network, committed beside it.
        let expected = try String(contentsOf: packageRoot.appendingPathComponent("Tests/Fixtures/fann/expected_outputs.txt"), encoding: .utf8)
            .split(separator: "\n").filter { $0.hasPrefix("shortcut.net: ") }
        try #require(!expected.isEmpty)
        for line in expected {
            let sides = line.dropFirst("shortcut.net: ".count).components(separatedBy: " -> ")
            let input = sides[0].split(separator: " ").joined(separator: ",")
            let predicted = try bpc(["predict", spec, "--input", input, "--json"])
            #expect(predicted.status == 0, "\(predicted.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(predicted.stdout.utf8)) as? [String: Any])
            let outputs = try #require(object["outputs"] as? [Double])
            let want = sides[1].split(separator: " ").compactMap { Double(String($0)) }
            #expect(outputs.count == want.count && zip(outputs, want).allSatisfy { abs($0 - $1) <= 1e-12 }, "\(outputs) vs \(want)")
        }
        let emitted = try bpc(["emit", "c", spec])
        #expect(emitted.status == 0, "\(emitted.stderr)")
        #expect(emitted.stdout.contains("shortcut_forward"))
    }

    @Test("import prints the spec on standard output without -o, its warnings on standard error, and --name names the network")
    func importToStandardOutput() throws {
        let result = try bpc(["import", "fann", "Tests/Fixtures/fann/inexact_steepness.net", "--name", "steep"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("\nname: steep\n"))
        #expect(result.stderr.contains("inexact_steepness.net:35:170: warning: neuron 3: its steepness 0.3 is folded"), "\(result.stderr)")
    }

    @Test("import refuses an unsupported network, a missing file and a folder with the place of the problem, writing nothing")
    func importRefusals() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let target = folder.appendingPathComponent("out.yaml").path
        let gaussian = try bpc(["import", "fann", "Tests/Fixtures/fann/gaussian.net", "-o", target])
        #expect(gaussian.status == 1)
        #expect(gaussian.stderr.contains("Tests/Fixtures/fann/gaussian.net:35:170: error: neuron 3 uses FANN_GAUSSIAN"), "\(gaussian.stderr)")
        #expect(gaussian.stdout.isEmpty)
        let missing = try bpc(["import", "fann", folder.appendingPathComponent("absent.net").path, "-o", target])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("absent.net: error: cannot read the file"), "\(missing.stderr)")
        let directory = try bpc(["import", "onnx", folder.path, "-o", target])
        #expect(directory.status == 1)
        #expect(directory.stderr.contains("not a regular file"), "\(directory.stderr)")
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    @Test("a file name with line breaks stays inside the imported spec's comment")
    func hostileFileName() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let hostile = folder.appendingPathComponent("net\nname: evil\u{2028}.net")
        try FileManager.default.copyItem(at: packageRoot.appendingPathComponent("Tests/Fixtures/fann/standard.net"), to: hostile)
        let spec = folder.appendingPathComponent("spec.yaml").path
        let result = try bpc(["import", "fann", hostile.path, "-o", spec, "--name", "standard"])
        #expect(result.status == 0, "\(result.stderr)")
        let loaded = try bpc(["compile", spec])
        #expect(loaded.status == 0, "\(loaded.stderr)")
    }

    @Test("a network trained in PyTorch, imported with bpc import onnx, predicts with bpc predict what onnxruntime computed")
    func importPyTorch() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let spec = folder.appendingPathComponent("iris.yaml").path
        let imported = try bpc(["import", "onnx", "Tests/Fixtures/onnx/torch_iris_softmax.onnx", "-o", spec])
        #expect(imported.status == 0, "\(imported.stderr)")
        // onnxruntime's outputs (the softmax probabilities), recorded when the fixture was made.
        let recorded = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: packageRoot.appendingPathComponent("Tests/Fixtures/onnx/expected.json"))) as? [String: Any])
        let models = try #require(recorded["models"] as? [[String: Any]])
        let torch = try #require(models.first { $0["file"] as? String == "torch_iris_softmax.onnx" })
        let inputs = try #require(torch["inputs"] as? [[Double]])
        let outputs = try #require(torch["outputs"] as? [[Double]])
        try #require(!inputs.isEmpty && inputs.count == outputs.count)
        var arguments = ["predict", spec, "--json"]
        for input in inputs { arguments += ["--input", input.map { "\($0)" }.joined(separator: ",")] }
        let predicted = try bpc(arguments)
        #expect(predicted.status == 0, "\(predicted.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(predicted.stdout.utf8)) as? [String: Any])
        let predictions = try #require(object["predictions"] as? [[String: Any]])
        try #require(predictions.count == outputs.count)
        for (prediction, want) in zip(predictions, outputs) {
            let probabilities = try #require(prediction["probabilities"] as? [Double])
            // A binary32 network: onnxruntime computed in binary32, bpc in binary64.
            #expect(probabilities.count == want.count && zip(probabilities, want).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) },
                    "\(probabilities) vs \(want)")
        }
    }

    @Test("no command writes over the file it reads: import, export, compile, predict and run refuse an output naming their input, under any name")
    func outputIsNotTheInput() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let net = folder.appendingPathComponent("x.net")
        try FileManager.default.copyItem(at: packageRoot.appendingPathComponent("Tests/Fixtures/fann/standard.net"), to: net)
        let spec = folder.appendingPathComponent("xor.yaml")
        try FileManager.default.copyItem(at: packageRoot.appendingPathComponent("specs/xor.yaml"), to: spec)
        let csv = folder.appendingPathComponent("in.csv")
        try "x1,x2\n0,1\n".write(to: csv, atomically: true, encoding: .utf8)
        let before = try [net, spec, csv].map { try Data(contentsOf: $0) }
        let attempts: [[String]] = [
            ["import", "fann", net.path, "-o", net.path],
            ["import", "fann", net.path, "-o", folder.path + "/./x.net"],
            ["export", "onnx", spec.path, "-o", spec.path],
            ["compile", spec.path, "-o", spec.path],
            ["emit", "c", spec.path, "-o", spec.path],
            ["predict", spec.path, "--csv", csv.path, "-o", csv.path],
            ["run", spec.path, "--save", spec.path, "--quiet"],
            ["run", spec.path, "--checkpoint", csv.path, "--data", csv.path],
        ]
        for arguments in attempts {
            let result = try bpc(arguments, in: folder)
            #expect(result.status == 1, "\(arguments)")
            #expect(result.stderr.contains("error: cannot write the file: it is the input file"), "\(arguments): \(result.stderr)")
        }
        #expect(try [net, spec, csv].map { try Data(contentsOf: $0) } == before)
    }

    @Test("a command given an ONNX model or a FANN network as its spec says to import it first")
    func foreignFileAsSpec() throws {
        let onnx = try bpc(["predict", "Tests/Fixtures/onnx/torch_iris_softmax.onnx", "--input", "1,2,3,4"])
        #expect(onnx.status == 1)
        #expect(onnx.stderr.contains("torch_iris_softmax.onnx: note: to read a network saved by another tool, import it first: bpc import onnx"), "\(onnx.stderr)")
        let fann = try bpc(["compile", "Tests/Fixtures/fann/standard.net"])
        #expect(fann.status == 1)
        #expect(fann.stderr.contains("bpc import fann Tests/Fixtures/fann/standard.net"), "\(fann.stderr)")
    }
}
