import BPCPlan
import BPCSpec
import Foundation

/// Reads an ONNX model (as PyTorch's exporter, tf2onnx or onnx.helper write them) into a spec
/// whose network computes what the graph computes, to the precision of binary64.
///
/// The graph is walked once in its (required) topological order. Every value is either a
/// constant (an initializer or a Constant node's tensor) or a vector of units; Gemm and MatMul
/// create a layer of identity units, which takes the bias Add and the activation that follow
/// while nothing else can see the layer's value, so an exported `Linear` + `ReLU` becomes one
/// group. Everything else that computes on units becomes a new group joined by weight-1 edges,
/// exact because 1 * z + 0 = z. A final Softmax or Sigmoid becomes the loss (softmax or binary
/// cross-entropy); any other graph is a regression with half squared error.
///
/// Supported: Gemm (transA = 0), MatMul, Add, Relu, LeakyRelu (slope 0.01), Sigmoid, Tanh,
/// Softplus, Identity, Dropout (inference: it passes its input through, as onnxruntime does
/// without training_mode), Flatten and Reshape that keep the batch dimension, Constant, and a
/// final Softmax over the last axis. Every other op, and anything whose meaning would change
/// in a bpc network, is rejected with the node's name and op type.
public enum ONNXImporter {
    /// - Parameters:
    ///   - bytes: the serialized `ModelProto` (a `.onnx` file, with its weights inside).
    ///   - file: names the model in diagnostics.
    ///   - specPath: the file the spec will be written to.
    ///   - name: the spec's name.
    public static func assemble(bytes: [UInt8], file: String, specPath: String, name: String) throws(ImportFailure) -> SpecAssembly {
        let model: Onnx_ModelProto
        do {
            model = try Onnx_ModelProto(serializedBytes: bytes)
        } catch {
            throw ImportFailure(file: file, "not an ONNX model: the protobuf message does not decode (\(error))")
        }
        var reader = try ONNXGraphReader(model: model, file: file)
        try reader.readNodes()
        return try reader.assemble(specPath: specPath, name: name)
    }
}

/// One unit of a layer being built: `layers[layer]`, member `index`.
struct ONNXUnit: Hashable {
    var layer: Int
    var index: Int
}

/// A graph value the importer can represent.
enum ONNXValue {
    /// A tensor fixed in the model, decoded only where a node uses it (so that the message
    /// about a bad tensor names that node).
    case constant(Onnx_TensorProto, origin: String)
    case units(ONNXUnits)
}

/// Units holding a value of shape [N, shape...], row-major.
struct ONNXUnits {
    var units: [ONNXUnit]
    /// The shape without the batch dimension.
    var shape: [Int]
    /// The layer whose every unit this value is, in order, while that layer can still take a
    /// bias and an activation: it is identity, and this value is its only handle.
    var openLayer: Int?
}

/// A group of units being built: the input (`layers[0]`) or one made from a node.
struct ONNXLayer {
    var name: String
    var count: Int
    var activation: Activation = .identity
    var biases: [Double]?
    /// Edges from every unit of `from` to every unit of the layer, weights from-major.
    var dense: [(from: [ONNXUnit], weights: [Double])] = []
    /// Single edges into member `to`; a unit added to itself (x + x) gets one edge of weight 2.
    var single: [(from: ONNXUnit, to: Int, weight: Double)] = []
    var singleIndex: [ONNXUnitPair: Int] = [:]

    init(name: String, count: Int) {
        self.name = name
        self.count = count
    }

    mutating func addSingle(from: ONNXUnit, to: Int, weight: Double) {
        let key = ONNXUnitPair(from: from, to: to)
        if let existing = singleIndex[key] {
            single[existing].weight += weight
        } else {
            singleIndex[key] = single.count
            single.append((from, to, weight))
        }
    }
}

struct ONNXUnitPair: Hashable {
    var from: ONNXUnit
    var to: Int
}

/// The walk over one model's graph: what is known about each value name, and the layers so far.
struct ONNXGraphReader {
    let file: String
    let model: Onnx_ModelProto
    let graph: Onnx_GraphProto
    /// The ai.onnx operator set version (Softmax's default axis depends on it).
    let opset: Int64
    let outputName: String
    var values: [String: ONNXValue] = [:]
    /// How many node inputs (and graph outputs) name each value.
    var consumers: [String: Int] = [:]
    /// Whether each node leads to the graph output.
    var live: [Bool] = []
    var layers: [ONNXLayer] = []
    var softmaxOutput = false

