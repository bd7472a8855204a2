import BPCSpec
import Foundation
import BPCTestSupport
import Testing

// Parse-stage errors: every class of problem the YAML reader and the spec decoder report,
// each checked for its message and its exact 1-based line and column.


/// What parsing `text` (named `test.yaml`) produced: the spec, if any, and every diagnostic
/// in the order `bpc` prints them.
private func parse(_ text: String, limits: Limits = Limits()) -> (spec: ModelSpec?, diagnostics: [Diagnostic]) {
    var log = DiagnosticLog()
    let spec = SpecParser.parse(text: text, path: "test.yaml", limits: limits, log: &log)
    return (spec, log.sorted())
}


@Suite("Spec errors: YAML")
struct YAMLErrorTests {
    @Test("a YAML syntax error is reported with libyaml's message at libyaml's position, and parsing stops")
    func syntaxError() {
        let result = parse("bpc: 1\nname: a: b\nloss: [\n")
        expectOnlyError(result.diagnostics, "YAML: mapping values are not allowed in this context", line: 2, column: 8)
        #expect(result.spec == nil)
    }

    @Test("a YAML syntax error carries libyaml's context and the position the context started at")
    func syntaxErrorContext() {
        let result = parse("bpc: 1\nname: \"unterminated\n")
        expectOnlyError(result.diagnostics, "YAML: found unexpected end of stream (while scanning a quoted scalar at 2:7)", line: 3, column: 1)
    }

    @Test("a tab used for indentation is a YAML error at the tab")
    func tabIndentation() {
        let result = parse("bpc: 1\n\tunits: []\nloss: half_squared_error\n")
        expectOnlyError(result.diagnostics, "YAML: found a tab character that violates indentation", line: 2, column: 1)
    }

    @Test("text that is not UTF-8 is a YAML error at the line and column of the bad byte")
    func invalidUTF8() {
        // "bpc: 1\n" is bytes 0-6, "name: ab" bytes 7-14: byte 15 is line 2, column 9.
        var bytes = Array("bpc: 1\nname: ab".utf8)
        bytes += [0xFF]
        bytes += Array("cd\nloss: half_squared_error\n".utf8)
        // A Swift String would repair the byte, so hand libyaml the raw bytes through a file.
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bpc-utf8-\(UUID().uuidString).yaml")
        #expect(FileManager.default.createFile(atPath: url.path, contents: Data(bytes)))
        defer { try? FileManager.default.removeItem(at: url) }
        var log = DiagnosticLog()
        let spec = SpecParser.parse(path: url.path, log: &log)
        #expect(spec == nil)
        let diagnostics = log.sorted()
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.message.contains("YAML: invalid leading UTF-8 octet at byte 15") == true, "\(diagnostics)")
                    #expect(diagnostics.first?.position?.description == "2:9")
    }

    @Test("an anchor and an alias are both rejected, each where it is written")
    func anchorAndAlias() {
        let text = """
            bpc: 1
            defaults: &common {activation: sigmoid}
            name: *common
            units: []
            loss: half_squared_error
            """
        let result = parse(text)
        #expect(result.diagnostics.count == 2, "\(result.diagnostics.map(\.description))")
        expectError(result.diagnostics, "anchors (&common) are not allowed in a spec", line: 2, column: 11)
        expectError(result.diagnostics, "aliases (*common) are not allowed in a spec; write the value out", line: 3, column: 7)
    }

    @Test("a tag outside the core schema, like !!python/object, is rejected at the tag")
    func unsupportedTag() {
        let text = """
            bpc: 1
            units: []
            loss: half_squared_error
            name: !!python/object:os.system echo
            """
        let result = parse(text)
        expectOnlyError(result.diagnostics, "tag !!python/object:os.system is not allowed in a spec", line: 4, column: 7)
    }

    @Test("a local tag like !thing is rejected too, while core-schema tags like !!str are accepted")
    func localTag() {
        let result = parse("bpc: 1\nunits: []\nloss: half_squared_error\nname: !!str 12\ndescription: !thing x\n")
        expectOnlyError(result.diagnostics, "tag !thing is not allowed in a spec", line: 5, column: 14)
        #expect(result.spec?.name == "12")
    }

    @Test("a key given twice at the top level is reported at the second one")
    func duplicateTopLevelKey() {
        let result = parse("bpc: 1\nloss: half_squared_error\nunits: []\nloss: mean_squared_error\n")
        expectOnlyError(result.diagnostics, "duplicate key 'loss'", line: 4, column: 1)
    }

    @Test("a key given twice inside a unit is reported at the second one")
    func duplicateKeyInUnit() {
        let text = """
            bpc: 1
            units:
              - {name: x, role: input, role: output}
            loss: half_squared_error
            """
        let result = parse(text)
        expectOnlyError(result.diagnostics, "duplicate key 'role'", line: 3, column: 28)
    }

    @Test("a key given twice in a block mapping nested in a list is reported at the second one")
    func duplicateKeyInBlockMapping() {
        let text = """
            bpc: 1
            units:
              - name: x
                role: input
                name: z
            loss: half_squared_error
            """
        let result = parse(text)
        expectOnlyError(result.diagnostics, "duplicate key 'name'", line: 5, column: 5)
    }

    @Test("the spec must be a single YAML document; a second one is reported where it starts")
    func secondDocument() {
        let result = parse("bpc: 1\nunits: []\nloss: half_squared_error\n---\nbpc: 1\n")
        expectOnlyError(result.diagnostics, "a spec is one YAML document; found a second one", line: 4, column: 1)
    }

    @Test("an empty file is reported at 1:1 with what a spec needs")
    func emptyFile() {
        let result = parse("")
        expectOnlyError(result.diagnostics, "the spec is empty; it needs at least 'bpc: 1', 'units', 'edges' and 'loss'", line: 1, column: 1)
        #expect(result.spec == nil)
    }

    @Test("a document that is not a mapping is rejected at its start")
    func notAMapping() {
        let result = parse("- bpc: 1\n")
        expectOnlyError(result.diagnostics, "a spec is a mapping of keys (bpc, units, edges, loss, ...), not a list", line: 1, column: 1)
    }
}

