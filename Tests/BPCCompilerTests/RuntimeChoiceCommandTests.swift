import BPC
import BPCTestSupport
import Foundation
import Testing

/// `bpc run --runtime`: which runtime trains, what `--json` says about it, and the errors when
/// native code is asked for and cannot run.
@Suite("bpc run --runtime")
struct RuntimeChoiceCommandTests {
    /// The JSON object `bpc run --json` printed.
    func report(_ result: Run) throws -> [String: Any] {
        #expect(result.status == 0, "\(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    @Test("the default trains a small online network with native code when a compiler is there, and every runtime reaches the same parameters")
    func defaultIsNative() throws {
        let automatic = try report(try bpc(["run", "specs/xor.yaml", "--json"]))
        let fast = try report(try bpc(["run", "specs/xor.yaml", "--json", "--runtime", "fast"]))
        let reference = try report(try bpc(["run", "specs/xor.yaml", "--json", "--runtime", "reference"]))
        if let compiler = NativeTrainer.defaultCompiler {
            #expect(automatic["runtime"] as? String == "native")
            #expect(automatic["compiler"] as? String == compiler)
            #expect(automatic["kernels"] is NSNull)
        } else {
            #expect(automatic["runtime"] as? String == "fast")
        }
        #expect(fast["runtime"] as? String == "fast")
        #expect(fast["compiler"] is NSNull)
        #expect(reference["runtime"] as? String == "reference")
        let expected = try #require(reference["parameters"] as? [String: Double])
        for other in [automatic, fast] {
            let parameters = try #require(other["parameters"] as? [String: Double])
            for (key, value) in expected { #expect(abs((parameters[key] ?? .nan) - value) <= 1e-9 * max(1, abs(value)), "\(key)") }
        }
    }

    @Test("without a compiler the default quietly uses the fast runtime, and --runtime native says why it cannot run")
    func noCompiler() throws {
        let quiet = try bpc(["run", "specs/xor.yaml", "--json"], environment: ["BPC_CC": ""])
        let object = try report(quiet)
        #expect(object["runtime"] as? String == "fast")
        #expect(object["runtime_note"] == nil)
        let insisted = try bpc(["run", "specs/xor.yaml", "--runtime", "native"], environment: ["BPC_CC": ""])
        #expect(insisted.status == 1)
        #expect(insisted.stderr.contains("error: cannot train with the native runtime: no C compiler found"), "\(insisted.stderr)")
        #expect(!insisted.stdout.contains("trained"))
    }

    @Test("a compiler that fails leaves a note naming it, and the fast runtime trains")
    func failingCompiler() throws {
        let result = try bpc(["run", "specs/xor.yaml", "--json"], environment: ["BPC_CC": "/bin/false"])
        let object = try report(result)
        #expect(object["runtime"] as? String == "fast")
        #expect((object["runtime_note"] as? String)?.contains("/bin/false failed on the generated code") == true, "\(result.stdout)")
        let plain = try bpc(["run", "specs/xor.yaml"], environment: ["BPC_CC": "/bin/false"])
        #expect(plain.status == 0)
        #expect(plain.stderr.contains("note: native code unavailable (/bin/false failed"), "\(plain.stderr)")
    }

    @Test("--runtime native refuses settings its generated step does not do, and more than one thread")
    func nativeRefusals() throws {
        guard NativeTrainer.defaultCompiler != nil else { return }
        let batched = try bpc(["run", "specs/xor.yaml", "--runtime", "native", "--batch-size", "2"])
        #expect(batched.status == 1)
        #expect(batched.stderr.contains("the native runtime trains online (batch_size 1), not in batches of 2"), "\(batched.stderr)")
        let threads = try bpc(["run", "specs/xor.yaml", "--runtime", "native", "--threads", "2"])
        #expect(threads.status == 64)
        #expect(threads.stderr.contains("the native runtime trains on one thread"), "\(threads.stderr)")
        let both = try bpc(["run", "specs/xor.yaml", "--runtime", "fast", "--reference"])
        #expect(both.status == 64)
        let native32 = try report(try bpc(["run", "specs/xor.yaml", "--json", "--runtime", "native", "--precision", "f32"]))
        #expect(native32["runtime"] as? String == "native")
        #expect(native32["precision"] as? String == "f32")
    }

    @Test("a checkpoint written by the native runtime resumes on it bit for bit, and names it when another runtime is asked for")
    func nativeCheckpoints() throws {
        guard NativeTrainer.defaultCompiler != nil else { return }
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let state = folder.appendingPathComponent("xor.ckpt").path
        let whole = try report(try bpc(["run", "specs/xor.yaml", "--json", "--epochs", "300"]))
        _ = try report(try bpc(["run", "specs/xor.yaml", "--json", "--epochs", "120", "--checkpoint", state]))
        let resumed = try report(try bpc(["run", "specs/xor.yaml", "--json", "--epochs", "300", "--resume", state]))
        #expect(resumed["runtime"] as? String == "native")
        #expect((resumed["parameters"] as? [String: Double]) == (whole["parameters"] as? [String: Double]))
        let other = try bpc(["run", "specs/xor.yaml", "--epochs", "300", "--resume", state, "--runtime", "fast"])
        #expect(other.status == 1)
        #expect(other.stderr.contains("it was written by the native runtime (f64)"), "\(other.stderr)")
    }
}
