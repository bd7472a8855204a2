import ArgumentParser
import BPC
import Foundation

/// The limits every command that reads a spec accepts.
struct LimitOptions: ParsableArguments {
    @Option(help: "Deepest YAML nesting accepted.")
    var maxDepth: Int = Limits().maxDepth
    @Option(help: "Largest spec file in bytes.")
    var maxFileSize: Int = Limits().maxFileSize
    @Option(help: "Longest YAML scalar in bytes.")
    var maxScalarLength: Int = Limits().maxScalarLength
    @Option(help: "Most units after groups are expanded.")
    var maxUnits: Int = Limits().maxUnits
    @Option(help: "Most edges, counting those group entries create.")
    var maxEdges: Int = Limits().maxEdges

    var limits: Limits {
        var limits = Limits()
        limits.maxDepth = maxDepth
        limits.maxFileSize = maxFileSize
        limits.maxScalarLength = maxScalarLength
        limits.maxUnits = maxUnits
        limits.maxEdges = maxEdges
        return limits
    }

    func validate() throws {
        for (value, option) in [(maxDepth, "--max-depth"), (maxFileSize, "--max-file-size"), (maxScalarLength, "--max-scalar-length"),
                                (maxUnits, "--max-units"), (maxEdges, "--max-edges")] where value < 1 {
            throw ValidationError("\(option) must be at least 1")
        }
    }
}

extension CompletionKind {
    /// Shell completion for a SPEC argument: spec and plan files.
    static var specOrPlan: CompletionKind { .file(extensions: ["yaml", "yml", "json"]) }
}

/// Writes text to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Prints every problem of a failed load (in source order) to standard error.
func report(_ failure: LoadFailure) {
    for diagnostic in failure.diagnostics { printError(diagnostic.description) }
}

/// Loads a spec or plan through the library's pipeline, or reports every problem on standard
/// error and exits with status 1.
func loadModel(_ path: String, limits: Limits, overrides: TrainingOverrides = TrainingOverrides(), loadsData: Bool) throws -> Model {
    do {
        return try Model(contentsOf: path, options: LoadOptions(limits: limits, overrides: overrides, loadsData: loadsData))
    } catch {
        report(error)
        // A network another tool saved is read by bpc import, not as a spec.
        if let format = ForeignFormat.allCases.first(where: { path.lowercased().hasSuffix(".\($0.fileExtension)") }) {
            printError("\(path): note: to read a network saved by another tool, import it first: bpc import \(format.rawValue) \(path) -o spec.yaml")
        }
        throw ExitCode(1)
    }
}

/// Runs a library call that may refuse (wrong sizes, no data, divergence): its error is
/// reported as `PATH: error: MESSAGE` with exit status 1.
func reporting<T>(_ path: String, _ body: () throws(ModelError) -> T) throws -> T {
    do {
        return try body()
    } catch {
        printError("\(path): error: \(error)")
        throw ExitCode(1)
    }
}

/// Checks before any work that `path` can be written: not a folder, and a file can be created
/// beside it (the temporary file `writeAtomically` will use, made and removed here), which
/// also catches read-only and virtual file systems. A run that would fail to save its result
/// fails up front instead. A path that names one of `inputs` (the same file, by any name) is
/// refused too: the command would replace what it reads.
func checkWritable(_ path: String, besides inputs: [String] = []) throws {
    var status = stat()
    let exists = stat(path, &status) == 0
    var problem: String?
    var inputStatus = stat()
    if path.isEmpty {
        problem = "the path is empty"
    } else if exists, let input = inputs.first(where: {
        stat($0, &inputStatus) == 0 && inputStatus.st_dev == status.st_dev && inputStatus.st_ino == status.st_ino
    }) {
        problem = "it is the input file \(input); write to another file"
    } else if exists && (status.st_mode & S_IFMT) == S_IFDIR {
        problem = "it is a folder"
    } else if exists && (status.st_mode & S_IFMT) != S_IFREG {
        // A device or pipe (-o /dev/stdout) is written in place.
        if access(path, W_OK) != 0 { problem = String(cString: strerror(errno)) }
    } else {
        let probe = temporaryPath(for: path)
        let descriptor = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        if descriptor >= 0 {
            close(descriptor)
            unlink(probe)
        } else {
            let reason = errno
            let folder = path.lastIndex(of: "/").map { String(path[..<$0]) }.map { $0.isEmpty ? "/" : $0 } ?? "."
            var folderStatus = stat()
            problem = stat(folder, &folderStatus) != 0 ? "the folder \(folder) does not exist" : String(cString: strerror(reason))
        }
    }
    if let problem {
        printError("\(path): error: cannot write the file: \(problem)")
        throw ExitCode(1)
    }
}

