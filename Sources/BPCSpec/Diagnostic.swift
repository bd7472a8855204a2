/// A 1-based line and column (columns count characters) in a source file.
public struct SourcePosition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var line: Int32
    public var column: Int32

    public init(line: Int, column: Int) {
        self.line = Int32(clamping: line)
        self.column = Int32(clamping: column)
    }

    /// The start of a file, for problems that concern a file as a whole.
    public static let startOfFile = SourcePosition(line: 1, column: 1)

    public var description: String { "\(line):\(column)" }

    public static func < (lhs: SourcePosition, rhs: SourcePosition) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }
}

/// A value from a source file together with where it was written.
public struct Located<Value> {
    public var value: Value
    public var position: SourcePosition

    public init(_ value: Value, at position: SourcePosition) {
        self.value = value
        self.position = position
    }
}

extension Located: Sendable where Value: Sendable {}
extension Located: Equatable where Value: Equatable {}

/// One problem found in a spec, a data file or a plan, printed as
/// `PATH:LINE:COLUMN: error: MESSAGE` (the form editors and CI logs link to).
public struct Diagnostic: Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable {
        case error, warning, note
    }

    public var file: String
    /// Nil only when the problem has no place inside the file (it cannot be opened at all).
    public var position: SourcePosition?
    public var severity: Severity
    public var message: String

    public init(file: String, position: SourcePosition?, severity: Severity = .error, message: String) {
        self.file = file
        self.position = position
        self.severity = severity
        self.message = message
    }

    public var description: String {
        if let position {
            return "\(file):\(position.line):\(position.column): \(severity.rawValue): \(message)"
        }
        return "\(file): \(severity.rawValue): \(message)"
    }
}

/// Collects every problem of one run so that all of them are reported together.
///
/// Past `limit` errors it keeps counting but stops storing, so that a huge spec with one
/// systematic mistake does not print a million lines.
public struct DiagnosticLog: Sendable {
    public private(set) var diagnostics: [Diagnostic] = []
    public private(set) var errorCount = 0
    public var limit: Int

    public init(limit: Int = 100) { self.limit = limit }

    public var hasErrors: Bool { errorCount > 0 }

    public mutating func error(_ message: String, in file: String, at position: SourcePosition?) {
        errorCount += 1
        if errorCount <= limit {
            diagnostics.append(Diagnostic(file: file, position: position, message: message))
        }
    }

    public mutating func warning(_ message: String, in file: String, at position: SourcePosition?) {
        diagnostics.append(Diagnostic(file: file, position: position, severity: .warning, message: message))
    }

    public mutating func append(contentsOf other: DiagnosticLog) {
        for diagnostic in other.diagnostics {
            if diagnostic.severity == .error {
                error(diagnostic.message, in: diagnostic.file, at: diagnostic.position)
            } else {
                diagnostics.append(diagnostic)
            }
        }
        errorCount += max(0, other.errorCount - other.diagnostics.lazy.filter { $0.severity == .error }.count)
    }

    /// Errors in source order (warnings after), plus a closing line for errors not stored.
    public func sorted() -> [Diagnostic] {
        // Files in the order they first appear, then position, then the order of reporting.
        var fileRank: [String: Int] = [:]
        for diagnostic in diagnostics where fileRank[diagnostic.file] == nil { fileRank[diagnostic.file] = fileRank.count }
        let unplaced = SourcePosition(line: 0, column: 0)
        var result = diagnostics.enumerated().sorted { lhs, rhs in
            let l = lhs.element, r = rhs.element
            let lKey = (l.severity == .error ? 0 : 1, fileRank[l.file] ?? 0, (l.position ?? unplaced).line, (l.position ?? unplaced).column, lhs.offset)
            let rKey = (r.severity == .error ? 0 : 1, fileRank[r.file] ?? 0, (r.position ?? unplaced).line, (r.position ?? unplaced).column, rhs.offset)
            return lKey < rKey
        }.map(\.element)
        if errorCount > limit, let first = diagnostics.first {
            result.append(Diagnostic(file: first.file, position: nil, message: "\(errorCount - limit) more errors not shown"))
        }
        return result
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
public func closestMatch<S: Sequence>(to word: String, among candidates: S) -> String? where S.Element == String {
    let target = Array(word.lowercased().unicodeScalars)
    guard !target.isEmpty, target.count <= 64 else { return nil }
    var best: (candidate: String, distance: Int)?
    for candidate in candidates {
        let letters = Array(candidate.lowercased().unicodeScalars)
        guard abs(letters.count - target.count) <= 3, letters.count <= 64 else { continue }
        let distance = editDistance(target, letters)
        if distance < (best?.distance ?? Int.max) { best = (candidate, distance) }
    }
    guard let best else { return nil }
    // A suggestion must keep most of the word: none for one-letter words.
    let allowed = min(3, (target.count + 2) / 3, target.count - 1)
    return best.distance <= allowed ? best.candidate : nil
}

/// A " (did you mean 'x'?)" suffix for a message, or "".
public func suggestion<S: Sequence>(for word: String, among candidates: S) -> String where S.Element == String {
    closestMatch(to: word, among: candidates).map { "; did you mean '\($0)'?" } ?? ""
}

/// Damerau-Levenshtein distance restricted to adjacent transpositions.
private func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previousPrevious = [Int](repeating: 0, count: b.count + 1)
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            var value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                value = min(value, previousPrevious[j - 2] + 1)
            }
            current[j] = value
        }
        (previousPrevious, previous, current) = (previous, current, previousPrevious)
    }
    return previous[b.count]
}
