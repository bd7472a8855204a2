import BPCEmit
import BPCPlan

/// A letter of the lecture notes' notation.
public enum MathLetter: Sendable, Equatable {
    /// w_{i→j}: a weight.
    case weight
    /// b_j: a bias.
    case bias
    /// a_j: a unit's net input (note 2's a_j, note 1's s_j).
    case netInput
    /// z_j: a unit's output h(a_j); for an input unit, the input value.
    case output
    /// δ_j = ∂E/∂a_j.
    case delta
    /// ŷ: a squared error's output, as note 1 writes it.
    case prediction
    /// y: a squared error's target (note 1), or binary cross-entropy's output (note 2).
    case y
    /// r: binary cross-entropy's target (note 2).
    case r
    /// p_o: softmax probability.
    case probability
    /// t_o: softmax cross-entropy's target.
    case t
    /// E: the loss of one sample.
    case loss
    /// n: the number of outputs (mean squared error's 1/n).
    case count

    var text: String {
        switch self {
        case .weight: "w"
        case .bias: "b"
        case .netInput: "a"
        case .output: "z"
        case .delta: "δ"
        case .prediction: "ŷ"
        case .y: "y"
        case .r: "r"
        case .probability: "p"
        case .t: "t"
        case .loss: "E"
        case .count: "n"
        }
    }

    var latex: String {
        switch self {
        case .delta: "\\delta"
        case .prediction: "\\hat{y}"
        default: text
        }
    }
}

/// What a symbol is about: nothing, one unit (a_j) or one edge (w_{i→j}).
public enum MathSubscript: Sendable, Equatable {
    case none
    case unit(String)
    case edge(from: String, to: String)
}

/// A function applied to an argument: an activation h or its derivative h'.
public struct MathFunction: Sendable, Equatable {
    public var activation: Activation
    public var isDerivative: Bool

    public init(_ activation: Activation, derivative: Bool) {
        self.activation = activation
        self.isDerivative = derivative
    }

    /// The notes write the logistic function σ; the others go by their spec names.
    var text: String { (activation == .sigmoid ? "σ" : activation.name) + (isDerivative ? "'" : "") }

    var latex: String {
        (activation == .sigmoid ? "\\sigma" : "\\operatorname{\(LaTeXText.escaped(activation.name))}") + (isDerivative ? "'" : "")
    }
}

