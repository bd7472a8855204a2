import BPC
import BPCSpec
import Foundation
import Testing

/// Networks of many small layers, built here: the import's work follows the connections, not
/// the pairs of layers (a shortcut network of 200,000 one-neuron layers fits in 4 MB).
@Suite("FANN import of many layers") struct FANNLayerCountTests {
    static let layerCount = 20_000

    /// A chain of `count` one-unit linear layers after one input, each unit taking the one
    /// before it and a bias: a standard network (every layer with a bias neuron, connected by
    /// position) or a sparse shortcut one (only the input layer has a bias neuron).
    static func chain(_ count: Int, shortcut: Bool) -> String {
        var neurons = "(0, 0, 0.0) (0, 0, 0.0) "
        var connections = ""
        for layer in 1...count {
            if shortcut {
                // Neuron layer + 1; neuron 1 is the input layer's bias.
                neurons += "(2, 0, 1.0) "
                connections += "(\(layer == 1 ? 0 : layer), 0.5) (1, 0.25) "
            } else {
                // Neurons 2 layer (the unit) and 2 layer + 1 (the bias).
                neurons += "(2, 0, 1.0) (0, 0, 0.0) "
                connections += "(\(2 * layer - 2), 0.5) (\(2 * layer - 1), 0.25) "
            }
        }
        let sizes = ["2"] + Array(repeating: shortcut ? "1" : "2", count: count)
        return """
            FANN_FLO_2.1
            num_layers=\(count + 1)
            network_type=\(shortcut ? 1 : 0)
            connection_rate=\(shortcut ? "0.5" : "1.0")
            layer_sizes=\(sizes.joined(separator: " "))
            neurons (num_inputs, activation_function, activation_steepness)=\(neurons)
            connections (connected_to_neuron, weight)=\(connections)

            """
    }

    @Test("a network of twenty thousand one-neuron layers, shortcut or standard, imports as a chain of groups with one edge entry each", arguments: [true, false])
    func longChainsImport(shortcut: Bool) throws {
        let (assembly, warnings) = try FANNImporter.assemble(text: Self.chain(Self.layerCount, shortcut: shortcut), file: "chain.net",
                                                             specPath: "chain.yaml", name: "chain")
        #expect(warnings.allSatisfy { $0.severity != .error })
        #expect(assembly.spec.units.count == Self.layerCount + 1)
        #expect(assembly.spec.edges.count == Self.layerCount)
        #expect(assembly.spec.units.dropFirst().allSatisfy { $0.bias != nil })
    }

    @Test("a network with more units than the limit passed in is refused, naming --max-units")
    func unitLimitIsTheOnePassed() throws {
        var limits = Limits()
        limits.maxUnits = 100
        let failure = #expect(throws: ImportFailure.self) {
            _ = try FANNImporter.assemble(text: Self.chain(Self.layerCount, shortcut: true), file: "chain.net",
                                          specPath: "chain.yaml", name: "chain", limits: limits)
        }
        let message = failure?.description ?? ""
        #expect(message.contains("layer_sizes add up to \(Self.layerCount + 1) units (not counting bias neurons); the limit is 100; raise it with --max-units"), "\(message)")
    }
}
