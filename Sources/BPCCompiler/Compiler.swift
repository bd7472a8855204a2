import BPCPlan
import BPCSpec

/// The result of compiling a spec: the plan and what is needed to point back into the spec.
public struct Compilation: Sendable {
    public var plan: Plan
    /// Where each plan unit (by plan index) was declared.
    public var unitPositions: [SourcePosition]

    public init(plan: Plan, unitPositions: [SourcePosition]) {
        self.plan = plan
        self.unitPositions = unitPositions
    }
}

/// The compiler stage: `ModelSpec` -> `Plan`.
///
/// Passes, each reporting every problem it finds before the next runs on what is valid:
/// 1. `expandUnits`: groups become members `h[0]` ..., names must be unique, defaults applied.
/// 2. `createEdges`: references resolve to units, F x T pairs are counted against the edge
///    limit before any is created, weight lists must match, nothing may point into an input.
/// 3. `order`: fan-in by counting sort (keeping creation order within a unit), duplicate
///    pairs, then a topological order (inputs first, ties by declaration) or the cycles.
/// 4. `lower`: renumber units by that order and build fan-in, fan-out and parameters.
/// - Complexity: O(units + edges) time and memory, apart from the O(units log units) heap of
///   the topological sort.
public enum Compiler {
    public static func compile(_ spec: ModelSpec, limits: Limits = Limits(), log: inout DiagnosticLog) -> Compilation? {
        var context = CompilerContext(spec: spec, limits: limits, log: log)
        let result = context.run()
        log = context.log
        return result
    }
}

/// A unit after group expansion, in declaration order.
struct DeclaredUnits {
    var names: [String] = []
    var roles: [UnitRole] = []
    var activations: [Activation] = []
    /// Nil: no bias; otherwise its initial value.
    var biases: [Double?] = []
    var positions: [SourcePosition] = []
    /// Position of the activation that applies (the unit's own or the default's), if written.
    var activationPositions: [SourcePosition?] = []
    /// `bias: {share: KEY}`: the key each such unit's bias shares, by declared index.
    var biasShares: [Int: Located<String>] = [:]

    var count: Int { names.count }
}

/// A unit or group as named in edges.
struct NamedUnits {
    var first: Int
    /// Nil for a single unit; the member count for a group.
    var groupSize: Int?
    var position: SourcePosition
}

/// Edges in creation order (the order the spec's entries create them).
struct CreatedEdges {
    var sources: [Int32] = []
    var targets: [Int32] = []
    /// The written initial weight, or nil when `init` chooses it.
    var weights: [Double?] = []
    /// Index of the `edges` entry that created each edge, for diagnostics.
    var entries: [Int32] = []

    var count: Int { sources.count }
}

struct CompilerContext {
    let spec: ModelSpec
    let limits: Limits
    var log: DiagnosticLog
    var units = DeclaredUnits()
    var names: [String: NamedUnits] = [:]
    var edges = CreatedEdges()

    init(spec: ModelSpec, limits: Limits, log: DiagnosticLog) {
        self.spec = spec
        self.limits = limits
        self.log = log
    }

    mutating func error(_ message: String, at position: SourcePosition) {
        log.error(message, in: spec.path, at: position)
    }

    mutating func run() -> Compilation? {
        guard expandUnits() else { return nil }
        createEdges()
        if let loss = spec.loss?.value { checkOutputs(loss: loss) }
        guard !log.hasErrors, let loss = spec.loss?.value else { return nil }
        let fanIn = FanIn(edges: edges, unitCount: units.count)
        reportDuplicates(fanIn)
        guard !log.hasErrors, let order = topologicalOrder(fanIn) else { return nil }
        return lower(fanIn: fanIn, order: order, loss: loss)
    }

    // MARK: Pass 1: units

    /// Returns false when the units cannot be expanded at all (too many).
    mutating func expandUnits() -> Bool {
        var total = 0
        for unit in spec.units {
            total += unit.count?.value ?? 1
            if total > limits.maxUnits {
                error("the spec declares more than \(limits.maxUnits) units; \(Limits.advice(limits.maxUnits, .maxUnits))", at: unit.name.position)
                return false
            }
        }
        units.names.reserveCapacity(total)
        for unit in spec.units {
            let name = unit.name.value
            if let earlier = names[name] {
                error("unit '\(name)' is declared twice (first at \(earlier.position))", at: unit.name.position)
                continue
            }
            names[name] = NamedUnits(first: units.count, groupSize: unit.count?.value, position: unit.name.position)
            let (activation, activationPosition) = resolvedActivation(unit)
            let biases = resolvedBiases(unit)
            let size = unit.count?.value ?? 1
            for member in 0..<size {
                units.names.append(unit.count == nil ? name : "\(name)[\(member)]")
                units.roles.append(unit.role)
                units.activations.append(activation)
                units.activationPositions.append(activationPosition)
                units.biases.append(biases[min(member, biases.count - 1)])
                if case .shared(let key)? = (unit.role == .input ? nil : (unit.bias ?? spec.defaults.bias)?.value),
                   let position = (unit.bias ?? spec.defaults.bias)?.position {
                    units.biasShares[units.count - 1] = Located(key, at: position)
                }
                units.positions.append(unit.name.position)
            }
        }
        let position = spec.units.first?.name.position ?? spec.unitsPosition
        if !units.roles.contains(.input) {
            error("the network has no input unit; give at least one unit 'role: input'", at: position)
        }
        if !units.roles.contains(.output) {
            error("the network has no output unit; give at least one unit 'role: output'", at: position)
        }
        return true
    }

