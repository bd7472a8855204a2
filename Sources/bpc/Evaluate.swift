import ArgumentParser
import BPC

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The loss on a data set; for a classifier the accuracy and confusion matrix, for regression each output's mean squared and absolute error.",
        discussion: """
            Without --csv, a spec is evaluated on its test data (data.test), else on its training \
            data; a plan file has no data, so it needs --csv. The network's parameters are used as \
            they are in the file: evaluate a network saved by bpc run --save. Loss and accuracy are \
            counted as bpc run counts them: a softmax classifier is right when its largest output \
            is the largest target; a binary one when every output thresholded at 0.5 matches its \
            target thresholded at 0.5. Confusion matrices have a row per true class and a column \
            per predicted class; binary cross-entropy gets one 2 x 2 matrix per output.
            """
    )

    @Argument(help: "The spec (YAML) or plan (JSON), typically written by bpc run --save.", completion: .specOrPlan)
    var spec: String
    @Option(help: ArgumentHelp("Evaluate on this CSV file, read as the spec's data files are (its header names the units), instead of the spec's data.",
                               valueName: "file.csv"),
            completion: .file(extensions: ["csv"]))
    var csv: String?
    @Flag(help: "Print one JSON object: data, samples, loss, and accuracy, classes and confusion_matrix (classifiers) or mean_squared_error and mean_absolute_error by output (regression).")
    var json = false
    @OptionGroup var limits: LimitOptions

    /// Which samples were evaluated; `--json` names it as `data`.
    private enum DataSource: String {
        case csv, test, training
    }

    func run() throws {
        // The spec's data files are read only when they are what is evaluated.
        let model = try loadModel(spec, limits: limits.limits, loadsData: csv == nil)
        let (data, source) = try chosenData(model)
        let assessment = try reporting(spec) { () throws(ModelError) in try model.assessment(on: data) }
        if json {
            print(jsonDocument(assessment, source: source, model: model).serialized())
            return
        }
        let described = switch source {
        case .csv: csv ?? ""
        case .test: "the spec's test data"
        case .training: "the spec's training data"
        }
        print("\(counted(assessment.samples, "sample")) from \(described)")
        print("loss \(number(assessment.meanLoss)) (\(model.plan.loss.name), mean per sample)")
        if let accuracy = assessment.accuracy {
            let right = Int((accuracy * Double(assessment.samples)).rounded())
            print("accuracy \(number(accuracy)) (\(right) of \(assessment.samples) right)")
        }
        for matrix in assessment.confusionMatrices ?? [] {
            let about = matrix.output.map { " of \($0)" } ?? ""
            print("\nconfusion matrix\(about) (rows: true class, columns: predicted class)")
            let header = ["true \\ predicted"] + matrix.classes
            print(table([header] + matrix.classes.indices.map { [matrix.classes[$0]] + matrix.counts[$0].map(String.init) }))
        }
        if let squared = assessment.meanSquaredErrors, let absolute = assessment.meanAbsoluteErrors {
            let rows = model.outputNames.indices.map { [model.outputNames[$0], number(squared[$0]), number(absolute[$0])] }
            print("\n" + table([["output", "mean squared error", "mean absolute error"]] + rows))
        }
    }

    /// The --csv file, else the spec's test data, else its training data.
    private func chosenData(_ model: Model) throws -> (Dataset, DataSource) {
        if let csv {
            do {
                return (try model.loadDataset(csvFile: csv), .csv)
            } catch {
                report(error)
                throw ExitCode(1)
            }
        }
        if let test = model.testData { return (test, .test) }
        if let training = model.trainingData { return (training, .training) }
        let what = model.spec == nil ? "a plan file has no data" : "the spec has no 'data'"
        printError("\(spec): error: there is nothing to evaluate on: \(what); give the samples with --csv FILE.csv")
        throw ExitCode(1)
    }

    private func jsonDocument(_ assessment: Assessment, source: DataSource, model: Model) -> JSONValue {
        var fields: [(String, JSONValue)] = [
            ("data", .string(source.rawValue)),
            ("samples", .integer(assessment.samples)),
            ("loss", .number(assessment.meanLoss)),
        ]
        if let accuracy = assessment.accuracy { fields.append(("accuracy", .number(accuracy))) }
        if let matrices = assessment.confusionMatrices, let first = matrices.first {
            let counts = { (matrix: ConfusionMatrix) in JSONValue.array(matrix.counts.map { .array($0.map(JSONValue.integer)) }) }
            fields.append(("classes", .array(first.classes.map(JSONValue.string))))
            // One matrix is the matrix itself; several binary outputs give one per output name.
            fields.append(("confusion_matrix", matrices.count == 1 ? counts(first) : .object(matrices.map { ($0.output ?? "", counts($0)) })))
        }
        let names = model.outputNames
        if let squared = assessment.meanSquaredErrors { fields.append(("mean_squared_error", .object(zip(names, squared.map(JSONValue.number)).map { ($0, $1) }))) }
        if let absolute = assessment.meanAbsoluteErrors { fields.append(("mean_absolute_error", .object(zip(names, absolute.map(JSONValue.number)).map { ($0, $1) }))) }
        return .object(fields)
    }
}
