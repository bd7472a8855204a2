import BPCPlan
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The formulas as they were written before `FormulaValue`: closed forms on Double and the
// emitters' text, kept here verbatim as the oracles the generic definitions must reproduce.
enum OldFormulas {
    static func logistic(_ a: Double) -> Double {
        if a >= 0 {
            return 1 / (1 + exp(-a))
        }
        let e = exp(a)
        return e / (1 + e)
    }

    static func softplus(_ a: Double) -> Double {
        (a > 0 ? a : 0) + log1p(exp(-abs(a)))
    }

    static func value(_ activation: Activation, _ a: Double) -> Double {
        switch activation {
        case .identity: return a
        case .sigmoid: return logistic(a)
        case .tanh: return tanh(a)
        case .relu: return a > 0 ? a : 0
        case .leakyReLU: return a > 0 ? a : 0.01 * a
        case .softplus: return softplus(a)
        case .silu: return a * logistic(a)
        }
    }

    static func derivative(_ activation: Activation, a: Double, z: Double) -> Double {
        switch activation {
        case .identity: return 1
        case .sigmoid: return z * (1 - z)
        case .tanh: return 1 - z * z
        case .relu: return a > 0 ? 1 : 0
        case .leakyReLU: return a > 0 ? 1 : 0.01
        case .softplus: return logistic(a)
        case .silu:
            let s = logistic(a)
            return s * (1 + a * (1 - s))
        }
    }

    static func evaluate(_ lossKind: Loss, a: [Double], z: [Double], target: [Double], activations: [Activation], outputDelta: inout [Double]) -> Double {
        let n = a.count
        var loss = 0.0
        switch lossKind {
        case .halfSquaredError, .meanSquaredError:
            let scale = lossKind == .halfSquaredError ? 0.5 : 1.0 / Double(n)
            let gradientScale = 2 * scale
            for o in 0..<n {
                let difference = z[o] - target[o]
                loss += difference * difference
                outputDelta[o] = gradientScale * difference * derivative(activations[o], a: a[o], z: z[o])
            }
            loss *= scale
        case .binaryCrossEntropy:
            for o in 0..<n {
                let t = target[o], x = a[o], shared = log1p(exp(-abs(x)))
                loss += t * ((-x > 0 ? -x : 0) + shared) + (1 - t) * ((x > 0 ? x : 0) + shared)
                outputDelta[o] = z[o] - t
            }
        case .softmaxCrossEntropy:
            var largest = -Double.infinity
            for o in 0..<n where a[o] > largest { largest = a[o] }
            var sum = 0.0
            for o in 0..<n {
                outputDelta[o] = exp(a[o] - largest)
                sum += outputDelta[o]
            }
            let logSumExp = largest + log(sum)
            var targetSum = 0.0
            for o in 0..<n { targetSum += target[o] }
            for o in 0..<n {
                let t = target[o]
                if t != 0 { loss += t * (logSumExp - a[o]) }
                outputDelta[o] = outputDelta[o] / sum * targetSum - t
            }
        }
        return loss
    }

    static func logisticCode(_ a: String, _ m: MathSpelling) -> String {
        let zero = m.literal(0), one = m.literal(1)
        return "(\(a) >= \(zero) ? \(one) / (\(one) + \(m.exp)(-\(a))) : \(m.exp)(\(a)) / (\(one) + \(m.exp)(\(a))))"
    }

    static func valueCode(_ activation: Activation, _ a: String, _ m: MathSpelling) -> String {
        let zero = m.literal(0)
        switch activation {
        case .identity: return a
        case .sigmoid: return logisticCode(a, m)
        case .tanh: return "\(m.tanh)(\(a))"
        case .relu: return "(\(a) > \(zero) ? \(a) : \(zero))"
        case .leakyReLU: return "(\(a) > \(zero) ? \(a) : \(m.literal(Activation.leakySlope)) * \(a))"
        case .softplus: return "((\(a) > \(zero) ? \(a) : \(zero)) + \(m.log1p)(\(m.exp)(-\(m.abs)(\(a)))))"
        case .silu: return "(\(a) * \(logisticCode(a, m)))"
        }
    }

    static func derivativeCode(_ activation: Activation, _ a: String, _ z: String, _ m: MathSpelling) -> String {
        let zero = m.literal(0), one = m.literal(1)
        switch activation {
        case .identity: return one
        case .sigmoid: return "(\(z) * (\(one) - \(z)))"
        case .tanh: return "(\(one) - \(z) * \(z))"
        case .relu: return "(\(a) > \(zero) ? \(one) : \(zero))"
        case .leakyReLU: return "(\(a) > \(zero) ? \(one) : \(m.literal(Activation.leakySlope)))"
        case .softplus: return logisticCode(a, m)
        case .silu:
            let s = logisticCode(a, m)
            return "(\(s) * (\(one) + \(a) * (\(one) - \(s))))"
        }
    }

