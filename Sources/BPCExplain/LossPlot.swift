import BPCEmit
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Loss per epoch as an SVG chart (what `bpc run --plot` writes and the report shows): one line
/// per series, axes with 1-2-5 ticks and their labels, axis titles, a legend.
///
/// Several series share the axes, so training loss and test or validation loss compare at a
/// glance. The y axis turns logarithmic by itself when every value is positive and they span two
/// decades or more, where a linear axis would press everything after the first epochs onto the
/// x axis. Values that are not finite (a diverged epoch) are left out. A series with more
/// epochs than the plot has pixel columns keeps, per column, its lowest and highest value, so a
/// run of 100 000 epochs stays under 20 kB and a one-epoch spike still shows.
///
/// Every element a reader or a test looks for is marked: `<g class="series"
/// data-series="NAME">` per series, `<g class="axis" data-axis="x">` (and `y`) with a
/// `<g class="tick">` per labelled tick, `<text class="axis-title">`, `<g class="legend">`, and
/// `data-scale="linear"` or `"log"` on the root.
public struct LossPlot: Sendable, Equatable {
    /// One line of the plot.
    public struct Series: Sendable, Equatable {
        /// The legend's text and the series' `data-series` attribute.
        public var name: String
        /// One value per epoch, epoch 1 first.
        public var values: [Double]

        public init(name: String, values: [Double]) {
            self.name = name
            self.values = values
        }
    }

    public enum Scale: String, Sendable {
        case linear
        case logarithmic = "log"
    }

    public var series: [Series]
    /// The heading drawn above the plot, also the SVG's `<title>`.
    public var title: String

    public init(series: [Series], title: String = "Loss per epoch") {
        self.series = series
        self.title = title
    }

    public init(series: [(name: String, values: [Double])], title: String = "Loss per epoch") {
        self.init(series: series.map { Series(name: $0.name, values: $0.values) }, title: title)
    }

    /// Logarithmic when every finite value is positive and the largest is at least 100 times
    /// the smallest; linear otherwise (a loss of exactly 0 has no place on a log axis).
    public var scale: Scale {
        guard let range = valueRange, range.lower > 0, range.upper / range.lower >= 100 else { return .linear }
        return .logarithmic
    }

    /// The standalone file: an XML declaration and the `<svg>` element.
    public func document() -> String { SVG.document(svg()) }

    /// The chart as an `<svg>` element, to write as a file or to place in an XHTML page.
    public func svg() -> XMLElement {
        let frame = Frame()
        let xAxis = epochAxis
        let yAxis = lossAxis
        var children = [
            XMLElement("text", ["class": "title", "x": SVG.number(frame.width / 2), "y": "22",
                                "text-anchor": "middle", "font-size": "14"], text: title),
            xAxisElement(xAxis, frame: frame),
            yAxisElement(yAxis, frame: frame),
        ]
        children += series.enumerated().map { index, series in
            seriesElement(series, color: Self.palette[index % Self.palette.count], xAxis: xAxis, yAxis: yAxis, frame: frame)
        }
        if valueRange == nil {
            children.append(XMLElement("text", ["class": "note", "x": SVG.number((frame.left + frame.right) / 2),
                                                "y": SVG.number((frame.top + frame.bottom) / 2), "text-anchor": "middle",
                                                "fill": "#555"], text: "no finite loss values to plot"))
        }
        if !series.isEmpty { children.append(legend(frame: frame)) }
        return SVG.root(width: frame.width, height: frame.height, class: "loss-plot", title: title,
                        [XMLAttribute("data-scale", scale.rawValue)], children)
    }

    // MARK: Scales

