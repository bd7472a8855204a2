import BPC
@testable import BPCEmit
import Foundation
import Testing

/// Network names that break naive code generation: keywords of either language, names the
/// generated code uses or declares, names C reserves, and strings that are no identifier.
let hostileNetworkNames: [String] = [
    // Swift keywords.
    "in", "for", "class", "func", "self", "Self", "Type", "Protocol", "init", "deinit", "let", "var", "return",
    "true", "nil", "Any", "as", "is", "try", "await", "throws", "default", "where", "subscript", "operator", "_",
    // C keywords.
    "int", "double", "float", "static", "inline", "_Bool", "restrict", "auto", "register", "typedef", "sizeof",
    "bool", "goto", "volatile",
    // Reserved in C (leading __ or _ and an upper-case letter; any leading _ at file scope) or C++ (__).
    "__x", "_X", "_y", "z_", "a__b", "__", "_Pragma",
    // Names the generated Swift uses, modules, standard library names.
    "Double", "Float", "Int", "Int32", "UnsafePointer", "UnsafeMutablePointer", "Array", "Swift", "Glibc",
    "Darwin", "Musl", "Foundation", "exp", "log", "log1p", "tanh", "abs", "withUnsafeTemporaryAllocation",
    "precondition", "String", "Bool", "print", "min", "max",
    // Names the generated code declares or uses locally.
    "forward", "parameters", "run", "trainStep", "inputCount", "a", "z", "p", "d", "e", "j", "s", "kind", "scratch",
    "out", "input", "output", "target", "loss", "learning_rate", "main", "NAN", "EOF", "errno", "M", "MATH", "stdio",
    // Not identifiers.
    "my net", "2-layer", "ünïcode", "", "a*/b", "*/", "x */ int evil; /*", "line\nbreak", "\u{202E}rtl", "emoji 🧠",
    "quote\" and \\back\\", "??/", "%s", "$0", "#if", "0", "123", "-", "é", String(repeating: "long", count: 100),
    String(repeating: "9", count: 80), "Ab" + String(repeating: "_", count: 60) + "c",
]

/// Unit names and sources that would end or nest a comment, start a new line or make a compiler
/// warn, if written into a comment as they are. Distinct, so that any run of them can name units.
let hostileCommentTexts: [String] = [
    "*/", "/*", "a*/b", "x */ int evil; /*", "line\nbreak", "cr\rreturn", "nul\u{0}byte", "\u{202E}rtl", "ls\u{2028}ps\u{2029}",
    "🧠", "ünïcode", "e\u{301}", "??/", "back\\", "\\", "//", "*", "/", "\u{FEFF}bom", "tab\t", "\"quote\"", "#error x",
    "*/*/*", "/**/", "'", "\u{85}nel", "\u{E000}private", "\u{FFFF}", "x1", "h[3]",
]

/// A small network (two inputs, two hidden units, two outputs, a skip edge) with the given
/// names and seeded parameters; its arrays are derived from one edge list so that it verifies.
func namedTestPlan(name: String, unitNames: [String], seed: UInt64) throws -> Plan {
    let roles: [UnitRole] = [.input, .input, .hidden, .hidden, .output, .output]
    let activations: [Activation] = [.identity, .identity, .tanh, .softplus, .sigmoid, .sigmoid]
    let sources: [[Int32]] = [[], [], [0, 1], [0, 1], [2, 3], [0, 2, 3]]
    var fanInStart: [Int32] = [0], fanInSource: [Int32] = []
    for unitSources in sources {
        fanInSource += unitSources
        fanInStart.append(Int32(fanInSource.count))
    }
    var fanOutStart: [Int32] = [0], fanOutTarget: [Int32] = [], fanOutParameter: [Int32] = []
    for unit in sources.indices {
        for (edge, source) in fanInSource.enumerated() where source == Int32(unit) {
            fanOutParameter.append(Int32(edge))
            fanOutTarget.append(Int32(fanInStart.lastIndex { $0 <= Int32(edge) } ?? 0))
        }
        fanOutStart.append(Int32(fanOutTarget.count))
    }
    var biasParameter = [Int32](repeating: -1, count: roles.count)
    var next = Int32(fanInSource.count)
    for unit in roles.indices where roles[unit] != .input {
        biasParameter[unit] = next
        next += 1
    }
    var generator = SeededGenerator(seed: seed)
    let plan = Plan(
        name: name, unitNames: unitNames, roles: roles, activations: activations, biasParameter: biasParameter,
        inputUnits: [0, 1], outputUnits: [4, 5], fanInStart: fanInStart, fanInSource: fanInSource,
        fanInParameter: fanInSource.indices.map(Int32.init), fanOutStart: fanOutStart, fanOutTarget: fanOutTarget,
        fanOutParameter: fanOutParameter, parameters: (0..<Int(next)).map { _ in generator.nextUniform(scale: 1) },
        loss: .binaryCrossEntropy)
    try plan.verify()
    return plan
}

