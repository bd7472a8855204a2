import BPCEmit
import BPCPlan

/// dE/dw of one parameter for one sample, derived as the lecture notes derive it: the chain rule
/// as a sum over every path from the parameter's unit to the outputs (note 1, case 3), the same
/// with this sample's numbers, and note 2's recursive delta form, ending in the value the
/// runtime computes.
///
/// For a weight w_{i→j} and a path j = u_0 → u_1 → … → u_m = o to an output o, the path's term
/// is z_i · h'(a_{u_0}) w_{u_0→u_1} · h'(a_{u_1}) w_{u_1→u_2} ⋯ w_{u_{m-1}→o} · ∂E/∂a_o, with
/// ∂E/∂a_o the loss's own term (note 1's (ŷ - y) h'(a_o), note 2's y - r); z_i is 1 for a bias.
/// An output that feeds other units is a unit along longer paths as well as an end.
public struct Derivation: Sendable {
    public struct Path: Sendable, Equatable {
        /// Unit indices from the parameter's unit to an output, in order.
        public var units: [Int]
        /// The path's term of dE/dw.
        public var value: Double
    }

    public let pass: SamplePass
    /// The parameter's index in the plan and its key (`x->h`, `h.bias`).
    public let parameter: Int
    public let key: String
    /// j: the unit the parameter feeds.
    public let unit: Int
    /// i: the weight's source unit; nil for a bias.
    public let source: Int?
    /// Every path when there are at most `maxPaths`, in the order of the units' topological
    /// positions; else the `maxPaths` paths of largest magnitude, largest first.
    public let paths: [Path]
    /// How many paths lead from the parameter's unit to an output (exact below 2^53).
    public let pathsTotal: Double
    public let maxPaths: Int
    /// The units whose δ the delta form needs (the parameter's unit and every unit on a path
    /// from it to an output), outputs first: the order backpropagation computes them in.
    public let deltaUnits: [Int]

    /// dE/dw as the runtime computes it (the delta form), which the path terms sum to up to
    /// rounding. For a tied parameter it is the sum over every use (`uses`), as the runtimes
    /// report and train with.
    public var value: Double { pass.gradients[parameter] }
    /// This slot's own use: `value` without tying; what its paths sum to.
    public var useValue: Double { pass.plan.sharedWith == nil ? value : rules.useValue(parameter) }
    /// For a tied parameter, every slot of its group (this one included) with its key and its
    /// use's term, in slot order; empty without tying.
    public var uses: [(key: String, value: Double)] {
        guard pass.plan.sharedWith != nil else { return [] }
        let canonical = pass.plan.canonicalParameters()
        let group = canonical.indices.filter { canonical[$0] == canonical[parameter] }
        guard group.count > 1 else { return [] }
        let keys = pass.plan.parameterKeys()
        return group.map { (keys[$0], rules.useValue($0)) }
    }
    public var isComplete: Bool { Double(paths.count) == pathsTotal }
    /// The sum of the path terms not listed: this use's value less the listed ones.
    public var omittedSum: Double { useValue - paths.reduce(0) { $0 + $1.value } }

    public enum Failure: Error, Equatable {
        case parameterOutOfRange(Int)
        case maxPathsOutOfRange
    }

    /// The most paths a derivation lists: the search keeps up to this many terms per unit, so
    /// memory grows with units x paths listed; a listing longer than this is no longer read.
    public static let maxPathsLimit = 10_000

    /// For a tied parameter, the derivations of the other slots of its group (each use's own
    /// paths), in slot order; empty without tying. Derived on each access.
    public var otherUses: [Derivation] {
        guard pass.plan.sharedWith != nil else { return [] }
        let canonical = pass.plan.canonicalParameters()
        return canonical.indices.compactMap { slot in
            guard slot != parameter, canonical[slot] == canonical[parameter] else { return nil }
            return try? Derivation(pass, parameter: slot, maxPaths: maxPaths)
        }
    }

    /// Derives `parameter` (an index into the plan's parameters) for the sample `pass` ran.
    public init(_ pass: SamplePass, parameter: Int, maxPaths: Int = 64) throws(Failure) {
        let plan = pass.plan
        guard (0..<plan.parameterCount).contains(parameter) else { throw .parameterOutOfRange(parameter) }
        guard (1...Self.maxPathsLimit).contains(maxPaths) else { throw .maxPathsOutOfRange }
        self.pass = pass
        self.parameter = parameter
        self.maxPaths = maxPaths
        key = plan.parameterKeys()[parameter]
        let owner = DeltaRules(pass).parameterSymbol(parameter)
        unit = owner.unit
        source = owner.source
        let search = PathSearch(pass: pass, from: owner.unit, keep: maxPaths)
        pathsTotal = search.counts[owner.unit]
        let sourceValue = owner.source.map { pass.activations[$0] } ?? 1
        var paths = search.paths().map { Path(units: $0.units, value: sourceValue * $0.suffix) }
        if Double(paths.count) == search.counts[owner.unit] {
            paths.sort { $0.units.lexicographicallyPrecedes($1.units) }
        }
        self.paths = paths
        deltaUnits = (owner.unit..<plan.unitCount).reversed().filter { search.counts[$0] > 0 }
    }

