import BPCPlan

/// The notes' notation for one network and one sample: symbols for units, edges and the
/// loss's output term, with this sample's numbers beside each.
///
/// The letters for an output and its target follow the note that treats the loss: note 1's
/// ŷ and y for the squared errors, note 2's y and r for binary cross-entropy, p and t for
/// softmax cross-entropy. With one output the subscript is dropped, as the notes do.
struct Notation {
    let pass: SamplePass
    let isOutput: [Bool]
    /// For each unit, its index among the outputs, or -1.
    let outputIndex: [Int]

    init(_ pass: SamplePass) {
        self.pass = pass
        isOutput = pass.isOutput
        var indices = [Int](repeating: -1, count: pass.plan.unitCount)
        for (index, unit) in pass.plan.outputUnits.enumerated() { indices[Int(unit)] = index }
        outputIndex = indices
    }

    var plan: Plan { pass.plan }
    var hasOneOutput: Bool { plan.outputUnits.count == 1 }
    func name(_ unit: Int) -> String { plan.unitNames[unit] }

    func a(_ unit: Int) -> MathExpression { .symbol(.netInput, unit: name(unit)) }
    func z(_ unit: Int) -> MathExpression { .symbol(.output, unit: name(unit)) }
    func delta(_ unit: Int) -> MathExpression { .symbol(.delta, unit: name(unit)) }
    func weight(from source: Int, to target: Int) -> MathExpression { .symbol(.weight, .edge(from: name(source), to: name(target))) }
    func bias(_ unit: Int) -> MathExpression { .symbol(.bias, unit: name(unit)) }

    /// h_j'(a_j), or nil where it is 1 (identity units, inputs), which the notes leave out.
    func slope(_ unit: Int) -> MathExpression? {
        guard plan.roles[unit] != .input, plan.activations[unit] != .identity else { return nil }
        return .call(MathFunction(plan.activations[unit], derivative: true), a(unit))
    }

    /// h_j'(a_j) written with z_j or a_j (σ' = z(1 - z)), then with this sample's numbers;
    /// nil where the slope is left out.
    func slopeForms(_ unit: Int) -> (symbols: MathExpression, numbers: MathExpression)? {
        guard slope(unit) != nil else { return nil }
        let a = pass.netInputs[unit], z = pass.activations[unit]
        let zUnit = self.z(unit), aUnit = self.a(unit)
        let logistic = MathExpression.call(MathFunction(.sigmoid, derivative: false), aUnit)
        switch plan.activations[unit] {
        case .identity: return nil
        case .sigmoid:
            return (.product([zUnit, .difference(.number(1), zUnit)]), .product([.number(z), .difference(.number(1), .number(z))]))
        case .tanh:
            return (.difference(.number(1), .square(zUnit)), .difference(.number(1), .square(.number(z))))
        case .relu, .leakyReLU:
            // A step: its value is the form; the note says which side of 0 a_j is on.
            return (.number(pass.slopes[unit]), .number(pass.slopes[unit]))
        case .softplus:
            return (logistic, .call(MathFunction(.sigmoid, derivative: false), .number(a)))
        case .silu:
            let sigma = Activation.logistic(a)
            return (.product([logistic, .sum([.number(1), .product([aUnit, .difference(.number(1), logistic)])])]),
                    .product([.number(sigma), .sum([.number(1), .product([.number(a), .difference(.number(1), .number(sigma))])])]))
        }
    }

    /// The side of the kink a relu-like unit is on, for the note beside its slope.
    func slopeNote(_ unit: Int) -> String? {
        switch plan.activations[unit] {
        case .relu, .leakyReLU:
            pass.netInputs[unit] > 0 ? "a > 0" : (pass.netInputs[unit] == 0 ? "a = 0, the kink: bpc takes the left slope" : "a < 0")
        default: nil
        }
    }

    /// Note 2's rules with general indices, for the sentences that introduce them:
    /// δ_j = h'(a_j) Σ_k δ_k w_{j→k} and ∂E/∂w_{i→j} = δ_j · z_i.
    static let deltaRule: [Inline] = [
        .math(.symbol(.delta, unit: "j")), .text(" = "),
        .math(.product([.named("h'", .symbol(.netInput, unit: "j")),
                        .sumOver("k", .product([.symbol(.delta, unit: "k"), .symbol(.weight, .edge(from: "j", to: "k"))]))])),
    ]
    static let gradientRule: [Inline] = [
        .math(.partial(.symbol(.loss, .none), .symbol(.weight, .edge(from: "i", to: "j")))), .text(" = "),
        .math(.product([.symbol(.delta, unit: "j"), .symbol(.output, unit: "i")])),
    ]

    // MARK: The loss

    /// One output drops the subscript, as the notes do; softmax's p_o always has one.
    private func lossSubscript(_ name: String) -> MathSubscript {
        hasOneOutput && plan.loss != .softmaxCrossEntropy ? .none : .unit(name)
    }

    private func outputLetter(_ unit: Int) -> MathExpression { .symbol(outputLetterKind, lossSubscript(name(unit))) }
    private func targetLetter(_ unit: Int) -> MathExpression { .symbol(targetLetterKind, lossSubscript(name(unit))) }

    private func targetValue(_ unit: Int) -> Double { pass.target[outputIndex[unit]] }

