import BPCTestSupport
import Foundation
import Testing

// `bpc run --checkpoint/--resume` as a user's long run meets it: killed with SIGKILL at any
// moment (also while a checkpoint is being written), stopped with Ctrl-C, resumed later.

private func parameters(_ json: String) throws -> [String: Double] {
    let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    return try #require(object["parameters"] as? [String: Double])
}

/// A spec whose epochs are cheap and many, with shuffling and Adam, so the state a
/// checkpoint must carry is all there.
private let longRun = """
    bpc: 1
    name: long
    defaults: {activation: tanh, bias: true}
    units:
      - {name: x, role: input, count: 2}
      - {name: h, count: 4}
      - {name: y, role: output, activation: sigmoid}
    edges:
      - {from: x, to: h}
      - {from: h, to: y}
    loss: binary_cross_entropy
    data:
      samples:
        - {in: [0, 0], out: [0]}
        - {in: [0, 1], out: [1]}
        - {in: [1, 0], out: [1]}
        - {in: [1, 1], out: [0]}
    train: {epochs: 30000, batch_size: 2, shuffle: true, optimizer: adam, learning_rate: 0.01}
    """

@Suite("bpc run --checkpoint and --resume")
struct CheckpointCommandTests {
    @Test func aRunKilledAtAnyMomentResumesToTheSameParametersBitForBit() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try longRun.write(to: folder.appendingPathComponent("long.yaml"), atomically: true, encoding: .utf8)
        let whole = try bpc(["run", "long.yaml", "--json", "--quiet"], in: folder)
        #expect(whole.status == 0, "\(whole.stderr)")
        // Checkpoints every epoch: a kill lands in the middle of writing one more often than not.
        for delay in [0.4, 0.9] {
            let process = Process()
            process.executableURL = try bpcExecutable()
            process.arguments = ["run", "long.yaml", "--quiet", "--checkpoint", "state.ckpt"]
            process.currentDirectoryURL = folder
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            Thread.sleep(forTimeInterval: delay)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)
            let resumed = try bpc(["run", "long.yaml", "--json", "--quiet", "--resume", "state.ckpt"], in: folder)
            #expect(resumed.status == 0, "\(resumed.stderr)")
            #expect(try parameters(resumed.stdout) == parameters(whole.stdout), "killed after \(delay) s")
            #expect(resumed.stdout.contains("\"resumed_after_epoch\""))
        }
    }

    @Test func ctrlCWritesALastCheckpointThatContinuesTheRun() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try longRun.write(to: folder.appendingPathComponent("long.yaml"), atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = try bpcExecutable()
        process.arguments = ["run", "long.yaml", "--quiet", "--checkpoint", "state.ckpt", "--checkpoint-every", "1000000"]
        process.currentDirectoryURL = folder
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: 0.5)
        kill(process.processIdentifier, SIGINT)
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 130, "\(text)")
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("state.ckpt").path))
        let resumed = try bpc(["run", "long.yaml", "--json", "--quiet", "--resume", "state.ckpt"], in: folder)
        let whole = try bpc(["run", "long.yaml", "--json", "--quiet"], in: folder)
        #expect(try parameters(resumed.stdout) == parameters(whole.stdout))
    }

    @Test func aCheckpointOfAnotherSpecOrADamagedOneIsRefusedWithItsPath() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let xor = packageRoot.appendingPathComponent("specs/xor.yaml").path
        let saved = try bpc(["run", xor, "--epochs", "3", "--quiet", "--checkpoint", "xor.ckpt"], in: folder)
        #expect(saved.status == 0, "\(saved.stderr)")
        let other = try bpc(["run", packageRoot.appendingPathComponent("specs/note1-case1-chain.yaml").path, "--resume", "xor.ckpt"], in: folder)
        #expect(other.status == 1 && other.stderr.contains("another network"), "\(other.stderr)")
        let bytes = try Data(contentsOf: folder.appendingPathComponent("xor.ckpt"))
        try bytes.prefix(bytes.count / 2).write(to: folder.appendingPathComponent("half.ckpt"))
        let truncated = try bpc(["run", xor, "--resume", "half.ckpt"], in: folder)
        #expect(truncated.status == 1 && truncated.stderr.contains("half.ckpt: error: the checkpoint is truncated or damaged"), "\(truncated.stderr)")
        let missing = try bpc(["run", xor, "--resume", "none.ckpt"], in: folder)
        #expect(missing.status == 1 && missing.stderr.contains("none.ckpt: error: cannot read the checkpoint"))
        let runtime = try bpc(["run", xor, "--epochs", "5", "--resume", "xor.ckpt", "--precision", "f32"], in: folder)
        #expect(runtime.status == 1 && runtime.stderr.contains("xor.ckpt: error:") && runtime.stderr.contains("runtime"), "\(runtime.stderr)")
        // Repeating the recorded runtime, or leaving the thread count to bpc, is no change.
        let same = try bpc(["run", xor, "--epochs", "5", "--quiet", "--resume", "xor.ckpt", "--precision", "f64", "--threads", "0"], in: folder)
        #expect(same.status == 0, "\(same.stderr)")
        let done = try bpc(["run", xor, "--epochs", "3", "--resume", "xor.ckpt"], in: folder)
        #expect(done.status == 1 && done.stderr.contains("has done 3 epochs of 3 already"), "\(done.stderr)")
        let lonely = try bpc(["run", xor, "--checkpoint-every", "5"], in: folder)
        #expect(lonely.status == 64, "\(lonely.stderr)")
    }
}
