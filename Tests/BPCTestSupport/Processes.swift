import Foundation

/// What one run of a child process did.
public struct ProcessRun: Sendable {
    public var status: Int32
    /// False when a signal ended the process.
    public var exited: Bool
    public var stdout: String
    public var stderr: String
}

/// Runs an executable with `arguments` in `folder`, capturing both streams through files (so a
/// large output cannot fill a pipe and block the child); standard input is empty.
/// `environment` adds to (or, with an empty value, sets empty) this process's variables.
public func runProcess(_ executable: URL, _ arguments: [String], in folder: URL, environment: [String: String] = [:]) throws -> ProcessRun {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bpc-process-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let outURL = scratch.appendingPathComponent("stdout")
    let errURL = scratch.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    process.currentDirectoryURL = folder
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    try out.close()
    try err.close()
    return ProcessRun(
        status: process.terminationStatus,
        exited: process.terminationReason == .exit,
        stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
        stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
}