    private var targetSum: Double { pass.target.reduce(0, +) }

    /// Softmax cross-entropy's p_o of this sample.
    private func probability(_ unit: Int) -> Double {
        let outputs = plan.outputUnits.map { pass.netInputs[Int($0)] }
        let largest = outputs.max() ?? 0
        let sum = outputs.reduce(0) { $0 + Loss.softmaxExponential(a: $1, largest: largest) }
        return Loss.softmaxExponential(a: pass.netInputs[unit], largest: largest) / sum
    }

    /// E as the loss defines it.
    var lossDefinition: MathExpression {
        let o = "o"
        let output: MathExpression = .symbol(outputLetterKind, lossSubscript(o))
        let target: MathExpression = .symbol(targetLetterKind, lossSubscript(o))
        let square = MathExpression.square(.difference(output, target))
        switch plan.loss {
        case .halfSquaredError:
            return .product([.fraction(.number(1), .number(2)), hasOneOutput ? square : .sumOver(o, square)])
        case .meanSquaredError:
            return hasOneOutput ? square : .product([.fraction(.number(1), .symbol(.count, .none)), .sumOver(o, square)])
        case .binaryCrossEntropy:
            let one = MathExpression.difference(.number(1), target)
            let term = MathExpression.difference(
                .negative(.product([target, .named("log", output)])),
                .product([one, .named("log", .difference(.number(1), output))]))
            return hasOneOutput ? term : .sumOver(o, term)
        case .softmaxCrossEntropy:
            return .negative(.sumOver(o, .product([target, .named("log", output)])))
        }
    }

    private var outputLetterKind: MathLetter {
        switch plan.loss {
        case .halfSquaredError, .meanSquaredError: .prediction
        case .binaryCrossEntropy: .y
        case .softmaxCrossEntropy: .probability
        }
    }

    private var targetLetterKind: MathLetter {
        switch plan.loss {
        case .halfSquaredError, .meanSquaredError: .y
        case .binaryCrossEntropy: .r
        case .softmaxCrossEntropy: .t
        }
    }

    /// What the output letters stand for, for the explanation's opening lines.
    var lossLetters: [Inline] {
        switch plan.loss {
        case .halfSquaredError, .meanSquaredError:
            return [.math(.symbol(.prediction, .none)), .text(" is an output unit's z and "), .math(.symbol(.y, .none)), .text(" its target (note 1)")]
        case .binaryCrossEntropy:
            return [.math(.symbol(.y, .none)), .text(" = "), .math(.call(MathFunction(.sigmoid, derivative: false), .symbol(.netInput, .none))),
                    .text(" is an output unit's z and "), .math(.symbol(.r, .none)), .text(" its target (note 2)")]
        case .softmaxCrossEntropy:
            let softmax = MathExpression.fraction(.named("exp", .symbol(.netInput, unit: "o")), .sumOver("k", .named("exp", .symbol(.netInput, unit: "k"))))
            return [.math(.symbol(.probability, unit: "o")), .text(" = "), .math(softmax), .text(" is the softmax of the output units' net inputs and "),
                    .math(.symbol(.t, unit: "o")), .text(" the target")]
        }
    }

    /// ∂E/∂a_o from the loss alone, as factors: symbols, this sample's numbers, and the note's
    /// name for the simplification when there is one.
    func outputTerm(_ unit: Int) -> (factors: [MathExpression], numbers: MathExpression, note: String?) {
        let output = outputLetter(unit), target = targetLetter(unit)
        let z = pass.activations[unit], t = targetValue(unit)
        let identity = plan.activations[unit] == .identity
        switch plan.loss {
        case .halfSquaredError, .meanSquaredError:
            var factors: [MathExpression] = [.difference(output, target)]
            var numbers: [MathExpression] = [.difference(.number(z), .number(t))]
            if plan.loss == .meanSquaredError {
                let n = Double(plan.outputUnits.count)
                factors.insert(.fraction(.number(2), hasOneOutput ? .number(1) : .symbol(.count, .none)), at: 0)
                numbers.insert(.fraction(.number(2), .number(n)), at: 0)
                if hasOneOutput {
                    factors[0] = .number(2)
                    numbers[0] = .number(2)
                }
            }
            if let slope = slope(unit) {
                factors.append(slope)
                numbers.append(.number(pass.slopes[unit]))
            }
            let note = identity && plan.loss == .halfSquaredError ? "identity output, ½ squared error: δ = ŷ - y" : nil
            return (factors, numbers.count == 1 ? numbers[0] : .product(numbers), note)
        case .binaryCrossEntropy:
            return ([.difference(output, target)], .difference(.number(z), .number(t)),
                    "sigmoid output, cross-entropy: σ' cancels, δ = y - r")
        case .softmaxCrossEntropy:
            let p = probability(unit)
            let sum = targetSum
            if sum == 1 {
                return ([.difference(output, target)], .difference(.number(p), .number(t)), "softmax cross-entropy: δ = p - t")
            }
            return ([.difference(.product([output, .sumOver("k", .symbol(.t, .unit("k")))]), target)],
                    .difference(.product([.number(p), .number(sum)]), .number(t)),
                    "softmax cross-entropy with targets summing to \(sum): δ = p Σt - t")
        }
    }
}
