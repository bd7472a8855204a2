import BPCPlan
import BPCSpec
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A spec's data, loaded: the samples as written (raw inputs, targets one-hot for a label
/// column) and the plan with what it keeps from them.
public struct SpecData: Sendable {
    /// The compiled plan with `columns`, `classLabels` and `inputNormalization` filled in from
    /// `data.columns`, `data.label` and `data.normalize`.
    public var plan: Plan
    public var training: Dataset?
    /// `data.validation`, or the samples `data.validation_split` set aside.
    public var validation: Dataset?
    public var test: Dataset?

    public init(plan: Plan, training: Dataset? = nil, validation: Dataset? = nil, test: Dataset? = nil) {
        self.plan = plan
        self.training = training
        self.validation = validation
        self.test = test
    }
}

/// Loads a spec's samples (inline or CSV) into `Dataset`s shaped for the plan, reporting
/// every sample of the wrong length, every target the loss cannot take and every CSV problem
/// with its file, line and column.
///
/// Datasets hold raw inputs, as the files have them; the plan's normalisation is applied
/// where samples enter a runtime (`Plan.networkData`), so every sample a user sees or passes
/// back (`Model.predict(data.input(0))`) is in the units they wrote.
public enum DataLoader {
    /// Largest CSV file read; data sets beyond this belong in a plan-driven program.
    public static let maxCSVSize = 1 << 31

    /// Which of a spec's samples to load.
    public enum Scope: Sendable {
        /// Training, validation and test samples.
        case all
        /// Only what the plan depends on: the training samples when `data.label` or
        /// `data.normalize` is given (class names, statistics), none otherwise. For commands
        /// that need the network alone.
        case network
    }

    /// Loads the spec's data for `plan` (the spec's compiled plan) and fills in the plan's
    /// data layout. The order fixes what each step sees: classes and the split come from the
    /// training file, and the statistics from the training samples left after the split.
    /// `threads` read each large CSV file (the result is the same with any number).
    public static func load(_ spec: ModelSpec, plan: Plan, scope: Scope, threads: Int = 1, log: inout DiagnosticLog) -> SpecData {
        var result = SpecData(plan: plan)
        guard let data = spec.data else { return result }
        let errorsBefore = log.errorCount
        result.plan.columns = columnMappings(data, plan: plan, file: spec.path, log: &log)
        // Fixed classes and statistics (a saved spec) shape the plan without reading a file:
        // the network stays the trained one whatever the training file holds now.
        if let label = data.label, let classes = data.classes {
            if classes.value.count == plan.outputUnits.count {
                result.plan.classLabels = ClassLabels(column: label.value, names: classes.value)
            } else {
                log.error("'classes' has \(counted(classes.value.count, "class")) but the network has \(counted(plan.outputUnits.count, "output unit")); it needs one output per class",
                          in: spec.path, at: classes.position)
            }
        }
        if let method = data.normalize?.value, let statistics = data.statistics {
            let (shift, scale) = statistics.value
            let inputs = plan.inputUnits.count
            if shift.count != inputs || scale.count != inputs || !(shift + scale).allSatisfy(\.isFinite) || scale.contains(0) {
                log.error("statistics need \(counted(inputs, "finite value")) in shift and in scale (scale not 0), one per input", in: spec.path, at: statistics.position)
            } else {
                result.plan.inputNormalization = InputNormalization(method: method, shift: shift, scale: scale)
            }
        }
        guard log.errorCount == errorsBefore, scope == .all || data.shapesNetwork else { return result }

        var training = loadTraining(data, spec: spec, plan: &result.plan, threads: threads, log: &log)
        if let samples = training, let fraction = data.validationSplit,
           let parts = split(samples, fraction: fraction, seed: spec.initialization.seed, file: spec.path, log: &log) {
            training = parts.training
            result.validation = parts.validation
        }
        if data.statistics == nil, let samples = training, let method = data.normalize?.value {
            result.plan.inputNormalization = InputNormalization(method: method, statisticsOf: samples)
        }
        result.training = training
        // The held-out sets are read even when the training samples were not, so that every
        // problem is reported at once; but a label column's classes come from the training file.
        guard scope == .all, training != nil || data.label == nil else { return result }
        if let validation = data.validation { result.validation = load(validation, specPath: spec.path, plan: result.plan, threads: threads, log: &log) }
        if let test = data.test { result.test = load(test, specPath: spec.path, plan: result.plan, threads: threads, log: &log) }
        return result
    }

    /// Loads one sample set written in the spec (`data.test`, say) with the plan's layout:
    /// its column mapping and label column with the plan's classes.
    public static func load(
        _ source: SampleSource, specPath: String, plan: Plan, threads: Int = 1, log: inout DiagnosticLog
    ) -> Dataset? {
        load(source, specPath: specPath, plan: plan, layout: CSVLayout(plan: plan), threads: threads, log: &log)?.data
    }