/// The temporary file a write of `path` goes through before it is renamed into place.
func temporaryPath(for path: String) -> String { path + ".bpc-\(getpid()).tmp" }

/// "0.5,-1,2" -> [0.5, -1, 2], or a usage error naming the option.
func parseNumbers(_ text: String, option: String) throws -> [Double] {
    let fields = text.split(separator: ",", omittingEmptySubsequences: false)
    return try fields.map { field in
        let trimmed = field.trimmingCharacters(in: .whitespaces)
        guard case .number(let value) = ScalarValue(plain: trimmed), value.isFinite else {
            throw ValidationError("\(option): '\(trimmed)' is not a number (give comma-separated numbers, like 0,1.5,-2)")
        }
        return value
    }
}

/// Writes a file so that it appears whole or not at all (a temporary file renamed into place).
func writeAtomically(_ text: String, to path: String) throws {
    try writeAtomically(to: path) { emit in emit(text) }
}

/// Writes bytes the same way (checkpoints).
func writeAtomically(bytes: [UInt8], to path: String) throws {
    try writeBytesAtomically(to: path) { emit in
        bytes.withUnsafeBytes { emit($0) }
    }
}

/// Writes the chunks `produce` emits to `path` (text).
func writeAtomically(to path: String, _ produce: ((String) -> Void) -> Void) throws {
    try writeBytesAtomically(to: path) { emit in
        withoutActuallyEscaping(emit) { emit in
            produce { chunk in
                var chunk = chunk
                chunk.withUTF8 { emit(UnsafeRawBufferPointer($0)) }
            }
        }
    }
}

/// Writes the byte chunks `produce` emits to `path`: into a temporary file beside it, renamed
/// over `path` only when every byte is written, so a failure (or a kill) leaves the old file
/// (or none) and readers never see half a file. Devices and pipes (`-o /dev/stdout`) are
/// written directly.
func writeBytesAtomically(to path: String, _ produce: ((UnsafeRawBufferPointer) -> Void) -> Void) throws {
    var status = stat()
    let isSpecial = stat(path, &status) == 0 && (status.st_mode & S_IFMT) != S_IFREG
    let temporary = isSpecial ? path : temporaryPath(for: path)
    let descriptor = isSpecial ? open(path, O_WRONLY) : open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    guard descriptor >= 0 else {
        printError("\(path): error: cannot write the file: \(String(cString: strerror(errno)))")
        throw ExitCode(1)
    }
    var failure: Int32 = 0
    produce { bytes in
        guard failure == 0, let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, base + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                failure = errno
                return
            }
            offset += written
        }
    }
    if close(descriptor) != 0 && failure == 0 { failure = errno }
    if failure == 0 && !isSpecial && rename(temporary, path) != 0 { failure = errno }
    if failure != 0 {
        if !isSpecial { unlink(temporary) }
        printError("\(path): error: cannot write the file: \(String(cString: strerror(failure)))")
        throw ExitCode(1)
    }
}

/// Left-aligned text columns for terminal tables.
func table(_ rows: [[String]]) -> String {
    guard let width = rows.map(\.count).max() else { return "" }
    var widths = [Int](repeating: 0, count: width)
    for row in rows {
        for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.count) }
    }
    return rows.map { row in
        row.enumerated().map { column, cell in
            column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}

/// Shortest text that reads back to the same binary64.
func number(_ value: Double) -> String { value.description }

/// A usage error found only once the network is loaded (a wrong number of values): said as
/// argument parsing says its own (exit status 64), pointing at the subcommand's help.
func usageError(_ message: String, command: String) throws -> Never {
    printError("Error: \(message)\n  See 'bpc \(command) --help' for more information.")
    throw ExitCode(64)
}

/// `--input` and `--target` as numbers, checked against the network's widths: a wrong count is
/// a usage error (64) pointing at `command`'s help, as argument parsing reports its own.
func sample(input: String, target: String, for model: Model, command: String) throws -> (input: [Double], target: [Double]) {
    let inputs = try parseNumbers(input, option: "--input")
    let targets = try parseNumbers(target, option: "--target")
    guard inputs.count == model.inputNames.count else {
        try usageError("--input has \(counted(inputs.count, "value")) but the network has \(counted(model.inputNames.count, "input"))", command: command)
    }
    guard targets.count == model.outputNames.count else {
        try usageError("--target has \(counted(targets.count, "value")) but the network has \(counted(model.outputNames.count, "output"))", command: command)
    }
    return (inputs, targets)
}