    /// The old `Loss.code` for the losses whose text is unchanged (softmax's is not: see
    /// `softmaxCode`).
    static func lossCode(_ lossKind: Loss, outputs: [OutputCode], loss: String, math m: MathSpelling,
                         declare: (String, String, Bool) -> String) -> [String] {
        let one = m.literal(1)
        var lines: [String] = []
        switch lossKind {
        case .halfSquaredError, .meanSquaredError:
            let scale = lossKind == .halfSquaredError ? m.literal(0.5) : "(\(one) / \(m.literal(Double(outputs.count))))"
            lines.append(declare("loss_scale", scale, false))
            for (k, o) in outputs.enumerated() {
                lines.append(declare("diff\(k)", "\(o.z) - \(o.target)", false))
                lines.append("\(loss) += diff\(k) * diff\(k);")
                lines.append("\(o.direct) = \(m.literal(2)) * loss_scale * diff\(k) * \(derivativeCode(o.activation, o.a, o.z, m));")
            }
            lines.append("\(loss) *= loss_scale;")
        case .binaryCrossEntropy:
            for o in outputs {
                let positive = valueCode(.softplus, "(-\(o.a))", m)
                let negative = valueCode(.softplus, o.a, m)
                lines.append("\(loss) += \(o.target) * \(positive) + (\(one) - \(o.target)) * \(negative);")
                lines.append("\(o.direct) = \(o.z) - \(o.target);")
            }
        case .softmaxCrossEntropy:
            break
        }
        return lines
    }
}

/// The emitters' spellings (`CodeEmitter`'s private `Generator` builds the same ones).
enum Spellings {
    static func plain(_ text: String) -> String {
        text.contains(".") || text.contains("e") || text.contains("n") ? text : text + ".0"
    }

    static let cDouble = MathSpelling(exp: "exp", log: "log", log1p: "log1p", tanh: "tanh", abs: "fabs", sqrt: "sqrt",
                                      literal: { plain($0.description) })
    static let cFloat = MathSpelling(exp: "expf", log: "logf", log1p: "log1pf", tanh: "tanhf", abs: "fabsf", sqrt: "sqrtf",
                                     literal: { plain(Float($0).description) + "f" })
    static let swift = MathSpelling(exp: "exp", log: "log", log1p: "log1p", tanh: "tanh", abs: "abs", sqrt: "sqrt",
                                    literal: { plain($0.description) })
    static let all = [("C double", cDouble), ("C float", cFloat), ("Swift", swift)]
}

/// Equal to the bit, or both NaN.
func sameBits(_ x: Double, _ y: Double) -> Bool {
    x.bitPattern == y.bitPattern || (x.isNaN && y.isNaN)
}

/// Inputs for the activations: zeros, the tiniest and largest magnitudes, infinities, NaN, the
/// points where branches switch and where exp over- and underflows, and a dense sweep.
let formulaGrid: [Double] = {
    var grid: [Double] = [0, -0.0, .nan, .infinity, -.infinity]
    let magnitudes: [Double] = [
        .leastNonzeroMagnitude, .leastNormalMagnitude / 4096, .leastNormalMagnitude, 1e-300, 1e-16, .ulpOfOne, 1e-8, 1e-4, 0.01, 0.1, 0.5,
        1, 1.5, 2, 3, 5, 10, 18, 19, 20, 36, 37, 40, 100, 700, 709.78, 710, 745, 746, 800, 1e10, 1e300,
        .greatestFiniteMagnitude,
    ]
    for m in magnitudes { grid += [m, -m] }
    for step in 0...216 { grid.append(-40 + Double(step) * 0.37) }
    var generator = SeededGenerator(seed: 17)
    for _ in 0..<200 { grid.append(generator.nextUniform(scale: 12)) }
    return grid
}()

@Suite("formulas written once")
struct FormulaTests {
    @Test("every activation's value and derivative, evaluated as Double, equal the old closed forms bit for bit",
          arguments: Activation.allCases)
    func activationsMatchClosedForms(activation: Activation) {
        for a in formulaGrid {
            let z = activation.value(a)
            #expect(sameBits(z, OldFormulas.value(activation, a)), "\(activation).value(\(a)) = \(z), was \(OldFormulas.value(activation, a))")
            let slope = activation.derivative(a: a, z: z)
            let old = OldFormulas.derivative(activation, a: a, z: OldFormulas.value(activation, a))
            #expect(sameBits(slope, old), "\(activation).derivative(\(a)) = \(slope), was \(old)")
        }
        for a in formulaGrid {
            #expect(sameBits(Activation.logistic(a), OldFormulas.logistic(a)), "logistic(\(a))")
            #expect(sameBits(Activation.softplus(a), OldFormulas.softplus(a)), "softplus(\(a))")
        }
    }