@Suite("Spec errors: keys and types")
struct KeyAndTypeErrorTests {
    @Test("an unknown key in a unit is reported with the closest valid key")
    func unknownKeyInUnit() {
        let text = """
            bpc: 1
            units:
              - {name: h, activaton: tanh}
            loss: half_squared_error
            """
        let result = parse(text)
        expectOnlyError(result.diagnostics, "unknown key 'activaton' in a unit; did you mean 'activation'?", line: 3, column: 15)
    }

    @Test("an unknown top-level key is reported with the closest valid key, or none when nothing is close")
    func unknownTopLevelKey() {
        let result = parse("bpc: 1\nunits: []\nloss: half_squared_error\nlosss: x\ncolour: red\n")
        #expect(result.diagnostics.count == 2)
        expectError(result.diagnostics, "unknown key 'losss'; did you mean 'loss'?", line: 4, column: 1)
        expectError(result.diagnostics, "unknown key 'colour'", line: 5, column: 1)
        #expect(result.diagnostics.last?.message.contains("did you mean") == false)
    }

    @Test("an unknown key in train suggests the train setting")
    func unknownKeyInTrain() {
        let result = parse("bpc: 1\nunits: []\nloss: half_squared_error\ntrain:\n  learning_rat: 0.1\n")
        expectOnlyError(result.diagnostics, "unknown key 'learning_rat' in train; did you mean 'learning_rate'?", line: 5, column: 3)
    }

    @Test("a string where a number is expected is reported at the value")
    func stringForNumber() {
        let result = parse("bpc: 1\nunits: []\nloss: half_squared_error\ntrain: {epochs: many}\n")
        expectOnlyError(result.diagnostics, "expected a number for epochs, not 'many'", line: 4, column: 17)
    }

    @Test("a list where a mapping is expected is reported at the list")
    func listForMapping() {
        let result = parse("bpc: 1\nunits: []\nloss: half_squared_error\ninit: [1, 2]\n")
        expectOnlyError(result.diagnostics, "init must be a mapping with keys scheme, scale, seed, not a list", line: 4, column: 7)
    }

