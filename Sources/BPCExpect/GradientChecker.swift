import BPCPlan
import BPCRuntime

/// Compares every analytic gradient with a central finite difference of the mean loss.
///
/// h_p = 1e-6 max(1, |w_p|) balances truncation (O(h^2)) against rounding (O(eps / h)); a
/// parameter passes when |analytic - numeric| <= tolerance * max(1, |analytic|, |numeric|).
/// A tied parameter is one parameter: the difference moves every slot of its group together,
/// and its analytic gradient is the group's sum (what every member reports).
public struct GradientChecker: Sendable {
    public struct Row: Sendable {
        public var key: String
        public var analytic: Double
        public var numeric: Double
        public var error: Double
        public var ok: Bool
    }

    public var tolerance: Double

    public init(tolerance: Double = 1e-6) { self.tolerance = tolerance }

    public func check(_ network: Network, on data: Dataset) -> [Row] {
        var network = network
        let count = max(data.count, 1)
        network.resetGradients()
        var analytic = [Double](repeating: 0, count: network.parameters.count)
        for sample in 0..<data.count {
            let input = Array(data.input(sample)), target = Array(data.target(sample))
            network.computeGradients(input: input, target: target)
            for p in analytic.indices { analytic[p] += network.gradients[p] / Double(count) }
        }
        func meanLoss(_ network: inout Network) -> Double {
            var total = 0.0
            for sample in 0..<data.count {
                total += network.loss(input: Array(data.input(sample)), target: Array(data.target(sample)))
            }
            return total / Double(count)
        }
        let keys = network.plan.parameterKeys()
        let canonical = network.plan.canonicalParameters()
        var group: [Int: [Int]] = [:]
        for (slot, owner) in canonical.enumerated() where owner != slot { group[owner, default: [owner]].append(slot) }
        var rows: [Row] = []
        rows.reserveCapacity(keys.count)
        for p in 0..<network.parameters.count {
            let original = network.parameters[p]
            let h = 1e-6 * max(1, abs(original))
            let slots = group[canonical[p]] ?? [p]
            for slot in slots { network.parameters[slot] = original + h }
            let up = meanLoss(&network)
            for slot in slots { network.parameters[slot] = original - h }
            let down = meanLoss(&network)
            for slot in slots { network.parameters[slot] = original }
            let numeric = (up - down) / (2 * h)
            let error = abs(analytic[p] - numeric)
            let scale = max(1, abs(analytic[p]), abs(numeric))
            rows.append(Row(key: keys[p], analytic: analytic[p], numeric: numeric, error: error / scale, ok: error <= tolerance * scale))
        }
        return rows
    }
}
