#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The arithmetic an update rule needs: the four operations, negation, square root and
/// constants.
///
/// `Optimizer`'s rules are written once against this, so the runtimes (on `Double` or on SIMD
/// vectors) and the emitters (on `FormulaExpression`) apply the same rule. It is the part of
/// `FormulaValue` that vectors also have.
public protocol FormulaArithmetic {
    /// A constant, rounded to the type's precision as `Scalar(value)` rounds it.
    init(constant value: Double)
    static func + (lhs: Self, rhs: Self) -> Self
    static func - (lhs: Self, rhs: Self) -> Self
    static func * (lhs: Self, rhs: Self) -> Self
    static func / (lhs: Self, rhs: Self) -> Self
    static prefix func - (operand: Self) -> Self
    func squareRoot() -> Self
}

/// The operations the activation and loss formulas are written in.
///
/// Each formula (`Activation.value`, `Activation.derivative`, the per-output terms of `Loss`) is
/// written once, generic over this protocol, and read two ways: as `Double` arithmetic by the
/// runtimes (every requirement is inlinable, so a formula specialised to `Double` is the same
/// sequence of operations as the closed form written out by hand) and as a `FormulaExpression`
/// that the emitters render as C or Swift. A formula therefore cannot mean one thing in the
/// runtime and another in generated code.
///
/// A shared subexpression is an ordinary `let`: `Double` computes it once, and the text type
/// writes it out at every use, as the generated code has always done.
public protocol FormulaValue: FormulaArithmetic, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral {
    /// What comparisons give: `Bool` for numbers, a condition to render for text.
    associatedtype Condition

    static func > (lhs: Self, rhs: Self) -> Condition
    static func >= (lhs: Self, rhs: Self) -> Condition
    static func != (lhs: Self, rhs: Self) -> Condition

    /// `condition ? then : otherwise`, evaluating only the branch taken (numbers) or rendering a
    /// conditional expression (text).
    ///
    /// The branches are autoclosures so that `Double` evaluates only the one taken: each of
    /// `logistic`'s branches calls exp, and evaluating both would double its cost.
    static func select(_ condition: Condition, _ then: @autoclosure () -> Self, _ otherwise: @autoclosure () -> Self) -> Self

    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func log1p(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
    static func abs(_ x: Self) -> Self

    /// `x` as one operand: the value itself; in text, parenthesised unless it is a name, a
    /// number or a call.
    ///
    /// A formula applied to a compound argument reads that way (`softplus(-a)` renders
    /// `(-a) > 0 ? (-a) : 0`, as if `-a` were a name), which precedence alone would not write.
    static func operand(_ x: Self) -> Self

    /// `(f(|-x|), f(|x|))`: one number twice, since |-x| and |x| are the same number bit for bit.
    ///
    /// Binary cross-entropy needs softplus at both -a and a, whose second terms are this pair
    /// for f(m) = log1p(e^-m): `Double` evaluates f once, halving the loss's exps and logs,
    /// while text writes f out at `operand(-x)` and at `x`, each softplus in full, as generated
    /// code has always spelled it.
    static func sharedAtMagnitude(_ x: Self, _ f: (Self) -> Self) -> (ofNegated: Self, of: Self)
}

// MARK: - Numbers

extension Double: FormulaValue {
    public typealias Condition = Bool

    @inlinable @inline(__always)
    public init(constant value: Double) { self = value }

    @inlinable @inline(__always)
    public static func select(_ condition: Bool, _ then: @autoclosure () -> Double, _ otherwise: @autoclosure () -> Double) -> Double {
        condition ? then() : otherwise()
    }

    @inlinable @inline(__always)
    public static func exp(_ x: Double) -> Double { libmExp(x) }

    @inlinable @inline(__always)
    public static func log(_ x: Double) -> Double { libmLog(x) }

    @inlinable @inline(__always)
    public static func log1p(_ x: Double) -> Double { libmLog1p(x) }

    @inlinable @inline(__always)
    public static func tanh(_ x: Double) -> Double { libmTanh(x) }

    @inlinable @inline(__always)
    public static func abs(_ x: Double) -> Double { x.magnitude }

    @inlinable @inline(__always)
    public static func operand(_ x: Double) -> Double { x }

