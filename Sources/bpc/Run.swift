import ArgumentParser
import BPCCompiler
import BPCEmit
import BPCFastRuntime
import BPCPlan
import BPCRuntime
import BPCSpec
import CPUFeatures
import Foundation

/// Set by SIGINT; the training loop checks it after each epoch and stops cleanly.
nonisolated(unsafe) private var interruptRequested: sig_atomic_t = 0

extension Precision: ExpressibleByArgument {}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile a spec, train it as its 'train' section says, and show the loss and outputs against targets.",
        discussion: """
            Progress is a live line on a terminal and a plain line every few epochs otherwise. \
            Ctrl-C stops training after the current epoch, reports the network as it is, writes \
            nothing with --save, and exits with status 130.
            """
    )

    @Argument(help: "The spec (YAML).")
    var spec: String
    @Option(help: "Override train.epochs.")
    var epochs: Int?
    @Option(help: "Override train.learning_rate with a constant rate.")
    var learningRate: Double?
    @Option(help: "Override train.batch_size.")
    var batchSize: Int?
    @Option(help: "Override init.seed (initial parameters and shuffle).")
    var seed: UInt64?
    @Option(help: "Write the spec back with the trained parameters to this path (nothing is written if training fails or is interrupted).")
    var save: String?
    @Option(help: "Arithmetic of the training loop: f64 (binary64, the default) or f32 (binary32).")
    var precision: Precision = .f64
    @Option(help: "Threads for the training loop; 0 (the default) uses 2 when the batch is large enough to pay for them.")
    var threads: Int = 0
    @Flag(help: "Train with the reference runtime (binary64, one sample at a time) instead of the batched kernels.")
    var reference = false
    @Flag(help: "Print one JSON object.")
    var json = false
    @Flag(help: "No progress output.")
    var quiet = false
    @OptionGroup var limits: LimitOptions

    func validate() throws {
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if threads < 0 || threads > 256 { throw ValidationError("--threads must be between 0 and 256") }
        if let learningRate, !(learningRate > 0 && learningRate.isFinite) { throw ValidationError("--learning-rate must be a positive number") }
    }

    func run() throws {
        let overrides = TrainingOverrides(epochs: epochs, learningRate: learningRate, batchSize: batchSize, seed: seed)
        let model = try loadModel(spec, limits: limits.limits, overrides: overrides)
        guard let data = model.training, data.count > 0 else {
            printError("\(spec): error: the spec has no 'data' to train on")
            throw ExitCode(1)
        }
        var network = try Network(plan: model.plan)
        let settings = model.trainingSettings
        let useKernels = !reference && bpc_cpu_runs_fast_runtime() != 0
        let trainer = FastTrainer(settings: settings, precision: precision, threads: threads)
        let threadsUsed = useKernels ? trainer.threadCount(for: model.plan, samples: data.count) : 1
        if useKernels {
            let needed = trainer.memoryNeeded(for: model.plan, samples: data.count)
            let available = ProcessInfo.processInfo.physicalMemory
            if UInt64(needed) > available {
                printError("\(spec): error: training batches of \(trainer.batchCapacity(samples: data.count)) samples needs \(needed) bytes of buffers; this machine has \(available); lower --batch-size")
                throw ExitCode(1)
            }
        }
        if !useKernels && !reference {
            printError("note: this CPU lacks AVX2/FMA; training with the reference runtime in binary64")
        }
        let progress = Progress(total: settings.epochs, samples: data.count, enabled: !quiet && !json)
        signal(SIGINT) { _ in interruptRequested = 1 }
        // A parent may have left SIGINT blocked (test runners do); Ctrl-C must reach the loop.
        var interrupt = sigset_t()
        sigemptyset(&interrupt)
        sigaddset(&interrupt, SIGINT)
        sigprocmask(SIG_UNBLOCK, &interrupt, nil)
        let clock = ContinuousClock()
        let start = clock.now
        let report: TrainingReport
        do {
            let shouldContinue = { (epoch: Int, loss: Double) -> Bool in
                if progress.enabled { progress.update(epoch: epoch, loss: loss, elapsed: clock.now - start) }
                return interruptRequested == 0
            }
            if useKernels {
                let trained = try trainer
                    .train(plan: model.plan, parameters: network.parameters, on: data, shouldContinue: shouldContinue)
                network.parameters = trained.parameters
                report = trained.report
            } else {
                var trainer = Trainer(settings: settings)
                report = try trainer.train(&network, on: data, shouldContinue: shouldContinue)
            }
        } catch {
            progress.finish()
            printError("\(spec): error: \(error)")
            throw ExitCode(1)
        }
        let seconds = (clock.now - start).seconds
        progress.finish()
        if let save {
            if report.interrupted {
                printError("\(save): not written: training was interrupted")
            } else {
                let trained = model.spec.withParameters(network.parameters, of: model.plan)
                    .relocated(to: save, currentDirectory: FileManager.default.currentDirectoryPath)
                try writeAtomically(SpecWriter.yaml(trained), to: save)
            }
        }
        let trainingEvaluation = network.evaluate(data)
        let finalLoss = trainingEvaluation.meanLoss
        let samplesPerSecond = seconds > 0 ? Double(report.epochsRun * data.count) / seconds : 0
        let testEvaluation = model.test.map { network.evaluate($0) }
        // An interrupted run still reports the network as it is, then exits 130 (128 + SIGINT),
        // as shells expect of a program stopped by Ctrl-C.
        let interruption = report.interrupted ? ExitCode(130) : nil
        if json {
            printJSON(model: model, network: &network, data: data, report: report, training: trainingEvaluation,
                      precision: useKernels ? precision : .f64, threads: threadsUsed, seconds: seconds, samplesPerSecond: samplesPerSecond, test: testEvaluation)
            if let interruption { throw interruption }
            return
        }
        if report.interrupted { print("interrupted after epoch \(report.epochsRun) of \(settings.epochs)") }
        print("trained \(report.epochsRun) epochs (\(report.updates) updates, \(data.count) samples) in \(String(format: "%.3f", seconds)) s, \(String(format: "%.0f", samplesPerSecond)) samples/s")
        print("final loss \(number(finalLoss)) (\(model.plan.loss.name), mean over the training data)\n")
        print(predictionTable(model: model, network: &network, data: data))
        if let testEvaluation {
            print("\ntest set: \(testEvaluation.count) samples, loss \(number(testEvaluation.meanLoss)), accuracy \(String(format: "%.4f", testEvaluation.accuracy))")
        }
        if let interruption { throw interruption }
    }

    private func predictionTable(model: LoadedModel, network: inout Network, data: Dataset) -> String {
        let plan = model.plan
        let shown = min(data.count, 20)
        let outputNames = plan.outputUnits.map { plan.unitNames[Int($0)] }
        var rows = [["in", "out (" + outputNames.joined(separator: ", ") + ")", "target"]]
        for sample in 0..<shown {
            let input = Array(data.input(sample))
            let outputs = network.predict(input)
            rows.append([brief(input), brief(outputs), brief(Array(data.target(sample)))])
        }
        var text = table(rows)
        if data.count > shown { text += "\n... \(data.count - shown) more samples" }
        return text
    }

    private func brief(_ values: [Double]) -> String {
        let shown = values.prefix(6).map { String(format: "%.4g", $0) }.joined(separator: " ")
        return values.count > 6 ? shown + " ..." : shown
    }

    private func printJSON(
        model: LoadedModel, network: inout Network, data: Dataset, report: TrainingReport, training: Evaluation, precision: Precision, threads: Int,
        seconds: Double, samplesPerSecond: Double, test: Evaluation?
    ) {
        let keys = model.plan.parameterKeys()
        var predictions: [JSONValue] = []
        for sample in 0..<data.count {
            let input = Array(data.input(sample))
            let outputs = network.predict(input)
            predictions.append(.object([("in", .array(input.map(JSONValue.number))),
                                        ("out", .array(outputs.map(JSONValue.number))),
                                        ("target", .array(Array(data.target(sample)).map(JSONValue.number)))]))
        }
        var fields: [(String, JSONValue)] = [
            ("epochs", .integer(report.epochsRun)),
            ("final_loss", .number(training.meanLoss)),
            ("accuracy", .number(training.accuracy)),
            ("loss_history", .array(report.lossHistory.map(JSONValue.number))),
            ("train_seconds", .number(seconds)),
            ("samples_per_second", .number(samplesPerSecond)),
            ("precision", .string(precision.rawValue)),
            ("threads", .integer(threads)),
            ("parameters", .object(keys.indices.map { (keys[$0], .number(network.parameters[$0])) })),
            ("predictions", .array(predictions)),
        ]
        if let test {
            fields.append(("test", .object([("samples", .integer(test.count)), ("loss", .number(test.meanLoss)), ("accuracy", .number(test.accuracy))])))
        }
        if report.interrupted { fields.append(("interrupted", .bool(true))) }
        print(JSONValue.object(fields).serialized())
    }
}

