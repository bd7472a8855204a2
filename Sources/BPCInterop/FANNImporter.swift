import BPCPlan
import BPCSpec

/// Reads a network saved by libfann's `fann_save` (`FANN_FLO_2.1`) into a spec.
///
/// FANN numbers every neuron of every layer in one sequence; each layer of a standard network
/// (`network_type=0`) ends with a bias neuron that always outputs 1, and in a shortcut network
/// (`network_type=1`) only the input layer has one. A connection from a bias neuron becomes its
/// target's bias. FANN computes a neuron as f(steepness * sum); the steepness (and the factor 2
/// of FANN's sigmoid, 1/(1+e^(-2 s sum))) is folded into the incoming weights and the bias, so
/// the spec's units compute the same function with bpc's activations.
///
/// What a spec cannot say, the importer warns about instead of hiding: FANN clamps
/// steepness * sum to ±150/steepness, which saturates linear neurons and, for steepness above
/// 8, visibly caps sigmoid and tanh neurons; folding a steepness that is not a power of two
/// rounds every weight once.
public enum FANNImporter {
    /// Reads a FANN network file's text into a spec assembly; warnings (e.g. inexact steepness folding) are returned too.
    /// - Parameter limits: the spec's limits; a network with more units than `maxUnits` is
    ///   refused before anything is built for its layers, as a spec with that many would be.
    public static func assemble(text: String, file: String, specPath: String, name: String,
                                limits: Limits = Limits()) throws(ImportFailure) -> (assembly: SpecAssembly, warnings: [Diagnostic]) {
        var log = DiagnosticLog()
        let source = FANNNetworkFile(text: text, file: file, log: &log)
        guard !log.hasErrors, let network = FANNNetwork(source, limits: limits, log: &log), !log.hasErrors else {
            throw ImportFailure(log.sorted())
        }
        let assembly = network.assembly(specPath: specPath, name: name, log: &log)
        guard let assembly, !log.hasErrors else { throw ImportFailure(log.sorted()) }
        return (assembly, log.sorted())
    }

    /// The names of FANN's activation functions, by code (`FANN_ACTIVATIONFUNC_NAMES`).
    static let activationNames = [
        "FANN_LINEAR", "FANN_THRESHOLD", "FANN_THRESHOLD_SYMMETRIC", "FANN_SIGMOID", "FANN_SIGMOID_STEPWISE",
        "FANN_SIGMOID_SYMMETRIC", "FANN_SIGMOID_SYMMETRIC_STEPWISE", "FANN_GAUSSIAN", "FANN_GAUSSIAN_SYMMETRIC",
        "FANN_GAUSSIAN_STEPWISE", "FANN_ELLIOT", "FANN_ELLIOT_SYMMETRIC", "FANN_LINEAR_PIECE",
        "FANN_LINEAR_PIECE_SYMMETRIC", "FANN_SIN_SYMMETRIC", "FANN_COS_SYMMETRIC", "FANN_SIN", "FANN_COS",
    ]
}

/// A FANN network whose numbers have been read and whose structure has been checked.
private struct FANNNetwork {
    struct Neuron {
        var inputCount: Int
        var activationCode: Int
        var steepness: Double
        var position: SourcePosition
        /// The first of its connections in the connections line.
        var firstConnection = 0
    }

    struct Connection {
        var source: Int
        var weight: Double
        var position: SourcePosition
    }

    let source: FANNNetworkFile
    let isShortcut: Bool
    let isSparse: Bool
    let layerSizes: [Int]
    /// The index of each layer's first neuron, and the total after the last layer.
    let layerStarts: [Int]
    let neurons: [Neuron]
    let connections: [Connection]

