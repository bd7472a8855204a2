/// The tied parameters of a plan as two parallel lists, for the runtimes' gradient fold.
///
/// Every slot of a tied group holds the same value; the gradient of the one parameter they
/// stand for is the sum over its uses. `fold` turns per-slot gradients into that sum in every
/// member: first g[c] += g[s] for each sharing slot s of canonical c, in increasing s, then
/// g[s] = g[c]. Every runtime and emitter folds in this order, so their sums round alike; an
/// optimiser then moves every member by the same step and they stay bit-identical.
///
/// | array | length | element |
/// |---|---|---|
/// | `members` | sharing slots | a slot whose `sharedWith` is not -1, in increasing order |
/// | `canonicals` | sharing slots | the slot it shares |
public struct ParameterSharing: Sendable, Equatable {
    public let members: [Int32]
    public let canonicals: [Int32]

    /// Nil when the plan shares nothing, so callers test once and keep their loops as they are.
    public init?(_ plan: Plan) {
        guard let table = plan.sharedWith else { return nil }
        var members: [Int32] = [], canonicals: [Int32] = []
        for (slot, canonical) in table.enumerated() where canonical >= 0 {
            members.append(Int32(slot))
            canonicals.append(canonical)
        }
        guard !members.isEmpty else { return nil }
        self.members = members
        self.canonicals = canonicals
    }

    /// Sums each group's gradients into every member (see the type's documentation).
    /// `gradients` must hold at least the plan's parameter count (a verified plan's indices).
    @inlinable
    public func fold<Scalar: FloatingPoint>(_ gradients: UnsafeMutablePointer<Scalar>) {
        for index in members.indices {
            gradients[Int(canonicals[index])] += gradients[Int(members[index])]
        }
        for index in members.indices {
            gradients[Int(members[index])] = gradients[Int(canonicals[index])]
        }
    }

    /// `fold` on an array.
    public func fold<Scalar: FloatingPoint>(_ gradients: inout [Scalar]) {
        gradients.withUnsafeMutableBufferPointer { buffer in
            if let base = buffer.baseAddress { fold(base) }
        }
    }

    /// Every member set to its canonical slot's value (after a caller changed a group).
    public func spread<Scalar>(_ values: inout [Scalar]) {
        for index in members.indices { values[Int(members[index])] = values[Int(canonicals[index])] }
    }
}
