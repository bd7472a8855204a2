import BPCSpec

/// The text of a FANN network file (`fann_save`'s floating-point format, `FANN_FLO_2.1`) read
/// into numbers with their positions, before any meaning is checked.
///
/// FANN's own reader expects the keys in one fixed order; this one takes them in any order and
/// skips the training settings bpc does not use, so that a file is rejected only for what would
/// change the network. Everything is read as bytes: fann_save writes only ASCII, and a file with
/// anything else is rejected first, so that a column is a byte offset in its line. Every array is built from what the text holds,
/// never from a count the file states, so a hostile count cannot cause a large allocation.
struct FANNNetworkFile {
    struct Entry {
        var line: Int
        /// Byte offsets of the value (after `=`) in `bytes`.
        var value: Range<Int>
    }

    /// One `(...)` of the neurons or connections line: its fields and where each starts.
    struct Tuple {
        var start: Int
        var fields: [Range<Int>]
    }

    let file: String
    let bytes: [UInt8]
    /// The byte offset where each line starts (line n starts at `lineStarts[n - 1]`).
    private(set) var lineStarts: [Int] = []
    private(set) var entries: [String: Entry] = [:]
    /// Where a key that is missing would have been: just past the last line.
    var endPosition: SourcePosition { SourcePosition(line: lineStarts.count + 1, column: 1) }

    static let neuronsKey = "neurons (num_inputs, activation_function, activation_steepness)"
    static let connectionsKey = "connections (connected_to_neuron, weight)"