/// Training progress on standard error: a line redrawn in place on a terminal, a plain line
/// every tenth of the run otherwise.
final class Progress {
    let total: Int
    let samples: Int
    let enabled: Bool
    let isTerminal = isatty(STDERR_FILENO) == 1
    private var lastDraw = -Double.infinity
    private var drewLine = false

    init(total: Int, samples: Int, enabled: Bool) {
        self.total = total
        self.samples = samples
        self.enabled = enabled
    }

    func update(epoch: Int, loss: Double, elapsed: Duration) {
        guard enabled else { return }
        let seconds = elapsed.seconds
        let done = epoch + 1
        let rate = seconds > 0 ? Double(done * samples) / seconds : 0
        let left = done > 0 ? seconds / Double(done) * Double(total - done) : 0
        let line = "epoch \(done)/\(total)  loss \(String(format: "%.6g", loss))  \(String(format: "%.0f", rate)) samples/s  \(String(format: "%.1f", left)) s left"
        if isTerminal {
            guard seconds - lastDraw >= 0.1 || done == total else { return }
            lastDraw = seconds
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
            drewLine = true
        } else if done == 1 || done == total || done % max(1, total / 10) == 0 {
            printError(line)
        }
    }

    func finish() {
        if drewLine { FileHandle.standardError.write(Data("\n".utf8)) }
        drewLine = false
    }
}

extension Duration {
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) * 1e-18
    }
}