    init(model: Onnx_ModelProto, file: String) throws(ImportFailure) {
        self.file = file
        self.model = model
        graph = model.graph
        guard model.hasGraph else { throw ImportFailure(file: file, "the model has no graph") }
        let standard = model.opsetImport.filter { $0.domain.isEmpty || $0.domain == "ai.onnx" }
        guard let version = standard.map(\.version).max() else {
            throw ImportFailure(file: file, "the model imports no ai.onnx operator set (opset_import)")
        }
        opset = version
        if !graph.sparseInitializer.isEmpty {
            throw ImportFailure(file: file, "sparse initializers ('\(graph.sparseInitializer[0].values.name)') are not supported; store the weights densely")
        }
        var constants: [String: ONNXValue] = [:]
        for initializer in graph.initializer {
            guard !initializer.name.isEmpty else { throw ImportFailure(file: file, "an initializer has no name") }
            guard constants[initializer.name] == nil else {
                throw ImportFailure(file: file, "initializer '\(initializer.name)' is defined twice")
            }
            constants[initializer.name] = .constant(initializer, origin: "initializer '\(initializer.name)'")
        }
        // Old exporters list the initializers among the graph's inputs too.
        let inputs = graph.input.filter { constants[$0.name] == nil }
        guard inputs.count == 1 else {
            throw ImportFailure(file: file, "the graph has \(inputs.count) inputs (\(Self.quotedList(inputs.map(\.name)))); bpc imports a graph with exactly one input")
        }
        guard graph.output.count == 1 else {
            throw ImportFailure(file: file, "the graph has \(graph.output.count) outputs (\(Self.quotedList(graph.output.map(\.name)))); bpc imports a graph with exactly one output")
        }
        outputName = graph.output[0].name
        guard !inputs[0].name.isEmpty, !outputName.isEmpty else {
            throw ImportFailure(file: file, "the graph's input and output need names")
        }
        values = constants
        try readInput(inputs[0])
        try checkNames()
    }

    // MARK: The graph's structure

    /// The graph input's units: [N, d1, ..., dk] gives d1 * ... * dk units, row-major.
    private mutating func readInput(_ input: Onnx_ValueInfoProto) throws(ImportFailure) {
        let what = "the graph input '\(input.name)'"
        guard case .tensorType(let tensor)? = input.type.value else {
            throw ImportFailure(file: file, "\(what) is not a tensor")
        }
        guard [Onnx_TensorProto.DataType.float, .double].contains(where: { Int32($0.rawValue) == tensor.elemType }) else {
            throw ImportFailure(file: file, "\(what) has element type \(ONNXTensors.typeName(tensor.elemType)); bpc imports FLOAT and DOUBLE models")
        }
        let dims = tensor.shape.dim
        guard tensor.hasShape, dims.count >= 2 else {
            throw ImportFailure(file: file, "\(what) needs a shape [N, d1, ...] with the batch dimension first")
        }
        var shape: [Int] = []
        for dim in dims.dropFirst() {
            guard case .dimValue(let size)? = dim.value, size > 0 else {
                throw ImportFailure(file: file, "\(what) has a dimension that is not a fixed positive number; only the batch dimension (the first) may vary")
            }
            shape.append(Int(size))
        }
        guard let count = ONNXTensors.product(shape), count <= Limits().maxUnits else {
            throw ImportFailure(file: file, "\(what) of shape \(Self.unitsShape(shape)) has more than \(Limits().maxUnits) units")
        }
        layers.append(ONNXLayer(name: input.name, count: count))
        values[input.name] = .units(ONNXUnits(units: Self.units(ofLayer: 0, count: count), shape: shape, openLayer: nil))
    }

