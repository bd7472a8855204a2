/// Names in generated code.
///
/// A network's name and its units' names come from the spec or the plan file and can be any
/// string: a keyword (`in`, `int`), a name the generated code itself uses (`Double`, `exp`),
/// something that is not an identifier at all (`my net`, `2-layer`, `ünïcode`, the empty
/// string), or text that would end a comment early (`a*/b`). The generators therefore never write such a name as it
/// is: the prefix goes through `identifier(from:)` and every name written into a comment goes
/// through `commentText(_:)`. Neither changes an ordinary name (an ASCII identifier that is no
/// keyword), so the code generated for ordinary networks is unaffected.
extension CodeEmitter {
    /// The longest prefix: C99 guarantees 63 significant initial characters in an identifier
    /// (5.2.4.1), and the longest generated C name is `PREFIX_fan_out_parameter` (18 more).
    public static let maximumPrefixLength = 45

    /// A prefix for `name` that is valid in both C and Swift and collides with nothing: equal to
    /// `name` when `problem(withPrefix: name)` is nil, and otherwise made one by these rules:
    ///
    /// 1. Every character other than an ASCII letter or digit becomes `_`, runs of `_` become
    ///    one, and leading and trailing `_` are dropped. Only ASCII letters, digits and `_` are
    ///    identifier characters in both languages without extensions; a leading `_` is reserved
    ///    to the C implementation at file scope (C99 7.1.3), where every generated C name lives;
    ///    and `__` anywhere (which a trailing `_` would give in `PREFIX__forward`) is reserved
    ///    in C++, which may include the header.
    /// 2. Nothing left: `net`. A leading digit gets `net_` in front.
    /// 3. Longer than `maximumPrefixLength`: cut to it (and step 1 repeated on the cut's end).
    /// 4. A keyword of Swift or C, or a name the generated Swift uses or that a public enum of
    ///    that name would hide from the module containing it (`Double`, `exp`, `Swift`, `Glibc`,
    ///    ...; see `reservedNames`): `_net` is appended. Renaming rather than qualifying every
    ///    use in the generated code (`Swift.Double`) is the choice because a module-level
    ///    `enum Double` would also shadow `Double` in the user's own code beside it, and
    ///    `Swift.Double` itself breaks once the module has a type named `Swift`.
    ///
    /// The result never starts with a digit or `_`, so `PREFIX_H` and the other upper-case macro
    /// names are not reserved either. The function is idempotent and never fails.
    public static func identifier(from name: String) -> String {
        let underscore = UInt8(ascii: "_")
        var bytes: [UInt8] = []
        var separated = false
        for character in name {
            guard let byte = character.asciiValue, isLetterOrDigit(byte) else {
                separated = true
                continue
            }
            if separated && !bytes.isEmpty { bytes.append(underscore) }
            separated = false
            bytes.append(byte)
            // Enough for the longest result: stop reading arbitrarily long names early.
            if bytes.count > maximumPrefixLength { break }
        }
        if bytes.isEmpty { bytes = Array("net".utf8) }
        if let first = bytes.first, isDigit(first) { bytes = Array("net_".utf8) + bytes }
        if bytes.count > maximumPrefixLength { bytes.removeLast(bytes.count - maximumPrefixLength) }
        while bytes.last == underscore { bytes.removeLast() }
        var result = String(decoding: bytes, as: UTF8.self)
        if reservedNames[result] != nil { result += "_net" }
        return result
    }