/// A formula of a derivation, built once and written as terminal text, LaTeX or MathML, so the
/// three renderings cannot say different things.
public indirect enum MathExpression: Sendable, Equatable {
    case symbol(MathLetter, MathSubscript)
    case number(Double)
    case product([MathExpression])
    case sum([MathExpression])
    case difference(MathExpression, MathExpression)
    case square(MathExpression)
    case call(MathFunction, MathExpression)
    /// ∂numerator/∂denominator.
    case partial(MathExpression, MathExpression)
    case fraction(MathExpression, MathExpression)
    /// -x.
    case negative(MathExpression)
    /// A named function such as log(x).
    case named(String, MathExpression)
    /// Σ_index body.
    case sumOver(String, MathExpression)

    public static func symbol(_ letter: MathLetter, unit: String) -> MathExpression { .symbol(letter, .unit(unit)) }

    /// Whether the expression needs parentheses as a factor of a product or the right side of
    /// a difference.
    var isCompound: Bool {
        switch self {
        case .sum, .difference, .negative: true
        case .number(let value): value < 0 || (value == 0 && value.sign == .minus)
        case .product(let factors): factors.count > 1
        default: false
        }
    }

    /// Whether the expression needs parentheses after a minus sign: sums and negative numbers
    /// do, products do not (-r · log(y) reads as -(r · log(y))).
    var needsParenthesesAfterMinus: Bool {
        if case .product = self { return false }
        return isCompound
    }

    /// Whether the body of Σ needs parentheses: only sums and differences (Σ_k δ_k · w_{j→k}).
    var needsParenthesesInSum: Bool {
        switch self {
        case .sum, .difference: true
        default: false
        }
    }

    private var isNegativeNumber: Bool {
        if case .number(let value) = self { return value.sign == .minus && value != 0 }
        return false
    }

    // MARK: Text and LaTeX

    /// Terminal text: `∂E/∂w_{x→i} = (ŷ - y) · w_{j→o} · σ'(a_j)`.
    public var text: String { written(in: .text) }

    /// LaTeX math (amsmath): `\\frac{\\partial E}{\\partial w_{x\\to i}}`.
    public var latex: String { written(in: .latex) }

    /// One walk over the expression for both linear notations; `spelling` says how each
    /// construct is written, so text and LaTeX group and order terms the same way.
    func written(in spelling: LinearSpelling) -> String {
        func grouped(_ inner: MathExpression, when needed: Bool) -> String {
            needed ? spelling.open + inner.written(in: spelling) + spelling.close : inner.written(in: spelling)
        }
        switch self {
        case .symbol(let letter, let sub): return spelling.symbol(letter, sub)
        case .number(let value): return spelling.number(value)
        case .product(let factors): return factors.map { grouped($0, when: $0.isCompound) }.joined(separator: spelling.times)
        case .sum(let terms):
            return terms.enumerated().map { index, term in grouped(term, when: index > 0 && term.isNegativeNumber) }.joined(separator: " + ")
        case .difference(let left, let right):
            return left.written(in: spelling) + " - " + grouped(right, when: right.needsParenthesesAfterMinus)
        case .square(let base): return spelling.square(grouped(base, when: base.isCompound))
        case .call(let function, let argument):
            return spelling.function(function) + spelling.open + argument.written(in: spelling) + spelling.close
        case .partial(let numerator, let denominator):
            return spelling.partial(numerator.written(in: spelling), denominator.written(in: spelling))
        case .fraction(let numerator, let denominator):
            return spelling.fraction(grouped(numerator, when: numerator.isCompound), grouped(denominator, when: denominator.isCompound))
        case .negative(let value): return "-" + grouped(value, when: value.needsParenthesesAfterMinus)
        case .named(let name, let argument): return spelling.name(name) + spelling.open + argument.written(in: spelling) + spelling.close
        case .sumOver(let index, let body): return spelling.sumOver(index) + grouped(body, when: body.needsParenthesesInSum)
        }
    }

    // MARK: MathML

    /// Presentation MathML content (the children of a `<math>` element), as browsers render it.
    public var mathML: XMLElement {
        switch self {
        case .symbol(let letter, let sub):
            let base = letter == .prediction
                ? XMLElement("mover", ["accent": "true"], [.element(XMLElement("mi", text: "y")), .element(XMLElement("mo", text: "^"))])
                : XMLElement("mi", text: letter.text)
            switch sub {
            case .none: return base
            case .unit(let name): return XMLElement("msub", [], [.element(base), .element(XMLElement("mi", text: name))])
            case .edge(let from, let to):
                let arrow = XMLElement("mrow", [], [
                    .element(XMLElement("mi", text: from)), .element(XMLElement("mo", text: "→")), .element(XMLElement("mi", text: to)),
                ])
                return XMLElement("msub", [], [.element(base), .element(arrow)])
            }
        case .number(let value): return Self.mathMLNumber(value)
        case .product(let factors):
            return Self.row(joining: factors.map { $0.isCompound ? Self.parenthesized($0.mathML) : $0.mathML }, with: "⋅")
        case .sum(let terms):
            return Self.row(joining: terms.enumerated().map { index, term in
                index > 0 && term.isNegativeNumber ? Self.parenthesized(term.mathML) : term.mathML
            }, with: "+")
        case .difference(let left, let right):
            return Self.row(joining: [left.mathML, right.needsParenthesesAfterMinus ? Self.parenthesized(right.mathML) : right.mathML], with: "−")
        case .square(let base):
            return XMLElement("msup", [], [.element(base.isCompound ? Self.parenthesized(base.mathML) : base.mathML), .element(XMLElement("mn", text: "2"))])
        case .call(let function, let argument):
            var name = XMLElement("mi", text: function.activation == .sigmoid ? "σ" : function.activation.name)
            if function.isDerivative { name = XMLElement("msup", [], [.element(name), .element(XMLElement("mo", text: "′"))]) }
            return XMLElement("mrow", [], [.element(name), .element(Self.parenthesized(argument.mathML))])
        case .partial(let numerator, let denominator):
            let top = XMLElement("mrow", [], [.element(XMLElement("mo", text: "∂")), .element(numerator.mathML)])
            let bottom = XMLElement("mrow", [], [.element(XMLElement("mo", text: "∂")), .element(denominator.mathML)])
            return XMLElement("mfrac", [], [.element(top), .element(bottom)])
        case .fraction(let numerator, let denominator):
            return XMLElement("mfrac", [], [.element(numerator.mathML), .element(denominator.mathML)])
        case .negative(let value):
            return XMLElement("mrow", [], [.element(XMLElement("mo", text: "−")), .element(value.needsParenthesesAfterMinus ? Self.parenthesized(value.mathML) : value.mathML)])
        case .named(let name, let argument):
            // A trailing ' (h') is a prime, as σ′ is written.
            var function = XMLElement("mi", text: name.hasSuffix("'") ? String(name.dropLast()) : name)
            if name.hasSuffix("'") { function = XMLElement("msup", [], [.element(function), .element(XMLElement("mo", text: "′"))]) }
            return XMLElement("mrow", [], [.element(function), .element(Self.parenthesized(argument.mathML))])
        case .sumOver(let index, let body):
            let sigma = XMLElement("munder", [], [.element(XMLElement("mo", text: "∑")), .element(XMLElement("mi", text: index))])
            return XMLElement("mrow", [], [.element(sigma), .element(body.needsParenthesesInSum ? Self.parenthesized(body.mathML) : body.mathML)])
        }
    }

    static func row(joining items: [XMLElement], with separator: String) -> XMLElement {
        var row = XMLElement("mrow")
        for (index, item) in items.enumerated() {
            if index > 0 { row.append(XMLElement("mo", text: separator)) }
            row.append(item)
        }
        return row
    }

    private static func parenthesized(_ element: XMLElement) -> XMLElement {
        XMLElement("mrow", [], [.element(XMLElement("mo", text: "(")), .element(element), .element(XMLElement("mo", text: ")"))])
    }

    private static func mathMLNumber(_ value: Double) -> XMLElement {
        let text = NumberText.short(value.magnitude)
        var magnitude: XMLElement
        if let e = text.firstIndex(of: "e") {
            let exponent = Int(text[text.index(after: e)...]) ?? 0
            magnitude = XMLElement("mrow", [], [
                .element(XMLElement("mn", text: String(text[..<e]))), .element(XMLElement("mo", text: "×")),
                .element(XMLElement("msup", [], [.element(XMLElement("mn", text: "10")), .element(exponent < 0
                    ? XMLElement("mrow", [], [.element(XMLElement("mo", text: "−")), .element(XMLElement("mn", text: String(-exponent)))])
                    : XMLElement("mn", text: String(exponent)))])),
            ])
        } else {
            magnitude = XMLElement("mn", text: text)
        }
        guard value.sign == .minus && value != 0 else { return magnitude }
        return XMLElement("mrow", [], [.element(XMLElement("mo", text: "−")), .element(magnitude)])
    }
}

