@testable import BPCFastRuntime
import BPCPlan
import BPCRuntime
import Foundation
import Testing

/// The C kernels (module BPCKernels) one by one, in every variant this CPU runs, against
/// plain loops: every shape, including counts that are not a multiple of any vector width,
/// so the tails run too.
@Suite("kernel variants")
struct KernelVariantTests {
    @Test("the selected variant is the widest this CPU runs, the portable one always runs, and FastTrainer names it")
    func selection() {
        let names = variants.map(\.name)
        #expect(names.last == "portable")
        #expect(names.allSatisfy { ["avx512", "avx2+fma", "portable"].contains($0) })
        #expect(FastTrainer.instructionSet == KernelVariant.selected.name)
        if ProcessInfo.processInfo.environment["BPC_KERNELS"] == nil {
            #expect(KernelVariant.selected.name == names.first)
        }
    }

    @Test("accumulate and product compute the matrix product for every tile remainder", arguments: variants)
    func accumulate(variant: KernelVariant) {
        checkAccumulate(Float.self, variant: variant, tolerance: 1e-5)
        checkAccumulate(Double.self, variant: variant, tolerance: 1e-13)
    }

    @Test("the sparse gathers, forward and backward, match plain loops for any lane count", arguments: variants)
    func sparse(variant: KernelVariant) {
        checkSparse(Float.self, variant: variant, tolerance: 1e-5)
        checkSparse(Double.self, variant: variant, tolerance: 1e-13)
    }

    @Test("row sums, dots, transposes, additions, input loading and the softmax exponentials match plain loops", arguments: variants)
    func helpers(variant: KernelVariant) {
        checkHelpers(Float.self, variant: variant, tolerance: 1e-5)
        checkHelpers(Double.self, variant: variant, tolerance: 1e-13)
    }

    @Test("the online step's SGD update is the optimiser's, bit for bit")
    func descendIsApply() {
        func check<Scalar: BinaryFloatingPoint & SIMDScalar>(_: Scalar.Type) {
            var random = TestRandom(seed: 5)
            var weights = (0..<13).map { _ in Scalar(random.uniform(-2, 2)) }
            let gradients = (0..<13).map { _ in Scalar(random.uniform(-2, 2)) }
            let rate = 0.37
            let expected = weights.indices.map { OptimizerState<Scalar>.descend(weights[$0], gradient: gradients[$0], rate: Scalar(rate)) }
            var state = OptimizerState<Scalar>(.sgd, parameterCount: weights.count)
            let bad = weights.withUnsafeMutableBufferPointer { w in
                gradients.withUnsafeBufferPointer { g in
                    state.apply(parameters: w.baseAddress!, gradients: g.baseAddress!, batchCount: 1, rate: rate)
                }
            }
            #expect(bad == nil)
            #expect(weights == expected)
        }
        check(Float.self)
        check(Double.self)
    }
}

/// `count` random values in [-1, 1].
private func randomValues<Scalar: KernelScalar>(_: Scalar.Type, _ count: Int, _ random: inout TestRandom) -> [Scalar] {
    (0..<count).map { _ in Scalar(random.uniform(-1, 1)) }
}

private func close<Scalar: KernelScalar>(_ a: Scalar, _ b: Scalar, _ tolerance: Double, scale: Double = 1) -> Bool {
    abs(Double(a) - Double(b)) <= tolerance * max(scale, abs(Double(b)))
}

