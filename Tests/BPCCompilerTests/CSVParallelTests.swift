@testable import BPCCompiler
import BPC
import BPCTestSupport
import Foundation
import Testing

// A large CSV file read by several threads, each taking a stretch of lines: the samples are
// the ones one thread reads, bit for bit, and the problems are the same, at the same lines and
// columns, in the same order. Stretches here are a few kilobytes, so that a test file of a
// megabyte or so is cut in several places.

/// The plan of `inputs` inputs x[i] feeding `outputs` identity outputs y[j] under `loss`.
private func plan(inputs: Int = 3, outputs: Int = 2, loss: String = "half_squared_error") throws -> Plan {
    let sample = "{in: [\(Array(repeating: "0", count: inputs).joined(separator: ", "))], out: [1\(String(repeating: ", 0", count: outputs - 1))]}"
    let spec = """
        bpc: 1
        units:
          - {name: x, role: input, count: \(inputs)}
          - {name: y, role: output, count: \(outputs), activation: identity}
        edges:
          - {from: x, to: y}
        loss: \(loss)
        data:
          samples:
            - \(sample)
        """
    return try Model(yaml: spec, path: "spec.yaml").plan
}

/// What reading a file gave: the contents (nil on errors) and every diagnostic.
private struct Reading {
    var contents: CSVReader.Contents?
    var diagnostics: [Diagnostic]
}

/// Reads `csv` with `threads` threads and stretches of at least `stretch` bytes.
private func read(_ csv: String, plan: Plan, layout: CSVLayout? = nil, threads: Int, stretch: Int = 1 << 14) throws -> Reading {
    let fixture = try CSVFixture(csv)
    defer { fixture.remove() }
    var log = DiagnosticLog()
    let file = try #require(FileBytes(contentsOf: fixture.csvPath, maxSize: 1 << 30, log: &log))
    // One name for every reading, so that diagnostics compare equal.
    let reader = CSVReader(path: "data.csv", plan: plan, layout: layout ?? CSVLayout(plan: plan), threads: threads, minimumStretchBytes: stretch)
    let contents = reader.read(file, log: &log)
    return Reading(contents: contents, diagnostics: log.diagnostics)
}

/// Expects two readings to be the same: samples bit for bit, classes, diagnostics in order.
private func expectSame(_ parallel: Reading, _ serial: Reading, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(parallel.diagnostics == serial.diagnostics, sourceLocation: sourceLocation)
    #expect((parallel.contents == nil) == (serial.contents == nil), sourceLocation: sourceLocation)
    guard let parallel = parallel.contents, let serial = serial.contents else { return }
    #expect(parallel.data.count == serial.data.count, sourceLocation: sourceLocation)
    #expect(parallel.data.inputs.map(\.bitPattern) == serial.data.inputs.map(\.bitPattern), sourceLocation: sourceLocation)
    #expect(parallel.data.targets.map(\.bitPattern) == serial.data.targets.map(\.bitPattern), sourceLocation: sourceLocation)
    #expect(parallel.classes == serial.classes, sourceLocation: sourceLocation)
}

/// A number as data files write them: shortest round-trip text mostly, and now and then an
/// integer, an exponent, more digits than binary64 holds, a sign, or spaces around it.
private func numberText(_ generator: inout SeededGenerator) -> String {
    let value = generator.nextNormal() * [1e-6, 1e-3, 1, 1e3, 1e6][generator.nextIndex(below: 5)]
    switch generator.nextIndex(below: 12) {
    case 0: return String(Int(value * 1000))
    case 1: return "\(Int(value * 1000))e\(generator.nextIndex(below: 40) - 20)"
    case 2: return (0..<(20 + generator.nextIndex(below: 10))).map { _ in String(generator.nextIndex(below: 10)) }.joined() + "e-10"
    case 3: return "0.000" + (0..<19).map { _ in String(generator.nextIndex(below: 10)) }.joined()
    case 4: return " \(value)\t"
    case 5: return value < 0 ? "\(value)" : "+\(value)"
    default: return "\(value)"
    }
}

/// How the lines of a generated file end, and what lies between them.
struct Layout: Sendable, CustomTestStringConvertible {
    var lineBreak = "\n"
    var finalLineBreak = true
    /// One line in this many is blank (empty, or spaces), or none for 0.
    var blankEvery = 0

    var testDescription: String {
        "\(lineBreak == "\n" ? "LF" : "CRLF")\(finalLineBreak ? "" : ", no final line break")\(blankEvery > 0 ? ", blank lines" : "")"
    }
}

