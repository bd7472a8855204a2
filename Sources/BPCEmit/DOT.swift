import BPCPlan

/// One sample's forward and backward pass, drawn beside the network by `DOTGraph`.
///
/// The arrays are indexed as in `Plan`: `z` and `delta` by unit, `gradients` by parameter,
/// `target` by output (in `outputUnits` order). With them a drawing shows the whole of
/// backpropagation for the sample: z_j and delta_j on every unit, dE/dw on every edge.
public struct DOTSample: Sendable, Equatable {
    /// The sample's loss.
    public var loss: Double
    /// z_j = h(a_j) per unit (the sample's value for input units).
    public var z: [Double]
    /// delta_j = dE/da_j per unit (dE/dx for input units).
    public var delta: [Double]
    /// dE/dw per parameter.
    public var gradients: [Double]
    /// The sample's target per output unit.
    public var target: [Double]

    public init(loss: Double, z: [Double], delta: [Double], gradients: [Double], target: [Double]) {
        self.loss = loss
        self.z = z
        self.delta = delta
        self.gradients = gradients
        self.target = target
    }
}

/// Options for `DOTGraph.text`.
public struct DOTOptions: Sendable, Equatable {
    /// Whether every edge carries a label with its weight (and gradient); nil labels edges when
    /// the network has at most `edgeLabelLimit` edges. Beyond that the labels overlap into an
    /// unreadable band and make Graphviz's layout slow, so they are left to the tooltips (every
    /// edge has one, shown on hover in SVG).
    public var edgeLabels: Bool?

    public static let edgeLabelLimit = 200

    public init(edgeLabels: Bool? = nil) { self.edgeLabels = edgeLabels }

    public func labelsEdges(of plan: Plan) -> Bool { edgeLabels ?? (plan.edgeCount <= DOTOptions.edgeLabelLimit) }
}

