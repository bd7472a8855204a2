#ifndef BPC_CPU_FEATURES_H
#define BPC_CPU_FEATURES_H

/// 1 when this CPU runs the instructions the fast runtime was compiled for (AVX2 and FMA on
/// x86-64; always 1 elsewhere, where the fast runtime is built for the baseline CPU).
int bpc_cpu_runs_fast_runtime(void);

/// The processors this process may run on (its CPU affinity, which containers and taskset
/// narrow), at least 1.
int bpc_available_processors(void);

#endif