    /// Every name defined once, used after its definition (ONNX requires topological order),
    /// and every node leading to the output; counts each value's consumers.
    private mutating func checkNames() throws(ImportFailure) {
        var producer: [String: Int] = [:]
        for (index, node) in graph.node.enumerated() {
            for output in node.output where !output.isEmpty {
                if values[output] != nil || producer[output] != nil {
                    throw fail(node, index, "its output '\(output)' is already defined (an ONNX name is defined once)")
                }
                producer[output] = index
            }
        }
        for (index, node) in graph.node.enumerated() {
            for input in node.input where !input.isEmpty {
                consumers[input, default: 0] += 1
                if values[input] != nil { continue }
                guard let source = producer[input] else {
                    throw fail(node, index, "it uses '\(input)', which no node, initializer or graph input defines")
                }
                if source >= index {
                    throw fail(node, index, "it uses '\(input)' before \(Self.label(graph.node[source], source)) produces it; ONNX requires the nodes in topological order (a cycle has none)")
                }
            }
        }
        guard values[outputName] != nil || producer[outputName] != nil else {
            throw ImportFailure(file: file, "the graph output '\(outputName)' is not produced by any node")
        }
        consumers[outputName, default: 0] += 1
        var needed: Set<String> = [outputName]
        live = Array(repeating: false, count: graph.node.count)
        for (index, node) in graph.node.enumerated().reversed() where node.output.contains(where: needed.contains) {
            live[index] = true
            needed.formUnion(node.input.filter { !$0.isEmpty })
        }
        // An unused Constant is harmless; an unused computation means the graph is not one
        // network from the input to the output.
        if let index = live.indices.first(where: { !live[$0] && graph.node[$0].opType != "Constant" }) {
            let node = graph.node[index]
            throw fail(node, index, "nothing the graph output depends on uses its output\(node.output.count == 1 ? "" : "s") (\(Self.quotedList(node.output))); bpc imports one network from the input to the one output")
        }
    }

    // MARK: Nodes

    mutating func readNodes() throws(ImportFailure) {
        for (index, node) in graph.node.enumerated() where live[index] {
            try read(ONNXNode(node: node, index: index, file: file))
        }
    }

    private mutating func read(_ node: ONNXNode) throws(ImportFailure) {
        let domain = node.node.domain
        guard domain.isEmpty || domain == "ai.onnx" else {
            throw node.fail("its domain '\(domain)' is not ai.onnx; bpc imports only standard operators")
        }
        switch node.opType {
        case "Constant": try readConstant(node)
        case "Identity":
            try node.check(inputs: 1...1, outputs: 1...1, attributes: [])
            values[node.output] = try passThrough(node.input(0), node)
        case "Dropout": try readDropout(node)
        case "Flatten": try readFlatten(node)
        case "Reshape": try readReshape(node)
        case "Gemm": try readGemm(node)
        case "MatMul": try readMatMul(node)
        case "Add": try readAdd(node)
        case "Relu": try readActivation(node, .relu)
        case "Sigmoid": try readActivation(node, .sigmoid)
        case "Tanh": try readActivation(node, .tanh)
        case "Softplus": try readActivation(node, .softplus)
        case "LeakyRelu":
            let alpha = try node.float("alpha", default: 0.01)
            guard alpha == Float(Activation.leakySlope) else {
                throw node.fail("alpha \(alpha) is not supported; bpc's leaky_relu has the fixed slope \(Activation.leakySlope)")
            }
            try readActivation(node, .leakyReLU, attributes: ["alpha"])
        case "Softmax": try readSoftmax(node)
        default:
            throw node.fail("the op is not supported; bpc imports Gemm, MatMul, Add, Relu, LeakyRelu, Sigmoid, Tanh, Softplus, Identity, Dropout, Flatten, Reshape, Constant and a final Softmax")
        }
    }

    private mutating func readConstant(_ node: ONNXNode) throws(ImportFailure) {
        try node.check(inputs: 0...0, outputs: 1...1, attributes: ["value", "value_float", "value_floats", "value_int", "value_ints"])
        guard node.node.attribute.count == 1 else {
            throw node.fail("a Constant needs exactly one of value, value_float, value_floats, value_int, value_ints")
        }
        let attribute = node.node.attribute[0]
        var tensor = Onnx_TensorProto()
        switch (attribute.name, attribute.type) {
        case ("value", .tensor):
            tensor = attribute.t
        case ("value_float", .float):
            tensor.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
            tensor.floatData = [attribute.f]
        case ("value_floats", .floats):
            tensor.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
            tensor.dims = [Int64(attribute.floats.count)]
            tensor.floatData = attribute.floats
        case ("value_int", .int):
            tensor.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
            tensor.int64Data = [attribute.i]
        case ("value_ints", .ints):
            tensor.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
            tensor.dims = [Int64(attribute.ints.count)]
            tensor.int64Data = attribute.ints
        default:
            throw node.fail("attribute '\(attribute.name)' has type \(attribute.type), not the one ONNX defines")
        }
        values[node.output] = .constant(tensor, origin: "the value of \(node.label)")
    }

