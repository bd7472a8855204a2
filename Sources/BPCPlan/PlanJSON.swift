/// Writes a plan as a versioned JSON document (schema: docs/plan-format.md).
///
/// The arrays are written directly rather than through `JSONValue`, and `write` hands the text
/// out in chunks of about a megabyte, so a plan with millions of edges never exists as one
/// string or as a tree of millions of values.
public enum PlanJSON {
    /// The value of the document's `format` key.
    public static let formatName = "bpc-plan"

    /// The whole document as one string.
    public static func encode(_ plan: Plan) -> String {
        var text = ""
        write(plan) { text += $0 }
        return text
    }

    /// Passes the document to `emit` in consecutive chunks.
    public static func write(_ plan: Plan, to emit: (String) -> Void) {
        withoutActuallyEscaping(emit) { emit in
            var out = ChunkedText(emit: emit)
            write(plan, into: &out)
            out.flush()
        }
    }

    private static func write(_ plan: Plan, into out: inout ChunkedText) {
        out += "{\n"
        out += "  \"format\": \"\(formatName)\",\n"
        out += "  \"version\": \(Plan.formatVersion),\n"
        out += "  \"name\": "
        JSONText.appendString(plan.name, to: &out.buffer)
        out += ",\n  \"loss\": \"\(plan.loss.name)\",\n"
        out += "  \"units\": {\n    \"name\": "
        appendStrings(plan.unitNames, to: &out)
        out += ",\n    \"role\": "
        appendStrings(plan.roles.map(\.rawValue), to: &out)
        out += ",\n    \"activation\": "
        appendStrings(plan.activations.map(\.name), to: &out)
        out += ",\n    \"bias_parameter\": "
        appendIntegers(plan.biasParameter, to: &out)
        out += "\n  },\n  \"inputs\": "
        appendIntegers(plan.inputUnits, to: &out)
        out += ",\n  \"outputs\": "
        appendIntegers(plan.outputUnits, to: &out)
        out += ",\n  \"fan_in\": {\n    \"start\": "
        appendIntegers(plan.fanInStart, to: &out)
        out += ",\n    \"source\": "
        appendIntegers(plan.fanInSource, to: &out)
        out += ",\n    \"parameter\": "
        appendIntegers(plan.fanInParameter, to: &out)
        out += "\n  },\n  \"fan_out\": {\n    \"start\": "
        appendIntegers(plan.fanOutStart, to: &out)
        out += ",\n    \"target\": "
        appendIntegers(plan.fanOutTarget, to: &out)
        out += ",\n    \"parameter\": "
        appendIntegers(plan.fanOutParameter, to: &out)
        out += "\n  },\n  \"parameters\": {\n    \"key\": "
        appendParameterKeys(plan, to: &out)
        out += ",\n    \"value\": "
        appendNumbers(plan.parameters, to: &out)
        if let shared = plan.sharedWith {
            out += ",\n    \"shared\": "
            appendIntegers(shared, to: &out)
        }
        out += "\n  },\n"
        writeDataLayout(plan, into: &out)
        let summary = plan.summary
        out += "  \"summary\": {"
        out += "\"units\": \(summary.units), \"edges\": \(summary.edges), \"parameters\": \(summary.parameters), "
        out += "\"parameter_bytes\": \(summary.parameterBytes), \"activation_bytes_per_sample\": \(summary.activationBytesPerSample)"
        out += "}\n}\n"
    }

    /// The optional keys a plan keeps from its data, each written only when present, so a
    /// plan without them is byte for byte what earlier versions wrote.
    private static func writeDataLayout(_ plan: Plan, into out: inout ChunkedText) {
        if let columns = plan.columns {
            out += "  \"columns\": {"
            for (index, mapping) in columns.enumerated() {
                if index > 0 { out += ", " }
                JSONText.appendString(mapping.header, to: &out.buffer)
                out += ": "
                JSONText.appendString(mapping.unit, to: &out.buffer)
            }
            out += "},\n"
        }
        if let labels = plan.classLabels {
            out += "  \"classes\": {\"column\": "
            JSONText.appendString(labels.column, to: &out.buffer)
            out += ", \"names\": "
            appendStrings(labels.names, to: &out)
            out += "},\n"
        }
        if let normalization = plan.inputNormalization {
            out += "  \"normalization\": {\"method\": \"\(normalization.method.rawValue)\", \"shift\": "
            appendNumbers(normalization.shift, to: &out)
            out += ", \"scale\": "
            appendNumbers(normalization.scale, to: &out)
            out += "},\n"
        }
    }

