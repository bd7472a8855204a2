// Using bpc as a library: load any spec, read gradients, train, evaluate, predict.
import BPC
import Foundation

let path = CommandLine.arguments.dropFirst().first ?? "specs/xor.yaml"
do {
    var model = try Model(contentsOf: path)
    print("\(model.name): \(model.inputNames.count) inputs, \(model.outputNames.count) outputs, \(model.parameters.count) parameters")

    // One forward and backward pass on the first sample (zeros when the spec has no data).
    let data = model.trainingData ?? Dataset(inputWidth: model.inputNames.count, targetWidth: model.outputNames.count)
    let input = data.count > 0 ? Array(data.input(0)) : [Double](repeating: 0, count: data.inputWidth)
    let target = data.count > 0 ? Array(data.target(0)) : [Double](repeating: 0, count: data.targetWidth)
    let pass = try model.gradients(input: input, target: target)
    if let key = model.parameterKeys.first {
        print("initial loss \(pass.loss), dE/d(\(key)) = \(pass[key] ?? .nan)")
    }

    if data.count > 0 {
        let result = try model.train()  // the spec's train settings, on native code (or the fast runtime)
        print("trained \(result.report.epochsRun) epochs in \(result.seconds) s on the \(result.runtime) runtime")
        let evaluation = try model.evaluate()  // on the test set, else the training data
        print("loss \(evaluation.meanLoss), accuracy \(evaluation.accuracy) on \(evaluation.count) samples")
    }
    for sample in 0..<min(4, data.count) {
        let input = Array(data.input(sample))
        print(input, "->", try model.predict(input))
    }
} catch {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    exit(1)
}
