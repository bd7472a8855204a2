"""Shared code for the Python peers of the bpc benchmark suite.

Every peer script is run as

    benchmarks/.venv/bin/python benchmarks/peers/python/<peer>.py \
        --workload W1|W2|W2-wide|W3a|W3b|W4|CSV --generated DIR \
        [--threads N] [--spec FILE] [--repeats N] [--reader NAME]

and prints one JSON line per measurement on stdout (see `emit`); everything
else goes to stderr.

Import order matters: `set_threads` sets the thread environment variables
BEFORE the peer imports numpy / torch / jax, so call it first and import those
libraries afterwards.
This module itself imports only the standard library at top level; numpy is
imported lazily inside the loaders.
"""

import argparse
import json
import os
import statistics
import sys
import time

WORKLOADS = ("W1", "W2", "W2-wide", "W3a", "W3b", "W4", "CSV")

# Workload constants (from the benchmark issue).
W1_EPOCHS = 10_000
W1_LR = 0.5
W1_UPDATES = 4 * W1_EPOCHS  # 40,000
W1_X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
W1_Y = [0.0, 1.0, 1.0, 0.0]

W2_EPOCHS = 50
W2_BATCH = 32
W2_LR = 0.1
W2_LAYERS = {"W2": [64, 64, 10], "W2-wide": [64, 256, 256, 10]}

W3_LR = 0.01
W3_SETTINGS = {"W3a": {"batch": 1, "epochs": 1}, "W3b": {"batch": 64, "epochs": 10}}


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Arguments and threads


def parse_args(peer, default_repeats=5, supported=WORKLOADS):
    """Parse the command line; set thread env vars (before heavy imports).

    `default_repeats` may be an int or a dict workload -> int.
    Adds args.repeats_given (bool) and args.thread_counts (list of ints).
    """
    p = argparse.ArgumentParser(description=f"bpc benchmark peer: {peer}")
    p.add_argument("--workload", required=True, choices=WORKLOADS)
    p.add_argument("--generated", default=None,
                   help="directory holding the generated workload files")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--spec", default=None, help="YAML spec (W4)")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--subset", type=int, default=None,
                   help="micrograd W3: number of samples to time (default 64)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the W2 xavier init (same init for every repeat)")
    p.add_argument("--reader", default=None,
                   help="CSV: which reader to time (csv_peer.py --help lists them)")
    args = p.parse_args()
    if args.workload not in supported:
        log(f"{peer}: workload {args.workload} is not measured by this peer")
        sys.exit(2)
    if args.workload == "W4":
        if not args.spec:
            p.error("--spec FILE is required for W4")
    elif not args.generated:
        p.error("--generated DIR is required for " + args.workload)
    args.repeats_given = args.repeats is not None
    if args.repeats is None:
        if isinstance(default_repeats, dict):
            args.repeats = default_repeats.get(args.workload, 5)
        else:
            args.repeats = default_repeats
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    return args


_ALL_CPUS = None


def set_threads(n, pin=False):
    """Limit BLAS / OpenMP / XLA threading to n threads. Call before importing
    numpy, torch or jax.

    XLA's CPU runtime ignores the XLA_FLAGS thread options for its own pools
    and sizes them from the CPUs the process may run on. So with n == 1 and
    pin=True the process is pinned to one CPU here; the peer then creates the
    JAX backend (pools of one thread) and calls unpin(), which lets all threads
    run on any CPU again, so that a busy CPU does not halve the measurement."""
    global _ALL_CPUS
    n = max(1, int(n))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = str(n)
    if n == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   " --xla_cpu_multi_thread_eigen=false"
                                   " intra_op_parallelism_threads=1").strip()
    else:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   " --xla_cpu_multi_thread_eigen=true"
                                   f" intra_op_parallelism_threads={n}").strip()
    if n == 1 and pin and hasattr(os, "sched_setaffinity"):
        try:
            _ALL_CPUS = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {sorted(_ALL_CPUS)[0]})
        except OSError as e:  # pragma: no cover
            log(f"could not pin to one CPU: {e}")


def unpin():
    """Undo set_threads' pinning for every thread of the process."""
    if _ALL_CPUS is None:
        return
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), _ALL_CPUS)
        except OSError:
            pass


def thread_note(n):
    return f"{n} thread" + ("" if n == 1 else "s")


# --------------------------------------------------------------------------
# Output


def emit(workload, peer, throughput, unit, median_seconds, repeats,
         final_loss=None, accuracy=None, version="", note=None):
    rec = {
        "workload": workload,
        "peer": peer,
        "throughput": float(throughput),
        "unit": unit,
        "median_seconds": float(median_seconds),
        "repeats": int(repeats),
        "final_loss": None if final_loss is None else float(final_loss),
        "accuracy": None if accuracy is None else float(accuracy),
        "version": version,
    }
    if note:
        rec["note"] = note
    print(json.dumps(rec), flush=True)