/// One hostile network in one generated program: named `name`, its units and source named by
/// hostile comment texts, emitted with `train` and `layout`.
struct HostileCase {
    var name: String
    var train: Bool
    var layout: EmitOptions.Layout
    var item: Case

    init(name: String, index: Int, train: Bool, layout: EmitOptions.Layout) throws {
        self.name = name
        self.train = train
        self.layout = layout
        let count = hostileCommentTexts.count
        let units = (0..<6).map { hostileCommentTexts[(index * 5 + $0) % count] }
        let plan = try namedTestPlan(name: name, unitNames: units, seed: UInt64(index))
        // The prefix the CLI derives from the name; the emitter is handed the raw name and must
        // arrive at the same identifier itself.
        item = Case(prefix: CodeEmitter.identifier(from: name), plan: plan, layout: layout, seed: UInt64(index))
    }

    var options: EmitOptions {
        var options = EmitOptions(prefix: name)
        options.train = train
        options.layout = layout
        options.source = hostileCommentTexts[(item.inputs.count + name.utf8.count) % hostileCommentTexts.count] + ".yaml"
        return options
    }

    /// The runtime's outputs for the inputs, then (with `train`) the parameters after the steps.
    func expected() throws -> [Double] {
        if train { return try item.expected() }
        var network = try Network(plan: item.plan)
        return item.inputs.flatMap { network.predict($0) }
    }
}

/// The hostile names' distinct identifiers (names with the same identifier generate the same
/// code), as jobs packed into as few programs as possible. In C each identifier has two jobs,
/// with and without a training step, in opposite layouts; one program cannot hold two networks
/// whose macro names (upper case) are the same, such as `Double_net` and `double_net`. Swift,
/// whose compiler needs about 0.2 s per network, gets one job per identifier, taking the four
/// combinations of training step and layout in turn.
func hostilePrograms(c: Bool) throws -> [[HostileCase]] {
    var seen = Set<String>()
    var jobs: [HostileCase] = []
    for (index, name) in hostileNetworkNames.enumerated() where seen.insert(CodeEmitter.identifier(from: name)).inserted {
        let layout: EmitOptions.Layout = index % 2 == 0 ? .straightLine : .tables
        let other: EmitOptions.Layout = layout == .tables ? .straightLine : .tables
        if c {
            jobs.append(try HostileCase(name: name, index: index, train: true, layout: layout))
            jobs.append(try HostileCase(name: name, index: index, train: false, layout: other))
        } else {
            jobs.append(try HostileCase(name: name, index: index, train: (seen.count / 2) % 2 == 0, layout: seen.count % 2 == 0 ? layout : other))
        }
    }
    var programs: [[HostileCase]] = []
    var names: [Set<String>] = []
    for job in jobs {
        let name = c ? job.item.prefix.uppercased() : job.item.prefix
        if let slot = names.firstIndex(where: { !$0.contains(name) }) {
            programs[slot].append(job)
            names[slot].insert(name)
        } else {
            programs.append([job])
            names.append([name])
        }
    }
    return programs
}

