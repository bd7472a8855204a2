import BPCEmit
import BPCPlan

/// The network with its current weights as an SVG drawing (the report's picture): units as
/// circles in columns by depth, inputs on the left and outputs on the right; edges as lines,
/// blue for a positive weight and red for a negative one, wider the larger |w| is among the
/// weights. Each edge has a `<title>` `from->to = w` and each unit one with its role,
/// activation and bias, which browsers show as tooltips, so every number is one hover away.
///
/// Large networks: past `maximumUnits` units the circles would be smaller than their labels,
/// so the drawing is only a note saying how large the network is; past `maximumEdges` edges
/// the lines would cover the picture and make the file large (about 150 bytes an edge), so the
/// units are drawn without edges and a note says so. Nothing is lost either way: the report's
/// parameter table lists every weight, `bpc graph` draws any size with Graphviz.
///
/// Marked for readers and tests: `<g class="unit" data-unit="NAME" data-role="..."
/// data-column="N">` per unit, `<line class="edge positive">` (or `negative`, `zero`) per
/// edge, `data-drawn="all"`, `"units"` or `"none"` on the root.
public struct NetworkDrawing: Sendable {
    /// The most units drawn.
    public static let maximumUnits = 300
    /// The most edges drawn; with more, only the units are.
    public static let maximumEdges = 3000

    /// The network; its `parameters` are the weights drawn.
    public var plan: Plan

    public init(plan: Plan) { self.plan = plan }

    /// The standalone file: an XML declaration and the `<svg>` element.
    public func document() -> String { SVG.document(svg()) }

    public func svg() -> XMLElement {
        let title = "Network " + plan.name + ": " + Self.count(plan.unitCount, "unit") + ", " + Self.count(plan.edgeCount, "edge")
        guard plan.unitCount <= Self.maximumUnits else {
            let note = title + " (more than " + String(Self.maximumUnits) + " units are not drawn)"
            return SVG.root(width: 640, height: 40, class: "network", title: title, [XMLAttribute("data-drawn", "none")], [
                XMLElement("text", ["class": "note", "x": "12", "y": "24", "fill": "#555"], text: note),
            ])
        }
        let columns = columns()
        let lastColumn = columns.max() ?? 0
        var heights = [Int](repeating: 0, count: lastColumn + 1)
        for column in columns { heights[column] += 1 }
        let rows = heights.max() ?? 0
        let layout = Layout(rows: rows)
        let widestLabel = { (column: Int) in
            columns.indices.filter { columns[$0] == column }.map { layout.labelWidth(self.plan.unitNames[$0]) }.max() ?? 0
        }
        let left = layout.margin(label: widestLabel(0)), right = layout.margin(label: widestLabel(lastColumn))
        let width = left + Double(lastColumn) * layout.columnSpacing + right
        let height = layout.top + Double(max(rows - 1, 0)) * layout.rowSpacing + layout.bottom
        // Units of a column in plan (topological, then declaration) order, centred vertically.
        var centres = [(x: Double, y: Double)](repeating: (0, 0), count: plan.unitCount)
        var filled = [Int](repeating: 0, count: lastColumn + 1)
        for unit in 0..<plan.unitCount {
            let column = columns[unit]
            let offset = Double(rows - heights[column]) / 2 + Double(filled[column])
            centres[unit] = (left + Double(column) * layout.columnSpacing, layout.top + offset * layout.rowSpacing)
            filled[column] += 1
        }

        var children: [XMLElement] = []
        let drawsEdges = plan.edgeCount <= Self.maximumEdges
        if drawsEdges {
            children.append(edges(centres: centres, layout: layout))
        } else {
            children.append(XMLElement("text", ["class": "note", "x": "12", "y": "14", "fill": "#555"],
                                       text: Self.count(plan.edgeCount, "edge") + ": more than " + String(Self.maximumEdges)
                                           + ", so only the units are drawn"))
        }
        var units = XMLElement("g", ["class": "units"])
        for unit in 0..<plan.unitCount { units.append(unitElement(unit, column: columns[unit], lastColumn: lastColumn, at: centres[unit], layout: layout)) }
        children.append(units)
        return SVG.root(width: width, height: height, class: "network", title: title,
                        [XMLAttribute("data-drawn", drawsEdges ? "all" : "units")], children)
    }

    /// Each unit's column: its depth, except that output units feeding nothing move to the
    /// last column, so every output is on the right. Edges still all point right: a unit
    /// that moves has no outgoing edge, and every edge's target is deeper than its source.
    func columns() -> [Int] {
        var columns = plan.topologicalDepths()
        let last = columns.max() ?? 0
        for unit in 0..<plan.unitCount where plan.roles[unit] == .output && plan.fanOutStart[unit] == plan.fanOutStart[unit + 1] {
            columns[unit] = last
        }
        return columns
    }