    @Test("every loss's value and deltas equal the old closed forms bit for bit", arguments: Loss.allCases)
    func lossesMatchClosedForms(loss: Loss) {
        var generator = SeededGenerator(seed: 23)
        let extremes: [Double] = [0, 800, -800, 40, -40, 1e-300, .infinity, -.infinity]
        for trial in 0..<400 {
            let n = 1 + trial % 7
            let activations: [Activation] = (0..<n).map { index in
                loss.requiredOutputActivation ?? Activation.allCases[(trial + index) % Activation.allCases.count]
            }
            var a = (0..<n).map { _ in generator.nextUniform(scale: trial % 3 == 0 ? 50 : 4) }
            if trial % 5 == 0 { a[trial % n] = extremes[(trial / 5) % extremes.count] }
            let z = zip(activations, a).map { $0.value($1) }
            var target = (0..<n).map { _ in generator.nextUnit() }
            if trial % 2 == 0 {
                let hot = generator.nextIndex(below: n)
                target = target.indices.map { $0 == hot ? 1 : 0 }
            }
            var oldDelta = [Double](repeating: 0, count: n)
            let oldLoss = OldFormulas.evaluate(loss, a: a, z: z, target: target, activations: activations, outputDelta: &oldDelta)
            var delta = [Double](repeating: 0, count: n)
            let newLoss = a.withUnsafeBufferPointer { a in
                z.withUnsafeBufferPointer { z in
                    target.withUnsafeBufferPointer { t in
                        activations.withUnsafeBufferPointer { kinds in
                            delta.withUnsafeMutableBufferPointer { d in
                                loss.evaluate(a: a, z: z, target: t, activations: kinds, outputDelta: d)
                            }
                        }
                    }
                }
            }
            #expect(sameBits(newLoss, oldLoss), "\(loss) trial \(trial): loss \(newLoss), was \(oldLoss)")
            for o in 0..<n {
                #expect(sameBits(delta[o], oldDelta[o]), "\(loss) trial \(trial) output \(o): delta \(delta[o]), was \(oldDelta[o])")
            }
        }
    }

