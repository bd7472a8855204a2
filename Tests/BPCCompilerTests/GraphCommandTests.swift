import BPCTestSupport
import Foundation
import Testing

// `bpc graph` as users and scripts see it: DOT on standard output or in a file, drawings
// rendered through Graphviz's `dot`, and a clear message when `dot` is missing.

/// Whether a folder of PATH has Graphviz's `dot`: the tests that render are skipped, and say
/// so, where it does not (`.ci/run` installs it).
private let dotIsInstalled: Bool = {
    let folders = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":") ?? []
    return folders.contains { FileManager.default.isExecutableFile(atPath: $0 + "/dot") }
}()

private func golden(_ file: String) throws -> String {
    try String(contentsOf: packageRoot.appendingPathComponent("Tests/Golden/\(file)"), encoding: .utf8)
}

@Suite("bpc graph")
struct GraphCommandTests {
    @Test func printsTheLibrarysDOTOnStandardOutput() throws {
        let plain = try bpc(["graph", "specs/xor.yaml"])
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(plain.stderr.isEmpty)
        #expect(plain.stdout == (try golden("xor.dot")))
        let sample = try bpc(["graph", "specs/note1-case3-several-outputs.yaml", "--input", "0.9", "--target", "0.2"])
        #expect(sample.status == 0, "\(sample.stderr)")
        #expect(sample.stdout == (try golden("note1-case3-sample.dot")))
    }

    @Test func writesDOTToAFileNamedWithAnyOtherExtension() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["net.dot", "net.gv", "net"] {
            let result = try bpc(["graph", packageRoot.appendingPathComponent("specs/xor.yaml").path, "-o", name], in: folder)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "wrote \(name): 5 units, 6 edges\n")
            #expect(try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8) == (try golden("xor.dot")))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["net", "net.dot", "net.gv"])
    }

    @Test("-o net.svg and net.png render through dot", .enabled(if: dotIsInstalled, "Graphviz's dot is not installed"))
    func rendersThroughDot() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let spec = packageRoot.appendingPathComponent("specs/note1-case3-several-outputs.yaml").path
        let svg = try bpc(["graph", spec, "--input", "0.9", "--target", "0.2", "-o", "net.svg"], in: folder)
        #expect(svg.status == 0, "\(svg.stderr)")
        let drawing = try String(contentsOf: folder.appendingPathComponent("net.svg"), encoding: .utf8)
        #expect(drawing.contains("<svg"))
        #expect(drawing.contains("delta = &#45;0.2994"), "the sample's values are drawn (dot writes - as &#45;)")
        let png = try bpc(["graph", spec, "-o", "net.PNG"], in: folder)
        #expect(png.status == 0, "\(png.stderr)")
        #expect(try Data(contentsOf: folder.appendingPathComponent("net.PNG")).prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["net.PNG", "net.svg"], "no temporary files left")
    }

    @Test func saysHowToInstallGraphvizWhenDotIsMissing() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let emptyPath = folder.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: emptyPath, withIntermediateDirectories: true)
        let spec = packageRoot.appendingPathComponent("specs/xor.yaml").path
        let env = URL(fileURLWithPath: "/usr/bin/env")
        let result = try run(env, ["PATH=\(emptyPath.path)", try bpcExecutable().path, "graph", spec, "-o", "net.svg"], in: folder)
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == "net.svg: error: Graphviz's `dot` is not installed; install it with `apt-get install graphviz` "
                + "(Debian/Ubuntu) or `brew install graphviz` (macOS), or write DOT with -o net.dot\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["bin"], "nothing written")
        // DOT itself needs no Graphviz.
        let dot = try run(env, ["PATH=\(emptyPath.path)", try bpcExecutable().path, "graph", spec, "-o", "net.dot"], in: folder)
        #expect(dot.status == 0, "\(dot.stderr)")
    }

    @Test func refusesASampleWithoutBothInputAndTarget() throws {
        let alone = try bpc(["graph", "specs/xor.yaml", "--input", "1,0"])
        #expect(alone.status == 64)
        #expect(alone.stderr.contains("--input and --target go together"), "\(alone.stderr)")
        let short = try bpc(["graph", "specs/xor.yaml", "--input", "1", "--target", "1"])
        #expect(short.status == 64)
        #expect(short.stderr.hasPrefix("Error: --input has 1 value but the network has 2 inputs"), "\(short.stderr)")
        let wrongTarget = try bpc(["graph", "specs/xor.yaml", "--input", "1,0", "--target", "1,0"])
        #expect(wrongTarget.status == 64)
        #expect(wrongTarget.stderr.hasPrefix("Error: --target has 2 values but the network has 1 output"), "\(wrongTarget.stderr)")
        let notNumber = try bpc(["graph", "specs/xor.yaml", "--input", "1,x", "--target", "1"])
        #expect(notNumber.status == 64)
        #expect(notNumber.stdout.isEmpty)
    }

    @Test func writesNothingForARejectedSpec() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try bpc(["graph", invalidFixtures.appendingPathComponent("cycle.yaml").path, "-o", "net.dot"], in: folder)
        #expect(result.status == 1)
        #expect(result.stderr.contains("error: cycle"), "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }

    @Test func labelsEdgesOfLargeNetworksWhenAsked() throws {
        /// How many edge statements have a label.
        func labelledEdges(_ output: String) -> Int {
            output.split(separator: "\n").filter { $0.contains(" -> ") && $0.contains(" label=") }.count
        }
        let automatic = try bpc(["graph", "specs/digits.yaml"])
        #expect(automatic.status == 0, "\(automatic.stderr)")
        #expect(labelledEdges(automatic.stdout) == 0)
        let labelled = try bpc(["graph", "specs/digits.yaml", "--edge-labels"])
        #expect(labelledEdges(labelled.stdout) == 64 * 32 + 32 * 10)
        let unlabelled = try bpc(["graph", "specs/xor.yaml", "--no-edge-labels"])
        #expect(unlabelled.status == 0, "\(unlabelled.stderr)")
        #expect(labelledEdges(unlabelled.stdout) == 0)
    }
}