/// Text from a spec (unit names) made safe for LaTeX: `pdflatex` compiles whatever a name holds.
enum LaTeXText {
    /// A unit name in math mode: one ASCII letter or digit as it is (italic, like the notes'
    /// a_j), anything longer upright in `\text{}`.
    static func name(_ name: String) -> String {
        if name.count == 1, let scalar = name.unicodeScalars.first, scalar.isASCII,
           scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) {
            return name
        }
        return "\\text{" + escaped(name) + "}"
    }

    /// Text-mode escapes for LaTeX's special characters; the notes' Greek letters and symbols
    /// become math. Other characters outside Latin-1, which pdflatex's default fonts cannot
    /// set, are written as their code point (U+2211).
    static func escaped(_ text: String) -> String {
        var output = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": output += "\\textbackslash{}"
            case "{", "}", "_", "&", "%", "$", "#": output += "\\" + String(scalar)
            case "^": output += "\\textasciicircum{}"
            case "~": output += "\\textasciitilde{}"
            case "<": output += "\\textless{}"
            case ">": output += "\\textgreater{}"
            case "|": output += "\\textbar{}"
            case "\"": output += "''"
            case "-": output += "-{}"
            case "→": output += "$\\to$"
            case "σ": output += "$\\sigma$"
            case "δ": output += "$\\delta$"
            case "∂": output += "$\\partial$"
            case "Σ": output += "$\\Sigma$"
            case "½": output += "$\\frac{1}{2}$"
            case "≤": output += "$\\le$"
            case "·": output += "$\\cdot$"
            case "²": output += "$^2$"
            case "ŷ": output += "$\\hat{y}$"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    output += " "
                } else if scalar.value < 0x7F || ((0xC0...0xFF).contains(scalar.value) && ![0xD0, 0xDE, 0xF0, 0xFE].contains(scalar.value)) {
                    // Latin-1 letters set with OT1 accents (Ð, Þ, ð, þ need T1 fonts: code points).
                    output.unicodeScalars.append(scalar)
                } else {
                    var hex = String(scalar.value, radix: 16, uppercase: true)
                    while hex.count < 4 { hex = "0" + hex }
                    output += "U+" + hex
                }
            }
        }
        return output
    }
}

