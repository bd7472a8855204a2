/// What a network's outputs mean, read off its loss: the loss is what training fitted the
/// outputs to, so it is also what says how to read them afterwards.
public enum LearningTask: String, Sendable, CaseIterable {
    /// Squared errors: each output estimates its target.
    case regression
    /// Binary cross-entropy: each sigmoid output is the probability that its target is 1,
    /// independently of the others (one yes/no question per output).
    case binaryClassification = "binary_classification"
    /// Softmax cross-entropy: the identity outputs are the logits of mutually exclusive classes.
    case multiclassClassification = "multiclass_classification"
}

extension Loss {
    /// The task a network trained with this loss performs.
    public var learningTask: LearningTask {
        switch self {
        case .halfSquaredError, .meanSquaredError: return .regression
        case .binaryCrossEntropy: return .binaryClassification
        case .softmaxCrossEntropy: return .multiclassClassification
        }
    }
}

/// The network's answer for one input, read as its loss says: for softmax cross-entropy the
/// class probabilities and the predicted class, for binary cross-entropy the probabilities
/// and their 0/1 decisions, for the squared errors the outputs alone.
public struct Prediction: Sendable, Equatable {
    /// The input as given (raw, before the plan's normalisation), in input-unit order.
    public var input: [Double]
    /// Each output unit's value z_o, in output order: the logits a_o for softmax
    /// cross-entropy (its outputs are identity units), probabilities for binary cross-entropy.
    public var outputs: [Double]
    /// p = softmax(a) (softmax cross-entropy) or the sigmoid outputs themselves (binary
    /// cross-entropy); nil for regression.
    public var probabilities: [Double]?
    /// The index of the largest output (the first, on a tie: the rule `Model.evaluate`
    /// counts accuracy by); softmax cross-entropy only.
    public var predictedClass: Int?
    /// The predicted class's name; softmax cross-entropy only.
    public var className: String?
    /// p_o >= 0.5 per output (the threshold `Model.evaluate` uses); binary cross-entropy only.
    public var decisions: [Bool]?

    /// Reads `outputs` computed for `input` by a network trained with `loss`; `classNames`
    /// names the classes of a softmax classifier in output order.
    ///
    /// Public so that outputs computed elsewhere (generated C or Swift, another runtime) are
    /// read exactly as `Model.prediction(for:)` reads its own.
    public init(input: [Double], outputs: [Double], loss: Loss, classNames: [String]) {
        self.input = input
        self.outputs = outputs
        switch loss.learningTask {
        case .regression:
            break
        case .binaryClassification:
            probabilities = outputs
            decisions = outputs.map { $0 >= 0.5 }
        case .multiclassClassification:
            probabilities = Prediction.softmax(outputs)
            // The argmax of the logits, not of the rounded probabilities, so that two classes
            // whose probabilities round to the same number still rank as the network ranks them.
            let best = firstLargestIndex(outputs)
            predictedClass = best
            className = classNames.indices.contains(best) ? classNames[best] : nil
        }
    }

    /// p_o = e^(a_o - max) / sum_k e^(a_k - max): the probabilities softmax cross-entropy
    /// trains, with the exponential the loss itself uses (shifted, so no logit overflows it).
    /// An infinite largest logit is the limit: its class(es) share probability 1.
    static func softmax(_ logits: [Double]) -> [Double] {
        let largest = logits.max() ?? 0
        if largest == .infinity {
            let top = logits.filter { $0 == .infinity }.count
            return logits.map { $0 == .infinity ? 1 / Double(top) : 0 }
        }
        let exponentials = logits.map { Loss.softmaxExponential(a: $0, largest: largest) }
        let sum = exponentials.reduce(0, +)
        return exponentials.map { Loss.softmaxProbability(exponential: $0, sum: sum) }
    }
}

/// How a classifier's predictions fall against the true classes: `counts[t][p]` samples of
/// true class t were predicted as class p (rows are true classes, as the issue and
/// scikit-learn write them).
public struct ConfusionMatrix: Sendable, Equatable {
    /// The output unit this matrix is about, for binary cross-entropy (one matrix per output);
    /// nil for softmax cross-entropy, whose outputs together make one choice.
    public var output: String?
    /// The row and column labels: the class names (softmax) or "0" and "1" (binary).
    public var classes: [String]
    public var counts: [[Int]]

    public init(output: String?, classes: [String]) {
        self.output = output
        self.classes = classes
        counts = Array(repeating: Array(repeating: 0, count: classes.count), count: classes.count)
    }

    /// The samples counted.
    public var samples: Int { counts.reduce(0) { $0 + $1.reduce(0, +) } }
    /// The samples on the diagonal (predicted as their true class).
    public var correct: Int { counts.indices.reduce(0) { $0 + counts[$1][$1] } }
}

