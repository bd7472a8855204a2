// Heap allocations of bpc's training loop.
//
// Every case is registered twice, with 1 and with 11 epochs. Loading and compiling the spec
// happen in `setup`, outside the measured region; what is measured is one whole training run
// (set-up of the trainer's buffers included). A training step that allocates nothing gives the
// same count for both; otherwise
//
//     allocations per step = (mallocs(11 epochs) - mallocs(1 epoch)) / (10 * batches per epoch)
//
// `run` beside Package.swift computes that column.

import BPC
import Benchmark

/// benchmarks/malloc, found from this file's path at compile time so that the benchmark reads
/// the same specs whatever directory the benchmark tool starts it in.
let packageDirectory: String = {
    var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3) // Benchmarks/TrainingAllocations/TrainingAllocations.swift
    return parts.joined(separator: "/")
}()

/// A spec path relative to benchmarks/malloc.
func specPath(_ relative: String) -> String { packageDirectory + "/" + relative }

enum Runtime {
    case fast(Precision, threads: Int)
    case reference
}

/// What the measured closure needs, prepared once by `setup`.
struct Prepared {
    var plan: Plan
    var parameters: [Double]
    var data: Dataset
    var settings: TrainingSettings
}

struct NoTrainingData: Error {
    var spec: String
}

func prepare(spec: String, batchSize: Int, epochs: Int) throws -> Prepared {
    let model = try Model(contentsOf: specPath(spec))
    guard let data = model.trainingData, data.count > 0 else {
        throw NoTrainingData(spec: spec)
    }
    var settings = model.trainingSettings
    settings.epochs = epochs
    settings.batchSize = batchSize
    return Prepared(plan: model.plan, parameters: model.parameters,
                    data: data, settings: settings)
}

/// Training steps (optimizer updates) of a run, recorded next to the counts so that `run` can
/// divide by them.
let updates = BenchmarkMetric.custom("updates", useScalingFactor: false)

func configuration() -> Benchmark.Configuration {
    Benchmark.Configuration(
        metrics: [.mallocCountTotal, .wallClock, updates],
        timeUnits: .microseconds,
        // Exact counts (no automatic K / M scaling) in every export.
        units: [.mallocCountTotal: .count, updates: .count],
        warmupIterations: 1,
        maxDuration: .seconds(2),
        maxIterations: 25
    )
}

/// Registers `name.e1` and `name.e11`: the same run with 1 and with 11 epochs.
func register(_ name: String, spec: String, batchSize: Int, runtime: Runtime) {
    for epochs in [1, 11] {
        Benchmark(
            "\(name).e\(epochs)",
            configuration: configuration(),
            closure: { (benchmark: Benchmark, prepared: Prepared) throws in
                switch runtime {
                case .fast(let precision, let threads):
                    let trainer = FastTrainer(settings: prepared.settings, precision: precision, threads: threads)
                    for _ in benchmark.scaledIterations {
                        benchmark.startMeasurement()
                        let result = try trainer.train(plan: prepared.plan, parameters: prepared.parameters, on: prepared.data)
                        benchmark.stopMeasurement()
                        benchmark.measurement(updates, result.report.updates)
                        blackHole(result)
                    }
                case .reference:
                    for _ in benchmark.scaledIterations {
                        // A fresh network (the spec's initial parameters) made outside the
                        // measured region, so that its buffers are uniquely owned and training
                        // writes them without copy-on-write copies.
                        var network = try Network(plan: prepared.plan)
                        var trainer = Trainer(settings: prepared.settings)
                        benchmark.startMeasurement()
                        let report = try trainer.train(&network, on: prepared.data)
                        benchmark.stopMeasurement()
                        benchmark.measurement(updates, report.updates)
                        blackHole(report)
                        blackHole(network)
                    }
                }
            },
            setup: { try prepare(spec: spec, batchSize: batchSize, epochs: epochs) }
        )
    }
}

let benchmarks: @Sendable () -> Void = {
    register("xor.f64.b1.t1", spec: "../../specs/xor.yaml", batchSize: 1, runtime: .fast(.f64, threads: 1))
    register("xor.reference.b1", spec: "../../specs/xor.yaml", batchSize: 1, runtime: .reference)
    register("w2-digits.f32.b32.t1", spec: "../generated/w2-digits.yaml", batchSize: 32, runtime: .fast(.f32, threads: 1))
    register("w3-dag.f32.b1.t1", spec: "../generated/w3-dag.yaml", batchSize: 1, runtime: .fast(.f32, threads: 1))
    register("w3-dag.f32.b64.t1", spec: "../generated/w3-dag.yaml", batchSize: 64, runtime: .fast(.f32, threads: 1))
    register("w3-dag.f32.b64.t2", spec: "../generated/w3-dag.yaml", batchSize: 64, runtime: .fast(.f32, threads: 2))
}