/// How a linear notation (terminal text, LaTeX) spells each construct of a `MathExpression`.
struct LinearSpelling: Sendable {
    let open: String
    let close: String
    let times: String
    let symbol: @Sendable (MathLetter, MathSubscript) -> String
    let number: @Sendable (Double) -> String
    let function: @Sendable (MathFunction) -> String
    let name: @Sendable (String) -> String
    let square: @Sendable (String) -> String
    let partial: @Sendable (String, String) -> String
    let fraction: @Sendable (String, String) -> String
    let sumOver: @Sendable (String) -> String

    static let text = LinearSpelling(
        open: "(", close: ")", times: " · ",
        symbol: { letter, sub in
            switch sub {
            case .none: letter.text
            case .unit(let name): letter.text + (name.count == 1 ? "_" + name : "_{" + name + "}")
            case .edge(let from, let to): letter.text + "_{" + from + "→" + to + "}"
            }
        },
        number: { NumberText.short($0) },
        function: { $0.text },
        name: { $0 },
        square: { $0 + "²" },
        partial: { "∂" + $0 + "/∂" + $1 },
        fraction: { $0 + "/" + $1 },
        sumOver: { "Σ_" + $0 + " " })

    static let latex = LinearSpelling(
        open: "\\left(", close: "\\right)", times: " \\cdot ",
        symbol: { letter, sub in
            switch sub {
            case .none: letter.latex
            case .unit(let name): letter.latex + "_{" + LaTeXText.name(name) + "}"
            case .edge(let from, let to): letter.latex + "_{" + LaTeXText.name(from) + "\\to " + LaTeXText.name(to) + "}"
            }
        },
        number: { value in
            let text = NumberText.short(value)
            guard let e = text.firstIndex(of: "e") else { return text }
            return String(text[..<e]) + " \\times 10^{" + String(Int(text[text.index(after: e)...]) ?? 0) + "}"
        },
        function: { $0.latex },
        name: { "\\operatorname{" + LaTeXText.escaped($0) + "}" },
        square: { "{" + $0 + "}^{2}" },
        partial: { "\\frac{\\partial " + $0 + "}{\\partial " + $1 + "}" },
        fraction: { "\\frac{" + $0 + "}{" + $1 + "}" },
        sumOver: { "\\sum_{" + LaTeXText.name($0) + "} " })
}