    @inlinable @inline(__always)
    public static func sharedAtMagnitude(_ x: Double, _ f: (Double) -> Double) -> (ofNegated: Double, of: Double) {
        let value = f(x.magnitude)
        return (value, value)
    }
}

// The C library's functions under names that `Double`'s static members do not shadow.
// Inlinable, not only usable from inlinable code: runtimes in other modules then call the C
// library directly instead of through these.
@inlinable @inline(__always) func libmExp(_ x: Double) -> Double { exp(x) }
@inlinable @inline(__always) func libmLog(_ x: Double) -> Double { log(x) }
@inlinable @inline(__always) func libmLog1p(_ x: Double) -> Double { log1p(x) }
@inlinable @inline(__always) func libmTanh(_ x: Double) -> Double { tanh(x) }

// MARK: - Vectors

// The update rules also run on vectors of parameters (`OptimizerState` updates 8 at a time).
extension SIMD2: FormulaArithmetic where Scalar: BinaryFloatingPoint {
    @inlinable @inline(__always)
    public init(constant value: Double) { self.init(repeating: Scalar(value)) }
}

extension SIMD4: FormulaArithmetic where Scalar: BinaryFloatingPoint {
    @inlinable @inline(__always)
    public init(constant value: Double) { self.init(repeating: Scalar(value)) }
}

extension SIMD8: FormulaArithmetic where Scalar: BinaryFloatingPoint {
    @inlinable @inline(__always)
    public init(constant value: Double) { self.init(repeating: Scalar(value)) }
}

extension SIMD16: FormulaArithmetic where Scalar: BinaryFloatingPoint {
    @inlinable @inline(__always)
    public init(constant value: Double) { self.init(repeating: Scalar(value)) }
}

// MARK: - Text

/// A formula as an expression tree, rendered as C or Swift through a `MathSpelling`.
///
/// The emitters build formulas on this type from names of generated variables
/// (`FormulaExpression.name("a[4]")`) and render them; the tree, not the text, is what formulas
/// combine, so parentheses are written exactly where precedence or `operand(_:)` needs them.
public struct FormulaExpression: FormulaValue, Sendable {
    public typealias Condition = FormulaCondition

    indirect enum Node: Sendable {
        case name(String)
        case constant(Double)
        case negation(Node)
        case binary(Operation, Node, Node)
        case call(Function, Node)
        case select(FormulaCondition, Node, Node)
        case operand(Node)
    }

    enum Operation: String, Sendable {
        case add = "+", subtract = "-", multiply = "*", divide = "/"

        var precedence: Precedence { self == .add || self == .subtract ? .additive : .multiplicative }
    }

    enum Function: Sendable {
        case exp, log, log1p, tanh, abs, sqrt

        func name(_ m: MathSpelling) -> String {
            switch self {
            case .exp: return m.exp
            case .log: return m.log
            case .log1p: return m.log1p
            case .tanh: return m.tanh
            case .abs: return m.abs
            case .sqrt: return m.sqrt
            }
        }
    }

    /// How tightly a rendered expression binds, loosest first; the same order in C and Swift
    /// for every operator used here.
    enum Precedence: Int, Comparable {
        case conditional, comparison, additive, multiplicative, prefix, primary

        static func < (lhs: Precedence, rhs: Precedence) -> Bool { lhs.rawValue < rhs.rawValue }

        var tighter: Precedence { Precedence(rawValue: rawValue + 1) ?? .primary }
    }

    let node: Node

    init(_ node: Node) { self.node = node }

    /// A variable of the generated code (`s`, `a[4]`, `learning_rate`), used as it is written.
    public static func name(_ text: String) -> FormulaExpression { FormulaExpression(.name(text)) }

    public init(constant value: Double) { node = .constant(value) }
    public init(integerLiteral value: Int) { node = .constant(Double(value)) }
    public init(floatLiteral value: Double) { node = .constant(value) }

    public static func + (lhs: FormulaExpression, rhs: FormulaExpression) -> FormulaExpression { FormulaExpression(.binary(.add, lhs.node, rhs.node)) }
    public static func - (lhs: FormulaExpression, rhs: FormulaExpression) -> FormulaExpression { FormulaExpression(.binary(.subtract, lhs.node, rhs.node)) }
    public static func * (lhs: FormulaExpression, rhs: FormulaExpression) -> FormulaExpression { FormulaExpression(.binary(.multiply, lhs.node, rhs.node)) }
    public static func / (lhs: FormulaExpression, rhs: FormulaExpression) -> FormulaExpression { FormulaExpression(.binary(.divide, lhs.node, rhs.node)) }
    public static prefix func - (operand: FormulaExpression) -> FormulaExpression { FormulaExpression(.negation(operand.node)) }
    public func squareRoot() -> FormulaExpression { FormulaExpression(.call(.sqrt, node)) }

    public static func > (lhs: FormulaExpression, rhs: FormulaExpression) -> FormulaCondition { FormulaCondition(.greater, lhs.node, rhs.node) }
    public static func >= (lhs: FormulaExpression, rhs: FormulaExpression) -> FormulaCondition { FormulaCondition(.greaterOrEqual, lhs.node, rhs.node) }
    public static func != (lhs: FormulaExpression, rhs: FormulaExpression) -> FormulaCondition { FormulaCondition(.notEqual, lhs.node, rhs.node) }

    public static func select(
        _ condition: FormulaCondition, _ then: @autoclosure () -> FormulaExpression, _ otherwise: @autoclosure () -> FormulaExpression
    ) -> FormulaExpression {
        FormulaExpression(.select(condition, then().node, otherwise().node))
    }

