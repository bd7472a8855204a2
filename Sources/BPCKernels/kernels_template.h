// One variant of every kernel for one element type. kernels.c includes this file once per
// (instruction set, element type) with:
//
//   ELEM       float or double
//   ELEM_F32   1 for float (the rational tanh and polynomial exp), 0 for double (the C library's)
//   VBYTES     bytes per native vector: 16 (portable), 32 (AVX2), 64 (AVX-512)
//   PAIR_ROWS  rows of the matrix kernel's main tile (4, 6, 8: what the registers hold)
//   FN(name)   name with the variant's suffix
//   KERNELS_TYPE  bpc_kernels_f32 or bpc_kernels_f64
//
// and inside a region that compiles every function for that instruction set. The code is
// written once with GCC/Clang vector types; `a * b + c` in one expression contracts to a
// fused multiply-add where the instruction set has one (C's default FP_CONTRACT ON), so the
// AVX2 and AVX-512 variants run vfmadd and the portable one a multiply and an add. The
// binary32 tanh and exp turn contraction off: their steps round one by one in every variant.
//
// Every kernel takes any count: vector loops, then 8-element vectors where that is narrower
// than the native width, then scalars. Rows are 64-byte aligned in the fast runtime's arena,
// but loads and stores here never assume it (memcpy, which compiles to unaligned moves).
// AVX-512 pays even where a 512-bit FMA is no faster than two 256-bit ones (as on the
// benchmark machine, benchmarks/RESULTS.md): half the instructions, broadcasts folded into
// the FMA, and 32 registers for bigger tiles.

#define VL ((ptrdiff_t)(VBYTES / sizeof(ELEM)))
typedef ELEM FN(vec) __attribute__((vector_size(VBYTES)));
/// 8 elements: the fast runtime's row widths and block widths are multiples of 8.
typedef ELEM FN(oct) __attribute__((vector_size(8 * sizeof(ELEM))));
#if ELEM_F32
typedef int32_t FN(mask) __attribute__((vector_size(VBYTES)));
#else
typedef int64_t FN(mask) __attribute__((vector_size(VBYTES)));
#endif

#define INLINE static inline __attribute__((always_inline))

INLINE FN(vec) FN(load)(const ELEM *p) { FN(vec) v; __builtin_memcpy(&v, p, sizeof v); return v; }
INLINE void FN(store)(ELEM *p, FN(vec) v) { __builtin_memcpy(p, &v, sizeof v); }
INLINE FN(vec) FN(splat)(ELEM x) { return (FN(vec)){0} + x; }
/// mask ? a : b, lane by lane (a mask lane is all ones or all zeros, as comparisons give).
INLINE FN(vec) FN(select)(FN(mask) mask, FN(vec) a, FN(vec) b) {
    return (FN(vec))((mask & (FN(mask))a) | (~mask & (FN(mask))b));
}
/// The sum of a vector's lanes, halving pairwise.
INLINE ELEM FN(hsum)(FN(vec) v) {
    ELEM a[VL];
    __builtin_memcpy(a, &v, sizeof a);
    for (ptrdiff_t half = VL / 2; half >= 1; half /= 2)
        for (ptrdiff_t i = 0; i < half; i++) a[i] += a[i + half];
    return a[0];
}

// ---- the matrix kernel ----

/// One tile of `rows` (1..8) rows x `count` (1..2) vectors of type VT (W elements each) at
/// out/terms, summed over all terms, onto out's values or (`fresh`) onto zero. Inlined with
/// constant rows, count and fresh, the arrays become registers. Every element is summed over
/// t in order, whatever the tile's shape.
#define TILE(NAME, VT, W)                                                                        \
    INLINE void NAME(int fresh, int rows, int count, ELEM *out, ptrdiff_t row_stride,            \
                     const ELEM *coefficients, ptrdiff_t row_step, ptrdiff_t term_step,          \
                     const ELEM *terms, ptrdiff_t term_stride, ptrdiff_t term_count) {           \
        VT acc[8][2];                                                                            \
        for (int r = 0; r < rows; r++)                                                           \
            for (int v = 0; v < count; v++) {                                                    \
                if (fresh) acc[r][v] = (VT){0};                                                  \
                else __builtin_memcpy(&acc[r][v], out + r * row_stride + v * W, sizeof(VT));     \
            }                                                                                    \
        const ELEM *term = terms, *coefficient = coefficients;                                   \
        for (ptrdiff_t t = 0; t < term_count; t++) {                                             \
            VT x[2];                                                                             \
            for (int v = 0; v < count; v++) __builtin_memcpy(&x[v], term + v * W, sizeof(VT));   \
            for (int r = 0; r < rows; r++) {                                                     \
                ELEM c = coefficient[r * row_step];                                              \
                for (int v = 0; v < count; v++) acc[r][v] = c * x[v] + acc[r][v];               \
            }                                                                                    \
            term += term_stride;                                                                 \
            coefficient += term_step;                                                            \
        }                                                                                        \
        for (int r = 0; r < rows; r++)                                                           \
            for (int v = 0; v < count; v++)                                                      \
                __builtin_memcpy(out + r * row_stride + v * W, &acc[r][v], sizeof(VT));          \
    }
