import BPC
import Foundation
import Testing

/// The plot read back as XML: every test below asserts on the parsed document.
private func parsedPlot(_ series: [(name: String, values: [Double])]) throws -> ParsedElement {
    let document = LossPlot(series: series).document()
    #expect(document.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\""))
    return try parseXML(document)
}

private func axis(_ svg: ParsedElement, _ name: String) throws -> ParsedElement {
    try #require(svg.descendants("g", matching: ["class": "axis", "data-axis": name]).first)
}

private func tickLabels(_ svg: ParsedElement, axis name: String) throws -> [String] {
    try axis(svg, name).descendants("g", class: "tick").map { $0.descendants("text").first?.text ?? "" }
}

/// The tick labels read as numbers (`1e-8` and `0.00000001` alike).
private func tickValues(_ svg: ParsedElement, axis name: String) throws -> [Double] {
    try tickLabels(svg, axis: name).map { label in try #require(Double(label), "tick label \(label) is not a number") }
}

/// Where the tick labelled `value` is drawn: its x on the x axis, its y on the y axis.
private func tickPosition(_ svg: ParsedElement, axis name: String, value: Double) throws -> Double {
    let tick = try #require(try axis(svg, name).descendants("g", class: "tick").first { tick in
        Double(tick.descendants("text").first?.text ?? "").map { abs($0 - value) <= 1e-12 * abs(value) } ?? false
    }, "no tick at \(value)")
    let line = try #require(tick.descendants("line").first)
    return try #require(Double(line.attributes[name == "x" ? "x1" : "y1"] ?? ""))
}

private func series(_ svg: ParsedElement, _ name: String) throws -> ParsedElement {
    try #require(svg.descendants("g", matching: ["class": "series", "data-series": name]).first, "no series \(name)")
}

/// The vertices of a series' polyline.
private func points(_ series: ParsedElement) throws -> [(x: Double, y: Double)] {
    let text = try #require(series.descendants("polyline").first?.attributes["points"])
    return try text.split(separator: " ").map { pair in
        let numbers = pair.split(separator: ",").compactMap { Double($0) }
        try #require(numbers.count == 2, "not a point: \(pair)")
        return (numbers[0], numbers[1])
    }
}

@Suite("loss plot")
struct LossPlotTests {
    @Test("a plot has two axes with 1-2-5 tick labels and titles, a legend, and one line per series")
    func anatomy() throws {
        let train = (0..<50).map { 1.0 - 0.015 * Double($0) }
        let test = (0..<30).map { 1.1 - 0.02 * Double($0) }
        let svg = try parsedPlot([("train", train), ("test", test)])
        #expect(svg.name == "svg")
        #expect(svg.attributes["viewBox"] == "0 0 640 400")
        #expect(svg.attributes["data-scale"] == "linear")
        #expect(try tickLabels(svg, axis: "x") == ["10", "20", "30", "40", "50"])
        #expect(try tickLabels(svg, axis: "y") == ["0.2", "0.4", "0.6", "0.8", "1", "1.2"])
        #expect(svg.descendants("text", class: "axis-title").map(\.text) == ["epoch", "loss"])
        #expect(try points(series(svg, "train")).count == 50)
        #expect(try points(series(svg, "test")).count == 30)
        let legend = try #require(svg.descendants("g", class: "legend").first)
        let entries = legend.descendants("g", class: "legend-entry")
        #expect(entries.map { $0.attributes["data-series"] } == ["train", "test"])
        #expect(entries.map { $0.descendants("text").first?.text } == ["train", "test"])
        let colours = try ["train", "test"].map { try series(svg, $0).descendants("polyline").first?.attributes["stroke"] }
        #expect(colours[0] != colours[1])
        #expect(entries.map { $0.descendants("line").first?.attributes["stroke"] } == colours)
        // Epoch 1 of both series starts at the left end, epoch 30 of the test loss under tick 30.
        let xOf30 = try tickPosition(svg, axis: "x", value: 30)
        #expect(try abs(points(series(svg, "test"))[29].x - xOf30) < 0.1)
        #expect(try points(series(svg, "train"))[0].x == points(series(svg, "test"))[0].x)
    }

