import BPC
import BPCTestSupport
import Foundation
import Testing

/// `explain` on the lecture notes' networks: the notes' formulas, their simplifications, and
/// golden files of every parameter in every format.
@Suite("derivations")
struct DerivationTests {
    static let noteSpecs = [
        "note1-case1-chain", "note1-case2-several-inputs", "note1-case3-several-outputs", "note2-sigmoid-cross-entropy",
    ]

    static func model(_ spec: String) throws -> Model {
        try Model(contentsOf: packageRoot.appendingPathComponent("specs/\(spec).yaml").path)
    }

    /// Every parameter of `spec` derived at the first sample of its data.
    static func derivations(_ spec: String) throws -> [Derivation] {
        let model = try model(spec)
        let data = try #require(model.trainingData)
        return try model.parameterKeys.map { key in
            try model.explain(key, input: Array(data.input(0)), target: Array(data.target(0)))
        }
    }

    @Test("every parameter of the notes' networks matches its golden text, Markdown and LaTeX (BPC_UPDATE_GOLDEN=1 rewrites them)",
          arguments: noteSpecs)
    func goldenFiles(spec: String) throws {
        let explanations = try Self.derivations(spec).map(\.explanation)
        try expectGolden(explanations.map(\.text).joined(separator: "\n"), "explain/\(spec).txt")
        try expectGolden(explanations.map(\.markdown).joined(separator: "\n"), "explain/\(spec).md")
        try expectGolden(Explanation.latexDocument(explanations), "explain/\(spec).tex")
    }

    @Test("note 1, case 3: the weight into the unit with two outputs sums the chain rule over both paths")
    func noteOneCaseThree() throws {
        let derivations = try Self.derivations("note1-case3-several-outputs")
        let formulas = Dictionary(uniqueKeysWithValues: derivations.map { ($0.key, $0.formula) })
        #expect(formulas["x->i"] == "(ŷ - y) · w_{j→o} · σ'(a_j) · w_{i→j} · σ'(a_i) · z_x + (ŷ - y) · w_{k→o} · σ'(a_k) · w_{i→k} · σ'(a_i) · z_x")
        #expect(formulas["i->j"] == "(ŷ - y) · w_{j→o} · σ'(a_j) · z_i")
        #expect(formulas["j->o"] == "(ŷ - y) · z_j")
        let chain = try #require(derivations.first { $0.key == "x->i" })
        #expect(chain.paths.map { $0.units.map { chain.pass.plan.unitNames[$0] } } == [["i", "j", "o"], ["i", "k", "o"]])
        #expect(chain.pathsTotal == 2)
        // The spec's expected value (mpmath from the note's formula) to 1e-12 relative.
        #expect(abs(chain.value - 0.02584303037479517) <= 1e-12 * 0.02584303037479517)
        #expect(chain.explanation.text.contains("identity output, ½ squared error: δ = ŷ - y"))
    }

    @Test("note 2: a sigmoid output with cross-entropy gives delta = y - r and dE/dw_ji = delta_j x_i")
    func noteTwo() throws {
        let derivations = try Self.derivations("note2-sigmoid-cross-entropy")
        let byKey = Dictionary(uniqueKeysWithValues: derivations.map { ($0.key, $0) })
        #expect(byKey["h[0]->y"]?.formula == "(y - r) · z_{h[0]}")
        #expect(byKey["x[1]->h[2]"]?.formula == "(y - r) · w_{h[2]→y} · σ'(a_{h[2]}) · z_{x[1]}")
        let text = try #require(byKey["x[0]->h[0]"]).explanation.text
        #expect(text.contains("δ_y = y - r = 0.671208 - 1 = -0.328792"))
        #expect(text.contains("sigmoid output, cross-entropy: σ' cancels, δ = y - r"))
        // The output's own slope cancels, so the derivation does not list σ'(a_y).
        #expect(!text.contains("σ'(a_y) ="))
        #expect(abs(try #require(byKey["x[0]->h[0]"]).value - -0.03390978720087493) <= 1e-12 * 0.0339)
    }

    @Test("softmax cross-entropy with identity outputs gives delta = p - t")
    func softmaxSimplification() throws {
        let model = try Self.model("iris")
        let data = try #require(model.trainingData)
        let derivation = try model.explain("h[0]->y[1]", input: Array(data.input(0)), target: Array(data.target(0)))
        #expect(derivation.formula == "(p_{y[1]} - t_{y[1]}) · z_{h[0]}")
        #expect(derivation.explanation.text.contains("softmax cross-entropy: δ = p - t"))
    }

    @Test("the value of every parameter equals the gradient bpc grad computes")
    func valuesAreTheRuntimes() throws {
        for spec in Self.noteSpecs + ["xor", "adder2"] {
            let model = try Self.model(spec)
            let data = try #require(model.trainingData)
            let pass = try model.gradients(input: Array(data.input(0)), target: Array(data.target(0)))
            for (index, key) in model.parameterKeys.enumerated() {
                let derivation = try model.explain(key, input: Array(data.input(0)), target: Array(data.target(0)))
                #expect(derivation.value == pass.gradients[index], "\(spec) \(key)")
                let json = derivation.json.serialized()
                #expect(json.contains("\"parameter\": ") && json.contains("\"paths_total\": ") && json.contains("\"formula\": "))
            }
        }
    }

    @Test("a unit that reaches no output has no paths and a zero derivative")
    func deadUnit() throws {
        let model = try Model(yaml: """
            bpc: 1
            units:
              - {name: x, role: input}
              - {name: dead, activation: tanh}
              - {name: y, role: output}
            edges:
              - {from: x, to: dead, weight: 0.5}
              - {from: x, to: y, weight: 0.3}
            loss: half_squared_error
            """)
        let derivation = try model.explain("x->dead", input: [1], target: [0])
        #expect(derivation.paths.isEmpty && derivation.pathsTotal == 0 && derivation.value == 0)
        #expect(derivation.explanation.text.contains("No path leads from dead to an output"))
    }

    @Test("an unknown parameter or a sample of the wrong size is refused with the model's error")
    func misuse() throws {
        let model = try Self.model("xor")
        #expect(throws: ModelError.self) { try model.explain("x1->h3", input: [0, 1], target: [1]) }
        #expect(throws: ModelError.self) { try model.explain("x1->h1", input: [0], target: [1]) }
        #expect(throws: ModelError.self) { try model.explain("x1->h1", input: [0, 1], target: [1], maxPaths: 0) }
    }
}
