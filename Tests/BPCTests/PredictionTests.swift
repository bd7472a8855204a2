import BPC
import BPCTestSupport
import Foundation
import Testing

// `Model.prediction(for:)`, `predictions(on:)` and `assessment(on:)`: outputs read as the loss
// says, checked against values computed here from the raw outputs and the targets.

private func specPath(_ name: String) -> String { packageRoot.appendingPathComponent("specs/\(name)").path }

/// The iris spec trained as its `train` section says (a few hundred milliseconds).
private func trainedIris() throws -> Model {
    var model = try Model(contentsOf: specPath("iris.yaml"))
    try model.train()
    return model
}

/// Index of the first largest value, written out again so the tests do not lean on the
/// library's own.
private func argmax(_ values: some Collection<Double>) -> Int {
    let array = Array(values)
    var best = 0
    for index in array.indices where array[index] > array[best] { best = index }
    return best
}

/// x feeds y1 with weight 2 and y2 with weight -1, identity outputs without biases, so every
/// output is known exactly: y = (2x, -x).
private let twoOutputRegression = """
    bpc: 1
    units:
      - {name: x, role: input}
      - {name: y1, role: output, activation: identity, bias: false}
      - {name: y2, role: output, activation: identity, bias: false}
    edges:
      - {from: x, to: y1, weight: 2}
      - {from: x, to: y2, weight: -1}
    loss: mean_squared_error
    data:
      samples:
        - {in: [1], out: [1, 0]}
        - {in: [2], out: [5, -1]}
        - {in: [-1], out: [0, 1]}
    """

@Suite("predictions and assessments")
struct PredictionTests {
    @Test("with binary cross-entropy the probabilities are the sigmoid outputs and the decisions are p >= 0.5")
    func binaryPredictions() throws {
        var model = try Model(contentsOf: specPath("xor.yaml"))
        try model.train()
        #expect(model.learningTask == .binaryClassification)
        let data = try #require(model.trainingData)
        for sample in 0..<data.count {
            let input = Array(data.input(sample))
            let prediction = try model.prediction(for: input)
            let outputs = try model.predict(input)
            #expect(prediction.input == input)
            #expect(prediction.outputs == outputs)
            #expect(prediction.probabilities == outputs)
            #expect(prediction.decisions == outputs.map { $0 >= 0.5 })
            // The trained network solves XOR, so each decision is the target bit.
            #expect(prediction.decisions == data.target(sample).map { $0 == 1 })
            #expect(prediction.predictedClass == nil)
            #expect(prediction.className == nil)
        }
    }

    @Test("with softmax cross-entropy the probabilities are softmax of the outputs, sum to 1, and name the most probable class")
    func softmaxPredictions() throws {
        let model = try trainedIris()
        #expect(model.learningTask == .multiclassClassification)
        let test = try #require(model.testData)
        let predictions = try model.predictions(on: test)
        #expect(predictions.count == test.count)
        for (sample, prediction) in predictions.enumerated() {
            let logits = try model.predict(Array(test.input(sample)))
            #expect(prediction.outputs == logits)
            let probabilities = try #require(prediction.probabilities)
            let exponentials = logits.map { Foundation.exp($0) }
            let total = exponentials.reduce(0, +)
            for (p, e) in zip(probabilities, exponentials) { #expect(abs(p - e / total) <= 1e-12) }
            #expect(abs(probabilities.reduce(0, +) - 1) <= 1e-12)
            let best = argmax(probabilities)
            #expect(prediction.predictedClass == best)
            #expect(prediction.className == model.classNames[best])
            #expect(prediction.decisions == nil)
        }
    }

    @Test("a softmax class is named after its output unit when nothing else names it")
    func classNamesDefaultToOutputNames() throws {
        let text = """
            bpc: 1
            units:
              - {name: x, role: input}
              - {name: c, role: output, count: 3, activation: identity, bias: false}
            edges:
              - {from: x, to: c, weight: [1, 3, 2]}
            loss: softmax_cross_entropy
            """
        let model = try Model(yaml: text)
        #expect(model.classNames == ["c[0]", "c[1]", "c[2]"])
        let prediction = try model.prediction(for: [1])
        #expect(prediction.predictedClass == 1)
        #expect(prediction.className == "c[1]")
    }

    @Test("a softmax class is named by the data's label column when it has one")
    func classNamesFromLabels() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bpc-predict-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "x,kind\n2,dog\n-1,cat\n".write(to: folder.appendingPathComponent("pets.csv"), atomically: true, encoding: .utf8)
        let text = """
            bpc: 1
            units:
              - {name: x, role: input}
              - {name: y, role: output, count: 2, activation: identity, bias: false}
            edges:
              - {from: x, to: y, weight: [-1, 1]}
            loss: softmax_cross_entropy
            data: {csv: pets.csv, label: kind}
            """
        let model = try Model(yaml: text, path: folder.appendingPathComponent("pets.yaml").path)
        #expect(model.classNames == ["cat", "dog"])
        #expect(try model.prediction(for: [2]).className == "dog")
        #expect(try model.assessment().confusionMatrices?.first?.classes == ["cat", "dog"])
    }

