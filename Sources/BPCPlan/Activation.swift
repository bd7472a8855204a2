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

    /// z = h(a), for numbers (`Double`: the runtimes) and for text (`FormulaExpression`: the
    /// emitters, through `valueCode`). Inlinable, like every formula here, so that runtimes in
    /// other modules specialise it to `Double` and evaluate it without a call.
    @inlinable @inline(__always)
    public func value<V: FormulaValue>(_ a: V) -> V {
        switch self {
        case .identity: return a
        case .sigmoid: return Activation.logistic(a)
        case .tanh: return V.tanh(a)
        case .relu: return Activation.positivePart(a)
        case .leakyReLU: return V.select(a > 0, a, V(constant: Activation.leakySlope) * a)
        case .softplus: return Activation.softplus(a)
        case .silu: return a * Activation.logistic(a)
        }
    }

    /// h'(a), given a and z = h(a) (several derivatives are cheapest from z).
    /// At the kink both take the left slope: relu'(0) = 0 as the format says, and likewise
    /// leaky_relu'(0) = 0.01 (bpc's choice, documented in the README).
    @inlinable @inline(__always)
    public func derivative<V: FormulaValue>(a: V, z: V) -> V {
        switch self {
        case .identity: return 1
        case .sigmoid: return z * (1 - z)
        case .tanh: return 1 - z * z
        case .relu: return V.select(a > 0, 1, 0)
        case .leakyReLU: return V.select(a > 0, 1, V(constant: Activation.leakySlope))
        case .softplus: return Activation.logistic(a)
        case .silu:
            let s = Activation.logistic(a)
            return s * (1 + a * (1 - s))
        }
    }

    /// 1 / (1 + e^-a), evaluated without overflow for large |a|.
    ///
    /// For a < 0 the same value is e^a / (1 + e^a), whose exponential cannot overflow; only the
    /// branch taken is evaluated.
    @inlinable @inline(__always)
    public static func logistic<V: FormulaValue>(_ a: V) -> V {
        V.select(a >= 0, 1 / (1 + V.exp(-a)), logistic(exponential: V.exp(a)))
    }

    /// e / (1 + e): the logistic of a from e = e^a (one exponential, used twice).
    @inlinable @inline(__always)
    static func logistic<V: FormulaValue>(exponential e: V) -> V { e / (1 + e) }

    /// log(1 + e^a), evaluated without overflow or cancellation as max(a, 0) + log1p(e^-|a|).
    @inlinable @inline(__always)
    public static func softplus<V: FormulaValue>(_ a: V) -> V {
        positivePart(a) + softplusTail(magnitude: V.abs(a))
    }

    /// max(a, 0), written as a comparison so that NaN gives 0 (relu and softplus's first term).
    @inlinable @inline(__always)
    public static func positivePart<V: FormulaValue>(_ a: V) -> V { V.select(a > 0, a, 0) }

    /// log1p(e^-m) for m = |a|: softplus's second term, which depends on a only through |a|.
    ///
    /// Binary cross-entropy evaluates softplus at -a and at a, and shares this term between them
    /// (`FormulaValue.sharedAtMagnitude`).
    @inlinable @inline(__always)
    public static func softplusTail<V: FormulaValue>(magnitude m: V) -> V { V.log1p(V.exp(-m)) }
}

/// How generated code spells math for one target (C or Swift, binary64 or binary32): the
/// emitters render `Activation` and `Loss` formulas through this, so the formulas live here,
/// next to the runtime's, once.
public struct MathSpelling: Sendable {
    public var exp: String
    public var log: String
    public var log1p: String
    public var tanh: String
    public var abs: String
    /// Square root (Adam's update rule; the emitted SGD step does not use it).
    public var sqrt: String
    /// Renders a constant in the target's floating type.
    public var literal: @Sendable (Double) -> String

    public init(
        exp: String, log: String, log1p: String, tanh: String, abs: String, sqrt: String = "sqrt",
        literal: @escaping @Sendable (Double) -> String
    ) {
        self.exp = exp
        self.log = log
        self.log1p = log1p
        self.tanh = tanh
        self.abs = abs
        self.sqrt = sqrt
        self.literal = literal
    }
}

extension Activation {
    /// h(a) as an expression of `a` (a variable name): `value(_:)` rendered, so generated code
    /// evaluates exactly what the runtime evaluates. Parenthesised unless it is a name or a call.
    public func valueCode(_ a: String, _ m: MathSpelling) -> String {
        value(FormulaExpression.name(a)).operandCode(m)
    }

    /// h'(a) as an expression of `a` and `z`: `derivative(a:z:)` rendered, parenthesised unless
    /// it is a name, a number or a call.
    public func derivativeCode(_ a: String, _ z: String, _ m: MathSpelling) -> String {
        derivative(a: FormulaExpression.name(a), z: FormulaExpression.name(z)).operandCode(m)
    }
}