    public static func exp(_ x: FormulaExpression) -> FormulaExpression { FormulaExpression(.call(.exp, x.node)) }
    public static func log(_ x: FormulaExpression) -> FormulaExpression { FormulaExpression(.call(.log, x.node)) }
    public static func log1p(_ x: FormulaExpression) -> FormulaExpression { FormulaExpression(.call(.log1p, x.node)) }
    public static func tanh(_ x: FormulaExpression) -> FormulaExpression { FormulaExpression(.call(.tanh, x.node)) }
    public static func abs(_ x: FormulaExpression) -> FormulaExpression { FormulaExpression(.call(.abs, x.node)) }
    public static func operand(_ x: FormulaExpression) -> FormulaExpression { FormulaExpression(.operand(x.node)) }

    public static func sharedAtMagnitude(
        _ x: FormulaExpression, _ f: (FormulaExpression) -> FormulaExpression
    ) -> (ofNegated: FormulaExpression, of: FormulaExpression) {
        (f(abs(operand(-x))), f(abs(x)))
    }

    // MARK: Rendering

    /// The expression as the right-hand side of an assignment: no outer parentheses.
    public func code(_ m: MathSpelling) -> String { FormulaExpression.render(node, m, at: .conditional) }

    /// The expression to be pasted into other code text: parenthesised unless it is a name, a
    /// number or a call (`valueCode` and `derivativeCode` return this form).
    public func operandCode(_ m: MathSpelling) -> String { FormulaExpression.operand(self).code(m) }

    /// `target = value;`, written `target -= x;` (and `+=`, `*=`, `/=`) when the value is
    /// `target - x`, and `if (c) { target = v; }` when it is `c ? v : target`. Both forms compute
    /// the same number as the plain assignment.
    public func assignment(to target: String, _ m: MathSpelling) -> String {
        switch node {
        case .binary(let operation, .name(let left), let right) where left == target:
            return "\(target) \(operation.rawValue)= \(FormulaExpression.render(right, m, at: .conditional));"
        case .select(let condition, let then, .name(let otherwise)) where otherwise == target:
            return "if (\(condition.code(m))) { \(FormulaExpression(then).assignment(to: target, m)) }"
        default:
            return "\(target) = \(code(m));"
        }
    }

    /// `node` as text that binds at least as tightly as `minimum`, parenthesised if needed.
    static func render(_ node: Node, _ m: MathSpelling, at minimum: Precedence) -> String {
        let (text, precedence) = written(node, m)
        return precedence < minimum ? "(\(text))" : text
    }

    /// `node` without outer parentheses, and how tightly that text binds.
    static func written(_ node: Node, _ m: MathSpelling) -> (String, Precedence) {
        switch node {
        case .name(let text):
            return (text, .primary)
        case .constant(let value):
            let text = m.literal(value)
            return (text, text.hasPrefix("-") ? .prefix : .primary)
        case .negation(let operand):
            // A negated negation is parenthesised: `--x` would be C's decrement.
            return ("-" + render(operand, m, at: .primary), .prefix)
        case .binary(let operation, let left, let right):
            // Left-associative: a right operand of the same precedence keeps its parentheses,
            // which floating-point arithmetic needs (a - (b - c), a * (b * c)).
            let precedence = operation.precedence
            return ("\(render(left, m, at: precedence)) \(operation.rawValue) \(render(right, m, at: precedence.tighter))", precedence)
        case .call(let function, let argument):
            return ("\(function.name(m))(\(render(argument, m, at: .conditional)))", .primary)
        case .select(let condition, let then, let otherwise):
            return ("\(condition.code(m)) ? \(render(then, m, at: .comparison)) : \(render(otherwise, m, at: .comparison))", .conditional)
        case .operand(let inner):
            let (text, precedence) = written(inner, m)
            return (precedence == .primary ? text : "(\(text))", .primary)
        }
    }
}

/// A comparison in a `FormulaExpression`, the condition of `select`.
public struct FormulaCondition: Sendable {
    enum Relation: String, Sendable {
        case greater = ">", greaterOrEqual = ">=", notEqual = "!="
    }

    let relation: Relation
    let lhs: FormulaExpression.Node
    let rhs: FormulaExpression.Node

    init(_ relation: Relation, _ lhs: FormulaExpression.Node, _ rhs: FormulaExpression.Node) {
        self.relation = relation
        self.lhs = lhs
        self.rhs = rhs
    }

    /// The comparison as text, without outer parentheses.
    public func code(_ m: MathSpelling) -> String {
        let left = FormulaExpression.render(lhs, m, at: .additive)
        let right = FormulaExpression.render(rhs, m, at: .additive)
        return "\(left) \(relation.rawValue) \(right)"
    }
}
