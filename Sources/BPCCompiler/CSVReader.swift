import BPCPlan
import BPCSpec
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

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
///
/// A large file without quotes is read by `threads` threads, each taking a stretch of lines
/// (a line break there always ends a record); the samples and problems are the same, bit for
/// bit and in order, as one thread's.
struct CSVReader {
    let path: String
    let plan: Plan
    let layout: CSVLayout
    /// Threads to read the records with (a file smaller than two stretches gets one).
    var threads = 1
    /// The least each thread takes: below this, starting threads costs more than it saves.
    var minimumStretchBytes = 1 << 20

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

    /// The file's samples, or nil with every problem in `log`.
    func read(_ file: FileBytes, log: inout DiagnosticLog) -> Contents? {
        // The bytes are the file's only while it lives.
        withExtendedLifetime(file) {
            let errorsBefore = log.errorCount
            guard let (header, body) = readHeader(file.bytes, log: &log) else { return nil }
            let roles = resolve(header, log: &log)
            guard log.errorCount == errorsBefore else { return nil }
            return readRecords(file, body, columns: Columns(roles: roles, header: header.map(\.name), plan: plan, layout: layout), log: &log)
        }
    }

    // MARK: The header

    /// The header's names and where they are, and the stretch of records after it.
    private func readHeader(
        _ bytes: UnsafeBufferPointer<UInt8>, log: inout DiagnosticLog
    ) -> (header: [(name: String, position: SourcePosition)], body: Stretch)? {
        var scanner = CSVScanner(bytes: bytes)
        scanner.skipByteOrderMark()
        guard !scanner.atBlankLine() else {
            log.error("the CSV file is empty; its first line must name the columns", in: path, at: .startOfFile)
            return nil
        }
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
        return (header, Stretch(start: scanner.index, end: bytes.count, line: scanner.line))
    }

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

    /// Lines of the file from the start of one line to the start of another (or the end).
    struct Stretch: Sendable {
        var start: Int
        var end: Int
        /// The line `start` is on.
        var line: Int
    }

    /// What the records loop needs of the header.
    struct Columns: Sendable {
        var header: [String]
        var count: Int
        /// Per column, where its number goes in a record's row (inputs, then targets); nil
        /// for the label column and ignored ones.
        var slots: [Int?]
        var labelColumn: Int?
        var inputWidth: Int
        var targetWidth: Int
        /// Targets come from a label column, as class indices.
        var labelled: Bool
        var readsTargets: Bool

        init(roles: [Role], header: [String], plan: Plan, layout: CSVLayout) {
            self.header = header
            count = roles.count
            inputWidth = plan.inputUnits.count
            targetWidth = layout.readsTargets ? plan.outputUnits.count : 0
            slots = roles.map { [inputWidth] role in
                switch role {
                case .input(let slot): slot
                case .target(let slot): inputWidth + slot
                case .label, .ignored: nil
                }
            }
            labelColumn = roles.firstIndex(of: .label)
            labelled = layout.readsTargets && layout.label != nil
            readsTargets = layout.readsTargets
        }
    }

    /// The samples read, in the file's order; with a label column, each sample's class as an
    /// index into `classes` (one-hot targets are made once the classes are known).
    struct Samples {
        var inputs: [Double]
        var targets: [Double]
        var labels: [Int32]
        var count: Int
        var classes: ClassTable
    }

    private func readRecords(_ file: FileBytes, _ body: Stretch, columns: Columns, log: inout DiagnosticLog) -> Contents? {
        let errorsBefore = log.errorCount
        var samples: Samples
        if let stretches = parallelStretches(file, body) {
            samples = readInParallel(file, stretches, columns: columns, log: &log)
        } else {
            var rows = GrowingRows(columns, capacity: estimatedRecords(file.bytes, body))
            var classes = ClassTable(fixed: layout.label?.classes)
            read(file.bytes, body, into: &rows, classes: &classes, columns: columns, log: &log)
            samples = Samples(inputs: rows.inputs, targets: rows.targets, labels: rows.labels, count: rows.count, classes: classes)
        }
        if samples.count == 0 && log.errorCount == errorsBefore {
            log.error("the CSV file has a header but no samples", in: path, at: SourcePosition(line: 2, column: 1))
        }
        guard log.errorCount == errorsBefore else { return nil }

        let (inputWidth, targetWidth) = (columns.inputWidth, columns.targetWidth)
        var collected: [String]?
        if columns.labelled {
            let (names, order) = samples.classes.ordered()
            if layout.label?.classes == nil { collected = names }
            guard names.count == targetWidth else {
                return Contents(data: Dataset(inputWidth: inputWidth, targetWidth: targetWidth), classes: collected)
            }
            samples.targets = [Double](repeating: 0, count: samples.count * targetWidth)
            for (sample, index) in samples.labels.enumerated() { samples.targets[sample * targetWidth + Int(order[Int(index)])] = 1 }
        }
        return Contents(data: Dataset(inputWidth: inputWidth, targetWidth: targetWidth, inputs: samples.inputs, targets: samples.targets),
                        classes: collected)
    }