def emit_raw(rec):
    print(json.dumps(rec), flush=True)


def work_amount(workload):
    """(amount of work in one training run, unit) for the throughput."""
    if workload == "W1":
        return W1_UPDATES, "updates/s"
    if workload in ("W2", "W2-wide"):
        return 1797 * W2_EPOCHS, "samples/s"
    if workload in W3_SETTINGS:
        s = W3_SETTINGS[workload]
        return 16_032 * 1024 * s["epochs"], "edge-samples/s"
    raise ValueError(workload)


class Timer:
    """Wall and process-CPU time of a block; warns when CPU/wall shows more
    threads at work than intended."""

    def __enter__(self):
        self.c0 = time.process_time()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.c0
        return False

    @property
    def cpu_ratio(self):
        return self.cpu / self.seconds if self.seconds > 0 else 0.0


def run_repeats(label, repeats, run_once, threads=1, budget_seconds=None,
                min_repeats=1):
    """Call run_once(i) -> (seconds, cpu/wall ratio, info) `repeats` times; return
    (median_seconds, [info...]). If budget_seconds is set, stop early (after at
    least min_repeats) when one more repeat would likely exceed the budget."""
    times, infos, spent = [], [], 0.0
    for i in range(repeats):
        seconds, cpu_ratio, info = run_once(i)
        times.append(seconds)
        infos.append(info)
        spent += seconds
        flag = ""
        if cpu_ratio > threads + 0.3:
            flag = f"  WARNING: cpu/wall {cpu_ratio:.2f} > {threads} thread(s)"
        log(f"  {label} repeat {i + 1}/{repeats}: {seconds:.4f} s "
            f"(cpu/wall {cpu_ratio:.2f}){flag}")
        # stop when another repeat would likely take the total past the budget
        if (budget_seconds is not None and i + 1 >= min_repeats
                and spent * (i + 2) / (i + 1) > budget_seconds):
            if i + 1 < repeats:
                log(f"  {label}: time budget reached, stopping after {i + 1} repeats")
            break
    return statistics.median(times), infos


# --------------------------------------------------------------------------
# Loaders (numpy imported lazily so that parse_args runs first)


def _path(gen, name):
    p = os.path.join(gen, name)
    if not os.path.exists(p):
        log(f"missing workload file {p} (run benchmarks/workloads/generate.py)")
        sys.exit(3)
    return p


def load_w1(gen):
    """W1 initial parameters as float64 numpy arrays:
    Wh (2 hidden, 2 inputs), bh (2,), wo (2,), bo (float)."""
    import numpy as np
    with open(_path(gen, "w1-init.json")) as f:
        d = json.load(f)
    return {
        "Wh": np.array(d["w_hidden"], dtype=np.float64).reshape(2, 2),
        "bh": np.array(d["b_hidden"], dtype=np.float64).reshape(2),
        "wo": np.array(d["w_out"], dtype=np.float64).reshape(2),
        "bo": float(np.asarray(d["b_out"], dtype=np.float64).reshape(-1)[0]),
    }


def read_csv_xy(path):
    """CSV with header x[..],y[..] -> (X, Y) float64 arrays."""
    import numpy as np
    with open(path) as f:
        header = f.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    xcols = [i for i, h in enumerate(header) if h.startswith("x[")]
    ycols = [i for i, h in enumerate(header) if h.startswith("y[")]
    return data[:, xcols], data[:, ycols]


def load_digits(gen):
    import numpy as np
    X, Y = read_csv_xy(_path(gen, "digits.csv"))
    return X.astype(np.float32), Y.astype(np.float32)


def xavier_init(layers, seed, dtype="float32"):
    """Glorot-uniform weights (fan_in, fan_out) and zero biases, from numpy's
    legacy RandomState(seed) so every peer starts from the same parameters."""
    import numpy as np
    rng = np.random.RandomState(seed)
    params = []
    for fan_in, fan_out in zip(layers[:-1], layers[1:]):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        W = rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(dtype)
        b = np.zeros(fan_out, dtype=dtype)
        params.append((W, b))
    return params


def digits_batches(n, batch):
    """[(start, stop)] in file order; last batch smaller."""
    return [(s, min(s + batch, n)) for s in range(0, n, batch)]


def load_w3(gen):
    import numpy as np
    with open(_path(gen, "w3-dag.json")) as f:
        dag = json.load(f)
    X, Y = read_csv_xy(_path(gen, "w3-data.csv"))
    return dag, X, Y


