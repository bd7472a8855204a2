import BPCTestSupport
import Foundation
import Testing

// `bpc explain` and `bpc grad --trace` as users and scripts see them.

/// Whether `pdflatex` is on PATH: the test that compiles the LaTeX document is skipped, and says
/// so, where it is not (`.ci/run` installs it).
private let pdflatexIsInstalled: Bool = {
    let folders = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":") ?? []
    return folders.contains { FileManager.default.isExecutableFile(atPath: $0 + "/pdflatex") }
}()

private func jsonObject(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
}

@Suite("bpc explain")
struct ExplainCommandTests {
    @Test func derivesAParameterWithTheNotesFormulaAndValue() throws {
        let result = try bpc(["explain", "specs/note1-case3-several-outputs.yaml", "--param", "x->i", "--input", "0.9", "--target", "0.2"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("∂E/∂w_{x→i} = (ŷ - y) · w_{j→o} · σ'(a_j) · w_{i→j} · σ'(a_i) · z_x"))
        #expect(result.stdout.contains("δ_i = σ'(a_i) · (δ_j · w_{i→j} + δ_k · w_{i→k})"))
        #expect(result.stdout.contains("4. The value"))
    }

    @Test func jsonHasTheParameterItsPathsAndAValueEqualToGrads() throws {
        for (spec, key, input, target) in [
            ("specs/note1-case3-several-outputs.yaml", "x->i", "0.9", "0.2"),
            ("specs/note2-sigmoid-cross-entropy.yaml", "x[2]->h[1]", "0.5,-1.2,0.8", "1"),
            ("specs/xor.yaml", "h1.bias", "1,0", "1"),
        ] {
            let explained = try bpc(["explain", spec, "--param", key, "--input", input, "--target", target, "--json"])
            #expect(explained.status == 0, "\(explained.stderr)")
            let object = try jsonObject(explained.stdout)
            #expect(object["parameter"] as? String == key)
            let paths = try #require(object["paths"] as? [[String: Any]])
            #expect(paths.count == object["paths_total"] as? Int)
            #expect(paths.allSatisfy { ($0["units"] as? [String])?.isEmpty == false && $0["value"] is Double })
            #expect((object["formula"] as? String)?.isEmpty == false)
            let grad = try bpc(["grad", spec, "--input", input, "--target", target, "--json"])
            let gradients = try #require(try jsonObject(grad.stdout)["gradients"] as? [String: Any])
            let expected = try #require(gradients[key] as? Double)
            let value = try #require(object["value"] as? Double)
            #expect(abs(value - expected) <= 1e-12 * max(abs(expected), 1e-300), "\(spec) \(key): explain \(value), grad \(expected)")
        }
    }

    @Test func manyPathsListTheLargestAndSayHowManyAreLeftOut() throws {
        let result = try bpc(["explain", "specs/iris.yaml", "--param", "x[0]->h[0]", "--max-paths", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("3 paths lead from h[0] to the outputs; the 2 largest terms are listed"))
        #expect(result.stdout.contains("+ the term of 1 more path."))
        let json = try jsonObject(try bpc(["explain", "specs/iris.yaml", "--param", "x[0]->h[0]", "--max-paths", "2", "--json"]).stdout)
        #expect((json["paths"] as? [Any])?.count == 2 && json["paths_total"] as? Int == 3)
    }

    @Test func withoutASampleTheSpecsFirstOneIsUsed() throws {
        let implicit = try bpc(["explain", "specs/xor.yaml", "--param", "x1->h1", "--json"])
        let explicit = try bpc(["explain", "specs/xor.yaml", "--param", "x1->h1", "--input", "0,0", "--target", "0", "--json"])
        #expect(implicit.status == 0 && implicit.stdout == explicit.stdout, "\(implicit.stderr)")
    }

    @Test func markdownAndEveryParameterAtOnce() throws {
        let result = try bpc(["explain", "specs/note1-case1-chain.yaml", "--all", "--format", "markdown"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.components(separatedBy: "## The gradient of ").count - 1 == 3)
        #expect(result.stdout.contains("$$\n\\begin{aligned}"))
    }

    @Test(.enabled(if: pdflatexIsInstalled, "pdflatex is not installed"))
    func theLaTeXDocumentCompilesWithPdflatex() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // A plan file may name units anything (specs allow only identifiers): LaTeX's special
        // characters, quotes and characters outside Latin-1 must still compile.
        let compiled = try bpc(["compile", packageRoot.appendingPathComponent("specs/xor.yaml").path, "-o", "xor.json"], in: folder)
        #expect(compiled.status == 0, "\(compiled.stderr)")
        let plan = try String(contentsOf: folder.appendingPathComponent("xor.json"), encoding: .utf8)
            .replacingOccurrences(of: "h1", with: #"h<1> & \"q\" {50%} $#_^~\\ ŷ∑"#)
            .replacingOccurrences(of: "x1", with: "x'1|-- é")
        try plan.write(to: folder.appendingPathComponent("hostile.json"), atomically: true, encoding: .utf8)
        for (spec, name) in [(packageRoot.appendingPathComponent("specs/note1-case3-several-outputs.yaml").path, "case3"),
                             ("hostile.json", "hostile")] {
            var arguments = ["explain", spec, "--all", "--format", "latex", "-o", "\(name).tex"]
            if name == "hostile" { arguments += ["--input", "1,0", "--target", "1"] }
            let explained = try bpc(arguments, in: folder)
            #expect(explained.status == 0, "\(explained.stderr)")
            let latex = try runProcess(URL(fileURLWithPath: "/usr/bin/env"),
                                       ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "\(name).tex"], in: folder)
            #expect(latex.status == 0, "\(name).tex: \(latex.stdout.suffix(2000))")
            #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("\(name).pdf").path))
        }
    }

    @Test func badParametersAndSamplesAreClearErrors() throws {
        let unknown = try bpc(["explain", "specs/xor.yaml", "--param", "x1->h3", "--input", "0,1", "--target", "1"])
        #expect(unknown.status == 1 && unknown.stderr.contains("x1->h3") && unknown.stderr.contains("x1->h1"), "\(unknown.stderr)")
        let width = try bpc(["explain", "specs/xor.yaml", "--param", "x1->h1", "--input", "0", "--target", "1"])
        #expect(width.status == 64 && width.stderr.contains("--input has 1 value but the network has 2 inputs"), "\(width.stderr)")
        let none = try bpc(["explain", "specs/xor.yaml"])
        #expect(none.status == 64 && none.stderr.contains("--param"), "\(none.stderr)")
        let half = try bpc(["explain", "specs/xor.yaml", "--param", "x1->h1", "--input", "0,1"])
        #expect(half.status == 64, "\(half.stderr)")
    }
}

@Suite("bpc grad --trace")
struct GradTraceTests {
    @Test func writesEveryUnitsDeltaRuleFromTheOutputsBackThenEveryGradient() throws {
        let result = try bpc(["grad", "specs/xor.yaml", "--input", "1,0", "--target", "1", "--trace"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let deltaLines = lines.filter { $0.hasPrefix("δ_") && !$0.contains("Σ_k") }
        try #require(deltaLines.map { String($0.prefix(while: { $0 != " " })) } == ["δ_y", "δ_{h2}", "δ_{h1}", "δ_{x2}", "δ_{x1}"])
        #expect(deltaLines[1].hasPrefix("δ_{h2} = σ'(a_{h2}) · (δ_y · w_{h2→y}) = "))
        #expect(lines.contains { $0.hasPrefix("∂E/∂w_{x1→h1} = δ_{h1} · z_{x1} = ") })
        #expect(lines.contains { $0.hasPrefix("∂E/∂b_y = δ_y = ") })
    }

    @Test func jsonCarriesTheTraceBesideTheGradients() throws {
        let result = try bpc(["grad", "specs/xor.yaml", "--input", "1,0", "--target", "1", "--trace", "--json"])
        let object = try jsonObject(result.stdout)
        let trace = try #require(object["trace"] as? [String: Any])
        let deltas = try #require(trace["deltas"] as? [[String: Any]])
        #expect(deltas.first?["unit"] as? String == "y")
        #expect((trace["gradients"] as? [Any])?.count == (object["gradients"] as? [String: Any])?.count)
    }
}
