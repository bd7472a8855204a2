/// The learning rate eta_n for epoch n (n = 0 in the first epoch).
public enum LearningRate: Sendable, Equatable {
    case constant(Double)
    /// e0 / (1 + k n)
    case inverseTime(initial: Double, decay: Double)
    /// e0 * f^floor(n / m)
    case step(initial: Double, factor: Double, every: Int)

    public func rate(epoch n: Int) -> Double {
        switch self {
        case .constant(let value): return value
        case .inverseTime(let initial, let decay): return initial / (1 + decay * Double(n))
        case .step(let initial, let factor, let every):
            var rate = initial
            for _ in 0..<(n / every) { rate *= factor }
            return rate
        }
    }
}

/// The update rule applied after each batch, with g the batch's mean gradient:
///
/// | optimizer | update |
/// |---|---|
/// | `sgd` | w <- w - eta_n g |
/// | `momentum` (mu, default 0.9) | v <- mu v - eta_n g; w <- w + v |
/// | `adam` (beta1 0.9, beta2 0.999, epsilon 1e-8) | m <- b1 m + (1-b1) g; v <- b2 v + (1-b2) g^2; w <- w - eta_n (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + epsilon) |
///
/// t counts updates from 1; v and m start at 0.
public enum Optimizer: Sendable, Equatable {
    case sgd
    case momentum(Double)
    case adam(beta1: Double, beta2: Double, epsilon: Double)

    /// How many moment vectors the rule keeps: none for sgd, the velocity for momentum, m and
    /// v for Adam.
    public var momentCount: Int {
        switch self {
        case .sgd: return 0
        case .momentum: return 1
        case .adam: return 2
        }
    }

    public var name: String {
        switch self {
        case .sgd: return "sgd"
        case .momentum: return "momentum"
        case .adam: return "adam"
        }
    }
}

/// The update rules of the table above, with g the mean gradient and eta the learning rate.
///
/// Written once for any `FormulaArithmetic`, so that numbers and SIMD vectors of parameters
/// (the runtimes) and `FormulaExpression` (the emitted training step, which renders
/// `sgdStep`) apply the same rule.
extension Optimizer {
    /// w - eta g: plain SGD.
    ///
    /// The emitted training step is this rule rendered (`p[i] -= learning_rate * g;`), so
    /// generated code updates exactly as the runtimes do.
    @inlinable @inline(__always)
    public static func sgdStep<V: FormulaArithmetic>(weight w: V, gradient g: V, rate eta: V) -> V {
        w - eta * g
    }

    /// v <- mu v - eta g, then w + v: momentum, with `velocity` updated in place.
    ///
    /// The velocity is the caller's state (0 before the first update), so the rule stays a pure
    /// function of its operands for every type it runs on.
    @inlinable @inline(__always)
    public static func momentumStep<V: FormulaArithmetic>(
        weight w: V, gradient g: V, rate eta: V, momentum mu: Double, velocity v: inout V
    ) -> V {
        v = V(constant: mu) * v - eta * g
        return w + v
    }

    /// Adam: m <- b1 m + (1 - b1) g; s <- b2 s + (1 - b2) g^2; w - eta (m / c1) / (sqrt(s / c2) + epsilon),
    /// with the bias corrections c1 = 1 - b1^t and c2 = 1 - b2^t of update t (from 1).
    ///
    /// b1, b2 and epsilon are rounded to the type's precision first and 1 - b is formed there,
    /// so binary32 runs use binary32 constants throughout.
    @inlinable @inline(__always)
    public static func adamStep<V: FormulaArithmetic>(
        weight w: V, gradient g: V, rate eta: V, beta1: Double, beta2: Double, epsilon: Double,
        corrections: (first: V, second: V), first m: inout V, second s: inout V
    ) -> V {
        let b1 = V(constant: beta1), b2 = V(constant: beta2), one = V(constant: 1)
        m = b1 * m + (one - b1) * g
        s = b2 * s + (one - b2) * g * g
        return w - eta * (m / corrections.first) / ((s / corrections.second).squareRoot() + V(constant: epsilon))
    }

    /// This optimiser's rule on `weight`, updating the moments `first` and `second` it uses.
    ///
    /// The one dispatch over the three rules: `OptimizerState` can call it on 8 parameters at a
    /// time (momentum's velocity is `first`; `corrections` matter only to Adam).
    @inlinable @inline(__always)
    public func step<V: FormulaArithmetic>(
        weight w: V, gradient g: V, rate eta: V, corrections: (first: V, second: V), first: inout V, second: inout V
    ) -> V {
        switch self {
        case .sgd:
            return Optimizer.sgdStep(weight: w, gradient: g, rate: eta)
        case .momentum(let mu):
            return Optimizer.momentumStep(weight: w, gradient: g, rate: eta, momentum: mu, velocity: &first)
        case .adam(let beta1, let beta2, let epsilon):
            return Optimizer.adamStep(weight: w, gradient: g, rate: eta, beta1: beta1, beta2: beta2, epsilon: epsilon,
                                      corrections: corrections, first: &first, second: &second)
        }
    }
}


