import BPC
import BPCTestSupport
import Foundation
import Testing

// The `data` options for data as people have it (`columns`, `label`, `normalize`), validation
// data (`validation`, `validation_split`), the targets each loss accepts, and what the plan
// keeps of all this.

/// Two inputs and three identity outputs under softmax cross-entropy, reading `data.csv` with
/// `label: species` and the inputs' columns `a` and `b` (the data keys from line 9).
private func labelledSpec(outputs: Int = 3, loss: String = "softmax_cross_entropy", extra: String = "") -> String {
    """
    bpc: 1
    units:
      - {name: x, role: input, count: 2}
      - {name: y, role: output, count: \(outputs), activation: identity}
    edges:
      - {from: x, to: y}
    loss: \(loss)
    data:
      csv: data.csv
      label: species
      columns: {a: "x[0]", b: "x[1]"}
    \(extra)
    """
}

/// As R's write.csv writes a data frame with columns a, b and species.
private let labelledCSV = """
    "","a","b","species"
    "1",1,2,"virginica"
    "2",3,4,"setosa"
    "3",5,6,"versicolor"
    "4",7,8,"setosa"

    """

/// Two inputs, one output, the given loss; the inline samples given (the `samples:` key on line 9).
private func inlineSpec(loss: String = "half_squared_error", activation: String = "identity", outputs: Int = 1,
                        samples: String, extra: String = "") -> String {
    """
    bpc: 1
    units:
      - {name: x, role: input, count: 2}
      - {name: y, role: output, count: \(outputs), activation: \(activation)}
    edges:
      - {from: x, to: y}
    loss: \(loss)
    data:
      samples:
    \(samples)
    \(extra)
    """
}

private func load(_ spec: String, options: LoadOptions = LoadOptions()) -> (model: Model?, diagnostics: [Diagnostic]) {
    do {
        return (try Model(yaml: spec, path: "test.yaml", options: options), [])
    } catch {
        return (nil, error.diagnostics)
    }
}

/// Ten samples x = (k, 10 k), y = k, k = 0...9, as `samples:` lines.
private let tenSamples = (0..<10).map { "    - {in: [\($0), \($0 * 10)], out: [\($0)]}" }.joined(separator: "\n")

@Suite("data options")
struct DataOptionsTests {
    // MARK: columns

