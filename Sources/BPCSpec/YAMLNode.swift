/// A small YAML value with positions: what the decoder inspects for one spec entry at a time.
///
/// Only entries (one unit, an edge of an uncommon shape, the `train` mapping, ...) become trees;
/// the long lists of a spec stream through the event reader one entry at a time.
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
        var bytes = text
        self = bytes.withUTF8 { utf8 in
            switch PlainScalar(utf8) {
            case .null: .null
            case .bool(let value): .bool(value)
            case .number(let value): .number(value)
            case .string: .string(text)
            }
        }
    }
}

/// What a plain scalar's UTF-8 bytes are under the core schema; `ScalarValue` with the string
/// left as bytes, so the parser can classify libyaml's buffer without making a `String`.
enum PlainScalar {
    case null
    case bool(Bool)
    case number(Double)
    case string

    init(_ utf8: UnsafeBufferPointer<UInt8>) {
        if let keyword = Self.keyword(utf8) {
            self = keyword
        } else if let value = Self.coreNumber(utf8) {
            self = .number(value)
        } else {
            self = .string
        }
    }

    private static let keywords: [(text: [UInt8], value: PlainScalar)] = {
        var table: [(text: [UInt8], value: PlainScalar)] = []
        func add(_ value: PlainScalar, _ words: [String]) {
            for word in words { table.append((Array(word.utf8), value)) }
        }
        add(.null, ["", "~", "null", "Null", "NULL"])
        add(.bool(true), ["true", "True", "TRUE"])
        add(.bool(false), ["false", "False", "FALSE"])
        add(.number(.infinity), [".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"])
        add(.number(-.infinity), ["-.inf", "-.Inf", "-.INF"])
        add(.number(.nan), [".nan", ".NaN", ".NAN"])
        return table
    }()

    /// The core schema's words for null, booleans, infinities and NaN.
    private static func keyword(_ utf8: UnsafeBufferPointer<UInt8>) -> PlainScalar? {
        // Most scalars are names and numbers: a first byte no keyword has, or a digit after a
        // sign, rules the table out.
        guard let first = utf8.first else { return .null }
        switch first {
        case UInt8(ascii: "~"), UInt8(ascii: "n"), UInt8(ascii: "N"), UInt8(ascii: "t"), UInt8(ascii: "T"),
             UInt8(ascii: "f"), UInt8(ascii: "F"), UInt8(ascii: "."):
            break
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard utf8.count > 1, utf8[1] == UInt8(ascii: ".") else { return nil }
        default:
            return nil
        }
        guard utf8.count <= 5 else { return nil }
        return keywords.first { $0.text.elementsEqual(utf8) }?.value
    }

    /// Decimal integers and floats as the core schema writes them, plus 0x and 0o integers.
    ///
    /// Correctly rounded, like `Double(String)`: a decimal of at most 15 significant digits
    /// and a power of ten up to 22 is exact in binary64 on both sides of one division or
    /// multiplication (Clinger's fast path), which covers the numbers specs write; anything
    /// longer goes to `Double(String)`.
    private static func coreNumber(_ utf8: UnsafeBufferPointer<UInt8>) -> Double? {
        guard !utf8.isEmpty, utf8.count < 400 else { return nil }
        if utf8.count > 2, utf8[0] == UInt8(ascii: "0"), utf8[1] == UInt8(ascii: "x") || utf8[1] == UInt8(ascii: "o") {
            let radix = utf8[1] == UInt8(ascii: "x") ? 16 : 8
            // A closure, not `.map(Double.init)`: that reference resolves to `Double(bitPattern:)`.
            return UInt64(String(decoding: UnsafeBufferPointer(rebasing: utf8[2...]), as: UTF8.self), radix: radix).map { Double($0) }
        }
        var index = 0
        var mantissa: UInt64 = 0
        var significant = 0
        var scale = 0
        /// Reads digits into the mantissa (while it stays exact); returns how many there were.
        func digits(fraction: Bool) -> Int {
            let begin = index
            while index < utf8.count, utf8[index] >= UInt8(ascii: "0"), utf8[index] <= UInt8(ascii: "9") {
                if mantissa != 0 || utf8[index] != UInt8(ascii: "0") { significant += 1 }
                if significant <= 15 {
                    mantissa = mantissa * 10 + UInt64(utf8[index] - UInt8(ascii: "0"))
                    if fraction { scale -= 1 }
                }
                index += 1
            }
            return index - begin
        }
        let negative = utf8[0] == UInt8(ascii: "-")
        if utf8[0] == UInt8(ascii: "-") || utf8[0] == UInt8(ascii: "+") { index += 1 }
        let integerDigits = digits(fraction: false)
        var fractionDigits = 0
        if index < utf8.count, utf8[index] == UInt8(ascii: ".") {
            index += 1
            fractionDigits = digits(fraction: true)
        }
        guard integerDigits + fractionDigits > 0 else { return nil }
        var exponent = 0
        var exponentDigits = 0
        if index < utf8.count, utf8[index] == UInt8(ascii: "e") || utf8[index] == UInt8(ascii: "E") {
            index += 1
            var sign = 1
            if index < utf8.count, utf8[index] == UInt8(ascii: "-") || utf8[index] == UInt8(ascii: "+") {
                if utf8[index] == UInt8(ascii: "-") { sign = -1 }
                index += 1
            }
            let begin = index
            while index < utf8.count, utf8[index] >= UInt8(ascii: "0"), utf8[index] <= UInt8(ascii: "9") {
                if exponentDigits < 6 { exponent = exponent * 10 + Int(utf8[index] - UInt8(ascii: "0")) }
                exponentDigits += 1
                index += 1
            }
            guard index > begin else { return nil }
            exponent *= sign
        }
        guard index == utf8.count else { return nil }
        let power = scale + exponent
        // With at most 15 significant digits every digit is in `mantissa` (longer ones dropped
        // theirs above and take the general path).
        if significant <= 15, exponentDigits < 6, abs(power) <= 22 {
            let value = power < 0 ? Double(mantissa) / exactPowersOfTen[-power] : Double(mantissa) * exactPowersOfTen[power]
            return negative ? -value : value
        }
        return Double(String(decoding: utf8, as: UTF8.self))
    }

