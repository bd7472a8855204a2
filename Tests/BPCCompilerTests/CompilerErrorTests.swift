import BPC
import Foundation
import BPCTestSupport
import Testing

// Compile-stage errors (names, edges, cycles, losses, weight and bias lists, limits) and the
// data and `expect` validation of the library's load pipeline (`Model.init`), each checked for its message and
// its exact 1-based line and column.


private func fixture(_ name: String) -> String {
    invalidFixtures.appendingPathComponent(name).path
}

/// Parses `text` (named `test.yaml`), which must parse cleanly, and compiles it.
private func compile(
    _ text: String, limits: Limits = Limits(), sourceLocation: SourceLocation = #_sourceLocation
) -> (compilation: Compilation?, diagnostics: [Diagnostic]) {
    var log = DiagnosticLog()
    guard let spec = SpecParser.parse(text: text, path: "test.yaml", limits: limits, log: &log), !log.hasErrors else {
        Issue.record("the spec does not parse: \(log.sorted().map(\.description))", sourceLocation: sourceLocation)
        return (nil, log.sorted())
    }
    let compilation = Compiler.compile(spec, limits: limits, log: &log)
    return (compilation, log.sorted())
}

/// Parses `text` (named `path`), which must parse cleanly, and loads it: compile, data, expect.
private func load(
    _ text: String, path: String = "test.yaml", sourceLocation: SourceLocation = #_sourceLocation
) -> (model: Model?, diagnostics: [Diagnostic]) {
    var log = DiagnosticLog()
    guard let spec = SpecParser.parse(text: text, path: path, log: &log), !log.hasErrors else {
        Issue.record("the spec does not parse: \(log.sorted().map(\.description))", sourceLocation: sourceLocation)
        return (nil, log.sorted())
    }
    return loading(.spec(spec))
}

/// Loads a fixture spec from disk through the whole pipeline.
private func loadFixture(_ name: String) -> (model: Model?, diagnostics: [Diagnostic]) {
    loading(.specFile(fixture(name)))
}

private func loading(_ source: ModelSource) -> (model: Model?, diagnostics: [Diagnostic]) {
    do {
        return (try Model(source), [])
    } catch {
        return (nil, error.diagnostics)
    }
}


/// x (input) -> h (hidden) -> y (output), with the lines after `units:` and `edges:` given.
private func network(units: String = "", edges: String, loss: String = "half_squared_error") -> String {
    """
    bpc: 1
    units:
      - {name: x, role: input}
      - {name: h}
      - {name: y, role: output}
    \(units)edges:
    \(edges)
    loss: \(loss)
    """
}

@Suite("Compile errors: names")
struct NameErrorTests {
    @Test("an unknown unit in an edge is reported at the reference with the closest unit name")
    func unknownUnit() {
        let result = compile(network(edges: "  - {from: x, to: hh}\n  - {from: h, to: y}"))
        expectOnlyError(result.diagnostics, "unknown unit 'hh'; did you mean 'h'?", line: 7, column: 19)
        #expect(result.compilation == nil)
    }

    @Test("a member index past the end of a group is reported with the group's members")
    func unknownGroupMember() {
        let text = """
            bpc: 1
            units:
              - {name: x, role: input}
              - {name: h, count: 4}
              - {name: y, role: output}
            edges:
              - {from: x, to: h}
              - from: h[7]
                to: y
            loss: half_squared_error
            """
        let result = compile(text)
        expectOnlyError(result.diagnostics, "group 'h' has 4 members (h[0] to h[3]); there is no h[7]", line: 8, column: 11)
    }

    @Test("a member index on a unit that is not a group is reported at the reference")
    func memberOfNonGroup() {
        let result = compile(network(edges: "  - {from: \"x[0]\", to: h}\n  - {from: h, to: y}"))
        expectOnlyError(result.diagnostics, "'x' is a single unit, not a group; write 'x'", line: 7, column: 12)
    }

    @Test("a unit name declared twice is reported at the second declaration, naming the first")
    func duplicateUnitName() {
        let result = compile(network(units: "  - {name: h, count: 2}\n", edges: "  - {from: x, to: h}\n  - {from: h, to: y}"))
        expectOnlyError(result.diagnostics, "unit 'h' is declared twice (first at 4:12)", line: 6, column: 12)
    }

    @Test("an edge into an input unit is reported at the input's reference")
    func edgeIntoInput() {
        let result = compile(network(edges: "  - {from: x, to: h}\n  - {from: h, to: [y, x]}"))
        expectOnlyError(result.diagnostics, "edge into input unit 'x'; inputs take no incoming edges", line: 8, column: 23)
    }

