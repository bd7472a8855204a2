extension Model {
    /// The network with its current parameters as an ONNX model (`.onnx` bytes); see
    /// `ONNXExporter` for the graph's shape.
    public func exportONNX(options: ONNXExportOptions = ONNXExportOptions()) throws(ExportFailure) -> [UInt8] {
        try ONNXExporter.model(of: plan, options: options)
    }
}

/// A network another tool saved, which bpc can import as a spec.
public enum ForeignFormat: String, Sendable, CaseIterable {
    /// An ONNX model (`.onnx`) of dense layers: see `ONNXImporter`.
    case onnx
    /// A network saved by FANN's `fann_save` (`.net`): see `FANNImporter`.
    case fann

    /// The extension files of this format usually have.
    public var fileExtension: String { self == .fann ? "net" : "onnx" }
}

/// A foreign network read as a spec: its text, the model it compiles to, and what the reader
/// noticed without refusing (a FANN steepness folded inexactly, FANN's clamping).
public struct ImportedSpec: Sendable {
    /// The spec in format v1, every weight and bias written out.
    public var yaml: String
    /// The spec compiled, ready to predict, train or emit.
    public var model: Model
    public var warnings: [Diagnostic]
}

extension Model {
    /// Reads a network saved by another tool and returns it as a spec.
    ///
    /// The spec is compiled before it is returned, so what a caller writes is known to load.
    /// - Parameters:
    ///   - specPath: where the spec will be written (the compiled model's diagnostics name it).
    ///   - name: the network's name; the file's name without its extension when nil.
    public static func importing(
        _ format: ForeignFormat, file path: String, specPath: String, name: String? = nil, limits: Limits = Limits()
    ) throws(ImportFailure) -> ImportedSpec {
        var log = DiagnosticLog()
        guard let bytes = readRegularFile(path, maxSize: limits.maxFileSize, log: &log) else { throw ImportFailure(log.diagnostics) }
        let base = path.split(separator: "/").last.map(String.init) ?? path
        let name = name ?? String(base.split(separator: ".", omittingEmptySubsequences: false).dropLast().joined(separator: ".")).nonEmpty ?? base
        var warnings: [Diagnostic] = []
        let assembly: SpecAssembly
        switch format {
        case .fann:
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw ImportFailure(file: path, "not a FANN network file: the file is not text (UTF-8)")
            }
            (assembly, warnings) = try FANNImporter.assemble(text: text, file: path, specPath: specPath, name: name, limits: limits)
        case .onnx:
            assembly = try ONNXImporter.assemble(bytes: bytes, file: path, specPath: specPath, name: name, limits: limits)
        }
        // The spec says where it came from and what it lacks to be trained further (the file
        // name without the characters YAML reads as line breaks, which would end the comment).
        let shownBase = String(String.UnicodeScalarView(base.unicodeScalars.filter { $0.value >= 0x20 && ![0x7F, 0x85, 0x2028, 0x2029].contains($0.value) }))
        let yaml = "# Imported by bpc from \(shownBase) (\(format.rawValue)). Every weight and bias is written out. To fine-tune\n"
            + "# it with bpc run, add `data:` (or give --data FILE.csv) and adjust `train:`; with a `label:` column, list\n"
            + "# `classes:` in the output units' order (otherwise the sorted class names are matched to the outputs).\n"
            + assembly.yaml
        do {
            return ImportedSpec(yaml: yaml, model: try Model(yaml: yaml, path: specPath, options: LoadOptions(limits: limits, loadsData: false)), warnings: warnings)
        } catch {
            // The importers write only what the format allows; a spec that does not load is
            // bpc's bug, reported with the spec's own diagnostics rather than hidden.
            throw ImportFailure(error.diagnostics + [Diagnostic(file: path, position: nil, severity: .note,
                                                                 message: "this is a bug in bpc's \(format.rawValue) importer: the spec it wrote does not load")])
        }
    }
}

private extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