    @Test("a mapping where the units list is expected is reported at the mapping")
    func mappingForList() {
        let result = parse("bpc: 1\nunits: {name: x}\nloss: half_squared_error\n")
        expectOnlyError(result.diagnostics, "'units' must be a list, not a mapping", line: 2, column: 8)
    }

    @Test("a quoted number is a string, not a number")
    func quotedNumber() {
        let result = parse("bpc: 1\nunits: []\nloss: half_squared_error\ninit: {seed: \"7\"}\n")
        expectOnlyError(result.diagnostics, "expected a number for seed, not the string \"7\"", line: 4, column: 14)
    }

    @Test("an unknown activation is reported with the closest activation")
    func unknownActivation() {
        let text = """
            bpc: 1
            units:
              - {name: x, role: input}
              - {name: y, role: output, activation: sigmod}
            loss: half_squared_error
            """
        let result = parse(text)
        expectOnlyError(result.diagnostics, "unknown activation 'sigmod'; did you mean 'sigmoid'?", line: 4, column: 41)
    }

    @Test("an unknown loss is reported with the closest loss")
    func unknownLoss() {
        let result = parse("bpc: 1\nunits: []\nloss: half_squared_eror\n")
        expectOnlyError(result.diagnostics, "unknown loss 'half_squared_eror'; did you mean 'half_squared_error'?", line: 3, column: 7)
    }

    @Test("an unknown loss that resembles none lists every loss")
    func unknownLossWithoutSuggestion() {
        let result = parse("bpc: 1\nunits: []\nloss: cross_entropy\n")
        expectOnlyError(
            result.diagnostics,
            "unknown loss 'cross_entropy'; expected one of half_squared_error, mean_squared_error, binary_cross_entropy, softmax_cross_entropy",
            line: 3, column: 7)
    }

    @Test("a unit name that is not an identifier is reported at the name, and only there")
    func invalidUnitName() {
        let result = parse("bpc: 1\nunits:\n  - {name: 1x, role: input}\nloss: half_squared_error\n")
        expectError(result.diagnostics, "'1x' is not a valid unit name: start with a letter or _", line: 3, column: 12)
                    #expect(result.diagnostics.count == 1, "\(result.diagnostics.map(\.description))")
    }

    @Test("a group count below 1 is reported at the count")
    func zeroCount() {
        let result = parse("bpc: 1\nunits:\n  - {name: h, count: 0}\nloss: half_squared_error\n")
        expectOnlyError(result.diagnostics, "count must be at least 1, not 0", line: 3, column: 22)
    }

    @Test("a unit without a name and an edge without 'to' are reported at their entries")
    func missingEntryKeys() {
        let text = """
            bpc: 1
            units:
              - {role: input}
            edges:
              - {from: x}
            loss: half_squared_error
            """
        let result = parse(text)
        #expect(result.diagnostics.count == 2)
        expectError(result.diagnostics, "a unit needs a 'name'", line: 3, column: 5)
        expectError(result.diagnostics, "an edge needs 'to'", line: 5, column: 5)
    }

    @Test("a malformed member reference in an edge is reported at the reference")
    func malformedReference() {
        let text = """
            bpc: 1
            units: []
            edges:
              - {from: "h[x]", to: y}
            loss: half_squared_error
            """
        let result = parse(text)
        expectOnlyError(result.diagnostics, "'h[x]' is not a unit name", line: 4, column: 12)
    }

    @Test("the required keys bpc, units and loss are each reported when missing")
    func missingRequiredKeys() {
        let result = parse("name: nothing\n")
        #expect(result.diagnostics.count == 3)
        expectError(result.diagnostics, "missing key 'bpc' (the format version); add 'bpc: 1'", line: 1, column: 1)
        expectError(result.diagnostics, "missing key 'units'", line: 1, column: 1)
        expectError(result.diagnostics, "missing key 'loss' (one of half_squared_error, mean_squared_error", line: 1, column: 1)
    }

    @Test("a format version other than 1 is reported at the version")
    func wrongVersion() {
        let result = parse("bpc: 2\nunits: []\nloss: half_squared_error\n")
        expectOnlyError(result.diagnostics, "format version 2 is not supported; this bpc reads version 1", line: 1, column: 6)
    }

