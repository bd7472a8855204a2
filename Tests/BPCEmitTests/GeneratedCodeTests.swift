import BPC
import Foundation
import Testing

let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Every spec in specs/, loaded.
func loadedSpecs() throws -> [(file: String, model: Model)] {
    let folder = repositoryRoot.appendingPathComponent("specs")
    let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }.sorted()
    return try files.map { file in (file, try Model(contentsOf: folder.appendingPathComponent(file).path)) }
}

/// One generated program's job for one network: forward passes on random inputs, then SGD
/// steps on a fixed sample sequence.
struct Case {
    var prefix: String
    var plan: Plan
    var layout: EmitOptions.Layout
    var inputs: [[Double]]
    var steps: [(input: [Double], target: [Double])]
    let learningRate = 0.05

    init(prefix: String, plan: Plan, layout: EmitOptions.Layout, seed: UInt64) {
        self.prefix = prefix
        self.plan = plan
        self.layout = layout
        var generator = SeededGenerator(seed: seed)
        let inputCount = plan.inputUnits.count, outputCount = plan.outputUnits.count
        inputs = (0..<4).map { _ in (0..<inputCount).map { _ in generator.nextUniform(scale: 1.5) } }
        steps = (0..<6).map { _ in
            let input = (0..<inputCount).map { _ in generator.nextUniform(scale: 1.5) }
            var target = (0..<outputCount).map { _ in generator.nextUnit() }
            if plan.loss == .softmaxCrossEntropy {
                let hot = generator.nextIndex(below: outputCount)
                target = target.indices.map { $0 == hot ? 1 : 0 }
            }
            return (input, target)
        }
    }

    var options: EmitOptions {
        var options = EmitOptions(prefix: prefix)
        options.train = true
        options.layout = layout
        return options
    }

    /// What the reference runtime says: the outputs of each input, then the parameters after
    /// the SGD steps (batch size 1, constant learning rate). The generated code takes raw
    /// inputs and the runtime normalised ones (the plan's normalisation, if any).
    func expected() throws -> [Double] {
        var network = try Network(plan: plan)
        var values = inputs.flatMap { network.predict(plan.networkInput($0)) }
        var data = Dataset(inputWidth: plan.inputUnits.count, targetWidth: plan.outputUnits.count)
        for step in steps { data.append(input: plan.networkInput(step.input), target: step.target) }
        var trainer = Trainer(settings: TrainingSettings(epochs: 1, batchSize: 1, learningRate: .constant(learningRate),
                                                         shuffle: false, optimizer: .sgd, seed: 0))
        _ = try trainer.train(&network, on: data)
        values += network.parameters
        return values
    }
}

func literal(_ values: [Double]) -> String { values.map { $0.description }.joined(separator: ", ") }

/// Runs a command, returning standard output; records an issue with standard error on failure.
func run(_ arguments: [String], in folder: URL) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    process.currentDirectoryURL = folder
    let output = Pipe(), errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "\(arguments.prefix(3).joined(separator: " ")) failed:\n\(String(decoding: errorData, as: UTF8.self).prefix(4000))")
    return String(decoding: data, as: UTF8.self)
}

func temporaryFolder(_ name: String) throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bpc-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
}

/// Compares the program's printed numbers (one per line, per case in order) with the runtime.
func compare(_ output: String, _ cases: [Case], language: String) throws {
    var lines = output.split(separator: "\n").makeIterator()
    for item in cases {
        let expected = try item.expected()
        let forwardCount = item.inputs.count * item.plan.outputUnits.count
        for (index, value) in expected.enumerated() {
            guard let line = lines.next(), let actual = Double(line) else {
                Issue.record("\(language) \(item.prefix): output ended early")
                return
            }
            // Outputs to 1e-12; parameters after training steps to 1e-9.
            let tolerance = index < forwardCount ? 1e-12 : 1e-9
            #expect(abs(actual - value) <= tolerance * max(1, abs(value)),
                    "\(language) \(item.prefix) value \(index): generated \(actual), runtime \(value)")
        }
    }
}

