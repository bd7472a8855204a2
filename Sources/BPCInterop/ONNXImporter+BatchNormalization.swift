extension ONNXGraphReader {
    /// BatchNormalization at inference, y = (x - mean) * s + B with s = scale / sqrt(var + eps),
    /// is an affine map of each unit, so right after a Gemm or MatMul layer (with or without its
    /// bias Add) that nothing else reads it is folded into that layer: w' = w s and
    /// b' = (b - mean) s + B, computed in binary64 (PyTorch's `Linear` + `BatchNorm1d`, which
    /// its TorchScript exporter writes as it is; the default exporter folds it itself). The
    /// folded weights round differently from the two steps onnxruntime computes, so the import
    /// agrees to rounding, not bit for bit. Anywhere else (after an activation, a sum, an input)
    /// it would need a group of its own per channel and is refused, as is training mode (which
    /// normalises by the batch's statistics).
    mutating func readBatchNormalization(_ node: ONNXNode) throws(ImportFailure) {
        try node.check(inputs: 5...5, outputs: 1...3, attributes: ["epsilon", "momentum", "training_mode", "spatial"])
        guard try node.int("training_mode", default: 0) == 0 else {
            throw node.fail("training_mode = 1 is not supported; bpc imports the inference graph, where BatchNormalization uses its running mean and variance")
        }
        guard try node.int("spatial", default: 1) == 1 else {
            throw node.fail("spatial = 0 is not supported; bpc imports BatchNormalization with one mean and variance per channel")
        }
        if let used = node.node.output.dropFirst().first(where: { !$0.isEmpty && consumers[$0, default: 0] > 0 }) {
            throw node.fail("its output '\(used)' (a running statistic) is used; at inference BatchNormalization has one output")
        }
        let epsilon = Double(try node.float("epsilon", default: 1e-5))
        let name = node.input(0)
        let x = try units(name, "X", node)
        guard let open = openLayer(x, name: name), layers[open].single.isEmpty, layers[open].dense.count == 1,
              x.shape.count == 1, x.units == layers[open].units(open) else {
            throw node.fail("BatchNormalization is supported only directly after a Gemm or MatMul layer (and its bias Add) that nothing else reads, whose weights and biases it is folded into; here X ('\(name)') is not such a layer")
        }
        let count = x.units.count
        var parameters: [[Double]] = []
        for (position, role) in ["scale", "B", "input_mean", "input_var"].enumerated() {
            let tensor = try reals(node.input(position + 1), role, node) { (tensor: ONNXTensor) throws(ImportFailure) in
                guard tensor.dims == [count] else {
                    throw node.fail("\(role) has shape \(tensor.dims); BatchNormalization of [N, \(count)] needs [\(count)]")
                }
            }
            parameters.append(tensor.values)
        }
        let (scale, shift, mean, variance) = (parameters[0], parameters[1], parameters[2], parameters[3])
        var factors: [Double] = []
        for channel in 0..<count {
            let spread = variance[channel] + epsilon
            guard spread > 0 else {
                throw node.fail("input_var + epsilon is \(spread) for channel \(channel); a variance is positive")
            }
            factors.append(scale[channel] / spread.squareRoot())
        }
        let earlier = layers[open].biases ?? Array(repeating: 0, count: count)
        let biases = (0..<count).map { (earlier[$0] - mean[$0]) * factors[$0] + shift[$0] }
        var weights = layers[open].dense[0].weights
        for index in weights.indices { weights[index] *= factors[index % count] }
        guard factors.allSatisfy(\.isFinite), biases.allSatisfy(\.isFinite), weights.allSatisfy(\.isFinite) else {
            throw node.fail("folding it into the layer's weights and biases overflows binary64")
        }
        layers[open].dense[0].weights = weights
        layers[open].biases = biases
        values[node.output] = .units(ONNXUnits(units: x.units, shape: x.shape, openLayer: open))
    }
}