    /// Splits the text into its header check and `key=value` lines.
    init(text: String, file: String, log: inout DiagnosticLog) {
        self.file = file
        bytes = Array(text.utf8)
        var start = 0
        while start < bytes.count {
            lineStarts.append(start)
            start = (bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count) + 1
        }
        if let strange = bytes.firstIndex(where: { $0 >= 0x80 || ($0 < 0x20 && $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\t")) }) {
            log.error("not a FANN network file: byte \(bytes[strange]) is not printable ASCII, the only text fann_save writes", in: file, at: position(strange))
            return
        }
        guard let header = lineStarts.first.map({ lineRange($0) }).map({ String(decoding: bytes[$0], as: UTF8.self) }) else {
            log.error("empty file: a FANN network file starts with FANN_FLO_2.1", in: file, at: .startOfFile)
            return
        }
        guard header == "FANN_FLO_2.1" else {
            let message: String
            if header.hasPrefix("FANN_FIX_") {
                message = "\(header) is FANN's fixed-point format, which bpc does not import; save the network with the floating-point library (fann_save from doublefann or floatfann)"
            } else if header.hasPrefix("FANN_FLO_") {
                message = "\(header) is not a FANN format bpc reads (only FANN_FLO_2.1, written by FANN 2.1 and later)"
            } else {
                message = "not a FANN network file: the first line should be FANN_FLO_2.1"
            }
            log.error(message, in: file, at: .startOfFile)
            return
        }
        for (index, lineStart) in lineStarts.enumerated().dropFirst() {
            let range = lineRange(lineStart)
            guard !range.isEmpty else { continue }
            guard let equals = bytes[range].firstIndex(of: UInt8(ascii: "=")) else {
                log.error("expected a line of the form key=value", in: file, at: position(range.lowerBound))
                continue
            }
            let key = String(decoding: bytes[range.lowerBound..<equals], as: UTF8.self)
            guard entries[key] == nil else {
                log.error("'\(key)' is given twice", in: file, at: position(range.lowerBound))
                continue
            }
            entries[key] = Entry(line: index + 1, value: (equals + 1)..<range.upperBound)
        }
    }

    /// The line starting at `start`, without its newline (or `\r\n`).
    private func lineRange(_ start: Int) -> Range<Int> {
        var end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
        if end > start && bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        return start..<end
    }

    /// The line and column of a byte offset: every byte before the first non-ASCII one is a
    /// character, so the column counts characters.
    func position(_ offset: Int) -> SourcePosition {
        var low = 0, high = lineStarts.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if lineStarts[middle] <= offset { low = middle } else { high = middle - 1 }
        }
        let lineStart = lineStarts.isEmpty ? 0 : lineStarts[low]
        return SourcePosition(line: low + 1, column: offset - lineStart + 1)
    }

    func text(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }

    /// The value of a key that must be present, or an error placed where it was expected.
    func required(_ key: String, log: inout DiagnosticLog) -> Entry? {
        if let entry = entries[key] { return entry }
        log.error("missing '\(key)=' (the file is truncated or not written by fann_save)", in: file, at: endPosition)
        return nil
    }

    /// A count or code: decimal digits only, as FANN writes them with %u.
    func integer(_ range: Range<Int>, _ what: String, log: inout DiagnosticLog) -> Int? {
        let token = bytes[range]
        if !token.isEmpty, token.count <= 18, TextChecks.allDigits(token) {
            return token.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        }
        log.error("\(what) must be a whole number below 10^18, not '\(text(range))'", in: file, at: position(range.lowerBound))
        return nil
    }

    /// A decimal number (FANN writes %f or %.20e); NaN, infinities, hexadecimal floats and
    /// numbers too large for a Double are rejected, since no network FANN runs has them.
    func real(_ range: Range<Int>, _ what: String, log: inout DiagnosticLog) -> Double? {
        let allowed = { (byte: UInt8) in
            TextChecks.isDigit(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
        }
        if !range.isEmpty, range.count <= 64, bytes[range].allSatisfy(allowed),
           let value = Double(text(range)), value.isFinite {
            return value
        }
        log.error("\(what) must be a finite decimal number, not '\(text(range))'", in: file, at: position(range.lowerBound))
        return nil
    }

    /// The space-separated numbers of a value such as `layer_sizes=3 4 2 `.
    func words(_ entry: Entry) -> [Range<Int>] {
        var result: [Range<Int>] = []
        var index = entry.value.lowerBound
        while index < entry.value.upperBound {
            if bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t") {
                index += 1
                continue
            }
            let start = index
            while index < entry.value.upperBound && bytes[index] != UInt8(ascii: " ") && bytes[index] != UInt8(ascii: "\t") { index += 1 }
            result.append(start..<index)
        }
        return result
    }

    /// The `(a, b, ...)` tuples of a value, each with exactly `arity` fields; nil after the
    /// first malformed tuple (the rest of the line cannot be trusted to line up).
    func tuples(_ entry: Entry, arity: Int, _ what: String, log: inout DiagnosticLog) -> [Tuple]? {
        var result: [Tuple] = []
        var index = entry.value.lowerBound
        let end = entry.value.upperBound
        func skipSpaces() {
            while index < end && (bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t")) { index += 1 }
        }
        while true {
            skipSpaces()
            guard index < end else { return result }
            let start = index
            guard bytes[index] == UInt8(ascii: "(") else {
                log.error("expected '(' to start a \(what), found '\(Character(Unicode.Scalar(bytes[index])))'", in: file, at: position(index))
                return nil
            }
            index += 1
            var fields: [Range<Int>] = []
            while true {
                skipSpaces()
                let fieldStart = index
                while index < end && bytes[index] != UInt8(ascii: ",") && bytes[index] != UInt8(ascii: ")")
                    && bytes[index] != UInt8(ascii: " ") && bytes[index] != UInt8(ascii: "\t") { index += 1 }
                fields.append(fieldStart..<index)
                skipSpaces()
                guard index < end else {
                    log.error("unterminated \(what): the line ends before ')'", in: file, at: position(start))
                    return nil
                }
                let separator = bytes[index]
                index += 1
                if separator == UInt8(ascii: ")") { break }
                guard separator == UInt8(ascii: ","), fields.count < arity else {
                    log.error("a \(what) has \(arity) fields separated by ', '", in: file, at: position(index - 1))
                    return nil
                }
            }
            guard fields.count == arity, fields.allSatisfy({ !$0.isEmpty }) else {
                log.error("a \(what) has \(arity) fields separated by ', '", in: file, at: position(start))
                return nil
            }
            result.append(Tuple(start: start, fields: fields))
        }
    }
}
