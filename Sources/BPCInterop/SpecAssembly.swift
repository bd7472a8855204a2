import BPCPlan
import BPCSpec

/// Why a foreign network could not be read: every problem found, each with the file and, where
/// the format has lines (FANN), the line and column; binary formats (ONNX) name the node, its
/// op type, or the initializer, in the message instead.
public struct ImportFailure: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]

    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }

    public init(file: String, position: SourcePosition? = nil, _ message: String) {
        self.diagnostics = [Diagnostic(file: file, position: position, message: message)]
    }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// Builds the spec an importer returns: groups of units with every bias written out, and edge
/// entries with every weight, so that the spec alone reproduces the foreign network (its
/// `init` is never used). Both importers assemble their specs through this one type, so group
/// naming and the shape of the written spec are the same whatever the source.
///
/// Positions are `startOfFile`: an imported spec has no source of its own until it is written,
/// and the written YAML is parsed again (with real positions) before anyone uses it.
public struct SpecAssembly {
    public private(set) var spec: ModelSpec
    /// Each group's size, by name: what an edge entry checks to write a whole group by its
    /// name, in constant time (an import may have a million groups).
    private var groupSizes: [String: Int] = [:]
    /// The next suffix to try for a suggested name, so that a million layers all called `fc`
    /// are named in linear time.
    private var nextSuffix: [String: Int] = [:]
    /// Groups of one declared as a plain unit (`addGroup(single: true)`).
    private var singleUnits: Set<String> = []

    /// - Parameter path: the file the spec will be written to (or the source's name); it names
    ///   the spec's diagnostics if it is checked before being written.
    public init(path: String, name: String?, description: String?) {
        spec = ModelSpec(path: path)
        spec.name = name
        spec.description = description
        spec.defaults.activation = Located(.identity, at: .startOfFile)
        spec.defaults.bias = Located(.none, at: .startOfFile)
    }

    /// Adds a group of `count` units named after `suggestedName` (made a valid, unused unit
    /// name: `fc1/Gemm` -> `fc1_Gemm`, `0` -> `u0`, a second `h` -> `h_2`) and returns the name.
    /// - Parameters:
    ///   - biases: one starting value per member, or nil for units without a bias.
    ///   - single: with a count of 1, declare one unit (`x1`) rather than a group of one
    ///     (`x1[0]`): what a network called its one-column inputs and outputs keeps its name.
    @discardableResult
    public mutating func addGroup(
        suggestedName: String, role: UnitRole, count: Int, activation: Activation, biases: [Double]?, single: Bool = false
    ) -> String {
        let name = uniqueName(suggestedName)
        var unit = UnitSpec(name: Located(name, at: .startOfFile))
        unit.role = role
        if single && count == 1 {
            singleUnits.insert(name)
        } else {
            unit.count = Located(count, at: .startOfFile)
        }
        if role != .input {
            if activation != .identity { unit.activation = Located(activation, at: .startOfFile) }
            if let biases {
                unit.bias = Located(singleUnits.contains(name) ? .value(biases[0]) : .values(biases), at: .startOfFile)
            }
        }
        spec.units.append(unit)
        groupSizes[name] = count
        return name
    }

    /// One edge entry: every pair of `from` x `to` in from-major order, with one weight each
    /// (`weights[f * to.count + t]` for the edge from `from[f]` to `to[t]`).
    public mutating func addEdges(from: [Member], to: [Member], weights: [Double]) {
        precondition(weights.count == from.count * to.count, "one weight per edge")
        spec.edges.append(EdgeSpec(
            from: references(from), to: references(to),
            weight: Located(weights.count == 1 ? .value(weights[0]) : .values(weights), at: .startOfFile),
            position: .startOfFile))
    }

    public mutating func setLoss(_ loss: Loss) {
        spec.loss = Located(loss, at: .startOfFile)
    }

    /// A unit of a group: `group[index]`.
    public struct Member: Hashable, Sendable {
        public var group: String
        public var index: Int
        public init(group: String, index: Int) {
            self.group = group
            self.index = index
        }
    }

    /// Every member of a group, in order.
    public static func members(of group: String, count: Int) -> [Member] {
        (0..<count).map { Member(group: group, index: $0) }
    }

    /// The YAML text of the spec (format v1).
    public var yaml: String { SpecWriter.yaml(spec) }

    private func references(_ members: [Member]) -> UnitReferences {
        // A whole group in order is written as the group's name, which keeps the spec readable.
        if let first = members.first, members.allSatisfy({ $0.group == first.group }),
           members.enumerated().allSatisfy({ $0.offset == $0.element.index }),
           groupSizes[first.group] == members.count {
            return .one(UnitReference(name: first.group, member: nil, position: .startOfFile))
        }
        let list = members.map {
            UnitReference(name: $0.group, member: singleUnits.contains($0.group) ? nil : $0.index, position: .startOfFile)
        }
        return list.count == 1 ? .one(list[0]) : .many(list)
    }

    private mutating func uniqueName(_ suggested: String) -> String {
        // Letters, digits and `_` stay; every run of anything else becomes one `_`.
        var base = ""
        for scalar in suggested.unicodeScalars {
            let kept = scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar))
            if kept {
                base.unicodeScalars.append(scalar)
            } else if !base.isEmpty && base.last != "_" {
                base += "_"
            }
        }
        while base.last == "_" { base.removeLast() }
        if base.isEmpty { base = "u" }
        if let first = base.unicodeScalars.first, ("0"..."9").contains(first) { base = "u" + base }
        var name = base
        var suffix = nextSuffix[base] ?? 2
        while groupSizes[name] != nil || ScalarValue(plain: name) != .string(name) {
            name = "\(base)_\(suffix)"
            suffix += 1
        }
        if name != base { nextSuffix[base] = suffix }
        return name
    }
}