// Loads and stores by memcpy: any alignment, and no vector wider than the instruction set's
// passes through a function boundary.
TILE(FN(tile), FN(vec), VL)
TILE(FN(tile8), FN(oct), 8)
#undef TILE

/// For r < rows, c < columns: out[r*row_stride + c] += sum over t of
/// coefficients[r*row_step + t*term_step] * terms[t*term_stride + c]; with `fresh`, = instead
/// of += (out is never read).
///
/// Tiles hold as many accumulators as the registers allow, so that enough independent
/// multiply-adds are in flight to cover the FMA latency on two pipes and each loaded term
/// vector serves several rows: PAIR_ROWS rows x 2 vectors where the columns allow (4 rows with
/// 16 registers, 6 with AVX2's 16 wider ones, 8 with AVX-512's 32), else 8 rows x 1 vector (a
/// batch of 16 lanes in AVX-512), then 8-element vectors, then scalars.
INLINE void FN(matrix)(int fresh, ELEM *out, ptrdiff_t rows, ptrdiff_t row_stride, ptrdiff_t columns,
                       const ELEM *coefficients, ptrdiff_t row_step, ptrdiff_t term_step,
                       const ELEM *terms, ptrdiff_t term_stride, ptrdiff_t term_count) {
#define AT(TILE_FN, R, N, C)                                                                     \
    TILE_FN(fresh, R, N, out + r * row_stride + (C), row_stride, coefficients + r * row_step, row_step, \
            term_step, terms + (C), term_stride, term_count)
    ptrdiff_t pairs = columns / (2 * VL) * (2 * VL), r = 0, c = 0;
    if (pairs > 0) {
        for (; r + PAIR_ROWS <= rows; r += PAIR_ROWS)
            for (c = 0; c < pairs; c += 2 * VL) AT(FN(tile), PAIR_ROWS, 2, c);
        if (PAIR_ROWS > 4)
            for (; r + 4 <= rows; r += 4)
                for (c = 0; c < pairs; c += 2 * VL) AT(FN(tile), 4, 2, c);
        for (; r + 2 <= rows; r += 2)
            for (c = 0; c < pairs; c += 2 * VL) AT(FN(tile), 2, 2, c);
        for (; r < rows; r++)
            for (c = 0; c < pairs; c += 2 * VL) AT(FN(tile), 1, 2, c);
    }
    c = pairs;
    if (c + VL <= columns) {
        for (r = 0; r + 8 <= rows; r += 8) AT(FN(tile), 8, 1, c);
        for (; r + 4 <= rows; r += 4) AT(FN(tile), 4, 1, c);
        for (; r < rows; r++) AT(FN(tile), 1, 1, c);
        c += VL;
    }
    if (VL > 8 && c + 8 <= columns) {
        for (r = 0; r + 8 <= rows; r += 8) AT(FN(tile8), 8, 1, c);
        for (; r < rows; r++) AT(FN(tile8), 1, 1, c);
        c += 8;
    }
#undef AT
    for (; c < columns; c++)
        for (r = 0; r < rows; r++) {
            ELEM sum = fresh ? 0 : out[r * row_stride + c];
            for (ptrdiff_t t = 0; t < term_count; t++)
                sum = coefficients[r * row_step + t * term_step] * terms[t * term_stride + c] + sum;
            out[r * row_stride + c] = sum;
        }
}