/// Every spec in both layouts; Swift skips straight-line code for large networks, which
/// nobody should generate (the auto layout switches to tables there) and swiftc takes minutes on.
func allCases(largeStraightLine: Bool = true) throws -> [Case] {
    var cases: [Case] = []
    for (index, (file, model)) in try loadedSpecs().enumerated() {
        let name = file.replacingOccurrences(of: ".yaml", with: "").map { $0.isLetter || $0.isNumber ? $0 : "_" }
        for layout in EmitOptions.Layout.allCases {
            if layout == .straightLine && !largeStraightLine && model.plan.edgeCount > EmitOptions.straightLineEdgeLimit { continue }
            cases.append(Case(prefix: "n_\(String(name))_\(layout == .tables ? "t" : "s")", plan: model.plan, layout: layout, seed: UInt64(index)))
        }
    }
    return cases
}

@Suite("generated code", .serialized)
struct GeneratedCodeTests {
    @Test("generated C for every spec compiles warning-free and matches the runtime (forward and training steps)")
    func cMatchesRuntime() throws {
        let folder = try temporaryFolder("c")
        defer { try? FileManager.default.removeItem(at: folder) }
        let cases = try allCases()
        var program = "#include <stdio.h>\n"
        for item in cases {
            try CodeEmitter.c(item.plan, options: item.options).write(to: folder.appendingPathComponent("\(item.prefix).h"), atomically: true, encoding: .utf8)
            program += "#include \"\(item.prefix).h\"\n"
        }
        program += "static void show(const double *v, int n) { int i; for (i = 0; i < n; ++i) printf(\"%.17g\\n\", v[i]); }\n"
        program += "int main(void) {\n"
        for item in cases {
            let p = item.prefix, upper = item.prefix.uppercased()
            program += "    {\n        double out[\(upper)_OUTPUTS];\n        double params[\(upper)_PARAMETERS];\n        int i;\n"
            for input in item.inputs {
                program += "        { static const double in[] = {\(literal(input))}; \(p)_forward(in, out); show(out, \(upper)_OUTPUTS); }\n"
            }
            program += "        for (i = 0; i < \(upper)_PARAMETERS; ++i) params[i] = \(p)_parameters[i];\n"
            for step in item.steps {
                program += "        { static const double in[] = {\(literal(step.input))}; static const double t[] = {\(literal(step.target))}; \(p)_train_step(params, in, t, \(item.learningRate)); }\n"
            }
            program += "        show(params, \(upper)_PARAMETERS);\n    }\n"
        }
        program += "    return 0;\n}\n"
        try program.write(to: folder.appendingPathComponent("main.c"), atomically: true, encoding: .utf8)
        _ = try run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O1", "main.c", "-o", "main", "-lm"], in: folder)
        try compare(try run(["./main"], in: folder), cases, language: "C")
    }

    @Test("generated Swift for every spec compiles and matches the runtime (forward and training steps)")
    func swiftMatchesRuntime() throws {
        let folder = try temporaryFolder("swift")
        defer { try? FileManager.default.removeItem(at: folder) }
        let cases = try allCases(largeStraightLine: false)
        var program = "func show(_ values: [Double]) { for value in values { print(value) } }\n"
        var files = ["main.swift"]
        for item in cases {
            try CodeEmitter.swift(item.plan, options: item.options).write(to: folder.appendingPathComponent("\(item.prefix).swift"), atomically: true, encoding: .utf8)
            files.append("\(item.prefix).swift")
            for input in item.inputs { program += "show(\(item.prefix).forward([\(literal(input))]))\n" }
            program += "do {\n    var p = \(item.prefix).parameters\n"
            for step in item.steps {
                program += "    _ = \(item.prefix).trainStep(parameters: &p, input: [\(literal(step.input))], target: [\(literal(step.target))], learningRate: \(item.learningRate))\n"
            }
            program += "    show(p)\n}\n"
        }
        try program.write(to: folder.appendingPathComponent("main.swift"), atomically: true, encoding: .utf8)
        _ = try run(["swiftc", "-Onone", "-warnings-as-errors"] + files + ["-o", "main"], in: folder)
        try compare(try run(["./main"], in: folder), cases, language: "Swift")
    }