/// Runs a command in `folder`, returning its standard output; records an issue with standard
/// error and returns nil when it fails. Both go to files, not pipes, and `timeout` stops the command (and the
/// processes it started) after `seconds`: a regression that makes the compiler report thousands
/// of errors, which swiftc can take many minutes to do, must fail the test, not hang it.
func runTool(_ arguments: [String], in folder: URL, seconds: Int = 240) throws -> String? {
    let outputURL = folder.appendingPathComponent("tool-output.txt"), errorURL = folder.appendingPathComponent("tool-errors.txt")
    _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
    let output = try FileHandle(forWritingTo: outputURL), errors = try FileHandle(forWritingTo: errorURL)
    defer {
        try? output.close()
        try? errors.close()
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["timeout", "-k", "10", String(seconds)] + arguments
    process.currentDirectoryURL = folder
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    process.waitUntilExit()
    let command = arguments.prefix(3).joined(separator: " ")
    switch process.terminationStatus {
    case 0:
        return (try? String(contentsOf: outputURL, encoding: .utf8)) ?? ""
    case 124, 137:
        Issue.record("\(command) did not finish in \(seconds) s")
    default:
        let errorText = (try? String(contentsOf: errorURL, encoding: .utf8)) ?? ""
        Issue.record("\(command) failed (status \(process.terminationStatus)):\n\(errorText.prefix(4000))")
    }
    return nil
}

/// Compares printed numbers, one per line, with the runtime's, case by case.
func compareHostile(_ output: String, _ cases: [HostileCase], language: String) throws {
    var lines = output.split(separator: "\n").makeIterator()
    for job in cases {
        let forwardCount = job.item.inputs.count * job.item.plan.outputUnits.count
        for (index, value) in try job.expected().enumerated() {
            guard let line = lines.next(), let actual = Double(line) else {
                Issue.record("\(language) \(job.item.prefix): output ended early")
                return
            }
            let tolerance = index < forwardCount ? 1e-12 : 1e-9
            #expect(abs(actual - value) <= tolerance * max(1, abs(value)),
                    "\(language) \(job.item.prefix) (train \(job.train), \(job.layout)) value \(index): generated \(actual), runtime \(value)")
        }
    }
    #expect(lines.next() == nil, "\(language): more output than expected")
}

@Suite("names in generated code", .serialized)
struct HostileNameTests {
    @Test("every name becomes an identifier valid in C and Swift that nothing reserves, unchanged when already one")
    func identifiers() {
        let ordinary = ["xor", "adder", "iris", "n_digits_t", "Net2", "my_net", "x1", "A", "set", "some", "left"]
        for name in ordinary {
            #expect(CodeEmitter.identifier(from: name) == name)
            #expect(CodeEmitter.problem(withPrefix: name) == nil)
        }
        for name in hostileNetworkNames + hostileCommentTexts {
            let identifier = CodeEmitter.identifier(from: name)
            let bytes = Array(identifier.utf8)
            let isLetter = { (b: UInt8) in (b >= 65 && b <= 90) || (b >= 97 && b <= 122) }
            #expect(bytes.first.map(isLetter) == true, "\(identifier.debugDescription) must start with a letter")
            #expect(bytes.allSatisfy { isLetter($0) || ($0 >= 48 && $0 <= 57) || $0 == 95 }, "\(identifier.debugDescription)")
            #expect(!identifier.contains("__") && !identifier.hasSuffix("_"), "\(identifier.debugDescription)")
            #expect(bytes.count <= CodeEmitter.maximumPrefixLength)
            #expect(CodeEmitter.identifier(from: identifier) == identifier, "not idempotent on \(name.debugDescription)")
            #expect(CodeEmitter.problem(withPrefix: identifier) == nil, "\(identifier.debugDescription) refused")
            // A prefix is accepted exactly when it would be used unchanged.
            #expect((CodeEmitter.problem(withPrefix: name) == nil) == (identifier == name), "\(name.debugDescription)")
        }
        #expect(CodeEmitter.identifier(from: "in") == "in_net")
        #expect(CodeEmitter.identifier(from: "Double") == "Double_net")
        #expect(CodeEmitter.identifier(from: "my net") == "my_net")
        #expect(CodeEmitter.identifier(from: "2-layer") == "net_2_layer")
        #expect(CodeEmitter.identifier(from: "ünïcode") == "n_code")
        #expect(CodeEmitter.identifier(from: "") == "net")
        #expect(CodeEmitter.identifier(from: "a*/b") == "a_b")
        #expect(CodeEmitter.identifier(from: "__x") == "x")
    }

