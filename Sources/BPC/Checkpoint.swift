/// A training run's whole state at the end of an epoch, so that a resumed run ends with
/// parameters bit-identical to a run that never stopped: parameters, optimiser moments and
/// update count, the schedule (epochs done, sample order, shuffle generator), the loss
/// histories and early stopping's state. It names what it belongs to: the plan's structure, the
/// training settings, the data, and the runtime (kind, precision, threads), each by a hash;
/// a checkpoint of anything else is refused.
///
/// Stored in a small binary format (little-endian; `bytes` documents it) that keeps every
/// binary64 value exactly and ends in a checksum, so a truncated or altered file is refused
/// before any of it is used.
public struct Checkpoint: Sendable, Equatable {
    public static let formatVersion: UInt32 = 1
    static let magic = Array("BPC-CKPT".utf8)

    /// What the checkpoint belongs to.
    public struct Identity: Sendable, Equatable {
        public var plan: UInt64
        public var settings: UInt64
        public var data: UInt64
        public var runtime: RuntimeUsed.Kind
        public var precision: Precision
        public var threads: Int
    }

    /// Early stopping's memory: the best monitored loss so far, its epoch, the epochs since, and
    /// the parameters of that epoch (when they are to be restored).
    public struct EarlyStoppingState: Sendable, Equatable {
        public var bestLoss: Double
        public var bestEpoch: Int
        public var epochsWithoutImprovement: Int
        public var bestParameters: [Double]
    }

    public var identity: Identity
    public var state: TrainingState
    public var validationHistory: [Double]
    public var earlyStopping: EarlyStoppingState?

    public var epochsDone: Int { state.schedule.epochsDone }

    // MARK: Encoding

    /// The file's bytes:
    ///
    /// | field | encoding |
    /// |---|---|
    /// | magic, version | "BPC-CKPT", u32 |
    /// | plan, settings, data hashes | u64 each |
    /// | runtime kind (0 reference, 1 fast, 2 native), precision, threads | u8, u8, u32 |
    /// | epochs done, updates, generator, optimiser step | u64 each |
    /// | sample order | u64 count, then u64 each |
    /// | loss history, validation history | u64 count, then f64 each |
    /// | parameters, first moment, second moment | u64 count, then f64 each |
    /// | early stopping | u8 (0 none, 1 present); best loss f64, best epoch u64, epochs since u64, parameters (count, f64s) |
    /// | checksum | u64 FNV-1a of every byte before it |
    public var bytes: [UInt8] {
        var out = BinaryWriter()
        out.bytes += Self.magic
        out.u32(Self.formatVersion)
        out.u64(identity.plan)
        out.u64(identity.settings)
        out.u64(identity.data)
        out.u8(identity.runtime.code)
        out.u8(identity.precision == .f32 ? 1 : 0)
        out.u32(UInt32(clamping: identity.threads))
        out.u64(UInt64(state.schedule.epochsDone))
        out.u64(UInt64(state.schedule.updates))
        out.u64(state.schedule.generator)
        out.u64(UInt64(state.optimizer.step))
        out.u64(UInt64(state.schedule.order.count))
        for index in state.schedule.order { out.u64(UInt64(index)) }
        for values in [state.schedule.lossHistory, validationHistory, state.parameters, state.optimizer.first, state.optimizer.second] {
            out.doubles(values)
        }
        if let early = earlyStopping {
            out.u8(1)
            out.f64(early.bestLoss)
            out.u64(UInt64(early.bestEpoch))
            out.u64(UInt64(early.epochsWithoutImprovement))
            out.doubles(early.bestParameters)
        } else {
            out.u8(0)
        }
        out.u64(Fingerprint.of(out.bytes))
        return out.bytes
    }

    /// Reads a checkpoint file's bytes; every count and value is checked before use.
    public init(bytes: [UInt8]) throws(CheckpointError) {
        guard bytes.count >= Self.magic.count + 12, Array(bytes.prefix(Self.magic.count)) == Self.magic else {
            throw .notACheckpoint
        }
        let body = bytes.prefix(bytes.count - 8)
        var tail = BinaryReader(bytes[(bytes.count - 8)...])
        guard let checksum = tail.u64(), checksum == Fingerprint.of(body) else { throw .damaged }
        var input = BinaryReader(body.dropFirst(Self.magic.count))
        guard let version = input.u32() else { throw .damaged }
        guard version == Self.formatVersion else { throw .unsupportedVersion(version) }
        guard let plan = input.u64(), let settings = input.u64(), let data = input.u64(),
              let kind = input.u8().flatMap(RuntimeUsed.Kind.init(code:)), let precision = input.u8(), precision <= 1, let threads = input.u32(),
              let epochs = input.count(), let updates = input.count(), let generator = input.u64(), let step = input.count(),
              let orderCount = input.count(), orderCount <= input.remaining / 8
        else { throw .damaged }
        var order: [Int] = []
        order.reserveCapacity(orderCount)
        for _ in 0..<orderCount {
            guard let index = input.count() else { throw .damaged }
            order.append(index)
        }
        guard let losses = input.doubles(), let validation = input.doubles(), let parameters = input.doubles(),
              let first = input.doubles(), let second = input.doubles(), let flag = input.u8(), flag <= 1
        else { throw .damaged }
        var early: EarlyStoppingState?
        if flag == 1 {
            guard let best = input.f64(), let bestEpoch = input.count(), let waited = input.count(), let bestParameters = input.doubles()
            else { throw .damaged }
            early = EarlyStoppingState(bestLoss: best, bestEpoch: bestEpoch, epochsWithoutImprovement: waited, bestParameters: bestParameters)
        }
        guard input.remaining == 0 else { throw .damaged }
        identity = Identity(plan: plan, settings: settings, data: data, runtime: kind,
                            precision: precision == 1 ? .f32 : .f64, threads: Int(threads))
        state = TrainingState(
            schedule: ScheduleState(epochsDone: epochs, updates: updates, order: order, generator: generator, lossHistory: losses),
            optimizer: OptimizerSnapshot(step: step, first: first, second: second), parameters: parameters)
        validationHistory = validation
        earlyStopping = early
    }

