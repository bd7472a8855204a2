import BPCEmit

/// A node of an XML document (SVG, MathML, the report's XHTML), built as a value and serialised
/// in one place, so that every name taken from a spec is escaped by construction.
public enum XMLNode: Sendable, Equatable {
    case element(XMLElement)
    /// Character data, escaped when serialised.
    case text(String)
    /// Markup passed through unchanged; only for text this module produced as XML itself.
    case raw(String)
}

public struct XMLAttribute: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

public struct XMLElement: Sendable, Equatable {
    public var name: String
    public var attributes: [XMLAttribute]
    public var children: [XMLNode]

    public init(_ name: String, _ attributes: [XMLAttribute] = [], _ children: [XMLNode] = []) {
        self.name = name
        self.attributes = attributes
        self.children = children
    }

    /// An element with attributes given as pairs, in order: `XMLElement("rect", ["x": "0"])`.
    public init(_ name: String, _ attributes: KeyValuePairs<String, String>, _ children: [XMLNode] = []) {
        self.init(name, attributes.map { XMLAttribute($0.key, $0.value) }, children)
    }

    /// An element holding only text.
    public init(_ name: String, _ attributes: KeyValuePairs<String, String> = [:], text: String) {
        self.init(name, attributes, [.text(text)])
    }

    public mutating func append(_ child: XMLElement) { children.append(.element(child)) }
    public mutating func append(text: String) { children.append(.text(text)) }

    /// The element as XML text; empty elements self-close (`<line .../>`), which both XML
    /// parsers and HTML5's foreign content (SVG, MathML) read.
    public func serialized() -> String {
        var output = ""
        write(to: &output)
        return output
    }

    public func write(to output: inout String) {
        output += "<" + name
        for attribute in attributes {
            output += " " + attribute.name + "=\""
            XMLText.appendEscaped(attribute.value, to: &output, quoting: true)
            output += "\""
        }
        if children.isEmpty {
            output += "/>"
            return
        }
        output += ">"
        for child in children {
            switch child {
            case .element(let element): element.write(to: &output)
            case .text(let text): XMLText.appendEscaped(text, to: &output, quoting: false)
            case .raw(let markup): output += markup
            }
        }
        output += "</" + name + ">"
    }
}

public enum XMLText {
    /// Appends `text` as XML character data: `&`, `<` and `>` (and in attributes both quotes)
    /// become references; characters XML 1.0 cannot hold at all (C0 controls other than tab,
    /// newline and carriage return, U+FFFE, U+FFFF) become U+FFFD, so any name from a spec
    /// yields a well-formed document.
    public static func appendEscaped(_ text: String, to output: inout String, quoting: Bool) {
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": output += "&amp;"
            case "<": output += "&lt;"
            case ">": output += "&gt;"
            case "\"" where quoting: output += "&quot;"
            case "'" where quoting: output += "&apos;"
            case "\t", "\n", "\r": output.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF {
                    output += "\u{FFFD}"
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
    }

    public static func escaped(_ text: String, quoting: Bool = true) -> String {
        var output = ""
        appendEscaped(text, to: &output, quoting: quoting)
        return output
    }
}

/// What the SVG drawings (loss plot, network) share: the root element and how coordinates are
/// written, so every drawing is a standalone document that also embeds in XHTML as it is.
enum SVG {
    static let namespace = "http://www.w3.org/2000/svg"

    /// An `<svg>` root of `width` x `height` user units with a `<title>` (the accessible name
    /// and the tooltip), drawn in a sans-serif font of 12 units unless `children` say otherwise.
    static func root(width: Double, height: Double, class name: String, title: String, _ extra: [XMLAttribute] = [],
                     _ children: [XMLElement]) -> XMLElement {
        let size = [
            XMLAttribute("xmlns", namespace), XMLAttribute("class", name),
            XMLAttribute("viewBox", "0 0 " + number(width) + " " + number(height)),
            XMLAttribute("width", number(width)), XMLAttribute("height", number(height)),
            XMLAttribute("role", "img"), XMLAttribute("font-family", "sans-serif"), XMLAttribute("font-size", "12"),
        ]
        return XMLElement("svg", size + extra, [.element(XMLElement("title", text: title))] + children.map { .element($0) })
    }

    /// A coordinate to a tenth of a unit, finer than any screen shows, in few characters.
    static func number(_ value: Double) -> String { NumberText.short((value * 10).rounded() / 10) }

    /// The text of a standalone `.svg` file: an XML declaration, the drawing, a final newline.
    static func document(_ root: XMLElement) -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + root.serialized() + "\n"
    }
}
