import BPC
import BPCTestSupport
import Foundation
import Testing

/// FANN's own outputs and bpc's predictions for the same network differ only by rounding: FANN
/// sums in a different order (unrolled by four) and computes its sigmoid as 1/(1+e^(-2x)) and
/// its tanh as 2/(1+e^(-2x)) - 1, where bpc uses a branch-split logistic and libm's tanh. Each
/// of those is off by a few units in the last place (below 1e-15 for values in [-1, 1]); with
/// weights in [-1, 1], at most 6 inputs per neuron and 3 layers of neurons the differences stay
/// below 1e-14, so 1e-12 (absolute, or relative for the larger outputs of linear neurons) leaves
/// room without hiding a wrong weight, which shows as 1e-3 or more.
private let tolerance = 1e-12

private let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures/fann")

/// One line of the oracle's output: a network file, an input and fann_run's output.
private struct OracleLine {
    var file: String
    var input: [Double]
    var output: [Double]

    /// Parses `NAME.net: x1 x2 -> y1 y2` lines.
    static func parse(_ text: String) -> [OracleLine] {
        text.split(separator: "\n").compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let sides = line[line.index(after: colon)...].components(separatedBy: "->")
            guard sides.count == 2 else { return nil }
            let numbers = { (side: String) in side.split(separator: " ").compactMap { Double(String($0)) } }
            return OracleLine(file: String(line[..<colon]), input: numbers(sides[0]), output: numbers(sides[1]))
        }
    }
}

private func importFile(_ url: URL) throws -> (assembly: SpecAssembly, warnings: [Diagnostic]) {
    let text = try String(contentsOf: url, encoding: .utf8)
    return try FANNImporter.assemble(text: text, file: url.lastPathComponent, specPath: "imported.yaml", name: "imported")
}

/// Imports each network the lines name and returns the largest difference from fann_run.
private func largestDifference(_ lines: [OracleLine], folder: URL, sourceLocation: SourceLocation = #_sourceLocation) throws -> Double {
    var largest = 0.0
    var models: [String: Model] = [:]
    for line in lines {
        if models[line.file] == nil {
            let imported = try importFile(folder.appendingPathComponent(line.file))
            models[line.file] = try Model(yaml: imported.assembly.yaml, path: "imported.yaml")
        }
        let predicted = try #require(models[line.file]).predict(line.input)
        #expect(predicted.count == line.output.count, "\(line.file)", sourceLocation: sourceLocation)
        for (p, e) in zip(predicted, line.output) {
            let difference = abs(p - e) / max(1, abs(e))
            #expect(difference <= tolerance, "\(line.file) \(line.input): bpc \(p), fann_run \(e)", sourceLocation: sourceLocation)
            largest = max(largest, difference)
        }
    }
    return largest
}