/// How well a network does on a data set, in the terms of its task: the mean loss always;
/// accuracy and confusion matrices for classifiers; the mean squared and mean absolute error
/// of each output for regression.
public struct Assessment: Sendable, Equatable {
    public var samples: Int
    /// The mean loss per sample, as training reports it.
    public var meanLoss: Double
    public var task: LearningTask
    /// The fraction of samples classified right, exactly as `Model.evaluate` counts it (with
    /// several binary outputs, a sample is right only when every output is); nil for regression.
    /// It is the confusion matrix's diagonal over the samples, except for the degenerate softmax
    /// over one output (p is always 1), where `evaluate` thresholds the logit at 0.5.
    public var accuracy: Double?
    /// One matrix over all classes (softmax cross-entropy) or one 2 x 2 matrix per output
    /// (binary cross-entropy), in output order; nil for regression.
    public var confusionMatrices: [ConfusionMatrix]?
    /// mean over samples of (z_o - t_o)^2, per output in output order; nil for classifiers.
    /// Reported beside the loss because the loss sums and scales the outputs together (half
    /// squared error is half the sum), which hides which output is off and by how much.
    public var meanSquaredErrors: [Double]?
    /// mean over samples of |z_o - t_o|, per output; nil for classifiers.
    public var meanAbsoluteErrors: [Double]?
}

extension Model {
    /// The name of each class a softmax classifier tells apart, in output order: the label
    /// column's classes when the data has one (`data.label`), else the output unit's name (`y[2]`).
    public var classNames: [String] { plan.classNames ?? outputNames }

    /// The task the network's loss makes it perform.
    public var learningTask: LearningTask { plan.loss.learningTask }

    /// The outputs for one input (in input-unit order, raw: in the data's units, as `predict`
    /// takes it), read as the loss says: with the probabilities and the class or decisions of a
    /// classifier.
    public func prediction(for input: [Double]) throws(ModelError) -> Prediction {
        Prediction(input: input, outputs: try predict(input), loss: plan.loss, classNames: classNames)
    }

    /// A prediction for every sample of `data`, in order. Only the inputs are read: a data set
    /// without targets (`targetWidth` 0) is fine.
    public func predictions(on data: Dataset) throws(ModelError) -> [Prediction] {
        let inputCount = inputNames.count
        guard data.inputWidth == inputCount else { throw .wrongInputCount(expected: inputCount, given: data.inputWidth) }
        guard data.inputWidth == 0 ? data.inputs.isEmpty : data.inputs.count % data.inputWidth == 0 else {
            throw .inconsistentData(inputs: data.inputs.count, targets: data.targets.count)
        }
        let loss = plan.loss
        let names = classNames
        var predictions: [Prediction] = []
        predictions.reserveCapacity(data.count)
        for sample in 0..<data.count {
            let input = Array(data.input(sample))
            predictions.append(Prediction(input: input, outputs: try predict(input), loss: loss, classNames: names))
        }
        return predictions
    }

    /// The loss and the task's scores on `data` (default: the test set, else the training
    /// data, as `evaluate` chooses).
    ///
    /// The mean loss and accuracy are `evaluate`'s, so they agree with `bpc run` to the bit;
    /// the confusion matrices count with the same rules: the argmax of the outputs against the
    /// argmax of the targets (first on a tie) for softmax, each output and its target
    /// thresholded at 0.5 for binary cross-entropy.
    /// - Complexity: two forward passes per sample (one for `evaluate`, one here).
    public func assessment(on data: Dataset? = nil) throws(ModelError) -> Assessment {
        guard let data = data ?? testData ?? trainingData else { throw .noData }
        // First, so that the samples are known to be whole and of the network's widths.
        let evaluation = try evaluate(data)
        let loss = plan.loss
        let task = loss.learningTask
        var assessment = Assessment(samples: evaluation.count, meanLoss: evaluation.meanLoss, task: task)
        var outputs: [[Double]] = []
        outputs.reserveCapacity(data.count)
        for sample in 0..<data.count { outputs.append(try predict(Array(data.input(sample)))) }
        let targets = (0..<data.count).map { Array(data.target($0)) }
        switch task {
        case .regression:
            let width = outputNames.count
            var squared = [Double](repeating: 0, count: width)
            var absolute = [Double](repeating: 0, count: width)
            for (output, target) in zip(outputs, targets) {
                for o in 0..<width {
                    let difference = output[o] - target[o]
                    squared[o] += difference * difference
                    absolute[o] += abs(difference)
                }
            }
            let n = Double(data.count)
            assessment.meanSquaredErrors = squared.map { $0 / n }
            assessment.meanAbsoluteErrors = absolute.map { $0 / n }
        case .binaryClassification:
            assessment.accuracy = evaluation.accuracy
            assessment.confusionMatrices = outputNames.enumerated().map { o, name in
                var matrix = ConfusionMatrix(output: name, classes: ["0", "1"])
                for (output, target) in zip(outputs, targets) {
                    matrix.counts[target[o] >= 0.5 ? 1 : 0][output[o] >= 0.5 ? 1 : 0] += 1
                }
                return matrix
            }
        case .multiclassClassification:
            assessment.accuracy = evaluation.accuracy
            var matrix = ConfusionMatrix(output: nil, classes: classNames)
            for (output, target) in zip(outputs, targets) {
                matrix.counts[firstLargestIndex(target)][firstLargestIndex(output)] += 1
            }
            assessment.confusionMatrices = [matrix]
        }
        return assessment
    }
}

/// The index of the first largest value (0 for an empty array or all NaN): the argmax rule
/// `Model.evaluate` counts accuracy by, so a confusion matrix's diagonal is its right answers.
private func firstLargestIndex(_ values: [Double]) -> Int {
    var best = 0
    for index in values.indices.dropFirst() where values[index] > values[best] { best = index }
    return best
}
