import Foundation

/// onnx and onnxruntime, run through Python (`Tests/Fixtures/onnx/oracle.py`): the references
/// bpc's ONNX export and import are checked against. The interpreter is `$BPC_ONNX_PYTHON`, else
/// `python3`; `.ci/run` installs both packages into a virtual environment and sets the variable.
public enum ONNXOracle {
    public static let python = ProcessInfo.processInfo.environment["BPC_ONNX_PYTHON"].flatMap { $0.isEmpty ? nil : $0 } ?? "python3"

    /// Whether the interpreter imports onnx and onnxruntime (suites that need them are enabled by it).
    public static let isAvailable: Bool = {
        guard let run = try? runProcess(URL(fileURLWithPath: "/usr/bin/env"), [python, "-c", "import onnx, onnxruntime"],
                                        in: FileManager.default.temporaryDirectory) else { return false }
        return run.exited && run.status == 0
    }()

    /// What the oracle says about one model.
    public struct Answer: Decodable, Sendable {
        /// "ok", or the message of `onnx.checker.check_model(full_check=True)`.
        public var checker: String
        /// Each graph output's rows (converted to binary64), by output name; nil when onnxruntime failed.
        public var outputs: [String: [[Double]]]?
        /// Why onnxruntime failed to load or run the model.
        public var error: String?
        /// The graph's inputs and outputs: name, element type (`FLOAT`, `DOUBLE`) and shape
        /// (numbers, or names of symbolic dimensions).
        public var inputs: [[Field]]
        public var outputsInfo: [[Field]]
        public var metadata: [String: String]
        public var opset: Int

        enum CodingKeys: String, CodingKey {
            case checker, outputs, error, inputs, metadata, opset
            case outputsInfo = "outputs_info"
        }
    }

    /// One entry of a name/type/shape triple, which JSON writes as a string, a number or a list.
    public enum Field: Decodable, Sendable, Equatable {
        case text(String)
        case number(Int)
        case list([Field])

        public init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Int.self) { self = .number(number) }
            else if let text = try? container.decode(String.self) { self = .text(text) }
            else { self = .list(try container.decode([Field].self)) }
        }
    }

    /// Checks and runs `model` with `feeds` (rows per graph input name).
    public static func run(model: URL, feeds: [String: [[Double]]]) throws -> Answer {
        guard let answer = try run([(model, feeds)]).first else { throw OracleFailure(message: "oracle.py gave no answer") }
        return answer
    }

    /// Checks and runs several models in one Python process (onnxruntime takes most of a
    /// second to start), answering in order.
    public static func run(_ requests: [(model: URL, feeds: [String: [[Double]]])]) throws -> [Answer] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bpc-oracle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let request = folder.appendingPathComponent("request.json")
        let body: [[String: Any]] = requests.map { ["model": $0.model.path, "feeds": $0.feeds] }
        try JSONSerialization.data(withJSONObject: body).write(to: request)
        let script = packageRoot.appendingPathComponent("Tests/Fixtures/onnx/oracle.py").path
        let run = try runProcess(URL(fileURLWithPath: "/usr/bin/env"), [python, script, request.path], in: folder)
        guard run.exited, run.status == 0 else {
            throw OracleFailure(message: "oracle.py failed (status \(run.status)): \(run.stderr)")
        }
        return try JSONDecoder().decode([Answer].self, from: Data(run.stdout.utf8))
    }

    /// The feeds for `rows` (N x inputs) of a graph whose inputs are `names`: one [N, 1]
    /// column per name, or, for one name, the rows themselves ([N, inputs]).
    public static func feeds(inputs names: [String], rows: [[Double]]) -> [String: [[Double]]] {
        if names.count == 1 { return [names[0]: rows] }
        var feeds: [String: [[Double]]] = [:]
        for (column, name) in names.enumerated() { feeds[name] = rows.map { [$0[column]] } }
        return feeds
    }

    /// The output rows (N x outputs) of a graph whose outputs are `names`: one [N, outputs]
    /// tensor, or one [N, 1] column per name.
    public static func rows(of outputs: [String: [[Double]]], names: [String], count: Int) throws -> [[Double]] {
        if names.count == 1, let rows = outputs[names[0]] { return rows }
        let columns = try names.map { name in
            guard let column = outputs[name] else { throw OracleFailure(message: "onnxruntime gave no output \(name)") }
            return column
        }
        return (0..<count).map { row in columns.map { $0[row][0] } }
    }

    public struct OracleFailure: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }
}
