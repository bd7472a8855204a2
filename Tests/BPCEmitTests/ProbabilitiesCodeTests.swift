import BPC
@testable import BPCEmit
import Foundation
import Testing

// Generated code for a softmax cross-entropy network has `probabilities`, which turns the
// outputs (logits) into the class probabilities `bpc predict` shows. These tests compile it in
// both languages and precisions and hold it to `Prediction`'s softmax: bit for bit in binary64,
// to 1e-6 relative in binary32. Numbers travel as hexadecimal bit patterns through standard
// input and output, so that no compiler can fold a logit into a constant and nothing is lost in
// printing.

/// Logits `Prediction.softmax` treats specially or that break a naive softmax, each `count`
/// long: equal logits, logits whose exponentials overflow or underflow unshifted, differences
/// that overflow, subnormal and vanishing exponentials, infinities (one, several, all),
/// NaNs, signed zeros, and a seeded sweep.
func hostileLogits(count n: Int) -> [[Double]] {
    func filled(_ head: [Double], _ rest: Double) -> [Double] { Array((head + Array(repeating: rest, count: n)).prefix(n)) }
    let huge = Double.greatestFiniteMagnitude
    var logits: [[Double]] = [
        filled([], 0), filled([], 7.25), filled([], -1e300), filled([], 1e300),
        filled([1e308, -1e308], 0), filled([huge, huge], -huge), filled([-huge, huge], -huge),
        filled([800, 799.5], -800), filled([-800, -800.5], -1000), filled([710, 709], 708),
        filled([0, -745.1, -708.4, -744], -20), filled([0, -1e-300], -36.7), filled([88.7, 0], -103.9),
        filled([3, -.infinity], 1), filled([.infinity, 1], -2), filled([-5, .infinity, .infinity], 0),
        filled([2, .infinity, .nan], .infinity), filled([-.infinity], .infinity), filled([], .infinity),
        filled([], -.infinity), filled([.nan, 1], 2), filled([1, .nan], 2), filled([-.infinity, .nan], .infinity),
        filled([-0.0, 0.0], -0.0), filled([0.0, -0.0], 0.0),
    ]
    var generator = SeededGenerator(seed: 17)
    for scale in [1.0, 30, 1e4] {
        for _ in 0..<3 { logits.append((0..<n).map { _ in generator.nextUniform(scale: scale) }) }
    }
    return logits
}

/// One network in the generated programs: its forward pass on `inputs` followed by
/// `probabilities`, then `probabilities` in place on each of `logits`.
private struct ProbabilityCase {
    var prefix: String
    var model: Model
    var single: Bool
    var inputs: [[Double]]
    var logits: [[Double]]

    init(prefix: String, model: Model, single: Bool, seed: UInt64) {
        self.prefix = prefix
        self.model = model
        self.single = single
        let inputCount = model.plan.inputUnits.count
        var generator = SeededGenerator(seed: seed)
        // Training samples (raw, as the generated code and `predict` take them), then random
        // inputs, some large enough to saturate the hidden units.
        var inputs: [[Double]] = []
        if let data = model.trainingData {
            for sample in 0..<min(3, data.count) { inputs.append(Array(data.input(sample))) }
        }
        for scale in [1.5, 1.5, 40] { inputs.append((0..<inputCount).map { _ in generator.nextUniform(scale: scale) }) }
        // binary32 programs get the numbers already rounded to binary32, as the reference does.
        let rounded = { (values: [Double]) in single ? values.map { Double(Float($0)) } : values }
        self.inputs = inputs.map(rounded)
        logits = hostileLogits(count: model.plan.outputUnits.count).map(rounded)
    }

    var options: EmitOptions {
        var options = EmitOptions(prefix: prefix)
        options.singlePrecision = single
        return options
    }

    /// The numbers the program reads, in order.
    var stream: [Double] { inputs.flatMap { $0 } + logits.flatMap { $0 } }
}

