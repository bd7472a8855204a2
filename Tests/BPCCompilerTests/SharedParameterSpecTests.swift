import BPC
import BPCTestSupport
import Foundation
import Testing

/// `share:` on edges and `bias: {share: KEY}`: what the parser and the compiler accept, the
/// errors they report with positions, the plan table they write, and what plan files may hold.
@Suite("shared parameters in specs and plans")
struct SharedParameterSpecTests {
    /// A siamese pair: x1 -> h1 and x2 -> h2 share one weight and one bias.
    static func spec(edges: [String], units extra: [String] = []) -> String {
        ([
            "bpc: 1",
            "units:",
            "  - {name: x1, role: input}",
            "  - {name: x2, role: input}",
            "  - {name: h1, activation: tanh, bias: 0.1}",
            "  - {name: h2, activation: tanh, bias: {share: h1.bias}}",
            "  - {name: y, role: output, activation: identity}",
        ] + extra + ["edges:"] + edges.map { "  - " + $0 } + ["loss: half_squared_error"]).joined(separator: "\n") + "\n"
    }

    static let tiedEdges = [
        "{from: x1, to: h1, weight: 0.3}",
        "{from: x2, to: h2, share: \"x1->h1\"}",
        "{from: [h1, h2], to: y, weight: [0.5, -0.4]}",
    ]

    func compile(_ text: String) -> (plan: Plan?, diagnostics: [Diagnostic]) {
        var log = DiagnosticLog()
        guard let spec = SpecParser.parse(text: text, path: "tied.yaml", log: &log) else { return (nil, log.sorted()) }
        let compilation = Compiler.compile(spec, log: &log)
        return (compilation?.plan, log.sorted())
    }

    @Test("a tied edge and a tied bias compile to one table entry each, with the shared values")
    func tableOfATiedNetwork() throws {
        let (plan, diagnostics) = compile(Self.spec(edges: Self.tiedEdges))
        #expect(diagnostics.isEmpty, "\(diagnostics.map(\.description))")
        let compiled = try #require(plan)
        #expect(compiled.parameterKeys() == ["x1->h1", "x2->h2", "h1->y", "h2->y", "h1.bias", "h2.bias"])
        #expect(compiled.sharedWith == [-1, 0, -1, -1, -1, 4])
        #expect(compiled.parameters == [0.3, 0.3, 0.5, -0.4, 0.1, 0.1])
        #expect(compiled.sharedGroups() == [[0, 1], [4, 5]])
        try compiled.verify()
    }

    @Test("a sharing edge draws nothing from init and takes the drawn value of the parameter it shares")
    func sharingTakesTheDrawnValue() throws {
        let (plan, diagnostics) = compile(Self.spec(edges: ["{from: x1, to: h1}", "{from: x2, to: h2, share: \"x1->h1\"}", "{from: [h1, h2], to: y}"]))
        #expect(diagnostics.isEmpty, "\(diagnostics.map(\.description))")
        let compiled = try #require(plan)
        #expect(compiled.parameters[0] == compiled.parameters[1])
        // Without the tie the draws would go to x1->h1, x2->h2, h1->y, h2->y in turn; with it
        // h1->y takes the second draw.
        let (untied, _) = compile(Self.spec(edges: ["{from: x1, to: h1}", "{from: x2, to: h2}", "{from: [h1, h2], to: y}"]))
        #expect(try #require(untied).parameters[1] == compiled.parameters[2])
    }

    @Test("an entry creating several edges ties every one of them to the key")
    func listEntryTiesEveryEdge() throws {
        let text = Self.spec(edges: ["{from: x1, to: h1, weight: 0.25}", "{from: [x1, x2], to: h2, share: \"x1->h1\"}", "{from: [h1, h2], to: y}"])
        let (plan, diagnostics) = compile(text)
        #expect(diagnostics.isEmpty, "\(diagnostics.map(\.description))")
        let compiled = try #require(plan)
        #expect(compiled.parameterKeys().prefix(3) == ["x1->h1", "x1->h2", "x2->h2"])
        #expect(Array(compiled.sharedWith?.prefix(3) ?? []) == [-1, 0, 0])
        #expect(Array(compiled.parameters.prefix(3)) == [0.25, 0.25, 0.25])
    }