/// A plan as a Graphviz DOT digraph, laid out left to right the way networks are drawn in
/// lecture notes.
///
/// - Units are nodes in one cluster per role (inputs, hidden, outputs), each role with its own
///   shape, and ranked by `Plan.topologicalDepths()` (`{rank=same; ...}` per depth), so that
///   units computed together stand in one column. Labels give the name, the activation, the
///   bias and, for a sample, z and delta (and the target of an output).
/// - Edges are coloured by the sign of the weight (blue positive, red negative, grey zero) and
///   drawn wider the larger |w| is, relative to the largest |w|; labels give the weight and,
///   for a sample, dE/dw.
///
/// Names come from the spec and can be anything, so they appear only inside labels, escaped
/// by `quoted(_:)`; node IDs are the unit indices (`u0`, `u1`, ...). The text depends only on
/// the plan, the sample and the options, so it can be compared with golden files.
public enum DOTGraph {
    /// The DOT text of `plan` with its current parameters, and `sample`'s values when given.
    ///
    /// - Precondition: `plan` verifies (`Plan.verify()`), and `sample`'s arrays have the plan's
    ///   unit, parameter and output counts.
    public static func text(for plan: Plan, sample: DOTSample? = nil, options: DOTOptions = DOTOptions()) -> String {
        if let sample {
            precondition(sample.z.count == plan.unitCount && sample.delta.count == plan.unitCount,
                         "DOTGraph.text: the sample needs z and delta for each of the \(plan.unitCount) units")
            precondition(sample.gradients.count == plan.parameterCount,
                         "DOTGraph.text: the sample needs a gradient for each of the \(plan.parameterCount) parameters")
            precondition(sample.target.count == plan.outputUnits.count,
                         "DOTGraph.text: the sample needs a target for each of the \(plan.outputUnits.count) outputs")
        }
        let lossLine = plan.loss.name + " loss" + (sample.map { " = " + number($0.loss) } ?? "")
        var lines = [
            "// The network drawn by bpc graph. Render it with: dot -Tsvg FILE -o net.svg",
            "digraph network {",
            "  graph [rankdir=LR, newrank=true, labelloc=t, fontname=\"Helvetica\", label=\(quoted([plan.name, lossLine]))];",
            "  node [fontname=\"Helvetica\", fontsize=10];",
            "  edge [fontname=\"Helvetica\", fontsize=9, arrowsize=0.6];",
        ]
        lines += unitLines(plan, sample: sample)
        lines += rankLines(plan)
        lines += edgeLines(plan, sample: sample, labelled: options.labelsEdges(of: plan))
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// One cluster per role that has units, declaring its units with their labels.
    private static func unitLines(_ plan: Plan, sample: DOTSample?) -> [String] {
        var targets: [Int: Double] = [:]
        if let sample {
            for (output, unit) in plan.outputUnits.enumerated() { targets[Int(unit)] = sample.target[output] }
        }
        var lines: [String] = []
        for role in UnitRole.allCases {
            let units = (0..<plan.unitCount).filter { plan.roles[$0] == role }
            if units.isEmpty { continue }
            let style = RoleStyle(role)
            lines.append("  subgraph cluster_\(role.rawValue) {")
            lines.append("    label=\(quoted([style.title])); style=\"rounded,dashed\"; color=\"#999999\"; fontcolor=\"#666666\";")
            lines.append("    node [\(style.nodeAttributes)];")
            for unit in units {
                lines.append("    u\(unit) [label=\(quoted(unitLabel(unit, plan: plan, sample: sample, target: targets[unit])))];")
            }
            lines.append("  }")
        }
        return lines
    }

    /// A unit's label lines: name, then activation and bias (not for inputs, which have
    /// neither), then the sample's values.
    private static func unitLabel(_ unit: Int, plan: Plan, sample: DOTSample?, target: Double?) -> [String] {
        var label = [plan.unitNames[unit]]
        if plan.roles[unit] != .input {
            label.append(plan.activations[unit].name)
            let bias = Int(plan.biasParameter[unit])
            if bias >= 0 { label.append("b = " + number(plan.parameters[bias])) }
        }
        if let sample {
            label.append("z = " + number(sample.z[unit]))
            if let target { label.append("target = " + number(target)) }
            label.append("delta = " + number(sample.delta[unit]))
        }
        return label
    }

    /// `{rank=same; ...}` for the units of each depth, in depth order. With `newrank` these
    /// hold across the role clusters.
    private static func rankLines(_ plan: Plan) -> [String] {
        let depths = plan.topologicalDepths()
        var unitsAtDepth = [[Int]](repeating: [], count: (depths.max() ?? -1) + 1)
        for (unit, depth) in depths.enumerated() { unitsAtDepth[depth].append(unit) }
        return unitsAtDepth.map { units in "  {rank=same; " + units.map { "u\($0);" }.joined(separator: " ") + "}" }
    }

    /// Every edge in fan-in order, coloured by the sign of its weight and as wide as its |w|
    /// is large; the tooltip names the parameter and gives its values whether or not there
    /// is a label.
    private static func edgeLines(_ plan: Plan, sample: DOTSample?, labelled: Bool) -> [String] {
        let keys = plan.parameterKeys()
        let largest = plan.fanInParameter.map { plan.parameters[Int($0)].magnitude }.max() ?? 0
        var lines: [String] = []
        for unit in 0..<plan.unitCount {
            for edge in Int(plan.fanInStart[unit])..<Int(plan.fanInStart[unit + 1]) {
                let parameter = Int(plan.fanInParameter[edge])
                let weight = plan.parameters[parameter]
                var values = ["w = " + number(weight)]
                if let sample { values.append("dE/dw = " + number(sample.gradients[parameter])) }
                let color = weight > 0 ? "#2166ac" : weight < 0 ? "#b2182b" : "#999999"
                // From 0.5 for w = 0 to 4 for the largest |w|: thin edges stay visible.
                let width = largest > 0 ? 0.5 + 3.5 * weight.magnitude / largest : 1
                var attributes = ["color=\"\(color)\"", "penwidth=\(hundredths(width))"]
                if labelled {
                    attributes += ["label=\(quoted(sample == nil ? [number(weight)] : values))", "fontcolor=\"\(color)\""]
                }
                attributes.append("tooltip=\(quoted([keys[parameter] + ": " + values.joined(separator: ", ")]))")
                lines.append("  u\(plan.fanInSource[edge]) -> u\(unit) [" + attributes.joined(separator: ", ") + "];")
            }
        }
        return lines
    }

    /// How each role is drawn.
    private struct RoleStyle {
        var title: String
        var nodeAttributes: String

        init(_ role: UnitRole) {
            switch role {
            case .input:
                title = "inputs"
                nodeAttributes = "shape=box, style=\"rounded,filled\", fillcolor=\"#deebf7\""
            case .hidden:
                title = "hidden"
                nodeAttributes = "shape=ellipse, style=filled, fillcolor=\"#f0f0f0\""
            case .output:
                title = "outputs"
                nodeAttributes = "shape=box, peripheries=2, style=filled, fillcolor=\"#fee6ce\""
            }
        }
    }

    // MARK: Text

    /// Lines of any text as one DOT quoted string, drawn by Graphviz exactly as `displayText`
    /// gives each line.
    ///
    /// In a quoted string DOT itself reads only `\"`; Graphviz then reads labels as escString,
    /// where a backslash starts an escape (`\n`, `\l`, `\N` for the node's name, `\\`), and
    /// replaces HTML entities (`&amp;`, `&#945;`). So `&` becomes `&amp;`, `\` becomes `\\` and
    /// `"` becomes `\"`; lines are joined with `\n`. Nothing else is special: `<`, `>`, `{` and
    /// `|` mean something only in HTML-like labels and record shapes, which are not used.
    static func quoted(_ lines: [String]) -> String {
        var result = "\""
        for (index, line) in lines.enumerated() {
            if index > 0 { result += "\\n" }
            // By scalar, not by character: a quote followed by a combining mark is one
            // character, but DOT still reads the quote.
            for scalar in displayText(line).unicodeScalars {
                switch scalar {
                case "\\": result += "\\\\"
                case "\"": result += "\\\""
                case "&": result += "&amp;"
                default: result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }

    /// `text` with every character that would not show as itself written `\u{X}`, as in the
    /// generated code's comments: controls and line breaks (which would break the label's
    /// lines), format characters such as bidirectional overrides (which would reorder the
    /// drawn text), private-use and unassigned code points (which XML output cannot hold).
    /// Text without such characters is returned unchanged.
    static func displayText(_ text: String) -> String {
        guard !text.unicodeScalars.allSatisfy(CodeEmitter.isCommentSafe) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            if CodeEmitter.isCommentSafe(scalar) {
                result.unicodeScalars.append(scalar)
            } else {
                result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            }
        }
        return result
    }

    // MARK: Numbers

    /// Four significant digits: enough to tell weights apart in a drawing.
    static func number(_ value: Double) -> String { NumberText.short(value, digits: 4) }

    /// A non-negative value to two decimals (`1.25`, `4`), for attributes such as penwidth.
    static func hundredths(_ value: Double) -> String {
        let count = Int((value * 100).rounded())
        let whole = String(count / 100), fraction = count % 100
        if fraction == 0 { return whole }
        return whole + "." + (fraction < 10 ? "0" : "") + (fraction % 10 == 0 ? String(fraction / 10) : String(fraction))
    }
}
