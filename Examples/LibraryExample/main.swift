// Using bpc as a library: load a spec, read gradients, train, predict.
import BPC

do {
    var model = try Model(contentsOf: CommandLine.arguments.dropFirst().first ?? "specs/xor.yaml")
    let (loss, gradients) = model.gradients(input: [0, 1], target: [1])
    print("initial loss \(loss), dE/d(h1->y) = \(gradients["h1->y"] ?? .nan)")

    let history = try model.train()
    print("trained \(history.count) epochs, final epoch loss \(history.last ?? .nan)")
    for input in [[0.0, 0.0], [0, 1], [1, 0], [1, 1]] {
        print(input, "->", model.predict(input))
    }
} catch {
    print(error)
}
