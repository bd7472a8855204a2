import BPC
import Foundation
import Testing

/// A 2-2-1 network with a skip edge and four samples: 7 weights and 3 biases, few enough that
/// the report derives every parameter.
private let smallSpec = """
    bpc: 1
    name: small
    description: a 2-2-1 network with a skip edge
    defaults: {activation: sigmoid, bias: true}
    units:
      - {name: x1, role: input}
      - {name: x2, role: input}
      - {name: h, count: 2, activation: tanh}
      - {name: y, role: output}
    edges:
      - {from: [x1, x2], to: h}
      - {from: h, to: y}
      - {from: x1, to: y, weight: 0.1}
    loss: binary_cross_entropy
    init: {seed: 3}
    data:
      samples:
        - {in: [0, 0], out: [0]}
        - {in: [0, 1], out: [1]}
        - {in: [1, 0], out: [1]}
        - {in: [1, 1], out: [0]}
    train: {epochs: 50, learning_rate: 0.5}
    """

private func section(_ page: ParsedElement, _ id: String) throws -> ParsedElement {
    try #require(page.descendants("section", matching: ["id": id]).first, "no section \(id)")
}

/// The cells of every row of `table`, header first.
private func cells(_ table: ParsedElement) -> [[String]] {
    table.descendants("tr").map { row in row.children.map(\.allText) }
}