    /// Line colours, distinguishable with the common colour-vision deficiencies; series beyond
    /// eight reuse them in order.
    private static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]

    /// The smallest and largest finite value over every series; nil when there is none.
    private var valueRange: (lower: Double, upper: Double)? {
        var range: (lower: Double, upper: Double)?
        for series in series {
            for value in series.values where value.isFinite {
                range = (min(range?.lower ?? value, value), max(range?.upper ?? value, value))
            }
        }
        return range
    }

    /// Epochs 1 to the longest series' last, ticks on whole epochs; a single epoch sits in the
    /// middle of the axis.
    private var epochAxis: PlotAxis {
        let epochs = series.map(\.values.count).max() ?? 0
        guard epochs > 1 else { return PlotAxis.linear(lower: 0.5, upper: 1.5, wholeNumbers: true) }
        return PlotAxis.linear(lower: 1, upper: Double(epochs), wholeNumbers: true)
    }

    /// The loss axis, widened to whole ticks (or whole decades); a flat series gets room
    /// around its value instead of a zero-height axis.
    private var lossAxis: PlotAxis {
        guard let range = valueRange else { return PlotAxis.linear(lower: 0, upper: 1, wholeNumbers: false) }
        if scale == .logarithmic { return PlotAxis.decades(covering: range.lower, range.upper) }
        var (lower, upper) = range
        if lower == upper {
            let room = lower == 0 ? 1 : abs(lower) / 2
            lower = lower >= 0 ? max(0, lower - room) : lower - room
            upper += room
        }
        return PlotAxis.linear(lower: lower, upper: upper, wholeNumbers: false).widenedToTicks()
    }

    // MARK: Drawing

    /// The canvas and the plot area inside it, in SVG user units (y grows downwards).
    private struct Frame {
        let width = 640.0, height = 400.0
        let left = 72.0, right = 624.0, top = 36.0, bottom = 344.0

        func x(_ fraction: Double) -> Double { left + fraction * (right - left) }
        func y(_ fraction: Double) -> Double { bottom - fraction * (bottom - top) }
    }

    private func xAxisElement(_ axis: PlotAxis, frame: Frame) -> XMLElement {
        var group = XMLElement("g", ["class": "axis", "data-axis": "x", "data-scale": "linear"])
        group.append(XMLElement("line", ["class": "axis-line", "x1": SVG.number(frame.left), "y1": SVG.number(frame.bottom),
                                         "x2": SVG.number(frame.right), "y2": SVG.number(frame.bottom), "stroke": "#333"]))
        for tick in axis.ticks {
            let x = SVG.number(frame.x(axis.fraction(tick)))
            group.append(XMLElement("g", ["class": "tick", "data-value": NumberText.short(tick)], [
                .element(XMLElement("line", ["class": "grid", "x1": x, "y1": SVG.number(frame.top), "x2": x,
                                             "y2": SVG.number(frame.bottom), "stroke": "#e4e4e4"])),
                .element(XMLElement("line", ["x1": x, "y1": SVG.number(frame.bottom), "x2": x,
                                             "y2": SVG.number(frame.bottom + 5), "stroke": "#333"])),
                .element(XMLElement("text", ["x": x, "y": SVG.number(frame.bottom + 19), "text-anchor": "middle"],
                                    text: NumberText.short(tick))),
            ]))
        }
        group.append(XMLElement("text", ["class": "axis-title", "x": SVG.number((frame.left + frame.right) / 2),
                                         "y": SVG.number(frame.bottom + 40), "text-anchor": "middle"], text: "epoch"))
        return group
    }

    private func yAxisElement(_ axis: PlotAxis, frame: Frame) -> XMLElement {
        var group = XMLElement("g", ["class": "axis", "data-axis": "y", "data-scale": scale.rawValue])
        group.append(XMLElement("line", ["class": "axis-line", "x1": SVG.number(frame.left), "y1": SVG.number(frame.top),
                                         "x2": SVG.number(frame.left), "y2": SVG.number(frame.bottom), "stroke": "#333"]))
        for tick in axis.ticks {
            let y = SVG.number(frame.y(axis.fraction(tick)))
            group.append(XMLElement("g", ["class": "tick", "data-value": NumberText.short(tick)], [
                .element(XMLElement("line", ["class": "grid", "x1": SVG.number(frame.left), "y1": y,
                                             "x2": SVG.number(frame.right), "y2": y, "stroke": "#e4e4e4"])),
                .element(XMLElement("line", ["x1": SVG.number(frame.left - 5), "y1": y, "x2": SVG.number(frame.left),
                                             "y2": y, "stroke": "#333"])),
                .element(XMLElement("text", ["x": SVG.number(frame.left - 8), "y": y, "dy": "0.32em", "text-anchor": "end"],
                                    text: NumberText.short(tick))),
            ]))
        }
        let middle = SVG.number((frame.top + frame.bottom) / 2)
        group.append(XMLElement("text", ["class": "axis-title", "x": "18", "y": middle, "text-anchor": "middle",
                                         "transform": "rotate(-90 18 " + middle + ")"],
                                text: scale == .logarithmic ? "loss (log scale)" : "loss"))
        return group
    }

    /// A series' line, or a dot when it has one finite value.
    private func seriesElement(_ series: Series, color: String, xAxis: PlotAxis, yAxis: PlotAxis, frame: Frame) -> XMLElement {
        var points: [(x: Double, y: Double)] = []
        for (index, value) in series.values.enumerated() where value.isFinite {
            points.append((frame.x(xAxis.fraction(Double(index + 1))), frame.y(yAxis.fraction(value))))
        }
        let finiteCount = points.count
        points = Self.thinned(points, columns: Int(frame.right - frame.left))
        let last = series.values.last(where: { $0.isFinite }).map { ", last " + NumberText.short($0) } ?? ""
        var group = XMLElement("g", ["class": "series", "data-series": series.name, "data-points": String(finiteCount)], [
            .element(XMLElement("title", text: series.name + ": " + String(series.values.count) + " epochs" + last)),
        ])
        if points.count == 1, let point = points.first {
            group.append(XMLElement("circle", ["cx": SVG.number(point.x), "cy": SVG.number(point.y), "r": "3", "fill": color]))
        } else if points.count > 1 {
            let text = points.map { SVG.number($0.x) + "," + SVG.number($0.y) }.joined(separator: " ")
            group.append(XMLElement("polyline", ["points": text, "fill": "none", "stroke": color, "stroke-width": "1.5",
                                                 "stroke-linejoin": "round"]))
        }
        return group
    }

    /// `points` (in x order) as drawn on `columns` pixel columns: unchanged when there are
    /// at most two per column, else per column the lowest and the highest, in x order.
    ///
    /// - Complexity: O(points).
    static func thinned(_ points: [(x: Double, y: Double)], columns: Int) -> [(x: Double, y: Double)] {
        guard points.count > 2 * columns, let first = points.first, let last = points.last, last.x > first.x else { return points }
        let perColumn = Double(columns) / (last.x - first.x)
        let column = { (point: (x: Double, y: Double)) in min(columns - 1, Int((point.x - first.x) * perColumn)) }
        var kept: [(x: Double, y: Double)] = []
        var start = 0
        while start < points.count {
            let current = column(points[start])
            var low = start, high = start, end = start + 1
            while end < points.count, column(points[end]) == current {
                // Screen y grows downwards: the highest loss has the smallest y.
                if points[end].y > points[low].y { low = end }
                if points[end].y < points[high].y { high = end }
                end += 1
            }
            kept.append(points[min(low, high)])
            if low != high { kept.append(points[max(low, high)]) }
            start = end
        }
        return kept
    }

    private func legend(frame: Frame) -> XMLElement {
        // Text width estimated at 7 units a character (12-unit sans-serif averages less).
        let longest = series.map(\.name.count).max() ?? 0
        let width = 44 + 7 * Double(longest)
        let height = 8 + 18 * Double(series.count)
        let left = frame.right - width - 8, top = frame.top + 8
        var group = XMLElement("g", ["class": "legend"], [
            .element(XMLElement("rect", ["x": SVG.number(left), "y": SVG.number(top), "width": SVG.number(width),
                                         "height": SVG.number(height), "fill": "#fff", "fill-opacity": "0.85", "stroke": "#bbb"])),
        ])
        for (index, series) in series.enumerated() {
            let y = SVG.number(top + 13 + 18 * Double(index))
            group.append(XMLElement("g", ["class": "legend-entry", "data-series": series.name], [
                .element(XMLElement("line", ["x1": SVG.number(left + 8), "y1": y, "x2": SVG.number(left + 30), "y2": y,
                                             "stroke": Self.palette[index % Self.palette.count], "stroke-width": "2"])),
                .element(XMLElement("text", ["x": SVG.number(left + 36), "y": y, "dy": "0.32em"], text: series.name)),
            ]))
        }
        return group
    }
}

