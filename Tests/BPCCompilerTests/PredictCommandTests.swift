import BPC
import BPCTestSupport
import Foundation
import Testing

// `bpc predict` and `bpc evaluate` as users and scripts see them: the JSON shapes the issue
// names, the CSV file, agreement with `bpc run` and the library, and errors with their exit
// statuses.

private func parsedObject(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not one JSON object: \(text)")
}

private func doubles(_ value: Any?) throws -> [Double] {
    try #require(value as? [Double], "not an array of numbers: \(String(describing: value))")
}

/// Equal up to a few units in the last place: Foundation's JSON parser on Linux does not always
/// round to the nearest binary64, so numbers read back from `--json` output are compared this way
/// (the printed digits are exact; the CSV output, read with `Double(_:)`, is checked exactly).
private func nearlyEqual(_ a: [Double], _ b: [Double]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-14 * max(1, abs($1)) }
}

private func specPath(_ name: String) -> String { packageRoot.appendingPathComponent("specs/\(name)").path }

/// Trains iris with `bpc run`, saving the trained spec and compiling it to a plan in `folder`;
/// returns run's JSON report (its `test` object holds the test loss and accuracy).
private func trainIris(in folder: URL) throws -> [String: Any] {
    let saved = folder.appendingPathComponent("iris-trained.yaml").path
    let trained = try bpc(["run", specPath("iris.yaml"), "--save", saved, "--json"])
    #expect(trained.status == 0, "\(trained.stderr)")
    let compiled = try bpc(["compile", saved, "-o", folder.appendingPathComponent("iris-trained.json").path])
    #expect(compiled.status == 0, "\(compiled.stderr)")
    return try parsedObject(trained.stdout)
}

