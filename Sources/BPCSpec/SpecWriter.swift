import BPCPlan

/// Writes a `ModelSpec` back as format-v1 YAML that parses to the same spec.
///
/// Used by `bpc run --save`: the caller fills in trained parameters first (every weight and
/// bias explicit), so loading the file reproduces the trained network bit for bit (numbers are
/// written in shortest round-trip form).
public enum SpecWriter {
    public static func yaml(_ spec: ModelSpec) -> String {
        var out = "bpc: 1\n"
        if let name = spec.name { out += "name: \(quoted(name))\n" }
        if let description = spec.description { out += "description: \(quoted(description))\n" }
        var defaults: [String] = []
        if let activation = spec.defaults.activation { defaults.append("activation: \(activation.value.name)") }
        if let bias = spec.defaults.bias { defaults.append("bias: \(text(bias.value))") }
        if !defaults.isEmpty { out += "defaults: {\(defaults.joined(separator: ", "))}\n" }

        out += "\nunits:\n"
        for unit in spec.units {
            var fields = ["name: \(unit.name.value)"]
            if unit.role != .hidden { fields.append("role: \(unit.role.rawValue)") }
            if let count = unit.count { fields.append("count: \(count.value)") }
            if let activation = unit.activation { fields.append("activation: \(activation.value.name)") }
            if let bias = unit.bias { fields.append("bias: \(text(bias.value))") }
            out += "  - {\(fields.joined(separator: ", "))}\n"
        }

        out += "\nedges:\n"
        if spec.edges.isEmpty { out.removeLast(); out += " []\n" }
        for (entry, edge) in spec.edges.enumerated() {
            out += "  - {from: \(text(edge.from)), to: \(text(edge.to))"
            switch edge.weight?.value {
            case .value(let value)?: out += ", weight: \(number(value))"
            case .values(let values)?: out += ", weight: \(list(values))"
            case nil: break
            }
            if let share = spec.edgeShares[entry] { out += ", share: \(quoted(share.value))" }
            out += "}\n"
        }

        if let loss = spec.loss { out += "\nloss: \(loss.value.name)\n" }
        let initialization = spec.initialization
        out += "init: {scheme: \(initialization.scheme.rawValue)"
        if let scale = initialization.scale { out += ", scale: \(number(scale))" }
        out += ", seed: \(initialization.seed)}\n"

        if let data = spec.data {
            out += "\ndata:\n" + source(data.training, indent: "  ")
            if let test = data.test { out += "  test:\n" + source(test, indent: "    ") }
            if let validation = data.validation { out += "  validation:\n" + source(validation, indent: "    ") }
            if let split = data.validationSplit { out += "  validation_split: \(number(split.value))\n" }
            if let columns = data.columns {
                out += columns.isEmpty ? "  columns: {}\n" : "  columns:\n"
                for column in columns { out += "    \(quoted(column.header.value)): \(quoted(column.unit.text))\n" }
            }
            if let label = data.label { out += "  label: \(quoted(label.value))\n" }
            if let normalize = data.normalize { out += "  normalize: \(normalize.value.rawValue)\n" }
            if let classes = data.classes { out += "  classes: [" + classes.value.map(quoted).joined(separator: ", ") + "]\n" }
            if let statistics = data.statistics {
                out += "  statistics:\n    shift: [" + statistics.value.shift.map(number).joined(separator: ", ") + "]\n"
                out += "    scale: [" + statistics.value.scale.map(number).joined(separator: ", ") + "]\n"
            }
        }

        let train = spec.train
        out += "\ntrain:\n  epochs: \(train.epochs)\n  batch_size: \(train.batchSize)\n"
        switch train.learningRate {
        case .constant(let rate): out += "  learning_rate: \(number(rate))\n"
        case .inverseTime(let initial, let decay):
            out += "  learning_rate: {schedule: inverse_time, initial: \(number(initial)), decay: \(number(decay))}\n"
        case .step(let initial, let factor, let every):
            out += "  learning_rate: {schedule: step, initial: \(number(initial)), factor: \(number(factor)), every: \(every)}\n"
        }
        out += "  shuffle: \(train.shuffle)\n  optimizer: \(train.optimizer.name)\n"
        switch train.optimizer {
        case .sgd: break
        case .momentum(let mu): out += "  momentum: \(number(mu))\n"
        case .adam(let beta1, let beta2, let epsilon):
            out += "  beta1: \(number(beta1))\n  beta2: \(number(beta2))\n  epsilon: \(number(epsilon))\n"
        }

        if !spec.expectations.isEmpty {
            out += "\nexpect:\n"
            for entry in spec.expectations { out += "  - " + expectation(entry) + "\n" }
        }
        return out
    }

    private static func source(_ source: SampleSource, indent: String) -> String {
        switch source {
        case .csv(let path): return "\(indent)csv: \(quoted(path.value))\n"
        case .samples(let samples):
            var out = "\(indent)samples:\n"
            for sample in samples { out += "\(indent)  - {in: \(list(sample.input)), out: \(list(sample.target))}\n" }
            return out
        }
    }

    private static func expectation(_ entry: Expectation) -> String {
        var fields: [String] = []
        if entry.after == .train { fields.append("after: train") }
        if let input = entry.input { fields.append("in: \(list(input.value))") }
        if let target = entry.target { fields.append("out: \(list(target.value))") }
        if let outputs = entry.outputs { fields.append("outputs: \(list(outputs.value))") }
        if let loss = entry.loss { fields.append("loss: \(number(loss))") }
        if !entry.gradients.isEmpty {
            fields.append("gradients: {" + entry.gradients.map { "\(quoted($0.key.value)): \(number($0.value))" }.joined(separator: ", ") + "}")
        }
        if let bound = entry.lossBelow { fields.append("loss_below: \(number(bound))") }
        if let bound = entry.accuracyAtLeast { fields.append("accuracy_at_least: \(number(bound))") }
        fields.append("tolerance: \(number(entry.tolerance))")
        return "{" + fields.joined(separator: ", ") + "}"
    }

    private static func text(_ bias: BiasSpec) -> String {
        switch bias {
        case .none: return "false"
        case .trainable: return "true"
        case .value(let value): return number(value)
        case .values(let values): return list(values)
        case .shared(let key): return "{share: \(quoted(key))}"
        }
    }

    private static func text(_ references: UnitReferences) -> String {
        switch references {
        case .one(let reference): return quoted(reference.text)
        case .many(let list): return "[" + list.map { quoted($0.text) }.joined(separator: ", ") + "]"
        }
    }

    /// Shortest round-trip text, which YAML's core schema reads back as the same binary64.
    static func number(_ value: Double) -> String { value.description }

    static func list(_ values: [Double]) -> String {
        "[" + values.map(number).joined(separator: ", ") + "]"
    }

    /// A double-quoted YAML string (plain when it is a bare identifier, for readability).
    static func quoted(_ text: String) -> String {
        if UnitReference.isIdentifier(text), ScalarValue(plain: text) == .string(text) { return text }
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\x" + (scalar.value < 16 ? "0" : "") + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
