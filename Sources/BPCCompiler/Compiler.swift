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
    /// The written initial weight, or NaN when `init` chooses it (written weights are finite).
    var weights: [Double] = []
    /// Index of the `edges` entry that created each edge, for diagnostics and `share`; nil
    /// while every entry so far created one edge (edge i is entry i), as in large specs.
    var entries: [Int32]?

    var count: Int { sources.count }

    func entry(of edge: Int) -> Int { entries.map { Int($0[edge]) } ?? edge }

    /// Appends edge `source -> target`, created by `entry`.
    mutating func append(_ source: Int, _ target: Int, weight: Double, entry: Int) {
        if entries == nil && entry != count { entries = (0..<Int32(count)).map { $0 } }
        sources.append(Int32(source))
        targets.append(Int32(target))
        weights.append(weight)
        entries?.append(Int32(entry))
    }
}

/// What a reference of the spec's edge table stands for: declared units `first ..< first +
/// count`, or (count 0) the problem to report wherever it is used.
private struct ResolvedReference {
    var first: Int32
    var count: Int32
    var problem: String?

    var units: Range<Int> { Int(first)..<Int(first + count) }
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

    /// The units a reference stands for, as a range of declared indices, or the problem.
    private func resolve(name: String, member: Int?) -> ResolvedReference {
        func problem(_ message: String) -> ResolvedReference { ResolvedReference(first: 0, count: 0, problem: message) }
        var text: String { UnitReference(name: name, member: member, position: .startOfFile).text }
        guard let named = names[name] else {
            return problem("unknown unit '\(text)'\(suggestion(for: name, among: spec.units.lazy.map(\.name.value)))")
        }
        guard let member else {
            return ResolvedReference(first: Int32(named.first), count: Int32(named.groupSize ?? 1), problem: nil)
        }
        guard let size = named.groupSize else {
            return problem("'\(name)' is a single unit, not a group; write '\(name)'")
        }
        guard member < size else {
            return problem("group '\(name)' has \(size) members (\(name)[0] to \(name)[\(size - 1)]); there is no \(text)")
        }
        return ResolvedReference(first: Int32(named.first + member), count: 1, problem: nil)
    }

    /// Every edge of every entry, in entry order, each reference resolved once per distinct
    /// reference (a million entries name a few thousand units) and its problems reported at
    /// every use.
    mutating func createEdges() {
        let table = spec.edges
        let resolved = (0..<table.referenceCount).map { id in
            resolve(name: table.referenceName(Int32(id)), member: table.referenceMember(Int32(id)))
        }
        /// The number of units a side stands for, or nil with the side's problems reported.
        func unitCount(_ side: EdgeTable.Side, of entry: Int) -> Int? {
            var total = 0
            var failed = false
            for index in 0..<table.referenceCount(side, of: entry) {
                let reference = resolved[Int(table.reference(index, side, of: entry))]
                if let problem = reference.problem {
                    error(problem, at: table.position(ofReference: index, side, of: entry))
                    failed = true
                }
                total += Int(reference.count)
            }
            return failed ? nil : total
        }
        // Large specs create one edge per entry.
        edges.sources.reserveCapacity(table.count)
        edges.targets.reserveCapacity(table.count)
        edges.weights.reserveCapacity(table.count)
        var total = 0
        var overLimit = false
        for entry in 0..<table.count {
            let sourceCount = unitCount(.from, of: entry)
            let targetCount = unitCount(.to, of: entry)
            if targetCount != nil {
                for index in 0..<table.referenceCount(.to, of: entry) {
                    let id = table.reference(index, .to, of: entry)
                    if units.roles[Int(resolved[Int(id)].first)] == .input {
                        let text = UnitReference(name: table.referenceName(id), member: table.referenceMember(id), position: .startOfFile).text
                        error("edge into input unit '\(text)'; inputs take no incoming edges", at: table.position(ofReference: index, .to, of: entry))
                    }
                }
            }
            guard let sourceCount, let targetCount else { continue }
            let (created, overflow) = sourceCount.multipliedReportingOverflow(by: targetCount)
            let weight = table.weight(of: entry)
            if case .values(let list)? = weight, !overflow, list.count != created {
                error("weight lists \(list.count) numbers but this entry creates \(created) edges (\(sourceCount) x \(targetCount), from-major)", at: table.weightPosition(of: entry) ?? table.position(of: entry))
                continue
            }
            total = overflow ? Int.max : total.addingReportingOverflow(created).partialValue
            if total > limits.maxEdges || overflow || total < 0 {
                if !overLimit {
                    error("the spec creates more than \(limits.maxEdges) edges (counting group-to-group entries); \(Limits.advice(limits.maxEdges, .maxEdges))", at: table.position(of: entry))
                }
                overLimit = true
                continue
            }
            if overLimit || log.hasErrors { continue }
            // Every pair, from-major: sources in the order written (a group's members in order),
            // then targets likewise.
            var next = 0
            for sourceIndex in 0..<table.referenceCount(.from, of: entry) {
                for source in resolved[Int(table.reference(sourceIndex, .from, of: entry))].units {
                    for targetIndex in 0..<table.referenceCount(.to, of: entry) {
                        for target in resolved[Int(table.reference(targetIndex, .to, of: entry))].units {
                            let value: Double
                            switch weight {
                            case .value(let written)?: value = written
                            case .values(let list)?: value = list[next]
                            case nil: value = .nan
                            }
                            edges.append(source, target, weight: value, entry: entry)
                            next += 1
                        }
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