    @Test("a network without input or output units is reported at its first unit")
    func noInputOrOutput() {
        let text = """
            bpc: 1
            units:
              - {name: h}
            loss: half_squared_error
            """
        let result = compile(text)
        #expect(result.diagnostics.count == 2)
        expectError(result.diagnostics, "the network has no input unit; give at least one unit 'role: input'", line: 3, column: 12)
        expectError(result.diagnostics, "the network has no output unit; give at least one unit 'role: output'", line: 3, column: 12)
    }

    @Test("an empty units list is rejected as a network without inputs and outputs")
    func emptyUnits() {
        let result = compile("bpc: 1\nunits: []\nloss: half_squared_error\n")
                    #expect(result.compilation == nil)
            #expect(result.diagnostics.contains { $0.message.contains("the network has no input unit") && $0.position?.line == 2 },
                    "\(result.diagnostics.map(\.description))")
    }

    @Test("an input unit with an activation is reported at the activation")
    func inputWithActivation() {
        let text = """
            bpc: 1
            units:
              - {name: x, role: input, activation: tanh}
              - {name: y, role: output}
            edges:
              - {from: x, to: y}
            loss: half_squared_error
            """
        let result = compile(text)
        expectOnlyError(result.diagnostics, "input unit 'x' has no activation; remove 'activation'", line: 3, column: 40)
    }

    @Test("a suggestion among several equally close names is the first declared, the same on every run")
    func deterministicSuggestion() {
        let text = """
            bpc: 1
            units:
              - {name: x, role: input}
              - {name: h1}
              - {name: h2}
              - {name: h3}
              - {name: h4}
              - {name: h5}
              - {name: h6}
              - {name: y, role: output}
            edges:
              - {from: x, to: h9}
            loss: half_squared_error
            """
        let result = compile(text)
        expectError(result.diagnostics, "unknown unit 'h9'; did you mean", line: 12, column: 19)
                    #expect(result.diagnostics.first?.message == "unknown unit 'h9'; did you mean 'h1'?")
    }
}

@Suite("Compile errors: edges and graph")
struct EdgeErrorTests {
    @Test("an entry that creates the same edge twice is reported at that entry")
    func duplicateEdgeWithinEntry() {
        let result = compile(network(edges: "  - {from: x, to: h}\n  - {from: h, to: [y, y]}"))
        expectOnlyError(result.diagnostics, "duplicate edge h->y (this entry creates it twice)", line: 8, column: 5)
    }

    @Test("an edge created again by a later entry is reported at the later entry, naming the first")
    func duplicateEdgeAcrossEntries() {
        let result = compile(network(edges: "  - {from: x, to: h}\n  - {from: h, to: y}\n  - {from: [x, h], to: y}"))
        expectOnlyError(result.diagnostics, "duplicate edge h->y (first created at 8:5)", line: 9, column: 5)
    }

    @Test("a cycle is reported at the edge that closes it, naming its units in order")
    func cycle() {
        var log = DiagnosticLog()
        let spec = SpecParser.parse(path: fixture("cycle.yaml"), log: &log)
        #expect(!log.hasErrors)
        let compilation = spec.flatMap { Compiler.compile($0, log: &log) }
        #expect(compilation == nil)
        let diagnostics = log.sorted()
        expectOnlyError(diagnostics, "cycle: a -> b -> c -> a; the network must be a DAG", line: 14, column: 5)
        #expect(diagnostics.first?.file == fixture("cycle.yaml"))
    }

    @Test("a unit feeding itself is a cycle of one unit")
    func selfLoop() {
        let result = compile(network(edges: "  - {from: x, to: h}\n  - {from: h, to: h}\n  - {from: h, to: y}"))
        expectOnlyError(result.diagnostics, "cycle: h -> h; the network must be a DAG", line: 8, column: 5)
    }

    @Test("a weight list whose length is not the number of edges the entry creates is reported at the list")
    func weightListLength() {
        let result = compile(network(edges: "  - {from: x, to: h}\n  - {from: [x, h], to: y, weight: [0.1, 0.2, 0.3]}"))
        expectOnlyError(result.diagnostics, "weight lists 3 numbers but this entry creates 2 edges (2 x 1, from-major)", line: 8, column: 35)
    }

