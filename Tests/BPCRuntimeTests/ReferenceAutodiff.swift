#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// An independent second implementation of the format's forward pass, losses and gradients,
// used as the oracle for the runtime. It deliberately shares nothing with BPCPlan, BPCCompiler
// or BPCRuntime: its own activation and loss formulas (written from the contract's table),
// its own graph built from unit names and `from->to` edges, and reverse-mode differentiation by
// a tape (micrograd style: every operation records its parents with the local derivatives,
// and one reverse sweep accumulates adjoints).

/// The activations of format v1, as the reference spells and computes them.
enum ReferenceActivation: String, CaseIterable, Sendable {
    case identity, sigmoid, tanh, relu
    case leakyReLU = "leaky_relu"
    case softplus, silu

    static func logistic(_ a: Double) -> Double { 1 / (1 + exp(-a)) }

    /// h(a) and h'(a). relu'(0) = 0 (the contract); leaky_relu'(0) = 0.01, the same
    /// left-slope convention.
    func valueAndDerivative(_ a: Double) -> (Double, Double) {
        switch self {
        case .identity:
            return (a, 1)
        case .sigmoid:
            let s = Self.logistic(a)
            return (s, s * (1 - s))
        case .tanh:
            let t = libmTanh(a)
            return (t, 1 - t * t)
        case .relu:
            return a > 0 ? (a, 1) : (0, 0)
        case .leakyReLU:
            return a > 0 ? (a, 1) : (0.01 * a, 0.01)
        case .softplus:
            // log(1 + e^a); for large a, e^a overflows but log(1 + e^a) = a to double precision.
            let value = a > 40 ? a : log1p(exp(a))
            return (value, Self.logistic(a))
        case .silu:
            let s = Self.logistic(a)
            return (a * s, s + a * s * (1 - s))
        }
    }

    /// True for the piecewise-linear activations whose derivative jumps at 0.
    var hasKink: Bool { self == .relu || self == .leakyReLU }
}

enum ReferenceLoss: String, CaseIterable, Sendable {
    case halfSquaredError = "half_squared_error"
    case meanSquaredError = "mean_squared_error"
    case binaryCrossEntropy = "binary_cross_entropy"
    case softmaxCrossEntropy = "softmax_cross_entropy"
}

enum ReferenceRole: String, Sendable {
    case input, hidden, output
}

/// A network as the generator describes it: expanded units in declaration order (group members
/// as `h[0]`, ...), edges in creation order with their weights, and the loss.
struct NetworkDescription: Sendable {
    struct Unit: Sendable {
        var name: String
        var role: ReferenceRole
        var activation: ReferenceActivation
        /// Nil: no bias; otherwise its initial value.
        var bias: Double?
    }

    struct Edge: Sendable {
        var from: String
        var to: String
        var weight: Double
        var key: String { from + "->" + to }
    }

    var units: [Unit]
    var edges: [Edge]
    var loss: ReferenceLoss

    var inputNames: [String] { units.filter { $0.role == .input }.map(\.name) }
    var outputNames: [String] { units.filter { $0.role == .output }.map(\.name) }

    /// Every parameter with its initial value: `from->to` for weights, `unit.bias` for biases.
    var initialParameters: [String: Double] {
        var parameters: [String: Double] = [:]
        for edge in edges { parameters[edge.key] = edge.weight }
        for unit in units { if let bias = unit.bias { parameters[unit.name + ".bias"] = bias } }
        return parameters
    }
}

/// A reverse-mode tape over Double. Node i holds a value and the (parent, d node / d parent)
/// pairs it was computed from; parents always precede their children, so one reverse sweep
/// over the tape is a valid order for backpropagation.
struct Tape {
    private(set) var values: [Double] = []
    private var parents: [[(node: Int, derivative: Double)]] = []

    /// A leaf (a parameter or an input).
    mutating func leaf(_ value: Double) -> Int { record(value, []) }

    mutating func record(_ value: Double, _ from: [(node: Int, derivative: Double)]) -> Int {
        values.append(value)
        parents.append(from)
        return values.count - 1
    }

    func value(_ node: Int) -> Double { values[node] }

    mutating func add(_ nodes: [Int]) -> Int {
        var sum = 0.0
        for node in nodes { sum += values[node] }
        return record(sum, nodes.map { ($0, 1) })
    }

    mutating func multiply(_ x: Int, _ y: Int) -> Int {
        record(values[x] * values[y], [(x, values[y]), (y, values[x])])
    }

    mutating func scale(_ x: Int, by c: Double) -> Int {
        record(c * values[x], [(x, c)])
    }

    mutating func subtract(_ x: Int, constant c: Double) -> Int {
        record(values[x] - c, [(x, 1)])
    }

    mutating func square(_ x: Int) -> Int {
        record(values[x] * values[x], [(x, 2 * values[x])])
    }

    mutating func log(_ x: Int) -> Int {
        record(libmLog(values[x]), [(x, 1 / values[x])])
    }

    /// log(1 - x).
    mutating func logOneMinus(_ x: Int) -> Int {
        record(libmLog(1 - values[x]), [(x, -1 / (1 - values[x]))])
    }

    mutating func activation(_ kind: ReferenceActivation, _ x: Int) -> Int {
        let (value, derivative) = kind.valueAndDerivative(values[x])
        return record(value, [(x, derivative)])
    }

    /// log sum_o exp(x_o), shifted by the largest x; d/dx_o = softmax(x)_o.
    mutating func logSumExp(_ nodes: [Int]) -> Int {
        let largest = nodes.map { values[$0] }.max()!
        var sum = 0.0
        for node in nodes { sum += exp(values[node] - largest) }
        let result = largest + libmLog(sum)
        return record(result, nodes.map { ($0, exp(values[$0] - result)) })
    }