    @Test("data.columns maps header names to units, and columns that feed nothing are ignored")
    func columnsMapping() throws {
        let fixture = try CSVFixture("\"\",\"Sepal.Length\",\"Sepal.Width\",\"target\",\"note\"\n\"1\",5.1,3.5,1,\"x\"\n\"2\",4.9,3,0,\"y\"\n")
        defer { fixture.remove() }
        let spec = twoInputSpec(dataKeys: "  columns: {Sepal.Length: \"x[0]\", Sepal.Width: \"x[1]\", target: y}")
        let model = try #require(fixture.load(spec).model)
        let data = try #require(model.trainingData)
        #expect(data.inputs == [5.1, 3.5, 4.9, 3])
        #expect(data.targets == [1, 0])
        #expect(model.plan.columns == [ColumnMapping(header: "Sepal.Length", unit: "x[0]"), ColumnMapping(header: "Sepal.Width", unit: "x[1]"),
                                       ColumnMapping(header: "target", unit: "y")])
    }

    @Test("a column data.columns names but the file lacks is an error with the closest header")
    func mappedColumnMissing() throws {
        let fixture = try CSVFixture("Sepal.Lenght,x[1],y\n1,2,3\n")
        defer { fixture.remove() }
        let diagnostics = fixture.load(twoInputSpec(dataKeys: "  columns: {Sepal.Length: \"x[0]\"}")).diagnostics
        expectOnlyError(diagnostics, "missing column 'Sepal.Length' (data.columns maps it to input unit x[0]); did you mean 'Sepal.Lenght'?", line: 1, column: 1)
        #expect(diagnostics.first?.file == fixture.csvPath)
    }

    @Test("data.columns entries that name no input or output unit, or a unit twice, are errors at the unit")
    func columnsMappingErrors() throws {
        let fixture = try CSVFixture("a,b,c,d,y\n1,2,3,4,5\n")
        defer { fixture.remove() }
        let spec = twoInputSpec(dataKeys: """
              columns:
                a: z
                b: x
                c: x[0]
                d: x[0]
            """)
        let diagnostics = fixture.load(spec).diagnostics
        #expect(diagnostics.count == 3, "\(diagnostics.map(\.description))")
        expectError(diagnostics, "unknown unit 'z'", line: 11, column: 8)
        expectError(diagnostics, "'x' is a group; a column feeds one unit, like x[0]", line: 12, column: 8)
        expectError(diagnostics, "unit x[0] is already fed by column 'c'", line: 14, column: 8)
    }

    // MARK: label

    @Test("a label column becomes one-hot targets over its classes, sorted, which the plan keeps")
    func labelOneHot() throws {
        let fixture = try CSVFixture(labelledCSV)
        defer { fixture.remove() }
        let model = try #require(fixture.load(labelledSpec()).model)
        let data = try #require(model.trainingData)
        #expect(model.plan.classLabels == ClassLabels(column: "species", names: ["setosa", "versicolor", "virginica"]))
        #expect(model.classNames == ["setosa", "versicolor", "virginica"])
        #expect(data.inputs == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(data.targets == [0, 0, 1, 1, 0, 0, 0, 1, 0, 1, 0, 0])
    }

    @Test("a label with another number of classes than outputs is an error at 'label' naming both counts")
    func labelClassCount() throws {
        let fixture = try CSVFixture(labelledCSV)
        defer { fixture.remove() }
        expectOnlyError(fixture.load(labelledSpec(outputs: 2)).diagnostics,
                        "label 'species' has 3 classes (setosa, versicolor, virginica) but the network has 2 output units (y[0], y[1]); it needs one output per class",
                        line: 10, column: 10)
    }

    @Test("a held-out file's class that the training data does not have is an error at its field")
    func unknownClassInTestFile() throws {
        let fixture = try CSVFixture(labelledCSV)
        defer { fixture.remove() }
        try fixture.write("test.csv", "species,b,a\nsetosa,1,2\n\"setosaa\",3,4\n")
        let result = fixture.load(labelledSpec(extra: "  test: {csv: test.csv}"))
        expectOnlyError(result.diagnostics, "'setosaa' is not one of the 3 classes of the training data (setosa, versicolor, virginica); did you mean 'setosa'?",
                        line: 3, column: 1)
        #expect(result.diagnostics.first?.file.hasSuffix("test.csv") == true)
    }

    @Test("a column that feeds an output while a label makes the targets is an error")
    func outputColumnBesideLabel() throws {
        let fixture = try CSVFixture("a,b,species,y[0]\n1,2,setosa,1\n")
        defer { fixture.remove() }
        expectOnlyError(fixture.load(labelledSpec(outputs: 1, loss: "half_squared_error")).diagnostics,
                        "column 'y[0]' feeds output unit y[0], but the targets come from the label column 'species'", line: 1, column: 13)
    }

    @Test("class names, the column mapping and the normalisation round-trip through a plan file (compile, then load)")
    func planFileRoundTrip() throws {
        let spec = packageRoot.appendingPathComponent("specs/iris-labelled.yaml").path
        let model = try Model(contentsOf: spec)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bpc-plan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let planPath = folder.appendingPathComponent("iris.json").path
        try PlanJSON.encode(model.plan).write(toFile: planPath, atomically: true, encoding: .utf8)

        let loaded = try Model(contentsOf: planPath)
        #expect(loaded.plan == model.plan)
        #expect(loaded.classNames == ["setosa", "versicolor", "virginica"])
        #expect(loaded.plan.inputNormalization?.method == .standard)
        // The plan reads the R file it was compiled from: mapping, label column and classes.
        let test = try loaded.loadDataset(csvFile: packageRoot.appendingPathComponent("specs/data/iris-labelled-test.csv").path)
        #expect(test == model.testData)
        #expect(try loaded.evaluate(test) == model.evaluate(test))
        #expect(try loaded.predict([5.1, 3.5, 1.4, 0.2]) == model.predict([5.1, 3.5, 1.4, 0.2]))
    }

    @Test("plan files without the data keys still load; a broken data layout in a plan file is rejected")
    func planFileDataKeys() throws {
        let xor = try Model(contentsOf: packageRoot.appendingPathComponent("specs/xor.yaml").path)
        let text = PlanJSON.encode(xor.plan)
        #expect(!text.contains("\"classes\"") && !text.contains("\"normalization\"") && !text.contains("\"columns\""))
        let plain = try PlanJSON.decode(Array(text.utf8))
        #expect(plain.classLabels == nil && plain.inputNormalization == nil && plain.columns == nil)

        let hostile = [
            ("\"classes\": {\"column\": \"c\", \"names\": [\"a\", \"b\"]}", "classes has 2 names for 1 outputs"),
            ("\"classes\": {\"column\": \"c\"}", "classes is missing \"names\""),
            ("\"normalization\": {\"method\": \"standard\", \"shift\": [0, 0], \"scale\": [1, 0]}", "a normalization scale is zero or not finite"),
            ("\"normalization\": {\"method\": \"standard\", \"shift\": [0], \"scale\": [1]}", "normalization has 1 shifts and 1 scales for 2 inputs"),
            ("\"normalization\": {\"method\": \"zscore\", \"shift\": [0, 0], \"scale\": [1, 1]}", "unknown normalization method \"zscore\""),
            ("\"columns\": {\"a\": \"h1\"}", "columns maps 'a' to h1, which is not an input or output unit"),
            ("\"columns\": {\"a\": \"x1\", \"b\": \"x1\"}", "columns maps two headers to unit x1"),
        ]
        for (key, problem) in hostile {
            let damaged = text.replacingOccurrences(of: "  \"summary\":", with: "  \(key),\n  \"summary\":")
            #expect(throws: PlanFileError.self) { try PlanJSON.decode(Array(damaged.utf8)) }
            do {
                _ = try PlanJSON.decode(Array(damaged.utf8))
            } catch {
                #expect(error.message.contains(problem), "\(error.message)")
            }
        }
    }

    // MARK: normalize

    @Test("standard and minmax statistics of a known data set, with scale 1 for a constant input")
    func normalisationStatistics() throws {
        let samples = "    - {in: [1, 5], out: [0]}\n    - {in: [2, 5], out: [0]}\n    - {in: [3, 5], out: [0]}\n    - {in: [4, 5], out: [0]}"
        let standard = try #require(load(inlineSpec(samples: samples, extra: "  normalize: standard")).model?.plan.inputNormalization)
        #expect(standard == InputNormalization(method: .standard, shift: [2.5, 5], scale: [1 / 1.25.squareRoot(), 1]))
        let minmax = try #require(load(inlineSpec(samples: samples, extra: "  normalize: minmax")).model?.plan.inputNormalization)
        #expect(minmax == InputNormalization(method: .minmax, shift: [1, 5], scale: [1.0 / 3, 1]))
    }

    @Test("predict, loss, gradients and evaluate on raw inputs equal the network without normalisation on normalised inputs")
    func rawInputsAreNormalised() throws {
        let model = try #require(load(inlineSpec(samples: tenSamples, extra: "  normalize: standard")).model)
        let normalization = try #require(model.plan.inputNormalization)
        var plainPlan = model.plan
        plainPlan.inputNormalization = nil
        let plain = try Model(.plan(plainPlan))
        let raw = [3.5, -20.0]
        let normalised = normalization.normalized(raw)
        #expect(normalised == [(3.5 - 4.5) * normalization.scale[0], (-20 - 45) * normalization.scale[1]])
        #expect(try model.predict(raw) == plain.predict(normalised))
        #expect(try model.loss(input: raw, target: [1]) == plain.loss(input: normalised, target: [1]))
        #expect(try model.gradients(input: raw, target: [1]).gradients == plain.gradients(input: normalised, target: [1]).gradients)
        let data = try #require(model.trainingData)
        #expect(data.inputs[0..<4] == [0, 0, 1, 10], "data sets keep raw inputs")
        #expect(try model.evaluate(data) == plain.evaluate(normalization.normalized(data)))
    }

    // MARK: validation

    @Test("validation_split sets aside the same seeded samples on every load, and the statistics come from the rest")
    func validationSplit() throws {
        let spec = inlineSpec(samples: tenSamples, extra: "  validation_split: 0.3\n  normalize: standard")
        let first = try #require(load(spec).model)
        let second = try #require(load(spec).model)
        let training = try #require(first.trainingData), validation = try #require(first.validationData)
        #expect(training.count == 7 && validation.count == 3)
        #expect(second.trainingData == training && second.validationData == validation)
        // Disjoint, together the whole set, each in the file's order.
        let trainingRows = (0..<7).map { training.targets[$0] }, validationRows = (0..<3).map { validation.targets[$0] }
        #expect(Set(trainingRows + validationRows) == Set((0..<10).map(Double.init)))
        #expect(trainingRows == trainingRows.sorted() && validationRows == validationRows.sorted())
        #expect(first.plan.inputNormalization == InputNormalization(method: .standard, statisticsOf: training))
        // Another seed sets aside other samples.
        let others = try (1...4).map { seed in
            try #require(load(spec, options: LoadOptions(overrides: TrainingOverrides(seed: UInt64(seed)))).model?.validationData)
        }
        #expect(others.contains { $0 != validation })
    }

    @Test("validation_split must leave a sample on each side, lie strictly between 0 and 1, and not come with 'validation'")
    func validationSplitErrors() throws {
        let three = "    - {in: [0, 0], out: [0]}\n    - {in: [1, 1], out: [1]}\n    - {in: [2, 2], out: [2]}"
        expectOnlyError(load(inlineSpec(samples: three, extra: "  validation_split: 0.1")).diagnostics,
                        "validation_split 0.1 of 3 training samples sets aside 0; training and validation need at least one sample each", line: 13, column: 21)
        expectOnlyError(load(inlineSpec(samples: three, extra: "  validation_split: 1")).diagnostics,
                        "validation_split is the fraction of the training samples set aside, above 0 and below 1, not 1.0", line: 13, column: 21)
        let both = "  validation: {samples: [{in: [0, 0], out: [0]}]}\n  validation_split: 0.5"
        expectOnlyError(load(inlineSpec(samples: three, extra: both)).diagnostics, "give 'validation' or 'validation_split', not both", line: 14, column: 21)
    }

    @Test("data.validation loads into validationData, raw, like the test set")
    func validationData() throws {
        let extra = "  validation: {samples: [{in: [7, 8], out: [9]}]}\n  normalize: minmax"
        let model = try #require(load(inlineSpec(samples: tenSamples, extra: extra)).model)
        #expect(model.validationData == Dataset(inputWidth: 2, targetWidth: 1, inputs: [7, 8], targets: [9]))
        #expect(model.trainingData?.count == 10)
    }

    @Test("commands that need only the network read the training file for the statistics, never the held-out files")
    func networkScope() throws {
        let fixture = try CSVFixture("x[0],x[1],y\n0,0,0\n2,4,1\n")
        defer { fixture.remove() }
        let spec = twoInputSpec(dataKeys: "  normalize: minmax\n  test: {csv: missing.csv}")
        let model = try #require(fixture.load(spec, options: LoadOptions(loadsData: false)).model)
        #expect(model.plan.inputNormalization == InputNormalization(method: .minmax, shift: [0, 0], scale: [0.5, 0.25]))
        #expect(model.trainingData == nil && model.testData == nil)
        #expect(fixture.load(spec).diagnostics.first?.message.contains("cannot read data file 'missing.csv'") == true)
    }

    @Test("the trained spec keeps the data keys, and loading it gives the same classes and statistics")
    func savedSpecKeepsDataKeys() throws {
        let fixture = try CSVFixture(labelledCSV)
        defer { fixture.remove() }
        let model = try #require(fixture.load(labelledSpec(extra: "  normalize: standard\n  validation_split: 0.25")).model)
        let yaml = try model.trainedSpec()
        for key in ["label: species", "normalize: standard", "validation_split: 0.25", "a: \"x[0]\""] {
            #expect(yaml.contains(key), "\(key) in\n\(yaml)")
        }
        let reloaded = try #require(fixture.load(yaml).model)
        #expect(reloaded.plan == model.plan)
        #expect(reloaded.validationData == model.validationData)
    }

    // MARK: fixtures and the command line

    @Test("the invalid data fixtures report every problem at its file, line and column")
    func invalidDataFixtures() throws {
        func diagnostics(_ name: String) -> [Diagnostic] {
            do {
                _ = try Model(contentsOf: invalidFixtures.appendingPathComponent(name).path)
                return []
            } catch {
                return error.diagnostics
            }
        }
        let targets = diagnostics("data-targets.yaml")
        #expect(targets.count == 4, "\(targets.map(\.description))")
        expectError(targets, "binary_cross_entropy targets must be between 0 and 1, not 2.0", line: 3, column: 5)
        expectError(targets, "binary_cross_entropy targets must be between 0 and 1, not -0.5", line: 4, column: 5)
        expectError(targets, "'NA' marks a missing value; every input and target needs a number", line: 5, column: 1)
        expectError(targets, "binary_cross_entropy targets must be between 0 and 1, not -1.0 (output y)", line: 15, column: 9)
        #expect(targets.filter { $0.file.hasSuffix("data/bad-targets.csv") }.count == 3)

        expectOnlyError(diagnostics("data-label.yaml"),
                        "label 'species' has 3 classes (setosa, versicolor, virginica) but the network has 2 output units (y[0], y[1])",
                        line: 14, column: 10)

        let quotes = diagnostics("data-quotes.yaml")
        #expect(quotes.count == 3, "\(quotes.map(\.description))")
        expectError(quotes, "unexpected 'x' after the closing quote of a field", line: 2, column: 4)
        expectError(quotes, "the field for 'x[1]' is empty", line: 3, column: 3)
        expectError(quotes, "the file ends inside the quoted field that starts here", line: 4, column: 5)
    }

    @Test("bpc run names the classes in its outputs table, and a compiled plan trains on the R file it came from")
    func commandLine() throws {
        let run = try bpc(["run", "specs/iris-labelled.yaml", "--quiet"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("class       target"), "\(run.stdout)")
        #expect(run.stdout.contains("setosa      setosa"), "\(run.stdout)")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bpc-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let plan = folder.appendingPathComponent("iris.json").path
        #expect(try bpc(["compile", "specs/iris-labelled.yaml", "-o", plan]).status == 0)
        let trained = try bpc(["run", plan, "--data", "specs/data/iris-labelled.csv", "--test-data", "specs/data/iris-labelled-test.csv",
                               "--epochs", "60", "--batch-size", "4", "--quiet"])
        #expect(trained.status == 0, "\(trained.stderr)")
        #expect(trained.stdout.contains("versicolor"), "\(trained.stdout)")
    }

    // MARK: targets

    @Test("binary cross-entropy targets outside [0, 1] are errors at the CSV field and at the spec's sample")
    func binaryTargets() throws {
        let fixture = try CSVFixture("x[0],x[1],y\n0,0,1\n0,1,2\n1,0,-0.5\n")
        defer { fixture.remove() }
        let diagnostics = fixture.load(twoInputSpec(loss: "binary_cross_entropy", activation: "sigmoid")).diagnostics
        #expect(diagnostics.count == 2)
        expectError(diagnostics, "binary_cross_entropy targets must be between 0 and 1, not 2.0", line: 3, column: 5)
        expectError(diagnostics, "binary_cross_entropy targets must be between 0 and 1, not -0.5", line: 4, column: 5)
        let inline = inlineSpec(loss: "binary_cross_entropy", activation: "sigmoid", samples: "    - {in: [0, 0], out: [1]}\n    - {in: [0, 1], out: [2]}")
        expectOnlyError(load(inline).diagnostics, "binary_cross_entropy targets must be between 0 and 1, not 2.0 (output y[0])", line: 11, column: 7)
    }

    @Test("softmax targets must not be negative (at the field) and must sum to 1 (at the row)")
    func softmaxTargets() throws {
        let fixture = try CSVFixture("x[0],x[1],y[0],y[1]\n0,0,0.5,0.5\n0,1,0.5,0.6\n1,0,-0.5,1.5\n")
        defer { fixture.remove() }
        let spec = """
            bpc: 1
            units:
              - {name: x, role: input, count: 2}
              - {name: y, role: output, count: 2, activation: identity}
            edges:
              - {from: x, to: y}
            loss: softmax_cross_entropy
            data: {csv: data.csv}
            """
        let diagnostics = fixture.load(spec).diagnostics
        #expect(diagnostics.count == 2)
        expectError(diagnostics, "softmax_cross_entropy targets must sum to 1 (one-hot or probabilities), not 1.1", line: 3, column: 1)
        expectError(diagnostics, "softmax_cross_entropy targets must not be negative, not -0.5", line: 4, column: 5)
    }

    @Test("softmax cross-entropy over one output is an error on the loss line")
    func softmaxNeedsTwoOutputs() {
        let spec = inlineSpec(loss: "softmax_cross_entropy", samples: "    - {in: [0, 0], out: [1]}")
        expectOnlyError(load(spec).diagnostics, "loss softmax_cross_entropy needs at least 2 output units", line: 7, column: 7)
    }

    @Test("a data set built in code with a target the loss cannot take, or an input that is not finite, is a typed error")
    func libraryDataChecked() throws {
        var model = try #require(load(inlineSpec(loss: "binary_cross_entropy", activation: "sigmoid", samples: "    - {in: [0, 0], out: [1]}")).model)
        let badTarget = Dataset(inputWidth: 2, targetWidth: 1, inputs: [0, 0, 1, 1], targets: [1, 2])
        #expect(throws: ModelError.invalidSample(index: 1, problem: "binary_cross_entropy targets must be between 0 and 1, not 2.0")) {
            try model.train(on: badTarget)
        }
        let badInput = Dataset(inputWidth: 2, targetWidth: 1, inputs: [0, .nan], targets: [1])
        #expect(throws: ModelError.invalidSample(index: 0, problem: "inputs must be finite numbers, not nan")) { try model.evaluate(badInput) }
    }

    @Test("a saved spec keeps its classes and statistics, whatever its training file holds later, and needs no file to predict")
    func savedSpecKeepsItsDataLayout() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("data"), withIntermediateDirectories: true)
        for file in ["iris-labelled.yaml", "data/iris-labelled.csv", "data/iris-labelled-test.csv"] {
            try FileManager.default.copyItem(at: packageRoot.appendingPathComponent("specs/\(file)"), to: folder.appendingPathComponent(file))
        }
        var model = try Model(contentsOf: folder.appendingPathComponent("iris-labelled.yaml").path)
        var settings = model.trainingSettings
        settings.epochs = 3
        try model.train(settings: settings)
        let saved = folder.appendingPathComponent("trained.yaml")
        try model.trainedSpec(writtenTo: saved.path).write(to: saved, atomically: true, encoding: .utf8)
        // A row that would move every statistic, then no file at all.
        let csv = folder.appendingPathComponent("data/iris-labelled.csv")
        try (String(contentsOf: csv, encoding: .utf8) + "\"999\",30,30,30,30,\"setosa\"\n").write(to: csv, atomically: true, encoding: .utf8)
        let input = [6.0, 2.2, 5.0, 1.5]
        for step in ["changed", "moved"] {
            if step == "moved" { try FileManager.default.removeItem(at: folder.appendingPathComponent("data")) }
            let reloaded = try Model(contentsOf: saved.path, options: LoadOptions(loadsData: false))
            #expect(reloaded.plan.inputNormalization == model.plan.inputNormalization, "\(step)")
            #expect(reloaded.plan.classNames == model.plan.classNames, "\(step)")
            #expect(try reloaded.predict(input) == model.predict(input), "\(step)")
        }
    }
}