/// The softmax networks in specs/ in binary64 and binary32, and iris again under prefixes that
/// name the generated function's locals and what it uses (each case is in both programs).
private func probabilityCases() throws -> [ProbabilityCase] {
    let specs = try loadedSpecs().filter { $0.model.plan.loss == .softmaxCrossEntropy }
    #expect(specs.count >= 3, "specs/ has iris, iris-labelled and digits with softmax cross-entropy")
    var cases: [ProbabilityCase] = []
    for (index, (file, model)) in specs.enumerated() {
        let name = String(file.replacingOccurrences(of: ".yaml", with: "").map { $0.isLetter || $0.isNumber ? $0 : "_" })
        cases.append(ProbabilityCase(prefix: "\(name)_d", model: model, single: false, seed: UInt64(index)))
        cases.append(ProbabilityCase(prefix: "\(name)_f", model: model, single: true, seed: UInt64(index)))
    }
    let iris = try #require(specs.first { $0.file == "iris.yaml" }).model
    for (index, prefix) in ["largest", "sum", "top", "o", "outputs", "probabilities", "INFINITY"].enumerated() {
        #expect(CodeEmitter.identifier(from: prefix) == prefix)
        cases.append(ProbabilityCase(prefix: prefix, model: iris, single: index % 2 == 1, seed: UInt64(100 + index)))
    }
    return cases
}

/// Whether a generated probability is the reference's: the same bits in binary64 (any NaN for
/// a NaN); in binary32 within 1e-6 relative, or below binary32's normal range where the
/// reference is (a probability binary32 cannot hold to relative accuracy).
///
/// In binary32 the bound is 1e-6 relative times `gap`, max(1, max a - a_o): binary32 rounds the
/// exponent a_o - max a to 2^-24 relative, and e^x magnifies an error in x by |x| relative, so
/// a class 57 below the largest logit (p near 1e-25) is only good to about 3e-6 in any binary32
/// softmax. Within 1 of the largest, where every probability that matters is, it is 1e-6.
private func agrees(_ actual: Double, _ expected: Double, single: Bool, gap: Double = 1) -> Bool {
    if actual.isNaN || expected.isNaN { return actual.isNaN && expected.isNaN }
    if !single { return actual.bitPattern == expected.bitPattern }
    let error = abs(actual - expected)
    return error <= 1e-6 * max(1, gap) * abs(expected) || error < Double(Float.leastNormalMagnitude)
}

/// Each logit's distance below the largest (1 where that is not a finite number).
private func gaps(_ logits: [Double]) -> [Double] {
    let largest = logits.max() ?? 0
    return logits.map { largest - $0 }.map { $0.isFinite ? $0 : 1 }
}

