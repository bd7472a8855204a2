import BPC
@testable import BPCEmit
import Foundation
import Testing

/// Graphviz's `dot`, when a folder of PATH has it: the tests that run it are skipped, and say
/// so, where it is not installed (`.ci/run` installs it).
private let graphvizDot: String? = {
    let folders = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":") ?? []
    return folders.map { $0 + "/dot" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}()

/// The spec files in specs/ (names only), for tests that take one spec per case.
private let specFileNames: [String] = {
    let folder = repositoryRoot.appendingPathComponent("specs").path
    return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
}()

/// Networks whose unit names are everything DOT and Graphviz treat specially: quotes and
/// backslashes (DOT's quoted strings), escString escapes (`\N`, `\n`, `\l`), HTML entities
/// (which Graphviz decodes in every label), HTML-like and record label syntax, line breaks,
/// controls, bidirectional overrides and other characters that do not show as themselves.
/// Each name of `hostileCommentTexts` appears too; six names make one network.
private let hostileDOTPlans: [Plan] = {
    let names = [
        "<in> & \"out\"", "back\\", "\\N\\G\\L\\n\\l", "&lt;&amp;&#945;", "{a|<b>c}", "ünïcode 🧠 e\u{301}",
        "a\"", "\"", "\\\"", "&", "<", ">",
        // A combining mark makes one character of the quote, backslash or ampersand before it.
        "\"\u{301}", "\\\u{301}", "&\u{301}amp;", "x\"\u{20DD}y", "\u{301}leading", "end\\\u{301}",
    ] + hostileCommentTexts
    let networkNames = ["net \"quoted\" \\ <&>", "line\nbreak", "", "\\N", "&amp;", "\u{202E}rtl", "x"]
    return stride(from: 0, to: names.count - 5, by: 6).enumerated().compactMap { index, start in
        try? namedTestPlan(name: networkNames[index % networkNames.count], unitNames: Array(names[start..<start + 6]), seed: UInt64(index))
    }
}()

/// Loads the network of a spec of specs/ (not its data, which drawings do not need).
private func specModel(_ file: String) throws -> Model {
    try Model(contentsOf: repositoryRoot.appendingPathComponent("specs/\(file)").path, options: LoadOptions(loadsData: false))
}

/// Compares `text` with the golden file `Tests/Golden/NAME`, reporting the first line that
/// differs; with BPC_UPDATE_GOLDEN=1 in the environment it rewrites the file instead.
private func expectGolden(_ text: String, file: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let url = repositoryRoot.appendingPathComponent("Tests/Golden/\(file)")
    if ProcessInfo.processInfo.environment["BPC_UPDATE_GOLDEN"] == "1" {
        try text.write(to: url, atomically: true, encoding: .utf8)
        return
    }
    let expected = try String(contentsOf: url, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
    let actual = text.split(separator: "\n", omittingEmptySubsequences: false)
    if let line = zip(expected, actual).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
        Issue.record("\(file):\(line + 1): expected\n  \(expected[line])\ngot\n  \(actual[line])", sourceLocation: sourceLocation)
    }
    #expect(expected.count == actual.count, "\(file): \(expected.count) golden lines, \(actual.count) drawn", sourceLocation: sourceLocation)
}

/// The lines of `text` that declare a node (`  u3 [label=...];`), by unit index.
private func nodeLines(_ text: String) -> [Int: String] {
    var lines: [Int: String] = [:]
    for line in text.split(separator: "\n") {
        let trimmed = line.drop { $0 == " " }
        guard trimmed.hasPrefix("u"), let space = trimmed.firstIndex(of: " "), trimmed[space...].hasPrefix(" [label="),
              let unit = Int(trimmed[trimmed.index(after: trimmed.startIndex)..<space]) else { continue }
        lines[unit] = String(trimmed)
    }
    return lines
}

/// The text lines Graphviz draws in each node's label, by node ID, from its JSON output (the
/// `T` operations of `_ldraw_`).
private func drawnLabels(json: String) throws -> [String: [String]] {
    let document = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    let objects = try #require(document["objects"] as? [[String: Any]])
    var labels: [String: [String]] = [:]
    for object in objects {
        guard let name = object["name"] as? String, let operations = object["_ldraw_"] as? [[String: Any]] else { continue }
        labels[name] = operations.compactMap { $0["op"] as? String == "T" ? $0["text"] as? String : nil }
    }
    return labels
}

@Suite("DOT drawings")
struct DOTTests {
    @Test("the drawings of xor and of note 1's case 3 match their golden files (BPC_UPDATE_GOLDEN=1 rewrites them)")
    func matchesGoldenFiles() throws {
        try expectGolden(try specModel("xor.yaml").dot(), file: "xor.dot")
        let note = try specModel("note1-case3-several-outputs.yaml")
        try expectGolden(try note.dot(), file: "note1-case3.dot")
        // The spec's first `expect` sample, whose values its comments derive in closed form.
        try expectGolden(try note.dot(input: [0.9], target: [0.2]), file: "note1-case3-sample.dot")
    }

