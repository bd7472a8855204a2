/// The pseudo-random generator behind `init` and shuffling: SplitMix64 (Steele, Lea and
/// Flood, 2014), chosen because it is tiny, has no platform-dependent state and gives the same
/// stream for a seed on every machine.
///
/// Doubles use the top 53 bits (`(next >> 11) * 2^-53`, in [0, 1)); normal deviates use
/// Marsaglia's polar method with `portableLog`, so no libm function (whose last bit may
/// differ between platforms) enters the numbers.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// The generator's whole state: `SeededGenerator(seed: g.state)` continues g's stream
    /// exactly (checkpoints save it).
    public var currentState: UInt64 { state }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Uniform in [-scale, scale).
    public mutating func nextUniform(scale: Double) -> Double {
        scale * (2 * nextUnit() - 1)
    }

    /// Standard normal, by the polar method (one deviate per call; the pair's second is dropped
    /// so that each call consumes a whole number of draws independent of the caller's history).
    public mutating func nextNormal() -> Double {
        while true {
            let u = 2 * nextUnit() - 1
            let v = 2 * nextUnit() - 1
            let s = u * u + v * v
            if s > 0 && s < 1 {
                return u * (-2 * portableLog(s) / s).squareRoot()
            }
        }
    }

    /// An index in 0..<count, unbiased (Lemire's method via the standard library).
    public mutating func nextIndex(below count: Int) -> Int {
        Int.random(in: 0..<count, using: &self)
    }
}

/// Natural logarithm from +, -, *, / only, so it is bit-identical on every IEEE 754 machine.
///
/// x = m * 2^k with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(s), s = (m - 1) / (m + 1),
/// summed to s^41 by Horner's rule (|s| < 0.172, so the tail is below 1e-32); k ln 2 uses a split constant.
/// Accurate to about one ulp for positive finite x, which is all the generator needs.
public func portableLog(_ x: Double) -> Double {
    guard x > 0, x.isFinite else { return x == 0 ? -.infinity : .nan }
    var m = x.significand  // in [1, 2)
    var k = Double(x.exponent)
    if m > 1.4142135623730951 {
        m /= 2
        k += 1
    }
    let s = (m - 1) / (m + 1)
    let s2 = s * s
    var series = 1.0 / 41
    for denominator in stride(from: 39.0, through: 1, by: -2) {
        series = series * s2 + 1 / denominator
    }
    let sum = s * series
    let ln2High = 0.693_147_180_369_123_816_49
    let ln2Low = 1.908_214_929_270_587_7e-10
    return (k * ln2High + 2 * sum) + k * ln2Low
}