    @Test("sharing an unknown key is an error at the key, with the closest key suggested")
    func unknownKey() {
        let (plan, diagnostics) = compile(Self.spec(edges: ["{from: x1, to: h1}", "{from: x2, to: h2, share: \"x1->h\"}", "{from: [h1, h2], to: y}"]))
        #expect(plan == nil)
        expectOnlyError(diagnostics, "'x2->h2' shares 'x1->h', which is no parameter of this network; did you mean 'x1->h1'?", line: 10, column: 31)
    }

    @Test("a bias sharing an unknown key is an error at the key")
    func unknownBiasKey() {
        var text = Self.spec(edges: Self.tiedEdges)
        text = text.replacingOccurrences(of: "{share: h1.bias}", with: "{share: h1.bais}")
        let (plan, diagnostics) = compile(text)
        #expect(plan == nil)
        expectOnlyError(diagnostics, "'h2.bias' shares 'h1.bais', which is no parameter of this network; did you mean 'h1.bias'?", line: 6, column: 48)
    }

    @Test("an edge that shares and gives a weight is an error at the weight")
    func shareWithWeight() {
        let (_, diagnostics) = compile(Self.spec(edges: ["{from: x1, to: h1}", "{from: x2, to: h2, weight: 0.5, share: \"x1->h1\"}", "{from: [h1, h2], to: y}"]))
        expectOnlyError(diagnostics, "an edge that shares 'x1->h1' has no weight of its own; remove 'weight'", line: 10, column: 32)
    }

    @Test("sharing a parameter that itself shares is an error naming the one to share")
    func shareOfASharer() {
        let (_, diagnostics) = compile(Self.spec(edges: [
            "{from: x1, to: h1}", "{from: x2, to: h2, share: \"x1->h1\"}", "{from: x1, to: h2, share: \"x2->h2\"}", "{from: [h1, h2], to: y}",
        ]))
        expectOnlyError(diagnostics, "'x1->h2' shares 'x2->h2', which itself shares 'x1->h1'; share 'x1->h1' directly", line: 11, column: 31)
    }

    @Test("parameters sharing each other in a cycle are reported with the cycle")
    func cycle() {
        let (plan, diagnostics) = compile(Self.spec(edges: [
            "{from: x1, to: h1, share: \"x2->h2\"}", "{from: x2, to: h2, share: \"x1->h1\"}", "{from: [h1, h2], to: y}",
        ]))
        #expect(plan == nil)
        expectError(diagnostics, "shared parameters form a cycle: x1->h1 -> x2->h2 -> x1->h1", line: 9, column: 31)
        expectError(diagnostics, "shared parameters form a cycle: x2->h2 -> x1->h1 -> x2->h2", line: 10, column: 31)
    }

    @Test("a parameter sharing itself is an error")
    func sharesItself() {
        let (_, diagnostics) = compile(Self.spec(edges: ["{from: x1, to: h1, share: \"x1->h1\"}", "{from: x2, to: h2}", "{from: [h1, h2], to: y}"]))
        expectOnlyError(diagnostics, "'x1->h1' shares itself", line: 9, column: 31)
    }

    @Test("a shared bias needs its key, and defaults cannot share")
    func biasMappingErrors() {
        var text = Self.spec(edges: Self.tiedEdges)
        text = text.replacingOccurrences(of: "{share: h1.bias}", with: "{}")
        expectOnlyError(compile(text).diagnostics, "a shared bias needs 'share'", line: 6, column: 40)
        let defaults = "bpc: 1\ndefaults: {bias: {share: h1.bias}}\nunits: []\nloss: half_squared_error\n"
        expectError(compile(defaults).diagnostics, "bias must be true, false, a number, not a mapping", line: 2, column: 18)
    }