private func checkAccumulate<Scalar: KernelScalar>(_: Scalar.Type, variant: KernelVariant, tolerance: Double) {
    let k = Scalar.kernels(variant)
    var random = TestRandom(seed: 17)
    for rows in [1, 3, 4, 5, 9] {
        for columns in [0, 1, 7, 8, 13, 16, 24, 33, 48, 65] {
            for termCount in [0, 1, 6] {
                let rowStride = columns + 3, termStride = columns + 5
                let rowStep = termCount + 2, termStep = 1
                var out = randomValues(Scalar.self, rows * rowStride, &random)
                let coefficients = randomValues(Scalar.self, rows * rowStep, &random)
                let terms = randomValues(Scalar.self, max(termCount, 1) * termStride, &random)
                var expected = out
                for r in 0..<rows {
                    for c in 0..<columns {
                        var sum = Double(expected[r * rowStride + c])
                        for t in 0..<termCount { sum += Double(coefficients[r * rowStep + t * termStep]) * Double(terms[t * termStride + c]) }
                        expected[r * rowStride + c] = Scalar(sum)
                    }
                }
                out.withUnsafeMutableBufferPointer { o in
                    coefficients.withUnsafeBufferPointer { kc in
                        terms.withUnsafeBufferPointer { tm in
                            Scalar.accumulate(k, o.baseAddress!, rows, rowStride, columns, kc.baseAddress!, rowStep, termStep,
                                              tm.baseAddress!, termStride, termCount)
                        }
                    }
                }
                let wrong = out.indices.filter { !close(out[$0], expected[$0], tolerance, scale: 8) }
                #expect(wrong.isEmpty, "\(variant) \(Scalar.self) rows \(rows) columns \(columns) terms \(termCount): \(wrong.prefix(4))")
                // product: the same sums from zero, into rows of NaN it must neither read nor
                // write outside the columns.
                var stored = [Scalar](repeating: .nan, count: rows * rowStride)
                stored.withUnsafeMutableBufferPointer { o in
                    coefficients.withUnsafeBufferPointer { kc in
                        terms.withUnsafeBufferPointer { tm in
                            Scalar.product(k, o.baseAddress!, rows, rowStride, columns, kc.baseAddress!, rowStep, termStep,
                                           tm.baseAddress!, termStride, termCount)
                        }
                    }
                }
                let wrongProducts = stored.indices.filter { index in
                    let (r, c) = index.quotientAndRemainder(dividingBy: rowStride)
                    guard c < columns else { return !stored[index].isNaN }
                    var sum = 0.0
                    for t in 0..<termCount { sum += Double(coefficients[r * rowStep + t * termStep]) * Double(terms[t * termStride + c]) }
                    return !close(stored[index], Scalar(sum), tolerance, scale: 8)
                }
                #expect(wrongProducts.isEmpty, "\(variant) \(Scalar.self) product rows \(rows) columns \(columns) terms \(termCount): \(wrongProducts.prefix(4))")
            }
        }
    }
}