    /// Dropout without training_mode is the identity at inference, which is what an imported
    /// network computes; a graph that uses the mask or asks for training is rejected.
    private mutating func readDropout(_ node: ONNXNode) throws(ImportFailure) {
        try node.check(inputs: 1...3, outputs: 1...2, attributes: ["seed"])
        if node.node.input.count == 3, !node.node.input[2].isEmpty {
            throw node.fail("a training_mode input is not supported; bpc imports the inference graph, where Dropout passes its input through")
        }
        if node.node.output.count == 2, !node.node.output[1].isEmpty, consumers[node.node.output[1], default: 0] > 0 {
            throw node.fail("its mask output '\(node.node.output[1])' is used; at inference there is no mask")
        }
        values[node.output] = try passThrough(node.input(0), node)
    }

    private mutating func readFlatten(_ node: ONNXNode) throws(ImportFailure) {
        try node.check(inputs: 1...1, outputs: 1...1, attributes: ["axis"])
        var units = try self.units(node.input(0), "the input", node)
        let rank = units.shape.count + 1
        let axis = try node.int("axis", default: 1)
        guard axis == 1 || axis == Int64(1 - rank) else {
            throw node.fail("axis \(axis) would change the batch dimension of its input of shape \(Self.unitsShape(units.shape)); bpc keeps one sample per row (axis 1)")
        }
        units.openLayer = openLayer(units, name: node.input(0))
        units.shape = [units.units.count]
        values[node.output] = .units(units)
    }

    private mutating func readReshape(_ node: ONNXNode) throws(ImportFailure) {
        try node.check(inputs: 2...2, outputs: 1...1, attributes: ["allowzero"])
        var units = try self.units(node.input(0), "the input", node)
        let requested = try integers(node.input(1), "the shape", node)
        let allowZero = try node.int("allowzero", default: 0) != 0
        guard let shape = Self.reshaped(units.shape, count: units.units.count, to: requested, allowZero: allowZero) else {
            throw node.fail("the shape \(requested) does not keep the batch dimension first and the \(units.units.count) values of each row (input shape \(Self.unitsShape(units.shape))); bpc keeps one sample per row")
        }
        units.openLayer = openLayer(units, name: node.input(0))
        units.shape = shape
        values[node.output] = .units(units)
    }

    /// The shape (without the batch) that Reshape to `requested` gives rows of `shape`, if it
    /// keeps the batch first: 0 copies the input's dimension, one -1 is inferred.
    static func reshaped(_ shape: [Int], count: Int, to requested: [Int64], allowZero: Bool) -> [Int]? {
        guard requested.count >= 2, requested.filter({ $0 == -1 }).count <= 1 else { return nil }
        let first = requested[0]
        guard first == -1 || (first == 0 && !allowZero) else { return nil }
        var result: [Int] = []
        var inferred: Int?
        for (offset, size) in requested.dropFirst().enumerated() {
            if size == -1 {
                inferred = result.count
                result.append(1)
            } else if size == 0 && !allowZero {
                guard offset < shape.count else { return nil }
                result.append(shape[offset])
            } else if size > 0, size <= Int64(count) {
                result.append(Int(size))
            } else {
                return nil
            }
        }
        guard let known = ONNXTensors.product(result), known > 0 else { return nil }
        if let inferred {
            guard count % known == 0 else { return nil }
            result[inferred] = count / known
        } else if known != count {
            return nil
        }
        return result
    }