/// The values an axis shows and where its labelled ticks are.
struct PlotAxis: Equatable {
    var lower: Double
    var upper: Double
    var ticks: [Double]
    var isLogarithmic: Bool

    /// How far along the axis `value` lies: 0 at `lower`, 1 at `upper`.
    func fraction(_ value: Double) -> Double {
        guard isLogarithmic else { return (value - lower) / (upper - lower) }
        return (log10(value) - log10(lower)) / (log10(upper) - log10(lower))
    }

    /// About six ticks at multiples of a 1-2-5 step between `lower` and `upper` (whole numbers
    /// when `wholeNumbers`: no epoch 2.5).
    static func linear(lower: Double, upper: Double, wholeNumbers: Bool) -> PlotAxis {
        var step = niceStep((upper - lower) / 6)
        if wholeNumbers { step = max(1, step) }
        let first = (lower / step - 1e-9).rounded(.up), last = (upper / step + 1e-9).rounded(.down)
        let ticks = first <= last ? stride(from: first, through: last, by: 1).map { $0 * step } : []
        return PlotAxis(lower: lower, upper: upper, ticks: ticks, isLogarithmic: false)
    }

    /// The axis grown to its outermost ticks, one step out where a value lies past them, so
    /// the data never touches an unlabelled end.
    func widenedToTicks() -> PlotAxis {
        guard ticks.count >= 2, let first = ticks.first, let last = ticks.last else { return self }
        let step = ticks[1] - ticks[0]
        var widened = self
        if first > lower + 1e-9 * step { widened.ticks.insert(first - step, at: 0) }
        if last < upper - 1e-9 * step { widened.ticks.append(last + step) }
        widened.lower = widened.ticks[0]
        widened.upper = widened.ticks[widened.ticks.count - 1]
        return widened
    }

    /// Whole decades around `lower ... upper` (both positive), a tick every decade or, past
    /// eight decades, every few decades.
    static func decades(covering lower: Double, _ upper: Double) -> PlotAxis {
        // Clamped to the decades binary64 holds, so 10^d never rounds to 0 or overflows.
        let low = max(-323, Int(log10(lower).rounded(.down)))
        let high = min(308, Int(log10(upper).rounded(.up)))
        let every = max(1, (high - low + 7) / 8)
        let top = min(308, low + every * ((high - low + every - 1) / every))
        let ticks = stride(from: low, through: top, by: every).map { pow(10, Double($0)) }
        return PlotAxis(lower: pow(10, Double(low)), upper: pow(10, Double(top)), ticks: ticks, isLogarithmic: true)
    }

    /// The 1, 2 or 5 times a power of ten nearest above `raw`.
    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let magnitude = pow(10, log10(raw).rounded(.down))
        let fraction = raw / magnitude
        let nice: Double = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
        return nice * magnitude
    }
}
