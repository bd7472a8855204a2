import Foundation
import Testing

/// Compares `text` with the golden file `Tests/Golden/<name>` line by line and records the first
/// difference; with BPC_UPDATE_GOLDEN=1 in the environment it rewrites the file instead.
public func expectGolden(_ text: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let url = packageRoot.appendingPathComponent("Tests/Golden/\(name)")
    if ProcessInfo.processInfo.environment["BPC_UPDATE_GOLDEN"] == "1" {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return
    }
    let golden = try String(contentsOf: url, encoding: .utf8)
    let expected = golden.split(separator: "\n", omittingEmptySubsequences: false)
    let actual = text.split(separator: "\n", omittingEmptySubsequences: false)
    for (index, (e, a)) in zip(expected, actual).enumerated() where e != a {
        Issue.record("\(name):\(index + 1): expected\n  \(e)\ngot\n  \(a)", sourceLocation: sourceLocation)
        return
    }
    #expect(expected.count == actual.count, "\(name): \(expected.count) golden lines, \(actual.count) generated", sourceLocation: sourceLocation)
}
