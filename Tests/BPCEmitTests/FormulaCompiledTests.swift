import BPC
import Foundation
import Testing

/// Activation inputs for compiled formulas: zeros, extreme magnitudes, infinities, NaN, the
/// points where exp over- and underflows, and a sweep.
private let grid: [Double] = {
    var grid: [Double] = [0, -0.0, .nan, .infinity, -.infinity]
    let magnitudes: [Double] = [
        .leastNonzeroMagnitude, .leastNormalMagnitude, 1e-300, .ulpOfOne, 1e-8, 0.01, 0.5, 1, 2, 3, 10, 19, 20, 36,
        37, 40, 100, 709.78, 710, 745, 746, 800, 1e300, .greatestFiniteMagnitude,
    ]
    for m in magnitudes { grid += [m, -m] }
    for step in 0...216 { grid.append(-40 + Double(step) * 0.37) }
    var generator = SeededGenerator(seed: 3)
    for _ in 0..<100 { grid.append(generator.nextUniform(scale: 12)) }
    return grid
}()

/// Every activation's value and derivative at every grid point, as the runtime computes them:
/// per point, per activation, the bit patterns of z and h'(a, z).
private func runtimeBits() -> [UInt64] {
    grid.flatMap { a in
        Activation.allCases.flatMap { activation -> [UInt64] in
            let z = activation.value(a)
            return [z.bitPattern, activation.derivative(a: a, z: z).bitPattern]
        }
    }
}

/// The program's output (hex bit patterns, whitespace-separated) against the runtime's bits;
/// NaNs match any NaN (the grid holds NaN and silu makes some: -inf * 0).
private func compareBits(_ output: String, language: String) {
    let actual = output.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { UInt64($0, radix: 16) }
    let expected = runtimeBits()
    #expect(actual.count == expected.count, "\(language): \(actual.count) numbers for \(expected.count)")
    let perPoint = 2 * Activation.allCases.count
    var mismatches = 0
    for (index, (bits, want)) in zip(actual, expected).enumerated() {
        guard let bits else {
            Issue.record("\(language): unreadable number \(index)")
            return
        }
        let got = Double(bitPattern: bits), runtime = Double(bitPattern: want)
        if bits == want || (got.isNaN && runtime.isNaN) { continue }
        let activation = Activation.allCases[(index % perPoint) / 2]
        Issue.record("\(language) \(activation) \(index % 2 == 0 ? "value" : "derivative") at \(grid[index / perPoint]): \(got), runtime \(runtime)")
        mismatches += 1
        // A wrong formula differs almost everywhere; the first few say which.
        if mismatches == 20 { return }
    }
}

private var gridInput: String { grid.map { String($0.bitPattern, radix: 16) }.joined(separator: "\n") + "\n" }

@Suite("formulas compiled", .serialized)
struct FormulaCompiledTests {
    static let cMath = MathSpelling(exp: "exp", log: "log", log1p: "log1p", tanh: "tanh", abs: "fabs", sqrt: "sqrt",
                                    literal: { $0.description.contains(".") || $0.description.contains("e") ? $0.description : $0.description + ".0" })
    static let swiftMath = MathSpelling(exp: "exp", log: "log", log1p: "log1p", tanh: "tanh", abs: "abs", sqrt: "sqrt",
                                        literal: cMath.literal)

    @Test("every activation rendered as C, compiled with cc -O2, gives the runtime's values and derivatives bit for bit")
    func cActivations() throws {
        let folder = try temporaryFolder("formulas-c")
        defer { try? FileManager.default.removeItem(at: folder) }
        var program = "#include <math.h>\n#include <stdio.h>\n#include <string.h>\n"
        program += "static unsigned long long bits(double x) { unsigned long long b; memcpy(&b, &x, sizeof b); return b; }\n"
        for (index, activation) in Activation.allCases.enumerated() {
            program += "static double value\(index)(double a) { return \(activation.valueCode("a", Self.cMath)); }\n"
            program += "static double derivative\(index)(double a, double z) { (void)a; (void)z; return \(activation.derivativeCode("a", "z", Self.cMath)); }\n"
        }
        program += "int main(void) {\n    unsigned long long input;\n    while (scanf(\"%llx\", &input) == 1) {\n"
        program += "        double a, z;\n        memcpy(&a, &input, sizeof a);\n"
        for index in Activation.allCases.indices {
            program += "        z = value\(index)(a);\n        printf(\"%llx %llx\\n\", bits(z), bits(derivative\(index)(a, z)));\n"
        }
        program += "    }\n    return 0;\n}\n"
        try program.write(to: folder.appendingPathComponent("main.c"), atomically: true, encoding: .utf8)
        try gridInput.write(to: folder.appendingPathComponent("grid.txt"), atomically: true, encoding: .utf8)
        _ = try run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "main.c", "-o", "main", "-lm"], in: folder)
        compareBits(try run(["sh", "-c", "./main < grid.txt"], in: folder), language: "C")
    }

    @Test("every activation rendered as Swift, compiled with swiftc -O, gives the runtime's values and derivatives bit for bit")
    func swiftActivations() throws {
        let folder = try temporaryFolder("formulas-swift")
        defer { try? FileManager.default.removeItem(at: folder) }
        var program = "#if canImport(Glibc)\nimport Glibc\n#elseif canImport(Darwin)\nimport Darwin\n#endif\n"
        for (index, activation) in Activation.allCases.enumerated() {
            program += "func value\(index)(_ a: Double) -> Double { return \(activation.valueCode("a", Self.swiftMath)) }\n"
            program += "func derivative\(index)(_ a: Double, _ z: Double) -> Double { return \(activation.derivativeCode("a", "z", Self.swiftMath)) }\n"
        }
        program += "while let line = readLine() {\n    guard let input = UInt64(line, radix: 16) else { continue }\n"
        program += "    let a = Double(bitPattern: input)\n"
        for index in Activation.allCases.indices {
            program += "    do { let z = value\(index)(a); print(String(z.bitPattern, radix: 16), String(derivative\(index)(a, z).bitPattern, radix: 16)) }\n"
        }
        program += "}\n"
        try program.write(to: folder.appendingPathComponent("main.swift"), atomically: true, encoding: .utf8)
        try gridInput.write(to: folder.appendingPathComponent("grid.txt"), atomically: true, encoding: .utf8)
        _ = try run(["swiftc", "-O", "main.swift", "-o", "main"], in: folder)
        compareBits(try run(["sh", "-c", "./main < grid.txt"], in: folder), language: "Swift")
    }
}
