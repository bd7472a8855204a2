/// FNV-1a, 64-bit: checkpoints' checksums and identity hashes, and the CSV reader's class
/// lookup. Not cryptographic: it tells files and names apart and catches damage.
package enum Fingerprint {
    @inlinable
    package static func of<Bytes: Sequence>(_ bytes: Bytes) -> UInt64 where Bytes.Element == UInt8 {
        var hasher = Fingerprint.Hasher()
        for byte in bytes { hasher.add(byte) }
        return hasher.value
    }

    package struct Hasher {
        package var value: UInt64 = 0xCBF2_9CE4_8422_2325

        @inlinable package init() {}

        @inlinable package mutating func add(_ byte: UInt8) {
            value ^= UInt64(byte)
            value &*= 0x0000_0100_0000_01B3
        }

        @inlinable package mutating func add(_ number: UInt64) {
            for shift in stride(from: 0, to: 64, by: 8) { add(UInt8(truncatingIfNeeded: number >> UInt64(shift))) }
        }

        @inlinable package mutating func add(_ number: Int) { add(UInt64(bitPattern: Int64(number))) }
        @inlinable package mutating func add(_ number: Double) { add(number.bitPattern) }
        @inlinable package mutating func add(_ text: String) {
            add(text.utf8.count)
            for byte in text.utf8 { add(byte) }
        }
    }
}