    private func edges(centres: [(x: Double, y: Double)], layout: Layout) -> XMLElement {
        let largest = plan.parameters.prefix(plan.edgeCount).map(\.magnitude).max() ?? 0
        var group = XMLElement("g", ["class": "edges", "stroke-linecap": "round"])
        for target in 0..<plan.unitCount {
            for edge in Int(plan.fanInStart[target])..<Int(plan.fanInStart[target + 1]) {
                let source = Int(plan.fanInSource[edge])
                let weight = plan.parameters[Int(plan.fanInParameter[edge])]
                let (sign, colour) = weight > 0 ? ("positive", "#2166ac") : weight < 0 ? ("negative", "#b2182b") : ("zero", "#999")
                let share = largest > 0 ? weight.magnitude / largest : 0
                let key = plan.unitNames[source] + "->" + plan.unitNames[target]
                group.append(XMLElement("line", [
                    "class": "edge " + sign, "x1": SVG.number(centres[source].x), "y1": SVG.number(centres[source].y),
                    "x2": SVG.number(centres[target].x), "y2": SVG.number(centres[target].y), "stroke": colour,
                    "stroke-width": SVG.number(layout.thinnestEdge + share * (layout.widestEdge - layout.thinnestEdge)),
                    "stroke-opacity": layout.edgeOpacity,
                ], [.element(XMLElement("title", text: key + " = " + NumberText.short(weight)))]))
            }
        }
        return group
    }

    private func unitElement(_ unit: Int, column: Int, lastColumn: Int, at centre: (x: Double, y: Double), layout: Layout) -> XMLElement {
        let name = plan.unitNames[unit]
        let role = plan.roles[unit]
        var about = name + ": " + role.rawValue
        if role != .input {
            let bias = Int(plan.biasParameter[unit])
            about += ", " + plan.activations[unit].name + (bias >= 0 ? ", bias " + NumberText.short(plan.parameters[bias]) : ", no bias")
        }
        let fill = role == .input ? "#dbe9f6" : role == .output ? "#fde3c8" : "#fff"
        var group = XMLElement("g", ["class": "unit", "data-unit": name, "data-role": role.rawValue, "data-column": String(column)], [
            .element(XMLElement("title", text: about)),
            .element(XMLElement("circle", ["cx": SVG.number(centre.x), "cy": SVG.number(centre.y), "r": SVG.number(layout.radius),
                                           "fill": fill, "stroke": "#333"])),
        ])
        let font = SVG.number(layout.font)
        if layout.labelsBeside {
            // Inputs labelled on their left, every other column on the right: away from the edges
            // that arrive from the left.
            let onLeft = column == 0 && lastColumn > 0
            let x = centre.x + (onLeft ? -1 : 1) * (layout.radius + 4)
            group.append(XMLElement("text", ["class": "name", "x": SVG.number(x), "y": SVG.number(centre.y), "dy": "0.32em",
                                             "text-anchor": onLeft ? "end" : "start", "font-size": font], text: name))
        } else {
            let below = centre.y + layout.radius + layout.font + 2
            group.append(XMLElement("text", ["class": "name", "x": SVG.number(centre.x), "y": SVG.number(below),
                                             "text-anchor": "middle", "font-size": font], text: name))
            if role != .input {
                group.append(XMLElement("text", ["class": "activation", "x": SVG.number(centre.x), "y": SVG.number(below + layout.font + 1),
                                                 "text-anchor": "middle", "font-size": SVG.number(layout.font - 1), "fill": "#555"],
                                        text: plan.activations[unit].name))
            }
        }
        return group
    }

    private static func count(_ value: Int, _ noun: String) -> String { String(value) + " " + noun + (value == 1 ? "" : "s") }

    /// Sizes for a drawing whose fullest column has `rows` units: roomy with the name and
    /// activation under each unit up to a dozen rows, compact with the name beside it beyond.
    private struct Layout {
        let radius, rowSpacing, columnSpacing, font, thinnestEdge, widestEdge, top, bottom: Double
        let edgeOpacity: String
        let labelsBeside: Bool

        init(rows: Int) {
            labelsBeside = rows > 12
            if labelsBeside {
                (radius, rowSpacing, columnSpacing, font) = (6, 20, 240, 9)
                (thinnestEdge, widestEdge, edgeOpacity) = (0.3, 2, "0.5")
                (top, bottom) = (16, 16)
            } else {
                (radius, rowSpacing, columnSpacing, font) = (16, 72, 180, 11)
                (thinnestEdge, widestEdge, edgeOpacity) = (0.5, 4, "0.8")
                (top, bottom) = (28, 16 + 2 * 11 + 8)
            }
        }

        /// A label's width, estimated at 0.6 em a character (sans-serif averages less).
        func labelWidth(_ text: String) -> Double { Double(text.count) * font * 0.6 }

        /// Room beside an outer column for its widest label: all of it when labels sit beside
        /// the units, half when they are centred under them.
        func margin(label: Double) -> Double {
            labelsBeside ? radius + 4 + label + 12 : max(radius + 24, label / 2 + 12)
        }
    }
}
