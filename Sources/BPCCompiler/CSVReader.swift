import BPCPlan
import BPCSpec

/// How a CSV file's columns feed the network: which header names feed which units, whether
/// columns that feed nothing are ignored, and the label column.
struct CSVLayout {
    /// Header name -> unit name (`data.columns` or the plan's `columns`).
    var mapping: [String: String] = [:]
    /// Columns that name no unit are ignored rather than errors: the format's default is
    /// strict, and giving `columns` or `label` says the file has columns of its own.
    var ignoresOtherColumns = false
    var label: LabelColumn?
    /// False for inputs alone (`bpc predict --csv`): target and label columns may be absent and
    /// are not read; the data set has no targets.
    var readsTargets = true

    /// The layout a plan keeps (what a CSV file given on its own is read with).
    init(plan: Plan) {
        for column in plan.columns ?? [] { mapping[column.header] = column.unit }
        ignoresOtherColumns = plan.columns != nil || plan.classLabels != nil
        label = plan.classLabels.map { LabelColumn(name: $0.column, classes: $0.names) }
    }
}

/// The column whose values are the classes.
struct LabelColumn {
    var name: String
    /// The classes in output order; nil while they are being collected from the training file.
    var classes: [String]?
}

/// An RFC 4180 CSV data file read in one pass over its bytes: a header, then one sample per
/// record. Fields may be quoted (`"a, b"`, `"say ""hi"""`, line breaks inside quotes); records
/// end in LF or CRLF; a UTF-8 byte order mark is skipped; blank lines are skipped; spaces and
/// tabs around a field are not part of it. Numbers are parsed from the bytes (`DecimalNumber`)
/// and labels looked up by them (`ClassTable`), so no record's field becomes a `String` unless
/// a problem is reported (or a label holds a doubled quote).
///
/// Every problem is reported with the file's line and column (of the field, or column 1 for
/// a record as a whole), and reading goes on to report the others.
struct CSVReader {
    let path: String
    let plan: Plan
    let layout: CSVLayout

    /// The samples, and with a label column being collected, the classes found (sorted). When
    /// those are not one per output, the data set is empty and the caller reports it (at the
    /// spec's `label`).
    struct Contents {
        var data: Dataset
        var classes: [String]?
    }

    /// What each column of the header feeds.
    enum Role: Hashable {
        case input(Int)
        case target(Int)
        case label
        case ignored
    }

    func read(_ file: [UInt8], log: inout DiagnosticLog) -> Contents? {
        file.withUnsafeBufferPointer { bytes in read(bytes, log: &log) }
    }

    private func read(_ bytes: UnsafeBufferPointer<UInt8>, log: inout DiagnosticLog) -> Contents? {
        var scanner = CSVScanner(bytes: bytes)
        scanner.skipByteOrderMark()
        guard !scanner.atBlankLine() else {
            log.error("the CSV file is empty; its first line must name the columns", in: path, at: .startOfFile)
            return nil
        }
        let errorsBefore = log.errorCount
        var header: [(name: String, position: SourcePosition)] = []
        while true {
            do {
                let field = try scanner.field()
                header.append((scanner.text(of: field), scanner.position(of: field)))
                if field.terminator != .comma { break }
            } catch {
                log.error(error.message, in: path, at: error.position)
                return nil
            }
        }
        let roles = resolve(header, log: &log)
        guard log.errorCount == errorsBefore else { return nil }
        return readRecords(&scanner, roles: roles, header: header.map(\.name), log: &log)
    }

    // MARK: The header

