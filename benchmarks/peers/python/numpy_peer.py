"""numpy peer: hand-written forward and backward passes (no autograd).

W1: per-sample updates on float64 numpy arrays.
W2 / W2-wide: mini-batch matmuls, float32 (OpenBLAS, 1 thread).
W3a / W3b: the DAG in topological levels (common.W3Graph); activations are a
(positions x batch) float32 buffer filled level by level with gathers; the
backward pass walks the levels in reverse and scatter-adds each level's
contribution to the gradient of its sources with a precomputed
sort-by-source + np.add.reduceat.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

PEER = "numpy"


# ----------------------------------------------------------------------------
# W1


def w1_train(p0, np):
    Wh = p0["Wh"].copy()
    bh = p0["bh"].copy()
    wo = p0["wo"].copy()
    bo = np.array(p0["bo"])
    X = np.array(common.W1_X, dtype=np.float64)
    Y = np.array(common.W1_Y, dtype=np.float64)
    lr = common.W1_LR
    samples = [(X[i], Y[i]) for i in range(4)]
    epochs = common.W1_EPOCHS
    last_loss = 0.0
    for epoch in range(epochs):
        last = epoch == epochs - 1
        for x, y in samples:
            h = 1.0 / (1.0 + np.exp(-(Wh @ x + bh)))
            p = 1.0 / (1.0 + np.exp(-(wo @ h + bo)))
            if last:
                last_loss += float(-(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))
            d_o = p - y                       # dL/da_out for sigmoid + BCE
            d_h = d_o * wo * h * (1.0 - h)    # dL/da_hidden
            wo -= lr * d_o * h
            bo -= lr * d_o
            Wh -= lr * np.outer(d_h, x)
            bh -= lr * d_h
    return last_loss / 4, (Wh, bh, wo, bo)


# ----------------------------------------------------------------------------
# W2


class MLP:
    """tanh hidden layers, identity output, softmax cross-entropy (batch mean)."""

    def __init__(self, params, np):
        self.np = np
        self.W = [W.copy() for W, _ in params]
        self.b = [b.copy() for _, b in params]

    def forward(self, X):
        np = self.np
        acts = [X]
        h = X
        n = len(self.W)
        for i in range(n):
            a = h @ self.W[i] + self.b[i]
            h = np.tanh(a) if i < n - 1 else a
            acts.append(h)
        return acts

    def step(self, X, Y, lr):
        np = self.np
        acts = self.forward(X)
        logits = acts[-1]
        m = logits.max(axis=1, keepdims=True)
        e = np.exp(logits - m)
        s = e.sum(axis=1, keepdims=True)
        logp = logits - m - np.log(s)
        loss_sum = -(Y * logp).sum()
        B = X.shape[0]
        d = (e / s - Y) * np.float32(1.0 / B)
        n = len(self.W)
        for i in range(n - 1, -1, -1):
            h = acts[i]
            gW = h.T @ d
            gb = d.sum(axis=0)
            if i > 0:
                d = (d @ self.W[i].T) * (1.0 - h * h)
            self.W[i] -= lr * gW
            self.b[i] -= lr * gb
        return loss_sum

    def accuracy(self, X, Y):
        np = self.np
        logits = self.forward(X)[-1]
        return float((logits.argmax(1) == Y.argmax(1)).mean())


def w2_train(params, X, Y, np):
    model = MLP(params, np)
    lr = np.float32(common.W2_LR)
    batches = [(X[s:e], Y[s:e]) for s, e in common.digits_batches(len(X), common.W2_BATCH)]
    epochs = common.W2_EPOCHS
    loss_sum = 0.0
    with common.Timer() as t:
        for epoch in range(epochs):
            last = epoch == epochs - 1
            for xb, yb in batches:
                ls = model.step(xb, yb, lr)
                if last:
                    loss_sum += float(ls)
    return t, loss_sum / len(X), model


# ----------------------------------------------------------------------------
# W3


class DagModel:
    """Hand-written forward/backward of the W3 DAG on a (positions, batch)
    buffer. dtype float32 for the benchmark, float64 for checks."""

    def __init__(self, graph, np, dtype=None):
        self.np = np
        self.g = graph
        self.dtype = dtype or np.float32
        self.W = [lv["W0"].astype(self.dtype) for lv in graph.levels]
        self.b = [lv["b0"].astype(self.dtype) for lv in graph.hidden_levels]
        # Scatter plan per level: entries of idx sorted by source position,
        # segment starts for reduceat, and the unique source positions.
        self.plan = []
        for lv in graph.levels:
            flat = lv["idx"].ravel()
            order = np.argsort(flat, kind="stable")
            srt = flat[order]
            starts = np.flatnonzero(np.r_[True, srt[1:] != srt[:-1]])
            self.plan.append((order, starts, srt[starts]))

    def forward(self, Xb):
        """Xb: (B, n_in) -> (Z buffer (P, B), gathered inputs per level, Yhat (n_out, B))."""
        np = self.np
        g = self.g
        B = Xb.shape[0]
        Z = np.empty((g.n_pos, B), dtype=self.dtype)
        Z[:g.n_in] = Xb.T
        Z[g.zero_pos] = 0
        gathered = []
        for li, lv in enumerate(g.hidden_levels):
            G = Z[lv["idx"]]                      # (n_L, k, B)
            a = np.einsum("nkb,nk->nb", G, self.W[li]) + self.b[li][:, None]
            Z[lv["start"]:lv["stop"]] = np.tanh(a)
            gathered.append(G)
        lv = g.out_level
        G = Z[lv["idx"]]
        yhat = np.einsum("nkb,nk->nb", G, self.W[-1])
        gathered.append(G)
        return Z, gathered, yhat

    def grads(self, Xb, Tb):
        """Batch-mean gradient of 0.5 * sum((yhat - t)^2). Returns
        (loss_sum over the batch, [gW per level], [gb per hidden level])."""
        np = self.np
        g = self.g
        B = Xb.shape[0]
        Z, gathered, yhat = self.forward(Xb)
        diff = yhat - Tb.T
        loss_sum = 0.5 * float((diff * diff).sum())
        dZ = np.zeros((g.n_hidden_pos, B), dtype=self.dtype)
        gW = [None] * len(g.levels)
        gb = [None] * len(g.hidden_levels)
        d = diff * self.dtype(1.0 / B)            # dL/da of the outputs
        li = len(g.levels) - 1
        gW[li] = np.einsum("nb,nkb->nk", d, gathered[li])
        self._scatter(dZ, li, d)
        for li in range(len(g.hidden_levels) - 1, -1, -1):
            lv = g.hidden_levels[li]
            z = Z[lv["start"]:lv["stop"]]
            d = dZ[lv["start"]:lv["stop"]] * (1 - z * z)
            gb[li] = d.sum(axis=1)
            gW[li] = np.einsum("nb,nkb->nk", d, gathered[li])
            self._scatter(dZ, li, d)
        return loss_sum, gW, gb

    def _scatter(self, dZ, li, d):
        """dZ[idx[n, k]] += d[n] * W[n, k] for all n, k (sources repeat)."""
        np = self.np
        W = self.W[li]
        order, starts, uniq = self.plan[li]
        contrib = (W[:, :, None] * d[:, None, :]).reshape(-1, d.shape[1])
        dZ[uniq] += np.add.reduceat(contrib[order], starts, axis=0)

    def step(self, Xb, Tb, lr):
        loss_sum, gW, gb = self.grads(Xb, Tb)
        for W, g in zip(self.W, gW):
            W -= lr * g
        for b, g in zip(self.b, gb):
            b -= lr * g
        return loss_sum


def w3_train(graph, X, Y, workload, np):
    s = common.W3_SETTINGS[workload]
    model = DagModel(graph, np)
    lr = np.float32(common.W3_LR)
    batches = [(X[a:b], Y[a:b]) for a, b in common.w3_batches(len(X), s["batch"])]
    loss_sum = 0.0
    with common.Timer() as t:
        for epoch in range(s["epochs"]):
            last = epoch == s["epochs"] - 1
            for xb, yb in batches:
                ls = model.step(xb, yb, lr)
                if last:
                    loss_sum += ls
    return t, loss_sum / len(X), model


# ----------------------------------------------------------------------------


def main():
    args = common.parse_args(PEER, default_repeats={"W1": 3, "W2": 5, "W2-wide": 3,
                                                     "W3a": 3, "W3b": 3},
                             supported=("W1", "W2", "W2-wide", "W3a", "W3b"))
    threads = args.threads or 1
    common.set_threads(threads)
    import numpy as np
    version = f"numpy {np.__version__}"
    wl = args.workload
    work, unit = common.work_amount(wl)
    peer = PEER if threads == 1 else f"{PEER} {common.thread_note(threads)}"
    budget = None if args.repeats_given else 100.0

    if wl == "W1":
        p0 = common.load_w1(args.generated)

        def once(i):
            with common.Timer() as t:
                loss, _ = w1_train(p0, np)
            return t.seconds, t.cpu_ratio, {"loss": loss}
        med, infos = common.run_repeats(f"{peer} {wl}", args.repeats, once, threads, budget)
        common.emit(wl, peer, work / med, unit, med, len(infos), infos[0]["loss"], None, version)

    elif wl in ("W2", "W2-wide"):
        X, Y = common.load_digits(args.generated)
        params = common.xavier_init(common.W2_LAYERS[wl], args.seed)

        def once(i):
            t, loss, model = w2_train(params, X, Y, np)
            return t.seconds, t.cpu_ratio, {"loss": loss, "acc": model.accuracy(X, Y)}
        med, infos = common.run_repeats(f"{peer} {wl}", args.repeats, once, threads, budget)
        common.emit(wl, peer, work / med, unit, med, len(infos), infos[0]["loss"],
                    infos[0]["acc"], version)

    else:
        dag, X, Y = common.load_w3(args.generated)
        graph = common.W3Graph(dag)
        common.log(f"W3 graph: {graph.describe()}")
        X = X.astype(np.float32)
        Y = Y.astype(np.float32)

        def once(i):
            t, loss, _ = w3_train(graph, X, Y, wl, np)
            return t.seconds, t.cpu_ratio, {"loss": loss}
        med, infos = common.run_repeats(f"{peer} {wl}", args.repeats, once, threads, budget)
        common.emit(wl, peer, work / med, unit, med, len(infos), infos[0]["loss"], None,
                    version, note="topological levels, gather + reduceat scatter, hand-written backward")


if __name__ == "__main__":
    main()