    /// Why `prefix`, given explicitly (`bpc emit --prefix`), cannot be used as it is, as a
    /// message for the user that suggests `identifier(from: prefix)`; nil when it can. Exactly
    /// the prefixes that `identifier(from:)` leaves unchanged are accepted, so a prefix the user
    /// chose is either used verbatim or refused, never silently changed.
    public static func problem(withPrefix prefix: String) -> String? {
        let suggestion = identifier(from: prefix)
        if suggestion == prefix { return nil }
        let quoted = "'\(displayText(prefix))'"
        let bytes = Array(prefix.utf8)
        let reason: String
        if bytes.isEmpty {
            return "the prefix is empty; try '\(suggestion)'"
        } else if !bytes.allSatisfy({ isLetterOrDigit($0) || $0 == UInt8(ascii: "_") }) {
            reason = "is not an identifier (only ASCII letters, digits and _ are allowed)"
        } else if let first = bytes.first, isDigit(first) {
            reason = "starts with a digit"
        } else if bytes.first == UInt8(ascii: "_") {
            reason = "starts with _, which C reserves for the implementation at file scope"
        } else if prefix.contains("__") || bytes.last == UInt8(ascii: "_") {
            reason = "would put __ into the generated C names (\(displayText(prefix + "_forward"))), which C++ reserves"
        } else if bytes.count > maximumPrefixLength {
            reason = "is longer than \(maximumPrefixLength) characters (C99 guarantees 63 significant characters, and the generated C names add up to 18)"
        } else if let kind = reservedNames[prefix] {
            reason = kind.explanation
        } else {
            reason = "is not a valid prefix"
        }
        return "the prefix \(quoted) \(reason); try '\(suggestion)'"
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }

