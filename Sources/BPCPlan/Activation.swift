#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A unit's activation function h, defined once with its derivative so that the runtime,
/// the finite-difference checker and the emitters cannot drift apart.
public enum Activation: String, CaseIterable, Sendable, Hashable {
    case identity
    case sigmoid
    case tanh
    case relu
    case leakyReLU = "leaky_relu"
    case softplus
    case silu

    /// The slope of `leaky_relu` for negative inputs (fixed by format v1).
    public static let leakySlope = 0.01

    /// The spelling used in specs and plan files.
    public var name: String { rawValue }

    /// z = h(a). Inlinable, like the other formulas here, so runtimes in other modules
    /// evaluate it without a call.
    @inlinable @inline(__always)
    public func value(_ a: Double) -> Double {
        switch self {
        case .identity: return a
        case .sigmoid: return Activation.logistic(a)
        case .tanh: return hyperbolicTangent(a)
        case .relu: return a > 0 ? a : 0
        case .leakyReLU: return a > 0 ? a : Activation.leakySlope * a
        case .softplus: return Activation.softplus(a)
        case .silu: return a * Activation.logistic(a)
        }
    }

    /// h'(a), given a and z = h(a) (several derivatives are cheapest from z).
    /// At the kink both take the left slope: relu'(0) = 0 as the format says, and likewise
    /// leaky_relu'(0) = 0.01 (bpc's choice, documented in the README).
    @inlinable @inline(__always)
    public func derivative(a: Double, z: Double) -> Double {
        switch self {
        case .identity: return 1
        case .sigmoid: return z * (1 - z)
        case .tanh: return 1 - z * z
        case .relu: return a > 0 ? 1 : 0
        case .leakyReLU: return a > 0 ? 1 : Activation.leakySlope
        case .softplus: return Activation.logistic(a)
        case .silu:
            let s = Activation.logistic(a)
            return s * (1 + a * (1 - s))
        }
    }

    /// 1 / (1 + e^-a), evaluated without overflow for large |a|.
    @inlinable @inline(__always)
    public static func logistic(_ a: Double) -> Double {
        if a >= 0 {
            return 1 / (1 + exp(-a))
        }
        let e = exp(a)
        return e / (1 + e)
    }

    /// log(1 + e^a), evaluated without overflow or cancellation.
    @inlinable @inline(__always)
    public static func softplus(_ a: Double) -> Double {
        (a > 0 ? a : 0) + log1p(exp(-abs(a)))
    }
}

/// `tanh` from the C library; the enum case of the same name would shadow it.
@usableFromInline @inline(__always)
func hyperbolicTangent(_ x: Double) -> Double { tanh(x) }

/// How generated code spells math for one target (C or Swift, binary64 or binary32): the
/// emitters render `Activation` and `Loss` formulas through this, so the formulas live here,
/// next to the runtime's, once.
public struct MathSpelling: Sendable {
    public var exp: String
    public var log: String
    public var log1p: String
    public var tanh: String
    public var abs: String
    /// Renders a constant in the target's floating type.
    public var literal: @Sendable (Double) -> String

    public init(exp: String, log: String, log1p: String, tanh: String, abs: String, literal: @escaping @Sendable (Double) -> String) {
        self.exp = exp
        self.log = log
        self.log1p = log1p
        self.tanh = tanh
        self.abs = abs
        self.literal = literal
    }
}

extension Activation {
    /// h(a) as an expression of `a` (a variable name), evaluated as `value(_:)` evaluates it.
    public func valueCode(_ a: String, _ m: MathSpelling) -> String {
        let zero = m.literal(0)
        switch self {
        case .identity: return a
        case .sigmoid: return Activation.logisticCode(a, m)
        case .tanh: return "\(m.tanh)(\(a))"
        case .relu: return "(\(a) > \(zero) ? \(a) : \(zero))"
        case .leakyReLU: return "(\(a) > \(zero) ? \(a) : \(m.literal(Activation.leakySlope)) * \(a))"
        case .softplus: return "((\(a) > \(zero) ? \(a) : \(zero)) + \(m.log1p)(\(m.exp)(-\(m.abs)(\(a)))))"
        case .silu: return "(\(a) * \(Activation.logisticCode(a, m)))"
        }
    }

    /// h'(a) as an expression of `a` and `z`, evaluated as `derivative(a:z:)` evaluates it.
    public func derivativeCode(_ a: String, _ z: String, _ m: MathSpelling) -> String {
        let zero = m.literal(0), one = m.literal(1)
        switch self {
        case .identity: return one
        case .sigmoid: return "(\(z) * (\(one) - \(z)))"
        case .tanh: return "(\(one) - \(z) * \(z))"
        case .relu: return "(\(a) > \(zero) ? \(one) : \(zero))"
        case .leakyReLU: return "(\(a) > \(zero) ? \(one) : \(m.literal(Activation.leakySlope)))"
        case .softplus: return Activation.logisticCode(a, m)
        case .silu:
            let s = Activation.logisticCode(a, m)
            return "(\(s) * (\(one) + \(a) * (\(one) - \(s))))"
        }
    }

    /// `logistic(_:)`'s two branches, so generated code rounds exactly as the runtime does.
    static func logisticCode(_ a: String, _ m: MathSpelling) -> String {
        let zero = m.literal(0), one = m.literal(1)
        return "(\(a) >= \(zero) ? \(one) / (\(one) + \(m.exp)(-\(a))) : \(m.exp)(\(a)) / (\(one) + \(m.exp)(\(a))))"
    }
}
