import BPCEmit
import BPCPlan

/// One self-contained web page about a network (what `bpc run --report` writes): the facts of
/// the run, the network drawn with its weights, the loss curves, outputs against targets, the
/// parameter table and the derivations of chosen parameters in MathML.
///
/// The page is polyglot XHTML5: read as HTML (a browser opening the file) or as XML (a test, an
/// XSLT) it is the same document. It is built as `XMLElement`s, so every name from a spec is
/// escaped, and follows the HTML rules XML does not know: a DOCTYPE and no XML declaration,
/// empty HTML elements written with an end tag (HTML reads `<td/>` as a start tag), a
/// namespace on every `<svg>` and `<math>`, and a style sheet without `<` or `&` (HTML does not
/// decode references inside `<style>`). No scripts and no external resources: the page opens
/// offline, from a mail attachment or a CI artifact, with the same content everywhere.
///
/// The inputs are plain values, so any program can fill them; `Model.report` fills them from
/// a model and its training run.
public struct Report: Sendable {
    /// Outputs against targets for the first samples of a data set.
    public struct Predictions: Sendable, Equatable {
        public struct Row: Sendable, Equatable {
            public var input: [Double]
            public var output: [Double]
            public var target: [Double]

            public init(input: [Double], output: [Double], target: [Double]) {
                self.input = input
                self.output = output
                self.target = target
            }
        }

        public var inputNames: [String]
        public var outputNames: [String]
        public var rows: [Row]
        /// Samples in the data set: more than `rows.count` when only the first are listed.
        public var sampleCount: Int

        public init(inputNames: [String], outputNames: [String], rows: [Row], sampleCount: Int) {
            self.inputNames = inputNames
            self.outputNames = outputNames
            self.rows = rows
            self.sampleCount = sampleCount
        }
    }

    /// Mean loss and accuracy over a data set.
    public struct Score: Sendable, Equatable {
        public var samples: Int
        public var loss: Double
        public var accuracy: Double

        public init(samples: Int, loss: Double, accuracy: Double) {
            self.samples = samples
            self.loss = loss
            self.accuracy = accuracy
        }
    }

    /// What a training run did.
    public struct Summary: Sendable, Equatable {
        public var epochs: Int
        public var seconds: Double
        /// How it trained, e.g. `fast (binary64, 1 thread)`.
        public var runtime: String
        /// True when training was stopped before its last epoch.
        public var interrupted: Bool
        /// The training data after training; nil when the run trained on samples the report
        /// does not have.
        public var training: Score?
        /// Held-out samples after training, when there are any.
        public var test: Score?

        public init(epochs: Int, seconds: Double, runtime: String, interrupted: Bool, training: Score?, test: Score? = nil) {
            self.epochs = epochs
            self.seconds = seconds
            self.runtime = runtime
            self.interrupted = interrupted
            self.training = training
            self.test = test
        }
    }

    /// The derivation of one parameter: a ready-made XHTML or MathML fragment (a `Derivation`'s
    /// `explanation.xhtml`), under a heading naming the key unless the fragment opens with its own.
    public struct ParameterDerivation: Sendable, Equatable {
        public var key: String
        public var content: XMLElement

        public init(key: String, content: XMLElement) {
            self.key = key
            self.content = content
        }
    }

    /// The network; its `parameters` are the weights drawn and listed.
    public var plan: Plan
    /// The page's title and heading.
    public var title: String
    /// A sentence under the heading (a spec's `description`).
    public var description: String?
    /// Loss per epoch; the first is training loss, others (test, validation) share its axes.
    public var losses: [LossPlot.Series]
    /// Nil when the network was not trained.
    public var summary: Summary?
    public var predictions: Predictions?
    public var derivations: [ParameterDerivation]
    /// What the derivations are of (which parameters, which sample), or why there are none;
    /// the section shows when either is present.
    public var derivationsNote: String?

    /// Past this many parameters the table lists the first ones and says how many more there
    /// are: a page of a million rows helps nobody, and a saved plan holds them all.
    public static let maximumListedParameters = 5000

    public init(plan: Plan, title: String? = nil, description: String? = nil, losses: [LossPlot.Series] = [],
                summary: Summary? = nil, predictions: Predictions? = nil, derivations: [ParameterDerivation] = []) {
        self.plan = plan
        self.title = title ?? "Network " + plan.name
        self.description = description
        self.losses = losses
        self.summary = summary
        self.predictions = predictions
        self.derivations = derivations
    }

    /// The page as a file: the DOCTYPE, the `<html>` element, a final newline.
    public func html() -> String { "<!DOCTYPE html>\n" + page().serialized() + "\n" }

