/// Decimal text to binary64, correctly rounded, straight from a CSV file's bytes.
///
/// Data files are mostly numbers written in shortest round-trip form (17 significant digits
/// and more than 2^53, where the classic exact fast path does not apply), and making a
/// `String` for each of millions of fields to call `Double(_:)` costs more than reading the
/// file. So the digits are read into a 64-bit integer here and converted by
///
/// 1. Clinger's fast path when the integer and the power of ten are both exact binary64
///    values (one rounding: exact);
/// 2. otherwise the Eisel-Lemire algorithm (Lemire, "Number Parsing at a Gigabyte per
///    Second", 2021; as in Go's strconv and fast_float): one 64 x 128-bit product with a
///    truncated power of ten, which decides the rounding in all but rare cases;
/// 3. and in those rare cases (more than 19 significant digits, a result Eisel-Lemire cannot
///    decide, an exponent beyond binary64's range), the standard library's correctly rounded
///    `Double(_:)` on the field's text.
///
/// Every step is exact or correctly rounded, so the result is the binary64 nearest the text
/// (ties to even), the same as `Double(_:)`; the tests compare the two on random numbers.
///
/// A value holds the tables it reads: a lazily built static table is checked for its
/// initialisation at every use, which is measurable at millions of numbers.
struct DecimalNumber {
    private let exactPowers = DecimalNumber.exactPowerTable
    private let powers = PowersOfTen.table

    /// The syntax read here: `[+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?`,
    /// the decimal numbers of the spec format. Returns nil for any other text (the caller
    /// tries the spec's number syntax as a whole, which also has `0x` integers).
    ///
    /// - Complexity: O(length), no allocation unless the rare fallback runs.
    @inline(__always)
    func parse(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Double? {
        guard let number = parse(prefixOf: bytes, from: start, limit: end), number.end == end else { return nil }
        return number.value
    }

    /// The number that starts at `start` and where its text ends, reading no further than
    /// `limit`: a CSV field is read in the same pass that finds its end. Nil when no number in
    /// the syntax of `parse` starts there (or an exponent marker has no digits).
    @inline(__always)
    func parse(prefixOf bytes: UnsafeBufferPointer<UInt8>, from start: Int, limit: Int) -> (value: Double, end: Int)? {
        var index = start
        guard index < limit else { return nil }
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative || bytes[index] == UInt8(ascii: "+") { index += 1 }
        // Every digit goes into a wrapping integer: exact for up to 19 significant digits,
        // which is nearly every number written; longer ones are read again by `significand`.
        let digitsStart = index
        var mantissa: UInt64 = 0
        Self.readDigits(bytes, &index, limit, into: &mantissa)
        var digits = index - digitsStart
        var exponent = 0
        if index < limit, bytes[index] == UInt8(ascii: ".") {
            index += 1
            let fractionStart = index
            Self.readDigits(bytes, &index, limit, into: &mantissa)
            exponent = fractionStart - index
            digits += index - fractionStart
        }
        guard digits > 0 else { return nil }
        let digitsEnd = index
        var written = 0
        if index < limit, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            var exponentNegative = false
            if index < limit, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
                exponentNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            let exponentStart = index
            while index < limit, case let digit = bytes[index] &- UInt8(ascii: "0"), digit < 10 {
                // Far beyond binary64's range either way; saturating keeps the sum from overflowing.
                if written < 100_000 { written = written * 10 + Int(digit) }
                index += 1
            }
            guard index > exponentStart else { return nil }
            if exponentNegative { written = -written }
        }
        var truncated = false
        if digits > 19 && digits - Self.leadingZeros(bytes, from: digitsStart, to: digitsEnd) > 19 {
            (mantissa, exponent, truncated) = Self.significand(bytes, from: digitsStart, to: digitsEnd)
        }
        exponent += written
        if !truncated {
            if mantissa == 0 { return (negative ? -0.0 : 0.0, index) }
            if let value = clinger(mantissa, exponent) ?? eiselLemire(mantissa, exponent) {
                return (negative ? -value : value, index)
            }
        }
        guard let value = Double(Substring(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)) else { return nil }
        return (value, index)
    }

