import Foundation

/// One node being read: its checks of arity and attributes, and its messages, which all start
/// with the node's name and op type so that the user can find it in a viewer such as Netron.
struct ONNXNode {
    let node: Onnx_NodeProto
    let index: Int
    let file: String

    var opType: String { node.opType }

    /// `node 'fc2' (Conv)`.
    var label: String { ONNXGraphReader.label(node, index) }

    /// The first output (`check` makes sure it is named).
    var output: String { node.output.first ?? "" }

    /// Input `position`, or "" when absent (an optional input left out).
    func input(_ position: Int) -> String { position < node.input.count ? node.input[position] : "" }

    func fail(_ message: String) -> ImportFailure {
        ImportFailure(file: file, "\(label): \(message)")
    }

    /// Checks the number of inputs (the first `inputs.lowerBound` present) and outputs (the
    /// first named), and that every attribute is one bpc reads: an attribute it ignored could
    /// change what the node computes.
    func check(inputs: ClosedRange<Int>, outputs: ClosedRange<Int>, attributes: Set<String>) throws(ImportFailure) {
        guard inputs.contains(node.input.count) else {
            throw fail("it has \(node.input.count) inputs; \(opType) takes \(Self.range(inputs))")
        }
        if let missing = node.input.prefix(inputs.lowerBound).firstIndex(where: \.isEmpty) {
            throw fail("its input \(missing + 1) is missing")
        }
        guard outputs.contains(node.output.count), !output.isEmpty else {
            throw fail("it has \(node.output.count) outputs (the first named); \(opType) gives \(Self.range(outputs))")
        }
        var seen: Set<String> = []
        for attribute in node.attribute {
            guard attributes.contains(attribute.name) else {
                throw fail("attribute '\(attribute.name)' is not supported")
            }
            guard seen.insert(attribute.name).inserted else {
                throw fail("attribute '\(attribute.name)' is given twice")
            }
        }
    }

    func float(_ name: String, default value: Float) throws(ImportFailure) -> Float {
        guard let attribute = node.attribute.first(where: { $0.name == name }) else { return value }
        guard attribute.type == .float else { throw fail("attribute '\(name)' must be a FLOAT") }
        return attribute.f
    }

    func int(_ name: String, default value: Int64) throws(ImportFailure) -> Int64 {
        guard let attribute = node.attribute.first(where: { $0.name == name }) else { return value }
        guard attribute.type == .int else { throw fail("attribute '\(name)' must be an INT") }
        return attribute.i
    }

    /// The name of the layer the node creates, when something names it: the module's name from
    /// an exporter's scoped node name (`fc1` from PyTorch's `/fc1/Gemm`, `dense` from tf2onnx's
    /// `sequential/dense/MatMul`), else the node's name. PyTorch's default (dynamo) exporter
    /// names nodes after their op (`node_linear_1`, `node_Gemm_3`), and the modules of an
    /// unnamed `Sequential` are numbers (`/0/Gemm`); such names say nothing about the network,
    /// so there the module path of the layer's weight initializer (`weight`: `fc1.weight`,
    /// `layers.2.weight`) names it instead: `fc1`, `layers_2`, and `layer0` for `0.weight` (a
    /// group name starts with a letter, and `layer0` reads better than the sanitized `u0`).
    func layerName(weight: String?) -> String? {
        let parts = node.name.split(separator: "/")
        let scoped = (parts.count >= 2 ? parts[parts.count - 2] : parts.first).map(String.init)
        if let scoped, !isGeneric(scoped) { return scoped }
        if let weight, let module = Self.modulePath(ofWeight: weight) { return module }
        guard let scoped else { return nil }
        return TextChecks.allDigits(scoped.utf8) ? "layer" + scoped : scoped
    }