    // MARK: Renderings

    private var rules: DeltaRules { DeltaRules(pass) }

    /// The symbol of the derivative, ∂E/∂w_{i→j} or ∂E/∂b_j.
    public var derivative: MathExpression { .partial(.symbol(.loss, .none), rules.parameterSymbol(parameter).symbol) }

    /// A path's term as the notes write it: the loss's term at the output, then each edge's
    /// weight and each unit's slope going back, then z_i.
    public func symbols(of path: Path) -> MathExpression {
        let notation = rules.notation
        guard let last = path.units.last else { return .number(0) }
        var factors = notation.outputTerm(last).factors
        for step in stride(from: path.units.count - 2, through: 0, by: -1) {
            factors.append(notation.weight(from: path.units[step], to: path.units[step + 1]))
            if let slope = notation.slope(path.units[step]) { factors.append(slope) }
        }
        if let source { factors.append(notation.z(source)) }
        return factors.count == 1 ? factors[0] : .product(factors)
    }

    /// The same term with this sample's numbers.
    public func numbers(of path: Path) -> MathExpression {
        let plan = pass.plan
        guard let last = path.units.last else { return .number(0) }
        let notation = rules.notation
        // The loss's term as its own factors ((ŷ - y), h'(a_o), 2/n), each beside its symbol.
        let term = notation.outputTerm(last).numbers
        var factors: [MathExpression]
        if case .product(let parts) = term { factors = parts } else { factors = [term] }
        for step in stride(from: path.units.count - 2, through: 0, by: -1) {
            let from = path.units[step], to = path.units[step + 1]
            for edge in Int(plan.fanInStart[to])..<Int(plan.fanInStart[to + 1]) where Int(plan.fanInSource[edge]) == from {
                factors.append(.number(plan.parameters[Int(plan.fanInParameter[edge])]))
            }
            if notation.slope(from) != nil { factors.append(.number(pass.slopes[from])) }
        }
        if let source { factors.append(.number(pass.activations[source])) }
        return factors.count == 1 ? factors[0] : .product(factors)
    }

    /// The symbolic sum over the listed paths, as one line of text (`--json`'s `formula`).
    public var formula: String {
        guard !paths.isEmpty else { return "0" }
        var text = MathExpression.sum(paths.map(symbols(of:))).text
        if !isComplete { text += " + … (\(PathSearch.countText(pathsTotal - Double(paths.count))) more)" }
        return text
    }

    func route(_ path: Path) -> String { path.units.map { pass.plan.unitNames[$0] }.joined(separator: " → ") }