    private mutating func readGemm(_ node: ONNXNode) throws(ImportFailure) {
        try node.check(inputs: 2...3, outputs: 1...1, attributes: ["alpha", "beta", "transA", "transB"])
        let alpha = Double(try node.float("alpha", default: 1))
        let beta = Double(try node.float("beta", default: 1))
        guard try node.int("transA", default: 0) == 0 else {
            throw node.fail("transA = 1 is not supported; bpc reads A as one sample per row")
        }
        let transB = try node.int("transB", default: 0) != 0
        guard alpha.isFinite, beta.isFinite else { throw node.fail("alpha and beta must be finite") }
        let a = try units(node.input(0), "A", node)
        let b = try reals(node.input(1), "B", node)
        guard a.shape.count == 1, b.dims.count == 2 else {
            throw node.fail("A has shape \(Self.unitsShape(a.shape)) and B \(b.dims); Gemm multiplies [N, K] by a matrix")
        }
        let (k, m) = transB ? (b.dims[1], b.dims[0]) : (b.dims[0], b.dims[1])
        guard k == a.units.count, m > 0 else {
            throw node.fail("B has shape \(b.dims)\(transB ? " (transposed)" : "") but A has \(a.units.count) values per row")
        }
        let rowLength = b.dims[1]
        var weights = [Double](repeating: 0, count: k * m)
        for f in 0..<k {
            for t in 0..<m { weights[f * m + t] = alpha * b.values[transB ? t * rowLength + f : f * rowLength + t] }
        }
        var biases: [Double]?
        if node.node.input.count == 3, !node.node.input[2].isEmpty {
            let c = try reals(node.node.input[2], "C", node)
            guard let broadcast = c.broadcast(to: [m]) else {
                throw node.fail("C has shape \(c.dims), which does not broadcast to one bias per output [1, \(m)]")
            }
            biases = broadcast.map { beta * $0 }
        }
        // Products of binary64 weights (DOUBLE models) can overflow.
        guard weights.allSatisfy(\.isFinite), biases?.allSatisfy(\.isFinite) ?? true else {
            throw node.fail("alpha * B or beta * C overflows binary64")
        }
        addLayer(node, count: m, dense: (a.units, weights), biases: biases)
    }

    private mutating func readMatMul(_ node: ONNXNode) throws(ImportFailure) {
        try node.check(inputs: 2...2, outputs: 1...1, attributes: [])
        let a = try units(node.input(0), "A", node)
        let b = try reals(node.input(1), "B", node)
        guard a.shape.count == 1, b.dims.count == 2, b.dims[0] == a.units.count, b.dims[1] > 0 else {
            throw node.fail("A has shape \(Self.unitsShape(a.shape)) and B \(b.dims); bpc imports MatMul of [N, K] by a [K, M] matrix")
        }
        addLayer(node, count: b.dims[1], dense: (a.units, b.values), biases: nil)
    }

    private mutating func readAdd(_ node: ONNXNode) throws(ImportFailure) {
        try node.check(inputs: 2...2, outputs: 1...1, attributes: [])
        let names = [node.input(0), node.input(1)]
        let operands = try names.map { (name: String) throws(ImportFailure) -> ONNXValue in try value(name, node) }
        switch (operands[0], operands[1]) {
        case (.units(let x), .units(let y)):
            guard x.shape == y.shape else {
                throw node.fail("it adds units of shapes \(Self.unitsShape(x.shape)) and \(Self.unitsShape(y.shape)); bpc adds units of the same shape")
            }
            let layer = addLayer(node, count: x.units.count, dense: nil, biases: nil, shape: x.shape)
            for (index, unit) in x.units.enumerated() { layers[layer].addSingle(from: unit, to: index, weight: 1) }
            for (index, unit) in y.units.enumerated() { layers[layer].addSingle(from: unit, to: index, weight: 1) }
        case (.units(let x), .constant), (.constant, .units(let x)):
            let side = if case .units = operands[0] { 1 } else { 0 }
            let constant = try reals(names[side], side == 0 ? "A" : "B", node)
            guard let bias = constant.broadcast(to: x.shape) else {
                throw node.fail("the constant of shape \(constant.dims) does not broadcast to the units' shape \(Self.unitsShape(x.shape)) without changing it")
            }
            if let open = openLayer(x, name: names[1 - side]) {
                let earlier = layers[open].biases ?? Array(repeating: 0, count: bias.count)
                let sum = zip(earlier, bias).map { $0 + $1 }
                guard sum.allSatisfy(\.isFinite) else { throw node.fail("the biases it adds to overflow binary64") }
                layers[open].biases = sum
                values[node.output] = .units(ONNXUnits(units: x.units, shape: x.shape, openLayer: open))
            } else {
                let layer = addLayer(node, count: x.units.count, dense: nil, biases: bias, shape: x.shape)
                for (index, unit) in x.units.enumerated() { layers[layer].addSingle(from: unit, to: index, weight: 1) }
            }
        case (.constant, .constant):
            throw node.fail("it adds two constants; bpc does not fold constants (simplify the model first, e.g. with onnxsim)")
        }
    }