    @Test("a refused prefix gets a message that says why and suggests the identifier")
    func problems() throws {
        let cases: [(String, String)] = [
            ("in", "Swift keyword"), ("int", "C keyword"), ("for", "both Swift and C"), ("Double", "shadow"),
            ("my net", "not an identifier"), ("2x", "digit"), ("_x", "starts with _"), ("a__b", "C++"), ("x_", "x__forward"),
            ("", "empty"), (String(repeating: "a", count: 46), "longer than 45"),
        ]
        for (prefix, reason) in cases {
            let message = try #require(CodeEmitter.problem(withPrefix: prefix), "\(prefix.debugDescription) accepted")
            #expect(message.contains(reason), "\(message)")
            #expect(message.contains("'\(CodeEmitter.identifier(from: prefix))'"), "\(message)")
        }
        let message = try #require(CodeEmitter.problem(withPrefix: "a\nb\u{202E}" + String(repeating: "x", count: 100)))
        #expect(!message.contains("\n") && !message.contains("\u{202E}") && message.count < 400, "\(message)")
    }

    @Test("text written into comments can neither close, open nor leave the comment, and ordinary text stays as it is")
    func commentTexts() {
        for text in ["xor", "x1->h[3]", "h.bias", "specs/xor.yaml", "a * b / c", "*", "/", "\\x", "??"] {
            #expect(CodeEmitter.commentText(text) == text)
        }
        #expect(CodeEmitter.commentText("a*/b") == "a*\\u{2F}b")
        #expect(CodeEmitter.commentText("/*/") == "/\\u{2A}/")
        #expect(CodeEmitter.commentText("line\nbreak\r") == "line\\u{A}break\\u{D}")
        #expect(CodeEmitter.commentText("\u{202E}x\u{2028}") == "\\u{202E}x\\u{2028}")
        #expect(CodeEmitter.commentText("ünïcode 🧠") == "ünïcode 🧠")
        #expect(CodeEmitter.commentText("end\\") == "end\\u{5C}")
        #expect(CodeEmitter.commentText("end??/") == "end??\\u{2F}")
        for text in hostileCommentTexts {
            let safe = CodeEmitter.commentText(text)
            #expect(!safe.contains("*/") && !safe.contains("/*") && !safe.hasSuffix("\\") && !safe.hasSuffix("??/"), "\(safe)")
            #expect(safe.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F && $0.properties.generalCategory != .format }, "\(safe)")
        }
    }