    /// Matches header names to units: the label column, then `mapping`, then names that are
    /// unit names; every input (and without a label every output) must be fed exactly once.
    private func resolve(_ header: [(name: String, position: SourcePosition)], log: inout DiagnosticLog) -> [Role] {
        var unitRole: [String: Role] = [:]
        for (slot, unit) in plan.inputUnits.enumerated() { unitRole[plan.unitNames[Int(unit)]] = .input(slot) }
        for (slot, unit) in plan.outputUnits.enumerated() { unitRole[plan.unitNames[Int(unit)]] = .target(slot) }
        var roles: [Role] = []
        var fedBy: [Role: String] = [:]
        var sawLabel = false
        for (name, position) in header {
            if !layout.readsTargets {
                // Inputs alone: the label and every output column feed nothing.
                if name == layout.label?.name {
                    roles.append(.ignored)
                    continue
                }
                if case .target? = unitRole[layout.mapping[name] ?? name] {
                    roles.append(.ignored)
                    continue
                }
            }
            if name == layout.label?.name {
                if sawLabel { log.error("column '\(name)' appears twice", in: path, at: position) }
                sawLabel = true
                roles.append(.label)
                continue
            }
            let unit = layout.mapping[name] ?? name
            guard let role = unitRole[unit] else {
                if !layout.ignoresOtherColumns {
                    let isHidden = plan.unitNames.contains(name)
                    let hint = suggestion(for: name, among: unitRole.keys.sorted())
                    log.error(isHidden ? "column '\(name)' names a hidden unit; columns name input and output units"
                                       : "unknown column '\(name)': columns name input and output units\(hint)", in: path, at: position)
                }
                roles.append(.ignored)
                continue
            }
            if case .target = role, let label = layout.label {
                log.error("column '\(name)' feeds output unit \(unit), but the targets come from the label column '\(label.name)'", in: path, at: position)
                roles.append(.ignored)
                continue
            }
            if let earlier = fedBy[role] {
                log.error(earlier == name ? "column '\(name)' appears twice" : "columns '\(earlier)' and '\(name)' both feed unit \(unit)", in: path, at: position)
            }
            fedBy[role] = name
            roles.append(role)
        }
        let headerNames = header.map(\.name)
        var mappedFrom: [String: String] = [:]
        for (name, unit) in layout.mapping { mappedFrom[unit] = name }
        func missing(_ unit: String, _ kind: String) {
            if let name = mappedFrom[unit] {
                log.error("missing column '\(name)' (data.columns maps it to \(kind) unit \(unit))\(suggestion(for: name, among: headerNames))", in: path, at: .startOfFile)
            } else {
                log.error("missing column '\(unit)' (an \(kind) unit)", in: path, at: .startOfFile)
            }
        }
        for (slot, unit) in plan.inputUnits.enumerated() where fedBy[.input(slot)] == nil { missing(plan.unitNames[Int(unit)], "input") }
        guard layout.readsTargets else { return roles }
        if let label = layout.label {
            if !sawLabel {
                log.error("missing the label column '\(label.name)'\(suggestion(for: label.name, among: headerNames))", in: path, at: .startOfFile)
            }
        } else {
            for (slot, unit) in plan.outputUnits.enumerated() where fedBy[.target(slot)] == nil { missing(plan.unitNames[Int(unit)], "output") }
        }
        return roles
    }

    // MARK: Records

