import Foundation
import BPCTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The `bpc` executable as users and scripts see it: diagnostics on standard error in the
// `PATH:LINE:COLUMN: error: MESSAGE` form, exit statuses, nothing written for a rejected
// spec, and `--json` output that parses.



/// What one run of `bpc` did.
typealias Run = ProcessRun

/// Locates the built `bpc`: `BPC_EXECUTABLE` if set, else next to the running test binary.
func bpcExecutable() throws -> URL {
    try builtProduct(named: "bpc", override: "BPC_EXECUTABLE")
}

/// Locates a built executable product: the `override` environment variable if set, else next
/// to the running test binary (SwiftPM puts products and test bundles in the same folder) or
/// in one of its parents.
func builtProduct(named name: String, override variable: String) throws -> URL {
    struct NotBuilt: Error, CustomStringConvertible {
        var tried: [String]
        var description: String {
            "the executable is not built; run `swift build` with the same --scratch-path first "
                + "(or set its path in the environment). Looked at: \(tried.joined(separator: ", "))"
        }
    }
    let fileManager = FileManager.default
    if let override = ProcessInfo.processInfo.environment[variable], !override.isEmpty {
        guard fileManager.isExecutableFile(atPath: override) else { throw NotBuilt(tried: ["\(variable)=\(override)"]) }
        return URL(fileURLWithPath: override)
    }
    var starts: [URL] = []
    if let executable = Bundle.main.executableURL { starts.append(executable.resolvingSymlinksInPath()) }
    if let first = CommandLine.arguments.first, first.contains("/") {
        starts.append(URL(fileURLWithPath: first).standardizedFileURL.resolvingSymlinksInPath())
    }
    if let selfPath = try? fileManager.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        starts.append(URL(fileURLWithPath: selfPath))
    }
    // Also every loaded bundle: on macOS the tests run inside an .xctest bundle loaded by xctest.
    starts += Bundle.allBundles.map(\.bundleURL).filter { $0.pathExtension == "xctest" }
    var tried: [String] = []
    for start in starts {
        var folder = start.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = folder.appendingPathComponent(name)
            if tried.contains(candidate.path) { break }
            tried.append(candidate.path)
            var isFolder: ObjCBool = false
            if fileManager.fileExists(atPath: candidate.path, isDirectory: &isFolder), !isFolder.boolValue,
               fileManager.isExecutableFile(atPath: candidate.path) {
                return candidate
            }
            folder = folder.deletingLastPathComponent()
        }
    }
    throw NotBuilt(tried: tried)
}

/// Runs `bpc` with `arguments` in `folder`.
func bpc(_ arguments: [String], in folder: URL = packageRoot, environment: [String: String] = [:]) throws -> Run {
    try run(try bpcExecutable(), arguments, in: folder, environment: environment)
}

/// Runs an executable with `arguments` in `folder`; a death by signal is a test failure.
func run(_ executable: URL, _ arguments: [String], in folder: URL = packageRoot, environment: [String: String] = [:]) throws -> Run {
    let result = try runProcess(executable, arguments, in: folder, environment: environment)
    #expect(result.exited, "\(executable.lastPathComponent) \(arguments.joined(separator: " ")) died from signal \(result.status)")
    return result
}

/// A spec of one input feeding one output with weight 0.5, plus the top-level line `extra`.
private func oneEdge(extra: String) -> String {
    """
    bpc: 1
    units:
      - {name: x, role: input}
      - {name: y, role: output}
    edges:
      - {from: x, to: y, weight: 0.5}
    loss: half_squared_error
    \(extra)
    """
}

/// A fresh empty folder, removed by the caller.
func temporaryFolder() throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bpc-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
}

