import BPCPlan
import Foundation
import Testing

/// The `parameters.key` list of a plan as written.
private func writtenKeys(_ plan: Plan) throws -> [String] {
    let document = try JSONSerialization.jsonObject(with: Data(PlanJSON.encode(plan).utf8)) as? [String: Any]
    let parameters = document?["parameters"] as? [String: Any]
    return try #require(parameters?["key"] as? [String])
}

@Suite("parameter keys in plan files")
struct PlanKeysTests {
    @Test("a plan file lists parameterKeys(), written one key at a time, whatever the layout of the slots")
    func keys() throws {
        var biasesReordered = smallPlan()
        biasesReordered.biasParameter = [-1, -1, 5, 4]
        biasesReordered.parameters.append(0.6)
        var escaped = smallPlan()
        escaped.unitNames = ["x\"1", "x\\2", "h\n", "y\u{1}"]
        // No plan that verifies has weights out of fan-in order, but the writer does not rely on it.
        var unordered = smallPlan()
        unordered.fanInParameter = [1, 0, 3, 2]
        var unnamedSlot = smallPlan()
        unnamedSlot.parameters.append(0.7)
        for plan in [smallPlan(), biasesReordered, escaped, unordered, unnamedSlot] {
            #expect(try writtenKeys(plan) == plan.parameterKeys())
        }
    }
}
