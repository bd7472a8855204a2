import BPCPlan

/// A spec as the user wrote it, typed but not yet validated against itself: names are not
/// resolved, groups not expanded. Every value keeps the position it was written at, so the
/// compiler can point at it.
///
/// The parser fills in the format's defaults where a key is absent, except where the compiler
/// must know whether a key was given (unit activation and bias fall back to `defaults`).
public struct ModelSpec: Sendable {
    /// The spec's path as given; data paths are resolved relative to its folder.
    public var path: String
    public var name: String?
    public var description: String?
    public var defaults = UnitDefaults()
    public var units: [UnitSpec] = []
    /// Where the `units` list starts, for problems of the network as a whole.
    public var unitsPosition = SourcePosition.startOfFile
    /// The `edges` entries in order, as a table (see `EdgeTable`: 28 bytes an entry, where a
    /// spec with millions of entries would otherwise hold most of its memory here).
    public var edges = EdgeTable()
    /// `share: KEY` by edge entry (index into `edges`): every edge the entry creates uses the
    /// parameter named `KEY` instead of a weight of its own (so `weight` is not allowed with
    /// it). A side table, not a column of `edges`: a spec of 10^6 edge entries would carry
    /// 10^6 empty fields (24 MB) for the few entries that share.
    public var edgeShares: [Int: Located<String>] = [:]
    /// Nil only if the spec gave none (already reported).
    public var loss: Located<Loss>?
    public var initialization = InitSpec()
    public var data: DataSpec?
    public var train = TrainSpec()
    public var expectations: [Expectation] = []

    public init(path: String) { self.path = path }
}

public struct UnitDefaults: Sendable {
    public var activation: Located<Activation>?
    public var bias: Located<BiasSpec>?
    public init() {}
}

/// One entry of `units`: a unit, or a group of `count` units.
public struct UnitSpec: Sendable {
    public var name: Located<String>
    public var role: UnitRole = .hidden
    public var activation: Located<Activation>?
    public var bias: Located<BiasSpec>?
    public var count: Located<Int>?

    public init(name: Located<String>) { self.name = name }
}

public enum BiasSpec: Sendable, Equatable {
    /// `false`: no bias term.
    case none
    /// `true`: a trainable bias initialised to 0.
    case trainable
    /// A number: a trainable bias starting there.
    case value(Double)
    /// On a group: one starting value per member.
    case values([Double])
    /// `{share: KEY}`: no parameter of its own; the bias uses the parameter named `KEY`
    /// (every member of a group does).
    case shared(String)
}

/// A unit, group or member named in an edge: `h`, `h[3]`.
public struct UnitReference: Sendable, Equatable {
    public var name: String
    public var member: Int?
    public var position: SourcePosition

    public init(name: String, member: Int?, position: SourcePosition) {
        self.name = name
        self.member = member
        self.position = position
    }

    public var text: String { member.map { "\(name)[\($0)]" } ?? name }
}

/// The `from` or `to` side of an edge entry. A single reference is stored inline: specs with
/// a million one-to-one edges should not pay an array allocation per side.
public enum UnitReferences: Sendable {
    case one(UnitReference)
    case many([UnitReference])

    public var count: Int {
        switch self {
        case .one: return 1
        case .many(let list): return list.count
        }
    }

    public func forEach(_ body: (UnitReference) throws -> Void) rethrows {
        switch self {
        case .one(let reference): try body(reference)
        case .many(let list): for reference in list { try body(reference) }
        }
    }
}

/// One entry of `edges`: every pair of F x T, from-major. The spec stores entries as rows of
/// an `EdgeTable`; this is one entry on its own, to add to a table or read from one.
public struct EdgeSpec: Sendable {
    public var from: UnitReferences
    public var to: UnitReferences
    public var weight: Located<WeightSpec>?
    public var position: SourcePosition

    public init(from: UnitReferences, to: UnitReferences, weight: Located<WeightSpec>?, position: SourcePosition) {
        self.from = from
        self.to = to
        self.weight = weight
        self.position = position
    }
}

public enum WeightSpec: Sendable, Equatable {
    case value(Double)
    case values([Double])
}

