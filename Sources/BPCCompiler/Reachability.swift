import BPCPlan
import BPCSpec

extension Compilation {
    /// Warnings about units that cannot matter: ones no input reaches (their value is a constant
    /// from biases alone) and ones that reach no output (their weights never get a gradient).
    public func reachabilityWarnings(file: String) -> [Diagnostic] {
        let n = plan.unitCount
        var fromInput = [Bool](repeating: false, count: n)
        for unit in 0..<n {
            if plan.roles[unit] == .input {
                fromInput[unit] = true
                continue
            }
            for edge in Int(plan.fanInStart[unit])..<Int(plan.fanInStart[unit + 1]) where fromInput[Int(plan.fanInSource[edge])] {
                fromInput[unit] = true
                break
            }
        }
        var toOutput = [Bool](repeating: false, count: n)
        for unit in stride(from: n - 1, through: 0, by: -1) {
            if plan.roles[unit] == .output {
                toOutput[unit] = true
                continue
            }
            for slot in Int(plan.fanOutStart[unit])..<Int(plan.fanOutStart[unit + 1]) where toOutput[Int(plan.fanOutTarget[slot])] {
                toOutput[unit] = true
                break
            }
        }
        var warnings: [Diagnostic] = []
        for unit in 0..<n {
            let name = plan.unitNames[unit]
            if !fromInput[unit] {
                warnings.append(Diagnostic(file: file, position: unitPositions[unit], severity: .warning,
                                           message: "no input reaches unit '\(name)'; its value does not depend on the sample"))
            }
            if !toOutput[unit] {
                warnings.append(Diagnostic(file: file, position: unitPositions[unit], severity: .warning,
                                           message: "unit '\(name)' reaches no output; it cannot affect the loss and its weights never learn"))
            }
        }
        return warnings
    }
}
