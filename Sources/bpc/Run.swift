import ArgumentParser
import BPC
import Foundation

/// Set by SIGINT; the training loop checks it after each epoch and stops cleanly.
nonisolated(unsafe) private var interruptRequested: sig_atomic_t = 0

extension Precision: ExpressibleByArgument {}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile a spec, train it as its 'train' section says, and show the loss and outputs against targets.",
        discussion: """
            A plan file (JSON) trains too: give its samples with --data (and --test-data); it trains \
            with the default settings and the overrides given. Every output destination is checked \
            before training starts. Progress is a live line on a terminal and a plain line every few \
            epochs otherwise. Ctrl-C stops training after the current epoch, reports the network as \
            it is, writes nothing with --save, and exits with status 130. --plot and --report \
            are written after training, also an interrupted one (they show the network as it is \
            and say so); --json keeps standard output one JSON object.
            """
    )

    @Argument(help: "The spec (YAML) or plan (JSON).", completion: .specOrPlan)
    var spec: String
    @Option(help: "Train on this CSV file instead of the spec's data (header names input and output units).")
    var data: String?
    @Option(help: "Evaluate after training on this CSV file instead of the spec's data.test.")
    var testData: String?
    @Option(help: "Override train.epochs.")
    var epochs: Int?
    @Option(help: "Override train.learning_rate with a constant rate.")
    var learningRate: Double?
    @Option(help: "Override train.batch_size.")
    var batchSize: Int?
    @Option(help: "Override init.seed (initial parameters and shuffle).")
    var seed: UInt64?
    @Option(help: "Write the trained network to this path: a spec (YAML) with every weight filled in, or a plan when the path ends in .json (nothing is written if training fails or is interrupted).")
    var save: String?
    @Option(name: .customLong("plot"), help: ArgumentHelp("Write the training loss per epoch to this path as an SVG plot.", valueName: "file.svg"),
            completion: .file(extensions: ["svg"]))
    var plotPath: String?
    @Option(name: .customLong("report"),
            help: ArgumentHelp("Write one self-contained HTML page to this path: the network drawn with its weights, the loss curve, outputs against targets, every parameter, and derivations in MathML.",
                               valueName: "file.html"),
            completion: .file(extensions: ["html"]))
    var reportPath: String?
    @Option(name: .customLong("explain"),
            help: ArgumentHelp("A parameter (x->h, h.bias) whose gradient the report derives at the first training sample; repeat for more. Default: every parameter of a network of at most \(Model.reportDerivesEveryParameterUpTo), none of a larger one.",
                               valueName: "key"))
    var explain: [String] = []
    @Option(help: "Arithmetic of the training loop: f64 (binary64, the default) or f32 (binary32).")
    var precision: Precision?
    @Option(help: "Threads for the training loop; 0 (the default) uses 2 when the batch is large enough to pay for them.")
    var threads: Int?
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
        if let threads, threads < 0 || threads > 256 { throw ValidationError("--threads must be between 0 and 256") }
        if reference && (precision != nil || threads != nil) {
            throw ValidationError("--reference trains in binary64 on one thread; it excludes --precision and --threads")
        }
        if let learningRate, !(learningRate > 0 && learningRate.isFinite) { throw ValidationError("--learning-rate must be a positive number") }
        if !explain.isEmpty && reportPath == nil { throw ValidationError("--explain chooses the derivations of the report; give --report FILE.html too") }
    }

    func run() throws {
        if let save {
            try checkWritable(save)
            if !save.hasSuffix(".json") && ModelSource(path: spec).isPlan {
                printError("\(save): error: a plan file has no spec to write back; save to a path ending in .json")
                throw ExitCode(1)
            }
        }
        for path in [plotPath, reportPath].compactMap({ $0 }) { try checkWritable(path) }
        let overrides = TrainingOverrides(epochs: epochs, learningRate: learningRate, batchSize: batchSize, seed: seed)
        var model = try loadModel(spec, limits: limits.limits, overrides: overrides, loadsData: true)
        do {
            if let data { model.trainingData = try model.loadDataset(csvFile: data) }
            if let testData { model.testData = try model.loadDataset(csvFile: testData) }
        } catch {
            report(error)
            throw ExitCode(1)
        }
        guard let data = model.trainingData, data.count > 0 else {
            let hint = model.spec == nil ? "; give its samples with --data FILE.csv" : ""
            printError("\(spec): error: there is no 'data' to train on\(hint)")
            throw ExitCode(1)
        }
        let keys = model.parameterKeys
        let unknown = explain.filter { !keys.contains($0) }
        for key in unknown { printError("\(spec): error: --explain: \(ModelError.unknownParameter(key: key, closest: closestMatch(to: key, among: keys)))") }
        if !unknown.isEmpty { throw ExitCode(1) }
        let runtime: Runtime = reference ? .reference : .fast(precision: precision ?? .f64, threads: threads ?? 0)
        let progress = Progress(total: model.trainingSettings.epochs, samples: data.count, enabled: !quiet && !json)
        signal(SIGINT) { _ in interruptRequested = 1 }
        // A parent may have left SIGINT blocked (test runners do); Ctrl-C must reach the loop.
        var interrupt = sigset_t()
        sigemptyset(&interrupt)
        sigaddset(&interrupt, SIGINT)
        sigprocmask(SIG_UNBLOCK, &interrupt, nil)
        let clock = ContinuousClock()
        let start = clock.now
        let result: TrainingResult
        do {
            result = try model.train(runtime: runtime) { step in
                if progress.enabled { progress.update(epoch: step.epoch, loss: step.loss, elapsed: clock.now - start) }
                return interruptRequested == 0 ? .continue : .stop
            }
        } catch {
            progress.finish()
            printError("\(spec): error: \(error)")
            throw ExitCode(1)
        }
        progress.finish()
        let report = result.report
        if let save {
            if report.interrupted {
                printError("\(save): not written: training was interrupted")
            } else if save.hasSuffix(".json") {
                let plan = model.plan
                try writeAtomically(to: save) { emit in PlanJSON.write(plan, to: emit) }
            } else {
                let yaml = try reporting(spec) { () throws(ModelError) in try model.trainedSpec(writtenTo: save) }
                try writeAtomically(yaml, to: save)
            }
        }
        let trainingEvaluation = try reporting(spec) { () throws(ModelError) in try model.evaluate(data) }
        let testEvaluation = try model.testData.map { test in try reporting(spec) { () throws(ModelError) in try model.evaluate(test) } }
        // An interrupted run still reports the network as it is, then exits 130 (128 + SIGINT),
        // as shells expect of a program stopped by Ctrl-C.
        let interruption = report.interrupted ? ExitCode(130) : nil
        if let plotPath {
            try writeAtomically(LossPlot(series: result.lossSeries).document(), to: plotPath)
            if !json { printError("wrote \(plotPath)") }
        }
        if let reportPath {
            let page = try reporting(spec) { () throws(ModelError) in
                try model.report(training: result, explaining: explain.isEmpty ? nil : explain)
            }
            try writeAtomically(page.html(), to: reportPath)
            if !json { printError("wrote \(reportPath)") }
        }
        if json {
            try printJSON(model: model, data: data, result: result, training: trainingEvaluation, test: testEvaluation)
            if let interruption { throw interruption }
            return
        }
        if report.interrupted { print("interrupted after epoch \(report.epochsRun) of \(model.trainingSettings.epochs)") }
        print("trained \(report.epochsRun) epochs (\(report.updates) updates, \(data.count) samples) in \(String(format: "%.3f", result.seconds)) s, \(String(format: "%.0f", result.samplesPerSecond)) samples/s, \(result.runtime) runtime")
        print("final loss \(number(trainingEvaluation.meanLoss)) (\(model.plan.loss.name), mean over the training data)\n")
        print(try predictionTable(model: model, data: data))
        if let testEvaluation {
            print("\ntest set: \(testEvaluation.count) samples, loss \(number(testEvaluation.meanLoss)), accuracy \(String(format: "%.4f", testEvaluation.accuracy))")
        }
        if let interruption { throw interruption }
    }

    private func predictionTable(model: Model, data: Dataset) throws -> String {
        let plan = model.plan
        let shown = min(data.count, 20)
        let outputNames = plan.outputUnits.map { plan.unitNames[Int($0)] }
        var rows = [["in", "out (" + outputNames.joined(separator: ", ") + ")", "target"]]
        for sample in 0..<shown {
            let input = Array(data.input(sample))
            let outputs = try model.predict(input)
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

    private func printJSON(model: Model, data: Dataset, result: TrainingResult, training: Evaluation, test: Evaluation?) throws {
        let keys = model.parameterKeys
        let parameters = model.parameters
        var predictions: [JSONValue] = []
        for sample in 0..<data.count {
            let input = Array(data.input(sample))
            let outputs = try model.predict(input)
            predictions.append(.object([("in", .array(input.map(JSONValue.number))),
                                        ("out", .array(outputs.map(JSONValue.number))),
                                        ("target", .array(Array(data.target(sample)).map(JSONValue.number)))]))
        }
        let report = result.report
        var fields: [(String, JSONValue)] = [
            ("epochs", .integer(report.epochsRun)),
            ("final_loss", .number(training.meanLoss)),
            ("accuracy", .number(training.accuracy)),
            ("loss_history", .array(report.lossHistory.map(JSONValue.number))),
            ("train_seconds", .number(result.seconds)),
            ("samples_per_second", .number(result.samplesPerSecond)),
            ("runtime", .string(result.runtime.kind.rawValue)),
            ("kernels", result.runtime.kernels.map(JSONValue.string) ?? .null),
            ("precision", .string(result.runtime.precision.rawValue)),
            ("threads", .integer(result.runtime.threads)),
            ("parameters", .object(keys.indices.map { (keys[$0], .number(parameters[$0])) })),
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