    /// The `<html>` element, ready to serialise.
    public func page() -> XMLElement {
        let head = XMLElement("head", [], [
            .element(XMLElement("meta", ["charset": "utf-8"])),
            .element(XMLElement("meta", ["name": "viewport", "content": "width=device-width, initial-scale=1"])),
            .element(XMLElement("meta", ["name": "generator", "content": "bpc"])),
            .element(XMLElement("title", text: title)),
            .element(XMLElement("style", text: Self.styleSheet)),
        ])
        let trained = losses.contains { !$0.values.isEmpty }
        var sections: [(id: String, heading: String, content: [XMLElement])] = [
            ("summary", "Summary", [facts()]),
            ("network", "Network", [
                figure(NetworkDrawing(plan: plan).svg(),
                       caption: "Units in columns by depth, inputs left and outputs right. Blue edges are positive weights, red ones "
                           + "negative, wider for larger |w|; hover over an edge or a unit for its values."),
            ]),
            ("loss", "Loss", [
                trained ? figure(LossPlot(series: losses).svg(), caption: "Mean " + plan.loss.name + " per epoch.")
                    : XMLElement("p", ["class": "note"], text: "Not trained: no loss per epoch to plot."),
            ]),
            ("outputs", "Outputs against targets", outputs()),
            ("parameters", "Parameters", parameterTable()),
        ]
        if !derivations.isEmpty || derivationsNote != nil { sections.append(("derivations", "Derivations", derivationEntries())) }
        var body = XMLElement("body")
        body.append(XMLElement("h1", text: title))
        if let description { body.append(XMLElement("p", ["class": "description"], text: description)) }
        body.append(XMLElement("nav", [], sections.map { .element(XMLElement("a", ["href": "#" + $0.id], text: $0.heading)) }))
        for section in sections {
            body.append(XMLElement("section", ["id": section.id], [.element(XMLElement("h2", text: section.heading))] + section.content.map { .element($0) }))
        }
        let html = XMLElement("html", ["xmlns": "http://www.w3.org/1999/xhtml", "lang": "en", "xml:lang": "en"],
                              [.element(head), .element(body)])
        return Self.polyglot(html)
    }

    // MARK: Sections

    private func figure(_ drawing: XMLElement, caption: String) -> XMLElement {
        XMLElement("figure", [], [.element(drawing), .element(XMLElement("figcaption", text: caption))])
    }

    /// The summary: the network's size, the loss, and what training did.
    private func facts() -> XMLElement {
        let size = plan.summary
        var facts = [
            ("Network", Self.count(size.units, "unit") + ", " + Self.count(size.edges, "edge") + ", " + Self.count(size.parameters, "parameter")),
            ("Loss", plan.loss.name),
        ]
        if let summary {
            facts.append(("Training", Self.count(summary.epochs, "epoch") + (summary.interrupted ? " (interrupted)" : "") + " in "
                          + NumberText.short(summary.seconds, digits: 4) + " s, " + summary.runtime + " runtime"))
            if let training = summary.training { facts.append(("Final loss", Self.score(training, of: "training"))) }
            if let test = summary.test { facts.append(("Test", Self.score(test, of: "held-out"))) }
        } else {
            facts.append(("Training", "not trained; the parameters are the initial ones"))
        }
        var list = XMLElement("dl", ["class": "facts"])
        for (term, value) in facts {
            list.append(XMLElement("dt", text: term))
            list.append(XMLElement("dd", text: value))
        }
        return list
    }

    private func derivationEntries() -> [XMLElement] {
        var entries = [XMLElement("p", text: derivationsNote ?? "How backpropagation arrives at each gradient, for one sample.")]
        for (index, derivation) in derivations.enumerated() {
            var entry = XMLElement("section", ["class": "derivation", "id": "derivation-" + String(index + 1), "data-key": derivation.key])
            if !Self.opensWithHeading(derivation.content) {
                entry.append(XMLElement("h3", [], [.element(XMLElement("code", text: derivation.key))]))
            }
            entry.append(derivation.content)
            entries.append(entry)
        }
        return entries
    }

    private static func score(_ score: Score, of kind: String) -> String {
        "loss " + NumberText.short(score.loss) + ", accuracy " + NumberText.short(score.accuracy, digits: 4)
            + " (mean over " + count(score.samples, kind + " sample") + ")"
    }