/// The program's output (one hexadecimal bit pattern per line) against the reference: for each
/// input the outputs (`Model.prediction(for:)`'s to the bit in binary64) and their
/// probabilities (`Prediction`'s of those outputs, which in binary64 are then
/// `Model.prediction(for:).probabilities`); for each hostile vector its probabilities.
private func compare(_ output: String, _ cases: [ProbabilityCase], language: String) throws {
    var numbers = output.split(separator: "\n").makeIterator()
    func next(_ count: Int) -> [Double]? {
        var values: [Double] = []
        for _ in 0..<count {
            guard let line = numbers.next(), let bits = UInt64(line, radix: 16) else { return nil }
            values.append(Double(bitPattern: bits))
        }
        return values
    }
    var mismatches = 0
    func check(_ actual: [Double], _ expected: [Double], single: Bool, of logits: [Double], _ what: @autoclosure () -> String) {
        #expect(actual.count == expected.count)
        let agreeing = zip(zip(actual, expected), gaps(logits)).allSatisfy { agrees($0.0, $0.1, single: single, gap: $1) }
        guard mismatches < 20, !agreeing else { return }
        mismatches += 1
        Issue.record("\(language) \(what()): generated \(actual), reference \(expected)")
    }
    for item in cases {
        let outputCount = item.model.plan.outputUnits.count
        let kind = "\(item.prefix) (\(item.single ? "binary32" : "binary64"))"
        for input in item.inputs {
            guard let outputs = next(outputCount), let probabilities = next(outputCount) else {
                Issue.record("\(language) \(kind): output ended early")
                return
            }
            let prediction = try item.model.prediction(for: input)
            if item.single {
                for (a, e) in zip(outputs, prediction.outputs) {
                    #expect(abs(a - e) <= 1e-4 * max(1, abs(e)), "\(language) \(kind) output \(a), runtime \(e)")
                }
            } else {
                check(outputs, prediction.outputs, single: false, of: outputs, "\(kind) outputs of \(input)")
            }
            let reference = Prediction(input: input, outputs: outputs, loss: item.model.plan.loss, classNames: item.model.classNames)
            check(probabilities, try #require(reference.probabilities), single: item.single, of: outputs, "\(kind) probabilities of outputs \(outputs)")
        }
        for logits in item.logits {
            guard let probabilities = next(outputCount) else {
                Issue.record("\(language) \(kind): output ended early")
                return
            }
            let reference = Prediction(input: [], outputs: logits, loss: .softmaxCrossEntropy, classNames: [])
            check(probabilities, try #require(reference.probabilities), single: item.single, of: logits, "\(kind) probabilities of logits \(logits)")
        }
    }
    #expect(numbers.next() == nil, "\(language): more output than expected")
}

private func streamText(_ cases: [ProbabilityCase]) -> String {
    cases.flatMap(\.stream).map { String($0.bitPattern, radix: 16) }.joined(separator: "\n") + "\n"
}

@Suite("generated probabilities", .serialized)
struct ProbabilitiesCodeTests {
    @Test("generated C's probabilities are Prediction's softmax of the outputs: bit for bit in binary64, to 1e-6 relative (times the logit gap) in binary32")
    func cProbabilities() throws {
        let folder = try temporaryFolder("probabilities-c")
        defer { try? FileManager.default.removeItem(at: folder) }
        let cases = try probabilityCases()
        var program = "#include <stdio.h>\n#include <string.h>\n"
        for item in cases {
            try item.model.emit(.c, options: item.options).write(to: folder.appendingPathComponent("\(item.prefix).h"), atomically: true, encoding: .utf8)
            program += "#include \"\(item.prefix).h\"\n"
        }
        program += """
            static double next(void) { unsigned long long b = 0; double x; if (scanf("%llx", &b) != 1) { b = 0; } memcpy(&x, &b, sizeof x); return x; }
            static void show(double x) { unsigned long long b; memcpy(&b, &x, sizeof b); printf("%llx\\n", b); }
            int main(void) {

            """
        for item in cases {
            let p = item.prefix, upper = item.prefix.uppercased()
            program += """
                    {
                        \(p)_real in[\(upper)_INPUTS], out[\(upper)_OUTPUTS], p[\(upper)_OUTPUTS];
                        int s, i;
                        for (s = 0; s < \(item.inputs.count); ++s) {
                            for (i = 0; i < \(upper)_INPUTS; ++i) { in[i] = (\(p)_real)next(); }
                            \(p)_forward(in, out);
                            \(p)_probabilities(out, p);
                            for (i = 0; i < \(upper)_OUTPUTS; ++i) { show(out[i]); }
                            for (i = 0; i < \(upper)_OUTPUTS; ++i) { show(p[i]); }
                        }
                        for (s = 0; s < \(item.logits.count); ++s) {
                            for (i = 0; i < \(upper)_OUTPUTS; ++i) { out[i] = (\(p)_real)next(); }
                            \(p)_probabilities(out, out);
                            for (i = 0; i < \(upper)_OUTPUTS; ++i) { show(out[i]); }
                        }
                    }

                """
        }
        program += "    return 0;\n}\n"
        try program.write(to: folder.appendingPathComponent("main.c"), atomically: true, encoding: .utf8)
        try streamText(cases).write(to: folder.appendingPathComponent("numbers.txt"), atomically: true, encoding: .utf8)
        _ = try run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "main.c", "-o", "main", "-lm"], in: folder)
        try compare(try run(["sh", "-c", "./main < numbers.txt"], in: folder), cases, language: "C")
    }

    @Test("generated Swift's probabilities are Prediction's softmax of the outputs: bit for bit in binary64, to 1e-6 relative (times the logit gap) in binary32")
    func swiftProbabilities() throws {
        let folder = try temporaryFolder("probabilities-swift")
        defer { try? FileManager.default.removeItem(at: folder) }
        let cases = try probabilityCases()
        var files = ["main.swift"]
        var program = """
            var numbers: [Double] = []
            while let line = readLine() { if let bits = UInt64(line, radix: 16) { numbers.append(Double(bitPattern: bits)) } }
            var cursor = 0
            func next() -> Double { cursor += 1; return numbers[cursor - 1] }
            func show(_ x: Double) { print(String(x.bitPattern, radix: 16)) }

            """
        for item in cases {
            try item.model.emit(.swift, options: item.options).write(to: folder.appendingPathComponent("\(item.prefix).swift"), atomically: true, encoding: .utf8)
            files.append("\(item.prefix).swift")
            let p = item.prefix, real = item.single ? "Float" : "Double"
            program += """
                for _ in 0..<\(item.inputs.count) {
                    let out = \(p).forward((0..<\(p).inputCount).map { _ in \(real)(next()) })
                    for value in out + \(p).probabilities(out) { show(Double(value)) }
                }
                for _ in 0..<\(item.logits.count) {
                    var logits = (0..<\(p).outputCount).map { _ in \(real)(next()) }
                    logits.withUnsafeMutableBufferPointer { \(p).probabilities(UnsafePointer($0.baseAddress!), $0.baseAddress!) }
                    for value in logits { show(Double(value)) }
                }

                """
        }
        try program.write(to: folder.appendingPathComponent("main.swift"), atomically: true, encoding: .utf8)
        try streamText(cases).write(to: folder.appendingPathComponent("numbers.txt"), atomically: true, encoding: .utf8)
        _ = try run(["swiftc", "-Onone", "-warnings-as-errors"] + files + ["-o", "main"], in: folder)
        try compare(try run(["sh", "-c", "./main < numbers.txt"], in: folder), cases, language: "Swift")
    }

    @Test("only softmax cross-entropy networks get probabilities, and their header comment names it")
    func onlySoftmax() throws {
        for (file, model) in try loadedSpecs() {
            let options = EmitOptions(prefix: "net")
            let c = model.emit(.c, options: options), swift = model.emit(.swift, options: options)
            if model.plan.loss == .softmaxCrossEntropy {
                #expect(c.contains("static inline void net_probabilities(const double *out, double *p) {"), "\(file)")
                #expect(c.contains("as bpc predict shows them (net_probabilities(out, p) computes them)"), "\(file)")
                #expect(swift.contains("public static func probabilities(_ out: UnsafePointer<Double>, _ p: UnsafeMutablePointer<Double>) {"), "\(file)")
                #expect(swift.contains("public static func probabilities(_ outputs: [Double]) -> [Double] {"), "\(file)")
                #expect(swift.contains("as bpc predict shows them (net.probabilities(_:) computes them)"), "\(file)")
            } else {
                #expect(!c.contains("probabilities"), "\(file): \(model.plan.loss.name) has no logits to turn into probabilities")
                #expect(!swift.contains("probabilities"), "\(file): \(model.plan.loss.name) has no logits to turn into probabilities")
            }
        }
    }
}