    private func readRecords(_ scanner: inout CSVScanner, roles: [Role], header: [String], log: inout DiagnosticLog) -> Contents? {
        let errorsBefore = log.errorCount
        let inputWidth = plan.inputUnits.count
        let targetWidth = layout.readsTargets ? plan.outputUnits.count : 0
        let labelled = layout.readsTargets && layout.label != nil
        var inputs: [Double] = []
        var targets: [Double] = []
        var labels: [Int32] = []
        let expected = scanner.remainingLineCount()
        inputs.reserveCapacity(expected * inputWidth)
        if labelled { labels.reserveCapacity(expected) } else { targets.reserveCapacity(expected * targetWidth) }
        var classes = ClassTable(fixed: layout.label?.classes)

        var input = [Double](repeating: 0, count: inputWidth)
        var target = [Double](repeating: 0, count: targetWidth)
        var label: Int32 = 0
        // Where each target of the record was, for a target that does not fit the loss.
        var targetFields = [CSVScanner.Field](repeating: CSVScanner.Field(), count: targetWidth)
        // Problems of one record, reported only if its field count is right (else that alone).
        var problems: [(message: String, position: SourcePosition)] = []
        var samples = 0

        while scanner.skipBlankLines() {
            let recordStart = scanner.position(ofOffset: scanner.index)
            var column = 0
            var syntaxFailed = false
            problems.removeAll(keepingCapacity: true)
            repeat {
                let field: CSVScanner.Field
                do {
                    field = try scanner.field()
                } catch {
                    log.error(error.message, in: path, at: error.position)
                    scanner.skipLine()
                    syntaxFailed = true
                    break
                }
                if column < roles.count {
                    switch roles[column] {
                    case .input(let slot):
                        if let value = number(field, scanner, column, header, &problems) { input[slot] = value }
                    case .target(let slot):
                        if let value = number(field, scanner, column, header, &problems) { target[slot] = value }
                        targetFields[slot] = field
                    case .label:
                        if let index = classOf(field, scanner, &classes, &problems) { label = index }
                    case .ignored:
                        break
                    }
                }
                column += 1
                if field.terminator != .comma { break }
            } while true
            if syntaxFailed { continue }
            guard column == roles.count else {
                log.error("row has \(counted(column, "field")) but the header has \(roles.count)", in: path, at: recordStart)
                continue
            }
            if !labelled, layout.readsTargets, problems.isEmpty, let problem = plan.loss.targetProblem(target[...]) {
                let position = problem.output.map { scanner.position(of: targetFields[$0]) } ?? recordStart
                problems.append((problem.message, position))
            }
            guard problems.isEmpty else {
                for problem in problems { log.error(problem.message, in: path, at: problem.position) }
                continue
            }
            inputs.append(contentsOf: input)
            if labelled { labels.append(label) } else { targets.append(contentsOf: target) }
            samples += 1
        }
        if samples == 0 && log.errorCount == errorsBefore {
            log.error("the CSV file has a header but no samples", in: path, at: SourcePosition(line: 2, column: 1))
        }
        guard log.errorCount == errorsBefore else { return nil }

        var collected: [String]?
        if labelled {
            let (names, order) = classes.ordered()
            if layout.label?.classes == nil { collected = names }
            guard names.count == targetWidth else {
                return Contents(data: Dataset(inputWidth: inputWidth, targetWidth: targetWidth), classes: collected)
            }
            targets = [Double](repeating: 0, count: samples * targetWidth)
            for (sample, index) in labels.enumerated() { targets[sample * targetWidth + Int(order[Int(index)])] = 1 }
        }
        return Contents(data: Dataset(inputWidth: inputWidth, targetWidth: targetWidth, inputs: inputs, targets: targets), classes: collected)
    }

    /// A field's number, or nil with the problem noted: empty, missing (`NA`), not finite,
    /// or not a number. Decimal text takes the fast path; anything else is read as the spec
    /// format reads numbers (so `0x1F` works as in a spec).
    @inline(__always)
    private func number(
        _ field: CSVScanner.Field, _ scanner: CSVScanner, _ column: Int, _ header: [String],
        _ problems: inout [(message: String, position: SourcePosition)]
    ) -> Double? {
        if !field.escaped, let value = DecimalNumber.parse(scanner.bytes, from: field.start, to: field.end), value.isFinite {
            return value
        }
        let text = scanner.text(of: field)
        let shown = text.count > 40 ? text.prefix(40) + "..." : Substring(text)
        let message: String
        let word = String(text.lowercased().trimmingPrefix(while: { $0 == "+" || $0 == "-" }))
        switch ScalarValue(plain: text) {
        case .number(let value) where value.isFinite: return value
        case .number: message = "'\(shown)' is not a finite number"
        case _ where text.isEmpty: message = "the field for '\(header[column])' is empty; every input and target needs a number"
        case _ where ["inf", "infinity", "nan"].contains(word): message = "'\(shown)' is not a finite number"
        case _ where ["na", "n/a", "null"].contains(word):
            message = "'\(shown)' marks a missing value; every input and target needs a number"
        default: message = "'\(shown)' is not a number"
        }
        problems.append((message, scanner.position(of: field)))
        return nil
    }

    /// The class index of a label field (in the order classes were first met), or nil with the
    /// problem noted: an empty label, or a class the training data does not have.
    @inline(__always)
    private func classOf(
        _ field: CSVScanner.Field, _ scanner: CSVScanner, _ classes: inout ClassTable,
        _ problems: inout [(message: String, position: SourcePosition)]
    ) -> Int32? {
        let index: Int32?
        if field.escaped {
            index = Array(scanner.text(of: field).utf8).withUnsafeBufferPointer { classes.index(of: $0) }
        } else {
            index = classes.index(of: UnsafeBufferPointer(rebasing: scanner.bytes[field.start..<field.end]))
        }
        if let index { return index }
        let text = scanner.text(of: field)
        if field.start == field.end {
            problems.append(("the label is empty; every sample needs a class", scanner.position(of: field)))
        } else {
            let known = layout.label?.classes ?? []
            let listed = known.prefix(8).joined(separator: ", ") + (known.count > 8 ? ", ..." : "")
            problems.append(("'\(text)' is not one of the \(counted(known.count, "class")) of the training data (\(listed))\(suggestion(for: text, among: known))",
                             scanner.position(of: field)))
        }
        return nil
    }
}