    @Test("columns count characters, not bytes")
    func columnsCountCharacters() {
        let result = parse("bpc: 1\nunits: []\nloss: half_squared_error\ndescription: \"été\"\ninit: {seed: \"ünf\", scale: x}\n")
        #expect(result.diagnostics.count == 2)
        expectError(result.diagnostics, "expected a number for seed", line: 5, column: 14)
        expectError(result.diagnostics, "expected a number for scale", line: 5, column: 28)
    }

    @Test("every parse-stage problem of a spec is reported together, in source order")
    func manyProblemsTogether() throws {
        let path = invalidFixtures.appendingPathComponent("many-parse-errors.yaml").path
        var log = DiagnosticLog()
        _ = SpecParser.parse(path: path, log: &log)
        let diagnostics = log.sorted()
        let expected: [(String, Int, Int)] = [
            ("unknown key 'activaton' in a unit; did you mean 'activation'?", 6, 15),
            ("unknown activation 'sigmod'; did you mean 'sigmoid'?", 7, 41),
            ("expected a number for weight, not 'heavy'", 10, 30),
            ("unknown loss 'half_squared_eror'; did you mean 'half_squared_error'?", 11, 7),
            ("expected a number for epochs, not 'many'", 13, 11),
            ("duplicate key 'learning_rate'", 15, 3),
            ("tag !!python/object is not allowed in a spec", 16, 7),
        ]
        #expect(log.errorCount == expected.count)
        try #require(diagnostics.count == expected.count, "\(diagnostics.map(\.description))")
        for (diagnostic, (fragment, line, column)) in zip(diagnostics, expected) {
            #expect(diagnostic.file == path)
            #expect(diagnostic.message.contains(fragment), "\(diagnostic)")
            #expect(diagnostic.position?.description == "\(line):\(column)", "\(diagnostic)")
        }
    }
}

@Suite("Spec errors: limits and files")
struct LimitErrorTests {
    @Test("nesting deeper than maxDepth stops parsing with the option that raises the limit")
    func depthLimit() {
        var limits = Limits()
        limits.maxDepth = 3
        let result = parse("bpc: 1\nname: [[[[1]]]]\nunits: []\nloss: half_squared_error\n", limits: limits)
        expectOnlyError(result.diagnostics, "collections nested more than 3 deep; the limit is 3; raise it with --max-depth", line: 2, column: 9)
        #expect(result.spec == nil)
    }

    @Test("very deep nesting under the default limit is an error, not a crash")
    func deepNestingDefaultLimit() {
        let depth = 100_000
        let text = "bpc: 1\nname: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n"
        let result = parse(text)
        // Depth 1 is the top-level mapping, so the 64th '[' (column 6 + 64) is too deep.
        expectOnlyError(result.diagnostics, "collections nested more than 64 deep; the limit is 64; raise it with --max-depth", line: 2, column: 70)
    }

    @Test("a scalar longer than maxScalarLength is reported with its length and the option")
    func scalarLimit() {
        var limits = Limits()
        limits.maxScalarLength = 20
        let description = String(repeating: "long ", count: 8)
        let result = parse("bpc: 1\nunits: []\nloss: half_squared_error\ndescription: \"\(description)\"\n", limits: limits)
        expectOnlyError(
            result.diagnostics, "a scalar of 40 bytes; the limit is 20; raise it with --max-scalar-length", line: 4, column: 14)
    }

    @Test("a rejected scalar (too long, or an alias) is not reported a second time as a wrong value")
    func rejectedScalarDoesNotCascade() {
        var limits = Limits()
        limits.maxScalarLength = 10
        let long = parse("bpc: 1\nunits: []\nloss: half_squared_error\n", limits: limits)
        expectError(long.diagnostics, "a scalar of 18 bytes; the limit is 10", line: 3, column: 7)
        let alias = parse("bpc: 1\nunits: []\nname: &n x\nloss: *n\n")
        expectError(alias.diagnostics, "anchors (&n) are not allowed", line: 3, column: 7)
        expectError(alias.diagnostics, "aliases (*n) are not allowed", line: 4, column: 7)
                    #expect(long.diagnostics.count == 1, "\(long.diagnostics.map(\.description))")
            #expect(alias.diagnostics.count == 2, "\(alias.diagnostics.map(\.description))")
    }

