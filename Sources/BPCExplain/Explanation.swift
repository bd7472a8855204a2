/// A piece of a paragraph: words or a formula.
public enum Inline: Sendable, Equatable {
    case text(String)
    case math(MathExpression)
}

/// One line of an aligned display: `label  lhs = rhs₁ = rhs₂`, or a continuation `+ rhs`.
public struct EquationRow: Sendable, Equatable {
    public enum Relation: String, Sendable { case equals = "=", plus = "+" }

    public var lhs: MathExpression?
    public var relation: Relation
    /// Equal forms of the right side, each `=` the next (symbols, numbers, value).
    public var rhs: [MathExpression]
    /// A remark shown beside the row: which path, which simplification.
    public var note: String?
    /// Whether typeset forms (LaTeX, MathML) may put each right side on its own line; false
    /// where the last form is the value of this row's term alone (a path's term in a sum),
    /// which on a line of its own would read as the value of the whole.
    public var breaksLines: Bool

    public init(_ lhs: MathExpression?, _ relation: Relation = .equals, _ rhs: [MathExpression], note: String? = nil, breaksLines: Bool = true) {
        self.lhs = lhs
        self.relation = relation
        self.rhs = rhs
        self.note = note
        self.breaksLines = breaksLines
    }

    /// The row on one line of text, without its note.
    public var text: String {
        (lhs.map { $0.text + " " } ?? "") + relation.rawValue + " " + rhs.map(\.text).joined(separator: " = ")
    }
}

/// A block of an explanation.
public enum ExplanationBlock: Sendable, Equatable {
    case heading(String)
    case paragraph([Inline])
    case equations([EquationRow])
}

/// An explanation (a derivation, a trace) as a sequence of blocks, written once and rendered
/// as terminal text, Markdown, a LaTeX document or XHTML with MathML.
public struct Explanation: Sendable, Equatable {
    public var title: String
    public var blocks: [ExplanationBlock]

    public init(title: String, blocks: [ExplanationBlock] = []) {
        self.title = title
        self.blocks = blocks
    }

    // MARK: Text

