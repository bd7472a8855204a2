internal import BPCKernels
import BPCPlan
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One instruction-set variant of the C kernels (module BPCKernels): "avx512", "avx2+fma" or
/// "portable". The kernels are written once in C with vector types and compiled per variant
/// with per-function target attributes, so that the package needs no compiler flags and the
/// same binary runs on every CPU; `selected` is the widest variant this CPU runs, chosen once
/// by the C library (`__builtin_cpu_supports` on x86-64), or the narrower supported one that
/// `BPC_KERNELS` names. A variant the CPU lacks is never returned, so never called.
struct KernelVariant: @unchecked Sendable, CustomStringConvertible {
    // @unchecked: the table is immutable static data in the C library.
    let table: UnsafePointer<bpc_kernel_table>

    var name: String { String(cString: table.pointee.name) }
    var description: String { name }

    /// The variant every engine uses unless a test asks for another.
    static let selected = KernelVariant(table: bpc_kernels())

    /// Every variant this CPU runs, widest first; the portable one is always among them.
    static var supported: [KernelVariant] {
        (0..<bpc_kernel_variant_count()).compactMap { index in bpc_kernel_variant(index).map(KernelVariant.init) }
    }
}

/// The element type a kernel runs in: binary32 or binary64.
///
/// `BatchEngine` is generic over it and specialised by the optimiser, so one piece of Swift
/// serves both precisions; each conformance forwards the kernel calls to its precision's C
/// function table. The C kernels hold the vector loops and the binary32 tanh and exp
/// approximations; every other function goes through `Activation`'s and `Loss`'s binary64
/// formulas, so there is one definition of each.
protocol KernelScalar: BinaryFloatingPoint, SIMDScalar, Codable, Sendable {
    /// This precision's half of a variant's table (a C struct of function pointers).
    associatedtype Kernels
    static func kernels(_ variant: KernelVariant) -> Kernels

    /// tanh of one value, correctly rounded to this precision by the C library (the
    /// one-sample path; rows go through `tanh`).
    static func hyperbolicTangent(_ x: Self) -> Self

    // The kernels; bpc_kernels.h documents each.
    static func accumulate(
        _ k: Kernels, _ out: UnsafeMutablePointer<Self>, _ rows: Int, _ rowStride: Int, _ columns: Int,
        _ coefficients: UnsafePointer<Self>, _ rowStep: Int, _ termStep: Int,
        _ terms: UnsafePointer<Self>, _ termStride: Int, _ termCount: Int)
    static func product(
        _ k: Kernels, _ out: UnsafeMutablePointer<Self>, _ rows: Int, _ rowStride: Int, _ columns: Int,
        _ coefficients: UnsafePointer<Self>, _ rowStep: Int, _ termStep: Int,
        _ terms: UnsafePointer<Self>, _ termStride: Int, _ termCount: Int)
    static func sparseForward(
        _ k: Kernels, _ out: UnsafeMutablePointer<Self>, _ activated: UnsafeMutablePointer<Self>?, _ start: Self,
        _ weights: UnsafePointer<Self>, _ sources: UnsafePointer<Int32>, _ edges: Int, _ activations: UnsafePointer<Self>,
        _ width: Int, _ lanes: Int)
    static func sparseBackward(
        _ k: Kernels, _ delta: UnsafePointer<Self>, _ biasGradient: UnsafeMutablePointer<Self>?,
        _ weights: UnsafePointer<Self>, _ gradients: UnsafeMutablePointer<Self>, _ sources: UnsafePointer<Int32>,
        _ edges: Int, _ isInput: UnsafePointer<Bool>, _ activations: UnsafePointer<Self>,
        _ deltas: UnsafeMutablePointer<Self>, _ width: Int, _ lanes: Int)
    static func softmaxExponentials(
        _ k: Kernels, _ netInput: UnsafePointer<Self>, _ units: UnsafePointer<Int>, _ outputs: Int, _ width: Int,
        _ lanes: Int, _ exponentials: UnsafeMutablePointer<Self>, _ largest: UnsafeMutablePointer<Self>,
        _ sums: UnsafeMutablePointer<Self>)
    static func tanh(_ k: Kernels, _ z: UnsafeMutablePointer<Self>, _ a: UnsafePointer<Self>, _ count: Int)
    static func tanhDelta(_ k: Kernels, _ delta: UnsafeMutablePointer<Self>, _ z: UnsafePointer<Self>, _ rows: Int, _ width: Int, _ lanes: Int)
    static func exp(_ k: Kernels, _ y: UnsafeMutablePointer<Self>, _ x: UnsafePointer<Self>, _ count: Int)
    static func rowSum(_ k: Kernels, _ row: UnsafePointer<Self>, _ count: Int) -> Self
    static func dot(_ k: Kernels, _ x: UnsafePointer<Self>, _ y: UnsafePointer<Self>, _ count: Int) -> Self
    static func transpose(_ k: Kernels, _ out: UnsafeMutablePointer<Self>, _ rows: UnsafePointer<Self>, _ rowCount: Int, _ width: Int, _ lanes: Int)
    static func add(_ k: Kernels, _ into: UnsafeMutablePointer<Self>, _ values: UnsafePointer<Self>, _ count: Int)
    static func loadInputs(
        _ k: Kernels, _ rows: UnsafeMutablePointer<Self>, _ width: Int, _ units: UnsafePointer<Int>, _ columns: Int,
        _ samples: UnsafePointer<Double>, _ sampleWidth: Int, _ order: UnsafePointer<Int>, _ count: Int)
}

