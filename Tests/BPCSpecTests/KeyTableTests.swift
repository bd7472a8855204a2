@testable import BPCSpec
import Testing

// The decoder's key tables are the one place a key is spelled: these tests walk the tables
// themselves, so a key added to a table without decoding code, or decoded into the wrong field,
// fails here without anyone remembering to add a case.

/// Every mapping of the format: how the unknown-key message places it, its table's keys, and
/// a spec that writes `content` (the inside of a flow mapping; one line at the top level) into
/// that mapping.
private let mappings: [(name: String, place: String, keys: [String], spec: @Sendable (String) -> String)] = [
    ("the top level", "", SpecDecoder.topLevelKeys.keys, { topLevel($0) }),
    ("defaults", " in defaults", SpecDecoder.defaultsKeys.keys, { topLevel("defaults: {\($0)}") }),
    ("a unit", " in a unit", SpecDecoder.unitKeys.keys, { topLevel("units: [{\($0)}]") }),
    ("an edge", " in an edge", SpecDecoder.edgeKeys.keys, { topLevel("edges: [{\($0)}]") }),
    ("a shared bias", " in a shared bias", SpecDecoder.biasKeys.keys, { topLevel("units: [{name: h, bias: {\($0)}}]") }),
    ("init", " in init", SpecDecoder.initKeys.keys, { topLevel("init: {\($0)}") }),
    ("data", " in data", SpecDecoder.dataKeys.keys, { topLevel("data: {\($0)}") }),
    ("data.test", " in data.test", SpecDecoder.testDataKeys.keys, { topLevel("data: {csv: a.csv, test: {\($0)}}") }),
    ("data.statistics", " in data.statistics", SpecDecoder.statisticsKeys.keys,
     { topLevel("data: {csv: a.csv, normalize: standard, statistics: {\($0)}}") }),
    ("data.validation", " in data.validation", SpecDecoder.validationDataKeys.keys,
     { topLevel("data: {csv: a.csv, validation: {\($0)}}") }),
    ("a sample", " in a sample", SpecDecoder.sampleKeys.keys, { topLevel("data: {samples: [{\($0)}]}") }),
    ("train", " in train", SpecDecoder.trainKeys.keys, { topLevel("train: {\($0)}") }),
    ("train.early_stopping", " in train.early_stopping", SpecDecoder.earlyStoppingKeys.keys,
     { topLevel("train: {early_stopping: {\($0)}}") }),
    ("a learning-rate schedule", " in a learning-rate schedule", SpecDecoder.scheduleKeys.keys,
     { topLevel("train: {learning_rate: {\($0)}}") }),
    ("an expect entry", " in an expect entry", SpecDecoder.expectationKeys.keys, { topLevel("expect: [{\($0)}]") }),
]

/// A spec with `lines` at the top level and the required keys the lines do not give.
private func topLevel(_ lines: String) -> String {
    let given = Set(lines.split(separator: "\n").map { $0.prefix { $0 != ":" } })
    let required = ["bpc: 1", "units: []", "loss: half_squared_error"].filter { !given.contains($0.prefix { $0 != ":" }) }
    return (required + [lines]).joined(separator: "\n") + "\n"
}

/// One key of one mapping set to a value no default has, and the check that the value landed
/// in the field of the key's name.
private struct Probe: Sendable, CustomTestStringConvertible {
    let mapping: String
    let key: String
    let content: String
    let landed: @Sendable (ModelSpec) -> Bool

    init(_ mapping: String, _ key: String, _ content: String, _ landed: @escaping @Sendable (ModelSpec) -> Bool) {
        self.mapping = mapping
        self.key = key
        self.content = content
        self.landed = landed
    }

    var testDescription: String { "\(mapping): \(key)" }
}

