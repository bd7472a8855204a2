import BPCPlan
@testable import BPCSpec
import BPCTestSupport
import Testing

// The spec's edge table and the parser's path from libyaml's buffers into it: every entry comes
// back as written (units, weights, every position), and an entry that starts like the common
// shape but is anything else is read by the general decoder with exactly its reports.

/// Everything an entry holds, positions included, as one comparable line.
private func describe(_ edge: EdgeSpec) -> String {
    func side(_ references: UnitReferences) -> String {
        var parts: [String] = []
        references.forEach { parts.append("\($0.text)@\($0.position)") }
        if case .many = references { return "[" + parts.joined(separator: ", ") + "]" }
        return parts[0]
    }
    var text = "\(side(edge.from)) -> \(side(edge.to)) at \(edge.position)"
    switch edge.weight?.value {
    case .value(let value)?: text += " weight \(value)"
    case .values(let values)?: text += " weights \(values)"
    case nil: break
    }
    if let position = edge.weight?.position { text += "@\(position)" }
    return text
}

private func reference(_ text: String, _ line: Int, _ column: Int) -> UnitReference {
    let parts = UnitReference.parse(text)
    return UnitReference(name: parts?.name ?? text, member: parts?.member, position: SourcePosition(line: line, column: column))
}

private func parse(_ text: String, limits: Limits = Limits()) -> (spec: ModelSpec?, diagnostics: [Diagnostic]) {
    var log = DiagnosticLog()
    let spec = SpecParser.parse(text: text, path: "test.yaml", limits: limits, log: &log)
    return (spec, log.sorted())
}

/// The 1-based column where `fragment` first starts in `line`.
private func column(of fragment: String, in line: String) -> Int {
    guard let range = line.range(of: fragment) else { return 0 }
    return line.distance(from: line.startIndex, to: range.lowerBound) + 1
}

@Suite("the edge table")
struct EdgeTableTests {
    /// Entries of every shape the table stores differently.
    static let shapes: [EdgeSpec] = [
        // The common one: one line, single units, a weight.
        EdgeSpec(from: .one(reference("x", 3, 13)), to: .one(reference("h[7]", 3, 20)),
                 weight: Located(.value(0.25), at: SourcePosition(line: 3, column: 36)), position: SourcePosition(line: 3, column: 5)),
        // No weight; the same references again (interned once).
        EdgeSpec(from: .one(reference("x", 4, 13)), to: .one(reference("h[7]", 4, 20)), weight: nil, position: SourcePosition(line: 4, column: 5)),
        // Lists of units and a weight list.
        EdgeSpec(from: .many([reference("x", 5, 14), reference("h[2]", 5, 17)]), to: .many([reference("y", 5, 30), reference("h", 5, 33)]),
                 weight: Located(.values([1, 2, 3, 4]), at: SourcePosition(line: 5, column: 45)), position: SourcePosition(line: 5, column: 5)),
        // A block mapping: every part on its own line.
        EdgeSpec(from: .one(reference("h[2]", 6, 11)), to: .one(reference("y", 7, 9)),
                 weight: Located(.value(-3), at: SourcePosition(line: 8, column: 13)), position: SourcePosition(line: 6, column: 5)),
        // Columns past 65535 (a very long line), a member past any group, a NaN weight
        // (which the table also uses to mark "no weight" inline), a one-element weight list.
        EdgeSpec(from: .one(reference("h[99999999999]", 9, 70_000)), to: .one(reference("y", 9, 70_020)),
                 weight: Located(.value(.nan), at: SourcePosition(line: 9, column: 70_040)), position: SourcePosition(line: 9, column: 69_990)),
        EdgeSpec(from: .one(reference("x", 10, 1)), to: .one(reference("y", 10, 2)),
                 weight: Located(.values([0.5]), at: SourcePosition(line: 10, column: 3)), position: SourcePosition(line: 10, column: 1)),
        // A member and the name alone, of a name seen before only with members; code may also
        // build references no parser would (a negative member).
        EdgeSpec(from: .one(reference("h", 11, 9)), to: .one(UnitReference(name: "h", member: -2, position: SourcePosition(line: 11, column: 12))),
                 weight: nil, position: SourcePosition(line: 11, column: 5)),
    ]