    /// Appends the decimal digits at `index` to `mantissa` (wrapping), eight at a time while
    /// there are eight: a data file's numbers mostly have 15 to 17 digits, and a byte at a time
    /// costs a compare, a branch and a multiply each.
    @inline(__always)
    private static func readDigits(_ bytes: UnsafeBufferPointer<UInt8>, _ index: inout Int, _ limit: Int, into mantissa: inout UInt64) {
        let raw = UnsafeRawBufferPointer(bytes)
        while limit &- index >= 8 {
            let word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            // Every byte is 0x30...0x39: its high nibble is 3, and adding 6 does not carry into it.
            guard (word & 0xF0F0_F0F0_F0F0_F0F0) | ((word &+ 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) >> 4 == 0x3333_3333_3333_3333 else { break }
            mantissa = mantissa &* 100_000_000 &+ Self.eightDigits(word)
            index &+= 8
        }
        while index < limit, case let digit = bytes[index] &- UInt8(ascii: "0"), digit < 10 {
            mantissa = mantissa &* 10 &+ UInt64(digit)
            index &+= 1
        }
    }

    /// The value of eight ASCII digits, the first in the lowest byte: pairs, then fours, then
    /// all eight combined by multiplies that keep each step's partial sums in separate lanes.
    @inline(__always)
    private static func eightDigits(_ word: UInt64) -> UInt64 {
        let mask: UInt64 = 0x0000_00FF_0000_00FF
        var value = word &- 0x3030_3030_3030_3030
        value = value &* 10 &+ value >> 8
        return ((value & mask) &* (100 + 1_000_000 << 32) &+ (value >> 16 & mask) &* (1 + 10_000 << 32)) >> 32
    }

    /// Zeros before the first nonzero digit (the decimal point skipped): they are not
    /// significant, so `0.000123...` keeps the fast path.
    private static func leadingZeros(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Int {
        var zeros = 0
        for byte in UnsafeBufferPointer(rebasing: bytes[start..<end]) {
            if byte == UInt8(ascii: "0") {
                zeros += 1
            } else if byte != UInt8(ascii: ".") {
                break
            }
        }
        return zeros
    }

    /// Digits (with a decimal point among them) with more than 19 significant: the first 19
    /// as an integer, the power of ten that scales it, and whether a nonzero digit was cut.
    private static func significand(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> (mantissa: UInt64, exponent: Int, truncated: Bool) {
        var mantissa: UInt64 = 0
        var significant = 0
        var exponent = 0
        var truncated = false
        var inFraction = false
        for byte in UnsafeBufferPointer(rebasing: bytes[start..<end]) {
            guard byte != UInt8(ascii: ".") else {
                inFraction = true
                continue
            }
            let digit = byte &- UInt8(ascii: "0")
            if significant < 19 {
                mantissa = mantissa * 10 + UInt64(digit)
                if mantissa != 0 { significant += 1 }
                if inFraction { exponent -= 1 }
            } else {
                if !inFraction { exponent += 1 }
                if digit != 0 { truncated = true }
            }
        }
        return (mantissa, exponent, truncated)
    }

    /// Exact powers of ten in binary64: 10^22 is the largest.
    private static let exactPowerTable: [Double] = (0...22).reduce(into: []) { powers, k in powers.append(k == 0 ? 1 : powers[k - 1] * 10) }

    /// m * 10^e with one rounding, when m and 10^|e| are exact binary64 values.
    @inline(__always)
    private func clinger(_ mantissa: UInt64, _ exponent: Int) -> Double? {
        guard mantissa <= 1 << 53, exponent >= -22, exponent <= 22 else { return nil }
        let value = Double(mantissa)
        return exponent >= 0 ? value * exactPowers[exponent] : value / exactPowers[-exponent]
    }

    /// Eisel-Lemire for a nonzero exact 64-bit mantissa; nil when the product cannot decide
    /// the rounding, or the result would be subnormal, infinite or out of the table.
    @inline(__always)
    private func eiselLemire(_ mantissa: UInt64, _ exponent: Int) -> Double? {
        guard exponent >= PowersOfTen.smallest, exponent <= PowersOfTen.largest else { return nil }
        let row = 2 * (exponent - PowersOfTen.smallest)
        let (high, low) = (powers[row], powers[row + 1])
        let zeros = mantissa.leadingZeroBitCount
        let normalized = mantissa << UInt64(zeros)
        // floor(e * log2(10)) + 64 + bias - zeros: the binary exponent before normalisation.
        var binaryExponent = UInt64(bitPattern: Int64((217_706 * exponent) >> 16 + 64 + 1023 - zeros))
        var (productHigh, productLow) = normalized.multipliedFullWidth(by: high)
        if productHigh & 0x1FF == 0x1FF && productLow &+ normalized < productLow {
            // The truncated power may have lost a carry into the bits that decide rounding:
            // add the product with the power's low 64 bits.
            let (extraHigh, extraLow) = normalized.multipliedFullWidth(by: low)
            let (mergedLow, carry) = productLow.addingReportingOverflow(extraHigh)
            let mergedHigh = productHigh &+ (carry ? 1 : 0)
            if mergedHigh & 0x1FF == 0x1FF && mergedLow &+ 1 == 0 && extraLow &+ normalized < extraLow { return nil }
            (productHigh, productLow) = (mergedHigh, mergedLow)
        }
        let top = productHigh >> 63
        var significand = productHigh >> (top + 9)
        binaryExponent &-= 1 ^ top
        // Exactly halfway between two binary64 values: the truncation cannot tell which way.
        if productLow == 0 && productHigh & 0x1FF == 0 && significand & 3 == 1 { return nil }
        significand += significand & 1
        significand >>= 1
        if significand >> 53 > 0 {
            significand >>= 1
            binaryExponent &+= 1
        }
        // Subnormal (0 or wrapped below) or infinite results go to the fallback.
        guard binaryExponent &- 1 < 0x7FF - 1 else { return nil }
        return Double(bitPattern: binaryExponent << 52 | significand & 0x000F_FFFF_FFFF_FFFF)
    }
}

/// The 128-bit truncated significands of 10^e for e in `smallest...largest`, normalised so
/// the top bit is set: `table[2i]` holds the high 64 bits and `table[2i+1]` the low ones.
///
/// Computed once from exact integers rather than written out as 1,302 constants: 10^e for
/// e >= 0 by repeated multiplication, and floor(2^1344 / 10^k) for e = -k by repeated
/// division (floor(floor(x / 10) / 10) = floor(x / 100)), each cut to its top 128 bits. Both
/// are truncations of the exact value, which is what the algorithm's error bound assumes.
enum PowersOfTen {
    static let smallest = -342
    static let largest = 308

    static let table: [UInt64] = {
        var rows = [(UInt64, UInt64)](repeating: (0, 0), count: largest - smallest + 1)
        var power: [UInt64] = [1]
        for e in 0...largest {
            if e > 0 { multiply(&power, by: 10) }
            rows[e - smallest] = topBits(power)
        }
        var fraction = [UInt64](repeating: 0, count: 22)
        fraction[21] = 1  // 2^1344
        for k in 1...(-smallest) {
            divide(&fraction, by: 10)
            rows[-k - smallest] = topBits(fraction)
        }
        return rows.flatMap { [$0.0, $0.1] }
    }()

    /// Little-endian limbs times a small factor.
    private static func multiply(_ limbs: inout [UInt64], by factor: UInt64) {
        var carry: UInt64 = 0
        for index in limbs.indices {
            let (high, low) = limbs[index].multipliedFullWidth(by: factor)
            let (sum, overflow) = low.addingReportingOverflow(carry)
            limbs[index] = sum
            carry = high &+ (overflow ? 1 : 0)
        }
        if carry != 0 { limbs.append(carry) }
    }

    /// Little-endian limbs divided by a small divisor, rounded down.
    private static func divide(_ limbs: inout [UInt64], by divisor: UInt64) {
        var remainder: UInt64 = 0
        for index in limbs.indices.reversed() {
            (limbs[index], remainder) = divisor.dividingFullWidth((high: remainder, low: limbs[index]))
        }
    }

    /// The top 128 bits of a nonzero integer, shifted up so the highest bit is set (zeros
    /// shifted in below a shorter integer, which is then exact).
    private static func topBits(_ limbs: [UInt64]) -> (UInt64, UInt64) {
        guard let top = limbs.lastIndex(where: { $0 != 0 }) else { return (0, 0) }
        let shift = UInt64(limbs[top].leadingZeroBitCount)
        func limb(_ index: Int) -> UInt64 { index >= 0 ? limbs[index] : 0 }
        func shifted(_ index: Int) -> UInt64 {
            shift == 0 ? limb(index) : limb(index) << shift | limb(index - 1) >> (64 - shift)
        }
        return (shifted(top), shifted(top - 1))
    }
}