    @Test("a bias list whose length is not the group's size is reported at the list")
    func biasListLength() {
        let text = """
            bpc: 1
            units:
              - {name: x, role: input}
              - {name: h, count: 4, bias: [0.1, 0.2, 0.3]}
              - {name: y, role: output}
            edges:
              - {from: x, to: h}
              - {from: h, to: y}
            loss: half_squared_error
            """
        let result = compile(text)
        expectOnlyError(result.diagnostics, "bias lists 3 values for group 'h' of 4 units", line: 4, column: 31)
    }

    @Test("a bias list on a single unit is reported at the list")
    func biasListOnSingleUnit() {
        let text = """
            bpc: 1
            units:
              - {name: x, role: input}
              - {name: y, role: output, bias: [1, 2]}
            edges:
              - {from: x, to: y}
            loss: half_squared_error
            """
        let result = compile(text)
        expectOnlyError(result.diagnostics, "a list of biases needs a group ('count'); 'y' is one unit", line: 4, column: 35)
    }

    @Test("every compile-stage problem of a spec is reported together, in source order")
    func manyProblemsTogether() throws {
        let path = fixture("many-compile-errors.yaml")
        var log = DiagnosticLog()
        let spec = try #require(SpecParser.parse(path: path, log: &log))
        #expect(!log.hasErrors)
        let compilation = Compiler.compile(spec, log: &log)
        #expect(compilation == nil)
        let expected: [(String, Int, Int)] = [
            ("unit 'x' is declared twice (first at 6:12)", 9, 12),
            ("unknown unit 'hiden'; did you mean 'hidden'?", 11, 19),
            ("group 'hidden' has 4 members (hidden[0] to hidden[3]); there is no hidden[7]", 12, 19),
            ("'x' is a single unit, not a group; write 'x'", 13, 12),
            ("edge into input unit 'x'; inputs take no incoming edges", 14, 19),
            ("weight lists 3 numbers but this entry creates 2 edges (2 x 1, from-major)", 15, 45),
        ]
        let diagnostics = log.sorted()
        #expect(log.errorCount == expected.count)
        try #require(diagnostics.count == expected.count, "\(diagnostics.map(\.description))")
        for (diagnostic, (fragment, line, column)) in zip(diagnostics, expected) {
            #expect(diagnostic.file == path)
            #expect(diagnostic.message.contains(fragment), "\(diagnostic)")
            #expect(diagnostic.position?.description == "\(line):\(column)", "\(diagnostic)")
        }
    }
}

@Suite("Compile errors: loss and activation")
struct LossErrorTests {
    @Test("binary_cross_entropy with an identity output is reported at the output's activation")
    func binaryCrossEntropyNeedsSigmoid() {
        let text = """
            bpc: 1
            units:
              - {name: x, role: input}
              - {name: y, role: output, activation: identity}
            edges:
              - {from: x, to: y}
            loss: binary_cross_entropy
            """
        let result = compile(text)
        expectOnlyError(
            result.diagnostics,
            "loss binary_cross_entropy needs sigmoid output units, but 'y' is identity; write 'activation: sigmoid'",
            line: 4, column: 41)
    }

    @Test("softmax_cross_entropy with a (default) sigmoid output group is reported once, at the group's name")
    func softmaxNeedsIdentity() {
        let text = """
            bpc: 1
            units:
              - {name: x, role: input}
              - {name: y, role: output, count: 3}
            edges:
              - {from: x, to: y}
            loss: softmax_cross_entropy
            """
        let result = compile(text)
        expectOnlyError(
            result.diagnostics,
            "loss softmax_cross_entropy needs identity output units, but 'y[0]' is sigmoid; write 'activation: identity'",
            line: 4, column: 12)
    }

    @Test("an output activation that comes from defaults is reported at the defaults entry")
    func mismatchFromDefaults() {
        let text = """
            bpc: 1
            defaults: {activation: tanh}
            units:
              - {name: x, role: input}
              - {name: y, role: output}
            edges:
              - {from: x, to: y}
            loss: binary_cross_entropy
            """
        let result = compile(text)
        expectOnlyError(result.diagnostics, "but 'y' is tanh; write 'activation: sigmoid'", line: 2, column: 24)
    }
}