    @Test("softmax probabilities stay finite and exact for logits far beyond exp's range")
    func softmaxOfHugeLogits() {
        let prediction = Prediction(input: [], outputs: [1000, 999, -1000], loss: .softmaxCrossEntropy, classNames: ["a", "b", "c"])
        let probabilities = prediction.probabilities ?? []
        #expect(probabilities.count == 3)
        #expect(probabilities.allSatisfy { $0.isFinite })
        // p_0 = 1 / (1 + e^-1) once the common factor e^999 is divided out.
        #expect(abs(probabilities[0] - 1 / (1 + Foundation.exp(-1))) <= 1e-15)
        #expect(probabilities[2] == 0)
        #expect(prediction.className == "a")
        // Infinite logits are the limit: the infinite class has probability 1, not NaN.
        let infinite = Prediction(input: [], outputs: [.infinity, 3, -.infinity], loss: .softmaxCrossEntropy, classNames: ["a", "b", "c"])
        #expect(infinite.probabilities == [1, 0, 0] && infinite.className == "a")
    }

    @Test("a softmax confusion matrix has a row per true class, counts every sample, and its diagonal is evaluate's accuracy")
    func softmaxConfusionMatrix() throws {
        let model = try trainedIris()
        let test = try #require(model.testData)
        let assessment = try model.assessment()
        let evaluation = try model.evaluate(test)
        #expect(assessment.samples == 30)
        #expect(assessment.meanLoss == evaluation.meanLoss)
        #expect(assessment.accuracy == evaluation.accuracy)
        #expect(assessment.meanSquaredErrors == nil && assessment.meanAbsoluteErrors == nil)
        let matrices = try #require(assessment.confusionMatrices)
        #expect(matrices.count == 1)
        let matrix = try #require(matrices.first)
        #expect(matrix.output == nil)
        #expect(matrix.classes == model.classNames)
        #expect(matrix.samples == test.count)
        #expect(Double(matrix.correct) / Double(test.count) == evaluation.accuracy)
        // Every cell, counted again from the predictions and the one-hot targets.
        var expected = [[Int]](repeating: [0, 0, 0], count: 3)
        for (sample, prediction) in try model.predictions(on: test).enumerated() {
            expected[argmax(test.target(sample))][try #require(prediction.predictedClass)] += 1
        }
        #expect(matrix.counts == expected)
    }

    @Test("several binary outputs get one 2 x 2 matrix each, and a sample is right only when every bit is")
    func binaryConfusionMatrices() throws {
        let model = try Model(contentsOf: specPath("adder2.yaml"))
        let data = try #require(model.trainingData)
        let assessment = try model.assessment()
        let matrices = try #require(assessment.confusionMatrices)
        #expect(matrices.map(\.output) == ["s[0]", "s[1]", "s[2]"])
        var allRight = 0
        var expected = [[[Int]]](repeating: [[0, 0], [0, 0]], count: 3)
        for sample in 0..<data.count {
            let outputs = try model.predict(Array(data.input(sample)))
            let targets = Array(data.target(sample))
            for o in 0..<3 { expected[o][targets[o] >= 0.5 ? 1 : 0][outputs[o] >= 0.5 ? 1 : 0] += 1 }
            if (0..<3).allSatisfy({ (outputs[$0] >= 0.5) == (targets[$0] >= 0.5) }) { allRight += 1 }
        }
        #expect(matrices.map(\.counts) == expected)
        #expect(matrices.allSatisfy { $0.classes == ["0", "1"] && $0.samples == data.count })
        #expect(assessment.accuracy == Double(allRight) / Double(data.count))
        #expect(assessment.accuracy == (try model.evaluate(data)).accuracy)
    }

    @Test("regression reports each output's mean squared and mean absolute error beside the loss")
    func regressionErrors() throws {
        let model = try Model(yaml: twoOutputRegression)
        #expect(model.learningTask == .regression)
        let assessment = try model.assessment()
        // Outputs (2, -1), (4, -2), (-2, 1) against targets (1, 0), (5, -1), (0, 1): differences
        // (1, -1), (-1, -1), (-2, 0).
        let squared = try #require(assessment.meanSquaredErrors)
        let absolute = try #require(assessment.meanAbsoluteErrors)
        #expect(squared.count == 2 && absolute.count == 2)
        #expect(abs(squared[0] - 2) <= 1e-15 && abs(squared[1] - 2.0 / 3) <= 1e-15)
        #expect(abs(absolute[0] - 4.0 / 3) <= 1e-15 && abs(absolute[1] - 2.0 / 3) <= 1e-15)
        // mean_squared_error averages over the 2 outputs: per sample 1, 1 and 2.
        #expect(abs(assessment.meanLoss - 4.0 / 3) <= 1e-15)
        #expect(assessment.accuracy == nil && assessment.confusionMatrices == nil)
        #expect(try model.prediction(for: [3]) == Prediction(input: [3], outputs: [6, -3], loss: .meanSquaredError, classNames: []))
    }

    @Test("half squared error on note 1's case 3: the errors and the loss from the note's own outputs")
    func noteOneRegression() throws {
        let model = try Model(contentsOf: specPath("note1-case3-several-outputs.yaml"))
        let assessment = try model.assessment()
        // The spec's expect entries: y_hat for x = 0.9, -1.6, 2.3 against targets 0.2, -0.55, 0.05.
        let outputs = [-0.09943804944296243, 0.12632231048349624, -0.1799468828709676]
        let targets = [0.2, -0.55, 0.05]
        let differences = zip(outputs, targets).map { $0 - $1 }
        let squared = differences.map { $0 * $0 }.reduce(0, +) / 3
        let absolute = differences.map { abs($0) }.reduce(0, +) / 3
        #expect(abs((assessment.meanSquaredErrors?.first ?? .nan) - squared) <= 1e-12)
        #expect(abs((assessment.meanAbsoluteErrors?.first ?? .nan) - absolute) <= 1e-12)
        // Half squared error of one output is half the squared error: the mean of the note's losses.
        let noteLosses = [0.04483157272710301, 0.2287059338288674, 0.026437784471037246]
        #expect(abs(assessment.meanLoss - noteLosses.reduce(0, +) / 3) <= 1e-12)
        #expect(abs(assessment.meanLoss - squared / 2) <= 1e-12)
    }

    @Test("a model loaded from its plan predicts and assesses exactly as the spec it came from")
    func planPredictsAsSpec() throws {
        let model = try trainedIris()
        let test = try #require(model.testData)
        let fromPlan = try Model(.plan(model.plan))
        #expect(fromPlan.spec == nil)
        #expect(try fromPlan.predictions(on: test) == model.predictions(on: test))
        #expect(try fromPlan.assessment(on: test) == model.assessment(on: test))
        #expect(throws: ModelError.noData) { try fromPlan.assessment() }
    }

    @Test("predictions read only the inputs, so a data set without targets is fine")
    func predictionsWithoutTargets() throws {
        let model = try Model(contentsOf: specPath("xor.yaml"))
        let inputs = Dataset(inputWidth: 2, targetWidth: 0, inputs: [0, 0, 0, 1, 1, 0, 1, 1])
        let predictions = try model.predictions(on: inputs)
        #expect(predictions.map(\.input) == [[0, 0], [0, 1], [1, 0], [1, 1]])
        for prediction in predictions { #expect(prediction.outputs == (try model.predict(prediction.input))) }
    }

    @Test("a wrong input width, a ragged data set and missing data are typed errors, not traps")
    func misuseThrows() throws {
        let model = try Model(contentsOf: specPath("xor.yaml"))
        #expect(throws: ModelError.wrongInputCount(expected: 2, given: 1)) { try model.prediction(for: [1]) }
        #expect(throws: ModelError.wrongInputCount(expected: 2, given: 3)) {
            try model.predictions(on: Dataset(inputWidth: 3, targetWidth: 0, inputs: [0, 0, 0]))
        }
        #expect(throws: ModelError.inconsistentData(inputs: 3, targets: 0)) {
            try model.predictions(on: Dataset(inputWidth: 2, targetWidth: 0, inputs: [0, 0, 1]))
        }
        #expect(throws: ModelError.wrongTargetCount(expected: 1, given: 2)) {
            try model.assessment(on: Dataset(inputWidth: 2, targetWidth: 2, inputs: [0, 0], targets: [0, 1]))
        }
        #expect(throws: ModelError.noData) { try model.assessment(on: Dataset(inputWidth: 2, targetWidth: 1)) }
    }
}
