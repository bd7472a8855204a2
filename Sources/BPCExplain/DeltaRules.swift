import BPCPlan

/// Note 2's recursion written out for one sample: δ_j = h'(a_j) Σ_k δ_k w_{j→k} (plus the
/// loss's own term when j is an output) and dE/dw_{i→j} = δ_j z_i, each with its numbers.
/// Derivations and `bpc grad --trace` both write their δ lines here.
struct DeltaRules {
    let notation: Notation

    init(_ pass: SamplePass) { notation = Notation(pass) }

    private var pass: SamplePass { notation.pass }
    private var plan: Plan { pass.plan }

    /// δ_unit = symbols = numbers = value. Only fan-out edges into units `counts(k)` accepts
    /// appear (a derivation leaves out units that reach no output; their δ is 0).
    func deltaRow(_ unit: Int, counts: (Int) -> Bool = { _ in true }) -> EquationRow {
        var symbols: [MathExpression] = [], numbers: [MathExpression] = []
        var note: String?
        if notation.isOutput[unit] {
            let term = notation.outputTerm(unit)
            symbols.append(term.factors.count == 1 ? term.factors[0] : .product(term.factors))
            numbers.append(term.numbers)
            note = term.note
        }
        var flowSymbols: [MathExpression] = [], flowNumbers: [MathExpression] = []
        for edge in Int(plan.fanOutStart[unit])..<Int(plan.fanOutStart[unit + 1]) {
            let target = Int(plan.fanOutTarget[edge])
            guard counts(target) else { continue }
            flowSymbols.append(.product([notation.delta(target), notation.weight(from: unit, to: target)]))
            flowNumbers.append(.product([.number(pass.deltas[target]), .number(plan.parameters[Int(plan.fanOutParameter[edge])])]))
        }
        if !flowSymbols.isEmpty {
            let sumSymbols = flowSymbols.count == 1 ? flowSymbols[0] : .sum(flowSymbols)
            let sumNumbers = flowNumbers.count == 1 ? flowNumbers[0] : .sum(flowNumbers)
            if let slope = notation.slope(unit) {
                symbols.append(.product([slope, sumSymbols]))
                numbers.append(.product([.number(pass.slopes[unit]), sumNumbers]))
            } else {
                symbols.append(sumSymbols)
                numbers.append(sumNumbers)
            }
        }
        let value = MathExpression.number(pass.deltas[unit])
        guard !symbols.isEmpty else {
            return EquationRow(notation.delta(unit), .equals, [value], note: "reaches no output")
        }
        if plan.roles[unit] == .input { note = "∂E/∂z of an input" }
        return EquationRow(notation.delta(unit), .equals, [
            symbols.count == 1 ? symbols[0] : .sum(symbols), numbers.count == 1 ? numbers[0] : .sum(numbers), value,
        ], note: note)
    }

    /// h'(a_j) = its form in z_j or a_j = numbers = value, for a unit whose slope is not 1 and
    /// is used: a cross-entropy output's slope cancels unless the output feeds other units.
    func slopeRow(_ unit: Int, counts: (Int) -> Bool = { _ in true }) -> EquationRow? {
        guard let slope = notation.slope(unit), let forms = notation.slopeForms(unit) else { return nil }
        let feeds = (Int(plan.fanOutStart[unit])..<Int(plan.fanOutStart[unit + 1])).contains { counts(Int(plan.fanOutTarget[$0])) }
        let cancels = notation.isOutput[unit] && (plan.loss == .binaryCrossEntropy || plan.loss == .softmaxCrossEntropy)
        guard feeds || !cancels else { return nil }
        let value = MathExpression.number(pass.slopes[unit])
        var rhs = [forms.symbols]
        if forms.numbers != forms.symbols { rhs.append(forms.numbers) }
        if rhs.last != value { rhs.append(value) }
        return EquationRow(slope, .equals, rhs, note: notation.slopeNote(unit))
    }

    /// The parameter's symbol (w_{i→j} or b_j), its unit j and the source i of a weight.
    func parameterSymbol(_ parameter: Int) -> (symbol: MathExpression, unit: Int, source: Int?) {
        for unit in 0..<plan.unitCount {
            if Int(plan.biasParameter[unit]) == parameter { return (notation.bias(unit), unit, nil) }
            for edge in Int(plan.fanInStart[unit])..<Int(plan.fanInStart[unit + 1]) where Int(plan.fanInParameter[edge]) == parameter {
                let source = Int(plan.fanInSource[edge])
                return (notation.weight(from: source, to: unit), unit, source)
            }
        }
        preconditionFailure("parameter \(parameter) belongs to no edge or bias of a verified plan")
    }

    /// ∂E/∂w_{i→j} = δ_j · z_i = numbers = value (∂E/∂b_j = δ_j for a bias).
    /// For a tied parameter the row is this slot's use alone (`useValue`); the derivation adds
    /// the uses up.
    func gradientRow(_ parameter: Int) -> EquationRow {
        let (symbol, unit, source) = parameterSymbol(parameter)
        let tied = pass.plan.sharedWith != nil
        let value = MathExpression.number(tied ? useValue(parameter) : pass.gradients[parameter])
        let lhs = MathExpression.partial(.symbol(.loss, .none), symbol)
        guard let source else {
            return EquationRow(lhs, .equals, [notation.delta(unit), value], note: tied ? "∂a/∂b = 1; this use" : "∂a/∂b = 1")
        }
        return EquationRow(lhs, .equals, [
            .product([notation.delta(unit), notation.z(source)]),
            .product([.number(pass.deltas[unit]), .number(pass.activations[source])]),
            value,
        ], note: tied ? "this use" : nil)
    }

    /// The term of one parameter slot's own use, δ_j z_i (δ_j for a bias): what the runtime's
    /// backward pass adds for the slot before tied groups are summed (bit for bit).
    func useValue(_ parameter: Int) -> Double {
        let (_, unit, source) = parameterSymbol(parameter)
        return source.map { pass.deltas[unit] * pass.activations[$0] } ?? pass.deltas[unit]
    }
}