extension Float: KernelScalar {
    static func kernels(_ variant: KernelVariant) -> bpc_kernels_f32 { variant.table.pointee.f32.pointee }

    /// The C library's binary32 tanhf: a conversion to binary64 and back would cost twice as much.
    @inline(__always)
    static func hyperbolicTangent(_ x: Float) -> Float { tanhf(x) }

    @inline(__always)
    static func accumulate(
        _ k: bpc_kernels_f32, _ out: UnsafeMutablePointer<Float>, _ rows: Int, _ rowStride: Int, _ columns: Int,
        _ coefficients: UnsafePointer<Float>, _ rowStep: Int, _ termStep: Int,
        _ terms: UnsafePointer<Float>, _ termStride: Int, _ termCount: Int
    ) {
        k.accumulate(out, rows, rowStride, columns, coefficients, rowStep, termStep, terms, termStride, termCount)
    }

    @inline(__always)
    static func product(
        _ k: bpc_kernels_f32, _ out: UnsafeMutablePointer<Float>, _ rows: Int, _ rowStride: Int, _ columns: Int,
        _ coefficients: UnsafePointer<Float>, _ rowStep: Int, _ termStep: Int,
        _ terms: UnsafePointer<Float>, _ termStride: Int, _ termCount: Int
    ) {
        k.product(out, rows, rowStride, columns, coefficients, rowStep, termStep, terms, termStride, termCount)
    }

    @inline(__always)
    static func sparseForward(
        _ k: bpc_kernels_f32, _ out: UnsafeMutablePointer<Float>, _ activated: UnsafeMutablePointer<Float>?, _ start: Float,
        _ weights: UnsafePointer<Float>, _ sources: UnsafePointer<Int32>, _ edges: Int, _ activations: UnsafePointer<Float>,
        _ width: Int, _ lanes: Int
    ) {
        k.sparse_forward(out, activated, start, weights, sources, edges, activations, width, lanes)
    }

    @inline(__always)
    static func sparseBackward(
        _ k: bpc_kernels_f32, _ delta: UnsafePointer<Float>, _ biasGradient: UnsafeMutablePointer<Float>?,
        _ weights: UnsafePointer<Float>, _ gradients: UnsafeMutablePointer<Float>, _ sources: UnsafePointer<Int32>,
        _ edges: Int, _ isInput: UnsafePointer<Bool>, _ activations: UnsafePointer<Float>,
        _ deltas: UnsafeMutablePointer<Float>, _ width: Int, _ lanes: Int
    ) {
        k.sparse_backward(delta, biasGradient, weights, gradients, sources, edges, isInput, activations, deltas, width, lanes)
    }

