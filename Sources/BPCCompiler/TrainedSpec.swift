import BPCPlan
import BPCSpec

extension ModelSpec {
    /// This spec with every weight and bias written out from `parameters` (indexed like
    /// `plan.parameters`), so that compiling the result starts from exactly those values.
    ///
    /// Each edge entry gets a weight list in its own from-major order, each unit or group with
    /// a bias gets its value(s); `init` then draws nothing. Entries that `share` a parameter
    /// keep their `share` and get no value: the parameter they share is written where it is
    /// declared, and members of a tied group hold its value.
    public func withParameters(_ parameters: [Double], of plan: Plan) -> ModelSpec {
        var index: [String: Int] = [:]
        index.reserveCapacity(plan.parameterCount)
        for (position, key) in plan.parameterKeys().enumerated() { index[key] = position }
        var groupSize: [String: Int] = [:]
        for unit in units { if let count = unit.count { groupSize[unit.name.value] = count.value } }
        func members(_ references: UnitReferences) -> [String] {
            var names: [String] = []
            references.forEach { reference in
                if reference.member == nil, let size = groupSize[reference.name] {
                    names += (0..<size).map { "\(reference.name)[\($0)]" }
                } else {
                    names.append(reference.text)
                }
            }
            return names
        }
        var result = self
        for (entry, edge) in edges.enumerated() where edgeShares[entry] == nil {
            let targets = members(edge.to)
            var weights: [Double] = []
            for source in members(edge.from) {
                for target in targets { weights.append(index[source + "->" + target].map { parameters[$0] } ?? 0) }
            }
            let value: WeightSpec = weights.count == 1 ? .value(weights[0]) : .values(weights)
            result.edges.setWeight(Located(value, at: edge.weight?.position ?? edge.position), of: entry)
        }
        for (entry, unit) in units.enumerated() where unit.role != .input {
            if case .shared? = (unit.bias ?? defaults.bias)?.value { continue }
            let names = unit.count.map { count in (0..<count.value).map { "\(unit.name.value)[\($0)]" } } ?? [unit.name.value]
            let biases = names.compactMap { index[$0 + ".bias"].map { parameters[$0] } }
            guard biases.count == names.count else { continue }
            let value: BiasSpec = unit.count == nil ? .value(biases[0]) : .values(biases)
            result.units[entry].bias = Located(value, at: unit.bias?.position ?? unit.name.position)
        }
        // The classes and statistics the training file gave are written out too: the saved spec
        // is the trained network even if that file changes later.
        if let labels = plan.classLabels, let label = data?.label {
            result.data?.classes = Located(labels.names, at: label.position)
        }
        if let normalization = plan.inputNormalization, let normalize = data?.normalize {
            result.data?.statistics = Located((normalization.shift, normalization.scale), at: normalize.position)
        }
        return result
    }

    /// This spec as it would be written at `newPath`: data paths, relative to the spec's
    /// folder, are rewritten so they still name the same files.
    public func relocated(to newPath: String, currentDirectory: String) -> ModelSpec {
        func folder(_ path: String) -> String {
            let absolute = path.hasPrefix("/") ? path : currentDirectory + "/" + path
            return absolute.lastIndex(of: "/").map { String(absolute[..<$0]) } ?? currentDirectory
        }
        guard folder(path) != folder(newPath), var data = self.data else { return self }
        func move(_ source: SampleSource) -> SampleSource {
            guard case .csv(let written) = source, !written.value.hasPrefix("/") else { return source }
            let resolved = DataLoader.resolve(written.value, relativeTo: path)
            let absolute = resolved.hasPrefix("/") ? resolved : currentDirectory + "/" + resolved
            return .csv(Located(absolute, at: written.position))
        }
        data.training = move(data.training)
        data.test = data.test.map(move)
        data.validation = data.validation.map(move)
        var result = self
        result.data = data
        result.path = newPath
        return result
    }
}