    @Test func labelsEveryUnitWithItsNameAndActivation() throws {
        let plan = try specModel("adder2.yaml").plan
        let nodes = nodeLines(DOTGraph.text(for: plan))
        #expect(nodes.count == plan.unitCount)
        for unit in 0..<plan.unitCount {
            let line = try #require(nodes[unit], "no node for \(plan.unitNames[unit])")
            let label = plan.roles[unit] == .input ? "\"\(plan.unitNames[unit])\"" : "\"\(plan.unitNames[unit])\\n\(plan.activations[unit].name)\\nb = "
            #expect(line.contains("[label=" + label), "\(line)")
        }
    }

    @Test func groupsUnitsInOneClusterPerRole() throws {
        let plan = try specModel("adder2.yaml").plan
        let text = DOTGraph.text(for: plan)
        for role in UnitRole.allCases {
            let start = try #require(text.range(of: "subgraph cluster_\(role.rawValue) {"))
            let end = try #require(text[start.upperBound...].range(of: "\n  }"))
            let members = nodeLines(String(text[start.upperBound..<end.lowerBound])).keys.sorted()
            #expect(members == (0..<plan.unitCount).filter { plan.roles[$0] == role }, "\(role)")
        }
    }

    @Test func ranksUnitsOfOneDepthTogether() throws {
        let plan = try specModel("adder2.yaml").plan
        let ranks = DOTGraph.text(for: plan).split(separator: "\n").filter { $0.hasPrefix("  {rank=same; ") }
        let depths = plan.topologicalDepths()
        #expect(ranks.count == (depths.max() ?? 0) + 1)
        for (depth, rank) in ranks.enumerated() {
            let units = (0..<plan.unitCount).filter { depths[$0] == depth }
            #expect(rank == "  {rank=same; " + units.map { "u\($0);" }.joined(separator: " ") + "}")
        }
    }

    @Test func coloursEdgesBySignAndWidensThemWithTheWeight() throws {
        let plan = try namedTestPlan(name: "n", unitNames: ["a", "b", "c", "d", "e", "f"], seed: 1)
        var weights = plan
        weights.parameters[0] = 2
        weights.parameters[1] = -1
        weights.parameters[2] = 0
        let edges = DOTGraph.text(for: weights).split(separator: "\n").filter { $0.contains(" -> ") }
        #expect(edges.count == plan.edgeCount)
        #expect(edges[0].hasPrefix("  u0 -> u2 [color=\"#2166ac\", penwidth=4, label=\"2\""))
        #expect(edges[1].hasPrefix("  u1 -> u2 [color=\"#b2182b\", penwidth=2.25, label=\"-1\""))
        #expect(edges[2].hasPrefix("  u0 -> u3 [color=\"#999999\", penwidth=0.5, label=\"0\""))
    }

    @Test func showsTheSamplesValuesOnUnitsAndGradientsOnEdges() throws {
        let model = try specModel("xor.yaml")
        let pass = try model.gradients(input: [1, 0], target: [1])
        let text = try model.dot(input: [1, 0], target: [1])
        let plan = model.plan
        let nodes = nodeLines(text)
        for unit in 0..<plan.unitCount {
            let line = try #require(nodes[unit])
            #expect(line.contains("\\nz = \(DOTGraph.number(pass.activations[unit]))"))
            #expect(line.contains("\\ndelta = \(DOTGraph.number(pass.deltas[unit]))\"]"))
        }
        #expect(text.contains("\\ntarget = 1\\n"))
        #expect(text.contains("label=\"xor\\nbinary_cross_entropy loss = \(DOTGraph.number(pass.loss))\""))
        for (parameter, key) in plan.parameterKeys().enumerated() where parameter < plan.edgeCount {
            let values = "w = \(DOTGraph.number(plan.parameters[parameter])), dE/dw = \(DOTGraph.number(pass.gradients[parameter]))"
            #expect(text.contains("tooltip=\"\(key): \(values)\""), "\(key)")
        }
    }

    @Test func asksForBothTheInputAndTheTargetOfASample() throws {
        let model = try specModel("xor.yaml")
        #expect(throws: ModelError.self) { try model.dot(input: [1, 0]) }
        #expect(throws: ModelError.self) { try model.dot(target: [1]) }
        #expect(throws: ModelError.wrongInputCount(expected: 2, given: 1)) { try model.dot(input: [1], target: [1]) }
    }