    @Test("the optimiser rules on Double and on vectors equal the old update code bit for bit")
    func optimizerRules() {
        var generator = SeededGenerator(seed: 5)
        for _ in 0..<500 {
            let w = generator.nextUniform(scale: 3), g = generator.nextUniform(scale: 2), eta = generator.nextUnit()
            #expect(sameBits(Optimizer.sgdStep(weight: w, gradient: g, rate: eta), w - eta * g))

            var v = generator.nextUniform(scale: 1), oldV = v
            let stepped = Optimizer.momentumStep(weight: w, gradient: g, rate: eta, momentum: 0.9, velocity: &v)
            oldV = 0.9 * oldV - eta * g
            #expect(sameBits(stepped, w + oldV) && sameBits(v, oldV))

            // Adam as `OptimizerState.rule` wrote it, in binary32 vectors.
            let b1: Float = 0.9, b2: Float = 0.999, epsilon: Float = 1e-8, c1: Float = 0.19, c2: Float = 0.002
            let weights = SIMD8<Float>(repeating: Float(w)), mean = SIMD8<Float>(repeating: Float(g))
            let rate = SIMD8<Float>(repeating: Float(eta))
            var first = SIMD8<Float>(repeating: Float(generator.nextUniform(scale: 1)))
            var second = SIMD8<Float>(repeating: Float(generator.nextUnit()))
            var oldFirst = first, oldSecond = second, oldWeights = weights
            oldFirst = b1 * oldFirst + (1 - b1) * mean
            oldSecond = b2 * oldSecond + (1 - b2) * mean * mean
            oldWeights -= rate * (oldFirst / c1) / ((oldSecond / c2).squareRoot() + epsilon)
            let adam = Optimizer.adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8)
            let updated = adam.step(weight: weights, gradient: mean, rate: rate, corrections: (SIMD8(repeating: c1), SIMD8(repeating: c2)),
                                    first: &first, second: &second)
            #expect(updated == oldWeights && first == oldFirst && second == oldSecond)
        }
    }

    @Test("valueCode and derivativeCode render the old text for every activation and spelling", arguments: Activation.allCases)
    func activationText(activation: Activation) {
        for (label, m) in Spellings.all {
            for (a, z) in [("s", "z"), ("a[4]", "z[4]"), ("a[j]", "z[Int(j)]")] {
                #expect(activation.valueCode(a, m) == OldFormulas.valueCode(activation, a, m), "\(label) \(activation)")
                #expect(activation.derivativeCode(a, z, m) == OldFormulas.derivativeCode(activation, a, z, m), "\(label) \(activation)")
            }
        }
    }

    @Test("the squared errors' and binary cross-entropy's statements are the old text", arguments: [Loss.halfSquaredError, .meanSquaredError, .binaryCrossEntropy])
    func lossText(loss: Loss) {
        for (label, m) in Spellings.all {
            for count in 1...3 {
                let outputs = (0..<count).map { index in
                    OutputCode(a: "a[\(7 + index)]", z: "z[\(7 + index)]", target: "target[\(index)]", direct: "direct[\(index)]",
                               activation: loss.requiredOutputActivation ?? Activation.allCases[index % Activation.allCases.count])
                }
                let declare = { (name: String, value: String, mutable: Bool) in "\(mutable ? "var" : "let") \(name) = \(value);" }
                #expect(loss.code(outputs: outputs, loss: "loss", math: m, declare: declare)
                        == OldFormulas.lossCode(loss, outputs: outputs, loss: "loss", math: m, declare: declare), "\(label) \(loss) \(count)")
            }
        }
    }

    @Test("softmax cross-entropy's statements follow evaluate: shifted exponentials kept in the delta slots")
    func softmaxText() {
        let outputs = (0..<2).map { index in
            OutputCode(a: "a[\(index + 3)]", z: "z[\(index + 3)]", target: "t[\(index)]", direct: "d[\(index)]", activation: .identity)
        }
        let lines = Loss.softmaxCrossEntropy.code(outputs: outputs, loss: "E", math: Spellings.cDouble) { name, value, mutable in
            "\(mutable ? "" : "const ")double \(name) = \(value);"
        }
        #expect(lines == [
            "double largest = a[3];",
            "if (a[4] > largest) { largest = a[4]; }",
            "double sum = 0.0;",
            "d[0] = exp(a[3] - largest);",
            "sum += d[0];",
            "d[1] = exp(a[4] - largest);",
            "sum += d[1];",
            "const double log_sum_exp = largest + log(sum);",
            "double target_sum = 0.0;",
            "target_sum += t[0];",
            "target_sum += t[1];",
            "if (t[0] != 0.0) { E += t[0] * (log_sum_exp - a[3]); }",
            "d[0] = d[0] / sum * target_sum - t[0];",
            "if (t[1] != 0.0) { E += t[1] * (log_sum_exp - a[4]); }",
            "d[1] = d[1] / sum * target_sum - t[1];",
        ])
    }

    @Test("expressions are parenthesised by precedence, and assignments take their compound forms")
    func rendering() {
        typealias E = FormulaExpression
        let x = E.name("x"), y = E.name("y"), w = E.name("w"), m = Spellings.cDouble
        #expect((x - (y - w)).code(m) == "x - (y - w)")
        #expect((x - y - w).code(m) == "x - y - w")
        #expect((x * (y * w)).code(m) == "x * (y * w)")
        #expect((x / (y * w) + w).code(m) == "x / (y * w) + w")
        #expect((-(-x)).code(m) == "-(-x)")
        #expect((-(x + y)).code(m) == "-(x + y)")
        #expect((x - E(constant: -2)).code(m) == "x - -2.0")
        #expect((-E(constant: -2)).code(m) == "-(-2.0)")
        #expect((x * E.select(x > 0, y, w)).code(m) == "x * (x > 0.0 ? y : w)")
        #expect(E.select(x >= y + w, E.select(x > 0, y, w), 1).code(m) == "x >= y + w ? (x > 0.0 ? y : w) : 1.0")
        #expect(E.exp(-x).code(m) == "exp(-x)")
        #expect(E.abs(E.operand(-x)).code(m) == "fabs((-x))")
        #expect(E.operand(x).operandCode(m) == "x")
        #expect((x + y).operandCode(m) == "(x + y)")
        #expect(E.log(x).operandCode(m) == "log(x)")
        #expect((x.squareRoot() + 1).code(Spellings.cFloat) == "sqrtf(x) + 1.0f")
        #expect(Optimizer.sgdStep(weight: w, gradient: x * y, rate: E.name("eta")).assignment(to: "w", m) == "w -= eta * (x * y);")
        #expect(Optimizer.sgdStep(weight: w, gradient: x, rate: E.name("eta")).assignment(to: "x", m) == "x = w - eta * x;")
        #expect((w * x).assignment(to: "w", m) == "w *= x;")
        #expect(E.select(x != 0, w + x, w).assignment(to: "w", m) == "if (x != 0.0) { w += x; }")
        #expect(E.select(x != 0, w + x, y).assignment(to: "w", m) == "w = x != 0.0 ? w + x : y;")
    }
}