/// A CSV file of `rows` rows of x[0], x[1], x[2], y[0], y[1], about 70 bytes a row.
private func generatedCSV(rows: Int, layout: Layout = Layout(), seed: UInt64 = 1) -> String {
    var generator = SeededGenerator(seed: seed)
    var text = "x[0],x[1],x[2],y[0],y[1]" + layout.lineBreak
    for row in 0..<rows {
        if layout.blankEvery > 0 && generator.nextIndex(below: layout.blankEvery) == 0 {
            text += (generator.nextIndex(below: 2) == 0 ? "" : "  \t") + layout.lineBreak
        }
        text += (0..<5).map { _ in numberText(&generator) }.joined(separator: ",")
        if row < rows - 1 || layout.finalLineBreak { text += layout.lineBreak }
    }
    return text
}

@Suite("CSV files read by several threads")
struct CSVParallelTests {
    @Test("several threads read the samples one thread reads, bit for bit", arguments: [
        Layout(), Layout(lineBreak: "\r\n"), Layout(finalLineBreak: false), Layout(lineBreak: "\r\n", finalLineBreak: false, blankEvery: 50),
        Layout(blankEvery: 3),
    ])
    func sameSamples(layout: Layout) throws {
        let plan = try plan()
        let csv = generatedCSV(rows: 6000, layout: layout)
        let serial = try read(csv, plan: plan, threads: 1)
        let data = try #require(serial.contents?.data)
        #expect(data.count == 6000)
        for threads in [2, 3, 8] {
            expectSame(try read(csv, plan: plan, threads: threads), serial)
        }
    }

    @Test("problems in later stretches are reported at their true line and column, in order")
    func problemsKeepTheirPlaces() throws {
        let plan = try plan()
        var lines = generatedCSV(rows: 6000, layout: Layout(blankEvery: 40)).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // Lines (from 1) and what goes wrong there, from the first stretch to the last.
        lines[9] = "1,2,abc,4,5"
        lines[3001] = "1,2,3,4"
        lines[4500] = "NA, 7,8,9,"
        lines[5998] = "1,2,3,4,\"5\"x"
        let serial = try read(lines.joined(separator: "\n"), plan: plan, threads: 1)
        #expect(serial.contents == nil)
        #expect(serial.diagnostics.count == 5, "\(serial.diagnostics.map(\.description))")
        expectError(serial.diagnostics, "'abc' is not a number", line: 10, column: 5)
        expectError(serial.diagnostics, "row has 4 fields but the header has 5", line: 3002, column: 1)
        expectError(serial.diagnostics, "'NA' marks a missing value", line: 4501, column: 1)
        expectError(serial.diagnostics, "the field for 'y[1]' is empty", line: 4501, column: 11)
        expectError(serial.diagnostics, "unexpected 'x' after the closing quote", line: 5999, column: 12)
        // The quote makes this file one thread's; without it the stretches are read at once.
        lines[5998] = "1,2,3,4,5x"
        let unquoted = lines.joined(separator: "\n")
        let serialUnquoted = try read(unquoted, plan: plan, threads: 1)
        expectError(serialUnquoted.diagnostics, "'5x' is not a number", line: 5999, column: 9)
        for threads in [2, 4, 7] {
            expectSame(try read(unquoted, plan: plan, threads: threads), serialUnquoted)
        }
    }

    @Test("a file with a quote anywhere is read by one thread, line breaks inside quotes and all")
    func quotesMakeOneStretch() throws {
        let plan = try plan()
        var layout = CSVLayout(plan: plan)
        layout.ignoresOtherColumns = true
        var generator = SeededGenerator(seed: 7)
        var csv = "x[0],note,x[1],x[2],y[0],y[1]\n"
        var expected: [Double] = []
        for row in 0..<6000 {
            // Notes quoted with line breaks in them, which look like ends of records: most line
            // breaks of the file are inside quotes, so cutting at one would start mid-field.
            let note = row % 10 == 0 ? "n\(row)" : "\"a,\n\(row)\n\n,\"\"b\"\"\n\""
            let values = (0..<5).map { _ in (generator.nextNormal() * 100).rounded() / 8 }
            expected += values[0..<3]
            csv += "\(values[0]),\(note),\(values[1]),\(values[2]),\(values[3]),\(values[4])\n"
        }
        let serial = try read(csv, plan: plan, layout: layout, threads: 1)
        #expect(try #require(serial.contents?.data.inputs) == expected)
        for threads in [2, 4, 7] {
            expectSame(try read(csv, plan: plan, layout: layout, threads: threads), serial)
        }
    }

