import BPCPlan

/// The spec stage: YAML text -> `ModelSpec`, with every problem in the log.
///
/// The top-level mapping is read event by event; `units` and `edges` stream one entry at a time
/// (each entry becomes a small `YAMLNode`), so a spec with millions of edges never exists as a
/// YAML tree. An edge entry of the common one-line shape does not even become a node: its
/// events go straight from libyaml's buffers into the spec's edge table (`decodePlainEdge`).
/// Every key is checked against the format, so a typo is reported with the closest valid key
/// instead of being ignored.
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

/// A table of a mapping read whole as a node: each handler decodes one value into the fields
/// being built, with the decoder's typed-value readers at hand.
typealias FieldTable<Fields> = KeyTable<@Sendable (inout Fields, SpecDecoder, YAMLNode) -> Void>

/// The top level's table: a handler reads its value from the event reader itself, so that
/// `units` and `edges` can stream instead of becoming a tree.
typealias TopLevelTable = KeyTable<@Sendable (inout SpecDecoder) throws(ParseAborted) -> Void>

struct SpecDecoder {
    let reader: YAMLEventReader
    var spec: ModelSpec
    /// `bpc`, once read: checked after the top level, since it may come anywhere in it.
    var version: Located<Int>?
    /// The unit names `decodePlainEdge` met last, as bytes, with their edge-table indices, and
    /// the last reference of each side.
    private var recentNames: [(bytes: [UInt8], index: Int32)] = []
    private var lastFrom: (name: Int32, member: Int?, index: Int32)?
    private var lastTo: (name: Int32, member: Int?, index: Int32)?

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
        let table = Self.topLevelKeys
        // Names, not table bits: a repeated unknown key is a duplicate too.
        var seen = Set<String>()
        var given: UInt64 = 0
        while try reader.peek().kind != .mappingEnd {
            let key = reader.mappingKey(try reader.readNode())
            if !seen.insert(key.value).inserted {
                error("duplicate key '\(key.value)'", at: key.position)
            }
            if let index = table.index(of: key.value) {
                given |= TopLevelTable.bit(index)
                try table.entries[index].decode(&self)
            } else {
                // Read whole, so that problems inside the value are reported too.
                _ = try reader.readNode()
                // The top level is the spec itself: its message names no mapping.
                error("unknown key '\(key.value)'\(suggestion(for: key.value, among: table.keys))", at: key.position)
            }
        }
        let end = try reader.next()
        // Not the table's `ifMissing`: a version that cannot be read is reported as missing too.
        if version == nil {
            error("missing key 'bpc' (the format version); add 'bpc: 1'", at: top.start)
        }
        for message in table.missingKeyMessages(given: given) { error(message, at: top.start) }
        _ = try reader.next()  // document end
        let after = try reader.next()
        if after.kind != .streamEnd {
            error("a spec is one YAML document; found a second one", at: after.start)
        }
        _ = end
        return spec
    }

    /// A top-level entry that reads its value from the event reader itself.
    ///
    /// Also a workaround: Swift 6.3's SIL generation crashes on a typed-throws closure literal
    /// passed straight to the generic `Entry.init`; typed as the concrete handler first, it compiles.
    private static func events(
        _ key: String, ifMissing: (@Sendable (String) -> String)? = nil,
        _ decode: @escaping @Sendable (inout SpecDecoder) throws(ParseAborted) -> Void
    ) -> TopLevelTable.Entry {
        TopLevelTable.Entry(key, ifMissing: ifMissing, decode)
    }

    /// A top-level entry whose value is small enough to read whole.
    private static func node(
        _ key: String, ifMissing: (@Sendable (String) -> String)? = nil,
        _ decode: @escaping @Sendable (inout SpecDecoder, YAMLNode) -> Void
    ) -> TopLevelTable.Entry {
        events(key, ifMissing: ifMissing) { decoder throws(ParseAborted) in
            let node = try decoder.reader.readNode()
            decode(&decoder, node)
        }
    }

    static let topLevelKeys = TopLevelTable("the spec", [
        node("bpc") { decoder, node in
            if let value = decoder.integer(node, "the format version") {
                decoder.version = Located(value, at: node.start)
                if value != 1 { decoder.error("format version \(value) is not supported; this bpc reads version 1", at: node.start) }
            }
        },
        node("name") { decoder, node in decoder.spec.name = decoder.string(node, "the spec's name") },
        node("description") { decoder, node in decoder.spec.description = decoder.string(node, "the description") },
        node("defaults") { decoder, node in
            var defaults = decoder.spec.defaults
            decoder.decodeEntries(of: node, defaultsKeys, into: &defaults)
            decoder.spec.defaults = defaults
        },
        events("units", ifMissing: { "missing key '\($0)'" }) { decoder throws(ParseAborted) in try decoder.streamUnits() },
        events("edges") { decoder throws(ParseAborted) in try decoder.streamEdges() },
        node("loss", ifMissing: { "missing key '\($0)' (one of \(Loss.allCases.map(\.name).joined(separator: ", ")))" }) { decoder, node in
            if let loss: Loss = decoder.choice(node, "loss") { decoder.spec.loss = Located(loss, at: node.start) }
        },
        node("init") { decoder, node in
            var initialization = decoder.spec.initialization
            decoder.decodeEntries(of: node, initKeys, into: &initialization)
            decoder.spec.initialization = initialization
        },
        node("data") { decoder, node in decoder.spec.data = decoder.sampleSet(node, dataKeys) },
        node("train") { decoder, node in decoder.decodeTrain(node) },
        node("expect") { decoder, node in
            guard case .sequence(let entries) = node.content else {
                decoder.error("'expect' must be a list, not \(node.kindDescription)", at: node.start)
                return
            }
            for entry in entries { decoder.decodeExpectation(entry) }
        },
    ])

    private mutating func streamUnits() throws(ParseAborted) {
        spec.unitsPosition = try reader.peek().start
        try streamList(named: "units") { decoder, node in decoder.decodeUnit(node) }
    }

    private mutating func streamEdges() throws(ParseAborted) {
        try streamList(named: "edges", plainEntry: { decoder, start throws(ParseAborted) in try decoder.decodePlainEdge(start) }) {
            decoder, node in decoder.decodeEdge(node)
        }
    }

    /// Streams a list, decoding each entry as it arrives; anything but a list is an error.
    ///
    /// `plainEntry`, given an entry's mapping start, may read the entry itself and return
    /// true; when it returns false the entry is read again as a node for `decode`.
    private mutating func streamList(
        named name: String,
        plainEntry: ((inout SpecDecoder, YAMLEvent) throws(ParseAborted) -> Bool)? = nil,
        _ decode: (inout SpecDecoder, YAMLNode) -> Void
    ) throws(ParseAborted) {
        let start = try reader.peek()
        guard start.kind == .sequenceStart else {
            let node = try reader.readNode()
            error("'\(name)' must be a list, not \(node.kindDescription)", at: node.start)
            return
        }
        _ = try reader.next()
        while true {
            if let plainEntry, let entry = try reader.nextMappingStart() {
                if try plainEntry(&self, entry) { continue }
            } else if try reader.peek().kind == .sequenceEnd {
                break
            }
            let node = try reader.readNode()
            decode(&self, node)
        }
        _ = try reader.next()
    }

    static let defaultsKeys = FieldTable<UnitDefaults>("defaults", [
        .init("activation") { defaults, decoder, value in defaults.activation = decoder.activation(value) },
        .init("bias") { defaults, decoder, value in defaults.bias = decoder.bias(value, allowList: false) },
    ])

    // MARK: Units and edges

    struct UnitFields {
        /// Nil while absent or unreadable; either way the unit is not added.
        var name: Located<String>?
        var unit: UnitSpec
    }

    static let unitKeys = FieldTable<UnitFields>("a unit", [
        .init("name", ifMissing: { "a unit needs a '\($0)'" }) { fields, decoder, value in fields.name = decoder.identifier(value) },
        .init("role") { fields, decoder, value in
            if let role: UnitRole = decoder.choice(value, "role") { fields.unit.role = role }
        },
        .init("activation") { fields, decoder, value in fields.unit.activation = decoder.activation(value) },
        .init("bias") { fields, decoder, value in fields.unit.bias = decoder.bias(value, allowList: true) },
        .init("count") { fields, decoder, value in
            if let count = decoder.integer(value, "count") {
                if count >= 1 {
                    fields.unit.count = Located(count, at: value.start)
                } else {
                    decoder.error("count must be at least 1, not \(count)", at: value.start)
                }
            }
        },
    ])

    private mutating func decodeUnit(_ node: YAMLNode) {
        var fields = UnitFields(unit: UnitSpec(name: Located("", at: node.start)))
        guard decodeEntries(of: node, Self.unitKeys, into: &fields), let name = fields.name else { return }
        fields.unit.name = name
        spec.units.append(fields.unit)
    }

    struct EdgeFields {
        var from: UnitReferences?
        var to: UnitReferences?
        var weight: Located<WeightSpec>?
        var share: Located<String>?
    }

    static let edgeKeys = FieldTable<EdgeFields>("an edge", [
        .init("from", ifMissing: { "an edge needs '\($0)'" }) { fields, decoder, value in fields.from = decoder.references(value) },
        .init("to", ifMissing: { "an edge needs '\($0)'" }) { fields, decoder, value in fields.to = decoder.references(value) },
        .init("weight") { fields, decoder, value in
            if case .sequence = value.content {
                if let list = decoder.numbers(value, "weights") { fields.weight = Located(.values(list), at: value.start) }
            } else if let number = decoder.finite(value, "weight") {
                fields.weight = Located(.value(number), at: value.start)
            }
        },
        .init("share") { fields, decoder, value in fields.share = decoder.parameterKey(value) },
    ])

    private mutating func decodeEdge(_ node: YAMLNode) {
        var fields = EdgeFields()
        guard decodeEntries(of: node, Self.edgeKeys, into: &fields), let from = fields.from, let to = fields.to else { return }
        if let share = fields.share, let weight = fields.weight {
            error("an edge that shares '\(share.value)' has no weight of its own; remove 'weight' (the shared parameter's value applies)", at: weight.position)
            return
        }
        if let share = fields.share { spec.edgeShares[spec.edges.count] = share }
        spec.edges.append(EdgeSpec(from: from, to: to, weight: fields.weight, position: node.start))
    }

    /// Reads an edge entry of the shape large specs repeat a million times -- a mapping with
    /// `from` and `to` naming one unit each and at most a plain number `weight`, as plain data
    /// -- straight from libyaml's buffers into the edge table, without a string or a node per
    /// entry. `start` is the entry's mapping start, already read.
    ///
    /// Any other entry (a list of units, a weight list, `share`, an unknown or repeated key, a
    /// tag, a value `decodeEdge` would reject, ...) is released unread and false returned: the
    /// general decoder then reads it from the start, with the same reports as always, and
    /// nothing here has reported anything.
    private mutating func decodePlainEdge(_ start: YAMLEvent) throws(ParseAborted) -> Bool {
        var from: PlainReference?
        var to: PlainReference?
        var weight: Double?
        var weightPosition: SourcePosition?
        entry: while true {
            let key = try reader.hold()
            if key.kind == .mappingEnd, let from, let to {
                let fromIndex = internReference(from, side: .from)
                let toIndex = internReference(to, side: .to)
                spec.edges.appendRow(
                    from: fromIndex, to: toIndex, weight: weight.map(WeightSpec.value),
                    positions: EntryPositions(entry: start.start, from: from.position, to: to.position, weight: weightPosition))
                reader.dropHeld()
                return true
            }
            // Any other key, or a key again, is released before its value is read: the general
            // decoder reports a repeated key as it reads it, before the value's own problems.
            guard key.kind == .scalar, key.isBare, let name = EdgeKey(key.bytes) else { break }
            switch name {
            case .from: if from != nil { break entry }
            case .to: if to != nil { break entry }
            case .weight: if weight != nil { break entry }
            }
            let value = try reader.hold()
            guard value.kind == .scalar, value.isBare else { break }
            switch name {
            case .from:
                from = PlainReference(value)
                if from == nil { break entry }
            case .to:
                to = PlainReference(value)
                if to == nil { break entry }
            case .weight:
                guard value.isPlain, case .number(let number) = PlainScalar(value.bytes), number.isFinite else { break entry }
                weight = number
                weightPosition = value.start
            }
        }
        try reader.releaseHeld(after: start)
        return false
    }

    /// The keys `decodePlainEdge` reads, recognised on the key's bytes.
    private enum EdgeKey {
        case from, to, weight

        init?(_ utf8: UnsafeBufferPointer<UInt8>) {
            // Bytes against bytes (a generic comparison with a literal's UTF8View costs ten times as
            // much, three times per entry).
            func matches(_ word: StaticString) -> Bool {
                word.utf8CodeUnitCount == utf8.count && UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount).elementsEqual(utf8)
            }
            if matches("from") {
                self = .from
            } else if matches("to") {
                self = .to
            } else if matches("weight") {
                self = .weight
            } else {
                return nil
            }
        }
    }

    /// The edge table's index of a reference read by `decodePlainEdge`. Consecutive entries
    /// often name the same unit on a side (a unit's incoming edges listed together), and
    /// names repeat (`h[3]`, `h[17]`, ...): the last reference of the side, then the last few
    /// names as bytes, are checked before a `String` is made and looked up.
    private mutating func internReference(_ reference: PlainReference, side: EdgeTable.Side) -> Int32 {
        let cached = recentNames.first { name in
            name.bytes.count == reference.name.count && name.bytes.withUnsafeBufferPointer { $0.elementsEqual(reference.name) }
        }
        let name: Int32
        if let cached {
            name = cached.index
        } else {
            name = spec.edges.internName(String(decoding: reference.name, as: UTF8.self))
            if recentNames.count == 4 { recentNames.removeFirst() }
            recentNames.append((Array(reference.name), name))
        }
        if let last = side == .from ? lastFrom : lastTo, last.name == name, last.member == reference.member { return last.index }
        let index = spec.edges.internReference(name: name, member: reference.member)
        if side == .from { lastFrom = (name, reference.member, index) } else { lastTo = (name, reference.member, index) }
        return index
    }

    /// A unit reference in a held scalar: the name's bytes (libyaml's), the member, where.
    private struct PlainReference {
        var name: UnsafeBufferPointer<UInt8>
        var member: Int?
        var position: SourcePosition

        /// Nil unless `reference(_:)` would accept the scalar: a name or member (a plain number
        /// or boolean is not a name).
        init?(_ value: HeldEvent) {
            if value.isPlain {
                switch PlainScalar(value.bytes) {
                case .number, .bool: return nil
                case .null, .string: break
                }
            }
            guard let parts = UnitReference.parse(value.bytes) else { return nil }
            name = UnsafeBufferPointer(rebasing: value.bytes[..<parts.nameLength])
            member = parts.member
            position = value.start
        }
    }

    /// A parameter key to share, written like `x1->h1` or `h1.bias`; whether it names a
    /// parameter is the compiler's to check.
    private func parameterKey(_ node: YAMLNode) -> Located<String>? {
        guard let text = string(node, "a parameter key like \"x1->h1\" or h1.bias") else { return nil }
        return Located(text, at: node.start)
    }

    static let biasKeys = FieldTable<Located<String>?>("a shared bias", [
        .init("share", ifMissing: { "a shared bias needs '\($0)': bias: {share: h1.bias}" }) { key, decoder, value in key = decoder.parameterKey(value) },
    ])

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

    static let initKeys = FieldTable<InitSpec>("init", [
        .init("scheme") { initialization, decoder, value in
            if let scheme: InitScheme = decoder.choice(value, "init scheme") { initialization.scheme = scheme }
        },
        .init("scale") { initialization, decoder, value in
            if let scale = decoder.finite(value, "scale") {
                if scale > 0 { initialization.scale = scale } else { decoder.error("scale must be positive", at: value.start) }
            }
        },
        .init("seed") { initialization, decoder, value in
            if let seed = decoder.integer(value, "seed") {
                if seed >= 0 { initialization.seed = UInt64(seed) } else { decoder.error("seed must be 0 or more", at: value.start) }
            }
        },
    ])

    struct SampleSetFields {
        var source: SampleSource?
        /// How many of `samples` and `csv` were written; exactly one must be.
        var forms = 0
        /// The rest of `data` (unused for `data.test` and `data.validation`).
        var test: SampleSource?
        var validation: SampleSource?
        var validationSplit: Located<Double>?
        var columns: [ColumnSpec]?
        var label: Located<String>?
        var normalize: Located<InputNormalization.Method>?
        var classes: Located<[String]>?
        var statistics: Located<(shift: [Double], scale: [Double])>?
    }

    /// The two forms of a sample set, shared by `data` and `data.test`.
    private static let sampleSetEntries: [FieldTable<SampleSetFields>.Entry] = [
        .init("samples") { fields, decoder, value in
            fields.forms += 1
            guard case .sequence(let items) = value.content else {
                decoder.error("'samples' must be a list of {in: [...], out: [...]}, not \(value.kindDescription)", at: value.start)
                return
            }
            // An empty set trains nothing and makes every mean and accuracy 0 / 0.
            guard !items.isEmpty else {
                decoder.error("'samples' is empty; give at least one {in: [...], out: [...]}", at: value.start)
                return
            }
            fields.source = .samples(items.compactMap(decoder.sample))
        },
        .init("csv") { fields, decoder, value in
            fields.forms += 1
            if let path = decoder.string(value, "a CSV path") { fields.source = .csv(Located(path, at: value.start)) }
        },
    ]

    static let testDataKeys = FieldTable<SampleSetFields>("data.test", sampleSetEntries)

    static let validationDataKeys = FieldTable<SampleSetFields>("data.validation", sampleSetEntries)

    static let dataKeys = FieldTable<SampleSetFields>("data", sampleSetEntries + [
        .init("test") { fields, decoder, value in fields.test = decoder.sampleSet(value, testDataKeys)?.training },
        .init("validation") { fields, decoder, value in
            fields.validation = decoder.sampleSet(value, validationDataKeys)?.training
        },
        .init("validation_split") { fields, decoder, value in
            guard let fraction = decoder.finite(value, "validation_split") else { return }
            guard fraction > 0 && fraction < 1 else {
                decoder.error("validation_split is the fraction of the training samples set aside, above 0 and below 1, not \(fraction)", at: value.start)
                return
            }
            fields.validationSplit = Located(fraction, at: value.start)
        },
        .init("columns") { fields, decoder, value in fields.columns = decoder.columns(value) },
        .init("label") { fields, decoder, value in
            guard let column = decoder.string(value, "the label column's name") else { return }
            guard !column.isEmpty else {
                decoder.error("'label' names the CSV column that holds the classes; it cannot be empty", at: value.start)
                return
            }
            fields.label = Located(column, at: value.start)
        },
        .init("normalize") { fields, decoder, value in
            if let method: InputNormalization.Method = decoder.choice(value, "normalization") {
                fields.normalize = Located(method, at: value.start)
            }
        },
        .init("classes") { fields, decoder, value in
            guard case .sequence(let items) = value.content, !items.isEmpty else {
                decoder.error("'classes' must be a list of the label's class names, in output order", at: value.start)
                return
            }
            let names = items.compactMap { decoder.string($0, "a class name") }
            if names.count == items.count { fields.classes = Located(names, at: value.start) }
        },
        .init("statistics") { fields, decoder, value in
            var statistics = StatisticsFields()
            guard decoder.decodeEntries(of: value, statisticsKeys, into: &statistics),
                  let shift = statistics.shift, let scale = statistics.scale else { return }
            fields.statistics = Located((shift, scale), at: value.start)
        },
    ])

    struct StatisticsFields {
        var shift: [Double]?
        var scale: [Double]?
    }

    static let statisticsKeys = FieldTable<StatisticsFields>("data.statistics", [
        .init("shift", ifMissing: { "statistics needs '\($0)' (one value per input)" }) { fields, decoder, value in
            fields.shift = decoder.numbers(value, "shift")
        },
        .init("scale", ifMissing: { "statistics needs '\($0)' (one value per input)" }) { fields, decoder, value in
            fields.scale = decoder.numbers(value, "scale")
        },
    ])

    /// A sample set (`samples:` list or `csv:` path) with whatever else `table` allows.
    private func sampleSet(_ node: YAMLNode, _ table: FieldTable<SampleSetFields>) -> DataSpec? {
        var fields = SampleSetFields()
        guard decodeEntries(of: node, table, into: &fields) else { return nil }
        if fields.forms == 2 { error("\(table.what) has both 'samples' and 'csv'; give one", at: node.start) }
        if fields.forms == 0 { error("\(table.what) needs 'samples' or 'csv'", at: node.start) }
        if let split = fields.validationSplit, fields.validation != nil {
            error("give 'validation' or 'validation_split', not both", at: split.position)
        }
        if let label = fields.label, case .samples? = fields.source {
            error("'label' names a column of the training CSV file, but the training data is 'samples' (give 'out' one-hot instead)", at: label.position)
        }
        guard let source = fields.source else { return nil }
        var data = DataSpec(training: source, test: fields.test, validation: fields.validation)
        data.validationSplit = fields.validationSplit
        data.columns = fields.columns
        data.label = fields.label
        data.normalize = fields.normalize
        if let classes = fields.classes, fields.label == nil {
            error("'classes' fixes the classes of the label column; give 'label' too", at: classes.position)
        }
        if let statistics = fields.statistics, fields.normalize == nil {
            error("'statistics' fixes the normalisation's shift and scale; give 'normalize' too", at: statistics.position)
        }
        data.classes = fields.classes
        data.statistics = fields.statistics
        return data
    }

    /// `data.columns`: a mapping from CSV header names (any text) to unit names.
    private func columns(_ node: YAMLNode) -> [ColumnSpec] {
        guard case .mapping(let pairs) = node.content else {
            error("'columns' must be a mapping from CSV header names to units (like Sepal.Length: x[0]), not \(node.kindDescription)", at: node.start)
            return []
        }
        return pairs.compactMap { header, unit in reference(unit).map { ColumnSpec(header: header, unit: $0) } }
    }

    struct SampleFields {
        var input: [Double]?
        var target: [Double]?
    }

    static let sampleKeys = FieldTable<SampleFields>("a sample", [
        .init("in", ifMissing: { "a sample needs '\($0)'" }) { fields, decoder, value in fields.input = decoder.numbers(value, "in") },
        .init("out", ifMissing: { "a sample needs '\($0)'" }) { fields, decoder, value in fields.target = decoder.numbers(value, "out") },
    ])

    private func sample(_ node: YAMLNode) -> Sample? {
        var fields = SampleFields()
        guard decodeEntries(of: node, Self.sampleKeys, into: &fields), let input = fields.input, let target = fields.target else { return nil }
        return Sample(input: input, target: target, position: node.start)
    }

    struct TrainFields {
        var train: TrainSpec
        var optimizer: OptimizerName?
        // The optimiser's settings, kept with their positions until the optimiser is known.
        var momentum: Located<Double>?
        var beta1: Located<Double>?, beta2: Located<Double>?, epsilon: Located<Double>?
    }

    static let trainKeys = FieldTable<TrainFields>("train", [
        .init("epochs") { fields, decoder, value in
            if let n = decoder.positiveInteger(value, "epochs") { fields.train.epochs = n }
        },
        .init("batch_size") { fields, decoder, value in
            if let n = decoder.positiveInteger(value, "batch_size") { fields.train.batchSize = n }
        },
        .init("learning_rate") { fields, decoder, value in
            if let rate = decoder.learningRate(value) { fields.train.learningRate = rate }
        },
        .init("shuffle") { fields, decoder, value in
            if let flag = decoder.bool(value, "shuffle") { fields.train.shuffle = flag }
        },
        .init("optimizer") { fields, decoder, value in
            if let name: OptimizerName = decoder.choice(value, "optimizer") { fields.optimizer = name }
        },
        .init("momentum") { fields, decoder, value in
            fields.momentum = decoder.fraction(value, "momentum").map { Located($0, at: value.start) }
        },
        .init("beta1") { fields, decoder, value in
            fields.beta1 = decoder.fraction(value, "beta1").map { Located($0, at: value.start) }
        },
        .init("beta2") { fields, decoder, value in
            fields.beta2 = decoder.fraction(value, "beta2").map { Located($0, at: value.start) }
        },
        .init("epsilon") { fields, decoder, value in
            if let e = decoder.finite(value, "epsilon") {
                if e > 0 { fields.epsilon = Located(e, at: value.start) } else { decoder.error("epsilon must be positive", at: value.start) }
            }
        },
        .init("freeze") { fields, decoder, value in
            // One key or a list of keys.
            let items: [YAMLNode]
            if case .sequence(let list) = value.content { items = list } else { items = [value] }
            for item in items {
                if let pattern = decoder.string(item, "a parameter key like \"x1->h1\" or \"*.bias\"") {
                    fields.train.freeze.append(Located(pattern, at: item.start))
                }
            }
        },
        .init("weight_decay") { fields, decoder, value in
            if let decay = decoder.finite(value, "weight_decay") {
                if decay >= 0 { fields.train.weightDecay = decay } else { decoder.error("weight_decay must be 0 or more", at: value.start) }
            }
        },
        .init("clip_norm") { fields, decoder, value in
            if let limit = decoder.finite(value, "clip_norm") {
                if limit > 0 { fields.train.clipNorm = limit } else { decoder.error("clip_norm must be positive", at: value.start) }
            }
        },
        .init("early_stopping") { fields, decoder, value in
            var stopping = EarlyStoppingFields()
            guard decoder.decodeEntries(of: value, earlyStoppingKeys, into: &stopping), let patience = stopping.patience else { return }
            fields.train.earlyStopping = EarlyStopping(patience: patience, minDelta: stopping.minDelta, restoreBest: stopping.restoreBest)
        },
    ])

    struct EarlyStoppingFields {
        var patience: Int?
        var minDelta = 0.0
        var restoreBest = true
    }

    static let earlyStoppingKeys = FieldTable<EarlyStoppingFields>("train.early_stopping", [
        .init("patience", ifMissing: { "early_stopping needs '\($0)' (the epochs to wait for an improvement)" }) { fields, decoder, value in
            fields.patience = decoder.positiveInteger(value, "patience")
        },
        .init("min_delta") { fields, decoder, value in
            if let delta = decoder.finite(value, "min_delta") {
                if delta >= 0 { fields.minDelta = delta } else { decoder.error("min_delta must be 0 or more", at: value.start) }
            }
        },
        .init("restore_best") { fields, decoder, value in
            if let flag = decoder.bool(value, "restore_best") { fields.restoreBest = flag }
        },
    ])

    private mutating func decodeTrain(_ node: YAMLNode) {
        var fields = TrainFields(train: spec.train)
        decodeEntries(of: node, Self.trainKeys, into: &fields)
        spec.train = fields.train
        let name = fields.optimizer ?? .sgd
        let owned: [(Located<Double>?, OptimizerName)] = [
            (fields.momentum, .momentum), (fields.beta1, .adam), (fields.beta2, .adam), (fields.epsilon, .adam),
        ]
        for (setting, owner) in owned {
            if let setting, owner != name {
                error("this setting belongs to optimizer \(owner.rawValue), but the optimizer is \(name.rawValue)", at: setting.position)
            }
        }
        switch name {
        case .momentum: spec.train.optimizer = .momentum(fields.momentum?.value ?? 0.9)
        case .adam:
            spec.train.optimizer = .adam(
                beta1: fields.beta1?.value ?? 0.9, beta2: fields.beta2?.value ?? 0.999, epsilon: fields.epsilon?.value ?? 1e-8)
        case .sgd: spec.train.optimizer = .sgd
        }
    }

    struct ScheduleFields {
        var kind: ScheduleName?
        var initial: Double?, decay: Double?, factor: Double?, every: Int?
    }

    private static let scheduleKind = FieldTable<ScheduleFields>.Entry(
        "schedule", ifMissing: { "a learning-rate mapping needs '\($0)' (inverse_time or step)" }
    ) { fields, decoder, value in fields.kind = decoder.choice(value, "schedule") }

    private static let scheduleInitial = FieldTable<ScheduleFields>.Entry("initial") { fields, decoder, value in
        fields.initial = decoder.finite(value, "initial")
        if let rate = fields.initial, rate <= 0 { decoder.error("initial must be positive", at: value.start) }
    }

    private static let scheduleDecay = FieldTable<ScheduleFields>.Entry("decay") { fields, decoder, value in
        fields.decay = decoder.finite(value, "decay")
        if let k = fields.decay, k < 0 { decoder.error("decay must be 0 or more", at: value.start) }
    }

    private static let scheduleFactor = FieldTable<ScheduleFields>.Entry("factor") { fields, decoder, value in
        fields.factor = decoder.finite(value, "factor")
        if let f = fields.factor, f <= 0 { decoder.error("factor must be positive", at: value.start) }
    }

    private static let scheduleEvery = FieldTable<ScheduleFields>.Entry("every") { fields, decoder, value in
        fields.every = decoder.positiveInteger(value, "every")
    }

    static let scheduleKeys = FieldTable<ScheduleFields>(
        "a learning-rate schedule", [scheduleKind, scheduleInitial, scheduleDecay, scheduleFactor, scheduleEvery])

    /// The settings a schedule needs; the table's other settings belong to the other schedule.
    private static func settings(of kind: ScheduleName) -> [FieldTable<ScheduleFields>.Entry] {
        switch kind {
        case .inverseTime: return [scheduleInitial, scheduleDecay]
        case .step: return [scheduleInitial, scheduleFactor, scheduleEvery]
        }
    }

    private func learningRate(_ node: YAMLNode) -> LearningRate? {
        guard case .mapping(let pairs) = node.content else {
            guard let rate = finite(node, "learning_rate") else { return nil }
            guard rate > 0 else {
                error("learning_rate must be positive", at: node.start)
                return nil
            }
            return .constant(rate)
        }
        var fields = ScheduleFields()
        decodeEntries(of: node, Self.scheduleKeys, into: &fields)
        guard let kind = fields.kind else { return nil }
        // Where each key was last written; a setting that is not the schedule's is reported there.
        var given: [String: SourcePosition] = [:]
        for (key, _) in pairs { given[key.value] = key.position }
        let settings = Self.settings(of: kind)
        for setting in settings where given[setting.key] == nil {
            error("schedule \(kind.rawValue) needs '\(setting.key)'", at: node.start)
        }
        for entry in Self.scheduleKeys.entries where entry.key != Self.scheduleKind.key {
            if !settings.contains(where: { $0.key == entry.key }), let position = given[entry.key] {
                error("'\(entry.key)' is not a setting of schedule \(kind.rawValue)", at: position)
            }
        }
        switch kind {
        case .inverseTime:
            guard let initial = fields.initial, let decay = fields.decay else { return nil }
            return .inverseTime(initial: initial, decay: decay)
        case .step:
            guard let initial = fields.initial, let factor = fields.factor, let every = fields.every else { return nil }
            return .step(initial: initial, factor: factor, every: every)
        }
    }

    static let expectationKeys = FieldTable<Expectation>("an expect entry", [
        .init("after") { expectation, decoder, value in
            if let moment: Expectation.Moment = decoder.choice(value, "after") { expectation.after = moment }
        },
        .init("in") { expectation, decoder, value in
            expectation.input = decoder.numbers(value, "in").map { Located($0, at: value.start) }
        },
        .init("out") { expectation, decoder, value in
            expectation.target = decoder.numbers(value, "out").map { Located($0, at: value.start) }
        },
        .init("outputs") { expectation, decoder, value in
            expectation.outputs = decoder.numbers(value, "outputs").map { Located($0, at: value.start) }
        },
        .init("loss") { expectation, decoder, value in expectation.loss = decoder.finite(value, "loss") },
        .init("gradients") { expectation, decoder, value in
            guard case .mapping(let pairs) = value.content else {
                decoder.error(
                    "'gradients' must be a mapping from parameter keys (like x1->h1 or h1.bias) to numbers, not \(value.kindDescription)",
                    at: value.start)
                return
            }
            for (gradientKey, gradient) in pairs {
                if let number = decoder.finite(gradient, "a gradient") { expectation.gradients.append((gradientKey, number)) }
            }
        },
        .init("tolerance") { expectation, decoder, value in
            if let tolerance = decoder.finite(value, "tolerance") {
                if tolerance >= 0 { expectation.tolerance = tolerance } else { decoder.error("tolerance must be 0 or more", at: value.start) }
            }
        },
        .init("loss_below") { expectation, decoder, value in expectation.lossBelow = decoder.finite(value, "loss_below") },
        .init("accuracy_at_least") { expectation, decoder, value in
            expectation.accuracyAtLeast = decoder.fraction(value, "accuracy_at_least")
        },
    ])

    private mutating func decodeExpectation(_ node: YAMLNode) {
        var expectation = Expectation(position: node.start)
        guard decodeEntries(of: node, Self.expectationKeys, into: &expectation) else { return }
        spec.expectations.append(expectation)
    }

    // MARK: Mappings and typed values

    /// Decodes a mapping's entries into `fields` through `table`, reporting unknown keys (with a
    /// suggestion) and missing required ones. Returns false, with the error reported, when `node`
    /// is not a mapping, so the caller adds nothing.
    @discardableResult
    private func decodeEntries<Fields>(of node: YAMLNode, _ table: FieldTable<Fields>, into fields: inout Fields) -> Bool {
        guard case .mapping(let pairs) = node.content else {
            error("\(table.what) must be a mapping with keys \(table.keys.joined(separator: ", ")), not \(node.kindDescription)", at: node.start)
            return false
        }
        var given: UInt64 = 0
        for (key, value) in pairs {
            if let index = table.index(of: key.value) {
                given |= FieldTable<Fields>.bit(index)
                table.entries[index].decode(&fields, self, value)
            } else {
                error(table.unknownKeyMessage(key.value), at: key.position)
            }
        }
        for message in table.missingKeyMessages(given: given) { error(message, at: node.start) }
        return true
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
        if allowList, case .mapping = node.content {
            var key: Located<String>?
            decodeEntries(of: node, Self.biasKeys, into: &key)
            return key.map { Located(.shared($0.value), at: $0.position) }
        }
        error("bias must be true, false, a number\(allowList ? ", {share: KEY} or (on a group) a list of numbers" : ""), not \(node.kindDescription)", at: node.start)
        return nil
    }
}

