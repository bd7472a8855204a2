import BPC
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing

// Foundation has XMLElement and XMLNode classes too: in this file bpc's are written
// `BPCExplain.XMLElement`.

/// An element of a document read back by `XMLParser` (libxml2 on Linux, a strict XML 1.0
/// parser): what the tests of the SVG and HTML writers assert on, so they check the document a
/// reader gets rather than the text the writer produced.
struct ParsedElement {
    var name: String
    var attributes: [String: String]
    var children: [ParsedElement] = []
    /// Character data directly inside the element.
    var text = ""

    /// Every character inside, in document order.
    var allText: String { text + children.map(\.allText).joined() }

    /// Every element below this one named `name` whose attributes include `matching`, in
    /// document order.
    func descendants(_ name: String, matching: [String: String] = [:]) -> [ParsedElement] {
        var found: [ParsedElement] = []
        for child in children {
            if child.name == name && matching.allSatisfy({ child.attributes[$0.key] == $0.value }) { found.append(child) }
            found += child.descendants(name, matching: matching)
        }
        return found
    }

    /// Elements with `class` among their classes (`class="edge positive"` has two).
    func descendants(_ name: String, class wanted: String) -> [ParsedElement] {
        descendants(name).filter { ($0.attributes["class"] ?? "").split(separator: " ").contains(Substring(wanted)) }
    }
}

struct MalformedXML: Error, CustomStringConvertible {
    var message: String
    var line: Int
    var column: Int
    var description: String { "not well-formed XML at \(line):\(column): \(message)" }
}

/// Builds the tree while `XMLParser` reads.
private final class TreeBuilder: NSObject, XMLParserDelegate {
    var stack = [ParsedElement(name: "#document", attributes: [:])]

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
                attributes attributeDict: [String: String] = [:]) {
        stack.append(ParsedElement(name: elementName, attributes: attributeDict))
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        let done = stack.removeLast()
        stack[stack.count - 1].children.append(done)
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        stack[stack.count - 1].text += string
    }

    /// The first error, also one `parse()` reports as success (content after the root element).
    var error: (message: String, line: Int, column: Int)?

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) {
        if error == nil { error = ("\(parseError)", parser.lineNumber, parser.columnNumber) }
    }
}

/// The root element of `text`, or the parser's first error.
func parseXML(_ text: String) throws -> ParsedElement {
    let parser = XMLParser(data: Data(text.utf8))
    let builder = TreeBuilder()
    parser.delegate = builder
    let parsed = parser.parse()
    if let error = builder.error { throw MalformedXML(message: error.message, line: error.line, column: error.column) }
    guard parsed, builder.stack.count == 1, let root = builder.stack.first?.children.first else {
        throw MalformedXML(message: parser.parserError.map { "\($0)" } ?? "no root element", line: parser.lineNumber, column: parser.columnNumber)
    }
    return root
}

@Suite("XML writer")
struct XMLTests {
    @Test("markup characters in text and attribute values become references and read back unchanged")
    func escaping() throws {
        let hostile = #"<a & "b" 'c'> &amp; ]]>"#
        let element = BPCExplain.XMLElement("root", ["title": hostile], [.text(hostile), .element(BPCExplain.XMLElement("child", text: hostile))])
        let text = element.serialized()
        #expect(!text.contains("<a "), "a tag opened by text: \(text)")
        let parsed = try parseXML(text)
        #expect(parsed.attributes["title"] == hostile)
        #expect(parsed.text == hostile)
        #expect(parsed.children.first?.text == hostile)
        #expect(XMLText.escaped(#"<&>"'"#) == "&lt;&amp;&gt;&quot;&apos;")
        #expect(XMLText.escaped(#""'"#, quoting: false) == #""'"#)
    }

    @Test("control characters XML cannot hold become U+FFFD while tab, newline and carriage return stay")
    func controlCharacters() throws {
        let text = "a\u{0}b\u{1}c\u{1B}d\u{7F}e\u{FFFE}f\u{FFFF}g\th\ni\rj"
        let element = BPCExplain.XMLElement("root", ["value": text], [.text(text)])
        let serialized = element.serialized()
        #expect(serialized.unicodeScalars.allSatisfy { $0.value >= 0x20 || $0 == "\t" || $0 == "\n" || $0 == "\r" })
        let parsed = try parseXML(serialized)
        // DEL (U+007F) is allowed in XML 1.0 and kept; a parser normalises CR LF and lone CR to LF.
        #expect(parsed.text == "a\u{FFFD}b\u{FFFD}c\u{FFFD}d\u{7F}e\u{FFFD}f\u{FFFD}g\th\ni\nj")
        // In attribute values, parsers turn tab, newline and carriage return into spaces.
        #expect(parsed.attributes["value"] == "a\u{FFFD}b\u{FFFD}c\u{FFFD}d\u{7F}e\u{FFFD}f\u{FFFD}g h i j")
    }

    @Test("empty elements self-close, children close in order and raw markup passes through")
    func structure() throws {
        let element = BPCExplain.XMLElement("svg", ["xmlns": "http://www.w3.org/2000/svg"], [
            .element(BPCExplain.XMLElement("line", ["x1": "0", "y1": "1"])),
            .element(BPCExplain.XMLElement("g", [], [.element(BPCExplain.XMLElement("text", text: "t")), .raw("<b>bold</b>")])),
        ])
        #expect(element.serialized() == #"<svg xmlns="http://www.w3.org/2000/svg"><line x1="0" y1="1"/><g><text>t</text><b>bold</b></g></svg>"#)
        let parsed = try parseXML(element.serialized())
        #expect(parsed.children.map(\.name) == ["line", "g"])
        #expect(parsed.descendants("b").first?.text == "bold")
    }

    @Test("the parser these tests read documents with rejects malformed markup")
    func parserIsStrict() {
        for malformed in ["<a><b></a></b>", "<a>&</a>", "<a>x < y</a>", "<a x=\"1\" x=\"2\"/>", "<a>\u{1}</a>", "<a/><b/>", "<a></a>junk"] {
            #expect(throws: MalformedXML.self, "accepted: \(malformed)") { try parseXML(malformed) }
        }
    }
}