    /// Loads a CSV file named on its own (not from a spec), e.g. data given beside a plan file,
    /// with the plan's layout. Without `targets`, only the input columns are read (and needed):
    /// the data set has no targets, as `bpc predict --csv` wants.
    public static func load(csvFile path: String, plan: Plan, targets: Bool = true, threads: Int = 1, log: inout DiagnosticLog) -> Dataset? {
        guard let file = FileBytes(contentsOf: path, maxSize: maxCSVSize, log: &log) else { return nil }
        var layout = CSVLayout(plan: plan)
        layout.readsTargets = targets
        return CSVReader(path: path, plan: plan, layout: layout, threads: threads).read(file, log: &log)?.data
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

    // MARK: Steps

    /// `data.columns` checked against the units: each header feeds a distinct input unit, or
    /// an output unit when no label column makes the targets. Problems are the spec's.
    private static func columnMappings(_ data: DataSpec, plan: Plan, file: String, log: inout DiagnosticLog) -> [ColumnMapping]? {
        if let label = data.label, let column = data.columns?.first(where: { $0.header.value == label.value }) {
            log.error("the label column '\(label.value)' also feeds unit \(column.unit.text) in data.columns; a column is one or the other",
                      in: file, at: label.position)
        }
        guard let columns = data.columns else { return nil }
        var roles: [String: UnitRole] = [:]
        for unit in plan.inputUnits + plan.outputUnits { roles[plan.unitNames[Int(unit)]] = plan.roles[Int(unit)] }
        var fedBy: [String: String] = [:]
        var mappings: [ColumnMapping] = []
        for column in columns {
            let unit = column.unit.text
            let header = column.header.value
            switch roles[unit] {
            case nil:
                let isGroup = column.unit.member == nil && plan.unitNames.contains(unit + "[0]")
                let isHidden = plan.unitNames.contains(unit)
                let hint = suggestion(for: unit, among: roles.keys.sorted())
                log.error(isGroup ? "'\(unit)' is a group; a column feeds one unit, like \(unit)[0]"
                          : isHidden ? "'\(unit)' is a hidden unit; columns feed input and output units"
                          : "unknown unit '\(unit)'\(hint)", in: file, at: column.unit.position)
            case .output? where data.label != nil:
                log.error("'\(unit)' is an output unit, but the targets come from the label column '\(data.label?.value ?? "")'; map columns to input units",
                          in: file, at: column.unit.position)
            default:
                if let earlier = fedBy[unit] {
                    log.error("unit \(unit) is already fed by column '\(earlier)'", in: file, at: column.unit.position)
                }
                fedBy[unit] = header
                mappings.append(ColumnMapping(header: header, unit: unit))
            }
        }
        return mappings
    }

    /// The training samples; with a label column, the classes found become the plan's.
    private static func loadTraining(_ data: DataSpec, spec: ModelSpec, plan: inout Plan, threads: Int, log: inout DiagnosticLog) -> Dataset? {
        var layout = CSVLayout(plan: plan)
        if let label = data.label {
            layout.label = LabelColumn(name: label.value, classes: data.classes?.value)
            layout.ignoresOtherColumns = true
        }
        guard let contents = load(data.training, specPath: spec.path, plan: plan, layout: layout, threads: threads, log: &log) else { return nil }
        guard let label = data.label, data.classes == nil, let classes = contents.classes else { return contents.data }
        let outputs = plan.outputUnits.count
        guard classes.count == outputs else {
            let listed = classes.prefix(8).joined(separator: ", ") + (classes.count > 8 ? ", ..." : "")
            log.error("label '\(label.value)' has \(counted(classes.count, "class")) (\(listed)) but the network has \(counted(outputs, "output unit")) (\(names(plan.outputUnits, plan))); it needs one output per class",
                      in: spec.path, at: label.position)
            return nil
        }
        plan.classLabels = ClassLabels(column: label.value, names: classes)
        return contents.data
    }

    /// Inline samples (lengths and targets checked at each sample) or a CSV file.
    private static func load(
        _ source: SampleSource, specPath: String, plan: Plan, layout: CSVLayout, threads: Int, log: inout DiagnosticLog
    ) -> CSVReader.Contents? {
        switch source {
        case .samples(let samples):
            let errorsBefore = log.errorCount
            var dataset = Dataset(inputWidth: plan.inputUnits.count, targetWidth: plan.outputUnits.count)
            dataset.inputs.reserveCapacity(samples.count * dataset.inputWidth)
            dataset.targets.reserveCapacity(samples.count * dataset.targetWidth)
            for sample in samples {
                guard checkWidths(input: sample.input.count, target: sample.target.count, plan: plan,
                                  file: specPath, at: sample.position, log: &log) else { continue }
                if let problem = plan.loss.targetProblem(sample.target[...]) {
                    let output = problem.output.map { " (output \(plan.unitNames[Int(plan.outputUnits[$0])]))" } ?? ""
                    log.error(problem.message + output, in: specPath, at: sample.position)
                    continue
                }
                dataset.append(input: sample.input, target: sample.target)
            }
            return log.errorCount == errorsBefore ? CSVReader.Contents(data: dataset) : nil
        case .csv(let path):
            let resolved = resolve(path.value, relativeTo: specPath)
            var fileLog = DiagnosticLog()
            guard let file = FileBytes(contentsOf: resolved, maxSize: maxCSVSize, log: &fileLog) else {
                log.error("cannot read data file '\(path.value)' (\(resolved)): \(fileLog.diagnostics.first?.message ?? "unreadable")", in: specPath, at: path.position)
                return nil
            }
            return CSVReader(path: resolved, plan: plan, layout: layout, threads: threads).read(file, log: &log)
        }
    }

    /// Sets aside `fraction` of the samples (rounded to the nearest count) for validation:
    /// the first ones of a Fisher-Yates shuffle of the sample indices drawn from SplitMix64
    /// seeded with `init.seed` xor a constant (a stream of its own, apart from the weights' and
    /// the shuffle's), so a spec and seed always set aside the same samples. Both parts keep
    /// the file's order.
    private static func split(
        _ data: Dataset, fraction: Located<Double>, seed: UInt64, file: String, log: inout DiagnosticLog
    ) -> (training: Dataset, validation: Dataset)? {
        let count = data.count
        let setAside = Int((fraction.value * Double(count)).rounded())
        guard setAside >= 1 && setAside < count else {
            log.error("validation_split \(fraction.value) of \(counted(count, "training sample")) sets aside \(setAside); training and validation need at least one sample each",
                      in: file, at: fraction.position)
            return nil
        }
        var order = Array(0..<count)
        var generator = SeededGenerator(seed: seed ^ validationStream)
        for index in 0..<setAside { order.swapAt(index, index + generator.nextIndex(below: count - index)) }
        var isValidation = [Bool](repeating: false, count: count)
        for index in order[0..<setAside] { isValidation[index] = true }
        var training = Dataset(inputWidth: data.inputWidth, targetWidth: data.targetWidth)
        var validation = training
        for sample in 0..<count {
            if isValidation[sample] {
                validation.inputs += data.input(sample)
                validation.targets += data.target(sample)
            } else {
                training.inputs += data.input(sample)
                training.targets += data.target(sample)
            }
        }
        return (training, validation)
    }

    /// "VALIDATE" in ASCII: separates the split's stream from the others drawn from `init.seed`.
    private static let validationStream: UInt64 = 0x5641_4C49_4441_5445
}

/// A data file's bytes, mapped read-only. Reading a large file into an array costs more than
/// parsing it: every page of the new array is faulted in and zeroed before the copy (about
/// 1 ms a megabyte on a virtual machine), where a mapping shares the page cache's pages. A file
/// that cannot be mapped (empty, or on a file system without mappings) is read instead.
///
/// A mapped file that another process truncates while it is read faults (SIGBUS), as with
/// every memory-mapped reader; data files are not rewritten while they are read.
///
/// Immutable, so threads may share it (`@unchecked` because it holds a pointer); the bytes
/// live as long as it does, so keep it alive (`withExtendedLifetime`) while they are used.
final class FileBytes: @unchecked Sendable {
    let bytes: UnsafeBufferPointer<UInt8>
    private let isMapped: Bool

