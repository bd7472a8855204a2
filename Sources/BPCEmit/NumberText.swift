/// Numbers as people read them in explanations, drawings and tables, where the shortest
/// round-trip form (`0.6785246631166438`) buries the point under digits.
public enum NumberText {
    /// `value` rounded to `digits` significant digits and written as briefly as possible:
    /// `0.4174`, `-1.5`, `120`, `1.235e4`, `3e-7` (with 4 digits: scientific below 1e-4 and
    /// from 10^digits, as C's `%g`).
    ///
    /// The digits are rounded from Swift's shortest round-trip decimal (half up), not from the
    /// binary value through the C library, so the text is the same on every platform and
    /// `0.12345` shows as `0.1235`, as a reader rounding the number they see would.
    public static func short(_ value: Double, digits significant: Int = 6) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        if value == 0 { return "0" }
        // value = 0.d1 d2 d3 ... x 10^point, read off the shortest decimal ("1.2345e-05").
        let text = value.magnitude.description
        let parts = text.split(separator: "e")
        var digits: [UInt8] = []
        var point = 0
        for character in parts[0] {
            if character == "." {
                point = digits.count
            } else if let digit = character.wholeNumberValue {
                digits.append(UInt8(digit))
            }
        }
        if !parts[0].contains(".") { point = digits.count }
        if parts.count > 1, let exponent = Int(parts[1]) { point += exponent }
        while digits.first == 0 {
            digits.removeFirst()
            point -= 1
        }
        let significant = max(1, min(significant, 17))
        if digits.count > significant {
            let roundsUp = digits[significant] >= 5
            digits.removeLast(digits.count - significant)
            if roundsUp {
                var position = significant - 1
                while position >= 0 && digits[position] == 9 {
                    digits[position] = 0
                    position -= 1
                }
                if position >= 0 {
                    digits[position] += 1
                } else {
                    digits.insert(1, at: 0)
                    digits.removeLast()
                    point += 1
                }
            }
        }
        while digits.last == 0 { digits.removeLast() }
        let sign = value < 0 ? "-" : ""
        let spelled = digits.map { String($0) }
        let exponent = point - 1
        if exponent < -4 || exponent >= significant {
            let fraction = spelled.dropFirst().joined()
            return sign + spelled[0] + (fraction.isEmpty ? "" : "." + fraction) + "e" + String(exponent)
        }
        if point <= 0 { return sign + "0." + String(repeating: "0", count: -point) + spelled.joined() }
        if point >= spelled.count { return sign + spelled.joined() + String(repeating: "0", count: point - spelled.count) }
        return sign + spelled[..<point].joined() + "." + spelled[point...].joined()
    }
}
