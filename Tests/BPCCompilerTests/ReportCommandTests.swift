import BPCTestSupport
import Foundation
import Testing

// `bpc run --plot`, `--report` and `--explain` as scripts see them: the files, the `wrote`
// lines on standard error, stdout kept to one JSON object with --json, and every refusal
// before training.

private let xmllint = "/usr/bin/xmllint"

/// `bpc run` on the XOR spec for 30 epochs in `folder`, with `options`.
private func runXOR(_ options: [String], in folder: URL) throws -> Run {
    let spec = packageRoot.appendingPathComponent("specs/xor.yaml").path
    return try run(try bpcExecutable(), ["run", spec, "--epochs", "30", "--quiet"] + options, in: folder)
}

private func contents(_ name: String, in folder: URL) throws -> String {
    try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
}

@Suite("bpc run --plot, --report, --explain")
struct ReportCommandTests {
    @Test("--plot and --report write the loss curve and the page after training and say so on stderr")
    func writesBoth() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try runXOR(["--plot", "loss.svg", "--report", "report.html", "--explain", "x1->h1", "--explain", "y.bias"], in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").suffix(2) == ["wrote loss.svg", "wrote report.html"])
        #expect(result.stdout.hasPrefix("trained 30 epochs"))
        let plot = try contents("loss.svg", in: folder)
        #expect(plot.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(plot.contains(#"<g class="series" data-series="training" data-points="30">"#))
        let page = try contents("report.html", in: folder)
        #expect(page.hasPrefix("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\""))
        #expect(page.components(separatedBy: #"<section class="derivation""#).count == 3, "one derivation per --explain")
        #expect(page.contains(#"data-key="x1-&gt;h1""#) && page.contains(#"data-key="y.bias""#))
        #expect(page.contains(#"<math xmlns="http://www.w3.org/1998/Math/MathML""#))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(leftovers == ["loss.svg", "report.html"], "temporary files left behind")
    }

    @Test("the files are well-formed XML to xmllint", .enabled(if: FileManager.default.isExecutableFile(atPath: xmllint), "needs \(xmllint)"))
    func wellFormed() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try runXOR(["--plot", "loss.svg", "--report", "report.html"], in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        let check = try runProcess(URL(fileURLWithPath: xmllint), ["--noout", "loss.svg", "report.html"], in: folder)
        #expect(check.status == 0, "\(check.stderr)")
    }

    @Test("with --json, stdout stays one JSON object and no wrote lines are printed")
    func jsonStaysClean() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try runXOR(["--json", "--plot", "loss.svg", "--report", "report.html"], in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) is [String: Any])
        #expect(!result.stderr.contains("wrote"))
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("report.html").path))
    }

    @Test("unknown --explain keys fail before training, each with the closest key, and nothing is written")
    func unknownKey() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try runXOR(["--report", "report.html", "--explain", "h1.bais", "--explain", "x1->h1", "--explain", "nothing"], in: folder)
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty, "trained anyway: \(result.stdout)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 2, "\(result.stderr)")
        #expect(lines.first?.hasSuffix("error: --explain: unknown parameter 'h1.bais'; did you mean 'h1.bias'?") == true)
        #expect(lines.last?.hasSuffix("error: --explain: unknown parameter 'nothing'") == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }

    @Test("an unwritable --plot or --report destination fails before training")
    func unwritable() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for (option, file) in [("--plot", "missing/out.svg"), ("--report", "missing/out.html")] {
            let result = try runXOR([option, file], in: folder)
            #expect(result.status == 1)
            #expect(result.stdout.isEmpty)
            #expect(result.stderr == "\(file): error: cannot write the file: the folder missing does not exist\n")
        }
        for (option, file) in [("--plot", "loss.png"), ("--report", "report.svg")] {
            let result = try runXOR([option, file], in: folder)
            #expect(result.status == 64 && result.stderr.contains("name the file"), "\(result.stderr)")
        }
    }

    @Test("--explain without --report is a usage error")
    func explainNeedsReport() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try runXOR(["--explain", "y.bias"], in: folder)
        #expect(result.status == 64)
        #expect(result.stderr.contains("--explain chooses the derivations of the report; give --report FILE.html too"))
    }
}