    private static func appendNumbers(_ values: [Double], to out: inout ChunkedText) {
        appendList(values, to: &out) { JSONText.appendNumber($0, to: &$1) }
    }

    private static func appendStrings(_ values: [String], to out: inout ChunkedText) {
        appendList(values, to: &out) { JSONText.appendString($0, to: &$1) }
    }

    /// `[a, b, ...]`, flushing the chunk buffer as it fills (a plan may hold millions of values).
    private static func appendList<Value>(_ values: [Value], to out: inout ChunkedText, _ append: (Value, inout String) -> Void) {
        out += "["
        for (index, value) in values.enumerated() {
            if index > 0 { out += ", " }
            append(value, &out.buffer)
            out.flushIfFull()
        }
        out += "]"
    }

    /// `plan.parameterKeys()`, made one key at a time: as an array, a plan of 10^6 edges holds
    /// 10^6 key strings (about 70 MB) at once. Keys of edges come in fan-in order, which is
    /// slot order in every plan that `verify()` accepts; a plan laid out otherwise is written
    /// from the array.
    private static func appendParameterKeys(_ plan: Plan, to out: inout ChunkedText) {
        let edgeCount = plan.edgeCount
        let start = plan.fanInStart
        let inFanInOrder = start.count == plan.unitCount + 1 && start.first == 0 && start.last == Int32(edgeCount)
            && zip(start, start.dropFirst()).allSatisfy { $0 <= $1 }
            && plan.fanInParameter.count == edgeCount && plan.fanInParameter.enumerated().allSatisfy { $1 == Int32($0) }
            && plan.parameterCount >= edgeCount
            && plan.biasParameter.allSatisfy { $0 == -1 || (Int($0) >= edgeCount && Int($0) < plan.parameterCount) }
        guard inFanInOrder else {
            appendStrings(plan.parameterKeys(), to: &out)
            return
        }
        // The unit whose bias each slot after the weights is (a later unit wins, as in
        // `parameterKeys()`), or -1.
        var biasOwner = [Int32](repeating: -1, count: plan.parameterCount - edgeCount)
        for (unit, slot) in plan.biasParameter.enumerated() where slot >= 0 { biasOwner[Int(slot) - edgeCount] = Int32(unit) }
        out += "["
        for unit in 0..<plan.unitCount {
            for edge in Int(start[unit])..<Int(start[unit + 1]) {
                out.buffer += edge > 0 ? ", \"" : "\""
                JSONText.appendStringContents(plan.unitNames[Int(plan.fanInSource[edge])], to: &out.buffer)
                out.buffer += "->"
                JSONText.appendStringContents(plan.unitNames[unit], to: &out.buffer)
                out.buffer += "\""
                out.flushIfFull()
            }
        }
        for (index, owner) in biasOwner.enumerated() {
            if index + edgeCount > 0 { out.buffer += ", " }
            JSONText.appendString(owner >= 0 ? plan.unitNames[Int(owner)] + ".bias" : "", to: &out.buffer)
            out.flushIfFull()
        }
        out += "]"
    }

    private static func appendIntegers(_ values: [Int32], to out: inout ChunkedText) {
        out += "["
        for (index, value) in values.enumerated() {
            if index > 0 { out += ", " }
            out += String(value)
        }
        out += "]"
    }
}

/// A string buffer that hands its text on whenever it passes a megabyte.
private struct ChunkedText {
    static let chunkSize = 1 << 20
    var buffer = ""
    let emit: (String) -> Void

    init(emit: @escaping (String) -> Void) {
        self.emit = emit
        buffer.reserveCapacity(ChunkedText.chunkSize + 4096)
    }

    static func += (text: inout ChunkedText, piece: String) {
        text.buffer += piece
        text.flushIfFull()
    }

    mutating func flushIfFull() {
        if buffer.utf8.count >= ChunkedText.chunkSize { flush() }
    }

    mutating func flush() {
        guard !buffer.isEmpty else { return }
        emit(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}
