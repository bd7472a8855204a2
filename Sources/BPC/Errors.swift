/// A source that could not be loaded: every problem found in the spec, its data files or the
/// plan file, each a `Diagnostic` with file, line and column, in source order.
public struct LoadFailure: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]

    public init(diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }

    init(_ log: DiagnosticLog) { diagnostics = log.sorted() }

    /// One `PATH:LINE:COLUMN: error: MESSAGE` line per problem.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// A request a loaded model cannot carry out: values of the wrong size, an unknown parameter,
/// training without data, or training that could not go on. Thrown instead of trapping, so a
/// program using the library can report it and go on.
public enum ModelError: Error, Sendable, Equatable, CustomStringConvertible {
    case wrongInputCount(expected: Int, given: Int)
    case wrongTargetCount(expected: Int, given: Int)
    case wrongParameterCount(expected: Int, given: Int)
    /// A key that names no parameter, with the closest key when one is a likely typo.
    case unknownParameter(key: String, closest: String?)
    /// A parameter value that is not a finite number (NaN or infinite).
    case nonFiniteParameter(key: String)
    /// Training or evaluation was asked for, but there are no samples.
    case noData
    /// The model was loaded from a plan file, so there is no spec to write back.
    case noSpec
    /// Training stopped because a loss or parameter stopped being finite.
    case diverged(NonFiniteValue)
    /// The fast runtime's buffers for this batch size would not fit in memory.
    case insufficientMemory(batchSize: Int, needed: Int, available: Int)
    /// A data set whose inputs and targets do not hold the same number of whole samples.
    case inconsistentData(inputs: Int, targets: Int)
    /// A sample (0-based) with a value the network cannot take: an input that is not finite,
    /// or a target outside what the loss accepts (a binary cross-entropy target of 2).
    case invalidSample(index: Int, problem: String)
    /// A training setting or argument outside its range (named, with the rule it breaks).
    case invalidSetting(String)
    /// A checkpoint that cannot continue this run.
    case invalidCheckpoint(CheckpointError)
    /// The native runtime was asked for and cannot run (no compiler, or the run needs what its
    /// generated step does not do).
    case nativeUnavailable(NativeUnavailable)

    public var description: String {
        switch self {
        case .wrongInputCount(let expected, let given):
            return "the input has \(given) value\(given == 1 ? "" : "s") but the network has \(expected) input\(expected == 1 ? "" : "s")"
        case .wrongTargetCount(let expected, let given):
            return "the target has \(given) value\(given == 1 ? "" : "s") but the network has \(expected) output\(expected == 1 ? "" : "s")"
        case .wrongParameterCount(let expected, let given):
            return "\(given) parameter values given but the network has \(expected) parameters"
        case .unknownParameter(let key, let closest):
            return "unknown parameter '\(key)'" + (closest.map { "; did you mean '\($0)'?" } ?? "")
        case .nonFiniteParameter(let key):
            return "parameter \(key) must be a finite number"
        case .noData:
            return "there is no data to train on or evaluate; give the spec 'data' or pass a data set"
        case .noSpec:
            return "the network was loaded from a plan file, which has no spec to write back; save it as a plan (.json)"
        case .diverged(let failure):
            return failure.description
        case .inconsistentData(let inputs, let targets):
            return "the data set's \(inputs) input values and \(targets) target values do not make the same number of whole samples"
        case .invalidSample(let index, let problem):
            return "sample \(index) of the data set: \(problem)"
        case .invalidSetting(let problem):
            return problem
        case .invalidCheckpoint(let problem):
            return problem.description
        case .nativeUnavailable(let reason):
            return "cannot train with the native runtime: \(reason)"
        case .insufficientMemory(let batchSize, let needed, let available):
            return "training batches of \(batchSize) samples needs \(needed) bytes of buffers; this machine has \(available); lower the batch size"
        }
    }
}
