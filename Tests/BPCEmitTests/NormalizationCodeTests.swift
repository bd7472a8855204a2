import BPC
import Foundation
import Testing

// Generated C and Swift take raw inputs when the plan has an input normalisation, so a network
// embedded in a device reads its sensors as they are; they must agree with the library's
// `Model.predict`, which takes raw inputs too.

/// A network of three inputs whose samples span negative minimums, normalised with minmax.
private let minmaxSpec = """
    bpc: 1
    name: scaled
    units:
      - {name: x, role: input, count: 3}
      - {name: h, count: 4, activation: tanh, bias: true}
      - {name: y, role: output, activation: identity}
    edges:
      - {from: x, to: h}
      - {from: h, to: y}
    loss: half_squared_error
    init: {scheme: xavier, seed: 3}
    data:
      normalize: minmax
      samples:
        - {in: [-40, 0.001, 1000], out: [1]}
        - {in: [25, 0.004, 1200], out: [0]}
        - {in: [-5, 0.002, 950], out: [0.5]}
    """

@Suite("generated code with input normalisation", .serialized)
struct NormalizationCodeTests {
    /// The minmax network and iris-labelled (standard statistics, class names).
    private func models() throws -> [(prefix: String, model: Model)] {
        [("scaled", try Model(yaml: minmaxSpec)),
         ("iris", try Model(contentsOf: repositoryRoot.appendingPathComponent("specs/iris-labelled.yaml").path))]
    }

    /// Raw inputs around each network's data (well off 0 and 1, where skipping the
    /// normalisation could not go unnoticed).
    private func rawInputs(for model: Model) -> [[Double]] {
        model.inputNames.count == 3
            ? [[-40, 0.001, 1000], [12.5, 0.0035, 1111], [30, 0, 900]]
            : [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 2.8, 4.4, 1.3]]
    }

    @Test("generated C and Swift take raw inputs and give Model.predict's outputs on them")
    func generatedCodeNormalises() throws {
        let folder = try temporaryFolder("normalization")
        defer { try? FileManager.default.removeItem(at: folder) }
        var cProgram = "#include <stdio.h>\n"
        var swiftProgram = ""
        var expected: [Double] = []
        var swiftFiles = ["main.swift"]
        for (prefix, model) in try models() {
            let options = EmitOptions(prefix: prefix)
            try model.emit(.c, options: options).write(to: folder.appendingPathComponent("\(prefix).h"), atomically: true, encoding: .utf8)
            try model.emit(.swift, options: options).write(to: folder.appendingPathComponent("\(prefix).swift"), atomically: true, encoding: .utf8)
            swiftFiles.append("\(prefix).swift")
            cProgram += "#include \"\(prefix).h\"\n"
            for input in rawInputs(for: model) {
                expected += try model.predict(input)
                swiftProgram += "for value in \(prefix).forward([\(literal(input))]) { print(value) }\n"
            }
        }
        cProgram += "int main(void) {\n    int i;\n"
        for (prefix, model) in try models() {
            for input in rawInputs(for: model) {
                cProgram += "    { static const double in[] = {\(literal(input))}; double out[\(prefix.uppercased())_OUTPUTS];\n"
                cProgram += "      \(prefix)_forward(in, out); for (i = 0; i < \(prefix.uppercased())_OUTPUTS; ++i) printf(\"%.17g\\n\", out[i]); }\n"
            }
        }
        cProgram += "    return 0;\n}\n"
        try cProgram.write(to: folder.appendingPathComponent("main.c"), atomically: true, encoding: .utf8)
        try swiftProgram.write(to: folder.appendingPathComponent("main.swift"), atomically: true, encoding: .utf8)
        _ = try run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "main.c", "-o", "cmain", "-lm"], in: folder)
        _ = try run(["swiftc", "-Onone", "-warnings-as-errors"] + swiftFiles + ["-o", "swiftmain"], in: folder)
        for (language, program) in [("C", "./cmain"), ("Swift", "./swiftmain")] {
            let actual = try run([program], in: folder).split(separator: "\n").compactMap { Double($0) }
            #expect(actual.count == expected.count, "\(language)")
            for (index, (a, e)) in zip(actual, expected).enumerated() {
                #expect(abs(a - e) <= 1e-12 * max(1, abs(e)), "\(language) output \(index): generated \(a), Model.predict \(e)")
            }
        }
    }

    @Test("the generated header says the inputs are normalised and names the classes; the statement is the runtime's")
    func headerAndStatement() throws {
        let iris = try Model(contentsOf: repositoryRoot.appendingPathComponent("specs/iris-labelled.yaml").path)
        let c = iris.emit(.c, options: EmitOptions(prefix: "iris"))
        #expect(c.contains("Outputs, in order: y[0] (class setosa), y[1] (class versicolor), y[2] (class virginica)."))
        #expect(c.contains("x' = (x - shift) * scale, with the standard statistics of the training data"))
        let normalization = try #require(iris.plan.inputNormalization)
        #expect(c.contains("a[0] = (input[0] - \(normalization.shift[0])) * \(normalization.scale[0]);"))
        #expect(c.contains("z[0] = a[0];"))
        let scaled = try Model(yaml: minmaxSpec).emit(.swift, options: EmitOptions(prefix: "scaled"))
        #expect(scaled.contains("a[0] = (input[0] - (-40.0)) * "), "a negative shift is parenthesised")
    }
}
