/// What a unit is to the network: where samples enter, where the loss is read, or neither.
public enum UnitRole: String, CaseIterable, Sendable, Hashable {
    case input, hidden, output
}

/// The compiled network: flat arrays that are everything a runtime or an emitter needs.
///
/// The compiler lowers a spec to this value; plan files serialise it; `verify()` checks its
/// invariants so that runtimes can index its arrays without further checks.
///
/// Units are numbered by their position in a topological order (inputs first, then the rest
/// with ties broken by declaration order). Edges are numbered in fan-in order: all edges into
/// unit 0, then into unit 1, ... and, within a unit, in the order the spec created them.
///
/// | array | length | element |
/// |---|---|---|
/// | `unitNames` | units | the unit's name, e.g. `h[3]` |
/// | `roles` | units | input, hidden or output |
/// | `activations` | units | h; `identity` for input units |
/// | `biasParameter` | units | index into `parameters` of the unit's bias, or -1 |
/// | `inputUnits` | inputs | unit of each entry of a sample's `in` vector |
/// | `outputUnits` | outputs | unit of each entry of a sample's `out` vector |
/// | `fanInStart` | units + 1 | unit j's incoming edges are `fanInStart[j] ..< fanInStart[j+1]` |
/// | `fanInSource` | edges | source unit i of each incoming edge i->j (i < j) |
/// | `fanInParameter` | edges | parameter index of the edge's weight; always the edge's own index |
/// | `fanOutStart` | units + 1 | unit i's outgoing edges are `fanOutStart[i] ..< fanOutStart[i+1]` |
/// | `fanOutTarget` | edges | target unit j of each outgoing edge i->j (j > i) |
/// | `fanOutParameter` | edges | parameter index (= fan-in edge index) of that edge's weight |
/// | `parameters` | edges + biases | weights in fan-in order, then biases in unit order |
/// | `sharedWith` | parameters, or nil | -1 for a parameter of its own, else the canonical slot it shares |
///
/// A shared (tied) parameter keeps one slot per use, so the layout above does not change: the
/// members of a group hold equal values, and every runtime sums the group's gradients into
/// each member before the optimiser step, so they stay equal. `sharedWith` is nil when nothing
/// is shared, and runtimes test that once, outside their loops.
///
/// Storing weights in fan-in order makes the forward pass read them contiguously; fan-out is
/// the transpose of fan-in, listed per source unit in increasing parameter index.
public struct Plan: Sendable, Equatable {
    /// The version of this layout, written into plan files.
    public static let formatVersion = 1

    public var name: String
    public var unitNames: [String]
    public var roles: [UnitRole]
    public var activations: [Activation]
    public var biasParameter: [Int32]
    public var inputUnits: [Int32]
    public var outputUnits: [Int32]
    public var fanInStart: [Int32]
    public var fanInSource: [Int32]
    public var fanInParameter: [Int32]
    public var fanOutStart: [Int32]
    public var fanOutTarget: [Int32]
    public var fanOutParameter: [Int32]
    public var parameters: [Double]
    public var loss: Loss
    /// What the network keeps from its data (all optional; see DataLayout.swift): CSV header
    /// names mapped to units (`data.columns`), the classes of a label column (`data.label`),
    /// and the input normalisation every consumer applies to raw inputs (`data.normalize`).
    public var columns: [ColumnMapping]?
    public var classLabels: ClassLabels?
    public var inputNormalization: InputNormalization?
    /// Tied parameters: for every parameter slot, -1 when it is its own parameter, else the
    /// index of the canonical slot whose value it shares (a canonical slot shares nothing).
    /// Nil when nothing is shared.
    public var sharedWith: [Int32]?

