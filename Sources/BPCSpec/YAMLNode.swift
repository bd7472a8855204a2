/// A small YAML value with positions: what the decoder inspects for one spec entry at a time.
///
/// Only entries (one unit, one edge, the `train` mapping, ...) become trees; the long lists of a
/// spec stream through the event reader one entry at a time.
struct YAMLNode {
    enum Content {
        case scalar(String, isQuoted: Bool, tag: String?)
        case sequence([YAMLNode])
        case mapping([(key: Located<String>, value: YAMLNode)])
    }

    var content: Content
    var start: SourcePosition

    /// What the node is, for "expected X, found Y" messages.
    var kindDescription: String {
        switch content {
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        case .scalar(let text, let quoted, let tag):
            if quoted || tag == "str" { return "the string \"\(text.prefix(40))\"" }
            switch ScalarValue(plain: text) {
            case .null: return "an empty value"
            case .bool(let value): return "\(value)"
            case .number: return "the number \(text)"
            case .string: return "'\(text.prefix(40))'"
            }
        }
    }

    /// The scalar's text if the node is a scalar (any kind), else nil.
    var scalarText: String? {
        if case .scalar(let text, _, _) = content { return text }
        return nil
    }

    /// The core-schema value of a scalar node, honouring quotes and `!!str`/`!!int`/... tags.
    var scalarValue: ScalarValue? {
        guard case .scalar(let text, let quoted, let tag) = content else { return nil }
        switch tag {
        case "str": return .string(text)
        case "null": return .null
        case "int", "float":
            if case .number(let value) = ScalarValue(plain: text) { return .number(value) }
            return .string(text)
        case "bool":
            if case .bool(let value) = ScalarValue(plain: text) { return .bool(value) }
            return .string(text)
        default:
            return quoted ? .string(text) : ScalarValue(plain: text)
        }
    }
}

/// A scalar resolved by the YAML 1.2 core schema (so `yes` and `on` are strings, not booleans).
public enum ScalarValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)

    public init(plain text: String) {
        switch text {
        case "", "~", "null", "Null", "NULL": self = .null
        case "true", "True", "TRUE": self = .bool(true)
        case "false", "False", "FALSE": self = .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": self = .number(.infinity)
        case "-.inf", "-.Inf", "-.INF": self = .number(-.infinity)
        case ".nan", ".NaN", ".NAN": self = .number(.nan)
        default:
            if let value = ScalarValue.coreNumber(text) {
                self = .number(value)
            } else {
                self = .string(text)
            }
        }
    }

    /// Decimal integers and floats as the core schema writes them, plus 0x and 0o integers.
    private static func coreNumber(_ text: String) -> Double? {
        let utf8 = Array(text.utf8)
        guard !utf8.isEmpty, utf8.count < 400 else { return nil }
        if utf8.count > 2, utf8[0] == UInt8(ascii: "0"), utf8[1] == UInt8(ascii: "x") || utf8[1] == UInt8(ascii: "o") {
            let radix = utf8[1] == UInt8(ascii: "x") ? 16 : 8
            // A closure, not `.map(Double.init)`: that reference resolves to `Double(bitPattern:)`.
            return UInt64(text.dropFirst(2), radix: radix).map { Double($0) }
        }
        var index = 0
        func digits() -> Int {
            let begin = index
            while index < utf8.count, utf8[index] >= UInt8(ascii: "0"), utf8[index] <= UInt8(ascii: "9") { index += 1 }
            return index - begin
        }
        if utf8[index] == UInt8(ascii: "-") || utf8[index] == UInt8(ascii: "+") { index += 1 }
        let integerDigits = digits()
        var fractionDigits = 0
        if index < utf8.count, utf8[index] == UInt8(ascii: ".") {
            index += 1
            fractionDigits = digits()
        }
        guard integerDigits + fractionDigits > 0 else { return nil }
        if index < utf8.count, utf8[index] == UInt8(ascii: "e") || utf8[index] == UInt8(ascii: "E") {
            index += 1
            if index < utf8.count, utf8[index] == UInt8(ascii: "-") || utf8[index] == UInt8(ascii: "+") { index += 1 }
            guard digits() > 0 else { return nil }
        }
        guard index == utf8.count else { return nil }
        return Double(text)
    }
}

extension YAMLEventReader {
    /// Reads the next node whole (its subtree), reporting duplicate and non-scalar keys.
    ///
    /// Iterative, so its stack use does not depend on the input; depth is bounded by the
    /// reader's limit.
    func readNode() throws(ParseAborted) -> YAMLNode {
        // keys: the mapping's keys for the duplicate check, built only once a mapping has more
        // than a few entries (a linear scan is cheaper below that; a set keeps large ones linear).
        var stack: [(node: YAMLNode, pendingKey: Located<String>?, keys: Set<String>?)] = []
        while true {
            let event = try next()
            var completed: YAMLNode
            switch event.kind {
            case .scalar:
                completed = YAMLNode(content: .scalar(event.value, isQuoted: event.isQuoted, tag: event.tag), start: event.start)
            case .sequenceStart:
                stack.append((YAMLNode(content: .sequence([]), start: event.start), nil, nil))
                continue
            case .mappingStart:
                stack.append((YAMLNode(content: .mapping([]), start: event.start), nil, nil))
                continue
            case .sequenceEnd, .mappingEnd:
                guard let finished = stack.popLast() else {
                    error("unexpected end of a collection", at: event.start)
                    throw ParseAborted()
                }
                completed = finished.node
            default:
                error("unexpected document boundary", at: event.start)
                throw ParseAborted()
            }
            guard !stack.isEmpty else { return completed }
            let top = stack.count - 1
            switch stack[top].node.content {
            case .sequence(var items):
                stack[top].node.content = .sequence([])
                items.append(completed)
                stack[top].node.content = .sequence(items)
            case .mapping(var pairs):
                if let key = stack[top].pendingKey {
                    stack[top].pendingKey = nil
                    stack[top].node.content = .mapping([])
                    pairs.append((key, completed))
                    stack[top].node.content = .mapping(pairs)
                } else {
                    let key = mappingKey(completed)
                    let duplicate: Bool
                    if pairs.count < 8 {
                        duplicate = pairs.contains { $0.key.value == key.value }
                    } else {
                        var keys = stack[top].keys ?? Set(pairs.map(\.key.value))
                        stack[top].keys = nil  // one reference, so the insert does not copy
                        duplicate = !keys.insert(key.value).inserted
                        stack[top].keys = keys
                    }
                    if duplicate {
                        error("duplicate key '\(key.value)'", at: key.position)
                    }
                    stack[top].pendingKey = key
                }
            case .scalar:
                break
            }
        }
    }

    /// The key of a mapping entry; keys must be scalars (a collection as a key is an error).
    func mappingKey(_ node: YAMLNode) -> Located<String> {
        if let text = node.scalarText { return Located(text, at: node.start) }
        error("a mapping key must be a plain word, not \(node.kindDescription)", at: node.start)
        return Located("", at: node.start)
    }

    /// Skips the next node without building it.
    func skipNode() throws(ParseAborted) {
        var open = 0
        repeat {
            switch try next().kind {
            case .sequenceStart, .mappingStart: open += 1
            case .sequenceEnd, .mappingEnd: open -= 1
            default: break
            }
        } while open > 0
    }
}
