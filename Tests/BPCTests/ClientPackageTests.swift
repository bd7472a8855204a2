import BPC
import BPCTestSupport
import Foundation
import Testing

// What a user of the library does: a package of their own that depends on bpc *by version*
// (SwiftPM refuses version dependencies whose products carry unsafe build flags), imports BPC
// and trains with it.

@Suite("a client package depending on bpc by version")
struct ClientPackageTests {
    @Test("builds against a tagged copy of this repository and trains with its default runtime", .timeLimit(.minutes(10)))
    func clientBuildsByVersion() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bpc-client-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }

        // A tagged repository holding this checkout's files as they are (committed or not).
        let library = scratch.appendingPathComponent("bpc")
        let listed = try shell(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], in: packageRoot)
        for file in listed.split(separator: "\0").map(String.init) where !file.hasPrefix("benchmarks/") {
            let source = packageRoot.appendingPathComponent(file)
            guard FileManager.default.fileExists(atPath: source.path) else { continue }  // deleted, not yet committed
            let target = library.appendingPathComponent(file)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: source, to: target)
        }
        for command in [["git", "init", "-q"], ["git", "add", "-A"],
                        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-q", "-m", "copy"],
                        ["git", "tag", "0.2.0"]] {
            _ = try shell(command, in: library)
        }

        // The client: the README's library example as its main.swift.
        let client = scratch.appendingPathComponent("client")
        try FileManager.default.createDirectory(at: client.appendingPathComponent("Sources/client"), withIntermediateDirectories: true)
        let manifest = """
            // swift-tools-version: 6.0
            import PackageDescription
            let package = Package(
                name: "client",
                dependencies: [.package(url: "\(library.absoluteURL.absoluteString)", from: "0.2.0")],
                targets: [.executableTarget(name: "client", dependencies: [.product(name: "BPC", package: "bpc")])]
            )
            """
        try manifest.write(to: client.appendingPathComponent("Package.swift"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(
            at: packageRoot.appendingPathComponent("Examples/LibraryExample/main.swift"),
            to: client.appendingPathComponent("Sources/client/main.swift"))

        _ = try shell(["swift", "build", "--package-path", client.path], in: client)
        let output = try shell([client.appendingPathComponent(".build/debug/client").path, "specs/xor.yaml"], in: packageRoot)
        #expect(output.contains("trained 4000 epochs"), "\(output)")
        // Native code where a C compiler is (the generated step, compiled and loaded from the
        // client's own process), the fast runtime otherwise.
        let runtime = NativeTrainer.defaultCompiler == nil ? "fast (binary64, 1 thread)" : "native (binary64, generated C)"
        #expect(output.contains("on the \(runtime) runtime"), "\(output)")
        #expect(output.contains("accuracy 1.0 on 4 samples"), "\(output)")
    }
}

/// Runs a command (found on PATH) in `folder`; its standard output, or an error with both streams.
private func shell(_ arguments: [String], in folder: URL) throws -> String {
    struct Failed: Error, CustomStringConvertible {
        var description: String
    }
    let result = try runProcess(URL(fileURLWithPath: "/usr/bin/env"), arguments, in: folder)
    guard result.exited, result.status == 0 else {
        throw Failed(description: "\(arguments.joined(separator: " ")) failed (\(result.status)):\n\(result.stdout)\n\(result.stderr)")
    }
    return result.stdout
}