static void FN(accumulate)(ELEM *out, ptrdiff_t rows, ptrdiff_t row_stride, ptrdiff_t columns,
                           const ELEM *coefficients, ptrdiff_t row_step, ptrdiff_t term_step,
                           const ELEM *terms, ptrdiff_t term_stride, ptrdiff_t term_count) {
    FN(matrix)(0, out, rows, row_stride, columns, coefficients, row_step, term_step, terms, term_stride, term_count);
}

static void FN(product)(ELEM *out, ptrdiff_t rows, ptrdiff_t row_stride, ptrdiff_t columns,
                        const ELEM *coefficients, ptrdiff_t row_step, ptrdiff_t term_step,
                        const ELEM *terms, ptrdiff_t term_stride, ptrdiff_t term_count) {
    FN(matrix)(1, out, rows, row_stride, columns, coefficients, row_step, term_step, terms, term_stride, term_count);
}

// ---- tanh and exp ----

#if ELEM_F32
/// tanh(x) = x P(x^2) / Q(x^2) on [-7.9, 7.9] (beyond that tanh rounds to +-1 in binary32),
/// with the minimax coefficients Eigen uses for its vectorised tanh; |x| below 4e-4 returns x,
/// which is tanh(x) rounded. NaN stays NaN (comparisons with it are false). The tests bound
/// its error against the C library over the whole range, in every variant.
INLINE FN(vec) FN(tanhv)(FN(vec) x) {
    // Each step rounded on its own, as the approximation was measured (fused, tanh beyond
    // the clamp would come out 2 ulp short of 1), and identical in every variant.
#pragma clang fp contract(off)
    const FN(vec) bound = FN(splat)(7.90531110763549805f);
    FN(vec) c = FN(select)((FN(mask))(x > bound), bound, x);
    c = FN(select)((FN(mask))(x < -bound), -bound, c);
    FN(vec) x2 = c * c;
    FN(vec) p = FN(splat)(-2.76076847742355e-16f);
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 - 8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    p = p * c;
    FN(vec) q = FN(splat)(1.19825839466702e-06f);
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    FN(mask) tiny = (FN(mask))(x < 0.0004f) & (FN(mask))(x > -0.0004f);
    return FN(select)(tiny, x, p / q);
}

