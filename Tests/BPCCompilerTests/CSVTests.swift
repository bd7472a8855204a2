import BPC
import BPCTestSupport
import Foundation
import Testing

// The CSV reader: RFC 4180 as spreadsheets and R write it (quotes, doubled quotes, commas and
// line breaks inside quotes, CRLF, a byte order mark), numbers read correctly rounded straight
// from the bytes, and every problem at its line and column.

/// A folder holding `data.csv` with `csv` (bytes as given) and a spec beside it; removed after.
struct CSVFixture {
    let folder: URL

    init(_ csv: String) throws {
        try self.init(bytes: Array(csv.utf8))
    }

    init(bytes: [UInt8]) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("bpc-csv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(bytes).write(to: folder.appendingPathComponent("data.csv"))
    }

    var csvPath: String { folder.appendingPathComponent("data.csv").path }
    var specPath: String { folder.appendingPathComponent("spec.yaml").path }

    /// Writes another file into the folder.
    func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: folder.appendingPathComponent(name))
    }

    /// Loads `spec` (written at `specPath`), returning the model or every diagnostic.
    func load(_ spec: String, options: LoadOptions = LoadOptions()) -> (model: Model?, diagnostics: [Diagnostic]) {
        do {
            return (try Model(yaml: spec, path: specPath, options: options), [])
        } catch {
            return (nil, error.diagnostics)
        }
    }

    func remove() { try? FileManager.default.removeItem(at: folder) }
}

/// Two inputs x[0], x[1] and one output y, loss `loss`, reading `data.csv` with `dataKeys` added.
func twoInputSpec(loss: String = "half_squared_error", activation: String = "identity", dataKeys: String = "") -> String {
    """
    bpc: 1
    units:
      - {name: x, role: input, count: 2}
      - {name: y, role: output, activation: \(activation)}
    edges:
      - {from: x, to: y, weight: [0.5, -0.25]}
    loss: \(loss)
    data:
      csv: data.csv
    \(dataKeys)
    """
}

@Suite("CSV files")
struct CSVTests {
    @Test("quoted fields and a quoted header read like plain ones")
    func quotedFields() throws {
        let fixture = try CSVFixture("\"x[0]\",\"x[1]\",\"y\"\n\"1.5\",2,\"-3\"\n 4 , \"5\" ,6\n")
        defer { fixture.remove() }
        let data = try #require(fixture.load(twoInputSpec()).model?.trainingData)
        #expect(data.inputs == [1.5, 2, 4, 5])
        #expect(data.targets == [-3, 6])
    }

    @Test("a doubled quote inside a quoted field is one quote, and commas and line breaks inside quotes are text")
    func embeddedQuotesCommasAndNewlines() throws {
        let csv = "x[0],note,x[1],y\n1,\"a \"\"quoted\"\", word\",2,3\n4,\"two\nlines, here\",5,6\n7,,8,bad\n"
        let fixture = try CSVFixture(csv)
        defer { fixture.remove() }
        // `columns: {}` ignores the note column; the bad field is on line 5 (a quoted field spans 3-4).
        let result = fixture.load(twoInputSpec(dataKeys: "  columns: {}"))
        expectOnlyError(result.diagnostics, "'bad' is not a number", line: 5, column: 6)
        try fixture.write("data.csv", String(csv.dropLast(4)) + "9\n")
        let data = try #require(fixture.load(twoInputSpec(dataKeys: "  columns: {}")).model?.trainingData)
        #expect(data.inputs == [1, 2, 4, 5, 7, 8])
        #expect(data.targets == [3, 6, 9])
    }

    @Test("CRLF line endings, a byte order mark and blank lines read like plain LF text")
    func lineEndingsAndByteOrderMark() throws {
        let fixture = try CSVFixture(bytes: [0xEF, 0xBB, 0xBF] + Array("x[0],x[1],y\r\n1,2,3\r\n\r\n  \r\n\"4\",5,6\r\n".utf8))
        defer { fixture.remove() }
        let data = try #require(fixture.load(twoInputSpec()).model?.trainingData)
        #expect(data.inputs == [1, 2, 4, 5])
        #expect(data.targets == [3, 6])
    }

    @Test("an empty field is an error at its line and column")
    func emptyField() throws {
        let fixture = try CSVFixture("x[0],x[1],y\n1,2,3\n4,,6\n7,\"\",9\n")
        defer { fixture.remove() }
        let diagnostics = fixture.load(twoInputSpec()).diagnostics
        #expect(diagnostics.count == 2)
        expectError(diagnostics.filter { $0.position?.line == 3 }, "the field for 'x[1]' is empty", line: 3, column: 3)
        expectError(diagnostics.filter { $0.position?.line == 4 }, "the field for 'x[1]' is empty", line: 4, column: 3)
        #expect(diagnostics.allSatisfy { $0.file == fixture.csvPath })
    }

    @Test("ragged rows are errors at column 1 of their line, and their fields are not judged")
    func raggedRows() throws {
        let fixture = try CSVFixture("x[0],x[1],y\n1,2\n1,2,3,4\n1,x,3\n")
        defer { fixture.remove() }
        let diagnostics = fixture.load(twoInputSpec()).diagnostics
        #expect(diagnostics.count == 3, "\(diagnostics.map(\.description))")
        expectError(diagnostics, "row has 2 fields but the header has 3", line: 2, column: 1)
        expectError(diagnostics, "row has 4 fields but the header has 3", line: 3, column: 1)
        expectError(diagnostics, "'x' is not a number", line: 4, column: 3)
    }