/// Samples as flat row-major arrays, the form the training loop reads without allocation.
public struct Dataset: Sendable, Equatable {
    public var inputWidth: Int
    public var targetWidth: Int
    public var inputs: [Double]
    public var targets: [Double]

    public init(inputWidth: Int, targetWidth: Int, inputs: [Double] = [], targets: [Double] = []) {
        self.inputWidth = inputWidth
        self.targetWidth = targetWidth
        self.inputs = inputs
        self.targets = targets
    }

    public var count: Int { inputWidth == 0 ? (targetWidth == 0 ? 0 : targets.count / targetWidth) : inputs.count / inputWidth }

    public mutating func append(input: [Double], target: [Double]) {
        inputs += input
        targets += target
    }

    public func input(_ index: Int) -> ArraySlice<Double> {
        inputs[(index * inputWidth)..<((index + 1) * inputWidth)]
    }

    public func target(_ index: Int) -> ArraySlice<Double> {
        targets[(index * targetWidth)..<((index + 1) * targetWidth)]
    }
}

/// How a training run goes: the `train` section after command-line overrides.
public struct TrainingSettings: Sendable, Equatable {
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: LearningRate
    public var shuffle: Bool
    public var optimizer: Optimizer
    /// Seeds the per-epoch shuffle (a stream separate from the one `init` draws from).
    public var seed: UInt64
    /// What happens to the batch's mean gradient before the optimiser sees it.
    public var regularization: Regularization
    /// When to stop before `epochs` (nil: never).
    public var earlyStopping: EarlyStopping?

    public init(
        epochs: Int, batchSize: Int, learningRate: LearningRate, shuffle: Bool, optimizer: Optimizer, seed: UInt64,
        regularization: Regularization = Regularization(), earlyStopping: EarlyStopping? = nil
    ) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.shuffle = shuffle
        self.optimizer = optimizer
        self.seed = seed
        self.regularization = regularization
        self.earlyStopping = earlyStopping
    }
}

/// Changes to the batch's mean gradient g before the update rule, in this order:
///
/// 1. weight decay (L2): g_i <- g_i + lambda w_i, the gradient of (lambda / 2) sum_i w_i^2 added
///    to the loss, for every parameter (weights and biases). With Adam this is L2
///    regularisation (the decay passes through Adam's moments and scaling), not AdamW's
///    decoupled decay.
/// 2. frozen parameters: g_i <- 0, so every rule leaves them as they are (SGD moves by
///    eta * 0, momentum's velocity stays 0, Adam's moments stay 0 and its step is 0).
/// 3. clipping by global norm: when ||g|| > c, g <- g * c / ||g|| (over all parameters, frozen
///    ones contributing 0).
public struct Regularization: Sendable, Equatable {
    public var weightDecay: Double
    public var clipNorm: Double?
    /// Per parameter, in plan order; empty when nothing is frozen.
    public var frozen: [Bool]

    public init(weightDecay: Double = 0, clipNorm: Double? = nil, frozen: [Bool] = []) {
        self.weightDecay = weightDecay
        self.clipNorm = clipNorm
        self.frozen = frozen
    }

    /// True when the gradient goes to the update rule unchanged (the fast paths apply).
    public var isIdentity: Bool { weightDecay == 0 && clipNorm == nil && !frozen.contains(true) }
}

/// Stop when the monitored loss (the validation loss, or the training loss without validation
/// data) has not improved by more than `minDelta` for `patience` epochs; with `restoreBest`,
/// end with the parameters of the best epoch.
public struct EarlyStopping: Sendable, Equatable {
    public var patience: Int
    public var minDelta: Double
    public var restoreBest: Bool

    public init(patience: Int, minDelta: Double = 0, restoreBest: Bool = true) {
        self.patience = patience
        self.minDelta = minDelta
        self.restoreBest = restoreBest
    }
}

/// Parameter keys matched against `freeze` patterns: `*` stands for any run of characters in
/// a unit name (`"*.bias"`, `"x1->*"`, `"h[*]->y"`), everything else matches itself.
public enum KeyPattern {
    public static func matches(_ pattern: String, _ key: String) -> Bool {
        let p = Array(pattern.unicodeScalars), k = Array(key.unicodeScalars)
        // Classic wildcard matching with one backtrack point; `*` does not cross the parts of
        // a key (`->` and `.bias`), so "*" alone matches no edge.
        var pi = 0, ki = 0
        var star = -1, resume = 0
        while ki < k.count {
            if pi < p.count && p[pi] == "*" {
                star = pi
                resume = ki
                pi += 1
            } else if pi < p.count && p[pi] == k[ki] {
                pi += 1
                ki += 1
            } else if star >= 0 && !isSeparator(k[resume]) {
                pi = star + 1
                resume += 1
                ki = resume
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }

    private static func isSeparator(_ scalar: Unicode.Scalar) -> Bool { scalar == "-" || scalar == ">" || scalar == "." }
}