    /// The whole derivation: notation, the chain rule over paths, the numbers, the delta form
    /// and the value.
    public var explanation: Explanation {
        let plan = pass.plan
        let notation = rules.notation
        let j = plan.unitNames[unit]
        var blocks: [ExplanationBlock] = []
        let inputs = zip(plan.inputUnits, pass.input).map { "\(plan.unitNames[Int($0)]) = \(NumberText.short($1))" }
        let targets = zip(plan.outputUnits, pass.target).map { "\(plan.unitNames[Int($0)]) = \(NumberText.short($1))" }
        blocks.append(.paragraph([.text("Network \(plan.name), one sample: input \(inputs.joined(separator: ", ")); target \(targets.joined(separator: ", ")). Loss \(plan.loss.name):")]))
        blocks.append(.equations([EquationRow(.symbol(.loss, .none), .equals, [notation.lossDefinition, .number(pass.loss)])]))
        blocks.append(.paragraph([
            .text("Notation: "), .math(.symbol(.netInput, unit: "j")), .text(" is unit j's net input, "),
            .math(.symbol(.output, unit: "j")), .text(" its output (an input unit's is the input), "),
            .math(.symbol(.weight, .edge(from: "i", to: "j"))), .text(" the weight of the edge from i to j, "),
            .math(.symbol(.delta, unit: "j")), .text(" = "), .math(.partial(.symbol(.loss, .none), .symbol(.netInput, unit: "j"))),
            .text("; "),
        ] + notation.lossLetters + [.text(".")]))

        blocks.append(.heading("1. The chain rule, one term per path"))
        guard !paths.isEmpty else {
            blocks.append(.paragraph([.text("No path leads from \(j) to an output, so E does not depend on \(key): "),
                                      .math(derivative), .text(" = 0.")]))
            return Explanation(title: "The gradient of \(key)", blocks: blocks)
        }
        let count = PathSearch.countText(pathsTotal)
        let listing = isComplete
            ? (pathsTotal == 1 ? "One path leads from \(j) to an output:" : "\(count) paths lead from \(j) to the outputs; the derivative sums the chain rule along each (note 1, case 3):")
            : "\(count) paths lead from \(j) to the outputs; the \(paths.count == 1 ? "largest term is" : "\(paths.count) largest terms are") listed (--max-paths), the delta form below covers them all:"
        blocks.append(.paragraph([.text(listing)]))
        let symbolRows = paths.enumerated().map { index, path in
            EquationRow(index == 0 ? derivative : nil, index == 0 ? .equals : .plus, [symbols(of: path)], note: route(path))
        }
        blocks.append(.equations(symbolRows))
        if !isComplete {
            let rest = pathsTotal - Double(paths.count)
            blocks.append(.paragraph([.text(rest == 1 ? "+ the term of 1 more path." : "+ the terms of \(PathSearch.countText(rest)) more paths.")]))
        }

        blocks.append(.heading("2. With this sample's numbers"))
        var numberRows = paths.enumerated().map { index, path in
            EquationRow(index == 0 ? derivative : nil, index == 0 ? .equals : .plus, [numbers(of: path), .number(path.value)],
                        note: route(path), breaksLines: false)
        }
        var terms = paths.map { MathExpression.number($0.value) }
        if !isComplete { terms.append(.number(omittedSum)) }
        if terms.count > 1 { numberRows.append(EquationRow(nil, .equals, [terms.count == 1 ? terms[0] : .sum(terms), .number(useValue)],
                                      note: isComplete ? "sum over the paths" : "listed paths and the rest")) }
        blocks.append(.equations(numberRows))
        if !isComplete {
            let rest = pathsTotal - Double(paths.count)
            blocks.append(.paragraph([.text((rest == 1 ? "The path not listed adds up to " : "The \(PathSearch.countText(rest)) paths not listed add up to ")
                + NumberText.short(omittedSum) + ".")]))
        }

        blocks.append(.heading("3. The delta rule"))
        blocks.append(.paragraph([.text("Backpropagation computes the same sum from the outputs back (note 2): ")] + Notation.deltaRule
            + [.text(", plus the loss's own term when j is an output; then ")] + Notation.gradientRule + [.text(".")]))
        let onPath = Set(deltaUnits)
        var deltaRows = deltaUnits.map { rules.deltaRow($0, counts: onPath.contains) }
        deltaRows.append(rules.gradientRow(parameter))
        blocks.append(.equations(deltaRows))
        let slopeRows = deltaUnits.compactMap { rules.slopeRow($0, counts: onPath.contains) }
        if !slopeRows.isEmpty {
            blocks.append(.paragraph([.text("where")]))
            blocks.append(.equations(slopeRows))
        }

        let uses = self.uses
        let otherUses = self.otherUses
        if !otherUses.isEmpty {
            blocks.append(.heading("4. The other uses of the tied parameter"))
            blocks.append(.paragraph([.text("\(key) is tied: it shares one parameter with \(otherUses.map(\.key).joined(separator: ", ")). Each other use's paths, with this sample's numbers:")]))
            for use in otherUses {
                blocks.append(.paragraph([.text("As \(use.key), "), .math(use.derivative), .text(":")]))
                guard !use.paths.isEmpty else {
                    blocks.append(.paragraph([.text("no path leads from \(plan.unitNames[use.unit]) to an output, so this use adds 0.")]))
                    continue
                }
                var rows = use.paths.enumerated().map { index, path in
                    EquationRow(index == 0 ? use.derivative : nil, index == 0 ? .equals : .plus,
                                [use.symbols(of: path), use.numbers(of: path), .number(path.value)], note: use.route(path), breaksLines: false)
                }
                if !use.isComplete {
                    rows.append(EquationRow(nil, .plus, [.number(use.omittedSum)], note: "the paths not listed"))
                }
                rows.append(EquationRow(nil, .equals, [.number(use.useValue)], note: "this use"))
                blocks.append(.equations(rows))
            }
        }
        blocks.append(.heading(otherUses.isEmpty ? "4. The value" : "5. The value"))
        if !uses.isEmpty {
            blocks.append(.paragraph([.text("The gradient of a tied parameter is the sum over its uses, and every key of the group reports it:")]))
            blocks.append(.equations([EquationRow(derivative, .equals, [.sum(uses.map { .number($0.value) }), .number(value)],
                                                  note: uses.map(\.key).joined(separator: " + "))]))
        }
        blocks.append(.paragraph([.math(derivative), .text(" = \(value) (binary64, the value bpc grad prints)")]))
        return Explanation(title: "The gradient of \(key)", blocks: blocks)
    }