    @Test("classes of a label column found in later stretches come out as one thread finds them")
    func labelsAcrossStretches() throws {
        let plan = try plan(inputs: 2, outputs: 3, loss: "softmax_cross_entropy")
        var layout = CSVLayout(plan: plan)
        layout.label = LabelColumn(name: "species", classes: nil)
        layout.ignoresOtherColumns = true
        var generator = SeededGenerator(seed: 3)
        var csv = "x[0],species,x[1]\n"
        for row in 0..<15000 {
            // virginica first appears in the last stretches, setosa only after versicolor.
            let species = row < 5000 ? "versicolor" : row < 12000 ? ["versicolor", "setosa"][row % 2] : ["virginica", "setosa", "versicolor"][row % 3]
            csv += "\(generator.nextNormal()),\(species),\(generator.nextNormal())\n"
        }
        let serial = try read(csv, plan: plan, layout: layout, threads: 1)
        #expect(serial.contents?.classes == ["setosa", "versicolor", "virginica"])
        for threads in [2, 5] {
            expectSame(try read(csv, plan: plan, layout: layout, threads: threads), serial)
        }
        // A held-out file is read with the training file's classes.
        layout.label = LabelColumn(name: "species", classes: ["virginica", "setosa", "versicolor"])
        let fixed = try read(csv, plan: plan, layout: layout, threads: 1)
        #expect(fixed.contents?.data.targets[0..<3] == [0, 0, 1])
        expectSame(try read(csv, plan: plan, layout: layout, threads: 3), fixed)
    }

    @Test("a file of a few megabytes loads the same with two threads as with one, at the default stretch size")
    func defaultStretches() throws {
        let plan = try plan()
        let fixture = try CSVFixture(generatedCSV(rows: 36000, seed: 11))
        defer { fixture.remove() }
        var log = DiagnosticLog()
        let serial = try #require(DataLoader.load(csvFile: fixture.csvPath, plan: plan, threads: 1, log: &log))
        let parallel = try #require(DataLoader.load(csvFile: fixture.csvPath, plan: plan, threads: 2, log: &log))
        #expect(!log.hasErrors)
        #expect(parallel.count == 36000)
        #expect(parallel.inputs.map(\.bitPattern) == serial.inputs.map(\.bitPattern))
        #expect(parallel.targets.map(\.bitPattern) == serial.targets.map(\.bitPattern))
    }

    @Test("an empty file, a header alone and a header with only blank lines are reported as with one thread")
    func emptyFiles() throws {
        let plan = try plan()
        expectOnlyError(try read("", plan: plan, threads: 4).diagnostics, "the CSV file is empty", line: 1, column: 1)
        let header = "x[0],x[1],x[2],y[0],y[1]\n"
        expectOnlyError(try read(header, plan: plan, threads: 4).diagnostics, "the CSV file has a header but no samples", line: 2, column: 1)
        let blank = header + String(repeating: "  \n\r\n\n", count: 40000)
        let parallel = try read(blank, plan: plan, threads: 4)
        expectOnlyError(parallel.diagnostics, "the CSV file has a header but no samples", line: 2, column: 1)
        expectSame(parallel, try read(blank, plan: plan, threads: 1))
    }

    @Test("the line count of a stretch is exact and finds a quote wherever it is, sixteen bytes at a time or in the tail")
    func lineScan() {
        for length in 0..<50 {
            for quoteAt in [nil] + Array(0..<length) {
                var bytes = (0..<length).map { $0 % 3 == 0 ? UInt8(ascii: "\n") : UInt8(ascii: "7") }
                if let quoteAt { bytes[quoteAt] = UInt8(ascii: "\"") }
                // Offset by one, as a stretch after the first starts inside the file.
                let file = [UInt8(ascii: "\n")] + bytes
                let scan = file.withUnsafeBufferPointer { LineScan($0, CSVReader.Stretch(start: 1, end: file.count, line: 1)) }
                #expect(scan.hasQuote == (quoteAt != nil), "length \(length), quote at \(quoteAt ?? -1)")
                if quoteAt == nil { #expect(scan.lineBreaks == bytes.count { $0 == UInt8(ascii: "\n") }, "length \(length)") }
            }
        }
    }

    @Test("digits are read eight at a time without changing a number: every length, in every part")
    func digitRuns() throws {
        let digits = "31415926535897932384626433832795"
        var texts: [String] = []
        for length in 1...digits.count {
            let run = String(digits.prefix(length))
            texts += [run, "0.\(run)", "0.000\(run)", "\(run).5", "-\(run)e-7", "\(run.prefix(length / 2)).\(run.dropFirst(length / 2))e3"]
        }
        let plan = try plan(inputs: 1, outputs: 1)
        let csv = "x[0],y[0]\n" + texts.map { "\($0),0\n" }.joined()
        let data = try #require(try read(csv, plan: plan, threads: 1).contents?.data)
        for (index, text) in texts.enumerated() {
            let expected = try #require(Double(text))
            #expect(data.inputs[index].bitPattern == expected.bitPattern, "\(text): read \(data.inputs[index]), Double(String) \(expected)")
        }
    }
}
