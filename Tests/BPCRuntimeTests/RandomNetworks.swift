#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// SplitMix64, the test suite's own copy, so the generated networks do not move when the
/// product's generator changes.
struct TestRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed &* 0x2545_F491_4F6C_DD1D ^ 0x6A09_E667_F3BC_C908 }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
    mutating func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * unit() }
    mutating func chance(_ p: Double) -> Bool { unit() < p }
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }
}

/// A spec feature the generator can produce, for checking that the seeds cover them all.
enum GeneratedFeature: String, CaseIterable, Sendable {
    case inputGroup, hiddenGroup, outputGroup, noHiddenUnits, groupBesideSingles, twoDigitMembers, groupInList, groupOfOne
    case groupToGroupEdges, groupToUnitEdges, unitToGroupEdges, memberReference
    case sourceListEntry, targetListEntry, crossListEntry, sharedWeightEntry, blockStyleEntry
    case outputFeedsOutput, outputFeedsHidden
    case declarationNotTopological, withinGroupEdge
    case defaultActivation, defaultBias
    case biasTrue, biasNumber, biasFalse, biasOmitted, biasList, groupBiasNumber
    case unitWithoutIncomingEdges
}

/// One random network: the spec text, the same network as the reference sees it, and samples.
struct GeneratedNetwork: Sendable {
    var seed: UInt64
    var yaml: String
    var network: NetworkDescription
    var samples: [(input: [Double], target: [Double])]
    var features: Set<GeneratedFeature>
}