@Suite("Compile errors: limits")
struct CompileLimitTests {
    @Test("a group whose count takes the units over maxUnits is reported at the group, naming the option")
    func unitLimit() {
        var limits = Limits()
        limits.maxUnits = 8
        let text = """
            bpc: 1
            units:
              - {name: x, role: input}
              - {name: h, count: 9}
              - {name: y, role: output}
            loss: half_squared_error
            """
        let result = compile(text, limits: limits)
        expectOnlyError(result.diagnostics, "the spec declares more than 8 units; the limit is 8; raise it with --max-units", line: 4, column: 12)
        #expect(result.compilation == nil)
    }

    @Test("a group-to-group entry that takes the edges over maxEdges is reported at that entry before creating them")
    func edgeLimit() {
        var limits = Limits()
        limits.maxEdges = 10
        let text = """
            bpc: 1
            units:
              - {name: x, role: input, count: 3}
              - {name: h, count: 4}
              - {name: y, role: output}
            edges:
              - {from: x, to: h}
              - {from: h, to: y}
            loss: half_squared_error
            """
        let result = compile(text, limits: limits)
        expectOnlyError(
            result.diagnostics,
            "the spec creates more than 10 edges (counting group-to-group entries); the limit is 10; raise it with --max-edges",
            line: 7, column: 5)
    }

    @Test("a group-to-group entry of 10^10 edges is rejected by count, without creating any")
    func hugeEdgeCount() {
        let text = """
            bpc: 1
            units:
              - {name: x, role: input, count: 100000}
              - {name: y, role: output, count: 100000}
            edges:
              - {from: x, to: y}
            loss: half_squared_error
            """
        let result = compile(text)
        expectOnlyError(result.diagnostics, "the spec creates more than 50000000 edges", line: 6, column: 5)
    }
}

@Suite("Load errors: data and expect")
struct DataErrorTests {
    private static let twoInputs = """
        bpc: 1
        units:
          - {name: x, role: input, count: 2}
          - {name: y, role: output}
        edges:
          - {from: x, to: y}
        loss: half_squared_error

        """

    @Test("a sample whose 'in' or 'out' length does not match the network is reported at the sample")
    func sampleLengths() {
        let text = Self.twoInputs + """
            data:
              samples:
                - {in: [0, 1], out: [1]}
                - {in: [1], out: [1]}
                - in: [1, 1]
                  out: [1, 0]
            """
        let result = load(text)
        #expect(result.model == nil)
        #expect(result.diagnostics.count == 2)
        expectError(result.diagnostics, "'in' has 1 value but the network has 2 inputs (x[0], x[1])", line: 11, column: 7)
        expectError(result.diagnostics, "'out' has 2 values but the network has 1 output (y)", line: 12, column: 7)
    }

    @Test("a CSV file that does not exist is reported at the csv: value")
    func missingCSV() {
        let result = loadFixture("csv-missing-file.yaml")
        #expect(result.model == nil)
        expectOnlyError(result.diagnostics, "cannot read data file 'data/no-such-file.csv'", line: 10, column: 8)
        #expect(result.diagnostics.first?.message.hasSuffix("No such file or directory") == true)
        #expect(result.diagnostics.first?.file == fixture("csv-missing-file.yaml"))
    }

    @Test("CSV header problems (an unknown column, missing columns) are reported in each CSV file at 1:column")
    func csvHeader() throws {
        let result = loadFixture("csv-header.yaml")
        #expect(result.model == nil)
        let diagnostics = result.diagnostics
        try #require(diagnostics.count == 3, "\(diagnostics.map(\.description))")
        let training = fixture("data/unknown-column.csv")
        let test = fixture("data/missing-column.csv")
        expectError(diagnostics, "unknown column 'yy': columns name input and output units; did you mean 'y'?", line: 1, column: 11)
        expectError(diagnostics, "missing column 'y' (an output unit)", line: 1, column: 1)
        expectError(diagnostics, "missing column 'x[1]' (an input unit)", line: 1, column: 1)
        #expect(diagnostics.filter { $0.file == training }.count == 2)
        #expect(diagnostics.filter { $0.file == test }.count == 1)
    }

    @Test("CSV row problems (a cell that is not a number, a wrong field count) are reported at their row and column")
    func csvRows() throws {
        let result = loadFixture("csv-rows.yaml")
        #expect(result.model == nil)
        let diagnostics = result.diagnostics
        #expect(diagnostics.count == 2)
        expectError(diagnostics, "'one' is not a number", line: 3, column: 4)
        expectError(diagnostics, "row has 2 fields but the header has 3", line: 4, column: 1)
        #expect(diagnostics.allSatisfy { $0.file == fixture("data/bad-rows.csv") })
    }

