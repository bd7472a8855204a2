import BPCPlan
import BPCSpec

/// Loads a spec's samples (inline or CSV) into a `Dataset` shaped for the plan, reporting
/// every sample of the wrong length and every CSV problem with its file, row and column.
public enum DataLoader {
    /// Largest CSV file read; data sets beyond this belong in a plan-driven program.
    public static let maxCSVSize = 1 << 31

    public static func load(
        _ source: SampleSource, specPath: String, plan: Plan, log: inout DiagnosticLog
    ) -> Dataset? {
        let inputWidth = plan.inputUnits.count
        let targetWidth = plan.outputUnits.count
        var dataset = Dataset(inputWidth: inputWidth, targetWidth: targetWidth)
        switch source {
        case .samples(let samples):
            let errorsBefore = log.errorCount
            dataset.inputs.reserveCapacity(samples.count * inputWidth)
            dataset.targets.reserveCapacity(samples.count * targetWidth)
            for sample in samples {
                guard checkWidths(input: sample.input.count, target: sample.target.count, plan: plan,
                                  file: specPath, at: sample.position, log: &log) else { continue }
                dataset.append(input: sample.input, target: sample.target)
            }
            return log.errorCount == errorsBefore ? dataset : nil
        case .csv(let path):
            let resolved = resolve(path.value, relativeTo: specPath)
            var fileLog = DiagnosticLog()
            guard let text = readText(resolved, log: &fileLog) else {
                log.error("cannot read data file '\(path.value)' (\(resolved)): \(fileLog.diagnostics.first?.message ?? "unreadable")", in: specPath, at: path.position)
                return nil
            }
            return CSVReader(path: resolved, plan: plan).read(text, log: &log)
        }
    }

    /// Loads a CSV file named on its own (not from a spec), e.g. data given beside a plan file.
    public static func load(csvFile path: String, plan: Plan, log: inout DiagnosticLog) -> Dataset? {
        guard let text = readText(path, log: &log) else { return nil }
        return CSVReader(path: path, plan: plan).read(text, log: &log)
    }

    /// Checks a sample's lengths against the plan's input and output units.
    @discardableResult
    public static func checkWidths(
        input: Int, target: Int?, plan: Plan, file: String, at position: SourcePosition, log: inout DiagnosticLog
    ) -> Bool {
        var ok = true
        if input != plan.inputUnits.count {
            log.error("'in' has \(counted(input, "value")) but the network has \(counted(plan.inputUnits.count, "input")) (\(names(plan.inputUnits, plan)))", in: file, at: position)
            ok = false
        }
        if let target, target != plan.outputUnits.count {
            log.error("'out' has \(counted(target, "value")) but the network has \(counted(plan.outputUnits.count, "output")) (\(names(plan.outputUnits, plan)))", in: file, at: position)
            ok = false
        }
        return ok
    }

    private static func names(_ units: [Int32], _ plan: Plan) -> String {
        let shown = units.prefix(6).map { plan.unitNames[Int($0)] }.joined(separator: ", ")
        return units.count > 6 ? shown + ", ..." : shown
    }

    /// A data path as written in a spec is relative to the spec's folder.
    public static func resolve(_ path: String, relativeTo specPath: String) -> String {
        if path.hasPrefix("/") { return path }
        guard let slash = specPath.lastIndex(of: "/") else { return path }
        return String(specPath[...slash]) + path
    }

    static func readText(_ path: String, log: inout DiagnosticLog) -> String? {
        readRegularFile(path, maxSize: maxCSVSize, log: &log).map { String(decoding: $0, as: UTF8.self) }
    }
}


/// A CSV data file: a header naming input and output units (group members as `x[0]`), then one
/// numeric row per sample. Fields are separated by commas; surrounding spaces are ignored;
/// quoted fields are not needed for numbers and are not accepted.
struct CSVReader {
    let path: String
    let plan: Plan