/// Distinct label values, looked up by their bytes (no `String` per record): open addressing
/// on an FNV-1a hash. With fixed classes, unknown values are not added.
struct ClassTable {
    private var names: [[UInt8]] = []
    private var slots = [Int32](repeating: -1, count: 16)
    private let isFixed: Bool

    init(fixed: [String]?) {
        isFixed = fixed != nil
        for name in fixed ?? [] { _ = insert(Array(name.utf8)) }
    }

    /// The value's index in the order values were added; nil for an empty value, or for an
    /// unknown one when the classes are fixed.
    mutating func index(of value: UnsafeBufferPointer<UInt8>) -> Int32? {
        guard !value.isEmpty else { return nil }
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: Self.hash(value)) & mask
        while slots[slot] >= 0 {
            if names[Int(slots[slot])].elementsEqual(value) { return slots[slot] }
            slot = (slot + 1) & mask
        }
        return isFixed ? nil : insert(Array(value))
    }

    private mutating func insert(_ value: [UInt8]) -> Int32 {
        if 2 * (names.count + 1) > slots.count {
            slots = [Int32](repeating: -1, count: slots.count * 2)
            for (index, name) in names.enumerated() { place(Int32(index), hash: name.withUnsafeBufferPointer(Self.hash)) }
        }
        names.append(value)
        place(Int32(names.count - 1), hash: value.withUnsafeBufferPointer(Self.hash))
        return Int32(names.count - 1)
    }

    private mutating func place(_ index: Int32, hash: UInt64) {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] >= 0 { slot = (slot + 1) & mask }
        slots[slot] = index
    }

    private static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 { Fingerprint.of(bytes) }

    /// The classes in output order, and for each index in adding order its place in that
    /// order: fixed classes keep theirs; collected ones are sorted by their UTF-8 bytes
    /// (Unicode code point order, as R's and scikit-learn's label encodings in the C locale),
    /// so the order does not depend on the order of the rows.
    func ordered() -> (names: [String], order: [Int32]) {
        let byName = isFixed ? Array(names.indices) : names.indices.sorted { names[$0].lexicographicallyPrecedes(names[$1]) }
        var order = [Int32](repeating: 0, count: names.count)
        for (place, index) in byName.enumerated() { order[index] = Int32(place) }
        return (byName.map { String(decoding: names[$0], as: UTF8.self) }, order)
    }
}

/// A syntax error of a CSV file, at a line and column.
struct CSVSyntaxError: Error {
    var message: String
    var position: SourcePosition
}