    init?(_ source: FANNNetworkFile, limits: Limits, log: inout DiagnosticLog) {
        self.source = source
        let file = source.file
        guard let layersEntry = source.required("num_layers", log: &log),
              let typeEntry = source.required("network_type", log: &log),
              let rateEntry = source.required("connection_rate", log: &log),
              let sizesEntry = source.required("layer_sizes", log: &log),
              let neuronsEntry = source.required(FANNNetworkFile.neuronsKey, log: &log),
              let connectionsEntry = source.required(FANNNetworkFile.connectionsKey, log: &log),
              let layerCount = source.integer(layersEntry.value, "num_layers", log: &log),
              let type = source.integer(typeEntry.value, "network_type", log: &log),
              let rate = source.real(rateEntry.value, "connection_rate", log: &log)
        else { return nil }
        guard type <= 1 else {
            log.error("network_type must be 0 (standard) or 1 (shortcut), not \(type)", in: file, at: source.position(typeEntry.value.lowerBound))
            return nil
        }
        guard rate > 0 else {
            log.error("connection_rate must be above 0", in: file, at: source.position(rateEntry.value.lowerBound))
            return nil
        }
        isShortcut = type == 1
        // FANN's fann_run ignores the listed sources of a fully connected network and connects
        // by position; only below 1 does it follow them.
        isSparse = rate < 1

        let sizeWords = source.words(sizesEntry)
        var sizes: [Int] = []
        for word in sizeWords {
            guard let size = source.integer(word, "a layer size", log: &log) else { return nil }
            let smallest = sizes.isEmpty || !isShortcut ? 2 : 1
            guard size >= smallest else {
                let why = sizes.isEmpty ? "the input layer needs a bias neuron and at least one input"
                    : isShortcut ? "a layer needs at least one neuron" : "a layer of a standard network needs a bias neuron and at least one unit"
                log.error("layer size \(size) is too small: \(why)", in: file, at: source.position(word.lowerBound))
                return nil
            }
            sizes.append(size)
        }
        guard sizes.count == layerCount, layerCount >= 2 else {
            let message = layerCount < 2 ? "num_layers must be at least 2 (an input and an output layer), not \(layerCount)"
                : "num_layers=\(layerCount) but layer_sizes lists \(sizes.count) layers"
            log.error(message, in: file, at: source.position(layerCount < 2 ? layersEntry.value.lowerBound : sizesEntry.value.lowerBound))
            return nil
        }
        layerSizes = sizes
        var starts = [0]
        for size in sizes {
            let (total, overflow) = starts[starts.count - 1].addingReportingOverflow(size)
            guard !overflow else {
                log.error("layer_sizes add up to more neurons than can be counted", in: file, at: source.position(sizesEntry.value.lowerBound))
                return nil
            }
            starts.append(total)
        }
        layerStarts = starts
        // Every neuron but the bias neurons (the input layer's, and each layer's in a standard
        // network) is a unit.
        let unitTotal = starts[starts.count - 1] - (isShortcut ? 1 : sizes.count)
        guard unitTotal <= limits.maxUnits else {
            log.error("layer_sizes add up to \(unitTotal) units (not counting bias neurons); \(Limits.advice(limits.maxUnits, .maxUnits))",
                      in: file, at: source.position(sizesEntry.value.lowerBound))
            return nil
        }

        guard let neuronTuples = source.tuples(neuronsEntry, arity: 3, "neuron (num_inputs, activation_function, activation_steepness)", log: &log),
              let connectionTuples = source.tuples(connectionsEntry, arity: 2, "connection (connected_to_neuron, weight)", log: &log)
        else { return nil }
        guard neuronTuples.count == starts[starts.count - 1] else {
            log.error("layer_sizes add up to \(starts[starts.count - 1]) neurons (bias neurons included), but the neurons line lists \(neuronTuples.count)",
                      in: file, at: source.position(neuronsEntry.value.lowerBound))
            return nil
        }

        var neurons: [Neuron] = []
        neurons.reserveCapacity(neuronTuples.count)
        var connectionCount = 0
        for (index, tuple) in neuronTuples.enumerated() {
            let label = "neuron \(index)"
            guard let inputCount = source.integer(tuple.fields[0], "the num_inputs of \(label)", log: &log),
                  let code = source.integer(tuple.fields[1], "the activation_function of \(label)", log: &log),
                  let steepness = source.real(tuple.fields[2], "the activation_steepness of \(label)", log: &log)
            else { continue }
            var neuron = Neuron(inputCount: inputCount, activationCode: code, steepness: steepness, position: source.position(tuple.start))
            neuron.firstConnection = connectionCount
            let (sum, overflow) = connectionCount.addingReportingOverflow(inputCount)
            connectionCount = overflow ? Int.max : sum
            neurons.append(neuron)
        }
        guard !log.hasErrors else { return nil }
        guard connectionCount == connectionTuples.count else {
            log.error("the neurons' num_inputs add up to \(connectionCount) connections, but the connections line lists \(connectionTuples.count)",
                      in: file, at: source.position(connectionsEntry.value.lowerBound))
            return nil
        }
        var connections: [Connection] = []
        connections.reserveCapacity(connectionTuples.count)
        for (index, tuple) in connectionTuples.enumerated() {
            guard let neuron = source.integer(tuple.fields[0], "the connected_to_neuron of connection \(index)", log: &log),
                  let weight = source.real(tuple.fields[1], "the weight of connection \(index)", log: &log)
            else { continue }
            connections.append(Connection(source: neuron, weight: weight, position: source.position(tuple.start)))
        }
        self.neurons = neurons
        self.connections = connections
    }

