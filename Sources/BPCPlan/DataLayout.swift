// What a plan keeps from its spec's `data`, so that a plan file reads the same CSV files as
// its spec and takes the same raw inputs: the header names mapped to units, the classes of a
// label column, and the input normalisation.

/// A CSV column feeding a unit whose name the header does not spell (`data.columns`): R writes
/// `Sepal.Length`, the network calls the unit `x[0]`.
public struct ColumnMapping: Sendable, Equatable {
    /// The column's name in a CSV header, as written (any text).
    public var header: String
    /// The input or output unit the column feeds (`x[0]`).
    public var unit: String

    public init(header: String, unit: String) {
        self.header = header
        self.unit = unit
    }
}

/// The classes of a label column (`data.label`): each distinct value of the column is a class,
/// and a sample of class k has the one-hot target 1 at output k and 0 at every other output.
public struct ClassLabels: Sendable, Equatable {
    /// The label column's name in a CSV header.
    public var column: String
    /// One class per output unit, in output order.
    public var names: [String]

    public init(column: String, names: [String]) {
        self.column = column
        self.names = names
    }
}

/// The affine map every raw input goes through before it reaches the network,
/// x' = (x - shift) * scale per input unit, with statistics of the training data.
///
/// Stored in the plan and applied by whatever takes raw inputs (the library's `Model`, `bpc
/// test`'s `expect` entries, the generated C and Swift), so that an embedded network takes
/// measurements as they come. The runtimes themselves take normalised inputs.
public struct InputNormalization: Sendable, Equatable {
    public enum Method: String, CaseIterable, Sendable {
        /// shift = mean, scale = 1 / standard deviation (population, as scikit-learn's
        /// `StandardScaler`): inputs of mean 0 and variance 1.
        case standard
        /// shift = minimum, scale = 1 / (maximum - minimum): inputs in [0, 1].
        case minmax
    }

    public var method: Method
    /// One value per input unit, in input order.
    public var shift: [Double]
    /// One value per input unit, in input order.
    public var scale: [Double]

    public init(method: Method, shift: [Double], scale: [Double]) {
        self.method = method
        self.shift = shift
        self.scale = scale
    }

    /// The statistics of `data`'s inputs. A constant input (standard deviation or range 0)
    /// gets scale 1, so it is shifted to 0 rather than divided by zero.
    /// - Complexity: O(samples x inputs), two passes for `standard` (mean, then the squared
    ///   deviations from it, which is accurate where the one-pass formula cancels).
    public init(method: Method, statisticsOf data: Dataset) {
        let width = data.inputWidth
        let count = data.count
        var shift = [Double](repeating: 0, count: width)
        var scale = [Double](repeating: 1, count: width)
        if count > 0 {
            data.inputs.withUnsafeBufferPointer { inputs in
                switch method {
                case .standard:
                    var sum = [Double](repeating: 0, count: width)
                    for row in 0..<count {
                        for column in 0..<width { sum[column] += inputs[row * width + column] }
                    }
                    for column in 0..<width { shift[column] = sum[column] / Double(count) }
                    var squares = [Double](repeating: 0, count: width)
                    for row in 0..<count {
                        for column in 0..<width {
                            let deviation = inputs[row * width + column] - shift[column]
                            squares[column] += deviation * deviation
                        }
                    }
                    for column in 0..<width {
                        let deviation = (squares[column] / Double(count)).squareRoot()
                        if deviation > 0 && deviation.isFinite { scale[column] = 1 / deviation }
                    }
                case .minmax:
                    var low = Array(data.inputs[0..<width])
                    var high = low
                    for row in 1..<count {
                        for column in 0..<width {
                            let value = inputs[row * width + column]
                            low[column] = Swift.min(low[column], value)
                            high[column] = Swift.max(high[column], value)
                        }
                    }
                    for column in 0..<width {
                        shift[column] = low[column]
                        let range = high[column] - low[column]
                        if range > 0 && range.isFinite { scale[column] = 1 / range }
                    }
                }
            }
        }
        self.init(method: method, shift: shift, scale: scale)
    }

    /// x' = (x - shift) * scale, in this order of operations everywhere (the generated code
    /// spells the same expression), so every consumer gets the same bits.
    @inline(__always)
    public func normalized(_ value: Double, input: Int) -> Double {
        (value - shift[input]) * scale[input]
    }

    /// One raw input vector, normalised.
    public func normalized(_ input: [Double]) -> [Double] {
        input.indices.map { normalized(input[$0], input: $0) }
    }

    /// A data set of raw inputs, normalised (targets unchanged).
    /// - Complexity: O(samples x inputs); one new array of inputs.
    public func normalized(_ data: Dataset) -> Dataset {
        var result = data
        let width = data.inputWidth
        let count = data.count
        result.inputs.withUnsafeMutableBufferPointer { inputs in
            for row in 0..<count {
                for column in 0..<width { inputs[row * width + column] = normalized(inputs[row * width + column], input: column) }
            }
        }
        return result
    }
}

extension Plan {
    /// `input` as the network takes it: normalised when the plan has a normalisation.
    public func networkInput(_ input: [Double]) -> [Double] {
        inputNormalization?.normalized(input) ?? input
    }

    /// `data` as the runtimes take it: inputs normalised when the plan has a normalisation;
    /// the same value (no copy) otherwise.
    public func networkData(_ data: Dataset) -> Dataset {
        inputNormalization?.normalized(data) ?? data
    }
}
