import BPCPlan
import BPCSpec
import Testing

/// Lists as long as an imported layer's weights (a 784 x 512 matrix is 401,408 numbers in one
/// flow list). The reader once copied a list on every entry it appended, so such a spec took
/// hours to read; these would take minutes if that came back.
@Suite struct LongListTests {
    @Test func aWeightListOfTwoHundredThousandNumbersIsReadWhole() throws {
        let sources = 500, targets = 400
        var yaml = "bpc: 1\nunits:\n  - {name: x, role: input, count: \(sources)}\n  - {name: y, role: output, count: \(targets), activation: identity}\n"
        yaml += "edges:\n  - {from: x, to: y, weight: ["
        yaml += (0..<(sources * targets)).map { "\(Double($0 % 97) / 8)" }.joined(separator: ", ")
        yaml += "]}\nloss: half_squared_error\n"
        var log = DiagnosticLog()
        let spec = try #require(SpecParser.parse(text: yaml, path: "long.yaml", log: &log))
        #expect(log.diagnostics.isEmpty, "\(log.diagnostics)")
        guard case .values(let weights)? = spec.edges[0].weight?.value else {
            Issue.record("the weights are not a list")
            return
        }
        #expect(weights.count == sources * targets)
        #expect(weights[98] == 0.125 && weights.last == Double((sources * targets - 1) % 97) / 8)
    }

    @Test func aMappingOfTenThousandKeysIsReadWholeAndADuplicateAmongThemIsReported() throws {
        var yaml = "bpc: 1\nunits:\n  - {name: x, role: input}\n  - {name: y, role: output}\nedges:\n  - {from: x, to: y}\nloss: half_squared_error\n"
        yaml += "data:\n  samples: [{in: [0], out: [0]}]\n  columns:\n"
        for key in 0..<10_000 { yaml += "    c\(key): x\n" }
        yaml += "    c42: y\n"
        var log = DiagnosticLog()
        _ = SpecParser.parse(text: yaml, path: "keys.yaml", log: &log)
        #expect(log.diagnostics.map(\.message).contains("duplicate key 'c42'"), "\(log.diagnostics.prefix(3))")
    }
}