    private mutating func resolvedActivation(_ unit: UnitSpec) -> (Activation, SourcePosition?) {
        if unit.role == .input {
            if let written = unit.activation {
                error("input unit '\(unit.name.value)' has no activation; remove 'activation'", at: written.position)
            }
            return (.identity, nil)
        }
        if let written = unit.activation ?? spec.defaults.activation { return (written.value, written.position) }
        return (.sigmoid, nil)
    }

    /// One initial bias per member (a single entry when all members share it).
    private mutating func resolvedBiases(_ unit: UnitSpec) -> [Double?] {
        if unit.role == .input {
            if let written = unit.bias, written.value != .none {
                error("input unit '\(unit.name.value)' has no bias; remove 'bias'", at: written.position)
            }
            return [nil]
        }
        guard let written = unit.bias ?? spec.defaults.bias else { return [nil] }
        switch written.value {
        case .none: return [nil]
        case .trainable, .shared: return [0]
        case .value(let value): return [value]
        case .values(let values):
            guard let count = unit.count?.value else {
                error("a list of biases needs a group ('count'); '\(unit.name.value)' is one unit", at: written.position)
                return [nil]
            }
            guard values.count == count else {
                error("bias lists \(values.count) values for group '\(unit.name.value)' of \(count) units", at: written.position)
                return [nil]
            }
            return values.map { $0 }
        }
    }

    // MARK: Pass 2: edges

    /// The units a reference stands for, as a range of declared indices.
    private mutating func resolve(_ reference: UnitReference) -> Range<Int>? {
        guard let named = names[reference.name] else {
            error("unknown unit '\(reference.text)'\(suggestion(for: reference.name, among: spec.units.lazy.map(\.name.value)))", at: reference.position)
            return nil
        }
        guard let member = reference.member else {
            return named.first..<(named.first + (named.groupSize ?? 1))
        }
        guard let size = named.groupSize else {
            error("'\(reference.name)' is a single unit, not a group; write '\(reference.name)'", at: reference.position)
            return nil
        }
        guard member < size else {
            error("group '\(reference.name)' has \(size) members (\(reference.name)[0] to \(reference.name)[\(size - 1)]); there is no \(reference.text)", at: reference.position)
            return nil
        }
        return (named.first + member)..<(named.first + member + 1)
    }

    private mutating func resolveAll(_ references: UnitReferences) -> [Range<Int>]? {
        var ranges: [Range<Int>] = []
        var failed = false
        references.forEach { reference in
            if let range = resolve(reference) { ranges.append(range) } else { failed = true }
        }
        return failed ? nil : ranges
    }

    mutating func createEdges() {
        var total = 0
        var overLimit = false
        for (entryIndex, entry) in spec.edges.enumerated() {
            let sources = resolveAll(entry.from)
            let targets = resolveAll(entry.to)
            if let targets {
                var index = 0
                entry.to.forEach { reference in
                    if units.roles[targets[index].lowerBound] == .input {
                        error("edge into input unit '\(reference.text)'; inputs take no incoming edges", at: reference.position)
                    }
                    index += 1
                }
            }
            guard let sources, let targets else { continue }
            let sourceCount = sources.reduce(0) { $0 + $1.count }
            let targetCount = targets.reduce(0) { $0 + $1.count }
            let (created, overflow) = sourceCount.multipliedReportingOverflow(by: targetCount)
            if case .values(let list)? = entry.weight?.value, !overflow, list.count != created {
                error("weight lists \(list.count) numbers but this entry creates \(created) edges (\(sourceCount) x \(targetCount), from-major)", at: entry.weight?.position ?? entry.position)
                continue
            }
            total = overflow ? Int.max : total.addingReportingOverflow(created).partialValue
            if total > limits.maxEdges || overflow || total < 0 {
                if !overLimit {
                    error("the spec creates more than \(limits.maxEdges) edges (counting group-to-group entries); \(Limits.advice(limits.maxEdges, .maxEdges))", at: entry.position)
                }
                overLimit = true
                continue
            }
            if overLimit || log.hasErrors { continue }
            appendEdges(entry: entryIndex, sources: sources, targets: targets, weight: entry.weight?.value)
        }
    }

    private mutating func appendEdges(entry: Int, sources: [Range<Int>], targets: [Range<Int>], weight: WeightSpec?) {
        var next = 0
        for sourceRange in sources {
            for source in sourceRange {
                for targetRange in targets {
                    for target in targetRange {
                        edges.sources.append(Int32(source))
                        edges.targets.append(Int32(target))
                        switch weight {
                        case .value(let value)?: edges.weights.append(value)
                        case .values(let list)?: edges.weights.append(list[next])
                        case nil: edges.weights.append(nil)
                        }
                        edges.entries.append(Int32(entry))
                        next += 1
                    }
                }
            }
        }
    }

    // MARK: Loss and outputs

    mutating func checkOutputs(loss: Loss) {
        let outputs = units.roles.lazy.filter { $0 == .output }.count
        if outputs > 0 && outputs < loss.minimumOutputs, let position = spec.loss?.position {
            error("loss \(loss.name) needs at least \(loss.minimumOutputs) output units (a softmax over one output is always 1, so its loss is 0 and nothing is learnt); the network has \(outputs)", at: position)
        }
        guard let required = loss.requiredOutputActivation else { return }
        var reported = Set<SourcePosition>()
        for unit in 0..<units.count where units.roles[unit] == .output && units.activations[unit] != required {
            let position = units.activationPositions[unit] ?? units.positions[unit]
            guard reported.insert(units.positions[unit]).inserted else { continue }
            error("loss \(loss.name) needs \(required.name) output units, but '\(units.names[unit])' is \(units.activations[unit].name); write 'activation: \(required.name)'", at: position)
        }
    }
}