    /// d output / d node for every node.
    func gradients(of output: Int) -> [Double] {
        var adjoint = [Double](repeating: 0, count: values.count)
        adjoint[output] = 1
        for node in stride(from: output, through: 0, by: -1) where adjoint[node] != 0 {
            for (parent, derivative) in parents[node] {
                adjoint[parent] += adjoint[node] * derivative
            }
        }
        return adjoint
    }
}

/// What the reference computes for one sample.
struct ReferenceResult {
    var loss: Double
    /// z of the output units, in declared output order.
    var outputs: [Double]
    /// Net input a and activation z of every non-input unit (the sample value for inputs).
    var netInputs: [String: Double]
    var activations: [String: Double]
    /// dE/dp for every parameter key.
    var gradients: [String: Double]
    /// dE/dx for every input unit.
    var inputGradients: [String: Double]
}

enum ReferenceAutodiff {
    /// Builds the sample's graph on a fresh tape from names and edges alone and differentiates
    /// it. `parameters` overrides initial values by key (for finite differences and training).
    static func evaluate(
        _ network: NetworkDescription, parameters: [String: Double]? = nil,
        input: [Double], target: [Double]
    ) -> ReferenceResult {
        let parameterValues = parameters ?? network.initialParameters
        var tape = Tape()
        var unitByName: [String: NetworkDescription.Unit] = [:]
        for unit in network.units { unitByName[unit.name] = unit }
        var incoming: [String: [NetworkDescription.Edge]] = [:]
        for edge in network.edges { incoming[edge.to, default: []].append(edge) }

        var parameterNode: [String: Int] = [:]
        for key in parameterValues.keys.sorted() { parameterNode[key] = tape.leaf(parameterValues[key]!) }

        var activationNode: [String: Int] = [:]
        var netInputNode: [String: Int] = [:]
        let inputNames = network.inputNames
        precondition(input.count == inputNames.count)
        for (index, name) in inputNames.enumerated() {
            let node = tape.leaf(input[index])
            activationNode[name] = node
            netInputNode[name] = node
        }

        // Depth-first: a unit's node is made after the nodes of all its sources.
        func node(for name: String) -> Int {
            if let made = activationNode[name] { return made }
            let unit = unitByName[name]!
            var terms: [Int] = []
            for edge in incoming[name] ?? [] {
                let source = node(for: edge.from)
                terms.append(tape.multiply(parameterNode[edge.key]!, source))
            }
            if unit.bias != nil { terms.append(parameterNode[name + ".bias"]!) }
            let a = tape.add(terms)
            let z = tape.activation(unit.activation, a)
            netInputNode[name] = a
            activationNode[name] = z
            return z
        }

        let outputNames = network.outputNames
        precondition(target.count == outputNames.count)
        let outputs = outputNames.map { node(for: $0) }
        for unit in network.units { _ = node(for: unit.name) }

        let loss: Int
        switch network.loss {
        case .halfSquaredError, .meanSquaredError:
            let squares = outputs.enumerated().map { index, z in tape.square(tape.subtract(z, constant: target[index])) }
            let factor = network.loss == .halfSquaredError ? 0.5 : 1 / Double(outputs.count)
            loss = tape.scale(tape.add(squares), by: factor)
        case .binaryCrossEntropy:
            // - sum [t log z + (1 - t) log(1 - z)], from the sigmoid outputs z themselves.
            var terms: [Int] = []
            for (index, z) in outputs.enumerated() {
                let t = target[index]
                terms.append(tape.scale(tape.log(z), by: -t))
                terms.append(tape.scale(tape.logOneMinus(z), by: -(1 - t)))
            }
            loss = tape.add(terms)
        case .softmaxCrossEntropy:
            // - sum t_o log p_o with log p_o = a_o - log sum exp(a).
            let a = outputNames.map { netInputNode[$0]! }
            let logSum = tape.logSumExp(a)
            var terms: [Int] = []
            for (index, a_o) in a.enumerated() where target[index] != 0 {
                let logP = tape.record(tape.value(a_o) - tape.value(logSum), [(a_o, 1), (logSum, -1)])
                terms.append(tape.scale(logP, by: -target[index]))
            }
            loss = tape.add(terms)
        }

        let adjoint = tape.gradients(of: loss)
        return ReferenceResult(
            loss: tape.value(loss),
            outputs: outputs.map { tape.value($0) },
            netInputs: netInputNode.mapValues { tape.value($0) },
            activations: activationNode.mapValues { tape.value($0) },
            gradients: parameterNode.mapValues { adjoint[$0] },
            inputGradients: Dictionary(uniqueKeysWithValues: inputNames.map { ($0, adjoint[activationNode[$0]!]) }))
    }

    /// The loss alone, for finite differences.
    static func loss(_ network: NetworkDescription, parameters: [String: Double], input: [Double], target: [Double]) -> Double {
        evaluate(network, parameters: parameters, input: input, target: target).loss
    }
}

/// The C library's tanh and log, named so that the enum case and the tape method do not shadow them.
private func libmTanh(_ x: Double) -> Double { tanh(x) }
private func libmLog(_ x: Double) -> Double { log(x) }

/// |a - b| <= tolerance * max(1, |a|, |b|).
func closeEnough(_ a: Double, _ b: Double, relative tolerance: Double) -> Bool {
    abs(a - b) <= tolerance * max(1, abs(a), abs(b))
}
