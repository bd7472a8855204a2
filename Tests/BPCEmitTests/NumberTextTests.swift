import BPCEmit
import Testing

@Suite("short numbers")
struct NumberTextTests {
    @Test("numbers are rounded to the significant digits asked for, without trailing zeros",
          arguments: [
              (0.6785246631166438, 6, "0.678525"), (-1.5, 4, "-1.5"), (120.0, 4, "120"), (12345.0, 4, "1.235e4"),
              (0.00012345, 4, "0.0001235"), (3e-7, 4, "3e-7"), (0.99999999, 4, "1"), (-0.0, 6, "0"), (Double.leastNormalMagnitude / 100, 4, "2.225e-310"),
              (Double.leastNonzeroMagnitude, 6, "5e-324"), (Double.greatestFiniteMagnitude, 3, "1.8e308"), (.nan, 6, "nan"), (-Double.infinity, 6, "-inf"),
          ])
    func rounding(value: Double, digits: Int, expected: String) {
        #expect(NumberText.short(value, digits: digits) == expected)
    }
}