/// Number tokens of JSON text (strings removed first), exactly as written.
private func numberTokens(_ json: String) throws -> [String] {
    let strings = try NSRegularExpression(pattern: #""(?:[^"\\]|\\.)*""#)
    let withoutStrings = strings.stringByReplacingMatches(
        in: json, range: NSRange(json.startIndex..., in: json), withTemplate: "\"\"")
    let numbers = try NSRegularExpression(pattern: #"-?[0-9][0-9.eE+-]*"#)
    return numbers.matches(in: withoutStrings, range: NSRange(withoutStrings.startIndex..., in: withoutStrings)).map {
        String(withoutStrings[Range($0.range, in: withoutStrings)!])
    }
}

@Suite("bpc command line")
struct CLITests {
    @Test("a rejected spec prints every problem as PATH:LINE:COLUMN: error: MESSAGE on stderr and exits 1")
    func badSpecDiagnostics() throws {
        let path = invalidFixtures.appendingPathComponent("many-compile-errors.yaml").path
        let run = try bpc(["check", path])
        #expect(run.status == 1)
        #expect(run.stdout.isEmpty, "nothing on stdout for a rejected spec: \(run.stdout)")
        let lines = run.stderr.split(separator: "\n").map(String.init)
        let form = try NSRegularExpression(pattern: #"^(.+):([0-9]+):([0-9]+): error: (.+)$"#)
        #expect(lines.count == 6, "\(run.stderr)")
        for line in lines {
            let match = form.firstMatch(in: line, range: NSRange(line.startIndex..., in: line))
            #expect(match != nil, "not PATH:LINE:COLUMN: error: MESSAGE: \(line)")
            #expect(line.hasPrefix(path + ":"), "\(line)")
        }
        #expect(lines.first == "\(path):9:12: error: unit 'x' is declared twice (first at 6:12)")
        #expect(lines.contains("\(path):11:19: error: unknown unit 'hiden'; did you mean 'hidden'?"))
        #expect(lines.last == "\(path):15:45: error: weight lists 3 numbers but this entry creates 2 edges (2 x 1, from-major)")
    }

    @Test("a YAML syntax error is printed with the path as given and libyaml's line and column")
    func syntaxErrorDiagnostic() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("bpc: 1\nname: a: b\n".utf8).write(to: folder.appendingPathComponent("bad.yaml"))
        let run = try bpc(["compile", "bad.yaml"], in: folder)
        #expect(run.status == 1)
        #expect(run.stderr == "bad.yaml:2:8: error: YAML: mapping values are not allowed in this context\n")
    }

    @Test("bpc compile on a rejected spec writes no output file")
    func compileWritesNothing() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let spec = folder.appendingPathComponent("bad.yaml")
        try FileManager.default.copyItem(at: invalidFixtures.appendingPathComponent("cycle.yaml"), to: spec)
        let run = try bpc(["compile", "bad.yaml", "-o", "out.json"], in: folder)
        #expect(run.status == 1)
        #expect(run.stderr.hasPrefix("bad.yaml:14:5: error: cycle: a -> b -> c -> a"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("out.json").path))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0 != "bad.yaml" }
        #expect(leftovers.isEmpty, "files left behind: \(leftovers)")
    }

    @Test("bpc compile on a rejected spec leaves an existing output file untouched")
    func compileKeepsExistingFile() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(
            at: invalidFixtures.appendingPathComponent("many-parse-errors.yaml"), to: folder.appendingPathComponent("bad.yaml"))
        let previous = Data("{\"previous\": true}\n".utf8)
        try previous.write(to: folder.appendingPathComponent("out.json"))
        let run = try bpc(["compile", "bad.yaml", "-o", "out.json"], in: folder)
        #expect(run.status == 1)
        #expect(try Data(contentsOf: folder.appendingPathComponent("out.json")) == previous)
    }

    @Test("bpc grad --json prints exactly one JSON object whose numbers read back exactly")
    func gradJSON() throws {
        let run = try bpc(["grad", "specs/note1-case1-chain.yaml", "--input", "0.5", "--target", "0.25", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["loss", "outputs", "units", "gradients"])
        let gradients = try #require(object["gradients"] as? [String: Any])
        #expect(Set(gradients.keys) == ["x->j", "j->k", "k->o"])
        let units = try #require(object["units"] as? [String: [String: Any]])
        #expect(Set(units.keys) == ["x", "j", "k", "o"])
        for (name, fields) in units { #expect(Set(fields.keys) == ["a", "z", "delta"], "unit \(name)") }
        // Values from the spec's own comments: y_hat = 0.6744921761345578, z_k = 0.3898798705980103.
        let yHat = 0.6744921761345578, zK = 0.3898798705980103
        let loss = try #require((object["loss"] as? NSNumber)?.doubleValue)
        #expect(abs(loss - 0.5 * (yHat - 0.25) * (yHat - 0.25)) < 1e-12)
        let output = try #require(((object["outputs"] as? [String: Any])?["o"] as? NSNumber)?.doubleValue)
        #expect(abs(output - yHat) < 1e-12)
        let kToO = try #require((gradients["k->o"] as? NSNumber)?.doubleValue)
        #expect(abs(kToO - (yHat - 0.25) * zK) < 1e-12)
        // Every number is written in the shortest form that reads back to the same binary64.
        let tokens = try numberTokens(run.stdout)
        #expect(tokens.count == 1 + 1 + 4 * 3 + 3)
        for token in tokens {
            let value = try #require(Double(token), "\(token) is not a number")
            #expect(value.isFinite)
            #expect(value.description == token, "\(token) is not the shortest round-trip form of \(value)")
        }
        #expect(run.stdout.filter { $0 == "\n" }.count == 1, "one line, one object")
    }

    @Test("a usage error (a missing argument, an unknown option) exits 64 with a message on stderr")
    func usageError() throws {
        let missing = try bpc(["grad", "specs/note1-case1-chain.yaml", "--input", "0.5"])
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("--target"), "\(missing.stderr)")
        #expect(missing.stdout.isEmpty)
        let unknown = try bpc(["compile", "specs/note1-case1-chain.yaml", "--no-such-option"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("--no-such-option"), "\(unknown.stderr)")
    }

    @Test("a spec path that does not exist is reported as PATH: error: and exits 1")
    func missingSpecFile() throws {
        let run = try bpc(["check", "no/such/spec.yaml"])
        #expect(run.status == 1)
        #expect(run.stderr == "no/such/spec.yaml: error: cannot read the file: No such file or directory\n")
    }

    @Test("a suggestion among equally close names is the same on every run")
    func suggestionIsStable() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let text = """
            bpc: 1
            units:
              - {name: x, role: input}
              - {name: h1}
              - {name: h2}
              - {name: h3}
              - {name: y, role: output}
            edges:
              - {from: x, to: h9}
            loss: half_squared_error

            """
        try Data(text.utf8).write(to: folder.appendingPathComponent("tie.yaml"))
        var outputs = Set<String>()
        for _ in 0..<6 { outputs.insert(try bpc(["check", "tie.yaml"], in: folder).stderr) }
                    #expect(outputs == ["tie.yaml:9:19: error: unknown unit 'h9'; did you mean 'h1'?\n"])
    }
}

@Suite("bpc run")
struct RunCommandTests {
    @Test("Ctrl-C stops training cleanly: a report, exit status 130, and no --save file")
    func interrupt() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bpc-int-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let saved = folder.appendingPathComponent("saved.yaml")
        let process = Process()
        process.executableURL = try bpcExecutable()
        process.arguments = ["run", "specs/xor.yaml", "--epochs", "100000000", "--save", saved.path]
        process.currentDirectoryURL = packageRoot
        let output = Pipe(), progress = Pipe()
        process.standardOutput = output
        process.standardError = progress
        try process.run()
        // Interrupt once training is under way: the first progress line is printed after epoch 1.
        var seen = ""
        while !seen.contains("epoch") {
            let chunk = progress.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        process.interrupt()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 130)
        let report = String(decoding: data, as: UTF8.self)
        #expect(report.contains("interrupted after epoch"), "\(report)")
        #expect(report.contains("final loss"), "\(report)")
        #expect(!FileManager.default.fileExists(atPath: saved.path))
    }

    @Test("run --json reports the contract's keys, and --save writes a spec that reproduces the network")
    func jsonAndSave() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bpc-save-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let saved = folder.appendingPathComponent("iris-trained.yaml")
        let result = try run(try bpcExecutable(), ["run", "specs/iris.yaml", "--epochs", "3", "--save", saved.path, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        for key in ["epochs", "final_loss", "loss_history", "train_seconds", "samples_per_second", "parameters", "predictions"] {
            #expect(report[key] != nil, "missing \(key)")
        }
        #expect((report["loss_history"] as? [Double])?.count == 3)
        // The saved spec lives elsewhere but still finds its CSV files, and starts where training ended.
        let again = try run(try bpcExecutable(), ["run", saved.path, "--epochs", "1", "--learning-rate", "1e-300", "--json"])
        #expect(again.status == 0, "\(again.stderr)")
        let second = try #require(try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])
        let before = try #require(report["final_loss"] as? Double)
        let after = try #require(second["final_loss"] as? Double)
        #expect(abs(before - after) <= 1e-12 * max(1, abs(before)))
    }

    @Test("run --precision f32 and f64 and --reference train the same network to the same accuracy, and say which arithmetic ran")
    func precisionsAgree() throws {
        var losses: [String: Double] = [:]
        for arguments in [["--precision", "f32"], ["--precision", "f64"], ["--reference"]] {
            let result = try run(try bpcExecutable(), ["run", "specs/xor.yaml", "--json"] + arguments)
            #expect(result.status == 0, "\(result.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            #expect(report["accuracy"] as? Double == 1)
            let precision = try #require(report["precision"] as? String)
            #expect(precision == (arguments.count == 2 ? arguments[1] : "f64"))
            losses[arguments.joined()] = try #require(report["final_loss"] as? Double)
        }
        let reference = try #require(losses["--reference"])
        #expect(abs(losses["--precisionf64"]! - reference) <= 1e-9 * reference)
        #expect(abs(losses["--precisionf32"]! - reference) <= 1e-2 * reference)
        let bad = try run(try bpcExecutable(), ["run", "specs/xor.yaml", "--precision", "f16"])
        #expect(bad.status == 64)
    }

    @Test("compile --timings prints one JSON line on stderr, and -o into a missing folder fails without leaving files")
    func compileTimingsAndWriteFailure() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let timed = try bpc(["compile", "specs/xor.yaml", "-o", folder.appendingPathComponent("xor.json").path, "--timings"])
        #expect(timed.status == 0, "\(timed.stderr)")
        let timings = try #require(try JSONSerialization.jsonObject(with: Data(timed.stderr.utf8)) as? [String: Double])
        #expect(Set(timings.keys) == ["parse_compile_seconds", "write_seconds"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["xor.json"])
        let missing = folder.appendingPathComponent("no/such/folder/xor.json").path
        let failed = try bpc(["compile", "specs/xor.yaml", "-o", missing])
        #expect(failed.status == 1)
        #expect(failed.stderr.hasPrefix("\(missing): error: cannot write the file"), "\(failed.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["xor.json"])
    }

    @Test("run with a batch far larger than the data trains on the whole data set per batch; one too large for memory is an error, not a crash")
    func hugeBatchSizes() throws {
        let fits = try run(try bpcExecutable(), ["run", "specs/xor.yaml", "--epochs", "3", "--batch-size", "1000000000000", "--json"])
        #expect(fits.status == 0, "\(fits.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(fits.stdout.utf8)) as? [String: Any])
        #expect((report["loss_history"] as? [Double])?.count == 3)
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // 10^5 units x 10^5 samples per batch (240 GB) cannot fit; the data is one repeated row.
        let csv = "x,y\n" + String(repeating: "0.5,1\n", count: 100_000)
        try csv.write(to: folder.appendingPathComponent("data.csv"), atomically: true, encoding: .utf8)
        let spec = """
            bpc: 1
            name: wide
            units:
              - {name: x, role: input}
              - {name: h, count: 100000, activation: tanh}
              - {name: y, role: output}
            edges:
              - {from: x, to: h}
              - {from: h, to: y}
            loss: half_squared_error
            data: {csv: data.csv}
            train: {epochs: 1, batch_size: 100000, learning_rate: 0.1}
            """
        try spec.write(to: folder.appendingPathComponent("wide.yaml"), atomically: true, encoding: .utf8)
        let tooLarge = try bpc(["run", "wide.yaml", "--quiet"], in: folder)
        #expect(tooLarge.status == 1)
        #expect(tooLarge.stderr.contains("wide.yaml: error: training batches of 100000 samples needs"), "\(tooLarge.stderr)")
    }

    @Test("run --save into a folder that does not exist fails before training, so no run is lost")
    func saveDestinationCheckedFirst() throws {
        let result = try bpc(["run", "specs/xor.yaml", "--save", "/nonexistent/d/x.yaml"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("/nonexistent/d/x.yaml: error: cannot write the file: the folder /nonexistent/d does not exist"), "\(result.stderr)")
        #expect(!result.stdout.contains("trained"), "training ran before the destination was checked: \(result.stdout)")
        #expect(!result.stderr.contains("epoch"), "\(result.stderr)")
        // A folder that exists but takes no new files (a virtual file system) is caught too.
        let virtual = try bpc(["run", "specs/xor.yaml", "--save", "/proc/x.json"])
        #expect(virtual.status == 1)
        #expect(virtual.stderr.hasPrefix("/proc/x.json: error: cannot write the file"), "\(virtual.stderr)")
        #expect(!virtual.stdout.contains("trained"), "\(virtual.stdout)")
    }

    @Test("--reference excludes --precision and --threads instead of ignoring them")
    func referenceExcludesKernelOptions() throws {
        for extra in [["--precision", "f32"], ["--threads", "2"]] {
            let result = try bpc(["run", "specs/xor.yaml", "--reference"] + extra)
            #expect(result.status == 64)
            #expect(result.stderr.contains("the reference runtime trains in binary64 on one thread"), "\(result.stderr)")
        }
    }

    @Test("a plan file trains with its data given by --data, and saves as a plan; without data it says how to give some")
    func planFilesTrain() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let plan = folder.appendingPathComponent("xor.json").path
        #expect(try bpc(["compile", "specs/xor.yaml", "-o", plan]).status == 0)
        let csv = folder.appendingPathComponent("xor.csv")
        try "x1,x2,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n".write(to: csv, atomically: true, encoding: .utf8)
        let noData = try bpc(["run", plan])
        #expect(noData.status == 1)
        #expect(noData.stderr.contains("\(plan): error: there is no 'data' to train on; give its samples with --data"), "\(noData.stderr)")
        let yamlSave = try bpc(["run", plan, "--data", csv.path, "--save", folder.appendingPathComponent("x.yaml").path])
        #expect(yamlSave.status == 1)
        #expect(yamlSave.stderr.contains("a plan file has no spec to write back"), "\(yamlSave.stderr)")
        let trained = folder.appendingPathComponent("trained.json").path
        let result = try bpc(["run", plan, "--data", csv.path, "--epochs", "4000", "--learning-rate", "0.5", "--save", trained, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(report["accuracy"] as? Double == 1, "\(result.stdout)")
        let again = try bpc(["grad", trained, "--input", "1,0", "--target", "1", "--json"])
        #expect(again.status == 0, "\(again.stderr)")
        let pass = try #require(try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])
        let outputs = try #require(pass["outputs"] as? [String: Double])
        #expect((outputs["y"] ?? 0) > 0.9, "the saved plan does not hold the trained parameters: \(again.stdout)")
    }

    @Test("bpc test on a plan file or an empty folder says nothing was checked and fails")
    func testThatChecksNothingFails() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let empty = try bpc(["test", folder.path])
        #expect(empty.status == 1)
        #expect(empty.stderr.contains("nothing was checked: no spec (*.yaml, *.yml) in \(folder.path)"), "\(empty.stderr)")
        let plan = folder.appendingPathComponent("xor.json").path
        #expect(try bpc(["compile", "specs/xor.yaml", "-o", plan]).status == 0)
        let planTest = try bpc(["test", plan])
        #expect(planTest.status == 1)
        #expect(planTest.stdout.contains("SKIP \(plan): a plan file has no expect entries"), "\(planTest.stdout)")
        #expect(planTest.stderr.contains("nothing was checked"), "\(planTest.stderr)")
    }

    @Test("compile, emit and grad never read the spec's data files; run does")
    func networkOnlyCommandsSkipData() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let spec = oneEdge(extra: "data: {csv: missing.csv}")
        try spec.write(to: folder.appendingPathComponent("net.yaml"), atomically: true, encoding: .utf8)
        for arguments in [["compile", "net.yaml"], ["emit", "c", "net.yaml"], ["grad", "net.yaml", "--input", "1", "--target", "0"]] {
            let result = try bpc(arguments, in: folder)
            #expect(result.status == 0, "bpc \(arguments.joined(separator: " ")): \(result.stderr)")
        }
        let run = try bpc(["run", "net.yaml"], in: folder)
        #expect(run.status == 1)
        #expect(run.stderr.contains("cannot read data file 'missing.csv'"), "\(run.stderr)")
    }

    @Test("emit turns any network name into a valid identifier, and refuses an explicit --prefix that is not one")
    func emitNames() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let spec = oneEdge(extra: "name: \"in\"")
        try spec.write(to: folder.appendingPathComponent("in.yaml"), atomically: true, encoding: .utf8)
        let swift = try bpc(["emit", "swift", "in.yaml"], in: folder)
        #expect(swift.status == 0, "\(swift.stderr)")
        #expect(swift.stdout.contains("public enum in_net {"), "\(swift.stdout)")
        let c = try bpc(["emit", "c", "in.yaml"], in: folder)
        #expect(c.stdout.contains("in_net_forward("), "\(c.stdout)")
        let refused = try bpc(["emit", "swift", "in.yaml", "--prefix", "in"], in: folder)
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("--prefix: the prefix 'in' is a Swift keyword; try 'in_net'"), "\(refused.stderr)")
    }
}