/// Seeded random DAG networks written as spec text (format v1).
///
/// Units get a random topological rank; groups occupy a contiguous block of ranks (members in
/// a random order inside it, so edges between members of one group exist in both index
/// directions). Every pair (earlier, later) becomes an edge with a per-network probability;
/// groups may be fully connected by one group-to-group entry. The rest of the edges are written
/// as single entries, source lists, target lists or source x target lists, some with one shared
/// weight, some in block style. Declarations are shuffled, so declared order is not
/// topological, and the `in`/`out` vectors follow the shuffled declaration order.
enum RandomNetworks {
    static func generate(seed: UInt64, samples sampleCount: Int = 2, loss fixedLoss: ReferenceLoss? = nil) -> GeneratedNetwork {
        var random = TestRandom(seed: seed)
        var features: Set<GeneratedFeature> = []
        let loss = fixedLoss ?? ReferenceLoss.allCases[Int(seed % UInt64(ReferenceLoss.allCases.count))]
        let inputCount = random.int(1...4)
        let hiddenCount = random.int(0...12)
        // Softmax over one output is a compile error (always 1); the same draw keeps the other
        // losses' networks as they were.
        let outputCount = max(random.int(1...3), loss == .softmaxCrossEntropy ? 2 : 1)
        if hiddenCount == 0 { features.insert(.noHiddenUnits) }

        // Declarations: an entry is a single unit or a group; `members` are expanded names.
        struct Declaration {
            var name: String
            var role: ReferenceRole
            var count: Int?
            var members: [String]
            var activation: ReferenceActivation?  // as written; nil: from defaults
            var biasText: String?                  // as written; nil: from defaults
            var biases: [Double?]                  // resolved, per member
            var activations: [ReferenceActivation] // resolved, per member
        }
        var declarations: [Declaration] = []

        // Units of one role: maybe a group (`x`, `h` or `y`) of some of them, the rest single
        // units (`in0`, `u0`, `o0`, ...).
        func declare(_ role: ReferenceRole, count: Int, group: String, single: String, chance: Double, largest: Int) -> Bool {
            var groupSize = 0
            if count >= 1 && random.chance(chance) {
                groupSize = largest > 5 && count > 5
                    ? random.int((count - 3)...count)
                    : random.int((count >= 2 && random.chance(0.9) ? 2 : 1)...min(count, largest))
                declarations.append(Declaration(name: group, role: role, count: groupSize,
                                                members: (0..<groupSize).map { "\(group)[\($0)]" }, biases: [], activations: []))
            }
            for index in 0..<(count - groupSize) {
                declarations.append(Declaration(name: "\(single)\(index)", role: role, members: ["\(single)\(index)"], biases: [], activations: []))
            }
            return groupSize > 0
        }
        if declare(.input, count: inputCount, group: "x", single: "in", chance: 0.5, largest: 4) { features.insert(.inputGroup) }
        if declare(.hidden, count: hiddenCount, group: "h", single: "u", chance: 0.6, largest: random.chance(0.5) ? 12 : 5) {
            features.insert(.hiddenGroup)
        }
        if declare(.output, count: outputCount, group: "y", single: "o", chance: 0.35, largest: 3) { features.insert(.outputGroup) }
        if declarations.contains(where: { group in
            group.count != nil && group.members.count < declarations.filter { $0.role == group.role }.flatMap(\.members).count
        }) {
            features.insert(.groupBesideSingles)
        }
        if declarations.contains(where: { ($0.count ?? 0) > 10 }) { features.insert(.twoDigitMembers) }
        if declarations.contains(where: { $0.count == 1 }) { features.insert(.groupOfOne) }

        // Defaults, then each declaration's activation and bias.
        let defaultActivation: ReferenceActivation? = random.chance(0.4) ? random.pick(ReferenceActivation.allCases) : nil
        // The default bias as written, and what it means: nil (no default), .some(nil) (false),
        // or .some(value) (true is 0).
        let defaultBias: String? = random.chance(0.3) ? random.pick(["true", "false", number(random.uniform(-0.5, 0.5))]) : nil
        var defaultBiasValue: Double?? = nil
        if let defaultBias {
            features.insert(.defaultBias)
            defaultBiasValue = switch defaultBias {
            case "true": .some(0)
            case "false": .some(nil)
            default: .some(Double(defaultBias)!)
            }
        }
        let requiredOutput: ReferenceActivation? = switch loss {
        case .binaryCrossEntropy: .sigmoid
        case .softmaxCrossEntropy: .identity
        default: nil
        }
        for index in declarations.indices where declarations[index].role != .input {
            let size = declarations[index].members.count
            // Activation: written, or left to the defaults (or the format's sigmoid).
            var activation: ReferenceActivation
            if declarations[index].role == .output, let requiredOutput {
                activation = requiredOutput
                if defaultActivation != requiredOutput || random.chance(0.5) {
                    declarations[index].activation = requiredOutput
                } else {
                    features.insert(.defaultActivation)
                }
            } else if random.chance(0.25) {
                activation = defaultActivation ?? .sigmoid
                if defaultActivation != nil { features.insert(.defaultActivation) }
            } else {
                activation = random.pick(ReferenceActivation.allCases)
                declarations[index].activation = activation
            }
            declarations[index].activations = Array(repeating: activation, count: size)
            // Bias: omitted (defaults), false, true, a number, or on a group a list.
            let choice = random.int(0...(declarations[index].count != nil ? 5 : 4))
            switch choice {
            case 0:
                if let defaultBiasValue {
                    declarations[index].biases = Array(repeating: defaultBiasValue, count: size)
                } else {
                    declarations[index].biases = Array(repeating: nil, count: size)
                }
                features.insert(.biasOmitted)
            case 1:
                declarations[index].biasText = "false"
                declarations[index].biases = Array(repeating: nil, count: size)
                features.insert(.biasFalse)
            case 2:
                declarations[index].biasText = "true"
                declarations[index].biases = Array(repeating: 0, count: size)
                features.insert(.biasTrue)
            case 3, 4:
                let text = number(random.uniform(-1, 1))
                declarations[index].biasText = text
                declarations[index].biases = Array(repeating: Double(text)!, count: size)
                features.insert(declarations[index].count != nil ? .groupBiasNumber : .biasNumber)
            default:
                let texts = (0..<size).map { _ in number(random.uniform(-1, 1)) }
                declarations[index].biasText = "[" + texts.joined(separator: ", ") + "]"
                declarations[index].biases = texts.map { Double($0)! }
                features.insert(.biasList)
            }
        }

        // Topological ranks: inputs first; non-input declarations as blocks in random order,
        // members shuffled inside their block.
        var inputs: [String] = []
        var blocks: [[String]] = []
        for declaration in declarations {
            if declaration.role == .input { inputs += declaration.members } else { blocks.append(declaration.members.shuffled(using: &random)) }
        }
        blocks.shuffle(using: &random)
        let ranked = inputs + blocks.flatMap { $0 }
        var rank: [String: Int] = [:]
        for (index, name) in ranked.enumerated() { rank[name] = index }
        var roleOf: [String: ReferenceRole] = [:]
        for declaration in declarations { for member in declaration.members { roleOf[member] = declaration.role } }

        // The edge set: each (earlier, later) pair with probability p; inputs never targets.
        let probability = random.uniform(0.2, 0.6)
        var edgeSet: Set<Pair> = []
        for (i, source) in ranked.enumerated() {
            for target in ranked[(i + 1)...] where roleOf[target] != .input {
                if random.chance(probability) { edgeSet.insert(Pair(source, target)) }
            }
        }
        // Make an output feed a later unit in most networks.
        if random.chance(0.7) {
            let candidates = ranked.enumerated().filter { roleOf[$0.element] == .output && $0.offset < ranked.count - 1 }
            if !candidates.isEmpty {
                let (index, output) = random.pick(candidates)
                edgeSet.insert(Pair(output, ranked[random.int((index + 1)...(ranked.count - 1))]))
            }
        }

        // Entries. `references` are the texts written on each side, `pairs` the created edges
        // in from-major order.
        struct Entry {
            var from: [String]
            var to: [String]
            var pairs: [Pair]
            var sharedWeight: Bool
        }
        var entries: [Entry] = []
        var taken: Set<Pair> = []
        func allPairs(_ from: [String], _ to: [String]) -> [Pair] {
            from.flatMap { source in to.map { Pair(source, $0) } }
        }
        func take(_ from: [String], _ to: [String], shared: Bool) {
            func expand(_ name: String) -> [String] {
                declarations.first(where: { $0.name == name && $0.count != nil })?.members ?? [name]
            }
            let expandedFrom = from.flatMap(expand)
            let expandedTo = to.flatMap(expand)
            let pairs = allPairs(expandedFrom, expandedTo)
            for pair in pairs {
                edgeSet.remove(pair)
                precondition(taken.insert(pair).inserted, "the generator made \(pair) twice")
            }
            entries.append(Entry(from: from, to: to, pairs: pairs, sharedWeight: shared))
        }
        func before(_ earlier: [String], _ later: [String]) -> Bool {
            earlier.map { rank[$0]! }.max()! < later.map { rank[$0]! }.min()!
        }
        let groups = declarations.filter { $0.count != nil }
        // Group-to-group entries where every member of one precedes every member of the other.
        for source in groups {
            for target in groups where target.name != source.name && target.role != .input {
                if before(source.members, target.members) && random.chance(0.6) {
                    take([source.name], [target.name], shared: random.chance(0.2))
                    features.insert(.groupToGroupEdges)
                }
            }
        }
        // Group-to-unit and unit-to-group entries.
        for group in groups {
            for single in declarations where single.count == nil {
                // Sometimes with another single unit beside the group in the list.
                let others = declarations.filter { $0.count == nil && $0.name != single.name }.map(\.name)
                if single.role != .input && before(group.members, [single.name]) && random.chance(0.2) {
                    var sources = [group.name]
                    if let other = others.first(where: { before([$0], [single.name]) && !taken.contains(Pair($0, single.name)) }), random.chance(0.4) {
                        sources.insert(other, at: random.int(0...1))
                        features.insert(.groupInList)
                    }
                    take(sources, [single.name], shared: random.chance(0.3))
                    features.insert(.groupToUnitEdges)
                } else if group.role != .input && before([single.name], group.members) && random.chance(0.2) {
                    var targets = [group.name]
                    if let other = others.first(where: { roleOf[$0] != .input && before([single.name], [$0]) && !taken.contains(Pair(single.name, $0)) }), random.chance(0.4) {
                        targets.insert(other, at: random.int(0...1))
                        features.insert(.groupInList)
                    }
                    take([single.name], targets, shared: random.chance(0.3))
                    features.insert(.unitToGroupEdges)
                }
            }
        }
        // The remaining edges, in a random order, as single or list entries.
        var remaining = edgeSet.sorted().shuffled(using: &random)
        while let pair = remaining.first {
            let style = random.unit()
            if style < 0.2 {
                let sources = [pair.from] + remaining.filter { $0.to == pair.to && $0.from != pair.from }.map(\.from).prefix(random.int(1...3))
                take(sources.shuffled(using: &random), [pair.to], shared: random.chance(0.25))
                if sources.count > 1 { features.insert(.sourceListEntry) }
            } else if style < 0.4 {
                let targets = [pair.to] + remaining.filter { $0.from == pair.from && $0.to != pair.to }.map(\.to).prefix(random.int(1...3))
                take([pair.from], targets.shuffled(using: &random), shared: random.chance(0.25))
                if targets.count > 1 { features.insert(.targetListEntry) }
            } else if style < 0.5,
                      let other = remaining.first(where: { candidate in
                          candidate.from != pair.from && candidate.to != pair.to
                              && edgeSet.contains(Pair(pair.from, candidate.to)) && edgeSet.contains(Pair(candidate.from, pair.to))
                      }) {
                take([pair.from, other.from], [pair.to, other.to], shared: false)
                features.insert(.crossListEntry)
            } else {
                take([pair.from], [pair.to], shared: false)
            }
            remaining = remaining.filter { edgeSet.contains($0) }
        }
        entries.shuffle(using: &random)

        // Weights, scaled by the target's fan-in so net inputs stay moderate.
        var fanIn: [String: Int] = [:]
        for entry in entries { for pair in entry.pairs { fanIn[pair.to, default: 0] += 1 } }
        var edges: [NetworkDescription.Edge] = []
        var edgeLines: [String] = []
        for entry in entries {
            let scale = 1.8 / Double(max(1, fanIn[entry.pairs[0].to]!)).squareRoot()
            let shared = entry.sharedWeight && entry.pairs.count > 1
            var weightText: String
            if shared {
                weightText = number(random.uniform(-scale, scale))
                for pair in entry.pairs { edges.append(.init(from: pair.from, to: pair.to, weight: Double(weightText)!)) }
                features.insert(.sharedWeightEntry)
            } else {
                let texts = entry.pairs.map { _ in number(random.uniform(-scale, scale)) }
                for (pair, text) in zip(entry.pairs, texts) { edges.append(.init(from: pair.from, to: pair.to, weight: Double(text)!)) }
                weightText = entry.pairs.count == 1 && random.chance(0.5) ? texts[0] : "[" + texts.joined(separator: ", ") + "]"
            }
            if (entry.from + entry.to).contains(where: { $0.contains("[") }) { features.insert(.memberReference) }
            if entry.pairs.contains(where: { roleOf[$0.from] == .output }) {
                features.insert(entry.pairs.contains { roleOf[$0.from] == .output && roleOf[$0.to] == .output } ? .outputFeedsOutput : .outputFeedsHidden)
            }
            if entry.pairs.contains(where: { $0.from.split(separator: "[").first == $0.to.split(separator: "[").first && $0.from.contains("[") }) {
                features.insert(.withinGroupEdge)
            }
            if random.chance(0.3) {
                // Block style: member names need no quotes outside flow collections.
                let side = { (names: [String]) in names.count == 1 ? names[0] : "[" + names.map(quoted).joined(separator: ", ") + "]" }
                edgeLines.append("  - from: \(side(entry.from))\n    to: \(side(entry.to))\n    weight: \(weightText)")
                features.insert(.blockStyleEntry)
            } else {
                let side = { (names: [String]) in names.count == 1 ? quoted(names[0]) : "[" + names.map(quoted).joined(separator: ", ") + "]" }
                edgeLines.append("  - {from: \(side(entry.from)), to: \(side(entry.to)), weight: \(weightText)}")
            }
        }

        // Declarations in a shuffled order; that order fixes the `in` and `out` vectors.
        declarations.shuffle(using: &random)
        var unitLines: [String] = []
        var units: [NetworkDescription.Unit] = []
        for declaration in declarations {
            var fields = ["name: \(declaration.name)"]
            if declaration.role != .hidden || random.chance(0.3) { fields.append("role: \(declaration.role.rawValue)") }
            if let activation = declaration.activation { fields.append("activation: \(activation.rawValue)") }
            if let count = declaration.count { fields.append("count: \(count)") }
            if let bias = declaration.biasText { fields.append("bias: \(bias)") }
            unitLines.append("  - {" + fields.shuffled(using: &random).joined(separator: ", ") + "}")
            for (index, member) in declaration.members.enumerated() {
                units.append(.init(name: member, role: declaration.role,
                                   activation: declaration.role == .input ? .identity : declaration.activations[index],
                                   bias: declaration.role == .input ? nil : declaration.biases[index]))
            }
        }
        let declaredRanks = units.filter { $0.role != .input }.map { rank[$0.name]! }
        if declaredRanks != declaredRanks.sorted() { features.insert(.declarationNotTopological) }
        for unit in units where unit.role != .input && !edges.contains(where: { $0.to == unit.name }) {
            features.insert(.unitWithoutIncomingEdges)
        }

        var yaml = "bpc: 1\nname: random_\(seed)\n"
        if defaultActivation != nil || defaultBias != nil {
            var fields: [String] = []
            if let defaultActivation { fields.append("activation: \(defaultActivation.rawValue)") }
            if let defaultBias { fields.append("bias: \(defaultBias)") }
            yaml += "defaults: {\(fields.joined(separator: ", "))}\n"
        }
        yaml += "units:\n" + unitLines.joined(separator: "\n") + "\n"
        yaml += "edges:" + (edgeLines.isEmpty ? " []" : "\n" + edgeLines.joined(separator: "\n")) + "\n"
        yaml += "loss: \(loss.rawValue)\n"
        yaml += "init: {scheme: uniform, scale: 0.5, seed: \(seed)}\n"

        let network = NetworkDescription(units: units, edges: edges, loss: loss)
        let samples = (0..<sampleCount).map { _ in
            sample(inputs: network.inputNames.count, outputs: network.outputNames.count, loss: loss, random: &random)
        }
        return GeneratedNetwork(seed: seed, yaml: yaml, network: network, samples: samples, features: features)
    }

