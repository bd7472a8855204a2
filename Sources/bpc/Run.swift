import ArgumentParser
import BPC
import Foundation

/// Set by SIGINT; the training loop checks it after each epoch and stops cleanly.
nonisolated(unsafe) private var interruptRequested: sig_atomic_t = 0

extension Precision: ExpressibleByArgument {}

/// `--runtime`'s choices.
enum RuntimeChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, native, fast, reference
}

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
    @Option(help: "Train on this CSV file instead of the spec's data, read as its data files are (a header naming input and output units, or the data's columns and label).")
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
    @Option(help: ArgumentHelp("Save the whole training state to this file every --checkpoint-every epochs, at the end, and when Ctrl-C stops the run (written to a temporary file renamed into place: a killed run leaves the previous checkpoint whole).", valueName: "file"))
    var checkpoint: String?
    @Option(help: "Epochs between checkpoints.")
    var checkpointEvery: Int?
    @Option(help: ArgumentHelp("Continue the run saved in this checkpoint (same spec, settings but epochs, data and runtime); the result is bit-identical to a run that never stopped.", valueName: "file"))
    var resume: String?
    @Option(help: "Arithmetic of the training loop: f64 (binary64, the default) or f32 (binary32).")
    var precision: Precision?
    @Option(help: "Threads for the training loop; 0 (the default) uses 2 when the batch is large enough to pay for them.")
    var threads: Int?
    @Option(help: ArgumentHelp("The runtime that trains: auto (the default: native for a network of at most 512 edges trained online with plain SGD when a C compiler is there, otherwise fast), native (the network's generated C step, compiled and loaded), fast (batched vector kernels) or reference (binary64, one sample at a time).", valueName: "name"))
    var runtime: RuntimeChoice?
    @Flag(help: "Train with the reference runtime: the same as --runtime reference.")
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
        if reference && runtime != nil && runtime != .reference {
            throw ValidationError("--reference is --runtime reference; give one runtime")
        }
        if (reference || runtime == .reference) && (precision != nil || threads != nil) {
            throw ValidationError("the reference runtime trains in binary64 on one thread; it excludes --precision and --threads")
        }
        if runtime == .native, let threads, threads > 1 {
            throw ValidationError("the native runtime trains on one thread; --threads \(threads) needs --runtime fast")
        }
        if let learningRate, !(learningRate > 0 && learningRate.isFinite) { throw ValidationError("--learning-rate must be a positive number") }
        if !explain.isEmpty && reportPath == nil { throw ValidationError("--explain chooses the derivations of the report; give --report FILE.html too") }
        if let checkpointEvery {
            if checkpointEvery < 1 { throw ValidationError("--checkpoint-every must be at least 1") }
            if checkpoint == nil { throw ValidationError("--checkpoint-every says how often to write --checkpoint FILE; give the file too") }
        }
        if let plotPath, !plotPath.lowercased().hasSuffix(".svg") { throw ValidationError("--plot writes SVG; name the file .svg") }
        if let reportPath, ![".html", ".htm", ".xhtml"].contains(where: reportPath.lowercased().hasSuffix) {
            throw ValidationError("--report writes an HTML page; name the file .html")
        }
        let outputs = [save, plotPath, reportPath, checkpoint].compactMap { $0 }
        if Set(outputs).count < outputs.count { throw ValidationError("--save, --plot, --report and --checkpoint must name different files") }
    }

    func run() throws {
        // No output replaces an input: not the spec (whose comments the saved spec would lose),
        // its data files, or the checkpoint resumed from (which --checkpoint may update).
        let inputs = [spec] + [data, testData].compactMap { $0 }
        if let save {
            try checkWritable(save, besides: inputs + (resume.map { [$0] } ?? []))
            if !save.hasSuffix(".json") && ModelSource(path: spec).isPlan {
                printError("\(save): error: a plan file has no spec to write back; save to a path ending in .json")
                throw ExitCode(1)
            }
        }
        for path in [plotPath, reportPath, checkpoint].compactMap({ $0 }) { try checkWritable(path, besides: inputs) }
        let resumed = try resume.map(readCheckpoint)
        let overrides = TrainingOverrides(epochs: epochs, learningRate: learningRate, batchSize: batchSize, seed: seed)
        var model = try loadModel(spec, limits: limits.limits, overrides: overrides, loadsData: true)
        let clock = ContinuousClock()
        var dataSeconds: Double?
        do {
            let loading = clock.now
            if let data { model.trainingData = try model.loadDataset(csvFile: data) }
            if let testData { model.testData = try model.loadDataset(csvFile: testData) }
            if data != nil || testData != nil { dataSeconds = (clock.now - loading).seconds }
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
        // No runtime option: the default, or the checkpoint's runtime when resuming.
        let runtime: Runtime
        switch reference ? .reference : self.runtime ?? .auto {
        case .reference: runtime = .reference
        case .native: runtime = .native(precision: precision ?? .f64)
        case .fast: runtime = .fast(precision: precision ?? .f64, threads: threads ?? 0)
        case .auto: runtime = precision == nil && threads == nil ? .automatic : .best(precision: precision ?? .f64, threads: threads ?? 0)
        }
        var checkpointFailure: String?
        let checkpoints = checkpoint.map { path in
            CheckpointPolicy(every: checkpointEvery ?? 1) { state in
                guard checkpointFailure == nil else { return }
                do { try writeAtomically(bytes: state.bytes, to: path) } catch {
                    checkpointFailure = "\(path): error: cannot write the checkpoint"
                }
            }
        }
        let progress = Progress(total: model.trainingSettings.epochs, samples: data.count, enabled: !quiet && !json)
        signal(SIGINT) { _ in interruptRequested = 1 }
        // A parent may have left SIGINT blocked (test runners do); Ctrl-C must reach the loop.
        var interrupt = sigset_t()
        sigemptyset(&interrupt)
        sigaddset(&interrupt, SIGINT)
        sigprocmask(SIG_UNBLOCK, &interrupt, nil)
        let start = clock.now
        let result: TrainingResult
        do {
            result = try model.train(runtime: runtime, resume: resumed, checkpoints: checkpoints) { step in
                if progress.enabled {
                    progress.update(epoch: step.epoch, loss: step.loss, validationLoss: step.validationLoss, elapsed: clock.now - start)
                }
                // Without checkpoints the failure is never set: not reading it spares every epoch
                // a dynamic exclusivity check (an epoch can be four samples long).
                return interruptRequested == 0 && (checkpoints == nil || checkpointFailure == nil) ? .continue : .stop
            }
        } catch {
            progress.finish()
            // A checkpoint that does not fit is the checkpoint's problem: name its file.
            if case .invalidCheckpoint = error, let resume { printError("\(resume): error: \(error)") } else { printError("\(spec): error: \(error)") }
            throw ExitCode(1)
        }
        progress.finish()
        if let note = result.runtime.note, !json, !quiet { printError("note: \(note)") }
        if let checkpointFailure {
            printError(checkpointFailure)
            throw ExitCode(1)
        }
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
            try printJSON(model: model, data: data, result: result, training: trainingEvaluation, test: testEvaluation, dataSeconds: dataSeconds)
            if let interruption { throw interruption }
            return
        }
        if report.interrupted {
            print("interrupted after epoch \(report.epochsRun) of \(model.trainingSettings.epochs)")
            if let checkpoint { print("checkpoint saved in \(checkpoint); continue with: bpc run \(spec) --resume \(checkpoint)") }
        }
        if result.resumedAt > 0 { print("resumed after epoch \(result.resumedAt)") }
        if result.stoppedEarly, let best = result.bestEpoch {
            let restored = model.trainingSettings.earlyStopping?.restoreBest == true ? "; parameters of epoch \(best + 1) restored" : ""
            print("stopped early after epoch \(report.epochsRun): no improvement since epoch \(best + 1)\(restored)")
        }
        print("trained \(report.epochsRun) epochs (\(report.updates) updates, \(data.count) samples) in \(String(format: "%.3f", result.seconds)) s, \(String(format: "%.0f", result.samplesPerSecond)) samples/s, \(result.runtime) runtime")
        print("final loss \(number(trainingEvaluation.meanLoss)) (\(model.plan.loss.name), mean over the training data)")
        if let validation = model.validationData, validation.count > 0 {
            let evaluation = try reporting(spec) { () throws(ModelError) in try model.evaluate(validation) }
            print("validation loss \(number(evaluation.meanLoss)) (\(validation.count) samples)")
        }
        print("")
        print(try predictionTable(model: model, data: data))
        if let testEvaluation {
            print("\ntest set: \(testEvaluation.count) samples, loss \(number(testEvaluation.meanLoss)), accuracy \(String(format: "%.4f", testEvaluation.accuracy))")
        }
        if let interruption { throw interruption }
    }

    /// A checkpoint file's contents, or an error naming the file (exit status 1).
    private func readCheckpoint(_ path: String) throws -> Checkpoint {
        guard let bytes = FileManager.default.contents(atPath: path) else {
            let reason = access(path, F_OK) != 0 ? "no such file" : (access(path, R_OK) != 0 ? "permission denied" : "not a readable file")
            printError("\(path): error: cannot read the checkpoint: \(reason)")
            throw ExitCode(1)
        }
        do {
            return try Checkpoint(bytes: Array(bytes))
        } catch {
            printError("\(path): error: \(error)")
            throw ExitCode(1)
        }
    }

    private func predictionTable(model: Model, data: Dataset) throws -> String {
        let plan = model.plan
        let shown = min(data.count, 20)
        let outputNames = plan.outputUnits.map { plan.unitNames[Int($0)] }
        // With a label column, the classes by name: the largest output's against the target's.
        let classes = plan.classNames
        var rows = [["in", "out (" + outputNames.joined(separator: ", ") + ")"] + (classes == nil ? ["target"] : ["class", "target"])]
        for sample in 0..<shown {
            let input = Array(data.input(sample))
            let outputs = try model.predict(input)
            let target = Array(data.target(sample))
            if let classes {
                rows.append([brief(input), brief(outputs), classes[largest(outputs)], classes[largest(target)]])
            } else {
                rows.append([brief(input), brief(outputs), brief(target)])
            }
        }
        var text = table(rows)
        if data.count > shown { text += "\n... \(data.count - shown) more samples" }
        return text
    }

    /// The index of the first largest value: the class a sample is counted as.
    private func largest(_ values: [Double]) -> Int {
        values.indices.reduce(0) { values[$1] > values[$0] ? $1 : $0 }
    }

    private func brief(_ values: [Double]) -> String {
        let shown = values.prefix(6).map { String(format: "%.4g", $0) }.joined(separator: " ")
        return values.count > 6 ? shown + " ..." : shown
    }

    private func printJSON(model: Model, data: Dataset, result: TrainingResult, training: Evaluation, test: Evaluation?, dataSeconds: Double?) throws {
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
            ("data_seconds", dataSeconds.map(JSONValue.number) ?? .null),
            ("samples_per_second", .number(result.samplesPerSecond)),
            ("runtime", .string(result.runtime.kind.rawValue)),
            ("kernels", result.runtime.kernels.map(JSONValue.string) ?? .null),
            ("precision", .string(result.runtime.precision.rawValue)),
            ("threads", .integer(result.runtime.threads)),
            ("compiler", result.runtime.compiler.map(JSONValue.string) ?? .null),
            ("parameters", .object(keys.indices.map { (keys[$0], .number(parameters[$0])) })),
            ("predictions", .array(predictions)),
        ]
        if let test {
            fields.append(("test", .object([("samples", .integer(test.count)), ("loss", .number(test.meanLoss)), ("accuracy", .number(test.accuracy))])))
        }
        if let note = result.runtime.note { fields.append(("runtime_note", .string(note))) }
        if report.interrupted { fields.append(("interrupted", .bool(true))) }
        if !result.validationHistory.isEmpty { fields.append(("validation_history", .array(result.validationHistory.map(JSONValue.number)))) }
        if result.stoppedEarly {
            fields.append(("stopped_early", .bool(true)))
            if let best = result.bestEpoch { fields.append(("best_epoch", .integer(best + 1))) }
        }
        if result.resumedAt > 0 { fields.append(("resumed_after_epoch", .integer(result.resumedAt))) }
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
    /// The first epoch this process trained (a resumed run starts past 0), for the rate.
    private var first: Int?

    init(total: Int, samples: Int, enabled: Bool) {
        self.total = total
        self.samples = samples
        self.enabled = enabled
    }

    func update(epoch: Int, loss: Double, validationLoss: Double?, elapsed: Duration) {
        guard enabled else { return }
        let seconds = elapsed.seconds
        let done = epoch + 1
        if first == nil { first = epoch }
        let run = done - (first ?? 0)
        let rate = seconds > 0 ? Double(run * samples) / seconds : 0
        let left = run > 0 ? seconds / Double(run) * Double(total - done) : 0
        let validation = validationLoss.map { "  validation \(String(format: "%.6g", $0))" } ?? ""
        let line = "epoch \(done)/\(total)  loss \(String(format: "%.6g", loss))\(validation)  \(String(format: "%.0f", rate)) samples/s  \(String(format: "%.1f", left)) s left"
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