/// A C compiler on PATH, for building the oracle.
private let compiler: URL? = {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for folder in path.split(separator: ":") {
        for name in ["cc", "clang", "gcc"] {
            let candidate = URL(fileURLWithPath: String(folder)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
    }
    return nil
}()

private let libfannIsInstalled = compiler != nil
    && ["/usr/include/fann.h", "/usr/include/doublefann.h", "/usr/local/include/doublefann.h"].contains { FileManager.default.fileExists(atPath: $0) }

@Suite("FANN networks checked against libfann", .enabled(if: libfannIsInstalled, "needs a C compiler and libfann's headers"))
struct FANNOracleTests {
    @Test func everyNetworkTheOracleSavesPredictsWhatFannRunComputes() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bpc-fann-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let oracle = folder.appendingPathComponent("fann_oracle")
        let build = try runProcess(try #require(compiler), [fixtures.appendingPathComponent("fann_oracle.c").path, "-o", oracle.path, "-ldoublefann", "-lm"], in: folder)
        try #require(build.exited && build.status == 0, "\(build.stderr)")
        let run = try runProcess(oracle, [folder.path], in: folder)
        try #require(run.exited && run.status == 0, "\(run.stderr)")

        let lines = OracleLine.parse(run.stdout).filter { $0.file != "gaussian.net" }
        #expect(Set(lines.map(\.file)) == ["standard.net", "tanh_linear.net", "shortcut.net", "sparse.net", "deep.net", "inexact_steepness.net"])
        let largest = try largestDifference(lines, folder: folder)
        print("largest difference from fann_run: \(largest)")
    }
}

@Suite struct FANNImportTests {
    @Test func theCommittedNetworksPredictTheOutputsFannRunRecorded() throws {
        let lines = OracleLine.parse(try String(contentsOf: fixtures.appendingPathComponent("expected_outputs.txt"), encoding: .utf8))
            .filter { $0.file != "gaussian.net" }
        #expect(lines.count == 24)
        _ = try largestDifference(lines, folder: fixtures)
    }

    @Test func aStandardNetworkBecomesWholeLayersWithBiasesAndTheLossItsOutputsSuggest() throws {
        let imported = try importFile(fixtures.appendingPathComponent("standard.net"))
        let spec = imported.assembly.spec
        #expect(spec.units.map(\.name.value) == ["input", "hidden1", "output"])
        #expect(spec.units.map { $0.count?.value } == [2, 3, 1])
        #expect(spec.units.map { $0.activation?.value } == [nil, .sigmoid, .sigmoid])
        #expect(spec.edges.count == 2)
        #expect(spec.description == "imported from FANN standard.net (standard, 3 layers)")
        #expect(imported.warnings.isEmpty)
        #expect(try Model(yaml: imported.assembly.yaml).plan.loss == .binaryCrossEntropy)

        let tanhLinear = try importFile(fixtures.appendingPathComponent("tanh_linear.net"))
        #expect(try Model(yaml: tanhLinear.assembly.yaml).plan.loss == .halfSquaredError)
        // fann_run clamps a linear neuron at ±150/steepness; the import says so.
        #expect(tanhLinear.warnings.map(\.message).allSatisfy { $0.contains("±150") })
        #expect(tanhLinear.warnings.count == 1)
    }

    @Test func aShortcutNetworkConnectsEveryLayerToEveryLaterOne() throws {
        let spec = try importFile(fixtures.appendingPathComponent("shortcut.net")).assembly.spec
        #expect(spec.units.map { $0.count?.value } == [2, 3, 1])
        // input -> hidden1, input -> output, hidden1 -> output: whole groups each.
        #expect(spec.edges.count == 3)
        #expect(spec.description == "imported from FANN shortcut.net (shortcut, 3 layers)")
    }

    @Test func inexactSteepnessFoldingIsAWarningPerNeuronAndStaysWithinTolerance() throws {
        let imported = try importFile(fixtures.appendingPathComponent("inexact_steepness.net"))
        let folding = imported.warnings.filter { $0.message.contains("rounds") }
        #expect(folding.count == 4)
        #expect(folding.allSatisfy { $0.severity == .warning && $0.position?.line == 35 })
        #expect(folding.first?.message.hasPrefix("neuron 3: its steepness 0.3") == true)
        let lines = OracleLine.parse(try String(contentsOf: fixtures.appendingPathComponent("expected_outputs.txt"), encoding: .utf8))
        _ = try largestDifference(lines.filter { $0.file == "inexact_steepness.net" }, folder: fixtures)
    }

    @Test func aFixedPointFileIsRejectedAsFixedPoint() throws {
        let failure = try #require(throws: ImportFailure.self) { try importFile(fixtures.appendingPathComponent("fixed.net")) }
        expectOnlyError(failure.diagnostics, "FANN_FIX_2.0 is FANN's fixed-point format", line: 1, column: 1)
    }

    @Test func anActivationBpcLacksIsRejectedByItsFANNName() throws {
        let failure = try #require(throws: ImportFailure.self) { try importFile(fixtures.appendingPathComponent("gaussian.net")) }
        #expect(failure.diagnostics.count == 2)
        expectError(failure.diagnostics, "neuron 3 uses FANN_GAUSSIAN", line: 35, column: 170)
    }

    /// Edits one fixture's text and returns the import's errors.
    @Test func aCascadeNetworkWithAnActivationBpcLacksSaysHowToTrainItWithOnesBpcHas() throws {
        let found = try errors(editing: "shortcut.net") { $0.replacingFirst("(3, 5, 5.0", with: "(3, 7, 5.0") }
        #expect(found.count == 1)
        #expect(found.first?.message.contains("neuron 3 uses FANN_GAUSSIAN") == true)
        #expect(found.first?.message.hasSuffix("limit the candidates with fann_set_cascade_activation_functions to FANN_SIGMOID and FANN_SIGMOID_SYMMETRIC") == true,
                "\(found)")
        let standard = try errors(editing: "standard.net") { $0.replacingFirst("(3, 3, 5.0", with: "(3, 7, 5.0") }
        #expect(standard.allSatisfy { !$0.message.contains("cascade") })
    }

    private func errors(editing file: String, _ edit: (String) -> String) throws -> [Diagnostic] {
        let text = edit(try String(contentsOf: fixtures.appendingPathComponent(file), encoding: .utf8))
        do {
            _ = try FANNImporter.assemble(text: text, file: file, specPath: "imported.yaml", name: "imported")
            Issue.record("\(file) was accepted after the edit")
            return []
        } catch {
            return error.diagnostics
        }
    }

    @Test func badNumbersAreRejectedWhereTheyAre() throws {
        let weight = "6.80375456809997558594e-01"
        for bad in ["nan", "inf", "1e999", "0x1p-1", "0.5.5", "--1"] {
            let found = try errors(editing: "standard.net") { $0.replacingOccurrences(of: weight, with: bad) }
            expectOnlyError(found, "the weight of connection 0 must be a finite decimal number, not '\(bad)'", line: 36, column: 47)
        }
        expectOnlyError(try errors(editing: "standard.net") { $0.replacingOccurrences(of: "layer_sizes=3 4 2", with: "layer_sizes=3 x 2") },
                        "a layer size must be a whole number", line: 33, column: 15)
        expectOnlyError(try errors(editing: "standard.net") { $0.replacingFirst("(3, 3, 5.0", with: "(-3, 3, 5.0") },
                        "the num_inputs of neuron 3 must be a whole number", line: 35, column: 171)
        expectOnlyError(try errors(editing: "standard.net") { $0.replacingOccurrences(of: "network_type=0", with: "network_type=2") },
                        "network_type must be 0 (standard) or 1 (shortcut)", line: 5, column: 14)
        expectOnlyError(try errors(editing: "standard.net") { $0.replacingFirst("(3, 3, 5.0", with: "(3, 3, -5.0") },
                        "neuron 3 has a negative steepness", line: 35, column: 170)
    }

    @Test func countsThatDisagreeAreRejected() throws {
        expectOnlyError(try errors(editing: "standard.net") { $0.replacingOccurrences(of: "layer_sizes=3 4 2", with: "layer_sizes=3 5 2") },
                        "layer_sizes add up to 10 neurons (bias neurons included), but the neurons line lists 9", line: 35, column: 65)
        expectOnlyError(try errors(editing: "standard.net") { $0.replacingOccurrences(of: "num_layers=3", with: "num_layers=4") },
                        "num_layers=4 but layer_sizes lists 3 layers", line: 33, column: 13)
        expectOnlyError(try errors(editing: "standard.net") { $0.replacingOccurrences(of: "(4, 3, 5.0", with: "(5, 3, 5.0") },
                        "the neurons' num_inputs add up to 14 connections, but the connections line lists 13", line: 36, column: 43)
        expectOnlyError(try errors(editing: "sparse.net") { $0.replacingFirst("(0, 5, 0.00000000000000000000e+00) (3", with: "(1, 5, 0.00000000000000000000e+00) (2") },
                        "neuron 10 is the bias neuron of layer 1 but has 1 inputs", line: 35, column: 415)
    }

    @Test func connectionsToLaterOrMissingNeuronsAreRejected() throws {
        // Sparse networks follow the listed sources: neuron 5's first connection is from 4.
        expectOnlyError(try errors(editing: "sparse.net") { $0.replacingOccurrences(of: "=(4, 8.3", with: "=(6, 8.3") },
                        "connection 0 of neuron 5 comes from neuron 6, which is not in an earlier layer than neuron 5 (layer 1)", line: 36, column: 43)
        expectOnlyError(try errors(editing: "sparse.net") { $0.replacingOccurrences(of: "=(4, 8.3", with: "=(99, 8.3") },
                        "comes from neuron 99, which does not exist (the network has 14 neurons)", line: 36, column: 43)
        expectOnlyError(try errors(editing: "sparse.net") { $0.replacingOccurrences(of: "(1, -7.32", with: "(4, -7.32") },
                        "neuron 5 is connected to neuron 4 twice", line: 36, column: 75)
        // Fully connected networks are connected by position, whatever the file lists.
        expectOnlyError(try errors(editing: "standard.net") { $0.replacingOccurrences(of: "=(0, 6.8", with: "=(1, 6.8") },
                        "connection 0 of neuron 3 names neuron 1, but with connection_rate=1 FANN connects it to neuron 0", line: 36, column: 43)
    }

    @Test func everyPrefixOfAFixtureImportsOrIsRejectedWithADiagnostic() throws {
        for file in ["standard.net", "shortcut.net", "sparse.net"] {
            let text = try String(contentsOf: fixtures.appendingPathComponent(file), encoding: .utf8)
            let bytes = Array(text.utf8)
            for cut in 0..<40 {
                let prefix = String(decoding: bytes[..<(bytes.count * cut / 40)], as: UTF8.self)
                do {
                    _ = try FANNImporter.assemble(text: prefix, file: file, specPath: "imported.yaml", name: "imported")
                    Issue.record("\(file) cut at \(prefix.utf8.count) bytes was accepted")
                } catch {
                    #expect(!error.diagnostics.isEmpty && error.diagnostics.allSatisfy { $0.file == file && $0.position != nil })
                }
            }
        }
    }

    @Test func randomByteMutationsAreImportedOrRejectedButNeverCrash() throws {
        var generator = SeededGenerator(seed: 0xFA22)
        var rejected = 0
        for file in ["standard.net", "shortcut.net", "sparse.net", "tanh_linear.net"] {
            let original = Array(try String(contentsOf: fixtures.appendingPathComponent(file), encoding: .utf8).utf8)
            // Mutations in the network's lines (after the training settings) do the most.
            let networkStart = original.count * 2 / 3
            let alphabet = Array("0123456789 ().,=-+e\n".utf8) + [0, 0x7F, 0xC3]
            for _ in 0..<750 {
                var bytes = original
                for _ in 0...Int.random(in: 0...3, using: &generator) {
                    let at = Int.random(in: networkStart..<bytes.count, using: &generator)
                    switch Int.random(in: 0..<3, using: &generator) {
                    case 0: bytes[at] = alphabet.randomElement(using: &generator) ?? 0
                    case 1: bytes.remove(at: at)
                    default: bytes.insert(alphabet.randomElement(using: &generator) ?? 0, at: at)
                    }
                }
                do {
                    let imported = try FANNImporter.assemble(text: String(decoding: bytes, as: UTF8.self), file: file, specPath: "imported.yaml", name: "imported")
                    // Whatever is accepted must be a spec bpc compiles.
                    _ = try Model(yaml: imported.assembly.yaml)
                } catch let failure as ImportFailure {
                    #expect(!failure.diagnostics.isEmpty)
                    rejected += 1
                }
            }
        }
        #expect(rejected > 1000)
    }

    @Test func hostileFilesAreRejectedQuickly() throws {
        let folder = fixtures.appendingPathComponent("hostile")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".net") }.sorted()
        #expect(files == ["huge_counts.net", "huge_num_inputs.net", "self_loop.net"])
        let clock = ContinuousClock()
        let elapsed = try clock.measure {
            for file in files {
                let failure = try #require(throws: ImportFailure.self, "\(file)") { try importFile(folder.appendingPathComponent(file)) }
                #expect(!failure.diagnostics.isEmpty)
            }
        }
        #expect(elapsed < .seconds(1))
    }
}

private extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