    private static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || isDigit(byte)
    }

    /// Why a name is reserved.
    enum Reservation {
        case swiftKeyword, cKeyword, keyword, swiftName

        var explanation: String {
            switch self {
            case .swiftKeyword: return "is a Swift keyword"
            case .cKeyword: return "is a C keyword"
            case .keyword: return "is a keyword in both Swift and C"
            case .swiftName:
                return "would shadow the Swift standard library's or platform's declaration of that name, in the generated code and in the module that contains it"
            }
        }
    }

    /// Swift's keywords that cannot be identifiers (declarations, statements, expressions and
    /// types, patterns: The Swift Programming Language, "Lexical Structure"), plus `Type` and
    /// `Protocol`, which follow a type's name (`NAME.Type`). The keywords reserved only in
    /// particular contexts (`set`, `some`, `left`, ...) are valid type names and stay allowed.
    static let swiftKeywords: Set<String> = [
        "associatedtype", "borrowing", "class", "consuming", "deinit", "enum", "extension", "fileprivate", "func",
        "import", "init", "inout", "internal", "let", "nonisolated", "open", "operator", "precedencegroup",
        "private", "protocol", "public", "rethrows", "static", "struct", "subscript", "typealias", "var",
        "break", "case", "catch", "continue", "default", "defer", "do", "else", "fallthrough", "for", "guard",
        "if", "in", "repeat", "return", "throw", "switch", "where", "while",
        "Any", "as", "await", "false", "is", "nil", "self", "Self", "super", "throws", "true", "try",
        "Type", "Protocol",
    ]

    /// C's keywords through C23 (those starting with `_` cannot come out of `identifier(from:)`
    /// and are refused as a prefix for the leading `_` already).
    static let cKeywords: Set<String> = [
        "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
        "extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return",
        "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
        "volatile", "while", "alignas", "alignof", "bool", "constexpr", "false", "nullptr", "static_assert",
        "thread_local", "true", "typeof", "typeof_unqual",
    ]

    /// Names a public enum must not take: what the generated Swift refers to unqualified (inside
    /// `enum NAME`, NAME would be found first), the platform modules it imports, and the
    /// standard library's basic types and free functions, which an enum in the user's module
    /// would hide from all of that module's code.
    static let swiftNames: Set<String> = [
        // Used by the generated code.
        "Double", "Float", "Int", "Int32", "UnsafePointer", "UnsafeMutablePointer", "UnsafeBufferPointer",
        "UnsafeMutableBufferPointer", "Array", "withUnsafeTemporaryAllocation", "precondition",
        "exp", "log", "log1p", "tanh", "abs",
        // Modules.
        "Swift", "Glibc", "Musl", "Darwin", "Foundation", "Dispatch", "Android", "WASILibc", "ucrt", "WinSDK",
        // The standard library's basic types, protocols and free functions.
        "Bool", "String", "Character", "Substring", "Int8", "Int16", "Int64", "Int128", "UInt", "UInt8",
        "UInt16", "UInt32", "UInt64", "UInt128", "Float16", "Float32", "Float64", "Float80", "Void", "Never",
        "AnyObject", "AnyHashable", "Optional", "Result", "Error", "Dictionary", "Set", "Range", "ClosedRange",
        "ArraySlice", "ContiguousArray", "Sequence", "Collection", "Equatable", "Hashable", "Comparable",
        "Sendable", "Codable", "Encodable", "Decodable", "Numeric", "BinaryInteger", "FloatingPoint",
        "BinaryFloatingPoint", "UnsafeRawPointer", "UnsafeMutableRawPointer", "OpaquePointer", "SIMD",
        "MemoryLayout", "CommandLine", "StaticString", "KeyPath", "Unicode", "Copyable", "Escapable",
        "print", "debugPrint", "dump", "min", "max", "assert", "assertionFailure", "preconditionFailure",
        "fatalError", "zip", "stride", "sequence", "swap", "repeatElement", "numericCast", "readLine",
        "type", "unsafeBitCast", "withExtendedLifetime", "withUnsafePointer", "withUnsafeMutablePointer",
        "withUnsafeBytes", "withUnsafeMutableBytes",
    ]

    /// Every reserved name with the reason; for a name in several lists, being a keyword wins.
    static let reservedNames: [String: Reservation] = {
        var names: [String: Reservation] = [:]
        for name in swiftNames { names[name] = .swiftName }
        for name in cKeywords { names[name] = .cKeyword }
        for name in swiftKeywords { names[name] = cKeywords.contains(name) ? .keyword : .swiftKeyword }
        return names
    }()

    /// `text` made safe to write inside a C `/* */` comment, a Swift `/* */` comment (which
    /// nests) and a Swift `//` comment, so that a name can neither end the comment, open a
    /// nested one, start a new line, nor trip a compiler warning: a `/` or `*` that would pair
    /// with its neighbour into `/*` or `*/` is written `\u{2F}` or `\u{2A}`, and so is every
    /// character other than printable ASCII, letters, marks, numbers, punctuation, symbols and
    /// spaces (controls and line breaks, which would end a `//` comment; format characters such
    /// as bidirectional overrides, which GCC warns about; private-use and unassigned code
    /// points). A final `\` (or `??/`, its C trigraph) is escaped too, so that the text cannot
    /// splice lines in C even where it ends a line. Text without such characters is returned
    /// unchanged.
    static func commentText(_ text: String) -> String {
        let utf8 = text.utf8
        var plain = !text.hasSuffix("\\") && !text.hasSuffix("??/")
        var previous: UInt8 = 0
        if plain {
            for byte in utf8 {
                if byte < 0x20 || byte >= 0x7F || (previous == UInt8(ascii: "/") && byte == UInt8(ascii: "*"))
                    || (previous == UInt8(ascii: "*") && byte == UInt8(ascii: "/")) {
                    plain = false
                    break
                }
                previous = byte
            }
        }
        if plain { return text }
        var result = ""
        var last: Unicode.Scalar = " "
        for scalar in text.unicodeScalars {
            let pairs = (last == "/" && scalar == "*") || (last == "*" && scalar == "/")
            if pairs || !isCommentSafe(scalar) {
                result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
                last = "}"
            } else {
                result.unicodeScalars.append(scalar)
                last = scalar
            }
        }
        if result.hasSuffix("\\") || result.hasSuffix("??/") {
            let final = result.unicodeScalars.removeLast()
            result += "\\u{" + String(final.value, radix: 16, uppercase: true) + "}"
        }
        return result
    }

    /// Whether a character shows as itself in a comment or a drawing's label: printable ASCII,
    /// or any other character that is not a control, format, private-use, unassigned or line
    /// separator character (which could hide text or break a line).
    static func isCommentSafe(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII { return scalar.value >= 0x20 && scalar.value < 0x7F }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator:
            return false
        default:
            return true
        }
    }

    /// `text` for a message: as in comments, and at most 60 characters.
    private static func displayText(_ text: String) -> String {
        let shown = commentText(String(text.prefix(60)))
        return text.dropFirst(60).isEmpty ? shown : shown + "..."
    }
}
