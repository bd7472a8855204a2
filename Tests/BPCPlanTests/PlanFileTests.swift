import BPCPlan
import Foundation
import Testing

/// Decodes, turning a rejection into its message.
private func decode(_ text: String) -> Result<Plan, PlanFileError> {
    do {
        return .success(try PlanJSON.decode(Array(text.utf8)))
    } catch {
        return .failure(error)
    }
}

private func message(_ text: String) -> String? {
    if case .failure(let error) = decode(text) { return error.message }
    return nil
}

@Suite("plan files")
struct PlanFileTests {
    @Test("a written plan reads back identical, parameters to the bit")
    func roundTrip() throws {
        var plan = smallPlan()
        plan.parameters = [0.1, -1.0 / 3.0, 5e-324, 1.7976931348623157e308, -0.0]
        let text = PlanJSON.encode(plan)
        let read = try PlanJSON.decode(Array(text.utf8))
        #expect(read == plan)
        #expect(read.parameters.map(\.bitPattern) == plan.parameters.map(\.bitPattern))
    }

    /// Each corruption of the written text with the message fragment it must produce.
    static let corruptions: [(name: String, from: String, to: String, fragment: String)] = [
        ("index out of range", "\"source\": [0, 1, 0, 2]", "\"source\": [0, 1, 0, 99]", "does not come before it"),
        ("negative index", "\"source\": [0, 1, 0, 2]", "\"source\": [0, -1, 0, 2]", "does not come before it"),
        ("truncated array", "\"source\": [0, 1, 0, 2]", "\"source\": [0, 1, 0]", "fan_in.start ends at 4 but there are 3 edges"),
        ("truncated start", "\"start\": [0, 0, 0, 2, 4]", "\"start\": [0, 0, 0, 2]", "fan_in.start has 4 entries"),
        ("swapped order", "\"name\": [\"x1\", \"x2\", \"h\", \"y\"]", "\"name\": [\"x1\", \"x2\", \"y\", \"h\"]", "keys do not match"),
        ("swapped fan-out", "\"target\": [2, 3, 2, 3]", "\"target\": [3, 2, 2, 3]", "does not match fan-in edge"),
        ("NaN written as null", "\"value\": [0.1", "\"value\": [null", "null where a number belongs"),
        ("NaN written as text", "\"value\": [0.1", "\"value\": [NaN", "expected a number"),
        ("infinite number", "\"value\": [0.1", "\"value\": [1e999", "out of range"),
        ("wrong version", "\"version\": 1", "\"version\": 2", "plan format version 2 is not supported"),
        ("wrong format", "\"format\": \"bpc-plan\"", "\"format\": \"other\"", "format is \"other\""),
        ("unknown activation", "\"tanh\"", "\"tanhh\"", "unknown activation \"tanhh\""),
        ("unknown loss", "\"binary_cross_entropy\"", "\"hinge\"", "unknown loss \"hinge\""),
        ("missing key", "\"inputs\": [0, 1],", "", "is missing \"inputs\""),
        ("duplicate key", "\"name\": \"small\",", "\"name\": \"small\", \"name\": \"again\",", "duplicate key \"name\""),
        ("unknown key", "\"name\": \"small\",", "\"name\": \"small\", \"extra\": 1,", "unknown key \"extra\""),
        ("fractional index", "\"inputs\": [0, 1]", "\"inputs\": [0, 1.5]", "expected an integer index"),
        ("huge index", "\"inputs\": [0, 1]", "\"inputs\": [0, 99999999999]", "expected an integer index"),
        ("string for number", "\"inputs\": [0, 1]", "\"inputs\": [0, \"1\"]", "expected a number"),
        ("key count", "\"key\": [\"x1->h\", ", "\"key\": [", "keys for 5 values"),
        ("bias index", "\"bias_parameter\": [-1, -1, 4, -1]", "\"bias_parameter\": [-1, -1, 9, -1]", "bias parameter 9"),
        ("input with a bias", "\"bias_parameter\": [-1, -1, 4, -1]", "\"bias_parameter\": [4, -1, -1, -1]", "input unit x1 has a bias"),
        ("trailing text", "\n}\n", "\n} {}\n", "text after the plan's closing brace"),
    ]

    @Test("each corruption of a plan file is rejected with a message naming what is wrong", arguments: corruptions.indices)
    func corruption(index: Int) {
        let corruption = PlanFileTests.corruptions[index]
        let text = PlanJSON.encode(smallPlan())
        #expect(text.contains(corruption.from), "\(corruption.name): fixture text not found")
        let broken = text.replacingOccurrences(of: corruption.from, with: corruption.to)
        let reported = message(broken)
        #expect(reported?.contains(corruption.fragment) == true, "\(corruption.name): \(reported ?? "accepted")")
    }

    @Test("text that is not a plan is rejected, wherever it is cut")
    func notJSON() {
        #expect(message("")?.contains("not JSON") == true)
        #expect(message("bpc: 1\nunits: []")?.contains("not JSON") == true)
        #expect(message("[1, 2]")?.contains("not JSON") == true)
        let text = PlanJSON.encode(smallPlan())
        // Every cut that loses the closing brace (the last two bytes are "}\n").
        for cut in stride(from: 0, to: text.utf8.count - 2, by: 3) {
            let prefix = String(decoding: Array(text.utf8)[0..<cut], as: UTF8.self)
            #expect(message(prefix) != nil, "accepted a file cut at byte \(cut)")
        }
    }

    @Test("random byte damage never crashes the reader, and whatever it accepts verifies")
    func randomDamage() {
        let original = Array(PlanJSON.encode(smallPlan()).utf8)
        var generator = SeededGenerator(seed: 99)
        let alphabet = Array("0123456789-.,:[]{}\"e+ntrufals\\".utf8) + [0, 0xFF, 0x0A]
        for _ in 0..<3000 {
            var bytes = original
            for _ in 0..<(1 + generator.nextIndex(below: 4)) {
                let at = generator.nextIndex(below: bytes.count)
                switch generator.nextIndex(below: 3) {
                case 0: bytes[at] = alphabet[generator.nextIndex(below: alphabet.count)]
                case 1: bytes.remove(at: at)
                default: bytes.insert(alphabet[generator.nextIndex(below: alphabet.count)], at: at)
                }
            }
            if let plan = try? PlanJSON.decode(bytes) {
                #expect((try? plan.verify()) != nil)
            }
        }
    }

    @Test("values nested without end in an ignored key are rejected, not followed")
    func deepNesting() {
        let text = PlanJSON.encode(smallPlan()).replacingOccurrences(
            of: "\"summary\": {", with: "\"summary\": {\"deep\": \(String(repeating: "[", count: 100_000))1\(String(repeating: "]", count: 100_000)), ")
        #expect(message(text)?.contains("nested too deep") == true)
    }
}
