import BPC
import Foundation
import Testing

/// The repository's specs/ folder, found from this file so tests run from any directory.
let specsFolder = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("specs")

func specFiles() -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: specsFolder.path)) ?? []
    return names.filter { $0.hasSuffix(".yaml") }.sorted()
}

@Suite("specs in specs/")
struct SpecExpectationTests {
    @Test("the specs folder holds the seed networks and xor")
    func specsArePresent() {
        let files = specFiles()
        for required in ["xor.yaml", "note1-case1-chain.yaml", "note1-case2-several-inputs.yaml",
                         "note1-case3-several-outputs.yaml", "note2-sigmoid-cross-entropy.yaml"] {
            #expect(files.contains(required), "specs/\(required) is missing")
        }
    }

    @Test("every expect entry of a spec passes, through the code bpc test runs", arguments: specFiles())
    func expectationsPass(file: String) {
        let model: Model
        do {
            model = try Model(contentsOf: specsFolder.appendingPathComponent(file).path)
        } catch {
            Issue.record("\(error)")
            return
        }
        #expect(model.spec?.expectations.isEmpty == false, "\(file) has no expect entries")
        for result in model.runExpectations() {
            #expect(result.ok, "\(file) expect[\(result.index)]: \(result.message)")
        }
    }

    @Test("a wrong expected gradient fails its entry")
    func wrongGradientFails() throws {
        let text = """
            bpc: 1
            units:
              - {name: x, role: input}
              - {name: y, role: output, activation: identity}
            edges:
              - {from: x, to: y, weight: 2}
            loss: half_squared_error
            expect:
              - {in: [3], out: [1], outputs: [6], loss: 12.5, gradients: {x->y: 15}, tolerance: 1e-12}
              - {in: [3], out: [1], gradients: {x->y: 15.000001}, tolerance: 1e-12}
            """
        let results = try Model(yaml: text, path: "inline.yaml").runExpectations()
        #expect(results.map(\.ok) == [true, false])
        #expect(results[1].message.contains("dE/d(x->y): expected 15.000001, got 15.0"))
    }

    @Test("after: train entries check the trained network, and fail when training is too short")
    func trainedExpectations() throws {
        var log = DiagnosticLog()
        var spec = try #require(SpecParser.parse(path: specsFolder.appendingPathComponent("xor.yaml").path, log: &log))
        #expect(try Model(.spec(spec)).runExpectations().allSatisfy(\.ok))
        spec.train.epochs = 1
        let results = try Model(.spec(spec)).runExpectations()
        #expect(results.contains { !$0.ok })
    }
}

@Suite("README")
struct ReadmeExampleTests {
    @Test("the README's spec example compiles and its expect entries pass")
    func readmeExample() throws {
        let readme = try String(contentsOf: specsFolder.deletingLastPathComponent().appendingPathComponent("README.md"), encoding: .utf8)
        let start = try #require(readme.range(of: "```yaml\nbpc: 1"))
        let end = try #require(readme.range(of: "```", range: start.upperBound..<readme.endIndex))
        let text = String(readme[readme.index(start.lowerBound, offsetBy: 8)..<end.lowerBound])
        let results = try Model(yaml: text, path: "README.md").runExpectations()
        #expect(results.count == 3)
        for result in results { #expect(result.ok, "\(result.message)") }
    }
}

@Suite("plan round trip")
struct PlanRoundTripTests {
    @Test("compiling a spec to a plan file and loading it gives identical outputs and gradients", arguments: specFiles())
    func roundTrip(file: String) throws {
        let model = try Model(contentsOf: specsFolder.appendingPathComponent(file).path)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bpc-plan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let planFile = folder.appendingPathComponent("plan.json")
        try PlanJSON.encode(model.plan).write(to: planFile, atomically: true, encoding: .utf8)
        let reloaded = try Model(contentsOf: planFile.path)
        #expect(reloaded.plan == model.plan)
        var original = try Network(plan: model.plan)
        var fromFile = try Network(plan: reloaded.plan)
        var generator = SeededGenerator(seed: 5)
        for _ in 0..<3 {
            let input = (0..<model.plan.inputUnits.count).map { _ in generator.nextUniform(scale: 1) }
            let target = (0..<model.plan.outputUnits.count).map { _ in generator.nextUnit() }
            #expect(original.computeGradients(input: input, target: target).bitPattern
                    == fromFile.computeGradients(input: input, target: target).bitPattern)
            #expect(original.gradients.map(\.bitPattern) == fromFile.gradients.map(\.bitPattern))
            #expect(original.outputs.map(\.bitPattern) == fromFile.outputs.map(\.bitPattern))
        }
    }
}
