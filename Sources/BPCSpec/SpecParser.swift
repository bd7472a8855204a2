import BPCPlan

/// The spec stage: YAML text -> `ModelSpec`, with every problem in the log.
///
/// The top-level mapping is read event by event; `units` and `edges` stream one entry at a time
/// (each entry becomes a small `YAMLNode`), so a spec with millions of edges never exists as a
/// YAML tree. Every key is checked against the format, so a typo is reported with the closest
/// valid key instead of being ignored.
public enum SpecParser {
    /// Parses the spec at `path`. Returns nil only if nothing useful could be read; otherwise a
    /// spec that may be incomplete when `log` holds errors.
    public static func parse(path: String, limits: Limits = Limits(), log: inout DiagnosticLog) -> ModelSpec? {
        guard let reader = YAMLEventReader(path: path, limits: limits, log: &log) else { return nil }
        return run(reader, log: &log)
    }

    /// Parses spec text held in memory; `path` names it in diagnostics and anchors data paths.
    public static func parse(text: String, path: String, limits: Limits = Limits(), log: inout DiagnosticLog) -> ModelSpec? {
        run(YAMLEventReader(text: text, path: path, limits: limits, log: log), log: &log)
    }

    private static func run(_ reader: YAMLEventReader, log: inout DiagnosticLog) -> ModelSpec? {
        var decoder = SpecDecoder(reader: reader)
        let spec = try? decoder.decodeStream()
        log = reader.log
        return spec
    }
}

/// Keys of every mapping in the format, for unknown-key checks and suggestions.
enum SpecKeys {
    static let topLevel = ["bpc", "name", "description", "defaults", "units", "edges", "loss", "init", "data", "train", "expect"]
    static let defaults = ["activation", "bias"]
    static let unit = ["name", "role", "activation", "bias", "count"]
    static let edge = ["from", "to", "weight"]
    static let initialization = ["scheme", "scale", "seed"]
    static let data = ["samples", "csv", "test"]
    static let testData = ["samples", "csv"]
    static let sample = ["in", "out"]
    static let train = ["epochs", "batch_size", "learning_rate", "shuffle", "optimizer", "momentum", "beta1", "beta2", "epsilon"]
    static let schedule = ["schedule", "initial", "decay", "factor", "every"]
    static let expectation = ["after", "in", "out", "outputs", "loss", "gradients", "tolerance", "loss_below", "accuracy_at_least"]
}

struct SpecDecoder {
    let reader: YAMLEventReader
    var spec: ModelSpec

    init(reader: YAMLEventReader) {
        self.reader = reader
        spec = ModelSpec(path: reader.path)
    }

    func error(_ message: String, at position: SourcePosition) {
        reader.error(message, at: position)
    }

    // MARK: Stream and top level

    mutating func decodeStream() throws(ParseAborted) -> ModelSpec {
        _ = try reader.next()  // stream start
        let first = try reader.next()
        guard first.kind == .documentStart else {
            error("the spec is empty; it needs at least 'bpc: 1', 'units', 'edges' and 'loss'", at: first.start)
            throw ParseAborted()
        }
        let top = try reader.peek()
        guard top.kind == .mappingStart else {
            let node = try reader.readNode()
            error("a spec is a mapping of keys (bpc, units, edges, loss, ...), not \(node.kindDescription)", at: node.start)
            throw ParseAborted()
        }
        _ = try reader.next()
        var seen = Set<String>()
        var version: Located<Int>?
        while try reader.peek().kind != .mappingEnd {
            let key = reader.mappingKey(try reader.readNode())
            if !seen.insert(key.value).inserted {
                error("duplicate key '\(key.value)'", at: key.position)
            }
            switch key.value {
            case "units":
                spec.unitsPosition = try reader.peek().start
                try streamList(named: "units") { decoder, node in decoder.decodeUnit(node) }
            case "edges":
                try streamList(named: "edges") { decoder, node in decoder.decodeEdge(node) }
            case "bpc":
                let node = try reader.readNode()
                if let value = integer(node, "the format version") {
                    version = Located(value, at: node.start)
                    if value != 1 { error("format version \(value) is not supported; this bpc reads version 1", at: node.start) }
                }
            default:
                let node = try reader.readNode()
                decodeTopLevel(key, node)
            }
        }
        let end = try reader.next()
        if version == nil {
            error("missing key 'bpc' (the format version); add 'bpc: 1'", at: top.start)
        }
        if !seen.contains("units") { error("missing key 'units'", at: top.start) }
        if !seen.contains("loss") {
            error("missing key 'loss' (one of \(Loss.allCases.map(\.name).joined(separator: ", ")))", at: top.start)
        }
        _ = try reader.next()  // document end
        let after = try reader.next()
        if after.kind != .streamEnd {
            error("a spec is one YAML document; found a second one", at: after.start)
        }
        _ = end
        return spec
    }