@Suite("bpc predict")
struct PredictCommandTests {
    @Test("predict --input --json gives the predictions, and for a single input the outputs at the top level too")
    func singleInputJSON() throws {
        let result = try bpc(["predict", "specs/xor.yaml", "--input", "0,1", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty)
        let object = try parsedObject(result.stdout)
        #expect(Set(object.keys) == ["predictions", "outputs"])
        let predictions = try #require(object["predictions"] as? [[String: Any]])
        #expect(predictions.count == 1)
        let prediction = try #require(predictions.first)
        #expect(Set(prediction.keys) == ["input", "outputs", "probabilities", "decisions"])
        let expected = try Model(contentsOf: specPath("xor.yaml"), options: LoadOptions(loadsData: false)).predict([0, 1])
        #expect(try doubles(prediction["input"]) == [0, 1])
        #expect(nearlyEqual(try doubles(prediction["outputs"]), expected))
        #expect(try doubles(object["outputs"]) == (try doubles(prediction["outputs"])))
        #expect(nearlyEqual(try doubles(prediction["probabilities"]), expected))
        #expect(prediction["decisions"] as? [Int] == expected.map { $0 >= 0.5 ? 1 : 0 })
    }

    @Test("--input repeats for several samples, and then outputs is only inside each prediction")
    func repeatedInputs() throws {
        let result = try bpc(["predict", "specs/xor.yaml", "--input", "0,0", "--input", "1,-0.5", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try parsedObject(result.stdout)
        #expect(Set(object.keys) == ["predictions"])
        let predictions = try #require(object["predictions"] as? [[String: Any]])
        #expect(try predictions.map { try doubles($0["input"]) } == [[0, 0], [1, -0.5]])
        let text = try bpc(["predict", "specs/xor.yaml", "--input", "0,0", "--input", "1,-0.5"])
        #expect(text.status == 0, "\(text.stderr)")
        let lines = text.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(lines.first == ["x1", "x2", "y", "decision(y)"])
        #expect(lines.count == 3)
    }

    @Test("predict on a trained plan with --csv: softmax probabilities sum to 1, the class is the most probable, and -o writes the same as CSV")
    func softmaxPredictionsAndCSV() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try trainIris(in: folder)
        let plan = folder.appendingPathComponent("iris-trained.json").path
        let result = try bpc(["predict", plan, "--csv", specPath("data/iris-test.csv"), "-o", "out.csv", "--json"], in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        let model = try Model(contentsOf: plan)
        let object = try parsedObject(result.stdout)
        #expect(Set(object.keys) == ["predictions"], "a --csv file never puts outputs at the top level")
        let predictions = try #require(object["predictions"] as? [[String: Any]])
        #expect(predictions.count == 30)
        // The CSV file: a header, then every number in shortest round-trip form, so its rows are
        // checked exactly against the library; the JSON must say the same.
        let text = try String(contentsOf: folder.appendingPathComponent("out.csv"), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let probabilityColumns = model.classNames.map { "p(\($0))" }
        #expect(lines.first == (["x[0]", "x[1]", "x[2]", "x[3]", "y[0]", "y[1]", "y[2]"] + probabilityColumns + ["class"]).joined(separator: ","))
        #expect(lines.count == 32 && lines.last == "", "30 rows, each ending in a line feed")
        for (line, prediction) in zip(lines.dropFirst(), predictions) {
            #expect(Set(prediction.keys) == ["input", "outputs", "probabilities", "class", "class_index"])
            let cells = line.split(separator: ",").map(String.init)
            let numbers = cells.dropLast().compactMap(Double.init)
            try #require(numbers.count == 10, "\(line)")
            let input = Array(numbers[0..<4]), outputs = Array(numbers[4..<7]), probabilities = Array(numbers[7..<10])
            #expect(outputs == (try model.predict(input)))
            #expect(abs(probabilities.reduce(0, +) - 1) <= 1e-12)
            let index = try #require(prediction["class_index"] as? Int)
            #expect(probabilities[index] == probabilities.max() && outputs[index] == outputs.max())
            #expect(prediction["class"] as? String == model.classNames[index])
            #expect(cells.last == model.classNames[index])
            for (key, values) in [("input", input), ("outputs", outputs), ("probabilities", probabilities)] {
                #expect(nearlyEqual(try doubles(prediction[key]), values), "\(key)")
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["iris-trained.json", "iris-trained.yaml", "out.csv"],
                "no temporary file is left behind")
    }

    @Test("target columns in a --csv file are not used")
    func targetColumnsAreIgnored() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try "y,x2,x1\n0,1,0\n1,1,1\n".write(to: folder.appendingPathComponent("a.csv"), atomically: true, encoding: .utf8)
        try "y,x2,x1\n1,1,0\n0,1,1\n".write(to: folder.appendingPathComponent("b.csv"), atomically: true, encoding: .utf8)
        let a = try bpc(["predict", specPath("xor.yaml"), "--csv", "a.csv", "--json"], in: folder)
        let b = try bpc(["predict", specPath("xor.yaml"), "--csv", "b.csv", "--json"], in: folder)
        #expect(a.status == 0 && b.status == 0, "\(a.stderr)\(b.stderr)")
        #expect(a.stdout == b.stdout)
        let predictions = try #require(try parsedObject(a.stdout)["predictions"] as? [[String: Any]])
        #expect(try predictions.map { try doubles($0["input"]) } == [[0, 1], [1, 1]], "columns are read by name, in input-unit order")
    }

    @Test("a --csv file without target columns is predicted")
    func csvWithoutTargets() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try "x1,x2\n0,1\n1,1\n".write(to: folder.appendingPathComponent("inputs.csv"), atomically: true, encoding: .utf8)
        let result = try bpc(["predict", specPath("xor.yaml"), "--csv", "inputs.csv", "--json"], in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        let predictions = try #require(try parsedObject(result.stdout)["predictions"] as? [[String: Any]])
        #expect(try predictions.map { try doubles($0["input"]) } == [[0, 1], [1, 1]])
        // A labelled plan's label column is not needed either, and a bad target is not read.
        try "x1,x2,y\n0,1,7\n".write(to: folder.appendingPathComponent("odd.csv"), atomically: true, encoding: .utf8)
        let odd = try bpc(["predict", specPath("xor.yaml"), "--csv", "odd.csv", "--json"], in: folder)
        #expect(odd.status == 0, "\(odd.stderr)")
    }

    @Test("with a label column in the data, classes are named by its values in predict and evaluate")
    func labelledClasses() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // y = (-x, x): a positive x is the second class. Classes are sorted: cat, dog.
        try """
            bpc: 1
            units:
              - {name: x, role: input}
              - {name: y, role: output, count: 2, activation: identity, bias: false}
            edges:
              - {from: x, to: y, weight: [-1, 1]}
            loss: softmax_cross_entropy
            data: {csv: pets.csv, label: kind}
            """.write(to: folder.appendingPathComponent("pets.yaml"), atomically: true, encoding: .utf8)
        try "x,kind\n2,dog\n-1,cat\n3,cat\n".write(to: folder.appendingPathComponent("pets.csv"), atomically: true, encoding: .utf8)
        let predicted = try bpc(["predict", "pets.yaml", "--input", "2", "--input", "-0.5", "--json"], in: folder)
        #expect(predicted.status == 0, "\(predicted.stderr)")
        let predictions = try #require(try parsedObject(predicted.stdout)["predictions"] as? [[String: Any]])
        #expect(predictions.map { $0["class"] as? String } == ["dog", "cat"])
        #expect(predictions.map { $0["class_index"] as? Int } == [1, 0])
        let table = try bpc(["predict", "pets.yaml", "--input", "2"], in: folder)
        #expect(table.stdout.split(separator: "\n").first?.split(separator: " ") == ["x", "y[0]", "y[1]", "p(cat)", "p(dog)", "class"])
        let evaluated = try bpc(["evaluate", "pets.yaml", "--json"], in: folder)
        #expect(evaluated.status == 0, "\(evaluated.stderr)")
        let object = try parsedObject(evaluated.stdout)
        #expect(object["classes"] as? [String] == ["cat", "dog"])
        // The cat at x = 3 is taken for a dog.
        #expect(object["confusion_matrix"] as? [[Int]] == [[1, 1], [0, 1]])
    }

    @Test("a wrong number of --input values, or no or both sample sources, is a usage error (exit status 64)")
    func usageErrors() throws {
        let wide = try bpc(["predict", "specs/xor.yaml", "--input", "1,2,3"])
        #expect(wide.status == 64)
        #expect(wide.stderr.contains("--input has 3 values but the network has 2 inputs (x1, x2)"), "\(wide.stderr)")
        #expect(wide.stdout.isEmpty)
        let second = try bpc(["predict", "specs/xor.yaml", "--input", "1,2", "--input", "3"])
        #expect(second.status == 64)
        #expect(second.stderr.contains("--input 2 (3) has 1 value but the network has 2 inputs"), "\(second.stderr)")
        for arguments in [[], ["--input", "0,1", "--csv", "x.csv"], ["--input", "0,abc"]] {
            let result = try bpc(["predict", "specs/xor.yaml"] + arguments)
            #expect(result.status == 64, "\(arguments): \(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
    }

    @Test("a --csv file with a missing column or a bad number is reported at its line and column with exit status 1")
    func badCSVFiles() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try "x1,y\n0,1\n".write(to: folder.appendingPathComponent("missing.csv"), atomically: true, encoding: .utf8)
        try "x1,x2,y\n0,0,0\n0, zz,1\n".write(to: folder.appendingPathComponent("bad.csv"), atomically: true, encoding: .utf8)
        for command in ["predict", "evaluate"] {
            let missing = try bpc([command, specPath("xor.yaml"), "--csv", "missing.csv"], in: folder)
            #expect(missing.status == 1)
            #expect(missing.stderr == "missing.csv:1:1: error: missing column 'x2' (an input unit)\n")
            #expect(missing.stdout.isEmpty)
            let bad = try bpc([command, specPath("xor.yaml"), "--csv", "bad.csv"], in: folder)
            #expect(bad.status == 1)
            #expect(bad.stderr == "bad.csv:3:4: error: 'zz' is not a number\n")
            let unreadable = try bpc([command, specPath("xor.yaml"), "--csv", "no/such.csv"], in: folder)
            #expect(unreadable.status == 1)
            #expect(unreadable.stderr == "no/such.csv: error: cannot read the file: No such file or directory\n")
        }
    }

    @Test("-o into a folder that does not exist fails before any work and writes nothing")
    func unwritableOutput() throws {
        let result = try bpc(["predict", "specs/xor.yaml", "--input", "0,1", "-o", "/nonexistent/d/out.csv"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("/nonexistent/d/out.csv: error: cannot write the file: the folder /nonexistent/d does not exist"), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }
}

@Suite("bpc evaluate")
struct EvaluateCommandTests {
    @Test("evaluate on a trained network gives bpc run's test loss and accuracy, and a confusion matrix over every sample")
    func agreesWithRun() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let report = try trainIris(in: folder)
        let test = try #require(report["test"] as? [String: Any])
        // The trained spec defaults to its test data; the plan evaluates the same file given by --csv.
        let fromSpec = try bpc(["evaluate", "iris-trained.yaml", "--json"], in: folder)
        let fromPlan = try bpc(["evaluate", "iris-trained.json", "--csv", specPath("data/iris-test.csv"), "--json"], in: folder)
        for (result, source) in [(fromSpec, "test"), (fromPlan, "csv")] {
            #expect(result.status == 0, "\(result.stderr)")
            let object = try parsedObject(result.stdout)
            #expect(Set(object.keys) == ["data", "samples", "loss", "accuracy", "classes", "confusion_matrix"])
            #expect(object["data"] as? String == source)
            #expect(object["samples"] as? Int == 30)
            // The same digits as run's, hence the same number however the parser rounds them.
            #expect(object["loss"] as? Double == test["loss"] as? Double)
            let accuracy = try #require(object["accuracy"] as? Double)
            #expect(accuracy == test["accuracy"] as? Double)
            let matrix = try #require(object["confusion_matrix"] as? [[Int]])
            #expect(matrix.count == 3 && matrix.allSatisfy { $0.count == 3 })
            #expect(matrix.joined().reduce(0, +) == 30)
            #expect(nearlyEqual([Double(matrix.indices.map { matrix[$0][$0] }.reduce(0, +)) / 30], [accuracy]))
            #expect((object["classes"] as? [String])?.count == 3)
        }
        let text = try bpc(["evaluate", "iris-trained.yaml"], in: folder)
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.hasPrefix("30 samples from the spec's test data\nloss "), "\(text.stdout)")
        #expect(text.stdout.contains("confusion matrix (rows: true class, columns: predicted class)"))
    }

    @Test("binary cross-entropy gives a 2 x 2 matrix, or with several outputs one per output by name")
    func binaryMatrices() throws {
        let xor = try parsedObject(try bpc(["evaluate", "specs/xor.yaml", "--json"]).stdout)
        #expect(xor["classes"] as? [String] == ["0", "1"])
        let matrix = try #require(xor["confusion_matrix"] as? [[Int]])
        #expect(matrix.count == 2 && matrix.joined().reduce(0, +) == 4)
        let adder = try parsedObject(try bpc(["evaluate", "specs/adder2.yaml", "--json"]).stdout)
        #expect(adder["data"] as? String == "training")
        let matrices = try #require(adder["confusion_matrix"] as? [String: [[Int]]])
        #expect(Set(matrices.keys) == ["s[0]", "s[1]", "s[2]"])
        #expect(matrices.values.allSatisfy { $0.joined().reduce(0, +) == 16 })
        let model = try Model(contentsOf: specPath("adder2.yaml"))
        #expect(adder["accuracy"] as? Double == (try model.evaluate()).accuracy)
    }

    @Test("regression reports the loss and each output's mean squared and mean absolute error")
    func regression() throws {
        let result = try bpc(["evaluate", "specs/note1-case3-several-outputs.yaml", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try parsedObject(result.stdout)
        #expect(Set(object.keys) == ["data", "samples", "loss", "mean_squared_error", "mean_absolute_error"])
        // The spec's own expected outputs for its three samples, against their targets.
        let differences = zip([-0.09943804944296243, 0.12632231048349624, -0.1799468828709676], [0.2, -0.55, 0.05]).map { $0 - $1 }
        let squared = try #require((object["mean_squared_error"] as? [String: Double])?["o"])
        let absolute = try #require((object["mean_absolute_error"] as? [String: Double])?["o"])
        #expect(abs(squared - differences.map { $0 * $0 }.reduce(0, +) / 3) <= 1e-12)
        #expect(abs(absolute - differences.map { abs($0) }.reduce(0, +) / 3) <= 1e-12)
        let loss = try #require(object["loss"] as? Double)
        #expect(abs(loss - squared / 2) <= 1e-12, "half squared error of one output is half its squared error")
        let text = try bpc(["evaluate", "specs/note1-case3-several-outputs.yaml"])
        #expect(text.stdout.contains("output  mean squared error"), "\(text.stdout)")
    }

    @Test("a plan file without --csv has nothing to evaluate and says how to give samples (exit status 1)")
    func planNeedsData() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(try bpc(["compile", specPath("xor.yaml"), "-o", "xor.json"], in: folder).status == 0)
        let result = try bpc(["evaluate", "xor.json"], in: folder)
        #expect(result.status == 1)
        #expect(result.stderr == "xor.json: error: there is nothing to evaluate on: a plan file has no data; give the samples with --csv FILE.csv\n")
        #expect(result.stdout.isEmpty)
    }
}