    @Test("the emitters sanitize a bad prefix themselves and keep names from ending or nesting comments")
    func generatorsSanitize() throws {
        for (index, name) in hostileNetworkNames.enumerated() {
            let plan = try namedTestPlan(name: name, unitNames: (0..<6).map { hostileCommentTexts[(index + $0) % hostileCommentTexts.count] }, seed: 1)
            var raw = EmitOptions(prefix: name)
            raw.train = true
            raw.source = "a */ b /* c\nd"
            var clean = raw
            clean.prefix = CodeEmitter.identifier(from: name)
            #expect(CodeEmitter.c(plan, options: raw) == CodeEmitter.c(plan, options: clean))
            #expect(CodeEmitter.swift(plan, options: raw) == CodeEmitter.swift(plan, options: clean))
        }
        let plan = try namedTestPlan(name: "n", unitNames: ["*/", "/*", "a\nb", "c\rd", "\u{202E}", "ok"], seed: 1)
        var options = EmitOptions(prefix: "n")
        options.train = true
        options.source = "s */ t\n"
        for text in [CodeEmitter.c(plan, options: options), CodeEmitter.swift(plan, options: options)] {
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                // Every comment our emitter opens on a line closes on it or is a header line;
                // no name adds a comment delimiter or a line break.
                let opens = line.components(separatedBy: "/*").count - 1, closes = line.components(separatedBy: "*/").count - 1
                #expect(opens == closes || line == "/*" || line == " */", "\(line)")
                #expect(!line.contains("\r") && !line.contains("\u{202E}"), "\(line)")
            }
        }
    }

    @Test("the longest prefix keeps every generated C name within the 63 characters C99 makes significant")
    func longestPrefix() throws {
        let prefix = CodeEmitter.identifier(from: String(repeating: "x", count: 1000))
        #expect(prefix.utf8.count == CodeEmitter.maximumPrefixLength)
        let plan = try namedTestPlan(name: prefix, unitNames: ["a", "b", "c", "d", "e", "f"], seed: 1)
        var options = EmitOptions(prefix: prefix)
        options.train = true
        options.layout = .tables
        let text = CodeEmitter.c(plan, options: options)
        var longest = 0, word = 0
        for byte in text.utf8 {
            let part = (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || (byte >= 48 && byte <= 57) || byte == 95
            word = part ? word + 1 : 0
            longest = max(longest, word)
        }
        #expect(longest <= 63)
        #expect(text.contains("\(prefix)_fan_out_parameter"))
    }

    @Test("generated C for hostile names compiles warning-free and matches the runtime, with and without training")
    func cCompiles() throws {
        for (number, program) in try hostilePrograms(c: true).enumerated() {
            let folder = try temporaryFolder("hostile-c")
            defer { try? FileManager.default.removeItem(at: folder) }
            var main = "#include <stdio.h>\n"
            for job in program {
                try CodeEmitter.c(job.item.plan, options: job.options).write(to: folder.appendingPathComponent("\(job.item.prefix).h"), atomically: true, encoding: .utf8)
                main += "#include \"\(job.item.prefix).h\"\n"
            }
            main += "static void show(const double *v, int n) { int i; for (i = 0; i < n; ++i) printf(\"%.17g\\n\", v[i]); }\n"
            main += "int main(void) {\n"
            for job in program {
                let p = job.item.prefix, upper = p.uppercased()
                main += "    {\n        double out[\(upper)_OUTPUTS];\n"
                for input in job.item.inputs {
                    main += "        { static const double in[] = {\(literal(input))}; \(p)_forward(in, out); show(out, \(upper)_OUTPUTS); }\n"
                }
                if job.train {
                    main += "        double params[\(upper)_PARAMETERS];\n        int i;\n"
                    main += "        for (i = 0; i < \(upper)_PARAMETERS; ++i) params[i] = \(p)_parameters[i];\n"
                    for step in job.item.steps {
                        main += "        { static const double in[] = {\(literal(step.input))}; static const double t[] = {\(literal(step.target))}; \(p)_train_step(params, in, t, \(job.item.learningRate)); }\n"
                    }
                    main += "        show(params, \(upper)_PARAMETERS);\n"
                }
                main += "    }\n"
            }
            main += "    return 0;\n}\n"
            try main.write(to: folder.appendingPathComponent("main.c"), atomically: true, encoding: .utf8)
            guard try runTool(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "main.c", "-o", "main", "-lm"], in: folder) != nil,
                  let output = try runTool(["./main"], in: folder) else { continue }
            try compareHostile(output, program, language: "C program \(number)")
        }
    }

    @Test("generated Swift for hostile names compiles and matches the runtime, with and without training")
    func swiftCompiles() throws {
        let programs = try hostilePrograms(c: false)
        #expect(programs.count == 1)
        let variants = Set(programs.joined().map { "\($0.train) \($0.layout)" })
        #expect(variants.count == 4, "\(variants)")
        for (number, program) in programs.enumerated() {
            let folder = try temporaryFolder("hostile-swift")
            defer { try? FileManager.default.removeItem(at: folder) }
            // The enums share main's module: it uses only `print` and names no test network takes.
            var main = ""
            var files = ["main.swift"]
            for job in program {
                let p = job.item.prefix
                // `network_` keeps a network named `main` from taking main.swift's file name.
                try CodeEmitter.swift(job.item.plan, options: job.options).write(to: folder.appendingPathComponent("network_\(p).swift"), atomically: true, encoding: .utf8)
                files.append("network_\(p).swift")
                for input in job.item.inputs { main += "for value in \(p).forward([\(literal(input))]) { print(value) }\n" }
                guard job.train else { continue }
                main += "do {\n    var values = \(p).parameters\n"
                for step in job.item.steps {
                    main += "    _ = \(p).trainStep(parameters: &values, input: [\(literal(step.input))], target: [\(literal(step.target))], learningRate: \(job.item.learningRate))\n"
                }
                main += "    for value in values { print(value) }\n}\n"
            }
            try main.write(to: folder.appendingPathComponent("main.swift"), atomically: true, encoding: .utf8)
            guard try runTool(["swiftc", "-Onone", "-wmo", "-warnings-as-errors"] + files + ["-o", "main"], in: folder) != nil,
                  let output = try runTool(["./main"], in: folder) else { continue }
            try compareHostile(output, program, language: "Swift program \(number)")
        }
    }
}