/// The fields of a CSV file, one after another, over its bytes.
struct CSVScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    /// The next byte to read.
    private(set) var index = 0
    /// The line `index` is on (from 1), and where that line starts.
    private var line = 1
    private var lineStart = 0

    enum Terminator { case comma, lineEnd, fileEnd }

    /// One field: its content `start..<end` (inside the quotes, trimmed of surrounding spaces
    /// when unquoted) and where it started, for messages.
    struct Field {
        var start = 0
        var end = 0
        /// Quoted with `""` inside: the content needs unescaping.
        var escaped = false
        var terminator = Terminator.fileEnd
        var line = 1
        var lineStart = 0
        /// Where the field's first character (its opening quote, if any) is.
        var first = 0
    }

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    private static let comma = UInt8(ascii: ","), quote = UInt8(ascii: "\""), newline = UInt8(ascii: "\n")

    /// Space, tab and carriage return: not part of an unquoted field (CR ends CRLF lines).
    @inline(__always)
    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0D
    }

    mutating func skipByteOrderMark() {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
            index = 3
            lineStart = 3
        }
    }

    /// True when nothing but spaces lies between `index` and the end of its line.
    func atBlankLine() -> Bool {
        var at = index
        while at < bytes.count, Self.isSpace(bytes[at]) { at += 1 }
        return at == bytes.count || bytes[at] == Self.newline
    }

    /// Moves past blank lines; false at the end of the file.
    mutating func skipBlankLines() -> Bool {
        while index < bytes.count && atBlankLine() { skipLine() }
        return index < bytes.count
    }

    /// Moves to the start of the next line (used to recover after a syntax error).
    mutating func skipLine() {
        while index < bytes.count && bytes[index] != Self.newline { index += 1 }
        if index < bytes.count { startLine(after: index) }
    }

    @inline(__always)
    private mutating func startLine(after newline: Int) {
        index = newline + 1
        line += 1
        lineStart = index
    }

    /// Lines left, a bound on the records, to reserve the arrays once.
    func remainingLineCount() -> Int {
        var count = 1
        var at = index
        while at < bytes.count {
            if bytes[at] == Self.newline { count += 1 }
            at += 1
        }
        return count
    }

    /// Reads one field and the comma or line end after it.
    @inline(__always)
    mutating func field() throws(CSVSyntaxError) -> Field {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 }
        var field = Field(start: index, end: index, line: line, lineStart: lineStart, first: index)
        if index < bytes.count && bytes[index] == Self.quote {
            try quoted(&field)
        } else {
            while index < bytes.count, case let byte = bytes[index], byte != Self.comma, byte != Self.newline { index += 1 }
            var end = index
            while end > field.start, Self.isSpace(bytes[end - 1]) { end -= 1 }
            field.end = end
        }
        if index == bytes.count {
            field.terminator = .fileEnd
        } else if bytes[index] == Self.comma {
            field.terminator = .comma
            index += 1
        } else {
            field.terminator = .lineEnd
            startLine(after: index)
        }
        return field
    }

    /// A quoted field: up to the quote not doubled, counting the lines inside; after it only
    /// spaces may come before the comma or line end.
    private mutating func quoted(_ field: inout Field) throws(CSVSyntaxError) {
        index += 1
        field.start = index
        while true {
            guard index < bytes.count else {
                throw CSVSyntaxError(message: "the file ends inside the quoted field that starts here; close it with \"",
                                     position: position(ofOffset: field.first, line: field.line, lineStart: field.lineStart))
            }
            let byte = bytes[index]
            if byte == Self.quote {
                if index + 1 < bytes.count && bytes[index + 1] == Self.quote {
                    field.escaped = true
                    index += 2
                    continue
                }
                field.end = index
                index += 1
                break
            }
            if byte == Self.newline {
                line += 1
                lineStart = index + 1
            }
            index += 1
        }
        while index < bytes.count, Self.isSpace(bytes[index]) { index += 1 }
        if index < bytes.count && bytes[index] != Self.comma && bytes[index] != Self.newline {
            let found = String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<min(index + 1, bytes.count)]), as: UTF8.self)
            throw CSVSyntaxError(
                message: "unexpected '\(found)' after the closing quote of a field; a quote inside a quoted field is written twice (\"\")",
                position: position(ofOffset: index))
        }
    }

    /// The field's text, with `""` read as `"`.
    func text(of field: Field) -> String {
        let content = UnsafeBufferPointer(rebasing: bytes[field.start..<field.end])
        guard field.escaped else { return String(decoding: content, as: UTF8.self) }
        var unescaped: [UInt8] = []
        unescaped.reserveCapacity(content.count)
        var skipNextQuote = false
        for byte in content {
            if byte == Self.quote && skipNextQuote {
                skipNextQuote = false
                continue
            }
            skipNextQuote = byte == Self.quote
            unescaped.append(byte)
        }
        return String(decoding: unescaped, as: UTF8.self)
    }

    /// Where a field starts (its opening quote, if quoted), as a line and column.
    func position(of field: Field) -> SourcePosition {
        position(ofOffset: field.first, line: field.line, lineStart: field.lineStart)
    }

    /// The line and column of a byte on the current line.
    func position(ofOffset offset: Int) -> SourcePosition {
        position(ofOffset: offset, line: line, lineStart: lineStart)
    }

    /// Columns count characters: every byte that does not continue a UTF-8 sequence.
    private func position(ofOffset offset: Int, line: Int, lineStart: Int) -> SourcePosition {
        var column = 1
        for byte in UnsafeBufferPointer(rebasing: bytes[lineStart..<min(offset, bytes.count)]) where byte & 0xC0 != 0x80 { column += 1 }
        return SourcePosition(line: line, column: column)
    }
}