private let probes: [Probe] = [
    // The version is checked, not kept: it lands when no "missing key 'bpc'" is reported.
    Probe("the top level", "bpc", "bpc: 1", { _ in true }),
    Probe("the top level", "name", "name: probe_name", { $0.name == "probe_name" }),
    Probe("the top level", "description", "description: probe text", { $0.description == "probe text" }),
    Probe("the top level", "defaults", "defaults: {activation: softplus}", { $0.defaults.activation?.value == .softplus }),
    Probe("the top level", "units", "units: [{name: zed}]", { $0.units.map(\.name.value) == ["zed"] }),
    Probe("the top level", "edges", "edges: [{from: a, to: b}]", { $0.edges.count == 1 }),
    Probe("the top level", "loss", "loss: softmax_cross_entropy", { $0.loss?.value == .softmaxCrossEntropy }),
    Probe("the top level", "init", "init: {seed: 77}", { $0.initialization.seed == 77 }),
    Probe("the top level", "data", "data: {csv: probe.csv}", { csvPath($0.data?.training) == "probe.csv" }),
    Probe("the top level", "train", "train: {epochs: 17}", { $0.train.epochs == 17 }),
    Probe("the top level", "expect", "expect: [{after: train}]", { $0.expectations.map(\.after) == [.train] }),

    Probe("defaults", "activation", "activation: silu", { $0.defaults.activation?.value == .silu }),
    Probe("defaults", "bias", "bias: 0.125", { $0.defaults.bias?.value == .value(0.125) }),

    Probe("a unit", "name", "name: zed", { $0.units.first?.name.value == "zed" }),
    Probe("a unit", "role", "name: h, role: output", { $0.units.first?.role == .output }),
    Probe("a unit", "activation", "name: h, activation: leaky_relu", { $0.units.first?.activation?.value == .leakyReLU }),
    Probe("a unit", "bias", "name: h, bias: -0.75", { $0.units.first?.bias?.value == .value(-0.75) }),
    Probe("a unit", "count", "name: h, count: 7", { $0.units.first?.count?.value == 7 }),

    Probe("an edge", "from", "from: [a, b], to: c", { $0.edges.first.map { texts($0.from) } == ["a", "b"] }),
    Probe("an edge", "to", "from: a, to: \"c[4]\"", { $0.edges.first.map { texts($0.to) } == ["c[4]"] }),
    Probe("an edge", "weight", "from: a, to: b, weight: 0.625", { $0.edges.first?.weight?.value == .value(0.625) }),
    Probe("an edge", "share", "from: a, to: b, share: \"a->c\"", { $0.edgeShares[0]?.value == "a->c" }),
    Probe("a shared bias", "share", "share: g.bias", { $0.units.first?.bias?.value == .shared("g.bias") }),

    Probe("init", "scheme", "scheme: xavier", { $0.initialization.scheme == .xavier }),
    Probe("init", "scale", "scale: 2.5", { $0.initialization.scale == 2.5 }),
    Probe("init", "seed", "seed: 77", { $0.initialization.seed == 77 }),

    Probe("data", "samples", "samples: [{in: [1.5], out: [0]}]", { inputs($0.data?.training) == [[1.5]] }),
    Probe("data", "csv", "csv: train.csv", { csvPath($0.data?.training) == "train.csv" }),
    Probe("data", "test", "csv: a.csv, test: {csv: held_out.csv}", { csvPath($0.data?.test) == "held_out.csv" }),

    Probe("data", "validation", "csv: a.csv, validation: {csv: watched.csv}", { csvPath($0.data?.validation) == "watched.csv" }),
    Probe("data", "validation_split", "csv: a.csv, validation_split: 0.25", { $0.data?.validationSplit?.value == 0.25 }),
    Probe("data", "columns", "csv: a.csv, columns: {Sepal.Length: \"x[0]\"}",
          { $0.data?.columns?.map { "\($0.header.value)=\($0.unit.text)" } == ["Sepal.Length=x[0]"] }),
    Probe("data", "label", "csv: a.csv, label: species", { $0.data?.label?.value == "species" }),
    Probe("data", "normalize", "csv: a.csv, normalize: minmax", { $0.data?.normalize?.value == .minmax }),
    Probe("data", "classes", "csv: a.csv, label: kind, classes: [cat, dog]", { $0.data?.classes?.value == ["cat", "dog"] }),
    Probe("data", "statistics", "csv: a.csv, normalize: standard, statistics: {shift: [1], scale: [2]}",
          { $0.data?.statistics?.value.scale == [2] }),
    Probe("data.statistics", "shift", "shift: [0.5], scale: [1]", { $0.data?.statistics?.value.shift == [0.5] }),
    Probe("data.statistics", "scale", "shift: [0], scale: [4]", { $0.data?.statistics?.value.scale == [4] }),

    Probe("data.validation", "samples", "samples: [{in: [5], out: [6]}]", { inputs($0.data?.validation) == [[5]] }),
    Probe("data.validation", "csv", "csv: watched.csv", { csvPath($0.data?.validation) == "watched.csv" }),

    Probe("data.test", "samples", "samples: [{in: [3], out: [4]}]", { inputs($0.data?.test) == [[3]] }),
    Probe("data.test", "csv", "csv: held_out.csv", { csvPath($0.data?.test) == "held_out.csv" }),

    Probe("a sample", "in", "in: [0.5, 2.5], out: [0]", { inputs($0.data?.training) == [[0.5, 2.5]] }),
    Probe("a sample", "out", "in: [0], out: [3.5]", { targets($0.data?.training) == [[3.5]] }),

    Probe("train", "epochs", "epochs: 17", { $0.train.epochs == 17 }),
    Probe("train", "batch_size", "batch_size: 9", { $0.train.batchSize == 9 }),
    Probe("train", "learning_rate", "learning_rate: 0.375", { $0.train.learningRate == .constant(0.375) }),
    Probe("train", "shuffle", "shuffle: true", { $0.train.shuffle }),
    Probe("train", "optimizer", "optimizer: adam", { $0.train.optimizer == .adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8) }),
    Probe("train", "momentum", "optimizer: momentum, momentum: 0.625", { $0.train.optimizer == .momentum(0.625) }),
    Probe("train", "beta1", "optimizer: adam, beta1: 0.5", { $0.train.optimizer == .adam(beta1: 0.5, beta2: 0.999, epsilon: 1e-8) }),
    Probe("train", "beta2", "optimizer: adam, beta2: 0.75", { $0.train.optimizer == .adam(beta1: 0.9, beta2: 0.75, epsilon: 1e-8) }),
    Probe("train", "epsilon", "optimizer: adam, epsilon: 0.001", { $0.train.optimizer == .adam(beta1: 0.9, beta2: 0.999, epsilon: 0.001) }),
    Probe("train", "freeze", "freeze: [\"*.bias\", x1->h1]", { $0.train.freeze.map(\.value) == ["*.bias", "x1->h1"] }),
    Probe("train", "weight_decay", "weight_decay: 0.125", { $0.train.weightDecay == 0.125 }),
    Probe("train", "clip_norm", "clip_norm: 2.5", { $0.train.clipNorm == 2.5 }),
    Probe("train", "early_stopping", "early_stopping: {patience: 4}", { $0.train.earlyStopping?.patience == 4 && $0.train.earlyStopping?.restoreBest == true }),
    Probe("train.early_stopping", "patience", "patience: 6", { $0.train.earlyStopping?.patience == 6 }),
    Probe("train.early_stopping", "min_delta", "patience: 1, min_delta: 0.25", { $0.train.earlyStopping?.minDelta == 0.25 }),
    Probe("train.early_stopping", "restore_best", "patience: 1, restore_best: false", { $0.train.earlyStopping?.restoreBest == false }),

    Probe("a learning-rate schedule", "schedule", "schedule: step, initial: 0.5, factor: 0.5, every: 10",
          { $0.train.learningRate == .step(initial: 0.5, factor: 0.5, every: 10) }),
    Probe("a learning-rate schedule", "initial", "schedule: inverse_time, initial: 0.875, decay: 0.5",
          { $0.train.learningRate == .inverseTime(initial: 0.875, decay: 0.5) }),
    Probe("a learning-rate schedule", "decay", "schedule: inverse_time, initial: 0.5, decay: 0.0625",
          { $0.train.learningRate == .inverseTime(initial: 0.5, decay: 0.0625) }),
    Probe("a learning-rate schedule", "factor", "schedule: step, initial: 0.5, factor: 0.3125, every: 10",
          { $0.train.learningRate == .step(initial: 0.5, factor: 0.3125, every: 10) }),
    Probe("a learning-rate schedule", "every", "schedule: step, initial: 0.5, factor: 0.5, every: 13",
          { $0.train.learningRate == .step(initial: 0.5, factor: 0.5, every: 13) }),

    Probe("an expect entry", "after", "after: train", { $0.expectations.first?.after == .train }),
    Probe("an expect entry", "in", "in: [1, 2]", { $0.expectations.first?.input?.value == [1, 2] }),
    Probe("an expect entry", "out", "out: [3]", { $0.expectations.first?.target?.value == [3] }),
    Probe("an expect entry", "outputs", "outputs: [0.25]", { $0.expectations.first?.outputs?.value == [0.25] }),
    Probe("an expect entry", "loss", "loss: 0.4375", { $0.expectations.first?.loss == 0.4375 }),
    Probe("an expect entry", "gradients", "gradients: {a->b: 0.25}",
          { $0.expectations.first?.gradients.map { "\($0.key.value)=\($0.value)" } == ["a->b=0.25"] }),
    Probe("an expect entry", "tolerance", "tolerance: 0.001", { $0.expectations.first?.tolerance == 0.001 }),
    Probe("an expect entry", "loss_below", "loss_below: 0.05", { $0.expectations.first?.lossBelow == 0.05 }),
    Probe("an expect entry", "accuracy_at_least", "accuracy_at_least: 0.9", { $0.expectations.first?.accuracyAtLeast == 0.9 }),
]