    /// The file's bytes, or nil with the problem logged (as `readRegularFile` reports it).
    init?(contentsOf path: String, maxSize: Int, log: inout DiagnosticLog) {
        guard let file = openRegularFile(path, maxSize: maxSize, log: &log) else { return nil }
        defer { fclose(file) }
        var status = stat()
        let size = fstat(fileno(file), &status) == 0 ? Int(status.st_size) : 0
        if size > 0, let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, fileno(file), 0), mapping != MAP_FAILED {
            bytes = UnsafeBufferPointer(start: mapping.assumingMemoryBound(to: UInt8.self), count: size)
            isMapped = true
        } else {
            guard let contents = readRegularFile(path, maxSize: maxSize, log: &log) else { return nil }
            let copy = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: contents.count)
            _ = copy.initialize(from: contents)
            bytes = UnsafeBufferPointer(copy)
            isMapped = false
        }
    }

    deinit {
        if isMapped {
            munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count)
        } else {
            bytes.deallocate()
        }
    }
}

/// "1 output", "3 outputs"; "1 class", "3 classes".
public func counted(_ count: Int, _ noun: String) -> String {
    let plural = noun.hasSuffix("s") ? noun + "es" : noun + "s"
    return "\(count) \(count == 1 ? noun : plural)"
}