    /// Streams a list, decoding each entry as it arrives; anything but a list is an error.
    private mutating func streamList(
        named name: String, _ decode: (inout SpecDecoder, YAMLNode) -> Void
    ) throws(ParseAborted) {
        let start = try reader.peek()
        guard start.kind == .sequenceStart else {
            let node = try reader.readNode()
            error("'\(name)' must be a list, not \(node.kindDescription)", at: node.start)
            return
        }
        _ = try reader.next()
        while try reader.peek().kind != .sequenceEnd {
            let node = try reader.readNode()
            decode(&self, node)
        }
        _ = try reader.next()
    }

    private mutating func decodeTopLevel(_ key: Located<String>, _ node: YAMLNode) {
        switch key.value {
        case "name": spec.name = string(node, "the spec's name")
        case "description": spec.description = string(node, "the description")
        case "defaults":
            forEachEntry(of: node, "defaults", keys: SpecKeys.defaults) { key, value in
                switch key.value {
                case "activation": spec.defaults.activation = activation(value)
                default: spec.defaults.bias = bias(value, allowList: false)
                }
            }
        case "loss":
            if let loss: Loss = choice(node, "loss") { spec.loss = Located(loss, at: node.start) }
        case "init": decodeInit(node)
        case "data": decodeData(node)
        case "train": decodeTrain(node)
        case "expect":
            guard case .sequence(let entries) = node.content else {
                error("'expect' must be a list, not \(node.kindDescription)", at: node.start)
                return
            }
            for entry in entries { decodeExpectation(entry) }
        default:
            error("unknown key '\(key.value)'\(suggestion(for: key.value, among: SpecKeys.topLevel))", at: key.position)
        }
    }

    // MARK: Units and edges

    private mutating func decodeUnit(_ node: YAMLNode) {
        var name: Located<String>?
        var nameGiven = false
        var unit = UnitSpec(name: Located("", at: node.start))
        forEachEntry(of: node, "a unit", keys: SpecKeys.unit) { key, value in
            switch key.value {
            case "name":
                nameGiven = true
                name = identifier(value)
            case "role": if let role: UnitRole = choice(value, "role") { unit.role = role }
            case "activation": unit.activation = activation(value)
            case "bias": unit.bias = bias(value, allowList: true)
            default:
                if let count = integer(value, "count") {
                    if count >= 1 {
                        unit.count = Located(count, at: value.start)
                    } else {
                        error("count must be at least 1, not \(count)", at: value.start)
                    }
                }
            }
        }
        guard case .mapping = node.content else { return }
        guard let name else {
            if !nameGiven { error("a unit needs a 'name'", at: node.start) }
            return
        }
        unit.name = name
        spec.units.append(unit)
    }

    private mutating func decodeEdge(_ node: YAMLNode) {
        var from: UnitReferences?
        var to: UnitReferences?
        var weight: Located<WeightSpec>?
        forEachEntry(of: node, "an edge", keys: SpecKeys.edge) { key, value in
            switch key.value {
            case "from": from = references(value)
            case "to": to = references(value)
            default:
                if case .sequence = value.content {
                    if let list = numbers(value, "weights") { weight = Located(.values(list), at: value.start) }
                } else if let number = finite(value, "weight") {
                    weight = Located(.value(number), at: value.start)
                }
            }
        }
        guard case .mapping(let pairs) = node.content else { return }
        // A scan, not a set: an edge has at most three keys, and there may be millions of edges.
        if !pairs.contains(where: { $0.key.value == "from" }) { error("an edge needs 'from'", at: node.start) }
        if !pairs.contains(where: { $0.key.value == "to" }) { error("an edge needs 'to'", at: node.start) }
        guard let from, let to else { return }
        spec.edges.append(EdgeSpec(from: from, to: to, weight: weight, position: node.start))
    }

