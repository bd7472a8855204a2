/// Why a plan file was rejected: a JSON or schema problem at a place in the file, or a broken
/// invariant of the plan it describes.
public struct PlanFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based; 0 when the problem is not at one place (a failed invariant).
    public var line: Int
    public var column: Int
    public var message: String

    public init(line: Int, column: Int, message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { message }
}

extension PlanJSON {
    /// Reads a plan file written by `encode` and verifies it.
    ///
    /// A hand-written scanner, not a generic JSON tree: it reads the arrays straight into the
    /// plan's typed arrays (a plan with millions of edges costs no per-value objects), parses
    /// numbers with the standard library's correctly rounded `Double(_:)`, rejects duplicate
    /// and missing keys, and never indexes past the input. Any failure is an error that says
    /// where or which invariant, never a trap.
    public static func decode(_ bytes: [UInt8]) throws(PlanFileError) -> Plan {
        var scanner = JSONScanner(bytes: bytes)
        return try scanner.readPlan()
    }
}

private struct JSONScanner {
    let bytes: [UInt8]
    var index = 0
    /// Nesting of skipped unknown values, bounded so a hostile file cannot exhaust the stack.
    static let maxSkipDepth = 64

    init(bytes: [UInt8]) { self.bytes = bytes }

    func failure(_ message: String) -> PlanFileError {
        var line = 1, column = 1
        var position = 0
        while position < min(index, bytes.count) {
            if bytes[position] == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if bytes[position] & 0xC0 != 0x80 {
                column += 1
            }
            position += 1
        }
        return PlanFileError(line: line, column: column, message: message)
    }