    private func outputs() -> [XMLElement] {
        guard let predictions else { return [XMLElement("p", ["class": "note"], text: "No samples to show.")] }
        var table = XMLElement("table", ["class": "predictions"], [
            .element(Self.row("th", ["#", "input (" + Self.listing(predictions.inputNames) + ")",
                                     "output (" + Self.listing(predictions.outputNames) + ")", "target"])),
        ])
        for (index, row) in predictions.rows.enumerated() {
            table.append(Self.row("td", [String(index + 1)] + [row.input, row.output, row.target].map { Self.listing($0.map { NumberText.short($0) }) }))
        }
        var content = [table]
        let more = predictions.sampleCount - predictions.rows.count
        if more > 0 { content.append(XMLElement("p", ["class": "note"], text: "… and " + Self.count(more, "more sample") + ".")) }
        return content
    }

    private func parameterTable() -> [XMLElement] {
        let keys = plan.parameterKeys()
        let listed = min(keys.count, Self.maximumListedParameters)
        var table = XMLElement("table", ["class": "parameters"], [.element(Self.row("th", ["parameter", "value"]))])
        for index in 0..<listed {
            table.append(XMLElement("tr", [], [
                .element(XMLElement("td", [], [.element(XMLElement("code", text: keys[index]))])),
                .element(XMLElement("td", ["class": "number"], text: NumberText.short(plan.parameters[index]))),
            ]))
        }
        var content = [table]
        if keys.count > listed { content.append(XMLElement("p", ["class": "note"], text: "… and " + Self.count(keys.count - listed, "more parameter") + ".")) }
        return content
    }

    /// Whether `fragment` brings its own heading (an `Explanation`'s section opens with one),
    /// which then names the entry instead of a second heading with the key.
    private static func opensWithHeading(_ fragment: XMLElement) -> Bool {
        let headings: Set<String> = ["h1", "h2", "h3", "h4", "h5", "h6"]
        if headings.contains(fragment.name) { return true }
        for child in fragment.children {
            if case .element(let element) = child { return headings.contains(element.name) }
        }
        return false
    }

    private static func row(_ cell: String, _ texts: [String]) -> XMLElement {
        XMLElement("tr", [], texts.map { .element(XMLElement(cell, text: $0)) })
    }

    /// Up to eight items, then how many more: a row of 64 pixel inputs stays one line.
    private static func listing(_ items: [String]) -> String {
        let shown = items.prefix(8).joined(separator: ", ")
        return items.count > 8 ? shown + ", … (" + String(items.count) + " in all)" : shown
    }

    private static func count(_ value: Int, _ noun: String) -> String { String(value) + " " + noun + (value == 1 ? "" : "s") }

    // MARK: XHTML as HTML reads it

    /// HTML elements that never have content, written `<meta .../>` in both syntaxes.
    private static let voidElements: Set<String> = [
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr",
    ]

    /// The elements that switch HTML to foreign content, with the namespace XML needs on them.
    private static let foreignNamespaces = ["svg": SVG.namespace, "math": Explanation.mathMLNamespace]

    /// `element` with the HTML parser's reading made to agree with XML's: an empty non-void
    /// HTML element gets an end tag, an `<svg>` or `<math>` without a namespace gets one (XML
    /// needs it to render them, HTML ignores it). Foreign content is left as it is: there,
    /// HTML reads `<line/>` as XML does.
    static func polyglot(_ element: XMLElement) -> XMLElement {
        var element = element
        if let namespace = foreignNamespaces[element.name] {
            if !element.attributes.contains(where: { $0.name == "xmlns" }) { element.attributes.insert(XMLAttribute("xmlns", namespace), at: 0) }
            return element
        }
        if element.children.isEmpty && !voidElements.contains(element.name) { element.children = [.text("")] }
        element.children = element.children.map { child in
            guard case .element(let inner) = child else { return child }
            return .element(polyglot(inner))
        }
        return element
    }

    /// The page's only styling, inline. It must hold no `<` or `&`: HTML reads `<style>` as
    /// raw text, XML decodes references, and the two must see the same rules.
    static let styleSheet = """
        body { font-family: system-ui, sans-serif; max-width: 64rem; margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.45; }
        nav a { margin-right: 1rem; }
        h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; margin-top: 2rem; }
        dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.2rem 1rem; }
        dl.facts dt { font-weight: 600; }
        dl.facts dd { margin: 0; }
        figure { margin: 1rem 0; overflow-x: auto; }
        figcaption, .note { color: #555; font-size: 0.9rem; }
        svg { max-width: 100%; height: auto; }
        table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
        th, td { border-bottom: 1px solid #e4e4e4; padding: 0.15rem 0.6rem; text-align: left; vertical-align: top; }
        td.number { text-align: right; }
        code { font-family: ui-monospace, monospace; }
        section.derivation { border-top: 1px solid #ddd; margin-top: 1.5rem; }
        math[display=block] { margin: 0.5rem 0; overflow-x: auto; }
        """
}
