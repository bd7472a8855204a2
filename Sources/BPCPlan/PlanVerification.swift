/// The first plan invariant that does not hold, in words a user can act on.
public struct PlanViolation: Error, Sendable, Equatable, CustomStringConvertible {
    public var invariant: String
    public var description: String { invariant }
    public init(_ invariant: String) { self.invariant = invariant }
}

extension Plan {
    /// Checks every invariant the runtimes and emitters rely on, so they may index without checks.
    ///
    /// Run on every plan the compiler makes (in tests) and on every plan loaded from a file; a
    /// hostile plan must fail here rather than read out of bounds later. Never traps.
    /// - Complexity: O(units + edges).
    public func verify() throws(PlanViolation) {
        let n = unitCount
        try require(n > 0, "the plan has no units")
        try require(n < Int(Int32.max) && edgeCount < Int(Int32.max), "the plan is larger than 2^31 units or edges")
        try require(roles.count == n, "roles has \(roles.count) entries for \(n) units")
        try require(activations.count == n, "activations has \(activations.count) entries for \(n) units")
        try require(biasParameter.count == n, "bias_parameter has \(biasParameter.count) entries for \(n) units")
        try require(Set(unitNames).count == n, "unit names are not unique")

        let e = edgeCount
        try verifyOffsets(fanInStart, name: "fan_in.start", units: n, edges: e)
        try verifyOffsets(fanOutStart, name: "fan_out.start", units: n, edges: e)
        try require(fanInParameter.count == e, "fan_in.parameter has \(fanInParameter.count) entries for \(e) edges")
        try require(fanOutTarget.count == e, "fan_out.target has \(fanOutTarget.count) entries for \(e) edges")
        try require(fanOutParameter.count == e, "fan_out.parameter has \(fanOutParameter.count) entries for \(e) edges")

        // Fan-in: sources precede their unit, no pair twice, weights stored in fan-in order.
        var lastTargetOfSource = [Int32](repeating: -1, count: n)
        for unit in 0..<n {
            for edge in Int(fanInStart[unit])..<Int(fanInStart[unit + 1]) {
                let source = fanInSource[edge]
                try require(source >= 0 && Int(source) < unit,
                            "fan-in edge \(edge) into unit \(unit) has source \(source), which does not come before it in the order")
                try require(lastTargetOfSource[Int(source)] != Int32(unit),
                            "unit \(unit) has two edges from unit \(source)")
                lastTargetOfSource[Int(source)] = Int32(unit)
                try require(fanInParameter[edge] == Int32(edge),
                            "fan-in edge \(edge) has weight parameter \(fanInParameter[edge]); weights must be stored in fan-in order")
            }
        }

        // Fan-out is the transpose of fan-in: every edge exactly once, listed by increasing index.
        let targets = edgeTargets()
        var listed = [Bool](repeating: false, count: e)
        for unit in 0..<n {
            var previous: Int32 = -1
            for slot in Int(fanOutStart[unit])..<Int(fanOutStart[unit + 1]) {
                let parameter = fanOutParameter[slot]
                try require(parameter >= 0 && Int(parameter) < e,
                            "fan-out slot \(slot) of unit \(unit) names edge \(parameter), which does not exist")
                try require(parameter > previous, "fan-out of unit \(unit) is not in increasing edge order")
                previous = parameter
                try require(fanInSource[Int(parameter)] == Int32(unit) && targets[Int(parameter)] == fanOutTarget[slot],
                            "fan-out slot \(slot) (unit \(unit) -> unit \(fanOutTarget[slot])) does not match fan-in edge \(parameter)")
                listed[Int(parameter)] = true
            }
        }
        try require(!listed.contains(false), "fan-in and fan-out do not describe the same edges")

        // Roles, inputs and outputs.
        try require(inputUnits.count == roles.lazy.filter { $0 == .input }.count,
                    "inputs lists \(inputUnits.count) units but \(roles.lazy.filter { $0 == .input }.count) have role input")
        try require(outputUnits.count == roles.lazy.filter { $0 == .output }.count,
                    "outputs lists \(outputUnits.count) units but \(roles.lazy.filter { $0 == .output }.count) have role output")
        try require(!outputUnits.isEmpty, "the plan has no output unit")
        try verifyMembers(inputUnits, role: .input, name: "inputs")
        try verifyMembers(outputUnits, role: .output, name: "outputs")
        for unit in 0..<n where roles[unit] == .input {
            try require(fanInStart[unit] == fanInStart[unit + 1], "input unit \(unitNames[unit]) has incoming edges")
            try require(biasParameter[unit] == -1, "input unit \(unitNames[unit]) has a bias")
            try require(activations[unit] == .identity, "input unit \(unitNames[unit]) has activation \(activations[unit].name)")
        }
        if let required = loss.requiredOutputActivation {
            for unit in outputUnits where activations[Int(unit)] != required {
                throw PlanViolation("loss \(loss.name) needs \(required.name) outputs but \(unitNames[Int(unit)]) is \(activations[Int(unit)].name)")
            }
        }

        // Biases follow the weights, one per unit that has one, in unit order.
        var nextBias = e
        for unit in 0..<n where biasParameter[unit] != -1 {
            try require(Int(biasParameter[unit]) == nextBias,
                        "unit \(unitNames[unit]) has bias parameter \(biasParameter[unit]); expected \(nextBias)")
            nextBias += 1
        }
        try require(parameters.count == nextBias,
                    "parameters has \(parameters.count) values for \(e) weights and \(nextBias - e) biases")
        if let bad = parameters.firstIndex(where: { !$0.isFinite }) {
            throw PlanViolation("parameter \(bad) is not finite")
        }
        try verifySharing()
        try verifyDataLayout()
    }