    @Test("a CSV file with CRLF line endings loads like one with LF endings")
    func csvWithCRLF() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bpc-crlf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("x[0],x[1],y\r\n0,1,1\r\n1,1,0\r\n".utf8).write(to: folder.appendingPathComponent("data.csv"))
        let specPath = folder.appendingPathComponent("spec.yaml").path
        let result = load(Self.twoInputs + "data: {csv: data.csv}\n", path: specPath)
                    #expect(result.diagnostics.isEmpty, "\(result.diagnostics.map(\.description))")
            #expect(result.model?.trainingData?.count == 2)
    }

    @Test("a CSV file that starts with a UTF-8 byte order mark (as spreadsheets write) loads")
    func csvWithByteOrderMark() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bpc-bom-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data([0xEF, 0xBB, 0xBF] + Array("x[0],x[1],y\n0,1,1\n".utf8)).write(to: folder.appendingPathComponent("data.csv"))
        let result = load(Self.twoInputs + "data: {csv: data.csv}\n", path: folder.appendingPathComponent("spec.yaml").path)
                    #expect(result.diagnostics.isEmpty, "\(result.diagnostics.map(\.description))")
            #expect(result.model?.trainingData?.count == 1)
    }

    @Test("blank lines at the end of a CSV file are not rows")
    func csvTrailingBlankLine() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bpc-blank-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("x[0],x[1],y\n0,1,1\n\n".utf8).write(to: folder.appendingPathComponent("data.csv"))
        let result = load(Self.twoInputs + "data: {csv: data.csv}\n", path: folder.appendingPathComponent("spec.yaml").path)
                    #expect(result.diagnostics.isEmpty, "\(result.diagnostics.map(\.description))")
    }

    @Test("an expect entry naming an unknown parameter is reported at the key with the closest parameter")
    func unknownGradientKey() {
        let text = Self.twoInputs + """
            expect:
              - in: [1, 2]
                out: [1]
                gradients:
                  "x[0]->y": 0.5
                  "x[1]->yy": 0.5
            """
        let result = load(text)
        expectOnlyError(result.diagnostics, "unknown parameter 'x[1]->yy'; did you mean 'x[1]->y'?", line: 13, column: 7)
    }

    @Test("expect entries whose 'in', 'out' or 'outputs' do not fit the network are reported at the list")
    func expectLengths() {
        let text = Self.twoInputs + """
            expect:
              - {in: [1], outputs: [0.5]}
              - {in: [1, 2], out: [1, 0], loss: 0.1}
            """
        let result = load(text)
        #expect(result.diagnostics.count == 2)
        expectError(result.diagnostics, "'in' has 1 value but the network has 2 inputs", line: 9, column: 10)
        expectError(result.diagnostics, "this list has 2 values but the network has 1 output", line: 10, column: 23)
    }

    @Test("an expect entry that checks nothing, or needs a target it lacks, is reported at the entry")
    func expectIncomplete() {
        let text = Self.twoInputs + """
            expect:
              - {in: [1, 2]}
              - {in: [1, 2], loss: 0.1}
            """
        let result = load(text)
        #expect(result.diagnostics.count == 2)
        expectError(result.diagnostics, "this entry checks nothing", line: 9, column: 5)
        expectError(result.diagnostics, "a loss or gradient check needs the target 'out'", line: 10, column: 5)
    }

    @Test("data and expect problems of one spec are all reported together, in source order")
    func manyProblemsTogether() throws {
        let text = Self.twoInputs + """
            data:
              samples:
                - {in: [0], out: [1]}
                - {in: [0, 1, 2], out: [1]}
            expect:
              - {in: [1, 2], out: [1], gradients: {"x[0]->z": 1}}
              - {in: [1, 2], loss_below: 0.1}
            """
        let result = load(text)
        let expected: [(String, Int, Int)] = [
            ("'in' has 1 value but the network has 2 inputs", 10, 7),
            ("'in' has 3 values but the network has 2 inputs", 11, 7),
            ("unknown parameter 'x[0]->z'", 13, 40),
            ("'loss_below' and 'accuracy_at_least' judge training; add 'after: train'", 14, 5),
        ]
        try #require(result.diagnostics.count == expected.count, "\(result.diagnostics.map(\.description))")
        for (diagnostic, (fragment, line, column)) in zip(result.diagnostics, expected) {
            #expect(diagnostic.message.contains(fragment), "\(diagnostic)")
            #expect(diagnostic.position?.description == "\(line):\(column)", "\(diagnostic)")
        }
    }
}
