import BPCPlan

/// A JSON value with ordered object keys, for the small documents bpc prints (`--json`).
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case integer(Int)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        lhs.serialized() == rhs.serialized()
    }

    /// Compact JSON text. Doubles use Swift's shortest round-trip form, so every number reads
    /// back to the identical binary64; non-finite numbers, which JSON cannot hold, become null.
    public func serialized() -> String {
        var output = ""
        write(to: &output)
        return output
    }

    public func write(to output: inout String) {
        switch self {
        case .null: output += "null"
        case .bool(let value): output += value ? "true" : "false"
        case .number(let value): JSONText.appendNumber(value, to: &output)
        case .integer(let value): output += String(value)
        case .string(let value): JSONText.appendString(value, to: &output)
        case .array(let items):
            output += "["
            for (index, item) in items.enumerated() {
                if index > 0 { output += ", " }
                item.write(to: &output)
            }
            output += "]"
        case .object(let pairs):
            output += "{"
            for (index, (key, value)) in pairs.enumerated() {
                if index > 0 { output += ", " }
                JSONText.appendString(key, to: &output)
                output += ": "
                value.write(to: &output)
            }
            output += "}"
        }
    }
}
