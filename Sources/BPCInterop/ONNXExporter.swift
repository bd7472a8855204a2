import BPCPlan
import Foundation
import SwiftProtobuf

/// How `ONNXExporter` writes a model.
public struct ONNXExportOptions: Sendable {
    /// The element type of every tensor: binary64 (`double`) computes what bpc computes;
    /// binary32 (`float`) is what most runtimes and converters accelerate.
    public enum Precision: String, Sendable, CaseIterable {
        case double, float
    }

    public var precision: Precision
    /// One graph input [N, inputs] and one output [N, outputs] instead of one [N, 1] tensor per
    /// unit: what most consumers of a model expect (an image network's 784 pixels as one
    /// tensor). See `ONNXExporter.interfaceNames` for their names.
    public var packed: Bool
    /// bpc's version, written as the model's `producer_version`.
    public var producerVersion: String

    public init(precision: Precision = .double, packed: Bool = false, producerVersion: String = "") {
        self.precision = precision
        self.packed = packed
        self.producerVersion = producerVersion
    }
}

/// Why a plan could not be written as ONNX.
public struct ExportFailure: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Writes a plan as an ONNX model that computes the network's outputs for a batch of samples.
///
/// The graph has one input per input unit and one output per output unit, each named after its
/// unit and shaped [N, 1] (N, the batch, is symbolic), so a reader sees the network's own
/// names. Units are computed in groups: the units of one topological depth with one activation.
/// A group whose units all read the same sources (a dense layer) is one `Gemm` (or `MatMul`
/// without biases) on those sources; any other group gathers each unit's sources into a
/// [N, units x widest fan-in] matrix (padding reads a column of zeros with weight 0), multiplies
/// by the weights, and sums each unit's row with `ReduceSum` — valid for any DAG, with memory
/// proportional to the edges. Sums add the bias last, as bpc's runtimes do.
///
/// Activations are ONNX operators where onnxruntime's kernel for the precision computes bpc's
/// function; in double, `LeakyRelu` (whose `alpha` attribute is a binary32 number, so 0.01 would
/// become 0.0099999998) and `Softplus` (no binary64 kernel in onnxruntime) are written as small
/// subgraphs of the same formulas bpc evaluates. SiLU is a * Sigmoid(a) (ONNX has no SiLU before
/// opset 24). Input normalisation is `Sub` and `Mul` before the first layer; tied parameters hold
/// equal values in every place they are used; softmax cross-entropy adds a `probabilities`
/// output. The loss and everything else a plan knows that ONNX has no place for is in the
/// model's `metadata_props` (keys `bpc.*`).
public enum ONNXExporter {
    /// Opset 17 (ONNX 1.12, 2022): every operator used here has had its current form since then,
    /// and runtimes and converters of that age read it.
    public static let opsetVersion: Int64 = 17
    /// The IR version that goes with opset 17.
    public static let irVersion: Int64 = 8

    /// The serialized model (`.onnx` bytes).
    public static func model(of plan: Plan, options: ONNXExportOptions = ONNXExportOptions()) throws(ExportFailure) -> [UInt8] {
        // A spec always has inputs; a plan file written by hand need not.
        guard !plan.inputUnits.isEmpty else {
            throw ExportFailure("the network has no input units, and an ONNX model computes its outputs from at least one input")
        }
        let model = modelProto(of: plan, options: options)
        do {
            return try model.serializedBytes()
        } catch {
            throw ExportFailure("the ONNX model could not be serialized: \(error)")
        }
    }

    /// The names of the graph's inputs and outputs.
    public struct InterfaceNames: Sendable, Equatable {
        public var inputs: [String]
        public var outputs: [String]
        /// Softmax cross-entropy's extra output.
        public var probabilities: String?
    }