private func texts(_ references: UnitReferences) -> [String] {
    var texts: [String] = []
    references.forEach { texts.append($0.text) }
    return texts
}

private func csvPath(_ source: SampleSource?) -> String? {
    if case .csv(let path)? = source { return path.value }
    return nil
}

private func inputs(_ source: SampleSource?) -> [[Double]]? {
    if case .samples(let samples)? = source { return samples.map(\.input) }
    return nil
}

private func targets(_ source: SampleSource?) -> [[Double]]? {
    if case .samples(let samples)? = source { return samples.map(\.target) }
    return nil
}

private func parse(_ text: String) -> (spec: ModelSpec?, diagnostics: [Diagnostic]) {
    var log = DiagnosticLog()
    let spec = SpecParser.parse(text: text, path: "test.yaml", log: &log)
    return (spec, log.sorted())
}

@Suite("Spec key tables")
struct KeyTableTests {
    @Test("every table names each of its keys once and fits the 64-key bit set of given keys")
    func keysAreDistinct() {
        for mapping in mappings {
            #expect(Set(mapping.keys).count == mapping.keys.count, "\(mapping.name): \(mapping.keys)")
            #expect(mapping.keys.count <= 64, "\(mapping.name)")
        }
    }

    @Test("the probes set exactly the keys of every table, each in its own spec")
    func probesCoverEveryKey() {
        for mapping in mappings {
            let probed = probes.filter { $0.mapping == mapping.name }.map(\.key)
            #expect(probed.sorted() == mapping.keys.sorted(), "\(mapping.name)")
        }
        #expect(Set(probes.map(\.mapping)).isSubset(of: mappings.map(\.name)))
        for probe in probes {
            let keys = probe.mapping == "the top level" ? [Substring(probe.content)] : probe.content.split(separator: ", ")
            #expect(keys.contains { $0.hasPrefix("\(probe.key):") }, "\(probe.testDescription)")
        }
    }

