#ifndef BPC_KERNELS_H
#define BPC_KERNELS_H

// The fast runtime's inner loops, compiled in several instruction-set variants (see
// kernels.c); the Swift module BPCFastRuntime calls them through the table `bpc_kernels()`
// picks once for this CPU.
//
// Conventions: a "row" holds one unit's values for every sample of a batch, `width` values
// apart from the next unit's row; `lanes` (<= width) of them are in use. Every kernel accepts
// any count (vector loops, then a scalar tail), so no input makes one read or write outside
// the rows it is given. Pointers are never null unless marked _Nullable.

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#if defined(__clang__)
#pragma clang assume_nonnull begin
#define BPC_NULLABLE _Nullable
#else
#define BPC_NULLABLE
#endif

#define BPC_KERNELS_FOR(T, S)                                                                    \
    typedef struct bpc_kernels_##S {                                                             \
        /* For r < rows, c < columns: out[r*row_stride + c] += sum over t < term_count of       \
           coefficients[r*row_step + t*term_step] * terms[t*term_stride + c]. The dense        \
           forward product, the backward product into the sources and the weight gradient     \
           (over lane-major sources) are all this shape. */                                     \
        void (*accumulate)(T *out, ptrdiff_t rows, ptrdiff_t row_stride, ptrdiff_t columns,     \
                           const T *coefficients, ptrdiff_t row_step, ptrdiff_t term_step,      \
                           const T *terms, ptrdiff_t term_stride, ptrdiff_t term_count);        \
        /* `accumulate` with = for +=: out's old values are never read (a gradient block that   \
           needs no clearing first). */                                                        \
        void (*product)(T *out, ptrdiff_t rows, ptrdiff_t row_stride, ptrdiff_t columns,        \
                        const T *coefficients, ptrdiff_t row_step, ptrdiff_t term_step,         \
                        const T *terms, ptrdiff_t term_stride, ptrdiff_t term_count);           \
        /* out[l] = start + sum over e < edges of weights[e] * activations[sources[e]*width + l], \
           and when `activated` is given, activated[l] = tanh(out[l]) as `tanh` computes it.  \
           Used for one unit of a sparse step; activations may alias activated only in rows  \
           the sources do not include. */                                                      \
        void (*sparse_forward)(T *out, T *BPC_NULLABLE activated, T start, const T *weights,  \
                               const int32_t *sources, ptrdiff_t edges, const T *activations,  \
                               ptrdiff_t width, ptrdiff_t lanes);                               \
        /* One unit's backward step over its fan-in, given its finished delta row: for each   \
           edge e from source s, gradients[e] += sum_l delta[l] activations[s][l], and unless  \
           is_input[s], deltas[s][l] += weights[e] delta[l]; *bias_gradient (if given) +=     \
           sum_l delta[l]. */                                                                   \
        void (*sparse_backward)(const T *delta, T *BPC_NULLABLE bias_gradient,                 \
                                const T *weights, T *gradients, const int32_t *sources,         \
                                ptrdiff_t edges, const bool *is_input, const T *activations,    \
                                T *deltas, ptrdiff_t width, ptrdiff_t lanes);                   \
        /* The vector part of the batched softmax: per lane l, largest[l] = max over outputs   \
           o of net_input[units[o]*width + l] (NaN never wins), exponentials[o*width + l] =    \
           e^(net_input[...] - largest[l]), sums[l] = their sum. */                            \
        void (*softmax_exponentials)(const T *net_input, const ptrdiff_t *units,               \
                                     ptrdiff_t outputs, ptrdiff_t width, ptrdiff_t lanes,       \
                                     T *exponentials, T *largest, T *sums);                     \
        /* z[i] = tanh(a[i]) for i < count (binary32: the rational approximation; binary64:   \
           the C library's tanh). */                                                            \
        void (*tanh)(T *z, const T *a, ptrdiff_t count);                                        \
        /* delta[r*width + l] *= 1 - z[r*width + l]^2 for r < rows, l < lanes: tanh's         \
           derivative, evaluated in binary64 and rounded to T (as the engine's Swift formula). */ \
        void (*tanh_delta)(T *delta, const T *z, ptrdiff_t rows, ptrdiff_t width, ptrdiff_t lanes); \
        /* e^x[i] for i < count (binary32: the polynomial; binary64: the C library's exp). */   \
        void (*exp)(T *y, const T *x, ptrdiff_t count);                                         \
        T (*row_sum)(const T *row, ptrdiff_t count);                                            \
        T (*dot)(const T *x, const T *y, ptrdiff_t count);                                      \
        /* out[l*rows + r] = in[r*width + l] for r < rows, l < lanes: rows to lane-major. */    \
        void (*transpose)(T *out, const T *in, ptrdiff_t rows, ptrdiff_t width, ptrdiff_t lanes); \
        /* into[i] += values[i] for i < count. */                                               \
        void (*add)(T *into, const T *values, ptrdiff_t count);                                 \
        /* A batch's inputs into their rows, rounded to T: for l < count, c < columns,          \
           rows[units[c]*width + l] = samples[order[l]*sample_width + c]. */                    \
        void (*load_inputs)(T *rows, ptrdiff_t width, const ptrdiff_t *units, ptrdiff_t columns, \
                            const double *samples, ptrdiff_t sample_width, const ptrdiff_t *order, \
                            ptrdiff_t count);                                                   \
    } bpc_kernels_##S;

BPC_KERNELS_FOR(float, f32)
BPC_KERNELS_FOR(double, f64)
#undef BPC_KERNELS_FOR

/// One instruction-set variant of every kernel, for both precisions.
typedef struct bpc_kernel_table {
    /// "avx512", "avx2+fma" or "portable".
    const char *name;
    const bpc_kernels_f32 *f32;
    const bpc_kernels_f64 *f64;
} bpc_kernel_table;

/// The variant this CPU runs: the widest whose instructions the CPU and the operating system
/// support (x86-64: AVX-512 F/VL/DQ/BW, else AVX2 with FMA, else the portable one; elsewhere
/// the portable one). Chosen once per process; BPC_KERNELS=<name> in the environment picks a
/// narrower supported variant instead (for measurements), and is ignored otherwise.
const bpc_kernel_table *bpc_kernels(void);

/// Variant `index` (0 ..< bpc_kernel_variant_count(), widest first), or NULL when this CPU
/// lacks its instructions: the tests run every variant the CPU supports.
ptrdiff_t bpc_kernel_variant_count(void);
const bpc_kernel_table *BPC_NULLABLE bpc_kernel_variant(ptrdiff_t index);

/// The processors this process may run on (its CPU affinity, which containers and taskset
/// narrow), at least 1.
ptrdiff_t bpc_processor_count(void);

#if defined(__clang__)
#pragma clang assume_nonnull end
#endif

#endif