    /// A little more than the records of a body read by one thread, judged by the lines of its
    /// first 64 KiB: the sample arrays are reserved once (growing an array copies it) without
    /// another pass over the file to count its lines.
    private func estimatedRecords(_ bytes: UnsafeBufferPointer<UInt8>, _ body: Stretch) -> Int {
        let sample = UnsafeBufferPointer(rebasing: bytes[body.start..<min(body.end, body.start + 1 << 16)])
        var lineBreaks = 0
        for byte in sample where byte == UInt8(ascii: "\n") { lineBreaks += 1 }
        let lines = (body.end - body.start) / max(1, sample.count / max(1, lineBreaks))
        return lines + lines / 16 + 16
    }

    /// The body cut at line breaks into one stretch per thread, each with its first line and
    /// its count of lines (which bounds its records), or nil to read it on this thread: for a
    /// small body, or one with a quote anywhere (a quoted field may hold a line break, and only
    /// reading from the start tells which line breaks end records).
    ///
    /// The threads count the lines of their stretches first, in one fast pass that also looks
    /// for quotes, so that each stretch is then read knowing its line numbers and where its
    /// samples go.
    private func parallelStretches(_ file: FileBytes, _ body: Stretch) -> [(stretch: Stretch, lines: Int)]? {
        let size = body.end - body.start
        let count = min(threads, size / max(1, minimumStretchBytes))
        guard count > 1, let base = file.bytes.baseAddress else { return nil }
        // Each stretch ends at the line break after an even share of the body.
        var ends: [Int] = []
        for part in 1..<count {
            let cut = max(ends.last ?? body.start, body.start + size / count * part)
            guard let newline = memchr(base + cut, Int32(UInt8(ascii: "\n")), body.end - cut) else { break }
            let end = base.distance(to: newline.assumingMemoryBound(to: UInt8.self)) + 1
            if end >= body.end { break }
            ends.append(end)
        }
        guard !ends.isEmpty else { return nil }
        let stretches = zip([body.start] + ends, ends + [body.end]).map { Stretch(start: $0, end: $1, line: body.line) }

        let scans = concurrentMap(stretches.count) { part in LineScan(file.bytes, stretches[part]) }
        var numbered: [(stretch: Stretch, lines: Int)] = []
        var line = body.line
        for (stretch, scan) in zip(stretches, scans) {
            guard !scan.hasQuote else { return nil }
            // Every stretch but the last ends with a line break; the last line may lack one.
            let unended = file.bytes[stretch.end - 1] == UInt8(ascii: "\n") ? 0 : 1
            numbered.append((Stretch(start: stretch.start, end: stretch.end, line: line), scan.lineBreaks + unended))
            line += scan.lineBreaks
        }
        return numbered
    }

    /// Reads the stretches at once, one thread each, straight into their places in the sample
    /// arrays: a stretch's rows start after as many rows as the stretches before it have
    /// lines (a record takes at least one), and the rows blank lines leave empty are closed up
    /// after. Problems are reported in the file's order.
    private func readInParallel(
        _ file: FileBytes, _ stretches: [(stretch: Stretch, lines: Int)], columns: Columns, log: inout DiagnosticLog
    ) -> Samples {
        let limit = log.limit
        // Where each stretch's rows start (and after the last entry, all the lines).
        let firstRows = stretches.reduce(into: [0]) { firstRows, stretch in firstRows.append(firstRows[firstRows.count - 1] + stretch.lines) }
        var classes = ClassTable(fixed: layout.label?.classes)
        let (inputs, targets, labels, count) = SampleStorage.arrays(rows: firstRows[stretches.count], columns) { storage in
            let parts = concurrentMap(stretches.count) { part in
                var rows = StoredRows(storage: storage, first: firstRows[part], capacity: stretches[part].lines)
                var partClasses = ClassTable(fixed: layout.label?.classes)
                var partLog = DiagnosticLog(limit: limit)
                read(file.bytes, stretches[part].stretch, into: &rows, classes: &partClasses, columns: columns, log: &partLog)
                return (count: rows.count, classes: partClasses, log: partLog)
            }
            var count = 0
            for (part, result) in parts.enumerated() {
                log.append(contentsOf: result.log)
                storage.close(result.count, rowsFrom: firstRows[part], to: count, classIndex: classes.merge(result.classes))
                count += result.count
            }
            return count
        }
        return Samples(inputs: inputs, targets: targets, labels: labels, count: count, classes: classes)
    }