    @inline(__always)
    static func softmaxExponentials(
        _ k: bpc_kernels_f32, _ netInput: UnsafePointer<Float>, _ units: UnsafePointer<Int>, _ outputs: Int, _ width: Int,
        _ lanes: Int, _ exponentials: UnsafeMutablePointer<Float>, _ largest: UnsafeMutablePointer<Float>,
        _ sums: UnsafeMutablePointer<Float>
    ) {
        k.softmax_exponentials(netInput, units, outputs, width, lanes, exponentials, largest, sums)
    }

    @inline(__always)
    static func tanh(_ k: bpc_kernels_f32, _ z: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ count: Int) {
        k.tanh(z, a, count)
    }

    @inline(__always)
    static func tanhDelta(
        _ k: bpc_kernels_f32, _ delta: UnsafeMutablePointer<Float>, _ z: UnsafePointer<Float>, _ rows: Int, _ width: Int, _ lanes: Int
    ) {
        k.tanh_delta(delta, z, rows, width, lanes)
    }

    @inline(__always)
    static func exp(_ k: bpc_kernels_f32, _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ count: Int) {
        k.exp(y, x, count)
    }

    @inline(__always)
    static func rowSum(_ k: bpc_kernels_f32, _ row: UnsafePointer<Float>, _ count: Int) -> Float { k.row_sum(row, count) }

    @inline(__always)
    static func dot(_ k: bpc_kernels_f32, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ count: Int) -> Float {
        k.dot(x, y, count)
    }

    @inline(__always)
    static func transpose(
        _ k: bpc_kernels_f32, _ out: UnsafeMutablePointer<Float>, _ rows: UnsafePointer<Float>, _ rowCount: Int, _ width: Int, _ lanes: Int
    ) {
        k.transpose(out, rows, rowCount, width, lanes)
    }

    @inline(__always)
    static func add(_ k: bpc_kernels_f32, _ into: UnsafeMutablePointer<Float>, _ values: UnsafePointer<Float>, _ count: Int) {
        k.add(into, values, count)
    }

    @inline(__always)
    static func loadInputs(
        _ k: bpc_kernels_f32, _ rows: UnsafeMutablePointer<Float>, _ width: Int, _ units: UnsafePointer<Int>, _ columns: Int,
        _ samples: UnsafePointer<Double>, _ sampleWidth: Int, _ order: UnsafePointer<Int>, _ count: Int
    ) {
        k.load_inputs(rows, width, units, columns, samples, sampleWidth, order, count)
    }
}

extension Double: KernelScalar {
    static func kernels(_ variant: KernelVariant) -> bpc_kernels_f64 { variant.table.pointee.f64.pointee }

    /// `Activation.tanh`'s own formula (the C library's tanh).
    @inline(__always)
    static func hyperbolicTangent(_ x: Double) -> Double { Activation.tanh.value(x) }

    @inline(__always)
    static func accumulate(
        _ k: bpc_kernels_f64, _ out: UnsafeMutablePointer<Double>, _ rows: Int, _ rowStride: Int, _ columns: Int,
        _ coefficients: UnsafePointer<Double>, _ rowStep: Int, _ termStep: Int,
        _ terms: UnsafePointer<Double>, _ termStride: Int, _ termCount: Int
    ) {
        k.accumulate(out, rows, rowStride, columns, coefficients, rowStep, termStep, terms, termStride, termCount)
    }

    @inline(__always)
    static func product(
        _ k: bpc_kernels_f64, _ out: UnsafeMutablePointer<Double>, _ rows: Int, _ rowStride: Int, _ columns: Int,
        _ coefficients: UnsafePointer<Double>, _ rowStep: Int, _ termStep: Int,
        _ terms: UnsafePointer<Double>, _ termStride: Int, _ termCount: Int
    ) {
        k.product(out, rows, rowStride, columns, coefficients, rowStep, termStep, terms, termStride, termCount)
    }