    /// `h`, `h[3]` or a list of those.
    private func references(_ node: YAMLNode) -> UnitReferences? {
        switch node.content {
        case .sequence(let items):
            if items.isEmpty {
                error("an empty list of units creates no edges", at: node.start)
                return nil
            }
            var list: [UnitReference] = []
            list.reserveCapacity(items.count)
            for item in items {
                guard let reference = reference(item) else { return nil }
                list.append(reference)
            }
            return list.count == 1 ? .one(list[0]) : .many(list)
        default:
            return reference(node).map(UnitReferences.one)
        }
    }

    private func reference(_ node: YAMLNode) -> UnitReference? {
        guard let text = node.scalarText, case .scalar = node.content, !(node.scalarValue.map(isNumberOrBool) ?? false) else {
            error("expected a unit name (like h1 or h[3]), not \(node.kindDescription)", at: node.start)
            return nil
        }
        guard let parsed = UnitReference.parse(text) else {
            error("'\(text)' is not a unit name: write a name like h1 (letters, digits, _) or a member like h[3]", at: node.start)
            return nil
        }
        return UnitReference(name: parsed.name, member: parsed.member, position: node.start)
    }

    private func isNumberOrBool(_ value: ScalarValue) -> Bool {
        switch value {
        case .number, .bool: return true
        default: return false
        }
    }

    // MARK: Init, data, train, expect

    private mutating func decodeInit(_ node: YAMLNode) {
        forEachEntry(of: node, "init", keys: SpecKeys.initialization) { key, value in
            switch key.value {
            case "scheme": if let scheme: InitScheme = choice(value, "init scheme") { spec.initialization.scheme = scheme }
            case "scale":
                if let scale = finite(value, "scale") {
                    if scale > 0 { spec.initialization.scale = scale } else { error("scale must be positive", at: value.start) }
                }
            default:
                if let seed = integer(value, "seed") {
                    if seed >= 0 { spec.initialization.seed = UInt64(seed) } else { error("seed must be 0 or more", at: value.start) }
                }
            }
        }
    }

    private mutating func decodeData(_ node: YAMLNode) {
        spec.data = sampleSource(node, "data", keys: SpecKeys.data) { decoder, test in
            decoder.sampleSource(test, "data.test", keys: SpecKeys.testData, test: nil)
        }
    }

    /// The two forms of a sample set (`samples:` list or `csv:` path); `test` decodes a nested set.
    private func sampleSource(
        _ node: YAMLNode, _ what: String, keys: [String],
        test: ((SpecDecoder, YAMLNode) -> DataSpec?)?
    ) -> DataSpec? {
        var source: SampleSource?
        var testSource: SampleSource?
        var forms = 0
        forEachEntry(of: node, what, keys: keys) { key, value in
            switch key.value {
            case "samples":
                forms += 1
                guard case .sequence(let items) = value.content else {
                    error("'samples' must be a list of {in: [...], out: [...]}, not \(value.kindDescription)", at: value.start)
                    return
                }
                source = .samples(items.compactMap(sample))
            case "csv":
                forms += 1
                if let path = string(value, "a CSV path") { source = .csv(Located(path, at: value.start)) }
            default:
                testSource = test?(self, value)?.training
            }
        }
        guard case .mapping = node.content else { return nil }
        if forms == 2 { error("\(what) has both 'samples' and 'csv'; give one", at: node.start) }
        if forms == 0 { error("\(what) needs 'samples' or 'csv'", at: node.start) }
        return source.map { DataSpec(training: $0, test: testSource) }
    }

    private func sample(_ node: YAMLNode) -> Sample? {
        var input: [Double]?
        var target: [Double]?
        forEachEntry(of: node, "a sample", keys: SpecKeys.sample) { key, value in
            if key.value == "in" { input = numbers(value, "in") } else { target = numbers(value, "out") }
        }
        guard case .mapping(let pairs) = node.content else { return nil }
        if !pairs.contains(where: { $0.key.value == "in" }) { error("a sample needs 'in'", at: node.start) }
        if !pairs.contains(where: { $0.key.value == "out" }) { error("a sample needs 'out'", at: node.start) }
        guard let input, let target else { return nil }
        return Sample(input: input, target: target, position: node.start)
    }