    /// One name per unit (the units' own names), or, packed, one for all inputs and one for all
    /// outputs: the units' group (`x` for x[0], x[1], ... in order), the unit's name for one
    /// unit, else `inputs` / `outputs`. The probabilities output is `probabilities`, or, if that
    /// is taken, the first of `probabilities_2`, `probabilities_3`, ... that is not.
    public static func interfaceNames(of plan: Plan, packed: Bool) -> InterfaceNames {
        // Every unit's name and group name is taken: a fallback or the probabilities output
        // never names what a unit's tensor is called.
        var taken = Set(plan.unitNames)
        for name in plan.unitNames { if let bracket = name.firstIndex(of: "[") { taken.insert(String(name[..<bracket])) } }
        func unused(_ candidate: String) -> String {
            var name = candidate
            var suffix = 2
            while taken.contains(name) {
                name = "\(candidate)_\(suffix)"
                suffix += 1
            }
            taken.insert(name)
            return name
        }
        func names(_ units: [Int32], fallback: String) -> [String] {
            let unitNames = units.map { plan.unitNames[Int($0)] }
            guard packed else { return unitNames }
            if unitNames.count == 1 { return unitNames }
            return [TextChecks.groupName(ofMembers: unitNames) ?? unused(fallback)]
        }
        var interface = InterfaceNames(inputs: names(plan.inputUnits, fallback: "inputs"),
                                       outputs: names(plan.outputUnits, fallback: "outputs"))
        if plan.loss == .softmaxCrossEntropy { interface.probabilities = unused("probabilities") }
        return interface
    }

    static func modelProto(of plan: Plan, options: ONNXExportOptions) -> Onnx_ModelProto {
        let interface = interfaceNames(of: plan, packed: options.packed)
        var graph = GraphBuilder(precision: options.precision, interface: interface)
        graph.lower(plan)

        var model = Onnx_ModelProto()
        model.irVersion = irVersion
        model.producerName = "bpc"
        model.producerVersion = options.producerVersion
        model.domain = "org.bpc"
        model.modelVersion = 1
        model.docString = "The network \(plan.name) exported by bpc: \(plan.unitCount) units, \(plan.edgeCount) edges, loss \(plan.loss.name)."
        var opset = Onnx_OperatorSetIdProto()
        opset.domain = ""
        opset.version = opsetVersion
        model.opsetImport = [opset]
        model.graph = graph.graph
        model.graph.name = plan.name
        model.metadataProps = metadata(of: plan, options: options, interface: interface).map { key, value in
            var entry = Onnx_StringStringEntryProto()
            entry.key = key
            entry.value = value
            return entry
        }
        return model
    }

    /// What the plan knows that ONNX's graph does not say, as (key, value) pairs.
    static func metadata(of plan: Plan, options: ONNXExportOptions, interface: InterfaceNames) -> [(String, String)] {
        var entries: [(String, String)] = [
            ("bpc.plan_format", "\(Plan.formatVersion)"),
            ("bpc.name", plan.name),
            ("bpc.loss", plan.loss.name),
            ("bpc.precision", options.precision.rawValue),
            ("bpc.inputs", plan.inputUnits.map { plan.unitNames[Int($0)] }.joined(separator: ",")),
            ("bpc.outputs", plan.outputUnits.map { plan.unitNames[Int($0)] }.joined(separator: ",")),
        ]
        if let probabilities = interface.probabilities {
            entries.append(("bpc.probabilities", probabilities))
        }
        entries.append(("bpc.layout", options.packed ? "packed" : "units"))
        if let classes = plan.classNames {
            // A JSON list, since class names may hold any character.
            var list = "["
            for (index, name) in classes.enumerated() {
                if index > 0 { list += "," }
                JSONText.appendString(name, to: &list)
            }
            entries.append(("bpc.classes", list + "]"))
        }
        if let normalization = plan.inputNormalization {
            entries.append(("bpc.normalize", normalization.method.rawValue))
        }
        let groups = plan.sharedGroups()
        if !groups.isEmpty {
            // Each group of tied parameters by its keys; the graph holds their (equal) values.
            let keys = plan.parameterKeys()
            entries.append(("bpc.tied", groups.map { $0.map { keys[$0] }.joined(separator: "=") }.joined(separator: ";")))
        }
        return entries
    }
}

/// Builds the graph of one plan: nodes in topological order, initializers, inputs and outputs.
struct GraphBuilder {
    let precision: ONNXExportOptions.Precision
    let interface: ONNXExporter.InterfaceNames
    private(set) var graph = Onnx_GraphProto()
    /// Where each unit's value z is: a tensor and the column in it.
    private var location: [(tensor: String, column: Int)] = []
    private var width: [String: Int] = [:]
    private var zeroColumn: String?
    private var firstInput = ""
    private var nodeCount = 0