/// e^x = 2^n e^r with n = round(x / ln 2) and |r| <= ln 2 / 2, e^r by the minimax polynomial
/// of Cephes' expf, 2^n built in the exponent bits. Inputs are clamped to [-87.3, 88], where
/// 2^n stays a normal binary32 number (the softmax only passes a - max <= 0); NaN stays NaN.
/// The tests bound the error against the C library's expf, in every variant.
INLINE FN(vec) FN(expv)(FN(vec) x) {
    // Each step rounded on its own, as for tanh: identical in every variant.
#pragma clang fp contract(off)
    const FN(vec) high = FN(splat)(88.0f), low = FN(splat)(-87.3f);
    FN(vec) c = FN(select)((FN(mask))(x > high), high, x);
    c = FN(select)((FN(mask))(x < low), low, c);
    // Adding 1.5 * 2^23 rounds to an integer and leaves it in the low mantissa bits: no
    // rounding or float-to-integer conversion instruction needed.
    const FN(vec) magic = FN(splat)(12582912.0f);
    FN(vec) shifted = c * 1.44269504088896341f + magic;
    FN(vec) n = shifted - magic;
    FN(vec) r = c - n * 0.693359375f + n * 2.12194440e-4f;
    FN(vec) p = FN(splat)(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    FN(mask) integer = (FN(mask))shifted - (FN(mask))magic;
    FN(vec) scale = (FN(vec))((integer + 127) << 23);
    return p * scale;
}
#endif

static void FN(tanh_row)(ELEM *z, const ELEM *a, ptrdiff_t count) {
    ptrdiff_t i = 0;
#if ELEM_F32
    for (; i + VL <= count; i += VL) FN(store)(z + i, FN(tanhv)(FN(load)(a + i)));
    if (i < count) {
        // The tail through a zero-padded vector, so every lane gets the same function.
        ELEM in[VL] = {0}, out[VL];
        __builtin_memcpy(in, a + i, (size_t)(count - i) * sizeof(ELEM));
        FN(store)(out, FN(tanhv)(FN(load)(in)));
        __builtin_memcpy(z + i, out, (size_t)(count - i) * sizeof(ELEM));
    }
#else
    for (; i < count; i++) z[i] = tanh(a[i]);
#endif
}

static void FN(exp_row)(ELEM *y, const ELEM *x, ptrdiff_t count) {
    ptrdiff_t i = 0;
#if ELEM_F32
    for (; i + VL <= count; i += VL) FN(store)(y + i, FN(expv)(FN(load)(x + i)));
    if (i < count) {
        ELEM in[VL] = {0}, out[VL];
        __builtin_memcpy(in, x + i, (size_t)(count - i) * sizeof(ELEM));
        FN(store)(out, FN(expv)(FN(load)(in)));
        __builtin_memcpy(y + i, out, (size_t)(count - i) * sizeof(ELEM));
    }
#else
    for (; i < count; i++) y[i] = exp(x[i]);
#endif
}

/// delta[r][l] *= 1 - z[r][l]^2, tanh's derivative, for r < rows, l < lanes (rows `width`
/// apart). The derivative is evaluated in binary64 and rounded to ELEM, as the engine's
/// `Activation.tanh.derivative` call does, so the result is the same bit for bit: for binary32
/// z, z^2 is exact in binary64 and 1 - z^2 rounds once whether fused or not; for binary64 the
/// multiply and the subtraction round one by one, as Swift's do. One call per block of rows
/// instead of a Swift loop per unit, which the baseline instruction set runs 2 or 4 lanes wide.
static void FN(tanh_delta)(ELEM *delta, const ELEM *z, ptrdiff_t rows, ptrdiff_t width, ptrdiff_t lanes) {
#pragma clang fp contract(off)
    typedef double FN(wide) __attribute__((vector_size(VL * sizeof(double))));
    for (ptrdiff_t r = 0; r < rows; r++) {
        ELEM *d = delta + r * width;
        const ELEM *zr = z + r * width;
        ptrdiff_t l = 0;
        for (; l + VL <= lanes; l += VL) {
            FN(wide) x = __builtin_convertvector(FN(load)(zr + l), FN(wide));
            FN(vec) slope = __builtin_convertvector(1.0 - x * x, FN(vec));
            FN(store)(d + l, FN(load)(d + l) * slope);
        }
        for (; l < lanes; l++) d[l] *= (ELEM)(1.0 - (double)zr[l] * (double)zr[l]);
    }
}

// ---- sparse gather, forward and backward ----

/// `count` (1..4) vectors of one unit's row, summed over its edges: even and odd edges into
/// separate accumulators, so that 2 x count multiply-adds are in flight, then added. With
/// `activated`, also its tanh there, from the registers.
INLINE void FN(gather)(int count, ELEM *out, ELEM *activated, ELEM start, const ELEM *weights,
                       const int32_t *sources, ptrdiff_t edges, const ELEM *activations, ptrdiff_t width) {
    FN(vec) even[4], odd[4];
    for (int v = 0; v < count; v++) {
        even[v] = FN(splat)(start);
        odd[v] = FN(splat)(0);
    }
    ptrdiff_t e = 0;
    for (; e + 2 <= edges; e += 2) {
        ELEM w0 = weights[e], w1 = weights[e + 1];
        const ELEM *s0 = activations + (ptrdiff_t)sources[e] * width;
        const ELEM *s1 = activations + (ptrdiff_t)sources[e + 1] * width;
        for (int v = 0; v < count; v++) {
            even[v] = w0 * FN(load)(s0 + v * VL) + even[v];
            odd[v] = w1 * FN(load)(s1 + v * VL) + odd[v];
        }
    }
    if (e < edges) {
        ELEM w0 = weights[e];
        const ELEM *s0 = activations + (ptrdiff_t)sources[e] * width;
        for (int v = 0; v < count; v++) even[v] = w0 * FN(load)(s0 + v * VL) + even[v];
    }
    for (int v = 0; v < count; v++) {
        FN(vec) sum = even[v] + odd[v];
        FN(store)(out + v * VL, sum);
#if ELEM_F32
        if (activated) FN(store)(activated + v * VL, FN(tanhv)(sum));
#endif
    }
#if !ELEM_F32
    if (activated) FN(tanh_row)(activated, out, count * VL);
#endif
}

static void FN(sparse_forward)(ELEM *out, ELEM *activated, ELEM start, const ELEM *weights, const int32_t *sources,
                               ptrdiff_t edges, const ELEM *activations, ptrdiff_t width, ptrdiff_t lanes) {
    ptrdiff_t l = 0;
#define GATHER(N) FN(gather)(N, out + l, activated ? activated + l : activated, start, weights, sources, edges, activations + l, width)
    for (; l + 4 * VL <= lanes; l += 4 * VL) GATHER(4);
    for (; l + 2 * VL <= lanes; l += 2 * VL) GATHER(2);
    for (; l + VL <= lanes; l += VL) GATHER(1);
#undef GATHER
    for (; l < lanes; l++) {
        ELEM sum = start;
        for (ptrdiff_t e = 0; e < edges; e++) sum = weights[e] * activations[(ptrdiff_t)sources[e] * width + l] + sum;
        out[l] = sum;
        if (activated) FN(tanh_row)(activated + l, out + l, 1);
    }
}

static ELEM FN(row_sum)(const ELEM *row, ptrdiff_t count) {
    FN(vec) s0 = FN(splat)(0), s1 = s0;
    ptrdiff_t i = 0;
    for (; i + 2 * VL <= count; i += 2 * VL) {
        s0 += FN(load)(row + i);
        s1 += FN(load)(row + i + VL);
    }
    for (; i + VL <= count; i += VL) s0 += FN(load)(row + i);
    ELEM sum = FN(hsum)(s0 + s1);
    for (; i < count; i++) sum += row[i];
    return sum;
}

static ELEM FN(dot)(const ELEM *x, const ELEM *y, ptrdiff_t count) {
    FN(vec) s0 = FN(splat)(0), s1 = s0;
    ptrdiff_t i = 0;
    for (; i + 2 * VL <= count; i += 2 * VL) {
        s0 = FN(load)(x + i) * FN(load)(y + i) + s0;
        s1 = FN(load)(x + i + VL) * FN(load)(y + i + VL) + s1;
    }
    for (; i + VL <= count; i += VL) s0 = FN(load)(x + i) * FN(load)(y + i) + s0;
    ELEM sum = FN(hsum)(s0 + s1);
    for (; i < count; i++) sum = x[i] * y[i] + sum;
    return sum;
}

/// `sparse_backward` for a delta row of exactly `count` (1..8) vectors, held in registers
/// across the edges; each edge's products go into two accumulators (even and odd vectors).
INLINE void FN(backward_in_registers)(int count, const ELEM *delta, const ELEM *weights, ELEM *gradients,
                                      const int32_t *sources, ptrdiff_t edges, const bool *is_input,
                                      const ELEM *activations, ELEM *deltas, ptrdiff_t width) {
    FN(vec) d[8];
    for (int v = 0; v < count; v++) d[v] = FN(load)(delta + v * VL);
    for (ptrdiff_t e = 0; e < edges; e++) {
        ptrdiff_t s = sources[e];
        const ELEM *z = activations + s * width;
        FN(vec) even = d[0] * FN(load)(z), odd = FN(splat)(0);
        for (int v = 1; v < count; v++) {
            if (v % 2) odd = d[v] * FN(load)(z + v * VL) + odd;
            else even = d[v] * FN(load)(z + v * VL) + even;
        }
        if (!is_input[s]) {
            ELEM *downstream = deltas + s * width;
            ELEM w = weights[e];
            for (int v = 0; v < count; v++) FN(store)(downstream + v * VL, w * d[v] + FN(load)(downstream + v * VL));
        }
        gradients[e] += FN(hsum)(even + odd);
    }
}

static void FN(sparse_backward)(const ELEM *delta, ELEM *bias_gradient, const ELEM *weights,
                                ELEM *gradients, const int32_t *sources, ptrdiff_t edges, const bool *is_input,
                                const ELEM *activations, ELEM *deltas, ptrdiff_t width, ptrdiff_t lanes) {
    if (bias_gradient) *bias_gradient += FN(row_sum)(delta, lanes);
    if (lanes > 0 && lanes % VL == 0 && lanes <= 8 * VL) {
        // A batch of up to 8 vectors (64 binary32 lanes in AVX2, 128 in AVX-512): the common case.
        switch (lanes / VL) {
#define CASE(N)                                                                                            \
    case N:                                                                                                \
        FN(backward_in_registers)(N, delta, weights, gradients, sources, edges, is_input, activations, deltas, width); \
        return;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
        }
    }
    for (ptrdiff_t e = 0; e < edges; e++) {
        ptrdiff_t s = sources[e];
        const ELEM *z = activations + s * width;
        if (is_input[s]) {
            gradients[e] += FN(dot)(delta, z, lanes);
            continue;
        }
        ELEM *downstream = deltas + s * width;
        ELEM w = weights[e];
        FN(vec) p0 = FN(splat)(0), p1 = p0;
        ptrdiff_t l = 0;
        for (; l + 2 * VL <= lanes; l += 2 * VL) {
            FN(vec) d0 = FN(load)(delta + l), d1 = FN(load)(delta + l + VL);
            p0 = d0 * FN(load)(z + l) + p0;
            p1 = d1 * FN(load)(z + l + VL) + p1;
            FN(store)(downstream + l, w * d0 + FN(load)(downstream + l));
            FN(store)(downstream + l + VL, w * d1 + FN(load)(downstream + l + VL));
        }
        for (; l + VL <= lanes; l += VL) {
            FN(vec) d0 = FN(load)(delta + l);
            p0 = d0 * FN(load)(z + l) + p0;
            FN(store)(downstream + l, w * d0 + FN(load)(downstream + l));
        }
        ELEM product = FN(hsum)(p0 + p1);
        for (; l < lanes; l++) {
            product = delta[l] * z[l] + product;
            downstream[l] = w * delta[l] + downstream[l];
        }
        gradients[e] += product;
    }
}

static void FN(softmax_exponentials)(const ELEM *net_input, const ptrdiff_t *units, ptrdiff_t outputs,
                                     ptrdiff_t width, ptrdiff_t lanes, ELEM *exponentials, ELEM *largest,
                                     ELEM *sums) {
    ptrdiff_t l = 0;
    for (; l + VL <= lanes; l += VL) {
        FN(vec) m = FN(splat)(-__builtin_inf());
        for (ptrdiff_t o = 0; o < outputs; o++) {
            FN(vec) a = FN(load)(net_input + units[o] * width + l);
            m = FN(select)((FN(mask))(a > m), a, m);
        }
        FN(vec) s = FN(splat)(0);
        for (ptrdiff_t o = 0; o < outputs; o++) {
            FN(vec) a = FN(load)(net_input + units[o] * width + l) - m;
#if ELEM_F32
            FN(vec) e = FN(expv)(a);
#else
            FN(vec) e;
            for (ptrdiff_t i = 0; i < VL; i++) e[i] = exp(a[i]);
#endif
            FN(store)(exponentials + o * width + l, e);
            s += e;
        }
        FN(store)(largest + l, m);
        FN(store)(sums + l, s);
    }
    for (; l < lanes; l++) {
        ELEM m = -__builtin_inf();
        for (ptrdiff_t o = 0; o < outputs; o++) {
            ELEM a = net_input[units[o] * width + l];
            if (a > m) m = a;
        }
        ELEM s = 0;
        for (ptrdiff_t o = 0; o < outputs; o++) {
            ELEM a = net_input[units[o] * width + l] - m, e;
            FN(exp_row)(&e, &a, 1);
            exponentials[o * width + l] = e;
            s += e;
        }
        largest[l] = m;
        sums[l] = s;
    }
}

// ---- small helpers ----

/// Transposes 8 rows of 8 in registers: unpack pairs, then pairs of pairs, then halves (the
/// classic AVX sequence, written with generic shuffles so it serves any 8-element vector).
INLINE void FN(transpose8)(ELEM *out, ptrdiff_t out_stride, const ELEM *in, ptrdiff_t in_stride) {
    FN(oct) r[8], t[8], u[8];
    for (int i = 0; i < 8; i++) __builtin_memcpy(&r[i], in + i * in_stride, sizeof r[i]);
    for (int i = 0; i < 8; i += 2) {
        t[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = __builtin_shufflevector(t[i], t[i + 2], 0, 1, 8, 9, 4, 5, 12, 13);
        u[i + 1] = __builtin_shufflevector(t[i], t[i + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        u[i + 2] = __builtin_shufflevector(t[i + 1], t[i + 3], 0, 1, 8, 9, 4, 5, 12, 13);
        u[i + 3] = __builtin_shufflevector(t[i + 1], t[i + 3], 2, 3, 10, 11, 6, 7, 14, 15);
    }
    for (int i = 0; i < 4; i++) {
        FN(oct) low = __builtin_shufflevector(u[i], u[i + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        FN(oct) high = __builtin_shufflevector(u[i], u[i + 4], 4, 5, 6, 7, 12, 13, 14, 15);
        __builtin_memcpy(out + i * out_stride, &low, sizeof low);
        __builtin_memcpy(out + (i + 4) * out_stride, &high, sizeof high);
    }
}

static void FN(transpose)(ELEM *out, const ELEM *in, ptrdiff_t rows, ptrdiff_t width, ptrdiff_t lanes) {
    ptrdiff_t r0 = 0;
    for (; r0 + 8 <= rows; r0 += 8) {
        ptrdiff_t l = 0;
        for (; l + 8 <= lanes; l += 8) FN(transpose8)(out + l * rows + r0, rows, in + r0 * width + l, width);
        for (; l < lanes; l++)
            for (int r = 0; r < 8; r++) out[l * rows + r0 + r] = in[(r0 + r) * width + l];
    }
    for (; r0 < rows; r0++)
        for (ptrdiff_t l = 0; l < lanes; l++) out[l * rows + r0] = in[r0 * width + l];
}

static void FN(add)(ELEM *into, const ELEM *values, ptrdiff_t count) {
    ptrdiff_t i = 0;
    for (; i + VL <= count; i += VL) FN(store)(into + i, FN(load)(into + i) + FN(load)(values + i));
    for (; i < count; i++) into[i] += values[i];
}

/// Samples are rows of binary64 values; the engine's input rows are units x lanes. Blocks of
/// 8 samples x 8 columns are loaded, rounded, transposed in registers and stored as 8 runs
/// of 8 lanes, instead of 64 scattered scalar stores.
static void FN(load_inputs)(ELEM *rows, ptrdiff_t width, const ptrdiff_t *units, ptrdiff_t columns,
                            const double *samples, ptrdiff_t sample_width, const ptrdiff_t *order, ptrdiff_t count) {
    typedef double FN(oct64) __attribute__((vector_size(64)));
    ptrdiff_t l = 0;
    for (; l + 8 <= count; l += 8) {
        ptrdiff_t c = 0;
        for (; c + 8 <= columns; c += 8) {
            ELEM block[8][8], lanes[8][8];
            for (int i = 0; i < 8; i++) {
                FN(oct64) values;
                __builtin_memcpy(&values, samples + order[l + i] * sample_width + c, sizeof values);
                FN(oct) rounded = __builtin_convertvector(values, FN(oct));
                __builtin_memcpy(block[i], &rounded, sizeof rounded);
            }
            FN(transpose8)(&lanes[0][0], 8, &block[0][0], 8);
            for (int j = 0; j < 8; j++) __builtin_memcpy(rows + units[c + j] * width + l, lanes[j], sizeof lanes[j]);
        }
        for (; c < columns; c++)
            for (int i = 0; i < 8; i++) rows[units[c] * width + l + i] = (ELEM)samples[order[l + i] * sample_width + c];
    }
    for (; l < count; l++) {
        const double *sample = samples + order[l] * sample_width;
        for (ptrdiff_t c = 0; c < columns; c++) rows[units[c] * width + l] = (ELEM)sample[c];
    }
}

/// This variant's table for ELEM; kernels.c points a `bpc_kernel_table` at it.
static const KERNELS_TYPE FN(kernels) = {
    .accumulate = FN(accumulate),
    .product = FN(product),
    .sparse_forward = FN(sparse_forward),
    .sparse_backward = FN(sparse_backward),
    .softmax_exponentials = FN(softmax_exponentials),
    .tanh = FN(tanh_row),
    .tanh_delta = FN(tanh_delta),
    .exp = FN(exp_row),
    .row_sum = FN(row_sum),
    .dot = FN(dot),
    .transpose = FN(transpose),
    .add = FN(add),
    .load_inputs = FN(load_inputs),
};

#undef INLINE
#undef VL
