#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import BPCPlan

/// The element type a kernel runs in: binary32 or binary64.
///
/// Kernels are generic over it and specialised by the optimiser, so one piece of code serves
/// both precisions. Only tanh gets a vector form per type: it dominates the hidden layers of
/// most networks, and binary32 can use a rational approximation within 8 units in the last
/// place (about 5e-7 relative; the tests measure it); every other function goes through `Activation`'s binary64
/// formulas, so there is one definition of each.
public protocol KernelScalar: BinaryFloatingPoint, SIMDScalar, Codable, Sendable {
    /// tanh of 8 lanes.
    static func hyperbolicTangent(_ x: SIMD8<Self>) -> SIMD8<Self>
    /// tanh of one value, correctly rounded to this precision by the C library.
    static func hyperbolicTangent(_ x: Self) -> Self
    /// e^x of 8 lanes, for the batched softmax.
    static func exponential(_ x: SIMD8<Self>) -> SIMD8<Self>
}

extension Double: KernelScalar {
    @inline(__always)
    public static func exponential(_ x: SIMD8<Double>) -> SIMD8<Double> {
        var result = x
        for lane in 0..<8 { result[lane] = exp(x[lane]) }
        return result
    }

    @inline(__always)
    public static func hyperbolicTangent(_ x: Double) -> Double { Activation.tanh.value(x) }

    @inline(__always)
    public static func hyperbolicTangent(_ x: SIMD8<Double>) -> SIMD8<Double> {
        var result = x
        for lane in 0..<8 { result[lane] = Activation.tanh.value(x[lane]) }
        return result
    }
}

extension Float: KernelScalar {
    /// e^x = 2^n e^r with n = round(x / ln 2) and |r| <= ln 2 / 2, e^r by the minimax polynomial
    /// of Cephes' expf, 2^n built in the exponent bits. Inputs are clamped to [-87.3, 88], where
    /// 2^n stays a normal binary32 number (the softmax only passes a - max <= 0); the tests
    /// bound the error against the C library's expf.
    @inline(__always)
    public static func exponential(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let high = SIMD8<Float>(repeating: 88), low = SIMD8<Float>(repeating: -87.3)
        let clamped = x.replacing(with: high, where: x .> high).replacing(with: low, where: x .< low)
        // Adding 1.5 * 2^23 rounds to an integer and leaves it in the low mantissa bits:
        // vector rounding and float-to-integer conversions would be calls per lane.
        let magic = SIMD8<Float>(repeating: 12_582_912)
        let shifted = clamped * 1.44269504088896341 + magic
        let n = shifted - magic
        let r = clamped - n * 0.693359375 + n * 2.12194440e-4
        var p = SIMD8<Float>(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        p = p * r * r + r + 1
        let integer = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
        let scale = unsafeBitCast((integer &+ 127) &<< 23, to: SIMD8<Float>.self)
        return p * scale
    }

    /// The C library's binary32 tanhf: a conversion to binary64 and back would cost twice as much.
    @inline(__always)
    public static func hyperbolicTangent(_ x: Float) -> Float { tanhf(x) }

    /// tanh(x) = x P(x^2) / Q(x^2) on [-7.9, 7.9] (beyond that tanh rounds to +-1 in
    /// binary32), with the minimax coefficients Eigen uses for its vectorised tanh; |x| below
    /// 4e-4 returns x, which is tanh(x) rounded. The test suite bounds its error against the
    /// C library over the whole range.
    @inline(__always)
    public static func hyperbolicTangent(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let bound = SIMD8<Float>(repeating: 7.90531110763549805)
        // replacing(with:where:) inlines; clamped(lowerBound:upperBound:) is an opaque call.
        let clamped = x.replacing(with: bound, where: x .> bound).replacing(with: -bound, where: x .< -bound)
        let x2 = clamped * clamped
        var p = SIMD8<Float>(repeating: -2.76076847742355e-16)
        p = p * x2 + 2.00018790482477e-13
        p = p * x2 - 8.60467152213735e-11
        p = p * x2 + 5.12229709037114e-08
        p = p * x2 + 1.48572235717979e-05
        p = p * x2 + 6.37261928875436e-04
        p = p * x2 + 4.89352455891786e-03
        p = p * clamped
        var q = SIMD8<Float>(repeating: 1.19825839466702e-06)
        q = q * x2 + 1.18534705686654e-04
        q = q * x2 + 2.26843463243900e-03
        q = q * x2 + 4.89352518554385e-03
        let tiny = (x .< 0.0004) .& (x .> -0.0004)
        return (p / q).replacing(with: x, where: tiny)
    }
}
