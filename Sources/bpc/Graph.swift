import ArgumentParser
import BPC
import Foundation

struct Graph: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw the network as Graphviz DOT: units grouped by role and ranked by depth, edges coloured and sized by weight.",
        discussion: """
            Prints DOT on standard output, or writes it with -o net.dot. With -o net.svg, net.png or \
            net.pdf the drawing is rendered through Graphviz's dot, which must be installed. With \
            --input and --target every unit also shows z and delta for that sample, and every edge \
            dE/dw. Negative values work as --input -1,0.5.
            """
    )

    @Argument(help: "The spec (YAML) or plan (JSON).", completion: .specOrPlan)
    var spec: String
    @Option(name: .shortAndLong, help: "Where to write the drawing: DOT text, or a rendered .svg, .png or .pdf; standard output when omitted.",
            completion: .file(extensions: ["dot", "gv", "svg", "png", "pdf"]))
    var output: String?
    @Option(parsing: .unconditional, help: "A sample's inputs, comma-separated, in input-unit order (with --target).")
    var input: String?
    @Option(parsing: .unconditional, help: "The sample's targets, comma-separated, in output-unit order (with --input).")
    var target: String?
    @Flag(inversion: .prefixedNo, help: "Label every edge with its weight (default: only networks of at most \(DOTOptions.edgeLabelLimit) edges; edges always have tooltips).")
    var edgeLabels: Bool?
    @OptionGroup var limits: LimitOptions

    func validate() throws {
        if (input == nil) != (target == nil) { throw ValidationError("--input and --target go together: give both or neither") }
        if let input { _ = try parseNumbers(input, option: "--input") }
        if let target { _ = try parseNumbers(target, option: "--target") }
        // DOT text in a file named like an image would fool every viewer that opens it.
        if let output, RenderedFormat(path: output) == nil, let dot = output.lastIndex(of: "."), !output[dot...].contains("/"),
           ![".dot", ".gv"].contains(output[dot...].lowercased()) {
            throw ValidationError("-o: '\(output[dot...])' is no format bpc graph writes; use .dot or .gv (DOT text), .svg, .png or .pdf")
        }
    }

    func run() throws {
        // Every check that needs no network comes first: nothing is loaded for a drawing that
        // could not be written.
        var renderer: (dot: URL, format: RenderedFormat)?
        if let output {
            try checkWritable(output, besides: [spec])
            if let format = RenderedFormat(path: output) {
                guard let dot = executableOnPath(named: "dot") else {
                    printError("\(output): error: Graphviz's `dot` is not installed; install it with `apt-get install graphviz` "
                               + "(Debian/Ubuntu) or `brew install graphviz` (macOS), or write DOT with -o net.dot")
                    throw ExitCode(1)
                }
                renderer = (dot, format)
            }
        }
        let model = try loadModel(spec, limits: limits.limits, loadsData: false)
        var values: (input: [Double], target: [Double])?
        if let input, let target { values = try sample(input: input, target: target, for: model, command: "graph") }
        let options = DOTOptions(edgeLabels: edgeLabels)
        let text = try reporting(spec) { () throws(ModelError) in try model.dot(input: values?.input, target: values?.target, options: options) }
        guard let output else {
            print(text, terminator: "")
            return
        }
        if let renderer {
            try render(text, with: renderer.dot, format: renderer.format, to: output)
        } else {
            try writeAtomically(text, to: output)
        }
        let summary = model.plan.summary
        print("wrote \(output): \(summary.units) units, \(summary.edges) edges")
    }

}

/// A file format Graphviz renders the DOT text into, chosen by the output's extension.
private enum RenderedFormat: String {
    case svg, png, pdf

    /// Nil for every other extension (`.dot`, `.gv`, none), which get the DOT text itself.
    init?(path: String) {
        guard let dot = path.lastIndex(of: "."), !path[dot...].contains("/") else { return nil }
        self.init(rawValue: path[path.index(after: dot)...].lowercased())
    }
}

/// Runs `dot` on `text` into `path`, through a temporary file beside it renamed into place
/// once `dot` succeeds, so a failed rendering leaves the old file (or none). The DOT text goes
/// through a temporary file too, so that neither of `dot`'s streams can block on a full pipe
/// while the other is being written. Devices and pipes are rendered into directly.
private func render(_ text: String, with dot: URL, format: RenderedFormat, to path: String) throws {
    let source = temporaryPath(for: path) + ".dot"
    try writeAtomically(text, to: source)
    defer { unlink(source) }
    var status = stat()
    let isSpecial = stat(path, &status) == 0 && (status.st_mode & S_IFMT) != S_IFREG
    let destination = isSpecial ? path : temporaryPath(for: path)
    let process = Process()
    process.executableURL = dot
    process.arguments = ["-T\(format.rawValue)", "-o", destination, source]
    let errors = Pipe()
    process.standardError = errors
    process.standardInput = FileHandle.nullDevice
    do {
        try process.run()
    } catch {
        printError("\(path): error: cannot run \(dot.path): \(error.localizedDescription)")
        throw ExitCode(1)
    }
    let messages = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let succeeded = process.terminationReason == .exit && process.terminationStatus == 0
    if !messages.isEmpty { printError(messages.hasSuffix("\n") ? String(messages.dropLast()) : messages) }
    if succeeded && (isSpecial || rename(destination, path) == 0) { return }
    let reason = succeeded ? String(cString: strerror(errno)) : "dot failed (status \(process.terminationStatus))"
    if !isSpecial { unlink(destination) }
    printError("\(path): error: cannot write the drawing: \(reason)")
    throw ExitCode(1)
}

/// The first executable file called `name` in a folder of `PATH`, as a shell would find it;
/// empty entries (the working directory) are skipped, so a stray file there is never run.
private func executableOnPath(named name: String) -> URL? {
    let folders = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":") ?? []
    for folder in folders {
        let candidate = folder + "/" + name
        var status = stat()
        if stat(candidate, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 {
            return URL(fileURLWithPath: candidate)
        }
    }
    return nil
}
