import BPC
import Foundation
import Testing

/// The generated training step honours `train.freeze`: frozen parameters come out of a step
/// bit for bit as they went in, in both layouts, while the others move as the runtime moves
/// them.
@Suite("frozen parameters in generated code")
struct FrozenTrainStepTests {
    @Test("a generated C training step leaves frozen parameters as they are", arguments: EmitOptions.Layout.allCases)
    func frozenInC(layout: EmitOptions.Layout) throws {
        let folder = try temporaryFolder("frozen")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try Model(yaml: """
            bpc: 1
            name: frozen
            defaults: {activation: tanh, bias: true}
            units:
              - {name: x, role: input, count: 2}
              - {name: h, count: 2}
              - {name: y, role: output, activation: sigmoid}
            edges:
              - {from: x, to: h}
              - {from: h, to: y}
            loss: binary_cross_entropy
            train: {freeze: ["*.bias", "x[1]->*"]}
            """)
        var options = EmitOptions(prefix: "frozen")
        options.train = true
        options.layout = layout
        try model.emit(.c, options: options).write(to: folder.appendingPathComponent("frozen.h"), atomically: true, encoding: .utf8)
        let program = """
            #include <stdio.h>
            #include "frozen.h"
            int main(void) {
                double p[FROZEN_PARAMETERS];
                static const double in[] = {0.3, -0.8};
                static const double t[] = {1};
                int i;
                for (i = 0; i < FROZEN_PARAMETERS; ++i) p[i] = frozen_parameters[i];
                frozen_train_step(p, in, t, 0.5);
                for (i = 0; i < FROZEN_PARAMETERS; ++i) printf("%.17g\\n", p[i]);
                return 0;
            }
            """
        try program.write(to: folder.appendingPathComponent("main.c"), atomically: true, encoding: .utf8)
        _ = try run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "main.c", "-o", "main", "-lm"], in: folder)
        let stepped = try run(["./main"], in: folder).split(separator: "\n").compactMap { Double($0) }
        let frozen = model.trainingSettings.regularization.frozen
        #expect(stepped.count == model.parameters.count && frozen.contains(true))
        var trained = model
        var settings = model.trainingSettings
        settings.epochs = 1
        settings.learningRate = .constant(0.5)
        try trained.train(on: Dataset(inputWidth: 2, targetWidth: 1, inputs: [0.3, -0.8], targets: [1]), settings: settings, runtime: .reference)
        for (index, key) in model.parameterKeys.enumerated() {
            if frozen[index] {
                #expect(stepped[index] == model.parameters[index], "\(layout) \(key) moved")
            } else {
                #expect(abs(stepped[index] - trained.parameters[index]) <= 1e-15 * max(1, abs(stepped[index])), "\(layout) \(key)")
                #expect(stepped[index] != model.parameters[index], "\(layout) \(key) did not train")
            }
        }
    }
}