private func checkSparse<Scalar: KernelScalar>(_: Scalar.Type, variant: KernelVariant, tolerance: Double) {
    let k = Scalar.kernels(variant)
    var random = TestRandom(seed: 23)
    let units = 12
    for lanes in [1, 5, 8, 16, 31, 48, 64, 70, 128] {
        let width = lanes + 2
        let activations = randomValues(Scalar.self, units * width, &random)
        let isInput = (0..<units).map { $0 < 4 }
        let sources: [Int32] = [0, 5, 2, 7, 11, 3, 9]
        let weights = randomValues(Scalar.self, sources.count, &random)
        let delta = randomValues(Scalar.self, lanes, &random)
        // Forward, without and with the fused tanh (which must be the tanh kernel's).
        var out = [Scalar](repeating: 0, count: lanes), fused = out, activated = out, expectedTanh = out
        let start = Scalar(0.25)
        sources.withUnsafeBufferPointer { s in
            weights.withUnsafeBufferPointer { w in
                activations.withUnsafeBufferPointer { z in
                    out.withUnsafeMutableBufferPointer { o in
                        Scalar.sparseForward(k, o.baseAddress!, nil, start, w.baseAddress!, s.baseAddress!, sources.count, z.baseAddress!, width, lanes)
                    }
                    fused.withUnsafeMutableBufferPointer { o in
                        activated.withUnsafeMutableBufferPointer { a in
                            Scalar.sparseForward(k, o.baseAddress!, a.baseAddress!, start, w.baseAddress!, s.baseAddress!, sources.count,
                                                 z.baseAddress!, width, lanes)
                        }
                    }
                }
            }
        }
        fused.withUnsafeBufferPointer { a in
            expectedTanh.withUnsafeMutableBufferPointer { z in Scalar.tanh(k, z.baseAddress!, a.baseAddress!, lanes) }
        }
        #expect(fused == out && activated == expectedTanh, "\(variant) \(Scalar.self) fused tanh, lanes \(lanes)")
        for lane in 0..<lanes {
            var sum = Double(start)
            for (e, source) in sources.enumerated() { sum += Double(weights[e]) * Double(activations[Int(source) * width + lane]) }
            #expect(close(out[lane], Scalar(sum), tolerance, scale: 4), "\(variant) \(Scalar.self) forward lanes \(lanes) lane \(lane)")
        }
        // Backward.
        var gradients = randomValues(Scalar.self, sources.count, &random)
        var deltas = randomValues(Scalar.self, units * width, &random)
        var bias = Scalar(0.5)
        var expectedGradients = gradients.map { Double($0) }, expectedDeltas = deltas.map { Double($0) }
        let expectedBias = Double(bias) + delta.reduce(0.0) { $0 + Double($1) }
        for (e, source) in sources.enumerated() {
            for lane in 0..<lanes {
                expectedGradients[e] += Double(delta[lane]) * Double(activations[Int(source) * width + lane])
                if !isInput[Int(source)] { expectedDeltas[Int(source) * width + lane] += Double(weights[e]) * Double(delta[lane]) }
            }
        }
        sources.withUnsafeBufferPointer { s in
            weights.withUnsafeBufferPointer { w in
                activations.withUnsafeBufferPointer { z in
                    isInput.withUnsafeBufferPointer { inputs in
                        delta.withUnsafeBufferPointer { d in
                            gradients.withUnsafeMutableBufferPointer { g in
                                deltas.withUnsafeMutableBufferPointer { ds in
                                    withUnsafeMutablePointer(to: &bias) { b in
                                        Scalar.sparseBackward(k, d.baseAddress!, b, w.baseAddress!, g.baseAddress!, s.baseAddress!, sources.count,
                                                              inputs.baseAddress!, z.baseAddress!, ds.baseAddress!, width, lanes)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        #expect(close(bias, Scalar(expectedBias), tolerance, scale: 8), "\(variant) \(Scalar.self) bias lanes \(lanes)")
        #expect(gradients.indices.allSatisfy { close(gradients[$0], Scalar(expectedGradients[$0]), tolerance, scale: 8) },
                "\(variant) \(Scalar.self) gradients lanes \(lanes)")
        #expect(deltas.indices.allSatisfy { close(deltas[$0], Scalar(expectedDeltas[$0]), tolerance, scale: 4) },
                "\(variant) \(Scalar.self) deltas lanes \(lanes)")
    }
}

private func checkHelpers<Scalar: KernelScalar>(_: Scalar.Type, variant: KernelVariant, tolerance: Double) {
    let k = Scalar.kernels(variant)
    var random = TestRandom(seed: 31)
    for count in [0, 1, 7, 8, 15, 16, 17, 40, 64, 99] {
        let x = randomValues(Scalar.self, count, &random), y = randomValues(Scalar.self, count, &random)
        let sum = x.withUnsafeBufferPointer { Scalar.rowSum(k, $0.baseAddress ?? UnsafePointer(bitPattern: 64)!, count) }
        let dot = x.withUnsafeBufferPointer { a in y.withUnsafeBufferPointer { b in
            Scalar.dot(k, a.baseAddress ?? UnsafePointer(bitPattern: 64)!, b.baseAddress ?? UnsafePointer(bitPattern: 64)!, count)
        } }
        #expect(close(sum, Scalar(x.reduce(0.0) { $0 + Double($1) }), tolerance, scale: 8), "\(variant) \(Scalar.self) sum of \(count)")
        #expect(close(dot, Scalar(zip(x, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }), tolerance, scale: 8),
                "\(variant) \(Scalar.self) dot of \(count)")
        var into = x
        into.withUnsafeMutableBufferPointer { i in y.withUnsafeBufferPointer { v in
            if let i = i.baseAddress, let v = v.baseAddress { Scalar.add(k, i, v, count) }
        } }
        #expect(into == zip(x, y).map { $0 + $1 }, "\(variant) \(Scalar.self) add of \(count)")
    }
    // Rows to lane-major, for every block remainder.
    for (rows, lanes) in [(1, 1), (3, 17), (8, 8), (9, 16), (16, 33), (21, 40)] {
        let width = lanes + 3
        let input = randomValues(Scalar.self, rows * width, &random)
        var out = [Scalar](repeating: 0, count: rows * lanes)
        out.withUnsafeMutableBufferPointer { o in input.withUnsafeBufferPointer { i in
            Scalar.transpose(k, o.baseAddress!, i.baseAddress!, rows, width, lanes)
        } }
        let expected = (0..<(rows * lanes)).map { input[($0 % rows) * width + $0 / rows] }
        #expect(out == expected, "\(variant) \(Scalar.self) transpose \(rows) x \(lanes)")
    }
    // A batch's inputs into their rows, for every block remainder, through a shuffled order
    // and a permuted unit list.
    for (columns, count) in [(1, 1), (8, 8), (9, 17), (16, 7), (21, 40)] {
        let sampleCount = count + 3, width = count + 5
        let samples = (0..<(sampleCount * columns)).map { _ in random.uniform(-3, 3) }
        let order = (0..<count).map { (($0 * 7) + 2) % sampleCount }
        let units = (0..<columns).map { columns - 1 - $0 }
        var rows = [Scalar](repeating: -1, count: columns * width)
        rows.withUnsafeMutableBufferPointer { r in units.withUnsafeBufferPointer { u in
            samples.withUnsafeBufferPointer { s in order.withUnsafeBufferPointer { o in
                Scalar.loadInputs(k, r.baseAddress!, width, u.baseAddress!, columns, s.baseAddress!, columns, o.baseAddress!, count)
            } }
        } }
        var expected = [Scalar](repeating: -1, count: columns * width)
        for lane in 0..<count {
            for column in 0..<columns { expected[units[column] * width + lane] = Scalar(samples[order[lane] * columns + column]) }
        }
        #expect(rows == expected, "\(variant) \(Scalar.self) inputs \(columns) x \(count)")
    }
    // The softmax's vector part: per lane the largest net input (NaN never wins) and the
    // exponentials against it.
    for lanes in [1, 8, 16, 19, 32] {
        let width = lanes + 1, outputs = 5
        var netInput = (0..<(outputs * width)).map { _ in Scalar(random.uniform(-30, 30)) }
        netInput[2 * width] = .nan
        let units = Array(0..<outputs)
        var exponentials = [Scalar](repeating: 0, count: outputs * width)
        var largest = [Scalar](repeating: 0, count: width), sums = [Scalar](repeating: 0, count: width)
        netInput.withUnsafeBufferPointer { a in units.withUnsafeBufferPointer { u in
            exponentials.withUnsafeMutableBufferPointer { e in largest.withUnsafeMutableBufferPointer { m in
                sums.withUnsafeMutableBufferPointer { s in
                    Scalar.softmaxExponentials(k, a.baseAddress!, u.baseAddress!, outputs, width, lanes, e.baseAddress!, m.baseAddress!, s.baseAddress!)
                }
            } }
        } }
        for lane in 0..<lanes {
            let column = (0..<outputs).map { netInput[$0 * width + lane] }
            let expectedLargest = column.filter { !$0.isNaN }.max() ?? -.infinity
            #expect(largest[lane] == expectedLargest, "\(variant) \(Scalar.self) softmax largest, lane \(lane)")
            var expectedSum = 0.0
            for o in 0..<outputs {
                let e = Foundation.exp(Double(column[o]) - Double(expectedLargest))
                expectedSum += e
                let value = exponentials[o * width + lane]
                #expect(e.isNaN ? value.isNaN : close(value, Scalar(e), tolerance * 4), "\(variant) \(Scalar.self) e^a, lane \(lane)")
            }
            #expect(expectedSum.isNaN ? sums[lane].isNaN : close(sums[lane], Scalar(expectedSum), tolerance * 4), "\(variant) \(Scalar.self) sum, lane \(lane)")
        }
    }
}