    @Test("every key of every table decodes into the field of its name", arguments: probes)
    fileprivate func keyDecodesIntoItsField(_ probe: Probe) throws {
        let mapping = try #require(mappings.first { $0.name == probe.mapping })
        let result = parse(mapping.spec(probe.content))
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics.map(\.description))")
        let spec = try #require(result.spec)
        #expect(probe.landed(spec))
    }

    @Test("a near miss of every key of every table is reported as unknown, with that key suggested")
    func nearMissSuggestsTheKey() {
        for mapping in mappings {
            for key in mapping.keys {
                let result = parse(mapping.spec("\(key)x: 0"))
                let expected = "unknown key '\(key)x'\(mapping.place); did you mean '\(key)'?"
                #expect(result.diagnostics.contains { $0.message == expected }, "\(expected) among \(result.diagnostics.map(\.description))")
            }
        }
    }

    @Test("a mapping given as a list is reported with the table's keys, in the table's order")
    func mappingErrorListsTheTable() {
        for mapping in mappings where !mapping.place.isEmpty && !["a learning-rate schedule", "a shared bias"].contains(mapping.name) {
            // A schedule given as a list is read as a learning rate, not as a schedule; a
            // bias given as a list is one value per group member.
            let text = mapping.spec("").replacingOccurrences(of: "{}", with: "[]")
            let result = parse(text)
            let expected = "\(mapping.name) must be a mapping with keys \(mapping.keys.joined(separator: ", ")), not a list"
            #expect(result.diagnostics.contains { $0.message == expected }, "\(expected) among \(result.diagnostics.map(\.description))")
        }
    }
}
