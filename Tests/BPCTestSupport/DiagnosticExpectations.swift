import BPCSpec
import Foundation
import Testing

/// The package root (the folder holding Package.swift), found from this file.
public let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Invalid specs and data used as fixtures.
public let invalidFixtures = packageRoot.appendingPathComponent("Tests/Fixtures/invalid")

/// Expects exactly one diagnostic whose message contains `fragment`, an error at `line`:`column`.
public func expectError(
    _ diagnostics: [Diagnostic], _ fragment: String, line: Int, column: Int,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let matches = diagnostics.filter { $0.message.contains(fragment) }
    guard matches.count == 1, let match = matches.first else {
        Issue.record("expected one diagnostic containing \"\(fragment)\", found \(matches.count) among \(diagnostics.map(\.description))",
                     sourceLocation: sourceLocation)
        return
    }
    #expect(match.severity == .error, sourceLocation: sourceLocation)
    #expect(match.position?.description == "\(line):\(column)", "\(match)", sourceLocation: sourceLocation)
}

/// Expects that the only diagnostic is an error containing `fragment` at `line`:`column`.
public func expectOnlyError(
    _ diagnostics: [Diagnostic], _ fragment: String, line: Int, column: Int,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(diagnostics.count == 1, "\(diagnostics.map(\.description))", sourceLocation: sourceLocation)
    expectError(diagnostics, fragment, line: line, column: column, sourceLocation: sourceLocation)
}