    /// Reads a stretch's records into `rows`, reporting every problem to `log`.
    private func read<Rows: SampleRows>(
        _ bytes: UnsafeBufferPointer<UInt8>, _ stretch: Stretch, into rows: inout Rows, classes: inout ClassTable,
        columns: Columns, log: inout DiagnosticLog
    ) {
        var scanner = CSVScanner(bytes: bytes, from: stretch.start, to: stretch.end, line: stretch.line)
        let inputWidth = columns.inputWidth
        // One record's numbers, its inputs and then its targets, where the fields are read
        // into: a buffer of its own, not an array checked for sharing at every field.
        let row = UnsafeMutableBufferPointer<Double>.allocate(capacity: inputWidth + columns.targetWidth)
        row.initialize(repeating: 0)
        defer { row.deallocate() }
        // The targets as the loss checks them.
        var target = [Double](repeating: 0, count: columns.targetWidth)
        var label: Int32 = 0
        // Where each target of the record was, for a target that does not fit the loss.
        var targetFields = [CSVScanner.Field](repeating: CSVScanner.Field(), count: columns.targetWidth)
        // Problems of one record, reported only if its field count is right (else that alone).
        var problems: [(message: String, position: SourcePosition)] = []

        while scanner.skipBlankLines() {
            let recordStart = scanner.position(ofOffset: scanner.index)
            var column = 0
            if !problems.isEmpty { problems.removeAll(keepingCapacity: true) }
            do throws(CSVSyntaxError) {
                while true {
                    let field: CSVScanner.Field
                    if let slot = column < columns.count ? columns.slots[column] : nil {
                        if let decimal = scanner.decimalField() {
                            field = decimal.field
                            row[slot] = decimal.value
                        } else {
                            field = try scanner.field()
                            if let value = number(field, scanner, column, columns.header, &problems) { row[slot] = value }
                        }
                        if slot >= inputWidth { targetFields[slot - inputWidth] = field }
                    } else {
                        field = try scanner.field()
                        if column == columns.labelColumn, let index = classOf(field, scanner, &classes, &problems) { label = index }
                    }
                    column += 1
                    if field.terminator != .comma { break }
                }
            } catch {
                log.error(error.message, in: path, at: error.position)
                scanner.skipLine()
                continue
            }
            guard column == columns.count else {
                log.error("row has \(counted(column, "field")) but the header has \(columns.count)", in: path, at: recordStart)
                continue
            }
            if !columns.labelled, columns.readsTargets, problems.isEmpty {
                for slot in target.indices { target[slot] = row[inputWidth + slot] }
                if let problem = plan.loss.targetProblem(target[...]) {
                    let position = problem.output.map { scanner.position(of: targetFields[$0]) } ?? recordStart
                    problems.append((problem.message, position))
                }
            }
            guard problems.isEmpty else {
                for problem in problems { log.error(problem.message, in: path, at: problem.position) }
                continue
            }
            rows.append(row, label: label)
        }
    }

