/// The small checks the importers make of names and numbers in untrusted text, written once so
/// that every reader accepts exactly the same digits (ASCII only: `Character.isNumber` would
/// also take "٣" or "½", which no file format bpc reads writes as a count).
enum TextChecks {
    /// Whether `byte` is one of the ASCII digits 0 to 9.
    static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// Whether every byte is an ASCII digit; true for no bytes, so a caller that needs a
    /// number says `!bytes.isEmpty` too (a name's empty suffix after `Gemm_` is still generic).
    static func allDigits<Bytes: Sequence>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        bytes.allSatisfy(isDigit)
    }

    /// `x` when `names` are exactly `x[0]`, `x[1]`, ... in order: bpc's names of a group's
    /// members, which the exporter writes as one tensor `x` and the importer reads back as the
    /// group `x`.
    static func groupName<Names: Collection<String>>(ofMembers names: Names) -> String? {
        guard let first = names.first, first.hasSuffix("[0]"), first.count > 3 else { return nil }
        let group = String(first.dropLast(3))
        return names.enumerated().allSatisfy({ $0.element == "\(group)[\($0.offset)]" }) ? group : nil
    }

    /// Whether `x` is plus or minus a normal power of two: multiplying by it, or by its
    /// reciprocal when that is normal too, only moves the exponent, so it never rounds (unless
    /// the product leaves the normal range).
    static func isPowerOfTwo(_ x: Double) -> Bool {
        x.isNormal && x.significandBitPattern == 0
    }
}