    /// 10^0 ... 10^22, each exact in binary64.
    private static let exactPowersOfTen: [Double] = (0...22).map { exponent in
        (0..<exponent).reduce(1.0) { power, _ in power * 10 }
    }
}

extension YAMLEventReader {
    /// Reads the next node whole (its subtree), reporting duplicate and non-scalar keys.
    ///
    /// Iterative, so its stack use does not depend on the input; depth is bounded by the
    /// reader's limit.
    func readNode() throws(ParseAborted) -> YAMLNode {
        var stack: [OpenCollection] = []
        while true {
            let event = try next()
            var completed: YAMLNode
            switch event.kind {
            case .scalar:
                completed = YAMLNode(content: .scalar(event.value, isQuoted: event.isQuoted, tag: event.tag), start: event.start)
            case .sequenceStart, .mappingStart:
                stack.append(OpenCollection(isSequence: event.kind == .sequenceStart, start: event.start))
                continue
            case .sequenceEnd, .mappingEnd:
                guard let finished = stack.popLast() else {
                    error("unexpected end of a collection", at: event.start)
                    throw ParseAborted()
                }
                completed = YAMLNode(content: finished.isSequence ? .sequence(finished.items) : .mapping(finished.pairs), start: finished.start)
            default:
                error("unexpected document boundary", at: event.start)
                throw ParseAborted()
            }
            guard !stack.isEmpty else { return completed }
            let top = stack.count - 1
            if stack[top].isSequence {
                stack[top].items.append(completed)
            } else if let key = stack[top].pendingKey {
                stack[top].pendingKey = nil
                stack[top].pairs.append((key, completed))
            } else {
                let key = mappingKey(completed)
                if stack[top].isDuplicate(key.value) {
                    error("duplicate key '\(key.value)'", at: key.position)
                }
                stack[top].pendingKey = key
            }
        }
    }

    /// A collection `readNode` is inside of. Its entries grow here, outside the `YAMLNode`
    /// they end up in: appending to an array held in an enum's payload copied it on every
    /// append, which made a list of n numbers (an imported layer's weights) cost n^2.
    private struct OpenCollection {
        var isSequence: Bool
        var start: SourcePosition
        var items: [YAMLNode] = []
        var pairs: [(key: Located<String>, value: YAMLNode)] = []
        var pendingKey: Located<String>?
        /// The mapping's keys, built only once it has more than a few entries (a linear scan
        /// is cheaper below that; a set keeps large ones linear).
        var keys: Set<String>?

        init(isSequence: Bool, start: SourcePosition) {
            self.isSequence = isSequence
            self.start = start
        }

        /// Whether `key` is already a key of this mapping (and remembers it).
        mutating func isDuplicate(_ key: String) -> Bool {
            if pairs.count < 8 && keys == nil { return pairs.contains { $0.key.value == key } }
            if keys == nil { keys = Set(pairs.map(\.key.value)) }
            return keys?.insert(key).inserted == false
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