    init(precision: ONNXExportOptions.Precision, interface: ONNXExporter.InterfaceNames) {
        self.precision = precision
        self.interface = interface
    }

    private var elementType: Int32 {
        Int32(precision == .double ? Onnx_TensorProto.DataType.double.rawValue : Onnx_TensorProto.DataType.float.rawValue)
    }

    mutating func lower(_ plan: Plan) {
        location = Array(repeating: ("", 0), count: plan.unitCount)
        lowerInputs(plan)
        for group in Self.groups(of: plan) { lowerGroup(group, plan: plan) }
        lowerOutputs(plan)
    }

    // MARK: Stages

    private mutating func lowerInputs(_ plan: Plan) {
        let names = interface.inputs
        let width = plan.inputUnits.count
        for name in names { graph.input.append(valueInfo(name, columns: names.count == 1 ? width : 1)) }
        firstInput = names.first ?? ""
        var inputs = names.count == 1 ? names[0] : node("Concat", names, name: "inputs", attributes: [.int("axis", 1)])
        if let normalization = plan.inputNormalization {
            // x' = (x - shift) * scale, in this order, as everywhere in bpc.
            let shift = constant("normalize/shift", normalization.shift, dims: [Int64(width)])
            let scale = constant("normalize/scale", normalization.scale, dims: [Int64(width)])
            inputs = node("Mul", [node("Sub", [inputs, shift], name: "normalize/sub"), scale], name: "normalize/mul")
        }
        self.width[inputs] = width
        for (column, unit) in plan.inputUnits.enumerated() { location[Int(unit)] = (inputs, column) }
    }

    /// The units computed together, in unit order; groups by depth, then by their first unit.
    ///
    /// Units of one depth and one activation are split by the set of units they read: two or
    /// more units reading the same sources are a dense group (one Gemm), so that two branches
    /// of one depth (`a(x) + b(z)`) stay two layers, readable and importable. The units left
    /// alone (each reading sources no other unit reads) form one group, gathered and summed
    /// together, so a sparse DAG costs a few nodes per depth, not a few per unit.
    static func groups(of plan: Plan) -> [[Int]] {
        let depths = plan.topologicalDepths()
        var index: [GroupKey: Int] = [:]
        var byKey: [[Int]] = []
        for unit in 0..<plan.unitCount where plan.roles[unit] != .input {
            let sources = plan.fanInSource[Int(plan.fanInStart[unit])..<Int(plan.fanInStart[unit + 1])].map(Int.init).sorted()
            let key = GroupKey(depth: depths[unit], activation: plan.activations[unit], sources: sources)
            if let existing = index[key] {
                byKey[existing].append(unit)
            } else {
                index[key] = byKey.count
                byKey.append([unit])
            }
        }
        var groups: [[Int]] = []
        var alone: [Alone: Int] = [:]
        for group in byKey {
            let key = Alone(depth: depths[group[0]], activation: plan.activations[group[0]])
            if group.count > 1 {
                groups.append(group)
            } else if let existing = alone[key] {
                groups[existing] += group
            } else {
                alone[key] = groups.count
                groups.append(group)
            }
        }
        return groups.map { $0.sorted() }.sorted { (depths[$0[0]], $0[0]) < (depths[$1[0]], $1[0]) }
    }

    private struct GroupKey: Hashable {
        var depth: Int
        var activation: Activation
        var sources: [Int]
    }

    private struct Alone: Hashable {
        var depth: Int
        var activation: Activation
    }

