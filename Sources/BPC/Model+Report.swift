extension Model {
    /// Networks with at most this many parameters have every parameter derived in the report
    /// unless keys are chosen; each derivation is a screenful, so larger networks get only the
    /// chosen ones.
    public static let reportDerivesEveryParameterUpTo = 40

    /// The samples the report's outputs table lists (the rest are counted).
    public static let reportedSamples = 50

    /// The report page of the model as it is now (what `bpc run --report` writes; call
    /// `html()` on it): the network with its current weights, the loss curve and summary of
    /// `training` (nil for an untrained model), outputs against targets on the training data,
    /// the parameter table, and derivations at the first training sample.
    ///
    /// `keys` chooses the parameters to derive; nil derives every parameter of a network of at
    /// most `reportDerivesEveryParameterUpTo` parameters and none of a larger one. The result
    /// is a plain `Report`: change its title or add derivations before writing it.
    public func report(training: TrainingResult? = nil, explaining keys: [String]? = nil) throws(ModelError) -> Report {
        var report = Report(plan: plan, description: spec?.description)
        if let training {
            report.losses = training.lossSeries
            report.summary = Report.Summary(
                epochs: training.report.epochsRun, seconds: training.seconds, runtime: training.runtime.description,
                interrupted: training.report.interrupted, training: try trainingData.flatMap(score), test: try testData.flatMap(score))
        }
        guard let data = trainingData, data.count > 0 else {
            if let keys, !keys.isEmpty { throw .noData }
            return report
        }
        var rows: [Report.Predictions.Row] = []
        for sample in 0..<min(data.count, Self.reportedSamples) {
            let input = Array(data.input(sample))
            rows.append(Report.Predictions.Row(input: input, output: try predict(input), target: Array(data.target(sample))))
        }
        report.predictions = Report.Predictions(inputNames: inputNames, outputNames: outputNames, rows: rows, sampleCount: data.count)
        let derived = keys ?? (parameterKeys.count <= Self.reportDerivesEveryParameterUpTo ? parameterKeys : [])
        let input = Array(data.input(0)), target = Array(data.target(0))
        let numbers = { (values: [Double]) in values.map { NumberText.short($0) }.joined(separator: ", ") }
        report.derivationsNote = derived.isEmpty
            ? "This network has \(parameterKeys.count) parameters, more than the \(Self.reportDerivesEveryParameterUpTo) derived by default; choose some with bpc run --report FILE --explain KEY."
            : "How backpropagation arrives at each gradient, at the \(training == nil ? "current" : "trained") parameters, for the first training sample (input \(numbers(input)); target \(numbers(target)))."
        for key in derived {
            let derivation = try explain(key, input: input, target: target)
            report.derivations.append(Report.ParameterDerivation(key: key, content: derivation.explanation.xhtml))
        }
        return report
    }

    /// Mean loss and accuracy on `data`; nil for an empty data set.
    private func score(_ data: Dataset) throws(ModelError) -> Report.Score? {
        guard data.count > 0 else { return nil }
        let evaluation = try evaluate(data)
        return Report.Score(samples: evaluation.count, loss: evaluation.meanLoss, accuracy: evaluation.accuracy)
    }
}

extension TrainingResult {
    /// The loss per epoch as the plot (`bpc run --plot`) and the report draw it: mean
    /// training loss, one value per epoch run, and the validation loss when there was
    /// validation data.
    public var lossSeries: [LossPlot.Series] {
        var series = [LossPlot.Series(name: "training", values: report.lossHistory)]
        if !validationHistory.isEmpty { series.append(LossPlot.Series(name: "validation", values: validationHistory)) }
        return series
    }
}