    @Test("single-precision C and Swift compile and agree with the runtime to float accuracy")
    func singlePrecision() throws {
        let folder = try temporaryFolder("float")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (_, model) = try #require(try loadedSpecs().first { $0.file == "adder2.yaml" })
        var options = EmitOptions(prefix: "adder")
        options.train = true
        options.singlePrecision = true
        try CodeEmitter.c(model.plan, options: options).write(to: folder.appendingPathComponent("adder.h"), atomically: true, encoding: .utf8)
        let input = [1.0, 0, 1, 1]
        let c = """
            #include <stdio.h>
            #include "adder.h"
            int main(void) { const adder_real in[] = {1, 0, 1, 1}; adder_real out[ADDER_OUTPUTS]; int i;
                adder_forward(in, out); for (i = 0; i < ADDER_OUTPUTS; ++i) printf("%.9g\\n", (double)out[i]); return 0; }
            """
        try c.write(to: folder.appendingPathComponent("main.c"), atomically: true, encoding: .utf8)
        _ = try run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "main.c", "-o", "main", "-lm"], in: folder)
        var network = try Network(plan: model.plan)
        let expected = network.predict(input)
        let actual = try run(["./main"], in: folder).split(separator: "\n").compactMap { Double($0) }
        #expect(actual.count == expected.count)
        for (a, e) in zip(actual, expected) { #expect(abs(a - e) < 1e-5, "float C \(a) vs runtime \(e)") }

        try CodeEmitter.swift(model.plan, options: options).write(to: folder.appendingPathComponent("adder.swift"), atomically: true, encoding: .utf8)
        try "for v in adder.forward([1, 0, 1, 1]) { print(v) }\n".write(to: folder.appendingPathComponent("main.swift"), atomically: true, encoding: .utf8)
        _ = try run(["swiftc", "-Onone", "-warnings-as-errors", "main.swift", "adder.swift", "-o", "swiftmain"], in: folder)
        let swiftActual = try run(["./swiftmain"], in: folder).split(separator: "\n").compactMap { Double($0) }
        for (a, e) in zip(swiftActual, expected) { #expect(abs(a - e) < 1e-5, "float Swift \(a) vs runtime \(e)") }
    }

    @Test("the emitted code for xor matches its golden files (BPC_UPDATE_GOLDEN=1 rewrites them)")
    func golden() throws {
        let model = try Model(contentsOf: repositoryRoot.appendingPathComponent("specs/xor.yaml").path)
        var options = EmitOptions(prefix: "xor")
        options.train = true
        options.source = "xor.yaml"
        for (file, text) in [("xor.h", CodeEmitter.c(model.plan, options: options)),
                             ("xor.swift", CodeEmitter.swift(model.plan, options: options))] {
            let url = repositoryRoot.appendingPathComponent("Tests/Golden/\(file)")
            if ProcessInfo.processInfo.environment["BPC_UPDATE_GOLDEN"] == "1" {
                try text.write(to: url, atomically: true, encoding: .utf8)
                continue
            }
            let golden = try String(contentsOf: url, encoding: .utf8)
            let expected = golden.split(separator: "\n", omittingEmptySubsequences: false)
            let actual = text.split(separator: "\n", omittingEmptySubsequences: false)
            for (index, (e, a)) in zip(expected, actual).enumerated() where e != a {
                Issue.record("\(file):\(index + 1): expected\n  \(e)\ngot\n  \(a)")
                break
            }
            #expect(expected.count == actual.count, "\(file): \(expected.count) golden lines, \(actual.count) generated")
        }
    }
}
