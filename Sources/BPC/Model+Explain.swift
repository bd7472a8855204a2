extension Model {
    /// dE/dw of one parameter (`x->h`, `h.bias`) for one sample at the current parameters,
    /// derived as the notes do: over every path (at most `maxPaths` listed, the largest
    /// first when there are more), with numbers, and in the delta form.
    public func explain(_ key: String, input: [Double], target: [Double], maxPaths: Int = 64) throws(ModelError) -> Derivation {
        let parameter = try parameterIndex(key)
        guard (1...Derivation.maxPathsLimit).contains(maxPaths) else {
            throw .invalidSetting("the number of paths to list must be between 1 and \(Derivation.maxPathsLimit), not \(maxPaths)")
        }
        let pass = try samplePass(input: input, target: target)
        do {
            return try Derivation(pass, parameter: parameter, maxPaths: maxPaths)
        } catch {
            // Both failures are ruled out above: the index comes from the key, maxPaths is in range.
            throw .invalidSetting("cannot derive \(key): \(error)")
        }
    }

    /// The backward pass of one sample written out unit by unit (`bpc grad --trace`).
    public func trace(input: [Double], target: [Double]) throws(ModelError) -> GradientTrace {
        GradientTrace(try samplePass(input: input, target: target))
    }
}