    private mutating func readActivation(_ node: ONNXNode, _ activation: Activation, attributes: Set<String> = []) throws(ImportFailure) {
        try node.check(inputs: 1...1, outputs: 1...1, attributes: attributes)
        let x = try units(node.input(0), "the input", node)
        if let open = openLayer(x, name: node.input(0)) {
            layers[open].activation = activation
            values[node.output] = .units(ONNXUnits(units: x.units, shape: x.shape, openLayer: nil))
        } else {
            let layer = addLayer(node, count: x.units.count, dense: nil, biases: nil, shape: x.shape)
            for (index, unit) in x.units.enumerated() { layers[layer].addSingle(from: unit, to: index, weight: 1) }
            layers[layer].activation = activation
            values[node.output] = .units(ONNXUnits(units: layers[layer].units(layer), shape: x.shape, openLayer: nil))
        }
    }

    /// The softmax itself is not a layer: its input is the output layer of logits, and
    /// softmax cross-entropy's prediction reports p = softmax(logits), what the graph outputs.
    private mutating func readSoftmax(_ node: ONNXNode) throws(ImportFailure) {
        try node.check(inputs: 1...1, outputs: 1...1, attributes: ["axis"])
        guard node.output == outputName else {
            throw node.fail("Softmax is supported only as the node producing the graph output, where it becomes the softmax_cross_entropy loss")
        }
        let x = try units(node.input(0), "the input", node)
        let axis = try node.int("axis", default: opset >= 13 ? -1 : 1)
        guard x.shape.count == 1, axis == 1 || axis == -1 else {
            throw node.fail("axis \(axis) over an input of shape \(Self.unitsShape(x.shape)) is not the softmax over each row bpc's softmax_cross_entropy computes")
        }
        guard x.units.count >= 2 else { throw node.fail("a softmax over one value is always 1") }
        softmaxOutput = true
        values[node.output] = .units(x)
    }

    // MARK: Values

    private func value(_ name: String, _ node: ONNXNode) throws(ImportFailure) -> ONNXValue {
        guard let value = values[name] else { throw node.fail("it uses '\(name)', which is not defined before it") }
        return value
    }

    private func units(_ name: String, _ role: String, _ node: ONNXNode) throws(ImportFailure) -> ONNXUnits {
        guard case .units(let units) = try value(name, node) else {
            throw node.fail("\(role) ('\(name)') is a constant; bpc needs a value computed from the graph input there")
        }
        return units
    }

    private func tensor(_ name: String, _ role: String, _ node: ONNXNode) throws(ImportFailure) -> ONNXTensor {
        guard case .constant(let proto, let origin) = try value(name, node) else {
            throw node.fail("\(role) ('\(name)') is computed from the input; bpc needs an initializer or a Constant there (fixed weights)")
        }
        return try ONNXTensors.decode(proto, origin: origin, node: node)
    }

    /// A tensor of weights: floating-point, and finite (a bpc weight is a number).
    private func reals(_ name: String, _ role: String, _ node: ONNXNode) throws(ImportFailure) -> ONNXTensor {
        let tensor = try self.tensor(name, role, node)
        guard tensor.isReal else {
            throw node.fail("\(role) ('\(name)') holds integers; bpc reads FLOAT or DOUBLE weights")
        }
        if let bad = tensor.values.firstIndex(where: { !$0.isFinite }) {
            throw node.fail("\(role) ('\(name)') holds \(tensor.values[bad]) at index \(bad); bpc weights are finite")
        }
        return tensor
    }

    private func integers(_ name: String, _ role: String, _ node: ONNXNode) throws(ImportFailure) -> [Int64] {
        let tensor = try self.tensor(name, role, node)
        guard !tensor.isReal, tensor.dims.count == 1 else {
            throw node.fail("\(role) ('\(name)') must be a 1-D INT64 tensor")
        }
        return tensor.integers
    }

    /// The value itself, still open to a bias and an activation when it was the only handle on
    /// its layer (Identity, Dropout and reshapes do not change the units).
    private func passThrough(_ name: String, _ node: ONNXNode) throws(ImportFailure) -> ONNXValue {
        let value = try self.value(name, node)
        guard case .units(var units) = value else { return value }
        units.openLayer = openLayer(units, name: name)
        return .units(units)
    }

