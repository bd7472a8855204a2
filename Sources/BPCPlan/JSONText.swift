/// The two leaf encodings shared by the plan writer and every JSON document bpc prints.
public enum JSONText {
    public static func appendNumber(_ value: Double, to output: inout String) {
        guard value.isFinite else {
            output += "null"
            return
        }
        output += value.description
    }

    public static func appendString(_ value: String, to output: inout String) {
        output += "\""
        appendStringContents(value, to: &output)
        output += "\""
    }

    /// `value` escaped, without the quotes: the pieces of a string made of several (escaping
    /// is per character, so escaped pieces concatenate to the escaped whole).
    public static func appendStringContents(_ value: String, to output: inout String) {
        if value.utf8.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            output += value
            return
        }
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
    }
}
