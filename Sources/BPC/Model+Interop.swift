extension Model {
    /// The network with its current parameters as an ONNX model (`.onnx` bytes); see
    /// `ONNXExporter` for the graph's shape.
    public func exportONNX(options: ONNXExportOptions = ONNXExportOptions()) throws(ExportFailure) -> [UInt8] {
        try ONNXExporter.model(of: plan, options: options)
    }
}
