import BPC
import Foundation
import BPCTestSupport
import Testing

@Suite("library example")
struct LibraryExampleTests {
    @Test("the README's library example is Examples/LibraryExample/main.swift, word for word")
    func readmeShowsTheExample() throws {
        let readme = try String(contentsOf: packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let example = try String(contentsOf: packageRoot.appendingPathComponent("Examples/LibraryExample/main.swift"), encoding: .utf8)
        #expect(readme.contains("```swift\n" + example + "```"), "README.md must show Examples/LibraryExample/main.swift in a ```swift block")
    }

    @Test("the README builds in release first and points only at files inside the repository")
    func readmeIsSelfContained() throws {
        let readme = try String(contentsOf: packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let firstBlock = try #require(readme.components(separatedBy: "```sh\n").dropFirst().first?.components(separatedBy: "```").first)
        #expect(firstBlock.hasPrefix("swift run -c release bpc run specs/xor.yaml"), "\(firstBlock)")
        #expect(!readme.contains("../shared"), "README.md names a file outside the repository")
        for document in ["docs/spec-format.md", "docs/plan-format.md", "LICENSE", "benchmarks/RESULTS.md"] {
            #expect(readme.contains(document), "README.md does not point at \(document)")
            #expect(FileManager.default.fileExists(atPath: packageRoot.appendingPathComponent(document).path), "\(document) is missing")
        }
    }

    @Test("the library example builds and trains XOR to the right outputs")
    func exampleRuns() throws {
        let executable = try builtProduct(named: "bpc-library-example", override: "BPC_LIBRARY_EXAMPLE")
        let result = try run(executable, ["specs/xor.yaml"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "xor: 2 inputs, 1 outputs, 9 parameters", "\(result.stdout)")
        #expect(lines.contains { $0.hasPrefix("initial loss 0.50052005") }, "\(result.stdout)")
        // Native code where a C compiler is, the fast runtime otherwise.
        let runtime = NativeTrainer.defaultCompiler == nil ? "fast (binary64, 1 thread)" : "native (binary64, generated C)"
        #expect(lines.contains { $0.hasPrefix("trained 4000 epochs") && $0.hasSuffix("on the \(runtime) runtime") }, "\(result.stdout)")
        #expect(lines.contains { $0.hasPrefix("loss ") && $0.contains("accuracy 1.0 on 4 samples") }, "\(result.stdout)")
        let outputs = lines.suffix(4).compactMap { line in line.split(separator: "[").last.flatMap { Double($0.dropLast()) } }
        #expect(outputs.count == 4, "\(result.stdout)")
        for (output, target) in zip(outputs, [0.0, 1, 1, 0]) { #expect(abs(output - target) < 0.1, "\(result.stdout)") }
    }

    @Test("the library example runs on every spec in specs/, whatever its shape, without a trap", arguments: specNames())
    func exampleRunsOnEverySpec(file: String) throws {
        let executable = try builtProduct(named: "bpc-library-example", override: "BPC_LIBRARY_EXAMPLE")
        let result = try run(executable, ["specs/" + file])
        #expect(result.status == 0, "\(file): \(result.stderr)")
        #expect(result.stdout.contains("initial loss"), "\(result.stdout)")
    }

    @Test("the library example reports a bad spec as diagnostics and exits 1")
    func exampleReportsErrors() throws {
        let executable = try builtProduct(named: "bpc-library-example", override: "BPC_LIBRARY_EXAMPLE")
        let result = try run(executable, ["Tests/Fixtures/invalid/csv-header.yaml"])
        #expect(result.status == 1)
        #expect(result.stderr.contains(": error: "), "\(result.stderr)")
    }
}

/// The spec files in specs/.
private func specNames() -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: packageRoot.appendingPathComponent("specs").path)) ?? []
    return names.filter { $0.hasSuffix(".yaml") }.sorted()
}