    @Test("a plan with shared parameters round-trips through its file, and a plan without them writes no table")
    func planRoundTrip() throws {
        let plan = try #require(compile(Self.spec(edges: Self.tiedEdges)).plan)
        let text = PlanJSON.encode(plan)
        #expect(text.contains("\"shared\": [-1, 0, -1, -1, -1, 4]"))
        #expect(try PlanJSON.decode(Array(text.utf8)) == plan)
        let untied = try #require(compile(Self.spec(edges: ["{from: x1, to: h1}", "{from: x2, to: h2}", "{from: [h1, h2], to: y}"])
            .replacingOccurrences(of: "{share: h1.bias}", with: "0.1")).plan)
        #expect(untied.sharedWith == nil)
        #expect(!PlanJSON.encode(untied).contains("shared"))
        #expect(try PlanJSON.decode(Array(PlanJSON.encode(untied).utf8)).sharedWith == nil)
    }

    @Test("hostile shared tables are rejected with the invariant they break", arguments: [
        ("[-1, 0, -1, -1, -1]", "shared has 5 entries for 6 parameters"),
        ("[-1, 9, -1, -1, -1, 4]", "parameter 1 shares parameter 9, which does not exist"),
        ("[-1, -7, -1, -1, -1, 4]", "parameter 1 shares parameter -7, which does not exist"),
        ("[-1, 1, -1, -1, -1, 4]", "parameter 1 shares itself"),
        ("[1, 0, -1, -1, -1, 4]", "parameter 0 shares parameter 1, which itself shares parameter 0"),
        ("[-1, 0, 1, -1, -1, 4]", "parameter 2 shares parameter 1, which itself shares parameter 0"),
        ("[-1, 0, 0, -1, -1, 4]", "parameter 2 shares parameter 0 but their values differ"),
        ("[-1, -1, -1, -1, -1, -1]", "shared lists no shared parameter"),
        ("[-1, 0.5, -1, -1, -1, 4]", "expected an integer index"),
        ("{}", "expected '['"),
    ])
    func hostileTables(table: String, message: String) throws {
        let plan = try #require(compile(Self.spec(edges: Self.tiedEdges)).plan)
        let text = PlanJSON.encode(plan).replacingOccurrences(of: "[-1, 0, -1, -1, -1, 4]", with: table)
        #expect(throws: PlanFileError.self) { try PlanJSON.decode(Array(text.utf8)) }
        do {
            _ = try PlanJSON.decode(Array(text.utf8))
        } catch {
            #expect(error.message.contains(message), "\(error.message)")
        }
    }

    @Test("a spec saved after training writes share back, and reloads to the trained values bit for bit")
    func saveRoundTrip() throws {
        let text = Self.spec(edges: Self.tiedEdges) + """
            data:
              samples:
                - {in: [0.5, -1.0], out: [0.2]}
                - {in: [1.5, 0.25], out: [-0.3]}
            train: {epochs: 5, batch_size: 2, learning_rate: 0.1, optimizer: adam}

            """
        var model = try Model(yaml: text, path: "dir/tied.yaml")
        try model.train(runtime: .reference)
        let saved = try model.trainedSpec()
        #expect(saved.contains("share: \"x1->h1\""), "\(saved)")
        #expect(saved.contains("bias: {share: \"h1.bias\"}"), "\(saved)")
        var log = DiagnosticLog()
        let reloaded = try #require(SpecParser.parse(text: saved, path: "dir/tied.yaml", log: &log), "\(log.sorted())\n\(saved)")
        let plan = try #require(Compiler.compile(reloaded, log: &log)).plan
        #expect(!log.hasErrors, "\(log.sorted())")
        #expect(plan.sharedWith == model.plan.sharedWith)
        #expect(plan.parameters.map(\.bitPattern) == model.parameters.map(\.bitPattern), "\(saved)")
    }
}