    private mutating func decodeTrain(_ node: YAMLNode) {
        var optimizerName: Located<String>?
        var momentum: Located<Double>?
        var beta1: Located<Double>?, beta2: Located<Double>?, epsilon: Located<Double>?
        forEachEntry(of: node, "train", keys: SpecKeys.train) { key, value in
            switch key.value {
            case "epochs": if let n = positiveInteger(value, "epochs") { spec.train.epochs = n }
            case "batch_size": if let n = positiveInteger(value, "batch_size") { spec.train.batchSize = n }
            case "learning_rate": if let rate = learningRate(value) { spec.train.learningRate = rate }
            case "shuffle": if let flag = bool(value, "shuffle") { spec.train.shuffle = flag }
            case "optimizer":
                if let name: OptimizerName = choice(value, "optimizer") { optimizerName = Located(name.rawValue, at: value.start) }
            case "momentum": momentum = fraction(value, "momentum").map { Located($0, at: value.start) }
            case "beta1": beta1 = fraction(value, "beta1").map { Located($0, at: value.start) }
            case "beta2": beta2 = fraction(value, "beta2").map { Located($0, at: value.start) }
            default:
                if let e = finite(value, "epsilon") {
                    if e > 0 { epsilon = Located(e, at: value.start) } else { error("epsilon must be positive", at: value.start) }
                }
            }
        }
        let name = optimizerName?.value ?? "sgd"
        for (setting, owner) in [(momentum, "momentum"), (beta1, "adam"), (beta2, "adam"), (epsilon, "adam")] {
            if let setting, owner != name {
                error("this setting belongs to optimizer \(owner), but the optimizer is \(name)", at: setting.position)
            }
        }
        switch name {
        case "momentum": spec.train.optimizer = .momentum(momentum?.value ?? 0.9)
        case "adam":
            spec.train.optimizer = .adam(beta1: beta1?.value ?? 0.9, beta2: beta2?.value ?? 0.999, epsilon: epsilon?.value ?? 1e-8)
        default: spec.train.optimizer = .sgd
        }
    }

    private func learningRate(_ node: YAMLNode) -> LearningRate? {
        guard case .mapping = node.content else {
            guard let rate = finite(node, "learning_rate") else { return nil }
            guard rate > 0 else {
                error("learning_rate must be positive", at: node.start)
                return nil
            }
            return .constant(rate)
        }
        var kind: ScheduleName?
        var initial: Double?, decay: Double?, factor: Double?, every: Int?
        var given: [String: SourcePosition] = [:]
        forEachEntry(of: node, "a learning-rate schedule", keys: SpecKeys.schedule) { key, value in
            given[key.value] = key.position
            switch key.value {
            case "schedule": kind = choice(value, "schedule")
            case "initial":
                initial = finite(value, "initial")
                if let rate = initial, rate <= 0 { error("initial must be positive", at: value.start) }
            case "decay":
                decay = finite(value, "decay")
                if let k = decay, k < 0 { error("decay must be 0 or more", at: value.start) }
            case "factor":
                factor = finite(value, "factor")
                if let f = factor, f <= 0 { error("factor must be positive", at: value.start) }
            default: every = positiveInteger(value, "every")
            }
        }
        guard given["schedule"] != nil else {
            error("a learning-rate mapping needs 'schedule' (inverse_time or step)", at: node.start)
            return nil
        }
        guard let kind else { return nil }
        let needed: [String] = kind == .inverseTime ? ["initial", "decay"] : ["initial", "factor", "every"]
        let foreign: [String] = kind == .inverseTime ? ["factor", "every"] : ["decay"]
        for key in needed where given[key] == nil {
            error("schedule \(kind.rawValue) needs '\(key)'", at: node.start)
        }
        for key in foreign {
            if let position = given[key] { error("'\(key)' is not a setting of schedule \(kind.rawValue)", at: position) }
        }
        switch kind {
        case .inverseTime:
            guard let initial, let decay else { return nil }
            return .inverseTime(initial: initial, decay: decay)
        case .step:
            guard let initial, let factor, let every else { return nil }
            return .step(initial: initial, factor: factor, every: every)
        }
    }

