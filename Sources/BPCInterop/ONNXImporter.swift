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
/// Supported: several graph inputs (each an input group; bpc's `x[0]`, `x[1]`, ... one group
/// `x`) and outputs (the spec's outputs in order, distinct units), Gemm (transA = 0), MatMul,
/// Add and Sub, Mul and Div (by a power of two) of units by constants (exact: bpc's input
/// normalisation comes back as two groups), Concat and Gather along axis 1 (no new units),
/// Relu, LeakyRelu (slope 0.01), Sigmoid, Tanh, Softplus, SiLU as Mul(a, Sigmoid(a)) and
/// bpc's binary64 leaky ReLU and softplus subgraphs, PyTorch's thresholded softplus
/// (Where(Greater(a, 20), a, Softplus(a)), within 2.1e-9 of bpc's), BatchNormalization at
/// inference directly after a Gemm or MatMul layer (folded into its weights and biases),
/// Identity, Dropout (inference: it passes its input through, as onnxruntime does without
/// training_mode), Flatten and Reshape that keep the batch dimension, Constant, and Softmax
/// or LogSoftmax over the last axis as the only output or as the probabilities of the other
/// outputs. Weights may be kept in external data files beside the model (PyTorch's default
/// exporter writes `model.onnx.data`), read only from the model's folder. `bpc.loss` in the
/// metadata is used where the graph allows it (else ignored). Every other op, and anything
/// whose meaning would change in a bpc network, is rejected with the node's name and op type.
public enum ONNXImporter {
    /// - Parameters:
    ///   - bytes: the serialized `ModelProto` (a `.onnx` file).
    ///   - file: the model's path: it names the model in diagnostics, and tensors stored as
    ///     external data are read from files in its folder (see `ONNXExternalData`).
    ///   - specPath: the file the spec will be written to.
    ///   - name: the spec's name.
    ///   - limits: the spec's limits, which bound the import too: `maxUnits` the units of its
    ///     inputs, layers, concatenations and gathers, `maxFileSize` the bytes read from
    ///     external data files (a small model can name a data file of any size).
    public static func assemble(bytes: [UInt8], file: String, specPath: String, name: String,
                                limits: Limits = Limits()) throws(ImportFailure) -> SpecAssembly {
        guard !bytes.isEmpty else {
            throw ImportFailure(file: file, "the file is empty; an ONNX model is a protobuf ModelProto")
        }
        let model: Onnx_ModelProto
        do {
            model = try Onnx_ModelProto(serializedBytes: bytes)
        } catch {
            // swift-protobuf's error (`malformedProtobuf`, `truncated`) names its own enum
            // case, which tells the user nothing the sentence does not.
            throw ImportFailure(file: file, "not an ONNX model: the file is not a protobuf ModelProto (truncated or corrupt, or another format)")
        }
        var reader = try ONNXGraphReader(model: model, file: file, limits: limits)
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
    /// The graph outputs, in order.
    let outputNames: [String]
    /// The model's `metadata_props`: bpc's exporter writes `bpc.loss` there, which says what
    /// the graph cannot (half squared error over sigmoid outputs, for one).
    let metadata: [String: String]
    var values: [String: ONNXValue] = [:]
    /// How many node inputs (and graph outputs) name each value.
    var consumers: [String: Int] = [:]
    /// The node defining each value a node defines.
    var producer: [String: Int] = [:]
    /// Whether each node leads to a graph output.
    var live: [Bool] = []
    var layers: [ONNXLayer] = []
    /// The batch size the graph inputs fix, if they all fix the same one (an exporter traced
    /// with one example writes [1, 784]); a Reshape may then spell the batch as that number.
    var fixedBatch: Int64?
    /// How many of `layers`, the first, hold the graph inputs.
    var inputLayerCount = 0
    /// The graph outputs that a Softmax (or LogSoftmax) computes; their values are bound to
    /// its logits.
    var softmaxOutputs: Set<String> = []
    /// Nodes that end an activation written as a subgraph (SiLU as Mul(a, Sigmoid(a)), bpc's
    /// binary64 leaky ReLU and softplus), with the value the activation applies to; the other
    /// nodes of those subgraphs are in `absorbed` and are not read.
    var fused: [Int: (input: String, activation: Activation)] = [:]
    var absorbed: Set<Int> = []
    /// Units in the layers and in the unit lists Concat and Gather build so far: bounded by
    /// the spec's limit, so that a small file cannot make the reader allocate without bound
    /// (one Gather of a million indices used by a thousand nodes).
    var unitBudget = 0
    let limits: Limits
    /// The external data read so far, bounded by `limits.maxFileSize`.
    let externalBudget: ONNXExternalBudget

    init(model: Onnx_ModelProto, file: String, limits: Limits = Limits()) throws(ImportFailure) {
        self.file = file
        self.model = model
        self.limits = limits
        externalBudget = ONNXExternalBudget(limit: limits.maxFileSize)
        graph = model.graph
        guard model.hasGraph else { throw ImportFailure(file: file, "the model has no graph") }
        let standard = model.opsetImport.filter { $0.domain.isEmpty || $0.domain == "ai.onnx" }
        guard let version = standard.map(\.version).max() else {
            throw ImportFailure(file: file, "the model imports no ai.onnx operator set (opset_import)")
        }
        opset = version
        var metadata: [String: String] = [:]
        for entry in model.metadataProps where metadata[entry.key] == nil { metadata[entry.key] = entry.value }
        self.metadata = metadata
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
        guard !inputs.isEmpty else {
            throw ImportFailure(file: file, "the graph has no input (besides initializers); bpc imports a network computed from its inputs")
        }
        guard !graph.output.isEmpty else { throw ImportFailure(file: file, "the graph has no output") }
        outputNames = graph.output.map(\.name)
        guard inputs.allSatisfy({ !$0.name.isEmpty }), outputNames.allSatisfy({ !$0.isEmpty }) else {
            throw ImportFailure(file: file, "the graph's inputs and outputs need names")
        }
        if let twice = Self.firstRepeated(inputs.map(\.name)) {
            throw ImportFailure(file: file, "the graph lists the input '\(twice)' twice")
        }
        if let twice = Self.firstRepeated(outputNames) {
            throw ImportFailure(file: file, "the graph lists the output '\(twice)' twice; bpc's output units are distinct")
        }
        values = constants
        try readInputs(inputs)
        try checkNames()
        findFusedActivations()
    }

    static func firstRepeated(_ names: [String]) -> String? {
        var seen: Set<String> = []
        return names.first { !seen.insert($0).inserted }
    }

    // MARK: The graph's structure

    /// The graph inputs' units, each input an input group in order: [N, d1, ..., dk] gives
    /// d1 * ... * dk units, row-major. Consecutive inputs `x[0]`, `x[1]`, ... of shape [N, 1]
    /// (how bpc's exporter writes a group of input units) become the one group `x` again.
    private mutating func readInputs(_ inputs: [Onnx_ValueInfoProto]) throws(ImportFailure) {
        var shapes: [[Int]] = []
        var total = 0
        let limit = limits.maxUnits
        let batches = inputs.map { input -> Int64? in
            guard case .tensorType(let tensor)? = input.type.value, case .dimValue(let size)? = tensor.shape.dim.first?.value, size > 0 else { return nil }
            return size
        }
        if let first = batches.first, let size = first, batches.allSatisfy({ $0 == size }) { fixedBatch = size }
        for input in inputs {
            let shape = try inputShape(input)
            guard let count = ONNXTensors.product(shape), count <= limit - total else {
                throw ImportFailure(file: file, "the graph input '\(input.name)' of shape \(Self.unitsShape(shape)) has more than \(limit) units\(total > 0 ? " with the inputs before it" : ""); \(Limits.advice(limit, .maxUnits))")
            }
            total += count
            shapes.append(shape)
        }
        var position = 0
        while position < inputs.count {
            if let base = Self.memberBase(inputs[position].name, index: 0), shapes[position] == [1] {
                var length = 1
                while position + length < inputs.count, shapes[position + length] == [1],
                      inputs[position + length].name == "\(base)[\(length)]" {
                    length += 1
                }
                let layer = layers.count
                layers.append(ONNXLayer(name: base, count: length))
                for member in 0..<length {
                    values[inputs[position + member].name] = .units(ONNXUnits(units: [ONNXUnit(layer: layer, index: member)], shape: [1], openLayer: nil))
                }
                position += length
            } else {
                let count = ONNXTensors.product(shapes[position]) ?? 0
                let layer = layers.count
                layers.append(ONNXLayer(name: inputs[position].name, count: count))
                values[inputs[position].name] = .units(ONNXUnits(units: Self.units(ofLayer: layer, count: count), shape: shapes[position], openLayer: nil))
                position += 1
            }
        }
        inputLayerCount = layers.count
        unitBudget = total
    }

    /// `x` for the name `x[index]`, bpc's name of a group's member.
    static func memberBase(_ name: String, index: Int) -> String? {
        let suffix = "[\(index)]"
        guard name.hasSuffix(suffix), name.count > suffix.count else { return nil }
        return String(name.dropLast(suffix.count))
    }

    /// The shape of one graph input without its batch dimension.
    private func inputShape(_ input: Onnx_ValueInfoProto) throws(ImportFailure) -> [Int] {
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
        return shape
    }

    /// Every name defined once, used after its definition (ONNX requires topological order),
    /// and every node leading to an output; counts each value's consumers.
    private mutating func checkNames() throws(ImportFailure) {
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
        for output in outputNames {
            guard values[output] != nil || producer[output] != nil else {
                throw ImportFailure(file: file, "the graph output '\(output)' is not produced by any node")
            }
            consumers[output, default: 0] += 1
        }
        var needed = Set(outputNames)
        live = Array(repeating: false, count: graph.node.count)
        for (index, node) in graph.node.enumerated().reversed() where node.output.contains(where: needed.contains) {
            live[index] = true
            needed.formUnion(node.input.filter { !$0.isEmpty })
        }
        // An unused Constant is harmless; an unused computation means the graph is not one
        // network from the inputs to the outputs.
        if let index = live.indices.first(where: { !live[$0] && graph.node[$0].opType != "Constant" }) {
            let node = graph.node[index]
            throw fail(node, index, "nothing the graph outputs depend on uses its output\(node.output.count == 1 ? "" : "s") (\(Self.quotedList(node.output))); bpc imports one network from the inputs to the outputs")
        }
    }

    // MARK: Activations written as subgraphs

    /// Finds the subgraphs that compute one of bpc's activations (as bpc's exporter writes
    /// them where ONNX or onnxruntime has no operator): SiLU = Mul(a, Sigmoid(a)), which is
    /// also how both of PyTorch's exporters write `nn.SiLU` (`/1/Sigmoid` and `/1/Mul`, or
    /// `node_Sigmoid_0` and `node_silu`); in binary64, leaky ReLU = Where(Greater(a, 0), a,
    /// Mul(a, 0.01)) and softplus = Relu(a) + log1p(e^-|a|) with log1p as the exporter spells
    /// it; and PyTorch's default exporter's `nn.Softplus`, Where(Greater(a, 20), a,
    /// Softplus(a)) (see `softplusThreshold`). Each match is read as one activation of `a`; a
    /// subgraph that differs in any node, constant or use is read node by node (and rejected).
    private mutating func findFusedActivations() {
        for index in graph.node.indices.reversed() where live[index] && !absorbed.contains(index) {
            let node = graph.node[index]
            guard Self.isStandard(node), node.attribute.isEmpty, node.output.count == 1 else { continue }
            let inputs = node.input
            if node.opType == "Mul", inputs.count == 2 {
                for (a, s) in [(inputs[0], inputs[1]), (inputs[1], inputs[0])] {
                    if let sigmoid = producing(s, "Sigmoid", inputs: 1, uses: 1), sigmoid.inputs[0] == a {
                        fuse(index, input: a, .silu, absorbing: [sigmoid.index], uses: 2)
                        break
                    }
                }
            } else if node.opType == "Where", inputs.count == 3 {
                let a = inputs[1]
                guard let greater = producing(inputs[0], "Greater", inputs: 2, uses: 1), greater.inputs[0] == a else { continue }
                if constant(greater.inputs[1], equals: 0), let scaled = producing(inputs[2], "Mul", inputs: 2, uses: 1) {
                    let slope = scaled.inputs[0] == a ? scaled.inputs[1] : scaled.inputs[1] == a ? scaled.inputs[0] : ""
                    guard constant(slope, equals: Activation.leakySlope) else { continue }
                    fuse(index, input: a, .leakyReLU, absorbing: [greater.index, scaled.index], uses: 3)
                } else if let threshold = scalar(greater.inputs[1]), threshold >= Self.softplusThreshold,
                          let softplus = producing(inputs[2], "Softplus", inputs: 1, uses: 1), softplus.inputs[0] == a {
                    fuse(index, input: a, .softplus, absorbing: [greater.index, softplus.index], uses: 3)
                }
            } else if node.opType == "Add", inputs.count == 2 {
                for (positive, tail) in [(inputs[0], inputs[1]), (inputs[1], inputs[0])] {
                    if let nodes = softplus(positive: positive, tail: tail) {
                        fuse(index, input: nodes.input, .softplus, absorbing: nodes.absorbed, uses: 2)
                        break
                    }
                }
            }
        }
    }

    /// The smallest threshold t of PyTorch's softplus, Where(Greater(a, t), a, Softplus(a)),
    /// read as bpc's softplus. PyTorch returns a itself above t (default 20) where bpc computes
    /// a + log1p(e^-a): they differ by at most log1p(e^-20) ~ 2.1e-9 (absolute) above the
    /// threshold, which is below binary32's spacing there (1.9e-6), and only by rounding below
    /// it. A smaller threshold (torch allows any) would differ by more (log1p(e^-10) ~ 4.5e-5),
    /// so that graph is read node by node and refused.
    static let softplusThreshold = 20.0

    /// Relu(a) + Where(Greater(d, 0), Mul(Log(u), Div(x, d)), x) with x = Exp(Neg(Abs(a))),
    /// u = x + 1 and d = u - 1: the exporter's binary64 softplus of `a`.
    private func softplus(positive: String, tail: String) -> (input: String, absorbed: [Int])? {
        guard let relu = producing(positive, "Relu", inputs: 1, uses: 1),
              let select = producing(tail, "Where", inputs: 3, uses: 1) else { return nil }
        let a = relu.inputs[0]
        let (resolved, log1p, x) = (select.inputs[0], select.inputs[1], select.inputs[2])
        guard let exp = producing(x, "Exp", inputs: 1, uses: 3),
              let neg = producing(exp.inputs[0], "Neg", inputs: 1, uses: 1),
              let abs = producing(neg.inputs[0], "Abs", inputs: 1, uses: 1), abs.inputs[0] == a,
              let greater = producing(resolved, "Greater", inputs: 2, uses: 1), constant(greater.inputs[1], equals: 0),
              let sub = producing(greater.inputs[0], "Sub", inputs: 2, uses: 2), constant(sub.inputs[1], equals: 1),
              let add = producing(sub.inputs[0], "Add", inputs: 2, uses: 2),
              (add.inputs[0] == x && constant(add.inputs[1], equals: 1)) || (add.inputs[1] == x && constant(add.inputs[0], equals: 1)),
              let product = producing(log1p, "Mul", inputs: 2, uses: 1) else { return nil }
        let (d, u) = (greater.inputs[0], sub.inputs[0])
        for (logU, ratio) in [(product.inputs[0], product.inputs[1]), (product.inputs[1], product.inputs[0])] {
            if let log = producing(logU, "Log", inputs: 1, uses: 1), log.inputs[0] == u,
               let div = producing(ratio, "Div", inputs: 2, uses: 1), div.inputs == [x, d] {
                return (a, [relu.index, select.index, exp.index, neg.index, abs.index, greater.index,
                            sub.index, add.index, product.index, log.index, div.index])
            }
        }
        return nil
    }

    /// Records a match: `root` applies `activation` to `input`, which the match used `uses`
    /// times and now uses once.
    private mutating func fuse(_ root: Int, input: String, _ activation: Activation, absorbing nodes: [Int], uses: Int) {
        fused[root] = (input, activation)
        absorbed.formUnion(nodes)
        consumers[input, default: 0] -= uses - 1
    }

    /// The node defining `name`, when it is a live standard `op` without attributes, with
    /// `inputs` inputs (all named) and one output that exactly `uses` inputs read.
    private func producing(_ name: String, _ op: String, inputs: Int, uses: Int) -> (index: Int, inputs: [String])? {
        guard let index = producer[name], live[index], !absorbed.contains(index), fused[index] == nil else { return nil }
        let node = graph.node[index]
        guard node.opType == op, Self.isStandard(node), node.attribute.isEmpty, node.output.count == 1,
              node.input.count == inputs, !node.input.contains(where: \.isEmpty),
              consumers[name, default: 0] == uses else { return nil }
        return (index, node.input)
    }

    /// Whether `name` is a constant (an initializer or a Constant node's tensor) of one
    /// floating-point element equal to `value`.
    private func constant(_ name: String, equals value: Double) -> Bool {
        scalar(name) == value
    }

    /// The value of `name` when it is a constant (an initializer or a Constant node's tensor)
    /// of one floating-point element.
    private func scalar(_ name: String) -> Double? {
        var proto: Onnx_TensorProto
        if case .constant(let tensor, _)? = values[name] {
            proto = tensor
        } else if let index = producer[name], graph.node[index].opType == "Constant", Self.isStandard(graph.node[index]),
                  graph.node[index].attribute.count == 1, graph.node[index].attribute[0].name == "value",
                  graph.node[index].attribute[0].type == .tensor {
            proto = graph.node[index].attribute[0].t
        } else {
            return nil
        }
        let probe = ONNXNode(node: Onnx_NodeProto(), index: 0, file: file)
        guard proto.dims.count <= 8, proto.dims.allSatisfy({ $0 == 1 }),
              let tensor = try? ONNXTensors.decode(proto, origin: "", node: probe),
              tensor.isReal, tensor.values.count == 1 else { return nil }
        return tensor.values[0]
    }

    static func isStandard(_ node: Onnx_NodeProto) -> Bool { node.domain.isEmpty || node.domain == "ai.onnx" }

    // MARK: Nodes

    mutating func readNodes() throws(ImportFailure) {
        for (index, node) in graph.node.enumerated() where live[index] && !absorbed.contains(index) {
            let node = ONNXNode(node: node, index: index, file: file)
            if let fusion = fused[index] {
                try applyActivation(node, fusion.activation, to: fusion.input)
            } else {
                try read(node)
            }
        }
    }

    /// Appended to the message about an unsupported op in a model bpc exported: the exporter
    /// writes units outside dense layers (skip connections, sparse fan-in) as gathers and
    /// sums, which a spec of groups cannot be read back from.
    private var bpcExportHint: String {
        model.producerName == "bpc"
            ? "; this bpc export holds units that are not in dense layers (written as gathers and sums), which bpc does not import: use the spec or plan it was exported from instead"
            : ""
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
        case "Add": try readSum(node, subtract: false)
        case "Sub": try readSum(node, subtract: true)
        case "Mul": try readScale(node, divide: false)
        case "Div": try readScale(node, divide: true)
        case "Concat": try readConcat(node)
        case "Gather": try readGather(node)
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
        case "LogSoftmax": try readSoftmax(node, log: true)
        case "BatchNormalization": try readBatchNormalization(node)
        default:
            throw node.fail("the op is not supported; bpc imports Gemm, MatMul, Add, Sub, Mul and Div by constants, Concat and Gather of units, BatchNormalization after a layer, Relu, LeakyRelu, Sigmoid, Tanh, Softplus, Identity, Dropout, Flatten, Reshape, Constant and a Softmax or LogSoftmax output\(bpcExportHint)")
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
        guard let shape = Self.reshaped(units.shape, count: units.units.count, to: requested, allowZero: allowZero, fixedBatch: fixedBatch) else {
            let batch = fixedBatch.map { " (the model's inputs fix the batch at \($0))" } ?? ""
            throw node.fail("the shape \(requested) does not keep the batch dimension first and the \(units.units.count) values of each row (input shape \(Self.unitsShape(units.shape))\(batch)); bpc keeps one sample per row")
        }
        units.openLayer = openLayer(units, name: node.input(0))
        units.shape = shape
        values[node.output] = .units(units)
    }

    /// The shape (without the batch) that Reshape to `requested` gives rows of `shape`, if it
    /// keeps the batch first: 0 copies the input's dimension, one -1 is inferred, and where the
    /// inputs fix the batch size, that number is the batch too.
    static func reshaped(_ shape: [Int], count: Int, to requested: [Int64], allowZero: Bool, fixedBatch: Int64? = nil) -> [Int]? {
        guard requested.count >= 2, requested.filter({ $0 == -1 }).count <= 1 else { return nil }
        let first = requested[0]
        guard first == -1 || (first == 0 && !allowZero) || (fixedBatch != nil && first == fixedBatch) else { return nil }
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
        let b = try reals(node.input(1), "B", node) { (b: ONNXTensor) throws(ImportFailure) in
            guard a.shape.count == 1, b.dims.count == 2 else {
                throw node.fail("A has shape \(Self.unitsShape(a.shape)) and B \(b.dims); Gemm multiplies [N, K] by a matrix")
            }
            let (k, m) = transB ? (b.dims[1], b.dims[0]) : (b.dims[0], b.dims[1])
            guard k == a.units.count, m > 0 else {
                throw node.fail("B has shape \(b.dims)\(transB ? " (transposed)" : "") but A has \(a.units.count) values per row")
            }
        }
        try checkDistinct(a.units, node)
        let (k, m) = transB ? (b.dims[1], b.dims[0]) : (b.dims[0], b.dims[1])
        let rowLength = b.dims[1]
        var weights = [Double](repeating: 0, count: k * m)
        for f in 0..<k {
            for t in 0..<m { weights[f * m + t] = alpha * b.values[transB ? t * rowLength + f : f * rowLength + t] }
        }
        var biases: [Double]?
        if node.node.input.count == 3, !node.node.input[2].isEmpty {
            let fail = { (c: ONNXTensor) in node.fail("C has shape \(c.dims), which does not broadcast to one bias per output [1, \(m)]") }
            let c = try reals(node.node.input[2], "C", node) { (c: ONNXTensor) throws(ImportFailure) in
                guard ONNXTensor.broadcasts(c.dims, to: [m]) else { throw fail(c) }
            }
            guard let broadcast = c.broadcast(to: [m]) else { throw fail(c) }
            biases = broadcast.map { beta * $0 }
        }
        // Products of binary64 weights (DOUBLE models) can overflow.
        guard weights.allSatisfy(\.isFinite), biases?.allSatisfy(\.isFinite) ?? true else {
            throw node.fail("alpha * B or beta * C overflows binary64")
        }
        try addLayer(node, count: m, dense: (a.units, weights), biases: biases, weight: node.input(1))
    }

    private mutating func readMatMul(_ node: ONNXNode) throws(ImportFailure) {
        try node.check(inputs: 2...2, outputs: 1...1, attributes: [])
        let a = try units(node.input(0), "A", node)
        let b = try reals(node.input(1), "B", node) { (b: ONNXTensor) throws(ImportFailure) in
            guard a.shape.count == 1, b.dims.count == 2, b.dims[0] == a.units.count, b.dims[1] > 0 else {
                throw node.fail("A has shape \(Self.unitsShape(a.shape)) and B \(b.dims); bpc imports MatMul of [N, K] by a [K, M] matrix")
            }
        }
        try checkDistinct(a.units, node)
        try addLayer(node, count: b.dims[1], dense: (a.units, b.values), biases: nil, weight: node.input(1))
    }

    /// Add and Sub: units plus or minus units (a new group of identity units with edges of
    /// weight 1 and -1), or plus or minus a constant (biases). x - c is the bias -c, exact
    /// because x + (-c) and x - c round the same number; c - x is weight -1 and bias c.
    private mutating func readSum(_ node: ONNXNode, subtract: Bool) throws(ImportFailure) {
        try node.check(inputs: 2...2, outputs: 1...1, attributes: [])
        let names = [node.input(0), node.input(1)]
        let operands = try names.map { (name: String) throws(ImportFailure) -> ONNXValue in try value(name, node) }
        let verb = subtract ? "subtracts" : "adds"
        switch (operands[0], operands[1]) {
        case (.units(let x), .units(let y)):
            guard x.shape == y.shape else {
                throw node.fail("it \(verb) units of shapes \(Self.unitsShape(x.shape)) and \(Self.unitsShape(y.shape)); bpc \(subtract ? "subtracts" : "adds") units of the same shape")
            }
            let layer = try addLayer(node, count: x.units.count, dense: nil, biases: nil, shape: x.shape)
            for (index, unit) in x.units.enumerated() { layers[layer].addSingle(from: unit, to: index, weight: 1) }
            for (index, unit) in y.units.enumerated() { layers[layer].addSingle(from: unit, to: index, weight: subtract ? -1 : 1) }
        case (.units(let x), .constant), (.constant, .units(let x)):
            let side = if case .units = operands[0] { 1 } else { 0 }
            let constant = try broadcastConstant(names[side], side == 0 ? "A" : "B", to: x, node)
            guard var bias = constant.broadcast(to: x.shape) else { throw broadcastFailure(constant, to: x, node) }
            let negated = subtract && side == 0
            if subtract && side == 1 { bias = bias.map { -$0 } }
            if !negated, let open = openLayer(x, name: names[1 - side]) {
                let earlier = layers[open].biases ?? Array(repeating: 0, count: bias.count)
                let sum = zip(earlier, bias).map { $0 + $1 }
                guard sum.allSatisfy(\.isFinite) else { throw node.fail("the biases it \(verb) to overflow binary64") }
                layers[open].biases = sum
                values[node.output] = .units(ONNXUnits(units: x.units, shape: x.shape, openLayer: open))
            } else {
                let layer = try addLayer(node, count: x.units.count, dense: nil, biases: bias, shape: x.shape)
                for (index, unit) in x.units.enumerated() { layers[layer].addSingle(from: unit, to: index, weight: negated ? -1 : 1) }
            }
        case (.constant, .constant):
            throw node.fail("it \(verb) two constants; bpc does not fold constants (simplify the model first, e.g. with onnxsim)")
        }
    }

    /// Mul and Div of units by a constant: a new group of identity units, one edge each with
    /// the factor as its weight (exact: bpc computes 0 + w z = w z). x / c is x * (1 / c)
    /// only when 1 / c is exact (c a power of two: both round the same number once), so
    /// other divisors are rejected rather than imported with a changed rounding. bpc's input
    /// normalisation, (x - shift) * scale, is read exactly as two such groups.
    private mutating func readScale(_ node: ONNXNode, divide: Bool) throws(ImportFailure) {
        try node.check(inputs: 2...2, outputs: 1...1, attributes: [])
        let names = [node.input(0), node.input(1)]
        let operands = try names.map { (name: String) throws(ImportFailure) -> ONNXValue in try value(name, node) }
        let x: ONNXUnits
        let side: Int
        switch (operands[0], operands[1]) {
        case (.units(let units), .constant):
            (x, side) = (units, 1)
        case (.constant, .units(let units)) where !divide:
            (x, side) = (units, 0)
        case (.constant, .units):
            throw node.fail("it divides a constant by units, which is not a weighted sum of units; bpc imports Div of units by a constant")
        case (.units, .units):
            throw node.fail(divide
                ? "it divides units by units, which is not a weighted sum of units; bpc imports Div of units by a constant"
                : "it multiplies two computed values, which is not a weighted sum of units; bpc imports Mul of units by a constant, and SiLU written as Mul(a, Sigmoid(a))")
        case (.constant, .constant):
            throw node.fail("it \(divide ? "divides" : "multiplies") two constants; bpc does not fold constants (simplify the model first, e.g. with onnxsim)")
        }
        let constant = try broadcastConstant(names[side], side == 0 ? "A" : "B", to: x, node)
        guard var factors = constant.broadcast(to: x.shape) else { throw broadcastFailure(constant, to: x, node) }
        if divide {
            if let bad = factors.firstIndex(where: { !Self.hasExactReciprocal($0) }) {
                throw node.fail("dividing by \(factors[bad]) is not exactly a multiplication (its reciprocal rounds); bpc imports Div only by powers of two: multiply by the reciprocal in the model instead")
            }
            factors = factors.map { 1 / $0 }
        }
        let layer = try addLayer(node, count: x.units.count, dense: nil, biases: nil, shape: x.shape)
        for (index, unit) in x.units.enumerated() { layers[layer].addSingle(from: unit, to: index, weight: factors[index]) }
    }

    /// The constant operand of an elementwise node on `x`, refused before its values are read
    /// unless it broadcasts to `x`'s shape without changing it.
    private func broadcastConstant(_ name: String, _ role: String, to x: ONNXUnits, _ node: ONNXNode) throws(ImportFailure) -> ONNXTensor {
        try reals(name, role, node) { (constant: ONNXTensor) throws(ImportFailure) in
            guard ONNXTensor.broadcasts(constant.dims, to: x.shape) else { throw broadcastFailure(constant, to: x, node) }
        }
    }

    private func broadcastFailure(_ constant: ONNXTensor, to x: ONNXUnits, _ node: ONNXNode) -> ImportFailure {
        node.fail("the constant of shape \(constant.dims) does not broadcast to the units' shape \(Self.unitsShape(x.shape)) without changing it")
    }

    /// Whether 1 / c is exact: c and 1 / c are both normal powers of two.
    static func hasExactReciprocal(_ c: Double) -> Bool {
        let reciprocal = 1 / c
        return TextChecks.isPowerOfTwo(c) && TextChecks.isPowerOfTwo(reciprocal)
    }

    /// Concat along axis 1 of [N, k] values: the units side by side, no new units.
    private mutating func readConcat(_ node: ONNXNode) throws(ImportFailure) {
        try node.check(inputs: 1...Int.max, outputs: 1...1, attributes: ["axis"])
        guard node.node.attribute.contains(where: { $0.name == "axis" }) else { throw node.fail("Concat needs the attribute 'axis'") }
        let axis = try node.int("axis", default: 1)
        guard axis == 1 || axis == -1 else {
            throw node.fail("axis \(axis) is not supported; bpc concatenates the units of each sample (axis 1, or -1 of [N, k] values), never the samples themselves (axis 0)")
        }
        var parts: [ONNXUnits] = []
        var total = 0
        for name in node.node.input {
            guard !name.isEmpty else { throw node.fail("an input is missing") }
            let x = try units(name, "input '\(name)'", node)
            guard x.shape.count == 1 else {
                throw node.fail("input '\(name)' has shape \(Self.unitsShape(x.shape)); bpc concatenates values of shape [N, k] along axis 1")
            }
            parts.append(x)
            total += x.units.count
        }
        try spend(total, node)
        let units = parts.flatMap(\.units)
        values[node.output] = .units(ONNXUnits(units: units, shape: [units.count], openLayer: nil))
    }

    /// Gather along axis 1 with constant 1-D indices: the selected units (negative indices
    /// count from the end, as in ONNX), no new units.
    private mutating func readGather(_ node: ONNXNode) throws(ImportFailure) {
        try node.check(inputs: 2...2, outputs: 1...1, attributes: ["axis"])
        let axis = try node.int("axis", default: 0)
        let x = try units(node.input(0), "the data", node)
        guard x.shape.count == 1, axis == 1 || axis == -1 else {
            throw node.fail("axis \(axis) over data of shape \(Self.unitsShape(x.shape)) is not supported; bpc imports Gather along axis 1 of [N, k] units (the same units of every sample)")
        }
        let indices = try self.tensor(node.input(1), "the indices", node) { (indices: ONNXTensor) throws(ImportFailure) in
            guard !indices.isReal, indices.dims.count == 1, indices.dims[0] > 0 else {
                throw node.fail("the indices ('\(node.input(1))') must be a non-empty 1-D INT64 or INT32 tensor; bpc selects a list of units")
            }
            try checkBudget(indices.dims[0], node)
        }
        try spend(indices.integers.count, node)
        let count = Int64(x.units.count)
        var units: [ONNXUnit] = []
        units.reserveCapacity(indices.integers.count)
        for (position, raw) in indices.integers.enumerated() {
            let index = raw < 0 ? raw + count : raw
            guard index >= 0, index < count else {
                throw node.fail("index \(raw) (position \(position)) is out of range for data of \(count) units (ONNX allows \(-count) to \(count - 1))")
            }
            units.append(x.units[Int(index)])
        }
        values[node.output] = .units(ONNXUnits(units: units, shape: [units.count], openLayer: nil))
    }

    /// Counts `count` more units against the budget (see `unitBudget`).
    private mutating func spend(_ count: Int, _ node: ONNXNode) throws(ImportFailure) {
        try checkBudget(count, node)
        unitBudget += count
    }

    /// Refuses `count` more units when they would pass `limits.maxUnits`; without counting
    /// them, so that it can run before a tensor's values are read.
    private func checkBudget(_ count: Int, _ node: ONNXNode) throws(ImportFailure) {
        let limit = limits.maxUnits
        guard count <= limit - unitBudget else {
            throw node.fail("the model needs more than \(limit) units (in its layers, concatenations and gathers); \(Limits.advice(limit, .maxUnits))")
        }
    }

    private mutating func readActivation(_ node: ONNXNode, _ activation: Activation, attributes: Set<String> = []) throws(ImportFailure) {
        try node.check(inputs: 1...1, outputs: 1...1, attributes: attributes)
        try applyActivation(node, activation, to: node.input(0))
    }

    /// The activation of the layer that `name` is the only handle on, or a new group of it
    /// with weight-1 edges; `node` defines the result.
    private mutating func applyActivation(_ node: ONNXNode, _ activation: Activation, to name: String) throws(ImportFailure) {
        let x = try units(name, "the input", node)
        if let open = openLayer(x, name: name) {
            layers[open].activation = activation
            values[node.output] = .units(ONNXUnits(units: x.units, shape: x.shape, openLayer: nil))
        } else {
            let layer = try addLayer(node, count: x.units.count, dense: nil, biases: nil, shape: x.shape)
            for (index, unit) in x.units.enumerated() { layers[layer].addSingle(from: unit, to: index, weight: 1) }
            layers[layer].activation = activation
            values[node.output] = .units(ONNXUnits(units: layers[layer].units(layer), shape: x.shape, openLayer: nil))
        }
    }

    /// The softmax itself is not a layer: its input is the output units of logits, and
    /// softmax cross-entropy's prediction reports p = softmax(logits), what the graph outputs.
    /// It must be a graph output that nothing else reads (which would read the logits).
    /// A final LogSoftmax (`log: true`, how a PyTorch network trained with NLLLoss ends) is read
    /// the same way: the graph outputs log p, and `bpc predict` shows p, its exp.
    private mutating func readSoftmax(_ node: ONNXNode, log: Bool = false) throws(ImportFailure) {
        try node.check(inputs: 1...1, outputs: 1...1, attributes: ["axis"])
        guard outputNames.contains(node.output), consumers[node.output, default: 0] == 1 else {
            throw node.fail("\(node.opType) is supported only as a node producing a graph output that no node uses, where it becomes the softmax_cross_entropy loss")
        }
        let x = try units(node.input(0), "the input", node)
        let axis = try node.int("axis", default: opset >= 13 ? -1 : 1)
        guard x.shape.count == 1, axis == 1 || axis == -1 else {
            throw node.fail("axis \(axis) over an input of shape \(Self.unitsShape(x.shape)) is not the softmax over each row bpc's softmax_cross_entropy computes")
        }
        guard x.units.count >= 2 else { throw node.fail(log ? "a log-softmax over one value is always 0" : "a softmax over one value is always 1") }
        softmaxOutputs.insert(node.output)
        values[node.output] = .units(x)
    }

    // MARK: Values

    func value(_ name: String, _ node: ONNXNode) throws(ImportFailure) -> ONNXValue {
        guard let value = values[name] else { throw node.fail("it uses '\(name)', which is not defined before it") }
        return value
    }

    func units(_ name: String, _ role: String, _ node: ONNXNode) throws(ImportFailure) -> ONNXUnits {
        guard case .units(let units) = try value(name, node) else {
            throw node.fail("\(role) ('\(name)') is a constant; bpc needs a value computed from the graph inputs there")
        }
        return units
    }

    /// The constant `name`, decoded; `check` sees its dims and type first (see
    /// `ONNXTensors.decode`), so a shape the node cannot use is refused before its data is read.
    func tensor(_ name: String, _ role: String, _ node: ONNXNode,
                check: (ONNXTensor) throws(ImportFailure) -> Void = { _ in }) throws(ImportFailure) -> ONNXTensor {
        guard case .constant(let proto, let origin) = try value(name, node) else {
            throw node.fail("\(role) ('\(name)') is computed from the input; bpc needs an initializer or a Constant there (fixed weights)")
        }
        return try ONNXTensors.decode(proto, origin: origin, node: node, budget: externalBudget, check: check)
    }

    /// A tensor of weights: floating-point, and finite (a bpc weight is a number); `check`
    /// sees its dims before its values are read.
    func reals(_ name: String, _ role: String, _ node: ONNXNode,
               check: (ONNXTensor) throws(ImportFailure) -> Void = { _ in }) throws(ImportFailure) -> ONNXTensor {
        let tensor = try self.tensor(name, role, node) { (header: ONNXTensor) throws(ImportFailure) in
            guard header.isReal else {
                throw node.fail("\(role) ('\(name)') holds integers; bpc reads FLOAT or DOUBLE weights")
            }
            try check(header)
        }
        if let bad = tensor.values.firstIndex(where: { !$0.isFinite }) {
            throw node.fail("\(role) ('\(name)') holds \(tensor.values[bad]) at index \(bad); bpc weights are finite")
        }
        return tensor
    }

    private func integers(_ name: String, _ role: String, _ node: ONNXNode) throws(ImportFailure) -> [Int64] {
        try self.tensor(name, role, node) { (header: ONNXTensor) throws(ImportFailure) in
            guard !header.isReal, !header.isInt32, header.dims.count == 1 else {
                throw node.fail("\(role) ('\(name)') must be a 1-D INT64 tensor")
            }
        }.integers
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
    func openLayer(_ units: ONNXUnits, name: String) -> Int? {
        consumers[name, default: 0] == 1 ? units.openLayer : nil
    }

    /// Refuses the sources of a dense layer that list a unit twice (`MatMul(Concat(x, x), W)`,
    /// `Gather(x, [0, 0])` before a Gemm): a spec has one edge per pair of units, and summing
    /// the two rows' weights would compute (w1 + w2) z, which rounds differently from
    /// onnxruntime's w1 z + w2 z, so the graph is refused rather than imported inexactly.
    private func checkDistinct(_ sources: [ONNXUnit], _ node: ONNXNode) throws(ImportFailure) {
        var seen: Set<ONNXUnit> = []
        seen.reserveCapacity(sources.count)
        for unit in sources where !seen.insert(unit).inserted {
            let layer = layers[unit.layer]
            throw node.fail("it reads the unit \(layer.name)[\(unit.index)] twice (a repeated column of A, as Concat(x, x) or Gather(x, [0, 0]) makes); bpc has one edge per pair of units, and summing the column's two weights would round differently from the graph: remove the repeat from the model and sum its weights there")
        }
    }

    /// Appends a layer named after `node` (or, when the node's name is generic, after the
    /// module of its `weight` initializer) and binds the node's output to its units.
    @discardableResult
    private mutating func addLayer(
        _ node: ONNXNode, count: Int, dense: (from: [ONNXUnit], weights: [Double])?, biases: [Double]?, shape: [Int]? = nil,
        weight: String? = nil
    ) throws(ImportFailure) -> Int {
        try spend(count, node)
        var layer = ONNXLayer(name: node.layerName(weight: weight) ?? "layer\(layers.count)", count: count)
        layer.biases = biases
        if let dense { layer.dense.append(dense) }
        let index = layers.count
        layers.append(layer)
        values[node.output] = .units(ONNXUnits(units: layer.units(index), shape: shape ?? [count], openLayer: index))
        return index
    }

    // MARK: The spec

    /// A run of one layer's units that becomes one group of the spec.
    struct Segment {
        var layer: Int
        var start: Int
        var count: Int
        /// The position of its first unit among the spec's outputs, for a run of output units.
        var firstOutput: Int?
        var name = ""
    }

    /// The spec: the graph outputs' units are its output units, in order (a Softmax of the
    /// other outputs' units is softmax cross-entropy's probabilities, not an output); a layer
    /// whose units are not all outputs or all not is split into groups of runs, and output
    /// groups are declared in the outputs' order, which is the order of a plan's outputs.
    func assemble(specPath: String, name: String) throws(ImportFailure) -> SpecAssembly {
        var outputs: [(name: String, units: [ONNXUnit])] = []
        for output in outputNames {
            guard case .units(let value)? = values[output] else {
                throw ImportFailure(file: file, "the graph output '\(output)' is a constant; it does not depend on the inputs")
            }
            outputs.append((output, value.units))
        }
        let softmax = !softmaxOutputs.isEmpty
        if softmax && outputs.count > 1 {
            let named = " (named by the metadata bpc.probabilities)"
            let probabilities = outputs.filter { softmaxOutputs.contains($0.name) }
            guard probabilities.count == 1, let p = probabilities.first else {
                throw ImportFailure(file: file, "the graph outputs \(Self.quotedList(probabilities.map(\.name))) are each a Softmax; bpc imports one, as the only output or as the probabilities of the other outputs (softmax_cross_entropy)")
            }
            let others = outputs.filter { $0.name != p.name }
            guard p.units == others.flatMap(\.units) else {
                throw ImportFailure(file: file, "the graph output '\(p.name)'\(metadata["bpc.probabilities"] == p.name ? named : "") is a Softmax of values that are not the other outputs' units in order; bpc imports a Softmax as the only output or as the probabilities of the other outputs (softmax_cross_entropy)")
            }
            outputs = others
        }
        var owner: [ONNXUnit: String] = [:]
        for output in outputs {
            for unit in output.units {
                if let first = owner[unit] {
                    throw ImportFailure(file: file, first == output.name
                        ? "the graph output '\(first)' holds a unit twice; bpc's output units are distinct"
                        : "the graph outputs '\(first)' and '\(output.name)' hold the same unit; bpc's output units are distinct (a unit is one output)")
                }
                owner[unit] = output.name
            }
        }

        // Outputs that hold input units, or logits that are not identity units, are copied
        // into a new group of identity units (1 * z + 0 = z exactly).
        var layers = self.layers
        for (position, output) in outputs.enumerated()
        where output.units.contains(where: { $0.layer < inputLayerCount || (softmax && layers[$0.layer].activation != .identity) }) {
            var copy = ONNXLayer(name: output.name, count: output.units.count)
            for (index, unit) in output.units.enumerated() { copy.addSingle(from: unit, to: index, weight: 1) }
            outputs[position].units = Self.units(ofLayer: layers.count, count: copy.count)
            layers.append(copy)
        }
        let outputUnits = outputs.flatMap(\.units)
        let activations = outputUnits.map { layers[$0.layer].activation }
        var loss: Loss = softmax ? .softmaxCrossEntropy
            : activations.allSatisfy({ $0 == .sigmoid }) ? .binaryCrossEntropy : .halfSquaredError
        // bpc's export names its loss; it is used where the graph allows it (half squared
        // error over sigmoid outputs), and ignored where it contradicts the graph.
        if let declared = metadata["bpc.loss"].flatMap(Loss.init(rawValue:)),
           Self.allows(declared, softmax: softmax, activations: activations) {
            loss = declared
        }

        var segments = segments(of: layers, outputs: outputs)
        nameSegments(&segments, layers: layers, outputs: outputs)

        let producerParts = [model.producerName, model.producerVersion].filter { !$0.isEmpty }
        let producer = producerParts.isEmpty ? "" : " (\(producerParts.joined(separator: " ")))"
        let source = (file as NSString).lastPathComponent
        var assembly = SpecAssembly(path: specPath, name: name, description: "Imported from the ONNX model \(source)\(producer).")
        // Where each layer's runs went: (first unit, segment), in unit order.
        var runs: [[(start: Int, segment: Int)]] = Array(repeating: [], count: layers.count)
        var groupSize: [String: Int] = [:]
        for (index, segment) in segments.enumerated() {
            let layer = layers[segment.layer]
            let role: UnitRole = segment.layer < inputLayerCount ? .input : segment.firstOutput != nil ? .output : .hidden
            let biases = layer.biases.map { Array($0[segment.start..<(segment.start + segment.count)]) }
            // A one-column graph input or output keeps its name as a unit (`x1`, not `x1[0]`).
            segments[index].name = assembly.addGroup(suggestedName: segment.name, role: role, count: segment.count,
                                                     activation: layer.activation, biases: biases, single: role != .hidden)
            groupSize[segments[index].name] = segment.count
            runs[segment.layer].append((segment.start, index))
        }
        for index in runs.indices { runs[index].sort { $0.start < $1.start } }
        func member(_ unit: ONNXUnit) -> SpecAssembly.Member {
            let list = runs[unit.layer]
            var low = 0, high = list.count - 1
            while low < high {
                let middle = (low + high + 1) / 2
                if list[middle].start <= unit.index { low = middle } else { high = middle - 1 }
            }
            let segment = segments[list[low].segment]
            return SpecAssembly.Member(group: segment.name, index: unit.index - segment.start)
        }

        for (index, layer) in layers.enumerated() {
            let targets = runs[index].map { segments[$0.segment] }
            for entry in layer.dense {
                let sources = entry.from.map(member)
                for rows in Self.wholeGroupRuns(sources, groupSize: groupSize) {
                    for target in targets {
                        var weights: [Double] = []
                        weights.reserveCapacity(rows.count * target.count)
                        for row in rows {
                            weights += entry.weights[(row * layer.count + target.start)..<(row * layer.count + target.start + target.count)]
                        }
                        assembly.addEdges(from: Array(sources[rows]), to: SpecAssembly.members(of: target.name, count: target.count), weights: weights)
                    }
                }
            }
            for edge in layer.single {
                assembly.addEdges(from: [member(edge.from)], to: [member(ONNXUnit(layer: index, index: edge.to))], weights: [edge.weight])
            }
        }
        assembly.setLoss(loss)
        return assembly
    }

    /// Whether a loss named in the metadata fits the graph: binary cross-entropy needs sigmoid
    /// outputs, softmax cross-entropy identity ones (and the squared errors no softmax).
    static func allows(_ loss: Loss, softmax: Bool, activations: [Activation]) -> Bool {
        switch loss {
        case .halfSquaredError, .meanSquaredError: !softmax
        case .binaryCrossEntropy: !softmax && activations.allSatisfy { $0 == .sigmoid }
        case .softmaxCrossEntropy: softmax || (activations.count >= 2 && activations.allSatisfy { $0 == .identity })
        }
    }

    /// Every layer cut into runs of units that are all hidden (or input) or are outputs at
    /// consecutive positions of one graph output (or of bpc's outputs `y[0]`, `y[1]`, ...);
    /// the runs of outputs then ordered by position among themselves.
    private func segments(of layers: [ONNXLayer], outputs: [(name: String, units: [ONNXUnit])]) -> [Segment] {
        var position: [ONNXUnit: Int] = [:]
        // The family (first output's index) of each output position: consecutive outputs
        // named `y[0]`, `y[1]`, ... are one family, every other output is one of its own.
        var family: [Int] = []
        var base: String?
        var familyStart = 0
        for (index, output) in outputs.enumerated() {
            if let base, output.name == "\(base)[\(index - familyStart)]" {
                // Continues the family.
            } else {
                familyStart = index
                base = Self.memberBase(output.name, index: 0)
            }
            for unit in output.units {
                position[unit] = family.count
                family.append(familyStart)
            }
        }
        var segments: [Segment] = []
        for (index, layer) in layers.enumerated() {
            var start = 0
            while start < layer.count {
                let first = position[ONNXUnit(layer: index, index: start)]
                var end = start + 1
                while end < layer.count {
                    let next = position[ONNXUnit(layer: index, index: end)]
                    if let first {
                        guard let next, next == first + (end - start), family[next] == family[first] else { break }
                    } else if next != nil {
                        break
                    }
                    end += 1
                }
                segments.append(Segment(layer: index, start: start, count: end - start, firstOutput: first))
                start = end
            }
        }
        let slots = segments.indices.filter { segments[$0].firstOutput != nil }
        let ordered = slots.map { segments[$0] }.sorted { ($0.firstOutput ?? 0) < ($1.firstOutput ?? 0) }
        for (slot, segment) in zip(slots, ordered) { segments[slot] = segment }
        return segments
    }

    /// A group's suggested name: its layer's, or for output units exactly one graph output's
    /// (unless that is a bare number), or `y` for the outputs `y[0]`, `y[1]`, ... (bpc's export
    /// of the group `y`).
    private func nameSegments(_ segments: inout [Segment], layers: [ONNXLayer], outputs: [(name: String, units: [ONNXUnit])]) {
        var ranges: [(start: Int, end: Int, name: String)] = []
        var offset = 0
        for output in outputs {
            ranges.append((offset, offset + output.units.count, output.name))
            offset += output.units.count
        }
        for index in segments.indices {
            segments[index].name = layers[segments[index].layer].name
            guard let first = segments[index].firstOutput else { continue }
            let end = first + segments[index].count
            let inside = ranges.filter { $0.start >= first && $0.end <= end }
            guard inside.first?.start == first, inside.last?.end == end else { continue }
            if inside.count == 1, Self.isNumber(inside[0].name) || (softmaxOutputs.contains(inside[0].name) && Self.namesSoftmax(inside[0].name)) {
                // PyTorch's TorchScript exporter names an output without output_names by a
                // number (`23`), which says less than the layer's name (`layer6`, not `u23`);
                // its dynamo exporter names it after the last op (`softmax`), which would call
                // the group of logits "softmax".
            } else if inside.count == 1 {
                segments[index].name = inside[0].name
            } else if let base = TextChecks.groupName(ofMembers: inside.map(\.name)) {
                segments[index].name = base
            }
        }
    }

    /// Whether an output's name is only the name of the (log-)softmax that made it.
    static func namesSoftmax(_ name: String) -> Bool {
        let plain = name.lowercased().filter { $0.isLetter }
        return plain == "softmax" || plain == "logsoftmax"
    }

    /// `sources` cut into the runs that are each a whole group in order, when it is made of
    /// such runs (`from: x1`, `from: x2` reads better than a list of members); else one run.
    static func wholeGroupRuns(_ sources: [SpecAssembly.Member], groupSize: [String: Int]) -> [Range<Int>] {
        var runs: [Range<Int>] = []
        var start = 0
        while start < sources.count {
            let group = sources[start].group
            let size = groupSize[group] ?? 0
            guard sources[start].index == 0, start + size <= sources.count,
                  (0..<size).allSatisfy({ sources[start + $0] == SpecAssembly.Member(group: group, index: $0) }) else {
                return [0..<sources.count]
            }
            runs.append(start..<(start + size))
            start += size
        }
        return runs.count > 1 ? runs : [0..<sources.count]
    }

    // MARK: Messages

    private func fail(_ node: Onnx_NodeProto, _ index: Int, _ message: String) -> ImportFailure {
        ImportFailure(file: file, "\(Self.label(node, index)): \(message)")
    }

    /// `node 'fc2' (Conv)`, or `node #3 (Conv)` for a node without a name.
    static func label(_ node: Onnx_NodeProto, _ index: Int) -> String {
        node.name.isEmpty ? "node #\(index + 1) (\(node.opType))" : "node '\(node.name)' (\(node.opType))"
    }

    /// Whether `name` is a non-empty run of decimal digits.
    static func isNumber(_ name: String) -> Bool {
        !name.isEmpty && TextChecks.allDigits(name.utf8)
    }

    static func quotedList(_ names: [String]) -> String { names.map { "'\($0)'" }.joined(separator: ", ") }

    /// `[N, 2, 2]`: a units value's shape with its batch dimension.
    static func unitsShape(_ shape: [Int]) -> String { "[" + (["N"] + shape.map(String.init)).joined(separator: ", ") + "]" }

    static func units(ofLayer layer: Int, count: Int) -> [ONNXUnit] { (0..<count).map { ONNXUnit(layer: layer, index: $0) } }
}

extension ONNXLayer {
    func units(_ index: Int) -> [ONNXUnit] { ONNXGraphReader.units(ofLayer: index, count: count) }
}