    @Test("every entry comes back as it was appended, whatever its shape, positions included")
    func roundTrip() {
        var table = EdgeTable()
        for edge in Self.shapes { table.append(edge) }
        #expect(table.count == Self.shapes.count)
        #expect(table.map(describe) == Self.shapes.map(describe))
        // `h[7]`, `x`, `h[2]`, `y`, `h`, `h[99999999999]`, `h[-2]`: references are shared.
        #expect(table.referenceCount == 7)
    }

    @Test("a member met before its name's member index reaches it is still one reference")
    func memberIndexGrowsOverEarlierMember() {
        var table = EdgeTable()
        let members = [30] + Array(0..<40) + [30, 5000, 35, 5000]
        for (line, member) in members.enumerated() {
            table.append(EdgeSpec(from: .one(reference("x", line + 1, 13)), to: .one(reference("h[\(member)]", line + 1, 20)),
                                  weight: nil, position: SourcePosition(line: line + 1, column: 5)))
        }
        #expect(table.referenceCount == 1 + 40 + 1)
        #expect(table.map { describe($0) } == members.enumerated().map { "x@\($0 + 1):13 -> h[\($1)]@\($0 + 1):20 at \($0 + 1):5" })
    }

    @Test("replacing a weight keeps the rest of the entry, in either direction between inline and side table")
    func setWeight() {
        var table = EdgeTable()
        for edge in Self.shapes { table.append(edge) }
        var expected = Self.shapes
        let changes: [(entry: Int, weight: Located<WeightSpec>?)] = [
            (0, Located(.values([1, 2]), at: SourcePosition(line: 3, column: 40))),
            (1, Located(.value(7), at: SourcePosition(line: 4, column: 30))),
            (2, nil),
            (3, Located(.value(0.5), at: SourcePosition(line: 6, column: 30))),  // its parts still on three lines
            (4, Located(.value(1), at: SourcePosition(line: 12, column: 1))),
            (5, Located(.value(.nan), at: SourcePosition(line: 10, column: 3))),
        ]
        for (entry, weight) in changes {
            table.setWeight(weight, of: entry)
            expected[entry].weight = weight
        }
        #expect(table.map(describe) == expected.map(describe))
    }

    @Test("a random table of any shapes reads back entry for entry (seeded)", arguments: 0..<8)
    func randomRoundTrip(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let names = ["x", "h", "y", "a_long_unit_name", "z9"]
        func randomReference(line: Int) -> UnitReference {
            let member = Int.random(in: 0..<(Bool.random(using: &random) ? 40 : 100_000), using: &random)
            return UnitReference(name: names.randomElement(using: &random)!, member: Bool.random(using: &random) ? member : nil,
                          position: SourcePosition(line: Bool.random(using: &random) ? line : line + 1, column: Int.random(in: 1...80_000, using: &random)))
        }
        func randomSide(line: Int) -> UnitReferences {
            Int.random(in: 0..<4, using: &random) == 0 ? .many((0..<Int.random(in: 0...3, using: &random)).map { _ in randomReference(line: line) }) : .one(randomReference(line: line))
        }
        var edges: [EdgeSpec] = []
        for line in 1...300 {
            let weight: WeightSpec? = switch Int.random(in: 0..<3, using: &random) {
            case 0: nil
            case 1: .value(Double.random(in: -1...1, using: &random))
            default: .values((0..<Int.random(in: 0...3, using: &random)).map { _ in Double.random(in: -1...1, using: &random) })
            }
            edges.append(EdgeSpec(
                from: randomSide(line: line), to: randomSide(line: line),
                weight: weight.map { Located($0, at: SourcePosition(line: line, column: Int.random(in: 1...70_000, using: &random))) },
                position: SourcePosition(line: line, column: Int.random(in: 1...70_000, using: &random))))
        }
        var table = EdgeTable()
        for edge in edges { table.append(edge) }
        #expect(table.map(describe) == edges.map(describe), "seed \(seed)")
    }
}