    var outputLayer: Int { layerSizes.count - 1 }

    /// Whether a neuron always outputs 1: the input layer's last neuron, and in a standard
    /// network every layer's last neuron.
    func isBias(_ neuron: Int, layer: Int) -> Bool {
        (layer == 0 || !isShortcut) && neuron == layerStarts[layer + 1] - 1
    }

    /// The units of a layer: every neuron but the bias (which is always last).
    func unitCount(_ layer: Int) -> Int {
        layerSizes[layer] - (isBias(layerStarts[layer + 1] - 1, layer: layer) ? 1 : 0)
    }

    /// The layer of a neuron index below the total.
    func layer(of neuron: Int) -> Int {
        var low = 0, high = layerSizes.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if layerStarts[middle] <= neuron { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// One unit's imported inputs, with the steepness already folded in.
    struct Unit {
        var bias: Double?
        /// (source neuron, folded weight), in the file's order.
        var inputs: [(source: Int, weight: Double)] = []
        /// Whether every folded weight is the file's weight times the steepness factor exactly.
        var isExact: Bool
    }

    func assembly(specPath: String, name: String, log: inout DiagnosticLog) -> SpecAssembly? {
        let file = source.file
        var layerActivations: [Activation] = [.identity]
        var units: [[Unit]] = [[]]
        var inexactNeurons: [Int] = []
        for index in 0..<layerStarts[1] where neurons[index].inputCount > 0 {
            log.error("neuron \(index) is in the input layer but has \(neurons[index].inputCount) inputs", in: file, at: neurons[index].position)
        }
        for layer in 1..<layerSizes.count {
            var activation: (bpc: Activation, code: Int, first: Int)?
            var layerUnits: [Unit] = []
            for index in layerStarts[layer]..<layerStarts[layer + 1] {
                let neuron = neurons[index]
                if isBias(index, layer: layer) {
                    if neuron.inputCount > 0 {
                        log.error("neuron \(index) is the bias neuron of layer \(layer) but has \(neuron.inputCount) inputs", in: file, at: neuron.position)
                    }
                    continue
                }
                guard neuron.inputCount > 0 else {
                    log.error("neuron \(index) (layer \(layer)) has no inputs; FANN runs such a neuron as a constant 1, which bpc does not import", in: file, at: neuron.position)
                    continue
                }
                guard let (bpc, factor) = Self.activation(neuron, index: index, shortcut: isShortcut, file: file, log: &log) else { continue }
                if let activation, activation.bpc != bpc {
                    log.error("neuron \(index) uses \(FANNImporter.activationNames[neuron.activationCode]) but neuron \(activation.first) of the same layer uses \(FANNImporter.activationNames[activation.code]); bpc gives all units of a layer one activation",
                              in: file, at: neuron.position)
                    continue
                }
                if activation == nil { activation = (bpc, neuron.activationCode, index) }
                let k = factor * neuron.steepness
                guard let unit = unit(index, layer: layer, k: k, log: &log) else { continue }
                if !unit.isExact { inexactNeurons.append(index) }
                layerUnits.append(unit)
            }
            layerActivations.append(activation?.bpc ?? .identity)
            units.append(layerUnits)
        }
        guard !log.hasErrors else { return nil }

        for index in inexactNeurons.prefix(20) {
            let neuron = neurons[index]
            log.warning("neuron \(index): its steepness \(neuron.steepness) is folded into its weights and bias, which rounds each of them (relative error about 1e-16 per weight); only powers of two fold exactly",
                        in: file, at: neuron.position)
        }
        if inexactNeurons.count > 20 {
            log.warning("\(inexactNeurons.count - 20) more neurons have steepness folded inexactly", in: file, at: neurons[inexactNeurons[20]].position)
        }
        warnAboutClamping(activations: layerActivations, log: &log)

        let kind = isShortcut ? "shortcut" : isSparse ? "sparse" : "standard"
        let fileName = file.split(separator: "/").last.map(String.init) ?? file
        var assembly = SpecAssembly(path: specPath, name: name, description: "imported from FANN \(fileName) (\(kind), \(layerSizes.count) layers)")
        var groups = [assembly.addGroup(suggestedName: "input", role: .input, count: unitCount(0), activation: .identity, biases: nil)]
        for layer in 1..<layerSizes.count {
            let isOutput = layer == outputLayer
            let layerUnits = units[layer]
            var biases: [Double]? = nil
            if layerUnits.contains(where: { $0.bias != nil }) {
                biases = layerUnits.map { $0.bias ?? 0 }
                if layerUnits.contains(where: { $0.bias == nil }) {
                    log.warning("some neurons of layer \(layer) have no bias connection; in bpc their layer has a bias, which starts at 0 for them (and is trained)",
                                in: file, at: neurons[layerStarts[layer]].position)
                }
            }
            groups.append(assembly.addGroup(
                suggestedName: isOutput ? "output" : "hidden\(layer)", role: isOutput ? .output : .hidden,
                count: layerUnits.count, activation: layerActivations[layer], biases: biases))
            for (sourceLayer, inputs) in inputsBySourceLayer(layerUnits) {
                addEdges(into: layer, from: sourceLayer, inputs: inputs, unitCount: layerUnits.count, groups: groups, assembly: &assembly)
            }
        }
        assembly.setLoss(layerActivations[outputLayer] == .sigmoid ? .binaryCrossEntropy : .halfSquaredError)
        return assembly
    }

    /// bpc's activation for a neuron's FANN activation, and the factor that turns FANN's
    /// steepness into the factor folded into the weights.
    /// - Parameter shortcut: whether the network is a shortcut one, as cascade training makes
    ///   them (whose default candidates are the activations bpc lacks: the message says how to
    ///   train with the ones it has).
    private static func activation(_ neuron: Neuron, index: Int, shortcut: Bool, file: String, log: inout DiagnosticLog) -> (Activation, Double)? {
        guard neuron.steepness >= 0 else {
            // fann_run clamps s * sum to ±150/s, which for s < 0 makes the neuron a constant.
            log.error("neuron \(index) has a negative steepness, with which FANN's neuron outputs a constant", in: file, at: neuron.position)
            return nil
        }
        switch neuron.activationCode {
        case 0: return (.identity, 1)
        case 3: return (.sigmoid, 2)
        case 5: return (.tanh, 1)
        case let code where code < FANNImporter.activationNames.count:
            let cascade = shortcut ? "; for a network trained by cascade, limit the candidates with fann_set_cascade_activation_functions to FANN_SIGMOID and FANN_SIGMOID_SYMMETRIC" : ""
            log.error("neuron \(index) uses \(FANNImporter.activationNames[code]), which bpc has no activation for (bpc imports FANN_LINEAR, FANN_SIGMOID and FANN_SIGMOID_SYMMETRIC)\(cascade)",
                      in: file, at: neuron.position)
        case let code:
            log.error("neuron \(index) has activation_function \(code), which is not one of FANN's (0 to \(FANNImporter.activationNames.count - 1))",
                      in: file, at: neuron.position)
        }
        return nil
    }

    /// Checks a unit's connections and folds `k` into their weights.
    private func unit(_ index: Int, layer: Int, k: Double, log: inout DiagnosticLog) -> Unit? {
        let file = source.file
        let neuron = neurons[index]
        // A power of two scales exactly (unless the product leaves the normal range, which the
        // division below detects); anything else rounds.
        var unit = Unit(isExact: k == 0 || TextChecks.isPowerOfTwo(k))
        var seen: Set<Int> = []
        var valid = true
        for (j, connection) in connections[neuron.firstConnection..<(neuron.firstConnection + neuron.inputCount)].enumerated() {
            let sourceNeuron = connection.source
            let positional = (isShortcut ? 0 : layerStarts[layer - 1]) + j
            if !isSparse && sourceNeuron != positional {
                log.error("connection \(j) of neuron \(index) names neuron \(sourceNeuron), but with connection_rate=1 FANN connects it to neuron \(positional) whatever the file says",
                          in: file, at: connection.position)
                valid = false
                continue
            }
            guard sourceNeuron < layerStarts[layer] else {
                let what = sourceNeuron >= layerStarts[layerStarts.count - 1] ? "which does not exist (the network has \(layerStarts[layerStarts.count - 1]) neurons)"
                    : "which is not in an earlier layer than neuron \(index) (layer \(layer))"
                log.error("connection \(j) of neuron \(index) comes from neuron \(sourceNeuron), \(what)", in: file, at: connection.position)
                valid = false
                continue
            }
            guard seen.insert(sourceNeuron).inserted else {
                log.error("neuron \(index) is connected to neuron \(sourceNeuron) twice", in: file, at: connection.position)
                valid = false
                continue
            }
            let folded = connection.weight * k
            guard folded.isFinite else {
                log.error("the weight of connection \(j) of neuron \(index) overflows when multiplied by the steepness", in: file, at: connection.position)
                valid = false
                continue
            }
            unit.isExact = unit.isExact && (k == 0 || folded / k == connection.weight)
            if isBias(sourceNeuron, layer: self.layer(of: sourceNeuron)) {
                unit.bias = (unit.bias ?? 0) + folded
            } else {
                unit.inputs.append((sourceNeuron, folded))
            }
        }
        return valid ? unit : nil
    }

    /// One layer's inputs, bucketed by the layer they come from, earliest first: only the
    /// layers that feed it, so the work is proportional to its connections. Visiting every
    /// earlier layer instead would make a shortcut network of many small layers quadratic
    /// (200,000 one-neuron layers in a 4 MB file would be 2e10 pairs).
    private func inputsBySourceLayer(_ units: [Unit]) -> [(sourceLayer: Int, inputs: [SourceInput])] {
        var buckets: [Int: [SourceInput]] = [:]
        for (t, unit) in units.enumerated() {
            for input in unit.inputs {
                buckets[layer(of: input.source), default: []].append(SourceInput(target: t, source: input.source, weight: input.weight))
            }
        }
        return buckets.keys.sorted().map { ($0, buckets[$0] ?? []) }
    }

    /// A connection into member `target` of a layer, from neuron `source` of an earlier one.
    private struct SourceInput {
        var target: Int
        var source: Int
        var weight: Double
    }

    /// One dense entry when every unit of `layer` takes every unit of `sourceLayer`; else one
    /// entry per unit, listing the sources it has. `inputs` are that pair's connections in
    /// target order (each unit's in the file's order); a unit takes a source at most once (see
    /// `unit`), so as many connections as pairs means every pair.
    private func addEdges(into layer: Int, from sourceLayer: Int, inputs: [SourceInput], unitCount count: Int,
                          groups: [String], assembly: inout SpecAssembly) {
        let first = layerStarts[sourceLayer]
        let sourceCount = unitCount(sourceLayer)
        if inputs.count == sourceCount * count {
            var weights = [Double](repeating: 0, count: sourceCount * count)
            for input in inputs { weights[(input.source - first) * count + input.target] = input.weight }
            assembly.addEdges(from: SpecAssembly.members(of: groups[sourceLayer], count: sourceCount),
                              to: SpecAssembly.members(of: groups[layer], count: count), weights: weights)
            return
        }
        var start = 0
        while start < inputs.count {
            let target = inputs[start].target
            var end = start + 1
            while end < inputs.count && inputs[end].target == target { end += 1 }
            let run = inputs[start..<end]
            assembly.addEdges(from: run.map { SpecAssembly.Member(group: groups[sourceLayer], index: $0.source - first) },
                              to: [SpecAssembly.Member(group: groups[layer], index: target)], weights: run.map(\.weight))
            start = end
        }
    }

    /// FANN clamps steepness * sum to ±150/steepness before the activation; the spec has no
    /// such clamp, so each layer where it can show says so once.
    private func warnAboutClamping(activations: [Activation], log: inout DiagnosticLog) {
        for layer in 1..<layerSizes.count {
            let range = layerStarts[layer]..<layerStarts[layer + 1]
            guard let steepest = range.filter({ !isBias($0, layer: layer) }).max(by: { neurons[$0].steepness < neurons[$1].steepness }) else { continue }
            let s = neurons[steepest].steepness
            guard s > 0 else { continue }
            if activations[layer] == .identity {
                log.warning("FANN limits a linear neuron's output to ±150/steepness (±\(150 / s) for neuron \(steepest)); the imported units are not limited, so they differ from FANN's wherever FANN's would saturate",
                            in: source.file, at: neurons[steepest].position)
            } else if s > 8 {
                // At |steepness * sum| = 150/s, 1 - tanh and 1 - sigmoid are about e^(-300/s):
                // below binary64's resolution of 1 only while s is at most about 8.
                log.warning("FANN caps steepness * sum at ±150/steepness (±\(150 / s) for neuron \(steepest)); at that steepness the cap changes its outputs by up to \(2 * Double.exp(-300 / s)), which the imported units do not reproduce",
                            in: source.file, at: neurons[steepest].position)
            }
        }
    }
}