enum OptimizerName: String, CaseIterable {
    case sgd, momentum, adam
}

enum ScheduleName: String, CaseIterable {
    case inverseTime = "inverse_time"
    case step
}

extension UnitReference {
    /// `[A-Za-z_][A-Za-z0-9_]*`, the format's unit names.
    public static func isIdentifier<S: StringProtocol>(_ text: S) -> Bool {
        isIdentifier(bytes: text.utf8)
    }

    private static func isIdentifier<Bytes: Sequence<UInt8>>(bytes: Bytes) -> Bool {
        var first = true
        for byte in bytes {
            let letter = (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || byte == 95
            let digit = byte >= 48 && byte <= 57
            if !(letter || (!first && digit)) { return false }
            first = false
        }
        return !first
    }

    /// Splits `h` or `h[3]` into name and member index.
    public static func parse(_ text: String) -> (name: String, member: Int?)? {
        var text = text
        return text.withUTF8 { utf8 in
            parse(utf8).map { (String(decoding: UnsafeBufferPointer(rebasing: utf8[..<$0.nameLength]), as: UTF8.self), $0.member) }
        }
    }

    /// `parse` on UTF-8 bytes, giving the name as the length of the prefix it is: a spec may
    /// name millions of units, and the parser reads them from libyaml's buffers.
    static func parse(_ utf8: UnsafeBufferPointer<UInt8>) -> (nameLength: Int, member: Int?)? {
        guard let open = utf8.firstIndex(of: UInt8(ascii: "[")) else {
            return isIdentifier(bytes: utf8) ? (utf8.count, nil) : nil
        }
        guard isIdentifier(bytes: utf8[..<open]), utf8.last == UInt8(ascii: "]") else { return nil }
        var index = 0
        var digits = 0
        for byte in utf8[(open + 1)..<(utf8.count - 1)] {
            guard byte >= 48 && byte <= 57, digits < 12 else { return nil }
            index = index * 10 + Int(byte - 48)
            digits += 1
        }
        guard digits > 0 else { return nil }
        return (open, index)
    }
}