    private mutating func decodeExpectation(_ node: YAMLNode) {
        var expectation = Expectation(position: node.start)
        forEachEntry(of: node, "an expect entry", keys: SpecKeys.expectation) { key, value in
            switch key.value {
            case "after": if let moment: Expectation.Moment = choice(value, "after") { expectation.after = moment }
            case "in": expectation.input = numbers(value, "in").map { Located($0, at: value.start) }
            case "out": expectation.target = numbers(value, "out").map { Located($0, at: value.start) }
            case "outputs": expectation.outputs = numbers(value, "outputs").map { Located($0, at: value.start) }
            case "loss": expectation.loss = finite(value, "loss")
            case "tolerance":
                if let tolerance = finite(value, "tolerance") {
                    if tolerance >= 0 { expectation.tolerance = tolerance } else { error("tolerance must be 0 or more", at: value.start) }
                }
            case "loss_below": expectation.lossBelow = finite(value, "loss_below")
            case "accuracy_at_least": expectation.accuracyAtLeast = fraction(value, "accuracy_at_least")
            default:
                guard case .mapping(let pairs) = value.content else {
                    error("'gradients' must be a mapping from parameter keys (like x1->h1 or h1.bias) to numbers, not \(value.kindDescription)", at: value.start)
                    return
                }
                for (gradientKey, gradient) in pairs {
                    if let number = finite(gradient, "a gradient") { expectation.gradients.append((gradientKey, number)) }
                }
            }
        }
        guard case .mapping = node.content else { return }
        spec.expectations.append(expectation)
    }

    // MARK: Typed values

    /// Calls `body` for every entry whose key is in `keys`; reports unknown keys with a suggestion.
    private func forEachEntry(
        of node: YAMLNode, _ what: String, keys: [String],
        _ body: (Located<String>, YAMLNode) -> Void
    ) {
        guard case .mapping(let pairs) = node.content else {
            error("\(what) must be a mapping with keys \(keys.joined(separator: ", ")), not \(node.kindDescription)", at: node.start)
            return
        }
        for (key, value) in pairs {
            if keys.contains(key.value) {
                body(key, value)
            } else {
                error("unknown key '\(key.value)' in \(what)\(suggestion(for: key.value, among: keys))", at: key.position)
            }
        }
    }

    private func string(_ node: YAMLNode, _ what: String) -> String? {
        guard case .scalar(let text, _, _) = node.content, node.scalarValue != .null else {
            error("expected \(what) as text, not \(node.kindDescription)", at: node.start)
            return nil
        }
        return text
    }

    private func identifier(_ node: YAMLNode) -> Located<String>? {
        guard let text = string(node, "a unit name") else { return nil }
        guard UnitReference.isIdentifier(text) else {
            error("'\(text)' is not a valid unit name: start with a letter or _, then letters, digits or _", at: node.start)
            return nil
        }
        return Located(text, at: node.start)
    }

    private func number(_ node: YAMLNode, _ what: String) -> Double? {
        guard case .number(let value)? = node.scalarValue else {
            error("expected a number for \(what), not \(node.kindDescription)", at: node.start)
            return nil
        }
        return value
    }

    private func finite(_ node: YAMLNode, _ what: String) -> Double? {
        guard let value = number(node, what) else { return nil }
        guard value.isFinite else {
            error("\(what) must be a finite number, not \(node.scalarText ?? "")", at: node.start)
            return nil
        }
        return value
    }

    private func fraction(_ node: YAMLNode, _ what: String) -> Double? {
        guard let value = finite(node, what) else { return nil }
        guard value >= 0 && value <= 1 else {
            error("\(what) must be between 0 and 1", at: node.start)
            return nil
        }
        return value
    }

    private func integer(_ node: YAMLNode, _ what: String) -> Int? {
        guard let value = number(node, what) else { return nil }
        guard value.isFinite, value == value.rounded(), abs(value) < 9.0e15 else {
            error("\(what) must be a whole number, not \(node.scalarText ?? "")", at: node.start)
            return nil
        }
        return Int(value)
    }

