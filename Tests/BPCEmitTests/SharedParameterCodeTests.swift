import BPC
import Foundation
import Testing

/// The generated training step sums a tied group's gradients as the runtimes do, so members
/// stay equal and every parameter moves as the reference runtime moves it.
@Suite("shared parameters in generated code")
struct SharedParameterCodeTests {
    static let yaml = """
        bpc: 1
        name: tied
        units:
          - {name: x, role: input, count: 2}
          - {name: h1, activation: tanh, bias: 0.1}
          - {name: h2, activation: sigmoid, bias: {share: h1.bias}}
          - {name: y, role: output, activation: sigmoid}
        edges:
          - {from: "x[0]", to: h1, weight: 0.3}
          - {from: "x[1]", to: h2, share: "x[0]->h1"}
          - {from: x, to: y, weight: [0.2, -0.1]}
          - {from: [h1, h2], to: y, share: "x[1]->y"}
        loss: binary_cross_entropy
        """

    @Test("a generated C training step agrees with the runtime and keeps tied parameters equal", arguments: EmitOptions.Layout.allCases)
    func tiedInC(layout: EmitOptions.Layout) throws {
        let folder = try temporaryFolder("tied")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try Model(yaml: Self.yaml)
        #expect(model.plan.sharedWith != nil)
        var options = EmitOptions(prefix: "tied")
        options.train = true
        options.layout = layout
        try model.emit(.c, options: options).write(to: folder.appendingPathComponent("tied.h"), atomically: true, encoding: .utf8)
        let program = """
            #include <stdio.h>
            #include "tied.h"
            int main(void) {
                double p[TIED_PARAMETERS];
                static const double in[] = {0.3, -0.8};
                static const double t[] = {1};
                int i;
                for (i = 0; i < TIED_PARAMETERS; ++i) p[i] = tied_parameters[i];
                tied_train_step(p, in, t, 0.5);
                for (i = 0; i < TIED_PARAMETERS; ++i) printf("%.17g\\n", p[i]);
                return 0;
            }
            """
        try program.write(to: folder.appendingPathComponent("main.c"), atomically: true, encoding: .utf8)
        _ = try run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "main.c", "-o", "main", "-lm"], in: folder)
        let stepped = try run(["./main"], in: folder).split(separator: "\n").compactMap { Double($0) }
        var trained = model
        var settings = model.trainingSettings
        settings.epochs = 1
        settings.batchSize = 1
        settings.learningRate = .constant(0.5)
        try trained.train(on: Dataset(inputWidth: 2, targetWidth: 1, inputs: [0.3, -0.8], targets: [1]), settings: settings, runtime: .reference)
        #expect(stepped.count == model.parameters.count)
        for (index, key) in model.parameterKeys.enumerated() where index < stepped.count {
            #expect(abs(stepped[index] - trained.parameters[index]) <= 1e-15 * max(1, abs(stepped[index])), "\(layout) \(key)")
        }
        for group in model.plan.sharedGroups() {
            #expect(Set(group.map { stepped[$0] }).count == 1, "\(layout): \(group)")
        }
    }

    @Test("the generated Swift training step folds the tied gradients")
    func tiedInSwift() throws {
        let model = try Model(yaml: Self.yaml)
        var options = EmitOptions(prefix: "tied")
        options.train = true
        let code = try model.emit(.swift, options: options)
        #expect(code.contains("grad[0] += grad[1];"))
        #expect(code.contains("grad[1] = grad[0];"))
    }
}
