import BPC
import Foundation
import Testing

@Suite("saving trained specs")
struct SaveRoundTripTests {
    @Test("a spec written back with trained parameters compiles to exactly those parameters")
    func roundTrip() throws {
        let text = """
            bpc: 1
            name: "round trip"
            defaults: {activation: tanh, bias: true}
            units:
              - {name: x, role: input, count: 3}
              - {name: h, count: 4, bias: [0.1, 0.2, 0.3, 0.4]}
              - {name: g, bias: false}
              - {name: y, role: output, count: 2, activation: identity}
            edges:
              - {from: x, to: h}
              - {from: ["x[0]", h], to: g}
              - {from: [h, g], to: y}
              - {from: "x[2]", to: "y[1]", weight: 0.5}
            loss: half_squared_error
            init: {scheme: normal, scale: 0.3, seed: 11}
            data:
              samples:
                - {in: [0.1, 0.2, 0.3], out: [1, -1]}
                - {in: [-0.4, 0.5, 0.9], out: [0, 0.5]}
            train: {epochs: 7, batch_size: 2, learning_rate: 0.05, optimizer: momentum}
            expect:
              - {after: train, loss_below: 10}
            """
        var model = try Model(yaml: text, path: "dir/rt.yaml")
        let initialPlan = model.plan
        try model.train(runtime: .reference)

        let saved = try model.trainedSpec()
        var reloadLog = DiagnosticLog()
        let reloaded = try #require(SpecParser.parse(text: saved, path: "dir/rt.yaml", log: &reloadLog), "\(reloadLog.sorted())\n\(saved)")
        let plan = try #require(Compiler.compile(reloaded, log: &reloadLog)).plan
        #expect(!reloadLog.hasErrors, "\(reloadLog.sorted())")
        #expect(plan.parameterKeys() == initialPlan.parameterKeys())
        #expect(plan.parameters.map(\.bitPattern) == model.parameters.map(\.bitPattern), "\(saved)")
        #expect(reloaded.name == "round trip")
        #expect(reloaded.train.epochs == 7)
        #expect(reloaded.expectations.count == 1)
    }

    @Test("moving a saved spec to another folder keeps its CSV paths pointing at the same files")
    func relocation() {
        var spec = ModelSpec(path: "specs/iris.yaml")
        spec.data = DataSpec(training: .csv(Located("data/iris.csv", at: .startOfFile)), test: nil)
        let moved = spec.relocated(to: "/tmp/out/iris.yaml", currentDirectory: "/work")
        guard case .csv(let path)? = moved.data?.training else {
            Issue.record("the data source changed kind")
            return
        }
        #expect(path.value == "/work/specs/data/iris.csv")
        let same = spec.relocated(to: "specs/iris-trained.yaml", currentDirectory: "/work")
        guard case .csv(let kept)? = same.data?.training else { return }
        #expect(kept.value == "data/iris.csv")
    }
}