    private mutating func lowerGroup(_ units: [Int], plan: Plan) {
        let label = Self.label(of: units, plan: plan)
        var sources: [Int] = []
        var seen: Set<Int> = []
        var widestFanIn = 0
        for unit in units {
            let edges = Int(plan.fanInStart[unit])..<Int(plan.fanInStart[unit + 1])
            widestFanIn = max(widestFanIn, edges.count)
            for edge in edges where seen.insert(Int(plan.fanInSource[edge])).inserted {
                sources.append(Int(plan.fanInSource[edge]))
            }
        }
        let biases = units.map { unit in plan.biasParameter[unit] >= 0 ? plan.parameters[Int(plan.biasParameter[unit])] : nil }
        let hasBias = biases.contains { $0 != nil }
        // Units without a bias add 0, which changes no sum (bpc's sums start at +0).
        let biasVector = hasBias || sources.isEmpty
            ? constant("\(label)/bias", biases.map { $0 ?? 0 }, dims: [Int64(units.count)]) : ""

        var netInput: String
        let dense = !sources.isEmpty && units.allSatisfy { Int(plan.fanInStart[$0 + 1] - plan.fanInStart[$0]) == sources.count }
        if sources.isEmpty {
            // Units without fan-in: a = bias (or 0) in every row.
            netInput = node("Add", [zeros(), biasVector], name: "\(label)/a")
        } else if dense {
            // Every unit reads every source: W[s][g] is the weight of sources[s] -> units[g].
            let row = Dictionary(uniqueKeysWithValues: sources.enumerated().map { ($0.element, $0.offset) })
            var weights = [Double](repeating: 0, count: sources.count * units.count)
            for (g, unit) in units.enumerated() {
                for edge in Int(plan.fanInStart[unit])..<Int(plan.fanInStart[unit + 1]) {
                    weights[(row[Int(plan.fanInSource[edge])] ?? 0) * units.count + g] = plan.parameters[Int(plan.fanInParameter[edge])]
                }
            }
            let source = gathered(sources, label: label)
            let matrix = constant("\(label)/weights", weights, dims: [Int64(sources.count), Int64(units.count)])
            netInput = hasBias
                ? node("Gemm", [source, matrix, biasVector], name: "\(label)/a")
                : node("MatMul", [source, matrix], name: "\(label)/a")
        } else {
            // Unit g's edges fill slots g*k ..< g*k + fanIn; the rest read a zero with weight 0.
            let (base, column) = concatenated(sources, withZeros: units.contains { Int(plan.fanInStart[$0 + 1] - plan.fanInStart[$0]) < widestFanIn })
            var indices = [Int64](repeating: Int64(column.zero), count: units.count * widestFanIn)
            var weights = [Double](repeating: 0, count: units.count * widestFanIn)
            for (g, unit) in units.enumerated() {
                for (slot, edge) in (Int(plan.fanInStart[unit])..<Int(plan.fanInStart[unit + 1])).enumerated() {
                    indices[g * widestFanIn + slot] = Int64(column.of[Int(plan.fanInSource[edge])] ?? 0)
                    weights[g * widestFanIn + slot] = plan.parameters[Int(plan.fanInParameter[edge])]
                }
            }
            let picked = node("Gather", [base, int64Constant("\(label)/sources", indices, dims: [Int64(indices.count)])],
                              name: "\(label)/gather", attributes: [.int("axis", 1)])
            let products = node("Mul", [picked, constant("\(label)/weights", weights, dims: [Int64(weights.count)])], name: "\(label)/products")
            if widestFanIn == 1 {
                netInput = products
            } else {
                let rows = node("Reshape", [products, int64Constant("\(label)/shape", [-1, Int64(units.count), Int64(widestFanIn)], dims: [3])],
                                name: "\(label)/rows")
                netInput = node("ReduceSum", [rows, int64Constant("\(label)/axis", [2], dims: [1])],
                                name: "\(label)/sum", attributes: [.int("keepdims", 0)])
            }
            if hasBias { netInput = node("Add", [netInput, biasVector], name: "\(label)/a") }
        }

        let output = activation(plan.activations[units[0]], of: netInput, label: label)
        width[output] = units.count
        for (column, unit) in units.enumerated() { location[unit] = (output, column) }
    }

    private mutating func lowerOutputs(_ plan: Plan) {
        let outputUnits = plan.outputUnits.map(Int.init)
        if interface.outputs.count == 1 {
            let name = interface.outputs[0]
            _ = node("Identity", [gathered(outputUnits, label: "outputs")], name: "output/\(name)", output: name)
            graph.output.append(valueInfo(name, columns: outputUnits.count))
        } else {
            lowerOutputsByUnit(plan)
        }
        if let name = interface.probabilities {
            let logits = gathered(outputUnits, label: "probabilities")
            _ = node("Softmax", [logits], name: "probabilities", output: name, attributes: [.int("axis", 1)])
            graph.output.append(valueInfo(name, columns: outputUnits.count))
        }
    }