    @Test func labelsEdgesOfLargeNetworksOnlyWhenAsked() throws {
        let plan = try specModel("digits.yaml").plan
        #expect(plan.edgeCount > DOTOptions.edgeLabelLimit)
        let edges = { (options: DOTOptions) in DOTGraph.text(for: plan, options: options).split(separator: "\n").filter { $0.contains(" -> ") } }
        let automatic = edges(DOTOptions())
        #expect(automatic.count == plan.edgeCount)
        #expect(automatic.allSatisfy { !$0.contains("label=") && $0.contains("tooltip=") })
        #expect(edges(DOTOptions(edgeLabels: true)).allSatisfy { $0.contains("label=") })
        let small = try specModel("xor.yaml").plan
        #expect(DOTGraph.text(for: small, options: DOTOptions(edgeLabels: false)).split(separator: "\n").allSatisfy { !$0.contains(" -> ") || !$0.contains("label=") })
    }

    @Test func writesNumbersWithFourSignificantDigits() {
        let cases: [(Double, String)] = [
            (0, "0"), (-0.0, "0"), (1, "1"), (-1.5, "-1.5"), (0.5, "0.5"), (120, "120"), (0.6785246631166438, "0.6785"),
            (0.12345, "0.1235"), (-0.12344, "-0.1234"), (9999.4, "9999"), (9999.5, "1e4"), (12345, "1.235e4"),
            (0.0001, "0.0001"), (0.00009999, "9.999e-5"), (0.000099995, "0.0001"), (1e-5, "1e-5"), (2.5e-8, "2.5e-8"),
            (.leastNonzeroMagnitude, "5e-324"), (.leastNormalMagnitude / 4, "5.563e-309"), (.greatestFiniteMagnitude, "1.798e308"), (1e16, "1e16"),
            (.nan, "nan"), (.infinity, "inf"), (-.infinity, "-inf"),
        ]
        for (value, text) in cases { #expect(DOTGraph.number(value) == text, "\(value)") }
    }

    @Test func escapesEveryNameInsideQuotedLabels() {
        #expect(DOTGraph.quoted(["a\"b", "c\\d"]) == #""a\"b\nc\\d""#)
        #expect(DOTGraph.quoted(["&lt; & <b>"]) == #""&amp;lt; &amp; <b>""#)
        #expect(DOTGraph.quoted(["line\nbreak\t\u{202E}"]) == #""line\\u{A}break\\u{9}\\u{202E}""#)
        #expect(DOTGraph.quoted(["ünïcode 🧠 h[0]"]) == "\"ünïcode 🧠 h[0]\"")
        #expect(DOTGraph.quoted(["\"\u{301}\\\u{301}"]) == "\"\\\"\u{301}\\\\\u{301}\"")
        for plan in hostileDOTPlans {
            let text = DOTGraph.text(for: plan)
            // Names appear only in labels and tooltips; every line is one statement.
            #expect(text.split(separator: "\n").allSatisfy { !$0.contains("\r") && !$0.contains("\u{2028}") })
            #expect(nodeLines(text).count == plan.unitCount)
        }
    }

    @Test("dot accepts the drawing of every spec", .enabled(if: graphvizDot != nil, "Graphviz's dot is not installed"),
          arguments: specFileNames)
    func dotAcceptsEverySpec(file: String) throws {
        let folder = try temporaryFolder("dot")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try specModel(file)
        try model.dot().write(to: folder.appendingPathComponent("net.dot"), atomically: true, encoding: .utf8)
        let svg = try runTool(["dot", "-Tsvg", "net.dot"], in: folder, seconds: 30)
        #expect(svg?.contains("<svg") == true, "\(file)")
        let input = [Double](repeating: 0.5, count: model.plan.inputUnits.count)
        let target = [Double](repeating: 0, count: model.plan.outputUnits.count - 1) + [1]
        try model.dot(input: input, target: target).write(to: folder.appendingPathComponent("sample.dot"), atomically: true, encoding: .utf8)
        #expect(try runTool(["dot", "-Tsvg", "sample.dot"], in: folder, seconds: 30) != nil, "\(file) with a sample")
    }

    @Test("dot accepts hostile names and draws each exactly as displayed", .enabled(if: graphvizDot != nil, "Graphviz's dot is not installed"))
    func dotDrawsHostileNames() throws {
        let folder = try temporaryFolder("dot-hostile")
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(hostileDOTPlans.count == 8, "a hostile network failed to verify")
        for (index, plan) in hostileDOTPlans.enumerated() {
            try DOTGraph.text(for: plan).write(to: folder.appendingPathComponent("net\(index).dot"), atomically: true, encoding: .utf8)
            let json = try #require(try runTool(["dot", "-Tjson", "net\(index).dot"], in: folder, seconds: 30))
            let labels = try drawnLabels(json: json)
            for unit in 0..<plan.unitCount {
                #expect(labels["u\(unit)"]?.first == DOTGraph.displayText(plan.unitNames[unit]), "\(plan.unitNames[unit].debugDescription)")
            }
            #expect(try runTool(["dot", "-Tsvg", "net\(index).dot"], in: folder, seconds: 30) != nil)
        }
    }
}