    @Test("a loss spanning two decades or more gets a log axis with a tick on every decade")
    func logarithmicScale() throws {
        let svg = try parsedPlot([("train", (0...40).map { pow(10, -Double($0) / 10) })])
        #expect(svg.attributes["data-scale"] == "log")
        #expect(try axis(svg, "y").attributes["data-scale"] == "log")
        #expect(try tickValues(svg, axis: "y") == [0.0001, 0.001, 0.01, 0.1, 1])
        #expect(svg.descendants("text", class: "axis-title").last?.text == "loss (log scale)")
        // Decades are evenly spaced, and epoch 21 (loss 0.01) sits on the 0.01 tick.
        let positions = try [0.0001, 0.001, 0.01, 0.1, 1].map { try tickPosition(svg, axis: "y", value: $0) }
        for (lower, upper) in zip(positions, positions.dropFirst()) { #expect(abs((lower - upper) - (positions[0] - positions[1])) < 0.2) }
        #expect(try abs(points(series(svg, "train"))[20].y - positions[2]) < 0.1)
    }

    @Test("past eight decades the log axis labels every second decade")
    func manyDecades() throws {
        let svg = try parsedPlot([("train", [1000, 1, 1e-12])])
        #expect(try tickValues(svg, axis: "y") == [1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 0.01, 1, 100, 10000])
    }

    @Test("a loss within two decades, or one that reaches zero, stays on a linear axis")
    func linearScale() {
        #expect(LossPlot(series: [("train", [1, 0.5, 0.02])]).scale == .linear)
        #expect(LossPlot(series: [("train", [1, 0.5, 0])]).scale == .linear)
        #expect(LossPlot(series: [("train", [1, 0.01])]).scale == .logarithmic)
        #expect(LossPlot(series: [("train", [1]), ("test", [0.001])]).scale == .logarithmic)
    }

    @Test("a flat series is drawn inside the axis with room around its value")
    func flatSeries() throws {
        let svg = try parsedPlot([("train", Array(repeating: 0.5, count: 10))])
        #expect(try tickLabels(svg, axis: "y") == ["0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8"])
        let drawn = try points(series(svg, "train"))
        #expect(drawn.count == 10)
        let half = try tickPosition(svg, axis: "y", value: 0.5)
        #expect(drawn.allSatisfy { $0.y == half })
    }

    @Test("a single epoch is a dot above the one tick of the x axis")
    func singlePoint() throws {
        let svg = try parsedPlot([("train", [0.3])])
        #expect(try tickLabels(svg, axis: "x") == ["1"])
        let line = try series(svg, "train")
        #expect(line.attributes["data-points"] == "1")
        let dot = try #require(line.descendants("circle").first)
        #expect(Double(dot.attributes["cx"] ?? "") == (try tickPosition(svg, axis: "x", value: 1)))
        #expect(line.descendants("polyline").isEmpty)
    }

    @Test("values that are not finite are left out and the others keep their epochs")
    func nonFiniteValues() throws {
        let document = LossPlot(series: [("train", [1, .nan, 0.5, .infinity, 0.25, -.infinity])]).document()
        #expect(!document.contains("nan") && !document.contains("inf"))
        let svg = try parseXML(document)
        let line = try series(svg, "train")
        #expect(line.attributes["data-points"] == "3")
        let xs = try points(line).map(\.x)
        #expect(try xs == [1, 3, 5].map { try tickPosition(svg, axis: "x", value: $0) })
    }

    @Test("a series without any finite value draws empty axes and says so")
    func nothingFinite() throws {
        let svg = try parsedPlot([("train", [.nan, .infinity])])
        #expect(svg.descendants("text", class: "note").first?.text == "no finite loss values to plot")
        #expect(try series(svg, "train").attributes["data-points"] == "0")
        #expect(svg.descendants("polyline").isEmpty && svg.descendants("circle").isEmpty)
    }

    @Test("a hundred thousand epochs keep the lowest and highest value per pixel column and stay small")
    func thinning() throws {
        var values = (1...100_000).map { 2 - Double($0) / 100_000 }
        values[54_320] = 3
        let document = LossPlot(series: [("train", values)]).document()
        #expect(document.utf8.count < 20_000, "\(document.utf8.count) bytes")
        let svg = try parseXML(document)
        let drawn = try points(series(svg, "train"))
        #expect(drawn.count <= 2 * 552)
        #expect(zip(drawn, drawn.dropFirst()).allSatisfy { $0.x <= $1.x }, "points out of epoch order")
        // The one-epoch spike still reaches the top tick, and the line still ends on the lowest value.
        #expect(try drawn.map(\.y).min() == tickPosition(svg, axis: "y", value: 3))
        #expect(try drawn.last?.y == tickPosition(svg, axis: "y", value: 1))
        #expect(try drawn.last?.x == tickPosition(svg, axis: "x", value: 100000))
    }

    @Test("series names with markup characters are escaped and read back unchanged")
    func hostileNames() throws {
        let name = #"a<b & "c" 'd'>"#
        let svg = try parsedPlot([(name, [1, 0.5]), ("</svg>", [0.7, 0.6])])
        #expect(try series(svg, name).attributes["data-series"] == name)
        #expect(svg.descendants("g", class: "legend-entry").map { $0.descendants("text").first?.text } == [name, "</svg>"])
        #expect(svg.descendants("svg").isEmpty)
    }
}
