import BPCCompiler
import BPCEmit
import BPCPlan
import BPCSpec
import Foundation
import Testing

@Suite("JSON output")
struct JSONTests {
    @Test("numbers are written in a form that reads back to the identical binary64")
    func numbersRoundTrip() throws {
        var generator = SeededGenerator(seed: 3)
        var values: [Double] = [0.1, 1.0 / 3.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -0.0, 1e21, 123456789012345680, 2.5e-8]
        for _ in 0..<2000 { values.append(Double(bitPattern: generator.next() & 0xFFEF_FFFF_FFFF_FFFF)) }
        let text = JSONValue.array(values.map(JSONValue.number)).serialized()
        // The structure must be JSON; the numbers are read with a correctly rounding parser
        // (Foundation's JSONSerialization on Linux is not, for some 17-digit values).
        #expect(try JSONSerialization.jsonObject(with: Data(text.utf8)) is [Any])
        let tokens = text.dropFirst().dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(tokens.count == values.count)
        for (value, token) in zip(values, tokens) {
            #expect(Double(token)?.bitPattern == value.bitPattern, "\(token) does not read back as \(value)")
            #expect(token.allSatisfy { "0123456789.e+-".contains($0) }, "\(token) is not a JSON number")
        }
    }

    @Test("strings are escaped and non-finite numbers become null")
    func escaping() {
        let text = JSONValue.object([("a\"b", .string("line\nbreak\t\u{1}")), ("n", .number(.nan))]).serialized()
        #expect(text == #"{"a\"b": "line\nbreak\t\u0001", "n": null}"#)
    }

    @Test("a compiled plan is valid JSON with every table and the summary")
    func planDocument() throws {
        let text = """
            bpc: 1
            name: tiny
            units:
              - {name: x, role: input, count: 2}
              - {name: h, activation: tanh, bias: 0.5}
              - {name: y, role: output, activation: identity}
            edges:
              - {from: x, to: h, weight: [0.25, -1]}
              - {from: [h, "x[0]"], to: y, weight: 2}
            loss: half_squared_error
            """
        var log = DiagnosticLog()
        let spec = try #require(SpecParser.parse(text: text, path: "tiny.yaml", log: &log))
        let plan = try #require(Compiler.compile(spec, log: &log)).plan
        let object = try #require(try JSONSerialization.jsonObject(with: Data(PlanJSON.encode(plan).utf8)) as? [String: Any])
        #expect(object["format"] as? String == "bpc-plan")
        #expect(object["version"] as? Int == 1)
        let units = try #require(object["units"] as? [String: Any])
        #expect(units["name"] as? [String] == ["x[0]", "x[1]", "h", "y"])
        let parameters = try #require(object["parameters"] as? [String: Any])
        // Within a unit, fan-in keeps creation order: the entry creates h->y before x[0]->y.
        #expect(parameters["key"] as? [String] == ["x[0]->h", "x[1]->h", "h->y", "x[0]->y", "h.bias"])
        #expect(parameters["value"] as? [Double] == [0.25, -1, 2, 2, 0.5])
        let fanIn = try #require(object["fan_in"] as? [String: [Int]])
        #expect(fanIn["start"] == [0, 0, 0, 2, 4])
        #expect(fanIn["source"] == [0, 1, 2, 0])
        let fanOut = try #require(object["fan_out"] as? [String: [Int]])
        #expect(fanOut["target"] == [2, 3, 2, 3])
        #expect(fanOut["parameter"] == [0, 3, 1, 2])
        let summary = try #require(object["summary"] as? [String: Int])
        #expect(summary["edges"] == 4)
        #expect(summary["parameter_bytes"] == 40)
    }
}
