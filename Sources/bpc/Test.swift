import ArgumentParser
import BPC
import Foundation

struct Test: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the expect entries of specs: one line per entry, then 'N passed, M failed'.",
        discussion: """
            PATH is a spec or a folder searched recursively for *.yaml and *.yml files (default: specs/). \
            A run that checks nothing (no spec found, or no expect entry in any of them; a plan file \
            carries none) says so and exits with status 1.
            """
    )

    @Argument(help: "Specs (or plans) and folders of them.", completion: .file(extensions: ["yaml", "yml", "json"]))
    var paths: [String] = []
    @Flag(help: "Print one JSON object.")
    var json = false
    @OptionGroup var limits: LimitOptions

    func run() throws {
        let files = try specFiles(paths.isEmpty ? ["specs"] : paths)
        var results: [ExpectationResult] = []
        var rejected: [(String, String)] = []
        var unchecked: [String] = []
        for file in files {
            let model: Model
            do {
                model = try Model(contentsOf: file, options: LoadOptions(limits: limits.limits))
            } catch {
                if !json { report(error) }
                rejected.append((file, error.diagnostics.first?.description ?? "rejected"))
                continue
            }
            let specResults = model.runExpectations()
            if specResults.isEmpty {
                unchecked.append(file)
                if !json { print("SKIP \(file): \(model.spec == nil ? "a plan file has no expect entries" : "no expect entries")") }
            }
            if !json {
                for result in specResults {
                    print("\(result.ok ? "PASS" : "FAIL") \(result.spec):\(result.position.line) expect[\(result.index)]: \(result.message)")
                }
            }
            results += specResults
        }
        let passed = results.filter(\.ok).count
        let failed = results.count - passed + rejected.count
        let checkedNothing = results.isEmpty && rejected.isEmpty
        if json {
            var entries: [JSONValue] = results.map { result in
                .object([("spec", .string(result.spec)), ("index", .integer(result.index)),
                         ("ok", .bool(result.ok)), ("message", .string(result.message))])
            }
            entries += rejected.map { file, message in
                .object([("spec", .string(file)), ("index", .null), ("ok", .bool(false)), ("message", .string(message))])
            }
            print(JSONValue.object([
                ("passed", .integer(passed)), ("failed", .integer(failed)),
                ("unchecked", .array(unchecked.map(JSONValue.string))), ("results", .array(entries)),
            ]).serialized())
        } else {
            for (file, _) in rejected { print("FAIL \(file): the spec was rejected") }
            print("\(passed) passed, \(failed) failed")
        }
        if checkedNothing {
            let named = (paths.isEmpty ? ["specs"] : paths).joined(separator: ", ")
            printError(files.isEmpty
                ? "error: nothing was checked: no spec (*.yaml, *.yml) in \(named)"
                : "error: nothing was checked: no expect entries in \(files.count == 1 ? files[0] : "\(files.count) files")")
            throw ExitCode(1)
        }
        if failed > 0 { throw ExitCode(1) }
    }

    /// The spec files named, with folders expanded (sorted, so runs are reproducible).
    private func specFiles(_ paths: [String]) throws -> [String] {
        var files: [String] = []
        let manager = FileManager.default
        for path in paths {
            var isFolder: ObjCBool = false
            guard manager.fileExists(atPath: path, isDirectory: &isFolder) else {
                printError("\(path): error: no such file or folder")
                throw ExitCode(1)
            }
            guard isFolder.boolValue else {
                files.append(path)
                continue
            }
            let found = (manager.enumerator(atPath: path)?.compactMap { $0 as? String } ?? [])
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
                .sorted()
            files += found.map { (path.hasSuffix("/") ? path : path + "/") + $0 }
        }
        return files
    }
}