/// Tags HTML would read differently from XML: `<name .../>` outside SVG and MathML for an
/// element that is not void (HTML ignores the slash and leaves the element open).
private func selfClosedHTMLElements(_ html: String) throws -> [String] {
    let void: Set<String> = ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"]
    let tag = try NSRegularExpression(pattern: #"<(/?)([A-Za-z][A-Za-z0-9:-]*)[^>]*?(/?)>"#)
    var foreignDepth = 0
    var found: [String] = []
    for match in tag.matches(in: html, range: NSRange(html.startIndex..., in: html)) {
        guard let closingRange = Range(match.range(at: 1), in: html), let nameRange = Range(match.range(at: 2), in: html),
              let selfClosingRange = Range(match.range(at: 3), in: html) else { continue }
        let name = String(html[nameRange]), closing = !html[closingRange].isEmpty, selfClosing = !html[selfClosingRange].isEmpty
        let switchesContent = name == "svg" || name == "math"
        if closing {
            if switchesContent { foreignDepth -= 1 }
        } else if selfClosing {
            if foreignDepth == 0 && !switchesContent && !void.contains(name) { found.append(name) }
        } else if switchesContent {
            foreignDepth += 1
        }
    }
    return found
}

@Suite("HTML report")
struct ReportTests {
    @Test("a trained network's report is one self-contained XHTML page with the drawing, loss curve, tables and MathML derivations")
    func wholePage() throws {
        var model = try Model(yaml: smallSpec)
        let result = try model.train()
        let html = try model.report(training: result).html()
        #expect(html.hasPrefix("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\" xml:lang=\"en\"><head><meta charset=\"utf-8\"/>"))
        let page = try parseXML(html)
        #expect(page.name == "html")
        #expect(page.descendants("title").first?.text == "Network small")
        #expect(page.descendants("p", class: "description").first?.text == "a 2-2-1 network with a skip edge")

        // Nothing from elsewhere: no scripts, no sources, links only inside the page, and the
        // only URLs are the three namespaces.
        #expect(page.descendants("script").isEmpty)
        let namespaces: Set<String> = ["http://www.w3.org/1999/xhtml", "http://www.w3.org/2000/svg", "http://www.w3.org/1998/Math/MathML"]
        func check(_ element: ParsedElement) {
            for (name, value) in element.attributes {
                #expect(name != "src" && name != "style", "<\(element.name) \(name)=...>")
                if name == "href" { #expect(value.hasPrefix("#"), "link out of the page: \(value)") }
                if value.contains("://") { #expect(name == "xmlns" && namespaces.contains(value), "\(name)=\(value)") }
            }
            element.children.forEach(check)
        }
        check(page)
        let ids = Set(page.descendants("section").compactMap { $0.attributes["id"] })
        for link in page.descendants("nav").first?.descendants("a") ?? [] {
            #expect(ids.contains(String(link.attributes["href"]?.dropFirst() ?? "")), "dangling link \(link.attributes["href"] ?? "")")
        }

        let summary = try section(page, "summary").descendants("dd").map(\.text)
        #expect(summary.contains("5 units, 7 edges, 10 parameters"))
        #expect(summary.contains("binary_cross_entropy"))
        #expect(summary.contains { $0.hasPrefix("50 epochs in ") })

        let network = try #require(try section(page, "network").descendants("svg").first)
        #expect(network.attributes["xmlns"] == "http://www.w3.org/2000/svg")
        #expect(network.descendants("g", class: "unit").count == 5)
        #expect(network.descendants("line", class: "edge").count == 7)

        let plot = try #require(try section(page, "loss").descendants("svg").first)
        #expect(plot.attributes["class"] == "loss-plot")
        #expect(plot.descendants("g", matching: ["class": "series", "data-series": "training"]).first?.attributes["data-points"] == "50")

        let outputs = cells(try #require(try section(page, "outputs").descendants("table").first))
        #expect(outputs.first == ["#", "input (x1, x2)", "output (y)", "target"])
        #expect(outputs.count == 5)
        #expect(outputs[2][0...1] == ["2", "0, 1"] && outputs[2][3] == "1")
        #expect(outputs[2][2] == NumberText.short(try model.predict([0, 1])[0]))

        let parameters = cells(try #require(try section(page, "parameters").descendants("table").first))
        #expect(parameters.dropFirst().map { $0[0] } == model.parameterKeys)
        #expect(parameters.dropFirst().map { $0[1] } == model.parameters.map { NumberText.short($0) })

        let derivations = try section(page, "derivations").descendants("section", class: "derivation")
        #expect(derivations.compactMap { $0.attributes["data-key"] } == model.parameterKeys)
        for derivation in derivations {
            let formulas = derivation.descendants("math")
            #expect(!formulas.isEmpty, "no MathML for \(derivation.attributes["data-key"] ?? "")")
            #expect(formulas.allSatisfy { $0.attributes["xmlns"] == "http://www.w3.org/1998/Math/MathML" })
            #expect(!derivation.descendants("mfrac").isEmpty)
        }
    }

    @Test("names with <, &, \" and ' from the spec and the plan are escaped everywhere on the page")
    func hostileNames() throws {
        let spec = smallSpec
            .replacingOccurrences(of: "name: small", with: #"name: "<net & 'co' \"q\">""#)
            .replacingOccurrences(of: "description: a 2-2-1 network with a skip edge", with: #"description: "<b>bold</b> & \"quoted\"""#)
        let compiled = try Model(yaml: spec)
        let specHTML = try compiled.report().html()
        #expect(!specHTML.contains("<b>") && !specHTML.contains("<net"))
        let specPage = try parseXML(specHTML)
        #expect(specPage.descendants("title").first?.text == #"Network <net & 'co' "q">"#)
        #expect(specPage.descendants("p", class: "description").first?.text == #"<b>bold</b> & "quoted""#)
        // Unit names in a spec are identifiers; a plan file's may be anything.
        let hostile = ["x<1>", "a&b", #"h"0""#, "h'1", "</html>"]
        var plan = compiled.plan
        plan.unitNames = hostile
        var model = try Model(.plan(plan))
        model.trainingData = compiled.trainingData
        let result = try model.train()
        let html = try model.report(training: result).html()
        for raw in ["<1>", "a&b", "<net"] { #expect(!html.contains(raw), "unescaped \(raw)") }
        #expect(html.components(separatedBy: "</html>").count == 2, "</html> only as the end tag")

        let page = try parseXML(html)
        #expect(page.descendants("h1").first?.text == #"Network <net & 'co' "q">"#)
        #expect(page.descendants("g", class: "unit").compactMap { $0.attributes["data-unit"] } == hostile)
        let tooltips = page.descendants("line", class: "edge").compactMap { $0.descendants("title").first?.text }
        #expect(tooltips.contains { $0.hasPrefix(#"x<1>->h"0" = "#) })
        let keys = cells(try #require(try section(page, "parameters").descendants("table").first)).dropFirst().map { $0[0] }
        #expect(keys == model.parameterKeys)
        #expect(keys.contains("</html>.bias"))
        #expect(try section(page, "outputs").descendants("th")[1].text == #"input (x<1>, a&b)"#)
        let derivations = try section(page, "derivations").descendants("section", class: "derivation")
        #expect(derivations.compactMap { $0.attributes["data-key"] } == model.parameterKeys)
        #expect(derivations.contains { $0.descendants("mi").contains { $0.text == "h'1" } })
    }

    @Test("empty HTML elements get an end tag, only void elements, SVG and MathML self-close, and math gets its namespace")
    func polyglotSerialisation() throws {
        let model = try Model(yaml: smallSpec)
        let fragment = BPCExplain.XMLElement("div", [], [
            .element(BPCExplain.XMLElement("math", [], [.element(BPCExplain.XMLElement("mi", text: "x"))])),
            .element(BPCExplain.XMLElement("p")),
            .element(BPCExplain.XMLElement("math", [], [.element(BPCExplain.XMLElement("mspace"))])),
        ])
        let report = Report(plan: model.plan, derivations: [Report.ParameterDerivation(key: "x1->h[0]", content: fragment)])
        let html = report.html()
        #expect(try selfClosedHTMLElements(html) == [])
        #expect(html.contains("<p></p>"))
        #expect(html.contains("<mspace/>"))
        #expect(html.contains(#"<math xmlns="http://www.w3.org/1998/Math/MathML"><mi>x</mi></math>"#))
        // A fragment without a heading of its own is headed by its key.
        #expect(html.contains(#"<h3><code>x1-&gt;h[0]</code></h3><div>"#))
        let style = try #require(try parseXML(html).descendants("style").first?.text)
        #expect(!style.isEmpty && !style.contains("<") && !style.contains("&"), "HTML and XML would read the style sheet differently")
    }

    @Test("an untrained network's report says so, without a loss plot, and still derives its parameters")
    func untrained() throws {
        let model = try Model(yaml: smallSpec)
        let page = try parseXML(try model.report().html())
        #expect(try section(page, "loss").descendants("p", class: "note").first?.text == "Not trained: no loss per epoch to plot.")
        #expect(page.descendants("svg").count == 1)
        #expect(try section(page, "summary").descendants("dd").last?.text == "not trained; the parameters are the initial ones")
        #expect(try section(page, "derivations").descendants("section", class: "derivation").count == 10)
    }

    @Test("a network of more than 40 parameters derives only the keys asked for")
    func chosenDerivations() throws {
        let spec = """
            bpc: 1
            units:
              - {name: x, role: input, count: 7}
              - {name: y, role: output, count: 6}
            edges:
              - {from: x, to: y}
            loss: half_squared_error
            data:
              samples:
                - {in: [0, 1, 0, 1, 0, 1, 0], out: [1, 0, 1, 0, 1, 0]}
            """
        let model = try Model(yaml: spec)
        #expect(model.parameterKeys.count > Model.reportDerivesEveryParameterUpTo)
        #expect(try model.report().derivations.isEmpty)
        let chosen = try model.report(explaining: ["x[3]->y[5]", "x[0]->y[0]"])
        #expect(chosen.derivations.map(\.key) == ["x[3]->y[5]", "x[0]->y[0]"])
        let page = try parseXML(chosen.html())
        #expect(try section(page, "derivations").descendants("section", class: "derivation").count == 2)
    }

    @Test("an unknown key is refused with the closest key, and derivations without samples with noData")
    func refusals() throws {
        var model = try Model(yaml: smallSpec)
        #expect(throws: ModelError.unknownParameter(key: "h[0].bais", closest: "h[0].bias")) { try model.report(explaining: ["h[0].bais"]) }
        model.trainingData = nil
        #expect(throws: ModelError.noData) { try model.report(explaining: ["y.bias"]) }
        #expect(try model.report().predictions == nil)
    }
}

/// A chain with a skip edge, an output in the middle that feeds on, and weights of every sign.
private let columnsSpec = """
    bpc: 1
    units:
      - {name: x, role: input}
      - {name: h, activation: tanh}
      - {name: o1, role: output}
      - {name: g}
      - {name: o2, role: output}
      - {name: s, role: output, activation: identity}
    edges:
      - {from: x, to: h, weight: 0.5}
      - {from: h, to: o1, weight: -2}
      - {from: o1, to: g, weight: 0}
      - {from: g, to: o2, weight: 1}
      - {from: x, to: s, weight: -0.25}
    loss: half_squared_error
    """

@Suite("network drawing")
struct NetworkDrawingTests {
    @Test("units stand in columns by depth, and outputs that feed nothing move to the right edge")
    func columns() throws {
        let svg = try parseXML(NetworkDrawing(plan: try Model(yaml: columnsSpec).plan).document())
        let units = svg.descendants("g", class: "unit")
        let columns = Dictionary(uniqueKeysWithValues: units.map { ($0.attributes["data-unit"] ?? "", $0.attributes["data-column"] ?? "") })
        #expect(columns == ["x": "0", "h": "1", "o1": "2", "g": "3", "o2": "4", "s": "4"])
        #expect(units.first { $0.attributes["data-unit"] == "s" }?.descendants("text", class: "activation").first?.text == "identity")
        #expect(units.first { $0.attributes["data-unit"] == "h" }?.descendants("title").first?.text == "h: hidden, tanh, no bias")
        #expect(svg.attributes["data-drawn"] == "all")
    }

    @Test("edges are coloured by the weight's sign, wider for larger |w|, with a from->to = w tooltip")
    func edges() throws {
        let svg = try parseXML(NetworkDrawing(plan: try Model(yaml: columnsSpec).plan).document())
        var edges: [String: (sign: String, width: Double)] = [:]
        for line in svg.descendants("line", class: "edge") {
            let title = try #require(line.descendants("title").first?.text)
            let parts = title.components(separatedBy: " = ")
            try #require(parts.count == 2, "tooltip \(title)")
            edges[parts[0]] = (String(line.attributes["class"]?.dropFirst("edge ".count) ?? ""), Double(line.attributes["stroke-width"] ?? "") ?? 0)
            #expect(Double(parts[1]) == ["x->h": 0.5, "h->o1": -2, "o1->g": 0, "g->o2": 1, "x->s": -0.25][parts[0]], "\(title)")
        }
        #expect(edges.mapValues(\.sign) == ["x->h": "positive", "h->o1": "negative", "o1->g": "zero", "g->o2": "positive", "x->s": "negative"])
        let widths = ["h->o1", "g->o2", "x->h", "x->s", "o1->g"].compactMap { edges[$0]?.width }
        #expect(widths == widths.sorted(by: >) && Set(widths).count == 5, "\(widths)")
    }

    @Test("past 3000 edges only the units are drawn, past 300 units only a note")
    func largeNetworks() throws {
        func spec(inputs: Int, hidden: Int) -> String {
            """
            bpc: 1
            units:
              - {name: x, role: input, count: \(inputs)}
              - {name: h, count: \(hidden)}
              - {name: y, role: output}
            edges:
              - {from: x, to: h}
              - {from: h, to: y}
            loss: half_squared_error
            """
        }
        let dense = try parseXML(NetworkDrawing(plan: try Model(yaml: spec(inputs: 60, hidden: 51)).plan).document())
        #expect(dense.attributes["data-drawn"] == "units")
        #expect(dense.descendants("line").isEmpty)
        #expect(dense.descendants("g", class: "unit").count == 112)
        #expect(dense.descendants("text", class: "note").first?.text == "3111 edges: more than 3000, so only the units are drawn")

        let huge = try parseXML(NetworkDrawing(plan: try Model(yaml: spec(inputs: 299, hidden: 1)).plan).document())
        #expect(huge.attributes["data-drawn"] == "none")
        #expect(huge.descendants("g", class: "unit").isEmpty)
        #expect(huge.descendants("text", class: "note").first?.text.hasPrefix("Network spec: 301 units, 300 edges") == true)
    }
}
