import BPCExplain
import BPCPlan
import BPCRuntime
import Testing

/// Seeded property tests of `bpc explain` on random DAGs (every activation and loss, outputs
/// that feed other units, skip connections): the paths a derivation lists are the graph's
/// paths, found here by plain depth-first search, and their terms add up to the runtime's
/// gradient, which the derivation quotes exactly.
@Suite("derivations of random networks")
struct DerivationPropertyTests {
    static let seeds: Range<UInt64> = 0..<150

    /// Every path from `unit` to an output, by depth-first search over fan-out.
    static func allPaths(_ plan: Plan, from unit: Int, limit: Int) -> [[Int]]? {
        let outputs = Set(plan.outputUnits.map(Int.init))
        var paths: [[Int]] = []
        var overflow = false
        func walk(_ path: [Int]) {
            guard !overflow, let last = path.last else { return }
            if outputs.contains(last) { paths.append(path) }
            if paths.count > limit { overflow = true; return }
            for slot in Int(plan.fanOutStart[last])..<Int(plan.fanOutStart[last + 1]) { walk(path + [Int(plan.fanOutTarget[slot])]) }
        }
        walk([unit])
        return overflow ? nil : paths
    }

    /// A path's term from its definition: z_i · Π (h'(a_u) · w_{u→next}) · ∂E/∂a_o.
    static func term(_ path: [Int], _ pass: SamplePass, source: Int?) -> Double {
        let plan = pass.plan
        var value = source.map { pass.activations[$0] } ?? 1
        for (from, to) in zip(path, path.dropFirst()) {
            let edge = (Int(plan.fanInStart[to])..<Int(plan.fanInStart[to + 1])).first { Int(plan.fanInSource[$0]) == from } ?? -1
            value *= pass.slopes[from] * plan.parameters[Int(plan.fanInParameter[edge])]
        }
        return value * pass.outputTerms[path[path.count - 1]]
    }

    @Test("the listed paths are every path of the graph and their terms sum to the runtime's gradient", arguments: seeds)
    func pathsCoverTheGraph(seed: UInt64) throws {
        let generated = RandomNetworks.generate(seed: seed, samples: 1)
        let plan = try #require(compile(generated))
        let network = try Network(plan: plan)
        let sample = generated.samples[0]
        let pass = SamplePass(network: network, input: sample.input, target: sample.target)
        var runtime = network
        runtime.computeGradients(input: sample.input, target: sample.target)
        var problems: [String] = []
        for parameter in 0..<plan.parameterCount {
            let derivation = try Derivation(pass, parameter: parameter, maxPaths: 4096)
            let key = derivation.key
            if derivation.value != runtime.gradients[parameter] {
                problems.append("\(key): value \(derivation.value), runtime \(runtime.gradients[parameter])")
            }
            guard let expected = Self.allPaths(plan, from: derivation.unit, limit: 4096) else { continue }
            if derivation.pathsTotal != Double(expected.count) { problems.append("\(key): \(derivation.pathsTotal) paths counted, \(expected.count) exist") }
            if Set(derivation.paths.map(\.units)) != Set(expected) || derivation.paths.count != expected.count {
                problems.append("\(key): listed \(derivation.paths.map(\.units)), graph has \(expected)")
            }
            var sum = 0.0, scale = 0.0
            for path in derivation.paths {
                let term = Self.term(path.units, pass, source: derivation.source)
                if !closeEnough(path.value, term, relative: 1e-12) { problems.append("\(key): path \(path.units) term \(path.value), by definition \(term)") }
                sum += path.value
                scale += path.value.magnitude
            }
            if abs(sum - derivation.value) > 1e-12 * scale + 1e-300 {
                problems.append("\(key): terms sum to \(sum), value \(derivation.value)")
            }
            if !derivation.isComplete || derivation.omittedSum != derivation.value - sum { problems.append("\(key): complete listing reports omissions") }
        }
        #expect(problems.isEmpty, "seed \(seed)\n\(problems.joined(separator: "\n"))\n\(generated.yaml)")
    }

    @Test("beyond --max-paths the largest terms are listed, largest first, and the rest is accounted for", arguments: seeds)
    func truncatedListingKeepsTheLargest(seed: UInt64) throws {
        let generated = RandomNetworks.generate(seed: seed, samples: 1)
        let plan = try #require(compile(generated))
        let sample = generated.samples[0]
        let pass = SamplePass(network: try Network(plan: plan), input: sample.input, target: sample.target)
        var problems: [String] = []
        for parameter in 0..<plan.parameterCount {
            let derivation = try Derivation(pass, parameter: parameter, maxPaths: 3)
            guard let all = Self.allPaths(plan, from: derivation.unit, limit: 4096), all.count > 3 else { continue }
            let magnitudes = all.map { Self.term($0, pass, source: derivation.source).magnitude }.sorted(by: >)
            let listed = derivation.paths.map(\.value.magnitude)
            if listed.count != 3 || listed != listed.sorted(by: >) { problems.append("\(derivation.key): listed \(listed), not the 3 largest in order") }
            for (got, want) in zip(listed, magnitudes.prefix(3)) where !closeEnough(got, want, relative: 1e-12) {
                problems.append("\(derivation.key): listed magnitudes \(listed), largest are \(Array(magnitudes.prefix(3)))")
                break
            }
            let rest = all.map { Self.term($0, pass, source: derivation.source) }.reduce(0, +) - derivation.paths.reduce(0) { $0 + $1.value }
            let scale = all.map { Self.term($0, pass, source: derivation.source).magnitude }.reduce(0, +)
            if abs(rest - derivation.omittedSum) > 1e-12 * scale + 1e-300 {
                problems.append("\(derivation.key): omitted terms sum to \(rest), derivation says \(derivation.omittedSum)")
            }
        }
        #expect(problems.isEmpty, "seed \(seed)\n\(problems.joined(separator: "\n"))\n\(generated.yaml)")
    }
}