    private mutating func lowerOutputsByUnit(_ plan: Plan) {
        for (unit, name) in zip(plan.outputUnits.map(Int.init), interface.outputs) {
            let (tensor, column) = location[unit]
            if width[tensor] == 1 {
                _ = node("Identity", [tensor], name: "output/\(name)", output: name)
            } else {
                _ = node("Gather", [tensor, int64Constant("output/\(name)/column", [Int64(column)], dims: [1])],
                         name: "output/\(name)", output: name, attributes: [.int("axis", 1)])
            }
            graph.output.append(valueInfo(name, columns: 1))
        }
    }

    // MARK: Activations

    private mutating func activation(_ activation: Activation, of a: String, label: String) -> String {
        let z = "\(label)/z"
        switch activation {
        case .identity: return a
        case .sigmoid: return node("Sigmoid", [a], name: z)
        case .tanh: return node("Tanh", [a], name: z)
        case .relu: return node("Relu", [a], name: z)
        case .silu: return node("Mul", [a, node("Sigmoid", [a], name: "\(label)/sigmoid")], name: z)
        case .leakyReLU:
            if precision == .float {
                return node("LeakyRelu", [a], name: z, attributes: [.float("alpha", Float(Activation.leakySlope))])
            }
            // a > 0 ? a : 0.01 * a with a binary64 slope.
            let positive = node("Greater", [a, scalar("\(label)/zero", 0)], name: "\(label)/positive")
            let scaled = node("Mul", [a, scalar("\(label)/slope", Activation.leakySlope)], name: "\(label)/scaled")
            return node("Where", [positive, a, scaled], name: z)
        case .softplus:
            if precision == .float { return node("Softplus", [a], name: z) }
            // max(a, 0) + log1p(e^-|a|), bpc's formula; log1p(x) = log(u) * x / (u - 1) with
            // u = 1 + x (exact to a few ulps; x itself when u rounds to 1), as ONNX has no Log1p.
            let x = node("Exp", [node("Neg", [node("Abs", [a], name: "\(label)/abs")], name: "\(label)/neg")], name: "\(label)/exp")
            let one = scalar("\(label)/one", 1)
            let u = node("Add", [x, one], name: "\(label)/u")
            let d = node("Sub", [u, one], name: "\(label)/u_minus_1")
            let ratio = node("Div", [x, d], name: "\(label)/ratio")
            let logU = node("Log", [u], name: "\(label)/log")
            let rounded = node("Greater", [d, scalar("\(label)/zero", 0)], name: "\(label)/resolved")
            let tail = node("Where", [rounded, node("Mul", [logU, ratio], name: "\(label)/log1p"), x], name: "\(label)/tail")
            return node("Add", [node("Relu", [a], name: "\(label)/positive_part"), tail], name: z)
        }
    }

    // MARK: Sources

    /// The values of `units` as the columns of one [N, count] tensor, in that order: a tensor
    /// that already is exactly that, or a Gather from the tensors that hold them.
    private mutating func gathered(_ units: [Int], label: String) -> String {
        if let first = units.first {
            let tensor = location[first].tensor
            if width[tensor] == units.count && units.enumerated().allSatisfy({ location[$0.element] == (tensor, $0.offset) }) {
                return tensor
            }
        }
        let (base, column) = concatenated(units, withZeros: false)
        let indices = units.map { Int64(column.of[$0] ?? 0) }
        return node("Gather", [base, int64Constant("\(label)/sources", indices, dims: [Int64(indices.count)])],
                    name: "\(label)/gather", attributes: [.int("axis", 1)])
    }

    private struct Columns {
        /// The column of each unit in the concatenated tensor.
        var of: [Int: Int] = [:]
        /// The column of zeros, when one was asked for.
        var zero = 0
    }

    /// One tensor holding every unit of `units` (the tensors they live in side by side, plus a
    /// column of zeros if asked) and where each unit is in it.
    private mutating func concatenated(_ units: [Int], withZeros: Bool) -> (String, Columns) {
        var tensors: [String] = []
        var offset: [String: Int] = [:]
        var total = 0
        for unit in units where offset[location[unit].tensor] == nil {
            let tensor = location[unit].tensor
            offset[tensor] = total
            tensors.append(tensor)
            total += width[tensor] ?? 0
        }
        var columns = Columns()
        for unit in units { columns.of[unit] = (offset[location[unit].tensor] ?? 0) + location[unit].column }
        if withZeros {
            tensors.append(zeros())
            columns.zero = total
        }
        if tensors.count == 1 { return (tensors[0], columns) }
        return (node("Concat", tensors, name: "concat", attributes: [.int("axis", 1)]), columns)
    }