    func read(_ text: String, log: inout DiagnosticLog) -> Dataset? {
        // Split on the byte, so "\r\n" (one Character) ends lines too; a leading byte order
        // mark (spreadsheets write one) is not part of the first column's name.
        var utf8 = Substring(text).utf8[...]
        if utf8.starts(with: [0xEF, 0xBB, 0xBF]) { utf8 = utf8.dropFirst(3) }
        let lines = utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { Substring($0) }
        guard let header = lines.first, !header.allSatisfy(\.isWhitespace) else {
            log.error("the CSV file is empty; its first line must name the columns", in: path, at: .startOfFile)
            return nil
        }
        let errorsBefore = log.errorCount
        var unitColumn: [String: Int] = [:]
        for (index, unit) in plan.unitNames.enumerated() where plan.roles[index] != .hidden {
            unitColumn[unit] = index
        }
        var inputSlot: [Int32: Int] = [:]
        for (slot, unit) in plan.inputUnits.enumerated() { inputSlot[unit] = slot }
        var outputSlot: [Int32: Int] = [:]
        for (slot, unit) in plan.outputUnits.enumerated() { outputSlot[unit] = slot }

        // Each column goes to an input slot (>= 0) or an output slot (encoded as -1 - slot).
        var destination: [Int] = []
        var seenInputs = Set<Int>()
        var seenOutputs = Set<Int>()
        for field in fields(of: header) {
            let name = field.text
            let position = SourcePosition(line: 1, column: field.column)
            guard let unit = unitColumn[name] else {
                let hint = suggestion(for: name, among: plan.inputUnits.map { plan.unitNames[Int($0)] } + plan.outputUnits.map { plan.unitNames[Int($0)] })
                log.error("unknown column '\(name)': columns name input and output units\(hint)", in: path, at: position)
                destination.append(Int.min)
                continue
            }
            if let slot = inputSlot[Int32(unit)] {
                if !seenInputs.insert(slot).inserted { log.error("column '\(name)' appears twice", in: path, at: position) }
                destination.append(slot)
            } else if let slot = outputSlot[Int32(unit)] {
                if !seenOutputs.insert(slot).inserted { log.error("column '\(name)' appears twice", in: path, at: position) }
                destination.append(-1 - slot)
            } else {
                log.error("column '\(name)' names a hidden unit; columns name input and output units", in: path, at: position)
                destination.append(Int.min)
            }
        }
        for (slot, unit) in plan.inputUnits.enumerated() where !seenInputs.contains(slot) {
            log.error("missing column '\(plan.unitNames[Int(unit)])' (an input unit)", in: path, at: .startOfFile)
        }
        for (slot, unit) in plan.outputUnits.enumerated() where !seenOutputs.contains(slot) {
            log.error("missing column '\(plan.unitNames[Int(unit)])' (an output unit)", in: path, at: .startOfFile)
        }
        guard log.errorCount == errorsBefore else { return nil }

        var dataset = Dataset(inputWidth: plan.inputUnits.count, targetWidth: plan.outputUnits.count)
        dataset.inputs.reserveCapacity((lines.count - 1) * dataset.inputWidth)
        dataset.targets.reserveCapacity((lines.count - 1) * dataset.targetWidth)
        var input = [Double](repeating: 0, count: dataset.inputWidth)
        var target = [Double](repeating: 0, count: dataset.targetWidth)
        for (offset, line) in lines.enumerated().dropFirst() where !line.allSatisfy(\.isWhitespace) {
            let row = fields(of: line)
            let lineNumber = offset + 1
            guard row.count == destination.count else {
                log.error("row has \(counted(row.count, "field")) but the header has \(destination.count)", in: path, at: SourcePosition(line: lineNumber, column: 1))
                continue
            }
            for (field, column) in zip(row, destination) {
                guard case .number(let value) = ScalarValue(plain: field.text), value.isFinite else {
                    log.error("'\(field.text.prefix(40))' is not a number", in: path, at: SourcePosition(line: lineNumber, column: field.column))
                    continue
                }
                if column >= 0 { input[column] = value } else { target[-1 - column] = value }
            }
            dataset.append(input: input, target: target)
        }
        if dataset.count == 0 && log.errorCount == errorsBefore {
            log.error("the CSV file has a header but no samples", in: path, at: SourcePosition(line: 2, column: 1))
        }
        return log.errorCount == errorsBefore ? dataset : nil
    }

    /// Comma-separated fields with their 1-based columns, trimmed of spaces and a final '\r'.
    private func fields(of line: Substring) -> [(text: String, column: Int)] {
        var result: [(String, Int)] = []
        var column = 1
        for raw in line.split(separator: ",", omittingEmptySubsequences: false) {
            var text = raw
            while text.last == "\r" || text.last == " " || text.last == "\t" { text.removeLast() }
            var leading = 0
            while text.first == " " || text.first == "\t" {
                text.removeFirst()
                leading += 1
            }
            result.append((String(text), column + leading))
            column += raw.count + 1
        }
        return result
    }
}

/// "1 output", "3 outputs".
public func counted(_ count: Int, _ noun: String) -> String {
    "\(count) \(noun)\(count == 1 ? "" : "s")"
}
