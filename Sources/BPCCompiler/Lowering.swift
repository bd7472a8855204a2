import BPCPlan
import BPCSpec

extension CompilerContext {
    /// Renumbers units by `order` and builds the plan's tables and initial parameters.
    ///
    /// Returns nil, with the errors reported, when a `share` names no parameter or a
    /// parameter that itself shares.
    mutating func lower(fanIn: consuming FanIn, order: [Int], loss: Loss) -> Compilation? {
        let sharing = !units.biasShares.isEmpty || !spec.edgeShares.isEmpty
        /// (sharing slot, the key it shares), in slot order; empty without sharing.
        var shares: [(slot: Int, key: Located<String>)] = []
        let n = units.count
        var position = [Int32](repeating: 0, count: n)
        for (index, unit) in order.enumerated() { position[unit] = Int32(index) }

        var fanInStart = [Int32](repeating: 0, count: n + 1)
        var fanInSource = [Int32]()
        fanInSource.reserveCapacity(edges.count)
        var parameters = [Double]()
        parameters.reserveCapacity(edges.count)
        var written = [Bool]()
        written.reserveCapacity(edges.count)
        for (index, unit) in order.enumerated() {
            for slot in fanIn.start[unit]..<fanIn.start[unit + 1] {
                let edge = Int(fanIn.edgesInto[slot])
                fanInSource.append(position[Int(edges.sources[edge])])
                let weight = edges.weights[edge]
                parameters.append(weight.isNaN ? 0 : weight)
                if sharing, let key = spec.edgeShares[edges.entry(of: edge)] {
                    shares.append((parameters.count - 1, key))
                    written.append(true)  // a sharing edge draws nothing; it takes the shared value
                } else {
                    written.append(!weight.isNaN)
                }
            }
            fanInStart[index + 1] = Int32(fanInSource.count)
        }
        // Every edge is in the plan's fan-in now: dropping the creation-order tables (20 bytes
        // an edge) before the fan-out tables are built keeps the compiler's peak memory lower.
        _ = consume fanIn
        edges = CreatedEdges()
        let edgeCount = fanInSource.count
        let fanInParameter = (0..<Int32(edgeCount)).map { $0 }

        var biasParameter = [Int32](repeating: -1, count: n)
        for (index, unit) in order.enumerated() {
            if let bias = units.biases[unit] {
                biasParameter[index] = Int32(parameters.count)
                if sharing, let key = units.biasShares[unit] { shares.append((parameters.count, key)) }
                parameters.append(bias)
            }
        }

        // Fan-out: the transpose, filled in increasing edge index so each list is sorted.
        var fanOutStart = [Int32](repeating: 0, count: n + 1)
        for source in fanInSource { fanOutStart[Int(source) + 1] += 1 }
        for unit in 0..<n { fanOutStart[unit + 1] += fanOutStart[unit] }
        var cursor = fanOutStart
        var fanOutTarget = [Int32](repeating: 0, count: edgeCount)
        var fanOutParameter = [Int32](repeating: 0, count: edgeCount)
        for target in 0..<n {
            for edge in Int(fanInStart[target])..<Int(fanInStart[target + 1]) {
                let source = Int(fanInSource[edge])
                let slot = Int(cursor[source])
                fanOutTarget[slot] = Int32(target)
                fanOutParameter[slot] = Int32(edge)
                cursor[source] += 1
            }
        }

        Initializer(spec.initialization).fill(
            &parameters, written: written, fanInStart: fanInStart, fanInSource: fanInSource,
            fanOutStart: fanOutStart)

        let inputs = order.indices.filter { units.roles[order[$0]] == .input }.map { Int32($0) }
        let outputs = (0..<n).filter { units.roles[$0] == .output }.map { position[$0] }
        var plan = Plan(
            name: spec.name ?? defaultName(for: spec.path),
            unitNames: order.map { units.names[$0] },
            roles: order.map { units.roles[$0] },
            activations: order.map { units.activations[$0] },
            biasParameter: biasParameter,
            inputUnits: inputs,
            outputUnits: outputs,
            fanInStart: fanInStart, fanInSource: fanInSource, fanInParameter: fanInParameter,
            fanOutStart: fanOutStart, fanOutTarget: fanOutTarget, fanOutParameter: fanOutParameter,
            parameters: parameters, loss: loss)
        if !shares.isEmpty {
            guard let table = sharingTable(shares, keys: plan.parameterKeys()) else { return nil }
            for (slot, canonical) in table.enumerated() where canonical >= 0 {
                plan.parameters[slot] = plan.parameters[Int(canonical)]
            }
            plan.sharedWith = table
        }
        return Compilation(plan: plan, unitPositions: order.map { units.positions[$0] })
    }