    /// Inputs in (-2, 2); targets fit for the loss: any real for the squared errors, (0, 1)
    /// for binary cross-entropy, a one-hot or probability vector for softmax cross-entropy.
    static func sample(inputs: Int, outputs: Int, loss: ReferenceLoss, random: inout TestRandom) -> (input: [Double], target: [Double]) {
        let input = (0..<inputs).map { _ in random.uniform(-2, 2) }
        let target: [Double]
        switch loss {
        case .halfSquaredError, .meanSquaredError:
            target = (0..<outputs).map { _ in random.uniform(-1.5, 1.5) }
        case .binaryCrossEntropy:
            target = (0..<outputs).map { _ in random.uniform(0.001, 0.999) }
        case .softmaxCrossEntropy:
            if random.chance(0.5) {
                let hot = random.int(0...(outputs - 1))
                target = (0..<outputs).map { $0 == hot ? 1 : 0 }
            } else {
                let raw = (0..<outputs).map { _ in random.uniform(0.05, 1) }
                let sum = raw.reduce(0, +)
                target = raw.map { $0 / sum }
            }
        }
        return (input, target)
    }

    /// A number as spec text; the value the spec means is `Double(text)!`.
    static func number(_ value: Double) -> String {
        // Some values short, some at full precision.
        let digits = Int(value.bitPattern % 3)
        switch digits {
        case 0: return String(describing: (value * 1000).rounded() / 1000)
        case 1: return String(describing: (value * 1e6).rounded() / 1e6)
        default: return String(describing: value)
        }
    }
}

/// A unit name fit for a flow collection: members `h[1]` need quotes there.
private func quoted(_ name: String) -> String {
    name.contains("[") ? "\"\(name)\"" : name
}

/// An edge by unit names.
struct Pair: Hashable, Comparable, Sendable {
    var from: String
    var to: String
    init(_ from: String, _ to: String) {
        self.from = from
        self.to = to
    }
    static func < (lhs: Pair, rhs: Pair) -> Bool { (lhs.from, lhs.to) < (rhs.from, rhs.to) }
}
