extension Model {
    /// The network with its current parameters as Graphviz DOT text (what `bpc graph` prints):
    /// units grouped by role and ranked by depth, edges coloured and sized by their weights.
    ///
    /// With `input` and `target` (both or neither), the drawing also shows one forward and
    /// backward pass for that sample: z and delta on every unit, dE/dw on every edge, the
    /// loss in the title; the values are those `gradients(input:target:)` returns.
    public func dot(input: [Double]? = nil, target: [Double]? = nil, options: DOTOptions = DOTOptions()) throws(ModelError) -> String {
        switch (input, target) {
        case (nil, nil):
            return DOTGraph.text(for: plan, options: options)
        case (let input?, let target?):
            let pass = try gradients(input: input, target: target)
            let sample = DOTSample(loss: pass.loss, z: pass.activations, delta: pass.deltas, gradients: pass.gradients, target: target)
            return DOTGraph.text(for: plan, sample: sample, options: options)
        case (nil, _?):
            throw .invalidSetting("a drawing of a sample needs its input as well as its target")
        case (_?, nil):
            throw .invalidSetting("a drawing of a sample needs its target as well as its input")
        }
    }
}