public enum InitScheme: String, CaseIterable, Sendable {
    case uniform, normal, xavier, he
}

/// `init`: how parameters without a written value start.
public struct InitSpec: Sendable {
    public var scheme: InitScheme = .uniform
    /// Nil means the scheme's default (0.5 for uniform and normal, a gain of 1 for xavier and he).
    public var scale: Double?
    public var seed: UInt64 = 0
    public init() {}
}

public struct Sample: Sendable, Equatable {
    public var input: [Double]
    public var target: [Double]
    public var position: SourcePosition

    public init(input: [Double], target: [Double], position: SourcePosition) {
        self.input = input
        self.target = target
        self.position = position
    }
}

/// Where a set of samples comes from.
public enum SampleSource: Sendable {
    case samples([Sample])
    /// A CSV path as written (relative to the spec's folder), with the position of the path.
    case csv(Located<String>)
}

public struct DataSpec: Sendable {
    public var training: SampleSource
    public var test: SampleSource?
    /// `data.validation`: held-out samples watched during training.
    public var validation: SampleSource?
    /// `data.validation_split`: the fraction of the training samples moved to validation.
    public var validationSplit: Located<Double>?
    /// `data.columns`: CSV header names mapped to units, in the order written (nil when
    /// not given; given, even empty, it makes CSV columns that feed no unit ignored).
    public var columns: [ColumnSpec]?
    /// `data.label`: the CSV column whose values are the classes (one-hot targets).
    public var label: Located<String>?
    /// `data.normalize`: the input normalisation, with statistics of the training samples.
    public var normalize: Located<InputNormalization.Method>?
    /// `data.classes`: the label column's classes, in output order, fixed instead of found in
    /// the training file (what `--save` writes, so a saved spec keeps its trained network).
    public var classes: Located<[String]>?
    /// `data.statistics`: the normalisation's shift and scale per input, fixed instead of
    /// computed from the training samples (written by `--save` for the same reason).
    public var statistics: Located<(shift: [Double], scale: [Double])>?

    public init(training: SampleSource, test: SampleSource?, validation: SampleSource? = nil) {
        self.training = training
        self.test = test
        self.validation = validation
    }

    /// True when the plan depends on the training samples (class names or statistics), so
    /// even commands that need only the network must read them.
    public var shapesNetwork: Bool { (label != nil && classes == nil) || (normalize != nil && statistics == nil) }
}

/// One entry of `data.columns`: a CSV header name and the unit its column feeds.
public struct ColumnSpec: Sendable {
    public var header: Located<String>
    public var unit: UnitReference

    public init(header: Located<String>, unit: UnitReference) {
        self.header = header
        self.unit = unit
    }
}

/// `train`: the training loop's settings, with the format's defaults.
public struct TrainSpec: Sendable {
    public var epochs = 1
    public var batchSize = 1
    public var learningRate = LearningRate.constant(0.1)
    public var shuffle = false
    public var optimizer = Optimizer.sgd
    /// Parameter key patterns as written (`*` for any unit name); the pipeline resolves them
    /// against the plan.
    public var freeze: [Located<String>] = []
    public var weightDecay = 0.0
    public var clipNorm: Double?
    public var earlyStopping: EarlyStopping?
    public init() {}
}

/// One `expect` entry: a check that `bpc test` runs.
public struct Expectation: Sendable {
    public enum Moment: String, CaseIterable, Sendable { case initial = "init", train }

    public var position: SourcePosition
    public var after = Moment.initial
    public var input: Located<[Double]>?
    public var target: Located<[Double]>?
    public var outputs: Located<[Double]>?
    public var loss: Double?
    /// Parameter keys as written, with their expected dE/dw.
    public var gradients: [(key: Located<String>, value: Double)] = []
    public var tolerance = 1e-9
    /// After training: the mean loss over `data` must be below this.
    public var lossBelow: Double?
    /// After training: accuracy on `data.test` (or `data` without a test set) must reach this.
    public var accuracyAtLeast: Double?

    public init(position: SourcePosition) { self.position = position }
}
