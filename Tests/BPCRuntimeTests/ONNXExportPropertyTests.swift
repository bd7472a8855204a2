@testable import BPCInterop
import BPCPlan
import BPCRuntime
import BPCTestSupport
import Foundation
import Testing

/// The ONNX export against onnxruntime on networks of every shape: random DAGs (units of one
/// depth with different fan-ins: the gather-and-sum lowering) and layered networks (Gemm and
/// MatMul), with every activation, in both precisions.
@Suite("ONNX export on random networks", .enabled(if: ONNXOracle.isAvailable, "no Python with onnx and onnxruntime ($BPC_ONNX_PYTHON)"))
struct ONNXExportPropertyTests {
    struct Case {
        var name: String
        var plan: Plan
        var inputs: [[Double]]
    }

    static func cases() throws -> [Case] {
        var cases: [Case] = []
        var random = TestRandom(seed: 2026)
        for seed in 1...24 as ClosedRange<UInt64> {
            let generated = RandomNetworks.generate(seed: seed, samples: 3)
            let plan = try #require(compile(generated))
            var inputs = generated.samples.map(\.input)
            inputs.append((0..<plan.inputUnits.count).map { _ in random.uniform(-3, 3) })
            cases.append(Case(name: "random \(seed)", plan: plan, inputs: inputs))
        }
        for activation in ReferenceActivation.allCases {
            for loss in ["half_squared_error", "softmax_cross_entropy", "binary_cross_entropy"] {
                let plan = try #require(compileText(FastRuntimeTests.layered(inputs: 3, hidden: 5, outputs: 2, activation: activation.rawValue, loss: loss, skip: loss == "half_squared_error")))
                let inputs = (0..<3).map { row in (0..<3).map { column in Double(row * 3 + column) * 0.7 - 3 } }
                cases.append(Case(name: "layered \(activation.rawValue) \(loss)", plan: plan, inputs: inputs))
            }
        }
        return cases
    }

    @Test("onnxruntime computes what bpc computes, to 1e-12 in binary64 and 1e-5 in binary32, and the models pass onnx's full check")
    func outputsMatch() throws {
        let cases = try Self.cases()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bpc-onnx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        var requests: [(model: URL, feeds: [String: [[Double]]])] = []
        var expected: [(name: String, options: ONNXExportOptions, interface: ONNXExporter.InterfaceNames, outputs: [[Double]])] = []
        let variants = ONNXExportOptions.Precision.allCases.flatMap { precision in [false, true].map { ONNXExportOptions(precision: precision, packed: $0) } }
        for (index, item) in cases.enumerated() {
            var network = try Network(plan: item.plan)
            let outputs = item.inputs.map { network.predict($0) }
            for (variant, options) in variants.enumerated() {
                let url = folder.appendingPathComponent("\(index)-\(variant).onnx")
                try Data(try ONNXExporter.model(of: item.plan, options: options)).write(to: url)
                let interface = ONNXExporter.interfaceNames(of: item.plan, packed: options.packed)
                requests.append((url, ONNXOracle.feeds(inputs: interface.inputs, rows: item.inputs)))
                expected.append((item.name, options, interface, outputs))
            }
        }
        let answers = try ONNXOracle.run(requests)
        try #require(answers.count == expected.count)
        var checked = 0
        for (answer, want) in zip(answers, expected) {
            let label = "\(want.name) \(want.options.precision)\(want.options.packed ? " packed" : "")"
            #expect(answer.checker == "ok", "\(label): \(answer.checker)")
            let outputs = try #require(answer.outputs, "\(label): \(answer.error ?? "")")
            let rows = try ONNXOracle.rows(of: outputs, names: want.interface.outputs, count: want.outputs.count)
            let tolerance = want.options.precision == .double ? 1e-12 : 1e-5
            for (row, values) in rows.enumerated() {
                #expect(values.count == want.outputs[row].count)
                for (value, bpc) in zip(values, want.outputs[row]) {
                    #expect(closeEnough(value, bpc, relative: tolerance), "\(label) row \(row): onnxruntime \(values), bpc \(want.outputs[row])")
                    checked += 1
                }
            }
        }
        #expect(checked > 500)
    }

    @Test("the cases exercise every lowering: dense layers with and without biases, gathered sums, units without fan-in, every activation's operators")
    func casesCoverEveryLowering() throws {
        var operators: Set<String> = []
        for item in try Self.cases() {
            for precision in ONNXExportOptions.Precision.allCases {
                let model = ONNXExporter.modelProto(of: item.plan, options: ONNXExportOptions(precision: precision))
                operators.formUnion(model.graph.node.map(\.opType))
            }
        }
        let expected: Set<String> = ["Gemm", "MatMul", "Gather", "Mul", "Reshape", "ReduceSum", "Add", "Concat", "Shape", "ConstantOfShape",
                                     "Sigmoid", "Tanh", "Relu", "LeakyRelu", "Softplus", "Where", "Greater", "Exp", "Log", "Div", "Softmax", "Identity"]
        #expect(expected.subtracting(operators).isEmpty, "never exported: \(expected.subtracting(operators).sorted())")
    }
}
