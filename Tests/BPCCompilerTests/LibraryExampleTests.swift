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

    @Test("the library example builds and trains XOR to the right outputs")
    func exampleRuns() throws {
        let executable = try builtProduct(named: "bpc-library-example", override: "BPC_LIBRARY_EXAMPLE")
        let result = try run(executable, ["specs/xor.yaml"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("initial loss 0.95") == true, "\(result.stdout)")
        #expect(lines.contains { $0.hasPrefix("trained 4000 epochs") }, "\(result.stdout)")
        let outputs = lines.suffix(4).compactMap { line in line.split(separator: "[").last.flatMap { Double($0.dropLast()) } }
        #expect(outputs.count == 4, "\(result.stdout)")
        for (output, target) in zip(outputs, [0.0, 1, 1, 0]) { #expect(abs(output - target) < 0.1, "\(result.stdout)") }
    }
}
