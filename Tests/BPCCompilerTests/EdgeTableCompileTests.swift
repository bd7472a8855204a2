import BPC
import BPCTestSupport
import Testing

// Specs of many one-line edge entries (W4's shape), which the parser reads straight into the
// spec's edge table: they compile to the plan their group form gives, and every compile-stage
// problem in them is reported at its own entry or reference.

private func compile(_ text: String) -> (plan: Plan?, diagnostics: [Diagnostic]) {
    var log = DiagnosticLog()
    guard let spec = SpecParser.parse(text: text, path: "test.yaml", log: &log), !log.hasErrors else { return (nil, log.sorted()) }
    return (Compiler.compile(spec, log: &log)?.plan, log.sorted())
}

/// Inputs x[0..<sources], outputs y[0..<targets]: the header of a spec whose edges follow.
private func header(sources: Int, targets: Int) -> String {
    """
    bpc: 1
    name: many
    loss: half_squared_error
    units:
      - {name: x, role: input, count: \(sources)}
      - {name: y, role: output, count: \(targets), activation: identity}
    edges:

    """
}

/// The weight of x[i] -> y[j], a short decimal.
private func weight(_ i: Int, _ j: Int) -> String {
    let value = Double((i * 7919 + j * 104_729) % 2001 - 1000) / 4000
    return "\(value)"
}

@Suite("specs of many one-line edge entries")
struct EdgeTableCompileTests {
    @Test("one entry per edge compiles to the plan of the single group-to-group entry that creates the same edges")
    func entriesAndGroupAgree() throws {
        let (sources, targets) = (60, 40)
        var perEdge = header(sources: sources, targets: targets)
        var weights: [String] = []
        for i in 0..<sources {
            for j in 0..<targets {
                perEdge += "  - {from: \"x[\(i)]\", to: \"y[\(j)]\", weight: \(weight(i, j))}\n"
                weights.append(weight(i, j))
            }
        }
        let group = header(sources: sources, targets: targets) + "  - {from: x, to: y, weight: [\(weights.joined(separator: ", "))]}\n"
        let fromEntries = compile(perEdge)
        let fromGroup = compile(group)
        #expect(fromEntries.diagnostics.isEmpty, "\(fromEntries.diagnostics)")
        let plan = try #require(fromEntries.plan)
        #expect(plan == fromGroup.plan)
        #expect(plan.edgeCount == sources * targets)
        #expect(PlanJSON.encode(plan) == PlanJSON.encode(try #require(fromGroup.plan)))
    }

    @Test("without weights, init draws the same parameters for entries as for the group")
    func drawnWeightsAgree() {
        var perEdge = header(sources: 30, targets: 20)
        for i in 0..<30 { for j in 0..<20 { perEdge += "  - {from: \"x[\(i)]\", to: \"y[\(j)]\"}\n" } }
        let group = header(sources: 30, targets: 20) + "  - {from: x, to: y}\n"
        let fromEntries = compile(perEdge)
        #expect(fromEntries.plan != nil)
        #expect(fromEntries.plan == compile(group).plan)
    }

    @Test("problems in late entries are reported at their own entry and reference, all at once")
    func lateProblems() {
        var text = header(sources: 100, targets: 50)
        var line = 8
        var entries: [Int] = []
        for i in 0..<100 {
            for j in 0..<50 {
                text += "  - {from: \"x[\(i)]\", to: \"y[\(j)]\", weight: 0.5}\n"
                entries.append(line)
                line += 1
            }
        }
        text += "  - {from: \"x[7]\", to: \"y[3]\"}\n"  // a duplicate of an early edge
        text += "  - {from: \"x[7]\", to: \"y[50]\"}\n"  // past the group
        text += "  - {from: \"y[1]\", to: \"x[2]\"}\n"  // into an input
        text += "  - {from: \"x[1]\", to: w}\n"  // no such unit
        let result = compile(text)
        #expect(result.plan == nil)
        #expect(result.diagnostics.map(\.description) == [
            "test.yaml:\(line + 1):24: error: group 'y' has 50 members (y[0] to y[49]); there is no y[50]",
            "test.yaml:\(line + 2):24: error: edge into input unit 'x[2]'; inputs take no incoming edges",
            "test.yaml:\(line + 3):24: error: unknown unit 'w'",
        ])
        // Without the other problems, the duplicate is found (the compiler stops before
        // duplicates when references fail), naming the first entry's position.
        let duplicate = compile(text.split(separator: "\n").dropLast(3).joined(separator: "\n") + "\n")
        #expect(duplicate.diagnostics.map(\.description) == [
            "test.yaml:\(line):5: error: duplicate edge x[7]->y[3] (first created at \(entries[7 * 50 + 3]):5)",
        ])
    }

    @Test("a cycle among one-line entries is reported at the entry that closes it")
    func cycle() {
        let text = """
            bpc: 1
            loss: half_squared_error
            units: [{name: x, role: input}, {name: h, count: 3}, {name: y, role: output}]
            edges:
              - {from: x, to: "h[0]"}
              - {from: "h[0]", to: "h[1]"}
              - {from: "h[1]", to: "h[2]"}
              - {from: "h[2]", to: "h[0]"}
              - {from: "h[2]", to: y}

            """
        let result = compile(text)
        #expect(result.diagnostics.map(\.description) == [
            "test.yaml:8:5: error: cycle: h[0] -> h[1] -> h[2] -> h[0]; the network must be a DAG",
        ])
    }
}
