// The kernels of bpc_kernels.h in three variants, from one source (kernels_template.h):
//
//   avx512    AVX-512 F/VL/DQ/BW with FMA, 64-byte vectors (16 binary32 lanes)
//   avx2+fma  AVX2 with FMA, 32-byte vectors
//   portable  16-byte vectors for the baseline instruction set (SSE2 on x86-64, NEON on
//             arm64); also what every other architecture compiles
//
// Each variant is the template compiled for its instruction set by a pragma that adds
// `target(...)` to every function in the region, so the package needs no compiler flags
// (SwiftPM refuses unsafe flags in a package used by version) and one binary runs on every
// CPU: `bpc_kernels()` asks the CPU once which variant it runs, and a variant the CPU lacks
// is never called.

#define _GNU_SOURCE
#include "bpc_kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__linux__)
#include <sched.h>
#endif

#if defined(__clang__)
#pragma STDC FP_CONTRACT ON
#endif

#if defined(__x86_64__) || defined(__i386__)
#define BPC_X86 1
#else
#define BPC_X86 0
#endif

#if defined(__clang__)
#define BPC_TARGET_BEGIN_AVX512 \
    _Pragma("clang attribute push(__attribute__((target(\"avx512f,avx512vl,avx512dq,avx512bw,avx2,fma\"))), apply_to = function)")
#define BPC_TARGET_BEGIN_AVX2 \
    _Pragma("clang attribute push(__attribute__((target(\"avx2,fma\"))), apply_to = function)")
#define BPC_TARGET_END _Pragma("clang attribute pop")
#else
#define BPC_TARGET_BEGIN_AVX512 \
    _Pragma("GCC push_options") _Pragma("GCC target(\"avx512f,avx512vl,avx512dq,avx512bw,avx2,fma\")")
#define BPC_TARGET_BEGIN_AVX2 _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma\")")
#define BPC_TARGET_END _Pragma("GCC pop_options")
#endif

// ---- portable ----
#define VBYTES 16
#define PAIR_ROWS 4
#define ELEM float
#define ELEM_F32 1
#define KERNELS_TYPE bpc_kernels_f32
#define FN(name) name##_f32_portable
#include "kernels_template.h"
#undef ELEM
#undef ELEM_F32
#undef KERNELS_TYPE
#undef FN
#define ELEM double
#define ELEM_F32 0
#define KERNELS_TYPE bpc_kernels_f64
#define FN(name) name##_f64_portable
#include "kernels_template.h"
#undef ELEM
#undef ELEM_F32
#undef KERNELS_TYPE
#undef FN
#undef VBYTES
#undef PAIR_ROWS

static const bpc_kernel_table portable = {"portable", &kernels_f32_portable, &kernels_f64_portable};

#if BPC_X86
// ---- AVX2 + FMA ----
BPC_TARGET_BEGIN_AVX2
#define VBYTES 32
#define PAIR_ROWS 6
#define ELEM float
#define ELEM_F32 1
#define KERNELS_TYPE bpc_kernels_f32
#define FN(name) name##_f32_avx2
#include "kernels_template.h"
#undef ELEM
#undef ELEM_F32
#undef KERNELS_TYPE
#undef FN
#define ELEM double
#define ELEM_F32 0
#define KERNELS_TYPE bpc_kernels_f64
#define FN(name) name##_f64_avx2
#include "kernels_template.h"
#undef ELEM
#undef ELEM_F32
#undef KERNELS_TYPE
#undef FN
#undef VBYTES
#undef PAIR_ROWS
BPC_TARGET_END

// ---- AVX-512 ----
BPC_TARGET_BEGIN_AVX512
#define VBYTES 64
#define PAIR_ROWS 8
#define ELEM float
#define ELEM_F32 1
#define KERNELS_TYPE bpc_kernels_f32
#define FN(name) name##_f32_avx512
#include "kernels_template.h"
#undef ELEM
#undef ELEM_F32
#undef KERNELS_TYPE
#undef FN
#define ELEM double
#define ELEM_F32 0
#define KERNELS_TYPE bpc_kernels_f64
#define FN(name) name##_f64_avx512
#include "kernels_template.h"
#undef ELEM
#undef ELEM_F32
#undef KERNELS_TYPE
#undef FN
#undef VBYTES
#undef PAIR_ROWS
BPC_TARGET_END

static const bpc_kernel_table avx2 = {"avx2+fma", &kernels_f32_avx2, &kernels_f64_avx2};
static const bpc_kernel_table avx512 = {"avx512", &kernels_f32_avx512, &kernels_f64_avx512};
#endif

/// Widest first; NULL where this CPU (or this architecture) lacks the variant.
static const bpc_kernel_table *supported(ptrdiff_t index) {
#if BPC_X86
    __builtin_cpu_init();
    switch (index) {
    case 0:
        // __builtin_cpu_supports also checks that the operating system saves the registers.
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                       __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
                       __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
                   ? &avx512
                   : NULL;
    case 1:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? &avx2 : NULL;
    case 2:
        return &portable;
    default:
        return NULL;
    }
#else
    return index == 0 ? &portable : NULL;
#endif
}

ptrdiff_t bpc_kernel_variant_count(void) { return BPC_X86 ? 3 : 1; }

const bpc_kernel_table *bpc_kernel_variant(ptrdiff_t index) {
    return index >= 0 && index < bpc_kernel_variant_count() ? supported(index) : NULL;
}

static const bpc_kernel_table *choose(void) {
    const char *wanted = getenv("BPC_KERNELS");
    const bpc_kernel_table *widest = NULL;
    for (ptrdiff_t index = 0; index < bpc_kernel_variant_count(); index++) {
        const bpc_kernel_table *table = supported(index);
        if (!table) continue;
        if (!widest) widest = table;
        if (wanted && strcmp(wanted, table->name) == 0) return table;
    }
    return widest ? widest : &portable;
}

const bpc_kernel_table *bpc_kernels(void) {
    // Chosen once; threads that race here choose the same table, and the pointer is
    // published atomically.
    static const bpc_kernel_table *chosen;
    const bpc_kernel_table *table = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
    if (!table) {
        table = choose();
        __atomic_store_n(&chosen, table, __ATOMIC_RELEASE);
    }
    return table;
}

ptrdiff_t bpc_processor_count(void) {
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int count = CPU_COUNT(&set);
        return count > 0 ? count : 1;
    }
#endif
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (ptrdiff_t)online : 1;
}