    private func positiveInteger(_ node: YAMLNode, _ what: String) -> Int? {
        guard let value = integer(node, what) else { return nil }
        guard value >= 1 else {
            error("\(what) must be at least 1, not \(value)", at: node.start)
            return nil
        }
        return value
    }

    private func bool(_ node: YAMLNode, _ what: String) -> Bool? {
        guard case .bool(let value)? = node.scalarValue else {
            error("expected true or false for \(what), not \(node.kindDescription)", at: node.start)
            return nil
        }
        return value
    }

    private func numbers(_ node: YAMLNode, _ what: String) -> [Double]? {
        guard case .sequence(let items) = node.content else {
            error("expected a list of numbers for \(what), like [0, 1], not \(node.kindDescription)", at: node.start)
            return nil
        }
        var values: [Double] = []
        values.reserveCapacity(items.count)
        var failed = false
        for item in items {
            if let value = finite(item, what) { values.append(value) } else { failed = true }
        }
        return failed ? nil : values
    }

    /// A word from a fixed set (an enum's raw values), with a suggestion for a typo.
    private func choice<Choice: RawRepresentable & CaseIterable>(_ node: YAMLNode, _ what: String) -> Choice?
    where Choice.RawValue == String {
        let options = Choice.allCases.map(\.rawValue)
        guard case .string(let text)? = node.scalarValue ?? nil else {
            error("expected \(what) (one of \(options.joined(separator: ", "))), not \(node.kindDescription)", at: node.start)
            return nil
        }
        guard let value = Choice(rawValue: text) else {
            let hint = suggestion(for: text, among: options)
            error("unknown \(what) '\(text)'\(hint.isEmpty ? "; expected one of \(options.joined(separator: ", "))" : hint)", at: node.start)
            return nil
        }
        return value
    }

    private func activation(_ node: YAMLNode) -> Located<Activation>? {
        (choice(node, "activation") as Activation?).map { Located($0, at: node.start) }
    }

    private func bias(_ node: YAMLNode, allowList: Bool) -> Located<BiasSpec>? {
        switch node.scalarValue {
        case .bool(let flag)?: return Located(flag ? .trainable : .none, at: node.start)
        case .number(let value)? where value.isFinite: return Located(.value(value), at: node.start)
        default: break
        }
        if allowList, case .sequence = node.content {
            return numbers(node, "bias").map { Located(.values($0), at: node.start) }
        }
        error("bias must be true, false, a number\(allowList ? " or (on a group) a list of numbers" : ""), not \(node.kindDescription)", at: node.start)
        return nil
    }
}

private enum OptimizerName: String, CaseIterable {
    case sgd, momentum, adam
}

private enum ScheduleName: String, CaseIterable {
    case inverseTime = "inverse_time"
    case step
}

extension UnitReference {
    /// `[A-Za-z_][A-Za-z0-9_]*`, the format's unit names.
    public static func isIdentifier<S: StringProtocol>(_ text: S) -> Bool {
        var first = true
        for byte in text.utf8 {
            let letter = (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || byte == 95
            let digit = byte >= 48 && byte <= 57
            if !(letter || (!first && digit)) { return false }
            first = false
        }
        return !first
    }

    /// Splits `h` or `h[3]` into name and member index. Works on UTF-8 bytes: a spec may name
    /// millions of units, and Character-level string operations cost several times more.
    public static func parse(_ text: String) -> (name: String, member: Int?)? {
        let utf8 = text.utf8
        guard let open = utf8.firstIndex(of: UInt8(ascii: "[")) else {
            return isIdentifier(text) ? (text, nil) : nil
        }
        let name = Substring(utf8[..<open])
        guard isIdentifier(name), utf8.last == UInt8(ascii: "]") else { return nil }
        var index = 0
        var digits = 0
        for byte in utf8[utf8.index(after: open)...].dropLast() {
            guard byte >= 48 && byte <= 57, digits < 12 else { return nil }
            index = index * 10 + Int(byte - 48)
            digits += 1
        }
        guard digits > 0 else { return nil }
        return (String(name), index)
    }
}