class W3Graph:
    """The W3 DAG arranged in topological levels, in an ELL (padded fixed
    fan-in) layout.

    Units are renumbered into "positions": inputs 0..n_in-1, then position
    n_in is a constant-zero slot used by padding, then the hidden units level
    by level (level = 1 + max level of the unit's sources; inputs are level 0).
    All sources of a level's units sit at positions before the level's first
    position, so activations can be filled in level order.

    For each hidden level L (and, last, the output group, which is identity
    and has no bias):
      start, stop   positions of the level's units (stop - start = n_L)
      units         original unit ids (n_L,)
      idx           (n_L, k) source positions (padding -> the zero slot)
      eid           (n_L, k) edge index into dag["edges"] (-1 for padding)
      W0            (n_L, k) initial weights (0 at padding)
      b0            (n_L,) initial biases (hidden levels only)
    """

    def __init__(self, dag, dtype="float32"):
        import numpy as np
        n_in, n_hid, n_out = int(dag["inputs"]), int(dag["hidden"]), int(dag["outputs"])
        self.n_in, self.n_hid, self.n_out = n_in, n_hid, n_out
        n = n_in + n_hid + n_out
        edges = np.asarray(dag["edges"], dtype=np.int64).reshape(-1, 2)
        weights = np.asarray(dag["weights"], dtype=np.float64)
        biases = np.asarray(dag["biases"], dtype=np.float64)
        assert len(weights) == len(edges) and len(biases) == n_hid
        assert np.all(edges[:, 0] < edges[:, 1]), "edges must go from lower to higher unit ids"
        assert np.all(edges[:, 0] < n_in + n_hid), "outputs cannot feed other units"
        assert np.all(edges[:, 1] >= n_in), "inputs cannot have incoming edges"
        self.n_edges = len(edges)
        self.edges = edges
        incoming = [[] for _ in range(n)]
        for e, (s, d) in enumerate(edges.tolist()):
            incoming[d].append(e)
        level = [0] * n
        for j in range(n_in, n_in + n_hid):
            level[j] = 1 + max((level[edges[e, 0]] for e in incoming[j]), default=0)
        hidden = list(range(n_in, n_in + n_hid))
        n_levels = max((level[j] for j in hidden), default=0)
        self.n_levels = n_levels
        self.zero_pos = n_in
        pos = [-1] * n
        for i in range(n_in):
            pos[i] = i
        groups = []
        next_pos = n_in + 1
        by_level = [[] for _ in range(n_levels + 1)]
        for j in hidden:
            by_level[level[j]].append(j)
        for L in range(1, n_levels + 1):
            units = by_level[L]
            for j in units:
                pos[j] = next_pos
                next_pos += 1
            groups.append(units)
        self.n_hidden_pos = next_pos  # positions 0..n_hidden_pos-1 (no outputs)
        outs = list(range(n_in + n_hid, n))
        for j in outs:
            pos[j] = next_pos
            next_pos += 1
        groups.append(outs)
        self.n_pos = next_pos
        self.pos = np.array(pos, dtype=np.int64)

        self.levels = []
        for gi, units in enumerate(groups):
            is_out = gi == len(groups) - 1
            k = max(len(incoming[j]) for j in units) if units else 0
            idx = np.full((len(units), k), self.zero_pos, dtype=np.int64)
            eid = np.full((len(units), k), -1, dtype=np.int64)
            for r, j in enumerate(units):
                es = incoming[j]
                eid[r, :len(es)] = es
                idx[r, :len(es)] = [pos[edges[e, 0]] for e in es]
            W0 = np.where(eid >= 0, weights[np.maximum(eid, 0)], 0.0).astype(dtype)
            lv = {
                "start": int(pos[units[0]]) if units else next_pos,
                "stop": int(pos[units[-1]]) + 1 if units else next_pos,
                "units": np.array(units, dtype=np.int64),
                "idx": idx,
                "eid": eid,
                "W0": W0,
                "is_output": is_out,
            }
            if not is_out:
                lv["b0"] = biases[np.array(units) - n_in].astype(dtype)
            self.levels.append(lv)
        self.hidden_levels = self.levels[:-1]
        self.out_level = self.levels[-1]
        self.padded = sum(int((lv["eid"] < 0).sum()) for lv in self.levels)

    def describe(self):
        sizes = [lv["stop"] - lv["start"] for lv in self.hidden_levels]
        return (f"{self.n_edges} edges, {self.n_levels} hidden levels "
                f"(sizes min {min(sizes)} / max {max(sizes)}), "
                f"{self.padded} padded slots")

    def edge_grads(self, gW_levels, gb_levels=None):
        """Scatter per-level weight gradients (ELL layout, outputs last) back
        to edge order (and biases to hidden-unit order)."""
        import numpy as np
        ge = np.zeros(self.n_edges, dtype=np.float64)
        for lv, g in zip(self.levels, gW_levels):
            g = np.asarray(g, dtype=np.float64)
            m = lv["eid"] >= 0
            ge[lv["eid"][m]] = g[m]
        gb = None
        if gb_levels is not None:
            gb = np.zeros(self.n_hid, dtype=np.float64)
            for lv, g in zip(self.hidden_levels, gb_levels):
                gb[lv["units"] - self.n_in] = np.asarray(g, dtype=np.float64)
        return ge, gb


def w3_batches(n_samples, batch):
    return [(s, min(s + batch, n_samples)) for s in range(0, n_samples, batch)]