    @inline(__always)
    static func sparseForward(
        _ k: bpc_kernels_f64, _ out: UnsafeMutablePointer<Double>, _ activated: UnsafeMutablePointer<Double>?, _ start: Double,
        _ weights: UnsafePointer<Double>, _ sources: UnsafePointer<Int32>, _ edges: Int, _ activations: UnsafePointer<Double>,
        _ width: Int, _ lanes: Int
    ) {
        k.sparse_forward(out, activated, start, weights, sources, edges, activations, width, lanes)
    }

    @inline(__always)
    static func sparseBackward(
        _ k: bpc_kernels_f64, _ delta: UnsafePointer<Double>, _ biasGradient: UnsafeMutablePointer<Double>?,
        _ weights: UnsafePointer<Double>, _ gradients: UnsafeMutablePointer<Double>, _ sources: UnsafePointer<Int32>,
        _ edges: Int, _ isInput: UnsafePointer<Bool>, _ activations: UnsafePointer<Double>,
        _ deltas: UnsafeMutablePointer<Double>, _ width: Int, _ lanes: Int
    ) {
        k.sparse_backward(delta, biasGradient, weights, gradients, sources, edges, isInput, activations, deltas, width, lanes)
    }

    @inline(__always)
    static func softmaxExponentials(
        _ k: bpc_kernels_f64, _ netInput: UnsafePointer<Double>, _ units: UnsafePointer<Int>, _ outputs: Int, _ width: Int,
        _ lanes: Int, _ exponentials: UnsafeMutablePointer<Double>, _ largest: UnsafeMutablePointer<Double>,
        _ sums: UnsafeMutablePointer<Double>
    ) {
        k.softmax_exponentials(netInput, units, outputs, width, lanes, exponentials, largest, sums)
    }

    @inline(__always)
    static func tanh(_ k: bpc_kernels_f64, _ z: UnsafeMutablePointer<Double>, _ a: UnsafePointer<Double>, _ count: Int) {
        k.tanh(z, a, count)
    }

    @inline(__always)
    static func tanhDelta(
        _ k: bpc_kernels_f64, _ delta: UnsafeMutablePointer<Double>, _ z: UnsafePointer<Double>, _ rows: Int, _ width: Int, _ lanes: Int
    ) {
        k.tanh_delta(delta, z, rows, width, lanes)
    }

    @inline(__always)
    static func exp(_ k: bpc_kernels_f64, _ y: UnsafeMutablePointer<Double>, _ x: UnsafePointer<Double>, _ count: Int) {
        k.exp(y, x, count)
    }

    @inline(__always)
    static func rowSum(_ k: bpc_kernels_f64, _ row: UnsafePointer<Double>, _ count: Int) -> Double { k.row_sum(row, count) }

    @inline(__always)
    static func dot(_ k: bpc_kernels_f64, _ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ count: Int) -> Double {
        k.dot(x, y, count)
    }

    @inline(__always)
    static func transpose(
        _ k: bpc_kernels_f64, _ out: UnsafeMutablePointer<Double>, _ rows: UnsafePointer<Double>, _ rowCount: Int, _ width: Int, _ lanes: Int
    ) {
        k.transpose(out, rows, rowCount, width, lanes)
    }

    @inline(__always)
    static func add(_ k: bpc_kernels_f64, _ into: UnsafeMutablePointer<Double>, _ values: UnsafePointer<Double>, _ count: Int) {
        k.add(into, values, count)
    }

    @inline(__always)
    static func loadInputs(
        _ k: bpc_kernels_f64, _ rows: UnsafeMutablePointer<Double>, _ width: Int, _ units: UnsafePointer<Int>, _ columns: Int,
        _ samples: UnsafePointer<Double>, _ sampleWidth: Int, _ order: UnsafePointer<Int>, _ count: Int
    ) {
        k.load_inputs(rows, width, units, columns, samples, sampleWidth, order, count)
    }
}