    @Test("a file larger than maxFileSize is rejected before reading, naming the option")
    func fileSizeLimit() throws {
        let path = invalidFixtures.appendingPathComponent("cycle.yaml").path
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        var limits = Limits()
        limits.maxFileSize = 16
        var log = DiagnosticLog()
        let spec = SpecParser.parse(path: path, limits: limits, log: &log)
        #expect(spec == nil)
        #expect(log.diagnostics.count == 1)
        let diagnostic = try #require(log.diagnostics.first)
        #expect(diagnostic.file == path)
        #expect(diagnostic.position == nil, "a problem with the file as a whole has no line and column")
        #expect(diagnostic.message == "the file has \(size) bytes; the limit is 16; raise it with --max-file-size")
    }

    @Test("a spec path that does not exist is reported for that path, without a position")
    func nonexistentPath() throws {
        let path = invalidFixtures.appendingPathComponent("no-such-spec.yaml").path
        var log = DiagnosticLog()
        let spec = SpecParser.parse(path: path, log: &log)
        #expect(spec == nil)
        let diagnostic = try #require(log.diagnostics.first)
        #expect(log.diagnostics.count == 1)
        #expect(diagnostic.file == path)
        #expect(diagnostic.position == nil)
        #expect(diagnostic.message == "cannot read the file: No such file or directory")
        #expect(diagnostic.description == "\(path): error: cannot read the file: No such file or directory")
    }

    @Test("a folder given as the spec path is rejected as not a regular file")
    func folderPath() throws {
        var log = DiagnosticLog()
        let spec = SpecParser.parse(path: invalidFixtures.path, log: &log)
        #expect(spec == nil)
        let diagnostic = try #require(log.diagnostics.first)
        #expect(diagnostic.message == "not a regular file")
        #expect(diagnostic.position == nil)
    }
}

@Suite("Diagnostic log")
struct DiagnosticLogTests {
    @Test("sorted() gives each file's errors in source order, files in the order they first appear")
    func sortedAcrossFiles() {
        // What the load pipeline (Model.init) logs for a spec whose `expect` (line 9) comes before `data` (line 12)
        // and whose test CSV has a bad row: spec 12:7, CSV 2:1, then spec 9:5 and 9:10.
        var log = DiagnosticLog()
        log.error("sample", in: "spec.yaml", at: SourcePosition(line: 12, column: 7))
        log.error("row", in: "data.csv", at: SourcePosition(line: 2, column: 1))
        log.error("entry", in: "spec.yaml", at: SourcePosition(line: 9, column: 5))
        log.error("in", in: "spec.yaml", at: SourcePosition(line: 9, column: 10))
        let order = log.sorted().map(\.description)
                    #expect(order == [
                "spec.yaml:9:5: error: entry", "spec.yaml:9:10: error: in", "spec.yaml:12:7: error: sample",
                "data.csv:2:1: error: row",
            ])
    }

    @Test("past the log's limit, errors are counted and summarised in one closing line")
    func errorLimit() throws {
        let keys = (0..<120).map { "unknown_\($0): 1" }.joined(separator: "\n")
        let result = parse("bpc: 1\nunits: []\nloss: half_squared_error\n" + keys + "\n")
        try #require(result.diagnostics.count == 101)
        expectError(Array(result.diagnostics.prefix(1)), "unknown key 'unknown_0'", line: 4, column: 1)
        expectError(Array(result.diagnostics[99...99]), "unknown key 'unknown_99'", line: 103, column: 1)
        #expect(result.diagnostics.last?.message == "20 more errors not shown")
        #expect(result.diagnostics.last?.position == nil)
    }

    @Test("a diagnostic prints as PATH:LINE:COLUMN: error: MESSAGE, or PATH: error: MESSAGE without a place")
    func printedForm() {
        #expect(Diagnostic(file: "a/b.yaml", position: SourcePosition(line: 3, column: 14), message: "m").description == "a/b.yaml:3:14: error: m")
        #expect(Diagnostic(file: "a/b.yaml", position: nil, message: "m").description == "a/b.yaml: error: m")
        #expect(Diagnostic(file: "x", position: .startOfFile, severity: .warning, message: "w").description == "x:1:1: warning: w")
    }
}