    /// A [N, 1] tensor of zeros, made once from the batch size of the first input.
    private mutating func zeros() -> String {
        if let zeroColumn { return zeroColumn }
        let batch = node("Shape", [firstInput], name: "zeros/batch", attributes: [.int("start", 0), .int("end", 1)])
        let shape = node("Concat", [batch, int64Constant("zeros/width", [1], dims: [1])], name: "zeros/shape", attributes: [.int("axis", 0)])
        var value = Onnx_TensorProto()
        value.dataType = elementType
        value.dims = [1]
        if precision == .double { value.doubleData = [0] } else { value.floatData = [0] }
        let made = node("ConstantOfShape", [shape], name: "zeros", attributes: [.tensor("value", value)])
        zeroColumn = made
        return made
    }

    /// A name for a group's tensors: the units' common group name (`h` for h[0], h[1]), the
    /// unit's name for one unit, else the depth's first unit's name with `+`.
    static func label(of units: [Int], plan: Plan) -> String {
        let bases = Set(units.map { plan.unitNames[$0].split(separator: "[", maxSplits: 1).first.map(String.init) ?? "" })
        if bases.count == 1, let base = bases.first { return base }
        return plan.unitNames[units[0]] + "+"
    }

    // MARK: Graph pieces

    enum Attribute {
        case int(String, Int64)
        case float(String, Float)
        case tensor(String, Onnx_TensorProto)

        var proto: Onnx_AttributeProto {
            var attribute = Onnx_AttributeProto()
            switch self {
            case .int(let name, let value):
                attribute.name = name
                attribute.type = .int
                attribute.i = value
            case .float(let name, let value):
                attribute.name = name
                attribute.type = .float
                attribute.f = value
            case .tensor(let name, let value):
                attribute.name = name
                attribute.type = .tensor
                attribute.t = value
            }
            return attribute
        }
    }

    /// Appends a node and returns its output's name (`bpc/NAME`, made unique, unless `output`
    /// names it: graph outputs are named after their units).
    private mutating func node(_ op: String, _ inputs: [String], name: String, output: String? = nil, attributes: [Attribute] = []) -> String {
        nodeCount += 1
        let result = output ?? "bpc/\(name)#\(nodeCount)"
        var node = Onnx_NodeProto()
        node.opType = op
        node.name = "\(name)#\(nodeCount)"
        node.input = inputs
        node.output = [result]
        node.attribute = attributes.map(\.proto)
        graph.node.append(node)
        return result
    }

    /// An initializer of the model's element type.
    private mutating func constant(_ name: String, _ values: [Double], dims: [Int64]) -> String {
        let double = precision == .double
        return initializer(name, dims: dims, type: elementType) { tensor in
            if double { tensor.doubleData = values } else { tensor.floatData = values.map { Float($0) } }
        }
    }

    private mutating func scalar(_ name: String, _ value: Double) -> String {
        constant(name, [value], dims: [])
    }

    /// An initializer of indices or shapes.
    private mutating func int64Constant(_ name: String, _ values: [Int64], dims: [Int64]) -> String {
        initializer(name, dims: dims, type: Int32(Onnx_TensorProto.DataType.int64.rawValue)) { $0.int64Data = values }
    }

    private mutating func initializer(_ name: String, dims: [Int64], type: Int32, fill: (inout Onnx_TensorProto) -> Void) -> String {
        var tensor = Onnx_TensorProto()
        tensor.name = "bpc/\(name)#\(graph.initializer.count)"
        tensor.dataType = type
        tensor.dims = dims
        fill(&tensor)
        graph.initializer.append(tensor)
        return tensor.name
    }

    /// A graph input or output: [N, columns] of the model's element type.
    private func valueInfo(_ name: String, columns: Int) -> Onnx_ValueInfoProto {
        var batch = Onnx_TensorShapeProto.Dimension()
        batch.dimParam = "N"
        var width = Onnx_TensorShapeProto.Dimension()
        width.dimValue = Int64(columns)
        var tensorType = Onnx_TypeProto.Tensor()
        tensorType.elemType = elementType
        tensorType.shape.dim = [batch, width]
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type.tensorType = tensorType
        return info
    }
}