    /// For a terminal: headings underlined, each display's columns aligned.
    public var text: String {
        var lines = [title, String(repeating: "=", count: title.count)]
        for block in blocks {
            switch block {
            case .heading(let heading):
                lines += ["", heading, String(repeating: "-", count: heading.count)]
            case .paragraph(let inlines):
                lines += ["", Self.plain(inlines)]
            case .equations(let rows):
                lines.append("")
                let lhsWidth = rows.map { $0.lhs?.text.count ?? 0 }.max() ?? 0
                let bodies = rows.map { row in
                    String(repeating: " ", count: lhsWidth - (row.lhs?.text.count ?? 0)) + (row.lhs?.text ?? "")
                        + " " + row.relation.rawValue + " " + row.rhs.map(\.text).joined(separator: " = ")
                }
                // Notes line up in one column, unless a long row would push them off the screen.
                let noteColumn = bodies.map(\.count).filter { $0 <= Self.noteColumnLimit }.max() ?? 0
                for (row, body) in zip(rows, bodies) {
                    guard let note = row.note else {
                        lines.append("  " + body)
                        continue
                    }
                    lines.append("  " + body + String(repeating: " ", count: max(0, noteColumn - body.count)) + "   (" + note + ")")
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static let noteColumnLimit = 100

    private static func plain(_ inlines: [Inline]) -> String {
        inlines.map { inline in
            switch inline {
            case .text(let text): text
            case .math(let math): math.text
            }
        }.joined()
    }

    // MARK: Markdown

    /// Markdown with `$...$` and `$$...$$` LaTeX math, as GitHub, Jupyter and pandoc render it.
    public var markdown: String {
        var parts = ["## " + Self.markdownEscaped(title)]
        for block in blocks {
            switch block {
            case .heading(let heading): parts.append("### " + Self.markdownEscaped(heading))
            case .paragraph(let inlines):
                parts.append(inlines.map { inline in
                    switch inline {
                    case .text(let text): Self.markdownEscaped(text)
                    case .math(let math): "$" + math.latex + "$"
                    }
                }.joined())
            case .equations(let rows): parts.append("$$\n\\begin{aligned}\n" + Self.alignedLaTeX(rows) + "\n\\end{aligned}\n$$")
            }
        }
        return parts.joined(separator: "\n\n") + "\n"
    }

    /// Backslash-escapes the characters Markdown would read as markup or as math delimiters.
    private static func markdownEscaped(_ text: String) -> String {
        var output = ""
        for character in text {
            if "\\`*_{}[]<>#|$".contains(character) { output += "\\" }
            output.append(character)
        }
        // A paragraph starting with + or - would be a list item.
        if let first = output.first, "+-".contains(first) { output = "\\" + output }
        return output
    }

    // MARK: LaTeX

    /// The body of a LaTeX document (sections and `align*` displays).
    public var latexBody: String {
        var parts = ["\\section*{" + LaTeXText.escaped(title) + "}"]
        for block in blocks {
            switch block {
            case .heading(let heading): parts.append("\\subsection*{" + LaTeXText.escaped(heading) + "}")
            case .paragraph(let inlines):
                parts.append(inlines.map { inline in
                    switch inline {
                    case .text(let text): LaTeXText.escaped(text)
                    case .math(let math): "$" + math.latex + "$"
                    }
                }.joined())
            case .equations(let rows): parts.append("\\begin{align*}\n" + Self.alignedLaTeX(rows) + "\n\\end{align*}")
            }
        }
        return parts.joined(separator: "\n\n")
    }

    /// A complete document that `pdflatex` compiles (amsmath only, which every TeX
    /// installation has). Long sums break across pages.
    public static func latexDocument(_ explanations: [Explanation]) -> String {
        """
        \\documentclass[a4paper]{article}
        \\usepackage[utf8]{inputenc}
        \\usepackage{amsmath}
        \\usepackage[margin=2cm]{geometry}
        \\allowdisplaybreaks
        \\begin{document}

        \(explanations.map(\.latexBody).joined(separator: "\n\n"))

        \\end{document}

        """
    }

    /// One line per form of each row (`lhs &= symbols \\ &= numbers \\ &= value`), so long
    /// chains fit a page; the note goes beside the first.
    private static func alignedLaTeX(_ rows: [EquationRow]) -> String {
        rows.flatMap { row in
            (row.breaksLines ? row.rhs.map { [$0] } : [row.rhs]).enumerated().map { index, forms in
                let form = forms.map(\.latex).joined(separator: " = ")
                var line = index == 0 ? (row.lhs?.latex ?? "") + " &" + row.relation.rawValue + " " : " &= "
                line += form
                if index == 0, let note = row.note { line += " && \\text{" + LaTeXText.escaped(note) + "}" }
                return line
            }
        }.joined(separator: " \\\\\n")
    }

    // MARK: XHTML and MathML

    /// An XHTML `<section>` with MathML displays, for the report page or any browser.
    public var xhtml: XMLElement {
        var section = XMLElement("section", ["class": "explanation"])
        section.append(XMLElement("h3", text: title))
        for block in blocks {
            switch block {
            case .heading(let heading): section.append(XMLElement("h4", text: heading))
            case .paragraph(let inlines):
                section.append(XMLElement("p", [], inlines.map { inline in
                    switch inline {
                    case .text(let text): .text(text)
                    case .math(let math): .element(XMLElement("math", ["xmlns": Self.mathMLNamespace], [.element(math.mathML)]))
                    }
                }))
            case .equations(let rows):
                var table = XMLElement("mtable", ["columnalign": "right left left", "class": "derivation"])
                for row in rows {
                    // One table row per form, as in LaTeX: long chains stay readable.
                    for (index, forms) in (row.breaksLines ? row.rhs.map { [$0] } : [row.rhs]).enumerated() {
                        let relation = index == 0 ? row.relation.rawValue : "="
                        let lhs = index == 0 ? row.lhs.map { [XMLNode.element($0.mathML)] } ?? [] : []
                        var parts = [XMLNode.element(XMLElement("mo", text: relation))]
                        for (position, form) in forms.enumerated() {
                            if position > 0 { parts.append(.element(XMLElement("mo", text: "="))) }
                            parts.append(.element(form.mathML))
                        }
                        let right = XMLElement("mrow", [], parts)
                        let note = index == 0 ? row.note.map { [XMLNode.element(XMLElement("mtext", text: "  (" + $0 + ")"))] } ?? [] : []
                        table.append(XMLElement("mtr", [], [
                            .element(XMLElement("mtd", [], lhs)), .element(XMLElement("mtd", [], [.element(right)])), .element(XMLElement("mtd", [], note)),
                        ]))
                    }
                }
                section.append(XMLElement("math", ["xmlns": Self.mathMLNamespace, "display": "block"], [.element(table)]))
            }
        }
        return section
    }

    public static let mathMLNamespace = "http://www.w3.org/1998/Math/MathML"
}