    public init(
        name: String, unitNames: [String], roles: [UnitRole], activations: [Activation],
        biasParameter: [Int32], inputUnits: [Int32], outputUnits: [Int32],
        fanInStart: [Int32], fanInSource: [Int32], fanInParameter: [Int32],
        fanOutStart: [Int32], fanOutTarget: [Int32], fanOutParameter: [Int32],
        parameters: [Double], loss: Loss,
        columns: [ColumnMapping]? = nil, classLabels: ClassLabels? = nil, inputNormalization: InputNormalization? = nil,
        sharedWith: [Int32]? = nil
    ) {
        self.name = name
        self.unitNames = unitNames
        self.roles = roles
        self.activations = activations
        self.biasParameter = biasParameter
        self.inputUnits = inputUnits
        self.outputUnits = outputUnits
        self.fanInStart = fanInStart
        self.fanInSource = fanInSource
        self.fanInParameter = fanInParameter
        self.fanOutStart = fanOutStart
        self.fanOutTarget = fanOutTarget
        self.fanOutParameter = fanOutParameter
        self.parameters = parameters
        self.loss = loss
        self.columns = columns
        self.classLabels = classLabels
        self.inputNormalization = inputNormalization
        self.sharedWith = sharedWith
    }

    /// The class of each output unit, when the data has a label column.
    public var classNames: [String]? { classLabels?.names }

    public var unitCount: Int { unitNames.count }
    public var edgeCount: Int { fanInSource.count }
    public var parameterCount: Int { parameters.count }

    /// The target unit of every edge, indexed by edge (= weight parameter) index.
    public func edgeTargets() -> [Int32] {
        var targets = [Int32](repeating: 0, count: edgeCount)
        for unit in 0..<unitCount {
            for edge in Int(fanInStart[unit])..<Int(fanInStart[unit + 1]) {
                targets[edge] = Int32(unit)
            }
        }
        return targets
    }

    /// The key of every parameter, as the spec format names them: `from->to` or `unit.bias`.
    public func parameterKeys() -> [String] {
        var keys = [String](repeating: "", count: parameterCount)
        for unit in 0..<unitCount {
            for edge in Int(fanInStart[unit])..<Int(fanInStart[unit + 1]) {
                keys[Int(fanInParameter[edge])] = unitNames[Int(fanInSource[edge])] + "->" + unitNames[unit]
            }
            let bias = Int(biasParameter[unit])
            if bias >= 0 { keys[bias] = unitNames[unit] + ".bias" }
        }
        return keys
    }

    /// The tied groups: each canonical slot with its sharing slots, in increasing slot order;
    /// empty when nothing is shared. Only groups of two or more slots are listed.
    public func sharedGroups() -> [[Int]] {
        guard let sharedWith else { return [] }
        var members: [Int: [Int]] = [:]
        for (slot, canonical) in sharedWith.enumerated() where canonical >= 0 {
            members[Int(canonical), default: [Int(canonical)]].append(slot)
        }
        return members.keys.sorted().map { members[$0]! }
    }

    /// The canonical slot of every parameter: itself, or the slot it shares.
    public func canonicalParameters() -> [Int] {
        guard let sharedWith else { return Array(0..<parameterCount) }
        return sharedWith.enumerated().map { $0.element >= 0 ? Int($0.element) : $0.offset }
    }

    /// Each unit's depth: 0 for a unit without fan-in, else one more than its deepest source.
    /// Units of one depth can be computed together, so drawings rank units by it.
    public func topologicalDepths() -> [Int] {
        var depths = [Int](repeating: 0, count: unitCount)
        for unit in 0..<unitCount {
            for edge in Int(fanInStart[unit])..<Int(fanInStart[unit + 1]) {
                depths[unit] = max(depths[unit], depths[Int(fanInSource[edge])] + 1)
            }
        }
        return depths
    }

    /// Sizes a user needs to budget memory for an embedded network.
    public struct Summary: Sendable, Equatable {
        public var units: Int
        public var edges: Int
        public var parameters: Int
        /// Bytes of the binary64 parameter slab.
        public var parameterBytes: Int
        /// Bytes of a, z and delta for one sample (three binary64 values per unit).
        public var activationBytesPerSample: Int

        public init(units: Int, edges: Int, parameters: Int, parameterBytes: Int, activationBytesPerSample: Int) {
            self.units = units
            self.edges = edges
            self.parameters = parameters
            self.parameterBytes = parameterBytes
            self.activationBytesPerSample = activationBytesPerSample
        }
    }

    public var summary: Summary {
        Summary(
            units: unitCount, edges: edgeCount, parameters: parameterCount,
            parameterBytes: parameterCount * MemoryLayout<Double>.size,
            activationBytesPerSample: 3 * unitCount * MemoryLayout<Double>.size
        )
    }
}
