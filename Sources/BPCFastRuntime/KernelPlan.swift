import BPCPlan

/// A plan lowered one step further, into the kernels the fast runtime executes: runs of units
/// that read the same contiguous range of source units become dense blocks (a small matrix
/// times the batch), every other unit stays a sparse gather over its fan-in.
///
/// The plan's fan-in table stays the ground truth: a block is formed only where the table says
/// the block's units read exactly the same consecutive sources, so a block's weights are a
/// row-major matrix inside the parameter slab; the tests check every kernel against the
/// reference runtime.
public struct KernelPlan: Sendable, Equatable {
    /// One kernel invocation in topological order.
    public struct Step: Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            /// One unit over its fan-in edges.
            case sparse
            /// Units `firstUnit ..< firstUnit + unitCount` all reading sources
            /// `sourceStart ..< sourceStart + sourceCount`, weights row-major from `weightStart`.
            case dense(sourceStart: Int, sourceCount: Int, weightStart: Int)
        }
        public var kind: Kind
        public var firstUnit: Int
        public var unitCount: Int
        public var activation: Activation
        /// Parameter index of the first unit's bias (the block's biases are consecutive), or -1.
        public var biasStart: Int
        /// True when every source is an input unit, so no delta flows back through the step.
        public var sourcesAreInputs: Bool
    }

    public var steps: [Step]

    /// The smallest block worth a matrix kernel: below this a per-unit gather is as fast.
    static let minimumDenseEdges = 32

    /// Lowers a verified plan. With `dense` false every unit becomes a sparse step (the right
    /// choice for one sample at a time, where there is no batch to reuse a weight over).
    public init(plan: Plan, dense: Bool) {
        let isInput = plan.roles.map { $0 == .input }
        var steps: [Step] = []
        var unit = 0
        let n = plan.unitCount
        while unit < n {
            if isInput[unit] { unit += 1; continue }
            let single = KernelPlan.sparseStep(plan: plan, unit: unit, isInput: isInput)
            guard dense, let range = KernelPlan.contiguousSources(plan: plan, unit: unit), range.upperBound <= unit else {
                steps.append(single)
                unit += 1
                continue
            }
            // Extend the block while the next unit reads the same sources the same way.
            var end = unit + 1
            while end < n, !isInput[end],
                  plan.activations[end] == plan.activations[unit],
                  KernelPlan.contiguousSources(plan: plan, unit: end) == range,
                  KernelPlan.biasContinues(plan: plan, from: unit, to: end) {
                end += 1
            }
            let count = end - unit
            if count >= 2 && count * range.count >= KernelPlan.minimumDenseEdges {
                steps.append(Step(
                    kind: .dense(sourceStart: range.lowerBound, sourceCount: range.count, weightStart: Int(plan.fanInStart[unit])),
                    firstUnit: unit, unitCount: count, activation: plan.activations[unit],
                    biasStart: Int(plan.biasParameter[unit]),
                    sourcesAreInputs: range.allSatisfy { isInput[$0] }
                ))
                unit = end
            } else {
                steps.append(single)
                unit += 1
            }
        }
        self.steps = steps
    }

    private static func sparseStep(plan: Plan, unit: Int, isInput: [Bool]) -> Step {
        let edges = Int(plan.fanInStart[unit])..<Int(plan.fanInStart[unit + 1])
        return Step(
            kind: .sparse, firstUnit: unit, unitCount: 1, activation: plan.activations[unit],
            biasStart: Int(plan.biasParameter[unit]),
            sourcesAreInputs: edges.allSatisfy { isInput[Int(plan.fanInSource[$0])] }
        )
    }

    /// The sources of `unit` when they are consecutive units in increasing order.
    private static func contiguousSources(plan: Plan, unit: Int) -> Range<Int>? {
        let first = Int(plan.fanInStart[unit]), last = Int(plan.fanInStart[unit + 1])
        guard last > first else { return nil }
        let start = Int(plan.fanInSource[first])
        for edge in first..<last where Int(plan.fanInSource[edge]) != start + (edge - first) { return nil }
        return start..<(start + last - first)
    }

    /// True when `unit`'s bias-ness matches the block's first unit and its bias parameter is
    /// the next in line, so the block's biases form one vector.
    private static func biasContinues(plan: Plan, from first: Int, to unit: Int) -> Bool {
        let firstBias = Int(plan.biasParameter[first]), bias = Int(plan.biasParameter[unit])
        if firstBias < 0 { return bias < 0 }
        return bias == firstBias + (unit - first)
    }

    /// Lanes per row for batches of up to `batchSize` samples: 1 for one sample at a time,
    /// else whole tiles.
    public static func laneWidth(batchSize: Int) -> Int {
        batchSize > 1 ? wholeTiles(batchSize) : 1
    }

    /// `count` lanes rounded up to whole 16-lane tiles: rows start on cache lines (16 binary32
    /// values are 64 bytes) and the kernels' vector loops, 16 lanes at a time or a multiple
    /// of 8, need no scalar tail. Saturates instead of overflowing, so memory estimates of
    /// absurd batch sizes stay meaningful.
    public static func wholeTiles(_ count: Int) -> Int {
        let (rounded, overflow) = count.addingReportingOverflow(15)
        return overflow ? Int.max : rounded / 16 * 16
    }

    /// The most source units any dense block reads: the size of the backward pass's
    /// transposed-sources scratch, per lane.
    public var widestDenseBlock: Int {
        steps.reduce(0) { widest, step in
            if case .dense(_, let sourceCount, _) = step.kind { return max(widest, sourceCount) }
            return widest
        }
    }

    public var denseStepCount: Int {
        steps.reduce(0) { count, step in
            if case .dense = step.kind { return count + 1 }
            return count
        }
    }
}