    /// A field's number, or nil with the problem noted: empty, missing (`NA`), not finite,
    /// or not a number. Decimal text takes the fast path; anything else is read as the spec
    /// format reads numbers (so `0x1F` works as in a spec).
    private func number(
        _ field: CSVScanner.Field, _ scanner: CSVScanner, _ column: Int, _ header: [String],
        _ problems: inout [(message: String, position: SourcePosition)]
    ) -> Double? {
        if !field.escaped, let value = scanner.numbers.parse(scanner.bytes, from: field.start, to: field.end), value.isFinite {
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

/// `body` for every index in `0..<count` at once, on the threads Dispatch has for them, and
/// the results in index order.
private func concurrentMap<Result: Sendable>(_ count: Int, _ body: @Sendable (Int) -> Result) -> [Result] {
    let boxes = (0..<count).map { _ in ResultBox<Result>() }
    DispatchQueue.concurrentPerform(iterations: count) { index in boxes[index].value = body(index) }
    return boxes.compactMap(\.value)
}

/// One index's result in `concurrentMap`: written by the one thread that runs the index, and
/// read once `concurrentPerform` has returned, after every index has run, so never touched by
/// two threads at once (`@unchecked`: Swift cannot see that).
private final class ResultBox<Value>: @unchecked Sendable {
    var value: Value?
}

/// Where the records loop puts the samples it accepts.
protocol SampleRows {
    var count: Int { get }
    /// Adds a sample: `row` holds its inputs, then its targets; `label` is its class index
    /// when the targets come from a label column.
    mutating func append(_ row: UnsafeMutableBufferPointer<Double>, label: Int32)
}

/// Samples appended to arrays of their own, for a body read by one thread: its record count is
/// not known, so the arrays are reserved for an estimate and grow past it if need be.
struct GrowingRows: SampleRows {
    var inputs: [Double] = []
    var targets: [Double] = []
    var labels: [Int32] = []
    private(set) var count = 0
    private let inputWidth: Int
    private let labelled: Bool

    init(_ columns: CSVReader.Columns, capacity: Int) {
        inputWidth = columns.inputWidth
        labelled = columns.labelled
        inputs.reserveCapacity(capacity * columns.inputWidth)
        if labelled { labels.reserveCapacity(capacity) } else { targets.reserveCapacity(capacity * columns.targetWidth) }
    }

    mutating func append(_ row: UnsafeMutableBufferPointer<Double>, label: Int32) {
        inputs.append(contentsOf: UnsafeBufferPointer(rebasing: row[..<inputWidth]))
        if labelled { labels.append(label) } else { targets.append(contentsOf: UnsafeBufferPointer(rebasing: row[inputWidth...])) }
        count += 1
    }
}

/// A stretch's samples written into their rows of `SampleStorage`, from `first` on.
struct StoredRows: SampleRows {
    let storage: SampleStorage
    let first: Int
    /// The stretch's lines: it has no more records.
    let capacity: Int
    private(set) var count = 0

    init(storage: SampleStorage, first: Int, capacity: Int) {
        self.storage = storage
        self.first = first
        self.capacity = capacity
    }

    mutating func append(_ row: UnsafeMutableBufferPointer<Double>, label: Int32) {
        assert(count < capacity, "a stretch has more records than lines")
        storage.write(row, label: label, at: first + count)
        count += 1
    }
}

/// The memory of the sample arrays while the threads reading a file fill it, each the rows of
/// its own stretch. The rows of different threads do not overlap, and the arrays are read
/// only once every thread is done, so no memory is shared while written (`@unchecked`: Swift
/// cannot see that through pointers).
struct SampleStorage: @unchecked Sendable {
    let inputs: UnsafeMutableBufferPointer<Double>
    let targets: UnsafeMutableBufferPointer<Double>
    let labels: UnsafeMutableBufferPointer<Int32>
    let inputWidth: Int
    let targetWidth: Int
    let labelled: Bool

    /// The sample arrays for at most `rows` samples, filled in place by `fill`, which returns
    /// how many it wrote (rows `0..<count`). The threads write straight into the arrays
    /// `Dataset` keeps: gathering per-thread arrays afterwards would copy every sample again,
    /// and fault in the pages of a second array of them.
    static func arrays(
        rows: Int, _ columns: CSVReader.Columns, fill: (SampleStorage) -> Int
    ) -> (inputs: [Double], targets: [Double], labels: [Int32], count: Int) {
        let labelled = columns.labelled
        var count = 0
        var targets: [Double] = []
        var labels: [Int32] = []
        let inputs = [Double](unsafeUninitializedCapacity: rows * columns.inputWidth) { inputBuffer, inputCount in
            targets = [Double](unsafeUninitializedCapacity: labelled ? 0 : rows * columns.targetWidth) { targetBuffer, targetCount in
                labels = [Int32](unsafeUninitializedCapacity: labelled ? rows : 0) { labelBuffer, labelCount in
                    count = fill(SampleStorage(inputs: inputBuffer, targets: targetBuffer, labels: labelBuffer,
                                               inputWidth: columns.inputWidth, targetWidth: columns.targetWidth, labelled: labelled))
                    labelCount = labelled ? count : 0
                }
                targetCount = labelled ? 0 : count * columns.targetWidth
            }
            inputCount = count * columns.inputWidth
        }
        return (inputs, targets, labels, count)
    }

    /// Writes a sample (inputs then targets in `row`, or its label) as row `index`.
    func write(_ row: UnsafeMutableBufferPointer<Double>, label: Int32, at index: Int) {
        _ = UnsafeMutableBufferPointer(rebasing: inputs[index * inputWidth..<(index + 1) * inputWidth])
            .update(fromContentsOf: UnsafeBufferPointer(rebasing: row[..<inputWidth]))
        if labelled {
            labels[index] = label
        } else {
            _ = UnsafeMutableBufferPointer(rebasing: targets[index * targetWidth..<(index + 1) * targetWidth])
                .update(fromContentsOf: UnsafeBufferPointer(rebasing: row[inputWidth...]))
        }
    }

    /// Moves `count` rows from row `first` to row `destination` (not after it), closing the
    /// gap the stretches before left, and renumbers their labels by `classIndex` (a stretch's
    /// class indices into the merged table's).
    func close(_ count: Int, rowsFrom first: Int, to destination: Int, classIndex: [Int32]) {
        Self.move(inputs, from: first * inputWidth, to: destination * inputWidth, count: count * inputWidth)
        Self.move(targets, from: first * targetWidth, to: destination * targetWidth, count: labelled ? 0 : count * targetWidth)
        Self.move(labels, from: first, to: destination, count: labelled ? count : 0)
        if labelled {
            for index in destination..<destination + count { labels[index] = classIndex[Int(labels[index])] }
        }
    }

    private static func move<Element>(_ buffer: UnsafeMutableBufferPointer<Element>, from source: Int, to destination: Int, count: Int) {
        guard count > 0, source != destination, let base = buffer.baseAddress else { return }
        // Overlapping ranges: copyMemory moves as memmove does.
        UnsafeMutableRawPointer(base + destination).copyMemory(from: base + source, byteCount: count * MemoryLayout<Element>.stride)
    }
}

/// The line breaks of a stretch, and whether it has a quote, sixteen bytes at a time: the
/// pass that lets the threads reading a file know their stretches' first lines.
struct LineScan: Sendable {
    var lineBreaks = 0
    var hasQuote = false

    init(_ bytes: UnsafeBufferPointer<UInt8>, _ stretch: CSVReader.Stretch) {
        let raw = UnsafeRawBufferPointer(bytes)
        let newlines = SIMD16<UInt8>(repeating: UInt8(ascii: "\n")), quotes = SIMD16<UInt8>(repeating: UInt8(ascii: "\""))
        let zeros = SIMD16<UInt8>(repeating: 0), ones = SIMD16<UInt8>(repeating: 1)
        var index = stretch.start
        // Per-lane counts in bytes, added up before they can wrap (255 blocks).
        while stretch.end - index >= 16 && !hasQuote {
            var counts = zeros, quoted = zeros
            for _ in 0..<min(255, (stretch.end - index) / 16) {
                let block = raw.loadUnaligned(fromByteOffset: index, as: SIMD16<UInt8>.self)
                counts &+= zeros.replacing(with: ones, where: block .== newlines)
                quoted.replace(with: ones, where: block .== quotes)
                index += 16
            }
            for lane in counts.indices { lineBreaks += Int(counts[lane]) }
            hasQuote = quoted != zeros
        }
        for byte in UnsafeBufferPointer(rebasing: bytes[index..<stretch.end]) {
            if byte == UInt8(ascii: "\n") { lineBreaks += 1 }
            if byte == UInt8(ascii: "\"") { hasQuote = true }
        }
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

    /// The index here of each of `other`'s values (by its index there), adding the ones not
    /// here in `other`'s order: tables of consecutive stretches merged in order hold their
    /// values in the order one table reading the whole file would. (Fixed classes are in
    /// every stretch's table already.)
    mutating func merge(_ other: ClassTable) -> [Int32] {
        other.names.map { name in name.withUnsafeBufferPointer { index(of: $0) } ?? insert(name) }
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

/// The fields of a CSV file, one after another, over its bytes (or a stretch of them).
struct CSVScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    /// Where reading stops: the end of the file or of a stretch.
    private let end: Int
    /// Reads the numbers (it holds their tables).
    let numbers = DecimalNumber()
    /// The next byte to read.
    private(set) var index: Int
    /// The line `index` is on, and where that line starts.
    private(set) var line: Int
    private var lineStart: Int

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

    /// A scanner from `start`, the start of `line`, up to `end` (by default the whole file).
    init(bytes: UnsafeBufferPointer<UInt8>, from start: Int = 0, to end: Int? = nil, line: Int = 1) {
        self.bytes = bytes
        self.end = end ?? bytes.count
        index = start
        self.line = line
        lineStart = start
    }

    private static let comma = UInt8(ascii: ","), quote = UInt8(ascii: "\""), newline = UInt8(ascii: "\n")

    /// Space, tab and carriage return: not part of an unquoted field (CR ends CRLF lines).
    @inline(__always)
    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0D
    }

    mutating func skipByteOrderMark() {
        if end >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
            index = 3
            lineStart = 3
        }
    }

    /// True when nothing but spaces lies between `index` and the end of its line.
    func atBlankLine() -> Bool {
        var at = index
        while at < end, Self.isSpace(bytes[at]) { at += 1 }
        return at == end || bytes[at] == Self.newline
    }

    /// Moves past blank lines; false at the end of the file.
    mutating func skipBlankLines() -> Bool {
        while index < end && atBlankLine() { skipLine() }
        return index < end
    }

    /// Moves to the start of the next line (used to recover after a syntax error).
    mutating func skipLine() {
        while index < end && bytes[index] != Self.newline { index += 1 }
        if index < end { startLine(after: index) }
    }

    @inline(__always)
    private mutating func startLine(after newline: Int) {
        index = newline + 1
        line += 1
        lineStart = index
    }

    /// Reads one field and the comma or line end after it.
    @inline(__always)
    mutating func field() throws(CSVSyntaxError) -> Field {
        while index < end, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 }
        var field = Field(start: index, end: index, line: line, lineStart: lineStart, first: index)
        if index < end && bytes[index] == Self.quote {
            try quoted(&field)
        } else {
            while index < end, case let byte = bytes[index], byte != Self.comma, byte != Self.newline { index += 1 }
            var contentEnd = index
            while contentEnd > field.start, Self.isSpace(bytes[contentEnd - 1]) { contentEnd -= 1 }
            field.end = contentEnd
        }
        passTerminator(of: &field)
        return field
    }

    /// An unquoted field that is a decimal number (spaces around it aside) and its value, read
    /// in one pass; nil, with nothing read, for any other field, which `field()` then reads.
    /// Nearly every field of a data file is one of these.
    @inline(__always)
    mutating func decimalField() -> (field: Field, value: Double)? {
        var start = index
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        guard let number = numbers.parse(prefixOf: bytes, from: start, limit: end), number.value.isFinite else { return nil }
        var next = number.end
        while next < end, Self.isSpace(bytes[next]) { next += 1 }
        guard next == end || bytes[next] == Self.comma || bytes[next] == Self.newline else { return nil }
        var field = Field(start: start, end: number.end, line: line, lineStart: lineStart, first: start)
        index = next
        passTerminator(of: &field)
        return (field, number.value)
    }

    /// Moves past the comma or line break at `index` (if not at the end), noting which it was.
    @inline(__always)
    private mutating func passTerminator(of field: inout Field) {
        if index == end {
            field.terminator = .fileEnd
        } else if bytes[index] == Self.comma {
            field.terminator = .comma
            index += 1
        } else {
            field.terminator = .lineEnd
            startLine(after: index)
        }
    }

    /// A quoted field: up to the quote not doubled, counting the lines inside; after it only
    /// spaces may come before the comma or line end.
    private mutating func quoted(_ field: inout Field) throws(CSVSyntaxError) {
        index += 1
        field.start = index
        while true {
            guard index < end else {
                throw CSVSyntaxError(message: "the file ends inside the quoted field that starts here; close it with \"",
                                     position: position(ofOffset: field.first, line: field.line, lineStart: field.lineStart))
            }
            let byte = bytes[index]
            if byte == Self.quote {
                if index + 1 < end && bytes[index + 1] == Self.quote {
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
        while index < end, Self.isSpace(bytes[index]) { index += 1 }
        if index < end && bytes[index] != Self.comma && bytes[index] != Self.newline {
            let found = String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<min(index + 1, end)]), as: UTF8.self)
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