    /// Whether `name` (a node's name or its module's) only repeats what the graph says anyway:
    /// the dynamo exporter's `node_...` and `n3`, an op type with a number (`Gemm_3`, `MatMul2`),
    /// a bare number (a `Sequential`'s module `0`).
    func isGeneric(_ name: String) -> Bool {
        func isNumber(_ text: Substring) -> Bool { TextChecks.allDigits(text.utf8) }
        if name.isEmpty || name.hasPrefix("node_") || isNumber(name[...]) { return true }
        if name.hasPrefix("n"), name.count > 1, isNumber(name.dropFirst()) { return true }
        guard name.lowercased().hasPrefix(opType.lowercased()), !opType.isEmpty else { return false }
        let rest = name.dropFirst(opType.count)
        return isNumber(rest.hasPrefix("_") ? rest.dropFirst() : rest)
    }

    /// `fc1` for the initializer `fc1.weight`, `layers_2` for `layers.2.weight`, `layer0` for
    /// `0.weight`: PyTorch names a parameter by its module's path and the attribute.
    static func modulePath(ofWeight weight: String) -> String? {
        let components = weight.split(separator: ".", omittingEmptySubsequences: false)
        guard components.count >= 2, components.last == "weight", !components.dropLast().contains(where: \.isEmpty) else { return nil }
        let path = components.dropLast().joined(separator: "_")
        guard let first = path.utf8.first else { return nil }
        return TextChecks.isDigit(first) ? "layer" + path : path
    }

    private static func range(_ range: ClosedRange<Int>) -> String {
        range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound) to \(range.upperBound)"
    }
}

/// A decoded constant: weights converted to binary64 (exactly, from FLOAT or DOUBLE), or the
/// integers of a shape (INT64) or of Gather's indices (INT64 or INT32).
struct ONNXTensor {
    var dims: [Int]
    var isReal: Bool
    /// INT32 integers, which Gather's indices may be but a Reshape's shape may not.
    var isInt32 = false
    var values: [Double] = []
    var integers: [Int64] = []

    /// Whether a tensor of `dims` broadcasts to [N, shape...] without changing it: what
    /// `broadcast(to:)` needs, known from the dims alone, so it is checked before the values
    /// are read.
    static func broadcasts(_ dims: [Int], to shape: [Int]) -> Bool {
        let full = [1] + shape
        guard dims.count <= full.count else { return false }
        return zip(dims, full.suffix(dims.count)).allSatisfy { $0 == 1 || $0 == $1 }
    }

    /// The values this tensor gives each of `shape`'s positions (row-major) when added to a
    /// value of shape [N, shape...] by ONNX's broadcasting, if the sum keeps that shape (the
    /// batch dimension is matched by a 1, so every row gets the same values).
    func broadcast(to shape: [Int]) -> [Double]? {
        let full = [1] + shape
        guard Self.broadcasts(dims, to: shape), let count = ONNXTensors.product(shape) else { return nil }
        // The tensor's stride for each of `full`'s axes: 0 where it is broadcast (or absent).
        var strides = [Int](repeating: 0, count: full.count)
        var step = 1
        for axis in stride(from: dims.count - 1, through: 0, by: -1) {
            if dims[axis] != 1 { strides[full.count - dims.count + axis] = step }
            step *= dims[axis]
        }
        var result = [Double](repeating: 0, count: count)
        for position in 0..<count {
            var rest = position, source = 0
            for axis in stride(from: shape.count - 1, through: 0, by: -1) {
                source += (rest % shape[axis]) * strides[axis + 1]
                rest /= shape[axis]
            }
            result[position] = values[source]
        }
        return result
    }
}