    init(identity: Identity, state: TrainingState, validationHistory: [Double], earlyStopping: EarlyStoppingState?) {
        self.identity = identity
        self.state = state
        self.validationHistory = validationHistory
        self.earlyStopping = earlyStopping
    }

    /// Why a checkpoint cannot continue this model's training, or nil when it can: every
    /// identity hash, and every array's size and values against the plan, data and settings
    /// (a file can pass its checksum and still be hostile).
    func mismatch(with expected: Identity, parameterCount: Int, samples: Int, settings: TrainingSettings) -> String? {
        if identity.plan != expected.plan { return "it belongs to another network (the plan's structure differs)" }
        if identity.settings != expected.settings {
            return "it was trained with other settings (batch size, learning rate, optimiser, shuffle, seed, regularisation or early stopping differ; only epochs may change)"
        }
        if identity.data != expected.data { return "it was trained on other data" }
        let schedule = state.schedule
        guard state.parameters.count == parameterCount, state.parameters.allSatisfy(\.isFinite) else { return "its parameters are damaged" }
        let moments = settings.optimizer.momentCount
        guard state.optimizer.first.count == (moments > 0 ? parameterCount : 0),
              state.optimizer.second.count == (moments > 1 ? parameterCount : 0),
              state.optimizer.step <= schedule.updates else { return "its optimiser state does not fit the network" }
        guard schedule.order.count == samples, Set(schedule.order) == Set(0..<samples) else { return "its sample order does not fit the data" }
        guard schedule.lossHistory.count == schedule.epochsDone,
              validationHistory.isEmpty || validationHistory.count == schedule.epochsDone else { return "its loss histories are damaged" }
        if let early = earlyStopping, !early.bestParameters.isEmpty && early.bestParameters.count != parameterCount {
            return "its early-stopping state is damaged"
        }
        return nil
    }
}

/// Why bytes are not a usable checkpoint.
public enum CheckpointError: Error, Sendable, Equatable, CustomStringConvertible {
    case notACheckpoint
    case damaged
    case unsupportedVersion(UInt32)
    /// A well-formed checkpoint of something else (`reason` says what differs).
    case mismatch(String)

    public var description: String {
        switch self {
        case .notACheckpoint: return "not a bpc checkpoint"
        case .damaged: return "the checkpoint is truncated or damaged (its checksum or layout is wrong)"
        case .unsupportedVersion(let version): return "checkpoint format version \(version) is not supported (this bpc reads version \(Checkpoint.formatVersion))"
        case .mismatch(let reason): return "the checkpoint cannot continue this run: \(reason)"
        }
    }
}

struct BinaryWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u32(_ value: UInt32) { for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) } }
    mutating func u64(_ value: UInt64) { for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) } }
    mutating func f64(_ value: Double) { u64(value.bitPattern) }

    mutating func doubles(_ values: [Double]) {
        u64(UInt64(values.count))
        for value in values { f64(value) }
    }
}

/// Reads what `BinaryWriter` wrote; every read returns nil past the end instead of trapping.
struct BinaryReader {
    private var bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    var remaining: Int { bytes.count }

    mutating func u8() -> UInt8? { bytes.popFirst() }

    mutating func u32() -> UInt32? { little(4).map { UInt32(truncatingIfNeeded: $0) } }
    mutating func u64() -> UInt64? { little(8) }
    mutating func f64() -> Double? { u64().map(Double.init(bitPattern:)) }

    /// A count or index: a u64 that fits an Int.
    mutating func count() -> Int? {
        guard let value = u64(), value <= UInt64(Int.max) else { return nil }
        return Int(value)
    }

    mutating func doubles() -> [Double]? {
        guard let count = count(), count <= remaining / 8 else { return nil }
        var values: [Double] = []
        values.reserveCapacity(count)
        for _ in 0..<count {
            guard let value = f64() else { return nil }
            values.append(value)
        }
        return values
    }

    private mutating func little(_ width: Int) -> UInt64? {
        guard bytes.count >= width else { return nil }
        var value: UInt64 = 0
        for (index, byte) in bytes.prefix(width).enumerated() { value |= UInt64(byte) << UInt64(8 * index) }
        bytes = bytes.dropFirst(width)
        return value
    }
}

extension RuntimeUsed.Kind {
    /// The kind's byte in a checkpoint.
    var code: UInt8 {
        switch self {
        case .reference: return 0
        case .fast: return 1
        case .native: return 2
        }
    }

    init?(code: UInt8) {
        switch code {
        case 0: self = .reference
        case 1: self = .fast
        case 2: self = .native
        default: return nil
        }
    }
}