    @Test("text, infinities, NaN, R's NA and out-of-range numbers are errors naming the field")
    func nonNumericAndNonFinite() throws {
        let fixture = try CSVFixture("x[0],x[1],y\nabc,1,2\nInf,-inf,NaN\nNA,1e999,0\n0x1F,1e-3,.5\n")
        defer { fixture.remove() }
        let diagnostics = fixture.load(twoInputSpec()).diagnostics
        #expect(diagnostics.count == 6, "\(diagnostics.map(\.description))")
        expectError(diagnostics, "'abc' is not a number", line: 2, column: 1)
        expectError(diagnostics, "'Inf' is not a finite number", line: 3, column: 1)
        expectError(diagnostics, "'-inf' is not a finite number", line: 3, column: 5)
        expectError(diagnostics, "'NaN' is not a finite number", line: 3, column: 10)
        expectError(diagnostics, "'NA' marks a missing value", line: 4, column: 1)
        expectError(diagnostics, "'1e999' is not a finite number", line: 4, column: 4)
    }

    @Test("numbers use the spec's syntax: hex integers, leading dots and exponents read as YAML reads them")
    func specNumberSyntax() throws {
        let fixture = try CSVFixture("x[0],x[1],y\n0x1F,1e-3,.5\n-0,+2.,1E2\n")
        defer { fixture.remove() }
        let data = try #require(fixture.load(twoInputSpec()).model?.trainingData)
        #expect(data.inputs == [31, 0.001, 0, 2])
        #expect(data.inputs[2].sign == .minus)
        #expect(data.targets == [0.5, 100])
    }

    @Test("a quoted field the file never closes is an error at its opening quote")
    func unclosedQuote() throws {
        let fixture = try CSVFixture("x[0],x[1],y\n1,2,3\n4,\"5,6\n7,8,9\n")
        defer { fixture.remove() }
        expectOnlyError(fixture.load(twoInputSpec()).diagnostics, "the file ends inside the quoted field that starts here", line: 3, column: 3)
    }

    @Test("text after a closing quote is an error at that character, and the next rows are still read")
    func textAfterClosingQuote() throws {
        let fixture = try CSVFixture("x[0],x[1],y\n\"1\"2,3,4\n5,z,6\n")
        defer { fixture.remove() }
        let diagnostics = fixture.load(twoInputSpec()).diagnostics
        #expect(diagnostics.count == 2)
        expectError(diagnostics, "unexpected '2' after the closing quote of a field", line: 2, column: 4)
        expectError(diagnostics, "'z' is not a number", line: 3, column: 3)
    }

    @Test("columns count characters, not bytes, after multi-byte text")
    func columnsCountCharacters() throws {
        let fixture = try CSVFixture("x[0],note,x[1],y\n1,\"één\",two,3\n")
        defer { fixture.remove() }
        expectOnlyError(fixture.load(twoInputSpec(dataKeys: "  columns: {}")).diagnostics, "'two' is not a number", line: 2, column: 9)
    }

    @Test("numbers read from the bytes are the correctly rounded binary64, as Double(String) reads them")
    func numbersAreCorrectlyRounded() throws {
        var generator = SeededGenerator(seed: 42)
        var texts: [String] = []
        for _ in 0..<4000 {
            // Shortest round-trip text of doubles across the exponent range, subnormals too.
            texts.append(Double(bitPattern: generator.next()).description)
        }
        for _ in 0..<4000 {
            // Long digit strings (past 19 digits), halfway-looking ones, and plain decimals.
            let digits = (0..<(1 + generator.nextIndex(below: 30))).map { _ in String(generator.nextIndex(below: 10)) }.joined()
            let exponent = generator.nextIndex(below: 700) - 350
            texts.append("\(digits)e\(exponent)")
            texts.append("0.\(digits)")
        }
        texts += ["9007199254740993", "9007199254740992.5", "2.2250738585072011e-308", "2.2250738585072014e-308",
                  "4.9406564584124654e-324", "2.4703282292062327e-324", "1.7976931348623157e308", "0.1", "123456789012345678901234567890",
                  "7.0e-10", "1e23", "8.41e21", "5e-324", "1.00000000000000011102230246251565404236316680908203125"]
        texts = texts.filter { Double($0)?.isFinite == true }
        let csv = "x[0],x[1],y\n" + texts.map { "\($0),\($0),0\n" }.joined()
        let fixture = try CSVFixture(csv)
        defer { fixture.remove() }
        let data = try #require(fixture.load(twoInputSpec()).model?.trainingData)
        try #require(data.count == texts.count)
        for (index, text) in texts.enumerated() {
            let expected = try #require(Double(text))
            #expect(data.inputs[2 * index].bitPattern == expected.bitPattern, "\(text): read \(data.inputs[2 * index]), Double(String) \(expected)")
        }
    }

    @Test("without 'columns' or 'label', a column that names no unit is still an error (format v1)")
    func strictByDefault() throws {
        let fixture = try CSVFixture("\"\",\"x[0]\",\"x[1]\",\"y\"\n\"1\",1,2,3\n")
        defer { fixture.remove() }
        expectOnlyError(fixture.load(twoInputSpec()).diagnostics, "unknown column '': columns name input and output units", line: 1, column: 1)
    }
}