@Suite("edge entries read from libyaml's buffers")
struct PlainEdgeTests {
    @Test("entries in every style the format allows keep their units, weights and positions")
    func styles() throws {
        let lines = [
            "bpc: 1",
            "units: [{name: x, role: input}, {name: h, count: 2}, {name: y, role: output}]",
            "edges:",
            "  - {from: x, to: \"h[0]\", weight: 0.5}",
            "  - {to: y, from: 'h[0]'}",
            "  -   {  weight: -2e-1 ,from: \"h[1]\",to: y }",
            "  - from: x",
            "    to: \"h[1]\"",
            "    weight: 3",
            "  - {from: [x, \"h[1]\"], to: y, weight: [1, 2]}",
            "  - {from: !!str x, to: \"h[0]\", weight: !!float 4}",
            "  - {\"from\": x, 'to': y, weight: 0x10}",
            "  - {from: x, to: h, weight: [5, 6]}",
            "  - {from: null, to: y}",
            "loss: half_squared_error",
        ]
        let result = parse(lines.joined(separator: "\n") + "\n")
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        let spec = try #require(result.spec)
        /// Where `fragment` first appears on `line`.
        func at(_ line: Int, _ fragment: String) -> String { "\(line):\(column(of: fragment, in: lines[line - 1]))" }
        let expected = [
            "x@\(at(4, "x,")) -> h[0]@\(at(4, "\"h[0]\"")) at \(at(4, "{")) weight 0.5@\(at(4, "0.5"))",
            "h[0]@\(at(5, "'h[0]'")) -> y@\(at(5, "y,")) at \(at(5, "{"))",
            "h[1]@\(at(6, "\"h[1]\"")) -> y@\(at(6, "y }")) at \(at(6, "{")) weight -0.2@\(at(6, "-2e-1"))",
            "x@\(at(7, "x")) -> h[1]@\(at(8, "\"h[1]\"")) at \(at(7, "from")) weight 3.0@\(at(9, "3"))",
            "[x@\(at(10, "x,")), h[1]@\(at(10, "\"h[1]\""))] -> y@\(at(10, "y,")) at \(at(10, "{")) weights [1.0, 2.0]@\(at(10, "[1, 2]"))",
            "x@\(at(11, "!!str")) -> h[0]@\(at(11, "\"h[0]\"")) at \(at(11, "{")) weight 4.0@\(at(11, "!!float"))",
            "x@\(at(12, "x,")) -> y@\(at(12, "y,")) at \(at(12, "{")) weight 16.0@\(at(12, "0x10"))",
            "x@\(at(13, "x,")) -> h@\(at(13, "h,")) at \(at(13, "{")) weights [5.0, 6.0]@\(at(13, "[5"))",
            "null@\(at(14, "null")) -> y@\(at(14, "y}")) at \(at(14, "{"))",
        ]
        #expect(spec.edges.map(describe) == expected)
    }

    @Test("a weight keeps the value the core schema gives its text, to the bit", arguments: [
        "0.1", "-0.25", "1e-3", "1.", ".5", "+1", "-0", "00012", "7e22", "7e23", "1e-400", "1e400", "4.9e-324",
        "0.1234567890123456789", "12345678901234567", "9007199254740993", "2.2250738585072014e-308", "123456.789e-2",
        "0x1f", "0o17", "-.inf", ".nan",
    ])
    func weightValues(text: String) throws {
        let result = parse("bpc: 1\nunits: []\nedges:\n  - {from: a, to: b, weight: \(text)}\nloss: half_squared_error\n")
        let written: Double? = switch ScalarValue(plain: text) {
        case .number(let value): value
        default: nil
        }
        let value = try #require(written)
        if value.isFinite {
            #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
            guard case .value(let parsed)? = result.spec?.edges.first?.weight?.value else {
                Issue.record("no weight for \(text)")
                return
            }
            #expect(parsed.bitPattern == value.bitPattern, "\(text)")
            // The decimal reading is Swift's own, correctly rounded one.
            if !text.hasPrefix("0x") && !text.hasPrefix("0o") { #expect(value.bitPattern == Double(text)?.bitPattern) }
        } else {
            expectOnlyError(result.diagnostics, "weight must be a finite number, not \(text)", line: 4, column: 30)
        }
    }

    /// Entries that start like `{from: A, to: B, weight: W}` and then are something else, on
    /// line 4, with everything the general decoder reports for them (the same, message for
    /// message, as the parser before the edge table).
    static let others: [(entry: String, diagnostics: [String])] = [
        ("{from: a, to: b, weight: x}", ["4:30: error: expected a number for weight, not 'x'"]),
        ("{from: a, to: b, weight: \"0.5\"}", ["4:30: error: expected a number for weight, not the string \"0.5\""]),
        ("{from: a, to: b, weight: .inf}", ["4:30: error: weight must be a finite number, not .inf"]),
        ("{from: a, to: b, to: c}", ["4:22: error: duplicate key 'to'"]),
        ("{from: a, to: b, weight: 1, share: \"a->b\"}",
         ["4:30: error: an edge that shares 'a->b' has no weight of its own; remove 'weight' (the shared parameter's value applies)"]),
        ("{from: a, to: b, bogus: 1}", ["4:22: error: unknown key 'bogus' in an edge"]),
        ("{from: a, to: b, wieght: 1}", ["4:22: error: unknown key 'wieght' in an edge; did you mean 'weight'?"]),
        ("{from: &r a, to: b}", ["4:12: error: anchors (&r) are not allowed in a spec; it is plain data"]),
        ("{from: a, to: \"b[1\"}", ["4:19: error: 'b[1' is not a unit name: write a name like h1 (letters, digits, _) or a member like h[3]"]),
        ("{from: true, to: b}", ["4:12: error: expected a unit name (like h1 or h[3]), not true"]),
        ("{from: 1, to: b}", ["4:12: error: expected a unit name (like h1 or h[3]), not the number 1"]),
        ("{from: a, to: []}", ["4:19: error: an empty list of units creates no edges"]),
        ("{from: a, to: {b: 1}}", ["4:19: error: expected a unit name (like h1 or h[3]), not a mapping"]),
        ("{from: a}", ["4:5: error: an edge needs 'to'"]),
        ("{}", ["4:5: error: an edge needs 'from'", "4:5: error: an edge needs 'to'"]),
        ("{from: a, to: b, weight: !thing 1}",
         ["4:30: error: tag !thing is not allowed in a spec; only plain data (!!str, !!int, !!float, !!bool, !!null)"]),
        ("{[a]: 1, from: a, to: b}", ["4:6: error: a mapping key must be a plain word, not a list", "4:6: error: unknown key '' in an edge"]),
    ]

    @Test("an entry that turns out not to be the common shape gets the general decoder's reports", arguments: others.indices)
    func otherShapes(index: Int) {
        let (entry, diagnostics) = Self.others[index]
        let result = parse("bpc: 1\nunits: []\nedges:\n  - \(entry)\nloss: half_squared_error\n")
        #expect(result.diagnostics.map(\.description) == diagnostics.map { "test.yaml:" + $0 })
    }

    @Test("a repeated key is reported before a later value stops reading, as when the entry is read whole")
    func repeatedKeyBeforeAbort() {
        let result = parse("bpc: 1\nunits: []\nedges:\n  - from: a\n    \"from\": *b\nloss: half_squared_error\n")
        #expect(result.diagnostics.map(\.description) == [
            "test.yaml:5:5: error: duplicate key 'from'",
            "test.yaml:5:13: error: aliases (*b) are not allowed in a spec; write the value out",
        ])
    }

    @Test("limits apply inside entries read from libyaml's buffers: scalar length and nesting depth")
    func limits() {
        var short = Limits()
        short.maxScalarLength = 18  // "half_squared_error"
        let long = parse("bpc: 1\nunits: []\nedges:\n  - {from: a, to: abcdefghijklmnopqrstu}\nloss: half_squared_error\n", limits: short)
        expectOnlyError(long.diagnostics, "a scalar of 21 bytes; the limit is 18; raise it with --max-scalar-length", line: 4, column: 19)
        var shallow = Limits()
        shallow.maxDepth = 3
        let deep = parse("bpc: 1\nunits: []\nedges:\n  - {from: [a], to: b}\nloss: half_squared_error\n", limits: shallow)
        expectOnlyError(deep.diagnostics, "collections nested more than 3 deep", line: 4, column: 12)
    }

    @Test("a YAML error inside an entry stops reading with libyaml's message, and nothing else is reported")
    func syntaxErrorInEntry() {
        let result = parse("bpc: 1\nunits: []\nedges:\n  - {from: a to: b}\nloss: half_squared_error\n")
        #expect(result.spec == nil)
        #expect(result.diagnostics.count == 1, "\(result.diagnostics)")
        #expect(result.diagnostics.first?.message.hasPrefix("YAML: ") == true)
    }

    @Test("edges listed before their units are read the same way")
    func edgesBeforeUnits() throws {
        let result = parse("bpc: 1\nedges:\n  - {from: x, to: \"y[1]\", weight: 2}\nunits: [{name: x, role: input}, {name: y, count: 2, role: output}]\nloss: half_squared_error\n")
        #expect(result.diagnostics.isEmpty)
        #expect(try #require(result.spec).edges.map(describe) == ["x@3:12 -> y[1]@3:19 at 3:5 weight 2.0@3:35"])
    }
}