enum ONNXTensors {
    /// Decodes `proto` (named `origin` in messages, for `node`), checking that its data is in
    /// the file, or in the external data file next to it (`ONNXExternalData`), and matches its
    /// dims and type before anything is allocated for it.
    /// - Parameters:
    ///   - budget: what external data may still be read (nil for a probe of one value).
    ///   - check: the user's check of the tensor's dims and type (given a tensor without its
    ///     values), run before its data is read: a shape the node cannot use is refused with
    ///     the node's message, not after reading (and allocating) data of the wrong size.
    static func decode(_ proto: Onnx_TensorProto, origin: String, node: ONNXNode, budget: ONNXExternalBudget? = nil,
                       check: (ONNXTensor) throws(ImportFailure) -> Void = { _ in }) throws(ImportFailure) -> ONNXTensor {
        guard !proto.hasSegment else { throw node.fail("\(origin) is a segment of a tensor, which is not supported") }
        guard proto.dims.allSatisfy({ $0 >= 0 }), let count = product(proto.dims.map { Int($0) }) else {
            throw node.fail("\(origin) has impossible dims \(proto.dims)")
        }
        let dims = proto.dims.map { Int($0) }
        let type = Onnx_TensorProto.DataType(rawValue: Int(proto.dataType))
        let size: Int
        switch type {
        case .float?: size = 4
        case .double?, .int64?: size = 8
        case .int32?: size = 4
        case .float16?, .bfloat16?:
            throw node.fail("\(origin) is \(typeName(proto.dataType)); bpc computes in binary64 and reads FLOAT or DOUBLE weights (onnxruntime would compute this model in half precision): convert it to float32 first")
        default:
            throw node.fail("\(origin) has element type \(typeName(proto.dataType)), which bpc does not read")
        }
        let typed = switch type {
        case .float?: proto.floatData.count
        case .double?: proto.doubleData.count
        case .int32?: proto.int32Data.count
        default: proto.int64Data.count
        }
        var tensor = ONNXTensor(dims: dims, isReal: type != .int64 && type != .int32, isInt32: type == .int32)
        try check(tensor)
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: size)
        let bytes: [UInt8]
        if proto.dataLocation == .external || !proto.externalData.isEmpty {
            guard typed == 0, proto.rawData.isEmpty else {
                throw node.fail("\(origin) has both external data and data in the model")
            }
            guard !overflow else { throw node.fail("\(origin) has impossible dims \(proto.dims)") }
            bytes = try ONNXExternalData.read(proto, origin: origin, byteCount: byteCount, type: typeName(proto.dataType), dims: dims,
                                              node: node, budget: budget)
        } else {
            bytes = [UInt8](proto.rawData)
            if !bytes.isEmpty {
                guard typed == 0 else { throw node.fail("\(origin) has both raw_data and typed data") }
                guard !overflow, bytes.count == byteCount else {
                    throw node.fail("\(origin) has \(bytes.count) bytes of raw_data, but its dims \(dims) of \(typeName(proto.dataType)) need \(overflow ? "more" : "\(byteCount)")")
                }
            } else if typed != count {
                throw node.fail("\(origin) holds \(typed) values, but its dims \(dims) need \(count)")
            }
        }
        if bytes.isEmpty {
            switch type {
            case .float?: tensor.values = proto.floatData.map { Double($0) }
            case .double?: tensor.values = proto.doubleData
            case .int32?: tensor.integers = proto.int32Data.map { Int64($0) }
            default: tensor.integers = proto.int64Data
            }
            return tensor
        }
        func word(_ index: Int, _ width: Int) -> UInt64 {
            var bits: UInt64 = 0
            for byte in 0..<width { bits |= UInt64(bytes[index * width + byte]) << (8 * byte) }
            return bits
        }
        switch type {
        case .float?: tensor.values = (0..<count).map { Double(Float(bitPattern: UInt32(word($0, 4)))) }
        case .double?: tensor.values = (0..<count).map { Double(bitPattern: word($0, 8)) }
        case .int32?: tensor.integers = (0..<count).map { Int64(Int32(bitPattern: UInt32(word($0, 4)))) }
        default: tensor.integers = (0..<count).map { Int64(bitPattern: word($0, 8)) }
        }
        return tensor
    }

    /// The product of `dims`, or nil if it overflows.
    static func product(_ dims: [Int]) -> Int? {
        var result = 1
        for dim in dims {
            let (next, overflow) = result.multipliedReportingOverflow(by: dim)
            if overflow { return nil }
            result = next
        }
        return result
    }

    /// ONNX's name of an element type (`FLOAT16`).
    static func typeName(_ type: Int32) -> String {
        Onnx_TensorProto.DataType(rawValue: Int(type)).map { "\($0)".uppercased() } ?? "type \(type)"
    }
}
