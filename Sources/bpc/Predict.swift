import ArgumentParser
import BPC

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The network's outputs for given inputs; for a classifier also the probabilities and the predicted class.",
        discussion: """
            Give the samples with --input (repeat it for several) or --csv. With softmax \
            cross-entropy the outputs are the logits a; the probabilities are p = softmax(a) and \
            the class is the most probable one. With binary cross-entropy the outputs are the \
            probabilities and each decision is p >= 0.5. With a squared error the outputs are the \
            prediction. The network's parameters are used as they are in the file: predict on a \
            network saved by bpc run --save. Of a spec's data, only what the network depends on is \
            read (a label column's class names, the normalisation's statistics).
            """
    )

    @Argument(help: "The spec (YAML) or plan (JSON), typically written by bpc run --save.", completion: .specOrPlan)
    var spec: String
    @Option(parsing: .unconditionalSingleValue,
            help: ArgumentHelp("A sample's inputs, comma-separated, in input-unit order; repeat for more samples.", valueName: "a,b,..."))
    var input: [String] = []
    @Option(help: ArgumentHelp("Predict every row of this CSV file, read as a data file is (its header names the input units; target and label columns may be there or not and are not read).",
                               valueName: "file.csv"),
            completion: .file(extensions: ["csv"]))
    var csv: String?
    @Option(name: .shortAndLong,
            help: ArgumentHelp("Write the predictions to this CSV file: the inputs, the outputs, then p(class) and class (softmax) or decision(output) (binary) columns.",
                               valueName: "out.csv"),
            completion: .file(extensions: ["csv"]))
    var output: String?
    @Flag(help: "Print one JSON object: predictions, each with input, outputs and, for a classifier, probabilities and class and class_index, or decisions; for a single --input also outputs.")
    var json = false
    @OptionGroup var limits: LimitOptions

    func validate() throws {
        if input.isEmpty == (csv == nil) { throw ValidationError("give the samples with --input a,b,... (repeatable) or with --csv FILE, one of the two") }
        for text in input { _ = try parseNumbers(text, option: "--input") }
    }

    func run() throws {
        if let output { try checkWritable(output, besides: [spec] + (csv.map { [$0] } ?? [])) }
        let model = try loadModel(spec, limits: limits.limits, loadsData: false)
        let samples = try self.samples(for: model)
        let predictions = try reporting(spec) { () throws(ModelError) in try model.predictions(on: samples) }
        let rows = [header(model)] + predictions.map(cells)
        if let output {
            try writeAtomically(rows.map { $0.map(csvField).joined(separator: ",") + "\n" }.joined(), to: output)
            if !json { printError("wrote \(output)") }
        }
        if json {
            var fields: [(String, JSONValue)] = [("predictions", .array(predictions.map(jsonObject)))]
            if input.count == 1, let only = predictions.first { fields.append(("outputs", .array(only.outputs.map(JSONValue.number)))) }
            print(JSONValue.object(fields).serialized())
        } else if output == nil {
            print(table(rows))
        }
    }

    /// The samples given with --input, each checked against the network's inputs (a wrong
    /// count is a usage error, exit status 64), or the rows of the --csv file (a bad file is a
    /// rejected input, exit status 1, reported at its line and column).
    private func samples(for model: Model) throws -> Dataset {
        if let csv {
            do {
                // Inputs alone: target and label columns may be there or not, and are not read.
                return try model.loadDataset(csvFile: csv, targets: false)
            } catch {
                report(error)
                throw ExitCode(1)
            }
        }
        let names = model.inputNames
        var data = Dataset(inputWidth: names.count, targetWidth: 0)
        for (index, text) in input.enumerated() {
            let values = try parseNumbers(text, option: "--input")
            guard values.count == names.count else {
                let which = input.count == 1 ? "--input" : "--input \(index + 1) (\(text))"
                try usageError("\(which) has \(counted(values.count, "value")) but the network has \(counted(names.count, "input")) (\(names.joined(separator: ", ")))",
                               command: "predict")
            }
            data.append(input: values, target: [])
        }
        return data
    }

    /// The column names of the table and the CSV file: inputs, outputs, then what the loss adds.
    private func header(_ model: Model) -> [String] {
        let columns = model.inputNames + model.outputNames
        switch model.learningTask {
        case .regression: return columns
        case .binaryClassification: return columns + model.outputNames.map { "decision(\($0))" }
        case .multiclassClassification: return columns + model.classNames.map { "p(\($0))" } + ["class"]
        }
    }

    /// One prediction's cells, in `header`'s order; numbers in shortest round-trip form.
    private func cells(_ prediction: Prediction) -> [String] {
        var cells = (prediction.input + prediction.outputs).map(number)
        if let decisions = prediction.decisions {
            cells += decisions.map { $0 ? "1" : "0" }
        } else if let className = prediction.className, let probabilities = prediction.probabilities {
            cells += probabilities.map(number) + [className]
        }
        return cells
    }

    private func jsonObject(_ prediction: Prediction) -> JSONValue {
        var fields: [(String, JSONValue)] = [
            ("input", .array(prediction.input.map(JSONValue.number))),
            ("outputs", .array(prediction.outputs.map(JSONValue.number))),
        ]
        if let probabilities = prediction.probabilities { fields.append(("probabilities", .array(probabilities.map(JSONValue.number)))) }
        if let predictedClass = prediction.predictedClass {
            fields.append(("class", prediction.className.map(JSONValue.string) ?? .null))
            fields.append(("class_index", .integer(predictedClass)))
        }
        if let decisions = prediction.decisions { fields.append(("decisions", .array(decisions.map { .integer($0 ? 1 : 0) }))) }
        return .object(fields)
    }
}

/// One CSV field, double-quoted (quotes doubled, RFC 4180) when it holds a comma, a quote or
/// a line break: unit names from the spec never do, but a plan file's names are any strings.
private func csvField(_ text: String) -> String {
    guard text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return text }
    return "\"" + String(text.flatMap { $0 == "\"" ? ["\"", "\""] : [$0] }) + "\""
}
