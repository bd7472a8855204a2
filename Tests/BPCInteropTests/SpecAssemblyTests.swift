import BPC
import Foundation
import Testing

@Suite struct SpecAssemblyTests {
    @Test func anAssembledSpecIsWrittenAsYAMLThatCompilesToTheSameNetwork() throws {
        var assembly = SpecAssembly(path: "assembled.yaml", name: "assembled", description: "two layers")
        let input = assembly.addGroup(suggestedName: "input", role: .input, count: 2, activation: .identity, biases: nil)
        let hidden = assembly.addGroup(suggestedName: "/fc1/Gemm", role: .hidden, count: 3, activation: .tanh, biases: [0.5, -0.25, 1])
        let output = assembly.addGroup(suggestedName: "output", role: .output, count: 1, activation: .sigmoid, biases: [0.125])
        assembly.addEdges(from: SpecAssembly.members(of: input, count: 2), to: SpecAssembly.members(of: hidden, count: 3),
                          weights: [1, 2, 3, 4, 5, 6])
        // A skip connection from one member, written as a member reference.
        assembly.addEdges(from: [SpecAssembly.Member(group: input, index: 1)], to: SpecAssembly.members(of: output, count: 1), weights: [0.1])
        assembly.addEdges(from: SpecAssembly.members(of: hidden, count: 3), to: SpecAssembly.members(of: output, count: 1), weights: [-1, 0.5, 2])
        assembly.setLoss(.binaryCrossEntropy)

        #expect(hidden == "fc1_Gemm")
        let model = try Model(yaml: assembly.yaml, path: "assembled.yaml")
        let input0 = [0.3, -0.7]
        let h = (0..<3).map { k in Foundation.tanh(input0[0] * [1.0, 2, 3][k] + input0[1] * [4.0, 5, 6][k] + [0.5, -0.25, 1][k]) }
        let a = 0.1 * input0[1] + (-1 * h[0] + 0.5 * h[1] + 2 * h[2]) + 0.125
        let output0 = try model.predict(input0)
        #expect(abs(output0[0] - 1 / (1 + Foundation.exp(-a))) < 1e-15)
        #expect(model.plan.loss == .binaryCrossEntropy)
    }

    @Test func groupNamesAreMadeValidAndUnique() {
        var assembly = SpecAssembly(path: "names.yaml", name: nil, description: nil)
        let names = ["h", "h", "0", "/a//b/", "true", "", "état"].map {
            assembly.addGroup(suggestedName: $0, role: .hidden, count: 1, activation: .identity, biases: nil)
        }
        #expect(names == ["h", "h_2", "u0", "a_b", "true_2", "u", "tat"])
        #expect(Set(names).count == names.count)
        for name in names { #expect(UnitReference.isIdentifier(name)) }
    }

    /// Twenty thousand groups suggested under one name (a deep chain a hostile model can ask
    /// for): with a lookup per group this took minutes; the test has no clock, but it would.
    @Test func twentyThousandGroupsOfOneNameGetDistinctNamesAndWholeGroupReferences() {
        var assembly = SpecAssembly(path: "many.yaml", name: nil, description: nil)
        var previous = assembly.addGroup(suggestedName: "x", role: .input, count: 1, activation: .identity, biases: nil, single: true)
        for _ in 0..<20_000 {
            let next = assembly.addGroup(suggestedName: "fc", role: .hidden, count: 1, activation: .relu, biases: nil)
            assembly.addEdges(from: SpecAssembly.members(of: previous, count: 1), to: SpecAssembly.members(of: next, count: 1), weights: [1])
            previous = next
        }
        #expect(assembly.spec.units.count == 20_001)
        #expect(assembly.spec.units.last?.name.value == "fc_20000")
        #expect(Set(assembly.spec.units.map(\.name.value)).count == 20_001)
        #expect(assembly.yaml.contains("  - {from: fc_19999, to: fc_20000, weight: 1.0}\n"))
    }
}