    /// `--json`: the parameter, its value, every listed path with its units and term, the path
    /// count, the symbolic sum, and each δ of the delta form.
    public var json: JSONValue {
        let names = pass.plan.unitNames
        return .object([
            ("parameter", .string(key)),
            ("value", .number(value)),
            ("loss", .number(pass.loss)),
            ("input", .array(pass.input.map(JSONValue.number))),
            ("target", .array(pass.target.map(JSONValue.number))),
            ("paths", .array(paths.map { path in
                .object([("units", .array(path.units.map { .string(names[$0]) })), ("value", .number(path.value))])
            })),
            ("paths_total", pathsTotal < 9_007_199_254_740_992 ? .integer(Int(pathsTotal)) : .number(pathsTotal)),
            ("paths_omitted_sum", .number(isComplete ? 0 : omittedSum)),
            ("formula", .string(formula)),
            ("delta", .array(deltaUnits.map { unit in
                .object([("unit", .string(names[unit])), ("value", .number(pass.deltas[unit]))])
            })),
        ] + (uses.isEmpty ? [] : [
            ("uses", .array(uses.map { use in
                let otherUses = self.otherUses
                let paths = use.key == key ? self.paths : otherUses.first { $0.key == use.key }?.paths ?? []
                return .object([("parameter", .string(use.key)), ("value", .number(use.value)),
                                ("paths", .array(paths.map { path in
                                    .object([("units", .array(path.units.map { .string(names[$0]) })), ("value", .number(path.value))])
                                }))])
            })),
        ]))
    }
}

/// The paths from one unit to the outputs, kept to the `keep` largest terms per unit so that a
/// network with exponentially many paths costs O(edges · keep · log keep): a path's largest
/// terms are made of its suffixes' largest terms.
struct PathSearch {
    /// A path from a unit to an output, as a link to the next unit's list.
    struct Suffix {
        /// The product of slopes and weights along the suffix, times the output's loss term.
        var value: Double
        /// The fan-out slot taken, or -1 when the suffix ends at this (output) unit.
        var slot: Int32
        /// The rank of the rest in the next unit's list.
        var next: Int32
    }

    let plan: Plan
    let start: Int
    /// Per unit: the kept suffixes, largest magnitude first (or all of them).
    private(set) var best: [[Suffix]]
    /// Per unit: how many paths lead from it to an output.
    private(set) var counts: [Double]

    init(pass: SamplePass, from start: Int, keep: Int) {
        let plan = pass.plan
        self.plan = plan
        self.start = start
        let n = plan.unitCount
        var reachable = [Bool](repeating: false, count: n)
        reachable[start] = true
        for unit in start..<n where reachable[unit] {
            for slot in Int(plan.fanOutStart[unit])..<Int(plan.fanOutStart[unit + 1]) { reachable[Int(plan.fanOutTarget[slot])] = true }
        }
        let isOutput = pass.isOutput
        var best = [[Suffix]](repeating: [], count: n)
        var counts = [Double](repeating: 0, count: n)
        for unit in stride(from: n - 1, through: start, by: -1) where reachable[unit] {
            var candidates: [Suffix] = []
            var count = 0.0
            if isOutput[unit] {
                candidates.append(Suffix(value: pass.outputTerms[unit], slot: -1, next: -1))
                count += 1
            }
            for slot in Int(plan.fanOutStart[unit])..<Int(plan.fanOutStart[unit + 1]) {
                let target = Int(plan.fanOutTarget[slot])
                let factor = pass.slopes[unit] * plan.parameters[Int(plan.fanOutParameter[slot])]
                count += counts[target]
                for (rank, suffix) in best[target].enumerated() {
                    candidates.append(Suffix(value: factor * suffix.value, slot: Int32(slot), next: Int32(rank)))
                }
            }
            if candidates.count > keep {
                // NaN terms (from a diverged network) sort last instead of breaking the order.
                let size = { (suffix: Suffix) -> Double in suffix.value.isNaN ? -1 : suffix.value.magnitude }
                candidates.sort { size($0) > size($1) }
                candidates.removeSubrange(keep...)
            }
            best[unit] = candidates
            counts[unit] = count
        }
        self.best = best
        self.counts = counts
    }

    /// The kept paths from the start, with their suffix products.
    func paths() -> [(units: [Int], suffix: Double)] {
        best[start].indices.map { rank in
            var units = [start]
            var unit = start, index = rank
            while true {
                let suffix = best[unit][index]
                guard suffix.slot >= 0 else { break }
                unit = Int(plan.fanOutTarget[Int(suffix.slot)])
                index = Int(suffix.next)
                units.append(unit)
            }
            return (units, best[start][rank].value)
        }
    }

    /// A path count as a whole number (or in scientific notation beyond 2^53).
    static func countText(_ count: Double) -> String {
        count < 9_007_199_254_740_992 ? String(Int(count)) : NumberText.short(count, digits: 4)
    }
}