    /// The plan's `sharedWith` table for the `share` requests, or nil with every bad request
    /// reported: a key that names no parameter (with the closest key), a parameter sharing
    /// itself, and one sharing a parameter that itself shares (a chain, or a cycle).
    private mutating func sharingTable(_ shares: [(slot: Int, key: Located<String>)], keys: [String]) -> [Int32]? {
        var slotOfKey: [String: Int] = [:]
        slotOfKey.reserveCapacity(keys.count)
        for (slot, key) in keys.enumerated() { slotOfKey[key] = slot }
        var requested: [Int: Located<String>] = [:]
        for share in shares { requested[share.slot] = share.key }
        var table = [Int32](repeating: -1, count: keys.count)
        var reported = Set<SourcePosition>()
        for (slot, key) in shares {
            func fail(_ message: String) {
                if reported.insert(key.position).inserted { error(message, at: key.position) }
            }
            guard let target = slotOfKey[key.value] else {
                fail("'\(keys[slot])' shares '\(key.value)', which is no parameter of this network\(suggestion(for: key.value, among: keys))")
                continue
            }
            guard target != slot else {
                fail("'\(keys[slot])' shares itself; share another parameter, or leave out 'share'")
                continue
            }
            if let next = requested[target] {
                var chain = [keys[slot], keys[target]]
                var cursor = slotOfKey[next.value]
                while let current = cursor, chain.count <= keys.count, let onward = requested[current] {
                    if current == slot { break }
                    chain.append(keys[current])
                    cursor = slotOfKey[onward.value]
                }
                if cursor == slot {
                    fail("shared parameters form a cycle: \(chain.joined(separator: " -> ")) -> \(keys[slot]); one of them must have a value of its own")
                } else {
                    fail("'\(keys[slot])' shares '\(keys[target])', which itself shares '\(next.value)'; share '\(next.value)' directly")
                }
                continue
            }
            table[slot] = Int32(target)
        }
        return reported.isEmpty ? table : nil
    }
}

/// The spec file's name without folder and extension, made into a C identifier.
func defaultName(for path: String) -> String {
    let file = path.split(separator: "/").last.map(String.init) ?? path
    let stem = file.split(separator: ".").first.map(String.init) ?? file
    var name = String(stem.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })
    if name.isEmpty || name.first?.isNumber == true { name = "net_" + name }
    return name
}

/// `init`: draws the parameters a spec leaves unwritten, in parameter order, from the seeded
/// generator (see `SeededGenerator`), one draw per unwritten weight.
///
/// | scheme | weight into unit j from unit i |
/// |---|---|
/// | uniform | U(-s, s), s = scale (default 0.5) |
/// | normal | N(0, s^2), s = scale (default 0.5) |
/// | xavier | U(-l, l), l = g sqrt(6 / (fan_in(j) + fan_out(i))), g = scale (default 1) |
/// | he | N(0, (g sqrt(2 / fan_in(j)))^2), g = scale (default 1) |
///
/// With fan_in(j) + fan_out(i), xavier reduces to Glorot's layer formula on layered networks.
/// Biases written `true` start at 0; written values are kept.
public struct Initializer: Sendable {
    public var spec: InitSpec

    public init(_ spec: InitSpec) { self.spec = spec }

    public func fill(
        _ parameters: inout [Double], written: [Bool],
        fanInStart: [Int32], fanInSource: [Int32], fanOutStart: [Int32]
    ) {
        var generator = SeededGenerator(seed: spec.seed)
        let unitCount = fanInStart.count - 1
        for target in 0..<unitCount {
            let fanIn = Double(fanInStart[target + 1] - fanInStart[target])
            for edge in Int(fanInStart[target])..<Int(fanInStart[target + 1]) where !written[edge] {
                let source = Int(fanInSource[edge])
                let fanOut = Double(fanOutStart[source + 1] - fanOutStart[source])
                switch spec.scheme {
                case .uniform:
                    parameters[edge] = generator.nextUniform(scale: spec.scale ?? 0.5)
                case .normal:
                    parameters[edge] = (spec.scale ?? 0.5) * generator.nextNormal()
                case .xavier:
                    let limit = (spec.scale ?? 1) * (6 / (fanIn + fanOut)).squareRoot()
                    parameters[edge] = generator.nextUniform(scale: limit)
                case .he:
                    parameters[edge] = (spec.scale ?? 1) * (2 / fanIn).squareRoot() * generator.nextNormal()
                }
            }
        }
    }
}