    /// The layer `units` (the value named `name`) can still change, if any.
    private func openLayer(_ units: ONNXUnits, name: String) -> Int? {
        consumers[name, default: 0] == 1 ? units.openLayer : nil
    }

    /// Appends a layer named after `node` and binds the node's output to its units.
    @discardableResult
    private mutating func addLayer(
        _ node: ONNXNode, count: Int, dense: (from: [ONNXUnit], weights: [Double])?, biases: [Double]?, shape: [Int]? = nil
    ) -> Int {
        var layer = ONNXLayer(name: node.layerName ?? "layer\(layers.count)", count: count)
        layer.biases = biases
        if let dense { layer.dense.append(dense) }
        let index = layers.count
        layers.append(layer)
        values[node.output] = .units(ONNXUnits(units: layer.units(index), shape: shape ?? [count], openLayer: index))
        return index
    }

    // MARK: The spec

    func assemble(specPath: String, name: String) throws(ImportFailure) -> SpecAssembly {
        guard case .units(let output) = values[outputName] else {
            throw ImportFailure(file: file, "the graph output '\(outputName)' is a constant; it does not depend on the input")
        }
        var layers = self.layers
        // The output group is a whole layer in order; a softmax's logits must be identity units.
        var outputLayer = output.units.first?.layer ?? 0
        let whole = outputLayer != 0 && output.units == layers[outputLayer].units(outputLayer)
        if !whole || (softmaxOutput && layers[outputLayer].activation != .identity) {
            var copy = ONNXLayer(name: outputName, count: output.units.count)
            for (index, unit) in output.units.enumerated() { copy.addSingle(from: unit, to: index, weight: 1) }
            outputLayer = layers.count
            layers.append(copy)
        }
        layers[outputLayer].name = outputName
        let loss: Loss = softmaxOutput ? .softmaxCrossEntropy
            : layers[outputLayer].activation == .sigmoid ? .binaryCrossEntropy : .halfSquaredError

        let producerParts = [model.producerName, model.producerVersion].filter { !$0.isEmpty }
        let producer = producerParts.isEmpty ? "" : " (\(producerParts.joined(separator: " ")))"
        let source = (file as NSString).lastPathComponent
        var assembly = SpecAssembly(path: specPath, name: name, description: "Imported from the ONNX model \(source)\(producer).")
        var groups: [String] = []
        for (index, layer) in layers.enumerated() {
            let role: UnitRole = index == 0 ? .input : index == outputLayer ? .output : .hidden
            let group = assembly.addGroup(suggestedName: layer.name, role: role, count: layer.count,
                                          activation: layer.activation, biases: layer.biases)
            groups.append(group)
            let members = SpecAssembly.members(of: group, count: layer.count)
            for entry in layer.dense {
                let from = entry.from.map { SpecAssembly.Member(group: groups[$0.layer], index: $0.index) }
                assembly.addEdges(from: from, to: members, weights: entry.weights)
            }
            for edge in layer.single {
                assembly.addEdges(from: [SpecAssembly.Member(group: groups[edge.from.layer], index: edge.from.index)],
                                  to: [members[edge.to]], weights: [edge.weight])
            }
        }
        assembly.setLoss(loss)
        return assembly
    }

    // MARK: Messages

    private func fail(_ node: Onnx_NodeProto, _ index: Int, _ message: String) -> ImportFailure {
        ImportFailure(file: file, "\(Self.label(node, index)): \(message)")
    }

    /// `node 'fc2' (Conv)`, or `node #3 (Conv)` for a node without a name.
    static func label(_ node: Onnx_NodeProto, _ index: Int) -> String {
        node.name.isEmpty ? "node #\(index + 1) (\(node.opType))" : "node '\(node.name)' (\(node.opType))"
    }

    static func quotedList(_ names: [String]) -> String { names.map { "'\($0)'" }.joined(separator: ", ") }

    /// `[N, 2, 2]`: a units value's shape with its batch dimension.
    static func unitsShape(_ shape: [Int]) -> String { "[" + (["N"] + shape.map(String.init)).joined(separator: ", ") + "]" }

    static func units(ofLayer layer: Int, count: Int) -> [ONNXUnit] { (0..<count).map { ONNXUnit(layer: layer, index: $0) } }
}

extension ONNXLayer {
    func units(_ index: Int) -> [ONNXUnit] { ONNXGraphReader.units(ofLayer: index, count: count) }
}
