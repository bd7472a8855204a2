import BPCEmit

/// One sample's backward pass written out unit by unit (`bpc grad --trace`): every unit's δ in
/// reverse topological order with its numbers, the slopes used, then every dE/dw = δ_j z_i.
public struct GradientTrace: Sendable {
    public let pass: SamplePass

    public init(_ pass: SamplePass) { self.pass = pass }

    /// `bpc grad --trace --json`: each δ line and each dE/dw line as text, with its value.
    public var json: JSONValue {
        let rules = DeltaRules(pass)
        let plan = pass.plan
        let keys = plan.parameterKeys()
        return .object([
            ("deltas", .array((0..<plan.unitCount).reversed().map { unit in
                .object([("unit", .string(plan.unitNames[unit])), ("rule", .string(rules.deltaRow(unit).text)), ("value", .number(pass.deltas[unit]))])
            })),
            ("gradients", .array((0..<plan.parameterCount).map { parameter in
                .object([("parameter", .string(keys[parameter])), ("rule", .string(rules.gradientRow(parameter).text)),
                         ("value", .number(pass.gradients[parameter]))])
            })),
        ])
    }

    public var explanation: Explanation {
        let rules = DeltaRules(pass)
        let plan = pass.plan
        let units = Array((0..<plan.unitCount).reversed())
        var blocks: [ExplanationBlock] = [
            .paragraph([.text("Loss \(plan.loss.name): "), .math(.symbol(.loss, .none)), .text(" = "), .math(rules.notation.lossDefinition),
                        .text(" = \(NumberText.short(pass.loss)); ")] + rules.notation.lossLetters + [.text(".")]),
            .heading("The delta rule, from the outputs back"),
            .paragraph(Notation.deltaRule + [.text(", plus the loss's own term at an output; for an input unit, δ is ∂E/∂x.")]),
            .equations(units.map { rules.deltaRow($0) }),
        ]
        let slopes = units.compactMap { rules.slopeRow($0) }
        if !slopes.isEmpty {
            blocks.append(.paragraph([.text("where")]))
            blocks.append(.equations(slopes))
        }
        blocks.append(.heading("The gradients"))
        blocks.append(.paragraph(Notation.gradientRule + [.text(" for a weight, δ_j for a bias.")]))
        blocks.append(.equations((0..<plan.parameterCount).map(rules.gradientRow)))
        return Explanation(title: "Backward pass of \(plan.name)", blocks: blocks)
    }
}