    /// Tied parameters: one entry per parameter, each -1 or another slot that itself shares
    /// nothing, every member holding its canonical slot's value; a table that ties nothing is
    /// written as no table.
    private func verifySharing() throws(PlanViolation) {
        guard let sharedWith else { return }
        try require(sharedWith.count == parameters.count,
                    "shared has \(sharedWith.count) entries for \(parameters.count) parameters")
        var any = false
        for (slot, canonical) in sharedWith.enumerated() where canonical != -1 {
            any = true
            try require(canonical >= 0 && Int(canonical) < parameters.count,
                        "parameter \(slot) shares parameter \(canonical), which does not exist")
            try require(Int(canonical) != slot, "parameter \(slot) shares itself")
            try require(sharedWith[Int(canonical)] == -1,
                        "parameter \(slot) shares parameter \(canonical), which itself shares parameter \(sharedWith[Int(canonical)])")
            try require(parameters[slot] == parameters[Int(canonical)],
                        "parameter \(slot) shares parameter \(canonical) but their values differ")
        }
        try require(any, "shared lists no shared parameter; leave the table out")
    }

    /// The optional keys from the data: columns name distinct input or output units (not
    /// outputs when a label column makes the targets), one class per output, and a finite,
    /// nonzero normalisation per input.
    private func verifyDataLayout() throws(PlanViolation) {
        var unitIndex: [String: Int] = [:]
        for unit in 0..<unitCount where roles[unit] != .hidden { unitIndex[unitNames[unit]] = unit }
        var headers = Set<String>(), mappedUnits = Set<String>()
        for mapping in columns ?? [] {
            try require(headers.insert(mapping.header).inserted, "columns maps header '\(mapping.header)' twice")
            try require(mappedUnits.insert(mapping.unit).inserted, "columns maps two headers to unit \(mapping.unit)")
            guard let unit = unitIndex[mapping.unit] else {
                throw PlanViolation("columns maps '\(mapping.header)' to \(mapping.unit), which is not an input or output unit")
            }
            try require(classLabels == nil || roles[unit] == .input,
                        "columns maps '\(mapping.header)' to output unit \(mapping.unit), but the label column makes the targets")
        }
        if let classLabels {
            try require(classLabels.names.count == outputUnits.count,
                        "classes has \(classLabels.names.count) names for \(outputUnits.count) outputs")
            try require(Set(classLabels.names).count == classLabels.names.count, "class names are not unique")
            try require(!headers.contains(classLabels.column), "the label column '\(classLabels.column)' is also mapped to a unit")
        }
        if let normalization = inputNormalization {
            try require(normalization.shift.count == inputUnits.count && normalization.scale.count == inputUnits.count,
                        "normalization has \(normalization.shift.count) shifts and \(normalization.scale.count) scales for \(inputUnits.count) inputs")
            try require(normalization.shift.allSatisfy(\.isFinite), "a normalization shift is not finite")
            try require(normalization.scale.allSatisfy { $0.isFinite && $0 != 0 }, "a normalization scale is zero or not finite")
        }
    }

    private func verifyOffsets(_ start: [Int32], name: String, units: Int, edges: Int) throws(PlanViolation) {
        try require(start.count == units + 1, "\(name) has \(start.count) entries for \(units) units (needs units + 1)")
        try require(start[0] == 0, "\(name) does not start at 0")
        for unit in 0..<units {
            try require(start[unit] <= start[unit + 1], "\(name) decreases at unit \(unit)")
        }
        try require(Int(start[units]) == edges, "\(name) ends at \(start[units]) but there are \(edges) edges")
    }

    private func verifyMembers(_ members: [Int32], role: UnitRole, name: String) throws(PlanViolation) {
        var seen = Set<Int32>()
        for unit in members {
            try require(unit >= 0 && Int(unit) < unitCount, "\(name) names unit \(unit), which does not exist")
            try require(roles[Int(unit)] == role, "\(name) names unit \(unitNames[Int(unit)]), whose role is \(roles[Int(unit)].rawValue)")
            try require(seen.insert(unit).inserted, "\(name) names unit \(unitNames[Int(unit)]) twice")
        }
    }
}

@inline(__always)
private func require(_ condition: Bool, _ invariant: @autoclosure () -> String) throws(PlanViolation) {
    if !condition { throw PlanViolation(invariant()) }
}