    mutating func skipSpace() {
        while index < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 }
    }

    mutating func peek() -> UInt8? {
        skipSpace()
        return index < bytes.count ? bytes[index] : nil
    }

    mutating func expect(_ character: Character) throws(PlanFileError) {
        guard let ascii = character.asciiValue else { return }
        guard peek() == ascii else {
            throw failure(index < bytes.count ? "expected '\(character)'" : "the file ends early; expected '\(character)'")
        }
        index += 1
    }

    /// True and consumes it if the next token is `character`.
    mutating func take(_ character: Character) -> Bool {
        guard let ascii = character.asciiValue, peek() == ascii else { return false }
        index += 1
        return true
    }

    mutating func readString() throws(PlanFileError) -> String {
        try expect("\"")
        var utf8: [UInt8] = []
        while true {
            guard index < bytes.count else { throw failure("the file ends inside a string") }
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { throw failure("the file ends inside a string") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escape)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "u"):
                    guard index + 4 <= bytes.count, let code = UInt32(String(decoding: bytes[index..<(index + 4)], as: UTF8.self), radix: 16) else {
                        throw failure("a \\u escape needs four hex digits")
                    }
                    index += 4
                    let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                    utf8 += Array(String(Character(scalar)).utf8)
                default:
                    throw failure("unknown escape \\\(Character(Unicode.Scalar(escape)))")
                }
            default:
                guard byte >= 0x20 else { throw failure("a control character inside a string") }
                utf8.append(byte)
            }
        }
    }

    /// The text of a JSON number, checked against JSON's grammar.
    mutating func readNumberText() throws(PlanFileError) -> Substring {
        skipSpace()
        let start = index
        func digits() -> Int {
            let begin = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
            return index - begin
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard digits() > 0 else { throw failure("expected a number") }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw failure("expected digits after '.'") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw failure("expected digits in the exponent") }
        }
        guard index - start <= 400 else { throw failure("a number of \(index - start) characters") }
        return Substring(String(decoding: bytes[start..<index], as: UTF8.self))
    }

    mutating func readDouble() throws(PlanFileError) -> Double {
        if peek() == UInt8(ascii: "n") {
            throw failure("null where a number belongs (a parameter that was not finite)")
        }
        let text = try readNumberText()
        guard let value = Double(text), value.isFinite else { throw failure("the number \(text) is out of range") }
        return value
    }

    mutating func readInteger() throws(PlanFileError) -> Int32 {
        let text = try readNumberText()
        guard let value = Int32(text) else { throw failure("expected an integer index, found \(text)") }
        return value
    }

    mutating func readArray<Element>(_ element: (inout JSONScanner) throws(PlanFileError) -> Element) throws(PlanFileError) -> [Element] {
        try expect("[")
        var values: [Element] = []
        if take("]") { return values }
        repeat {
            values.append(try element(&self))
        } while take(",")
        try expect("]")
        return values
    }

    /// Reads an object, handing each key to `field`, which must consume its value; rejects
    /// duplicates and returns the keys seen.
    mutating func readObject(_ field: (inout JSONScanner, String) throws(PlanFileError) -> Void) throws(PlanFileError) -> Set<String> {
        try expect("{")
        var seen = Set<String>()
        if take("}") { return seen }
        repeat {
            let key = try readString()
            guard seen.insert(key).inserted else { throw failure("duplicate key \"\(key)\"") }
            try expect(":")
            try field(&self, key)
        } while take(",")
        try expect("}")
        return seen
    }

    /// Skips any value (for keys newer versions may add inside `summary`).
    mutating func skipValue(depth: Int = 0) throws(PlanFileError) {
        guard depth < JSONScanner.maxSkipDepth else { throw failure("values nested too deep") }
        switch peek() {
        case UInt8(ascii: "{"): _ = try readObject { (scanner: inout JSONScanner, _: String) throws(PlanFileError) in try scanner.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["): _ = try readArray { (scanner: inout JSONScanner) throws(PlanFileError) in try scanner.skipValue(depth: depth + 1) }
        case UInt8(ascii: "\""): _ = try readString()
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            for word in ["true", "false", "null"] where bytes[index...].starts(with: word.utf8) {
                index += word.utf8.count
                return
            }
            throw failure("expected a value")
        default: _ = try readNumberText()
        }
    }

    func require(_ keys: Set<String>, _ needed: [String], in what: String) throws(PlanFileError) {
        for key in needed where !keys.contains(key) {
            throw failure("\(what) is missing \"\(key)\"")
        }
    }

    mutating func readPlan() throws(PlanFileError) -> Plan {
        var plan = Plan(name: "", unitNames: [], roles: [], activations: [], biasParameter: [], inputUnits: [], outputUnits: [],
                        fanInStart: [], fanInSource: [], fanInParameter: [], fanOutStart: [], fanOutTarget: [], fanOutParameter: [],
                        parameters: [], loss: .halfSquaredError)
        guard peek() == UInt8(ascii: "{") else { throw failure("a plan file is a JSON object; this is not JSON from bpc compile") }
        var writtenKeys: [String] = []
        let top = try readObject { (scanner: inout JSONScanner, key: String) throws(PlanFileError) in
            switch key {
            case "format":
                let format = try scanner.readString()
                guard format == PlanJSON.formatName else { throw scanner.failure("format is \"\(format)\", not \"\(PlanJSON.formatName)\"") }
            case "version":
                let version = try scanner.readInteger()
                guard version == Int32(Plan.formatVersion) else {
                    throw scanner.failure("plan format version \(version) is not supported; this bpc reads version \(Plan.formatVersion)")
                }
            case "name": plan.name = try scanner.readString()
            case "loss":
                let name = try scanner.readString()
                guard let loss = Loss(rawValue: name) else { throw scanner.failure("unknown loss \"\(name)\"") }
                plan.loss = loss
            case "units":
                let seen = try scanner.readObject { (scanner: inout JSONScanner, key: String) throws(PlanFileError) in
                    switch key {
                    case "name": plan.unitNames = try scanner.readArray { (s: inout JSONScanner) throws(PlanFileError) in try s.readString() }
                    case "role": plan.roles = try scanner.readArray { (s: inout JSONScanner) throws(PlanFileError) in
                        let text = try s.readString()
                        guard let role = UnitRole(rawValue: text) else { throw s.failure("unknown role \"\(text)\"") }
                        return role
                    }
                    case "activation": plan.activations = try scanner.readArray { (s: inout JSONScanner) throws(PlanFileError) in
                        let text = try s.readString()
                        guard let activation = Activation(rawValue: text) else { throw s.failure("unknown activation \"\(text)\"") }
                        return activation
                    }
                    case "bias_parameter": plan.biasParameter = try scanner.readArray { (s: inout JSONScanner) throws(PlanFileError) in try s.readInteger() }
                    default: throw scanner.failure("unknown key \"\(key)\" in units")
                    }
                }
                try scanner.require(seen, ["name", "role", "activation", "bias_parameter"], in: "units")
            case "inputs": plan.inputUnits = try scanner.readArray { (s: inout JSONScanner) throws(PlanFileError) in try s.readInteger() }
            case "outputs": plan.outputUnits = try scanner.readArray { (s: inout JSONScanner) throws(PlanFileError) in try s.readInteger() }
            case "fan_in", "fan_out":
                let other = key == "fan_in" ? "source" : "target"
                var start: [Int32] = [], ends: [Int32] = [], parameter: [Int32] = []
                let seen = try scanner.readObject { (scanner: inout JSONScanner, field: String) throws(PlanFileError) in
                    let values = try scanner.readArray { (s: inout JSONScanner) throws(PlanFileError) in try s.readInteger() }
                    switch field {
                    case "start": start = values
                    case other: ends = values
                    case "parameter": parameter = values
                    default: throw scanner.failure("unknown key \"\(field)\" in \(key)")
                    }
                }
                try scanner.require(seen, ["start", other, "parameter"], in: key)
                if key == "fan_in" {
                    (plan.fanInStart, plan.fanInSource, plan.fanInParameter) = (start, ends, parameter)
                } else {
                    (plan.fanOutStart, plan.fanOutTarget, plan.fanOutParameter) = (start, ends, parameter)
                }
            case "parameters":
                var parameterKeys: [String] = []
                let seen = try scanner.readObject { (scanner: inout JSONScanner, field: String) throws(PlanFileError) in
                    switch field {
                    case "key": parameterKeys = try scanner.readArray { (s: inout JSONScanner) throws(PlanFileError) in try s.readString() }
                    case "value": plan.parameters = try scanner.readArray { (s: inout JSONScanner) throws(PlanFileError) in try s.readDouble() }
                    case "shared": plan.sharedWith = try scanner.readArray { (s: inout JSONScanner) throws(PlanFileError) in try s.readInteger() }
                    default: throw scanner.failure("unknown key \"\(field)\" in parameters")
                    }
                }
                try scanner.require(seen, ["key", "value"], in: "parameters")
                guard parameterKeys.count == plan.parameters.count else {
                    throw scanner.failure("parameters has \(parameterKeys.count) keys for \(plan.parameters.count) values")
                }
                writtenKeys = parameterKeys
            case "columns":
                plan.columns = []
                _ = try scanner.readObject { (scanner: inout JSONScanner, header: String) throws(PlanFileError) in
                    plan.columns?.append(ColumnMapping(header: header, unit: try scanner.readString()))
                }
            case "classes":
                var column = "", names: [String] = []
                let seen = try scanner.readObject { (scanner: inout JSONScanner, field: String) throws(PlanFileError) in
                    switch field {
                    case "column": column = try scanner.readString()
                    case "names": names = try scanner.readArray { (s: inout JSONScanner) throws(PlanFileError) in try s.readString() }
                    default: throw scanner.failure("unknown key \"\(field)\" in classes")
                    }
                }
                try scanner.require(seen, ["column", "names"], in: "classes")
                plan.classLabels = ClassLabels(column: column, names: names)
            case "normalization":
                var method = InputNormalization.Method.standard, shift: [Double] = [], scale: [Double] = []
                let seen = try scanner.readObject { (scanner: inout JSONScanner, field: String) throws(PlanFileError) in
                    switch field {
                    case "method":
                        let text = try scanner.readString()
                        guard let value = InputNormalization.Method(rawValue: text) else { throw scanner.failure("unknown normalization method \"\(text)\"") }
                        method = value
                    case "shift": shift = try scanner.readArray { (s: inout JSONScanner) throws(PlanFileError) in try s.readDouble() }
                    case "scale": scale = try scanner.readArray { (s: inout JSONScanner) throws(PlanFileError) in try s.readDouble() }
                    default: throw scanner.failure("unknown key \"\(field)\" in normalization")
                    }
                }
                try scanner.require(seen, ["method", "shift", "scale"], in: "normalization")
                plan.inputNormalization = InputNormalization(method: method, shift: shift, scale: scale)
            case "summary": try scanner.skipValue()
            default: throw scanner.failure("unknown key \"\(key)\"; is this a plan from a newer bpc?")
            }
        }
        try require(top, ["format", "version", "name", "loss", "units", "inputs", "outputs", "fan_in", "fan_out", "parameters"], in: "the plan")
        skipSpace()
        guard index == bytes.count else { throw failure("text after the plan's closing brace") }
        do {
            try plan.verify()
        } catch {
            throw PlanFileError(line: 0, column: 0, message: "the plan breaks an invariant: \(error.invariant)")
        }
        guard plan.parameterKeys() == writtenKeys else {
            throw PlanFileError(line: 0, column: 0, message: "the parameter keys do not match the units and edges they name")
        }
        return plan
    }
}
