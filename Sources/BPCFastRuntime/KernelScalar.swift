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
}

extension Double: KernelScalar {
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
