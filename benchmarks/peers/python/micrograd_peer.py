"""micrograd peer: Karpathy's scalar autograd engine (PyPI micrograd 0.1.0).

micrograd.engine.Value only has +, *, ** and relu, so sigmoid, tanh and log
are added here as Value nodes with their own _backward closures, the way the
engine defines its built-in operations. Parameters are Values; every update
rebuilds the expression graph, calls loss.backward(), then does a plain SGD
step and zeroes the gradients.

W1: the full run (40,000 updates), float64 (Python floats).
W3a / W3b: micrograd is far too slow for the whole run, so a SUBSET is timed
(W3a: the first --subset samples, batch 1; W3b: the first --subset // 64
batches of 64) and the throughput is edge-samples per second over that subset
(the note in the JSON line says which). W3 is reported twice: "micrograd" with
Python's default garbage collection, and "micrograd (gc.collect per update)"
with the automatic cycle collector off and one explicit gc.collect() after each
update, inside the timing. Every Value's _backward closure refers to the Value
itself, so graphs are freed only by the cycle collector; with the default
thresholds it re-traverses the big live graph over and over, which costs
about 4x on W3. The DAG is evaluated unit by unit in
the original unit order (which is already topological: every edge has
src < dst).
"""

import gc
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

PEER = "micrograd"


def ops(Value):
    def sigmoid(v):
        s = 1.0 / (1.0 + math.exp(-v.data))
        out = Value(s, (v,), "sigmoid")

        def _backward():
            v.grad += s * (1.0 - s) * out.grad
        out._backward = _backward
        return out

    def tanh(v):
        t = math.tanh(v.data)
        out = Value(t, (v,), "tanh")

        def _backward():
            v.grad += (1.0 - t * t) * out.grad
        out._backward = _backward
        return out

    def log(v):
        out = Value(math.log(v.data), (v,), "log")

        def _backward():
            v.grad += out.grad / v.data
        out._backward = _backward
        return out
    return sigmoid, tanh, log


# ----------------------------------------------------------------------------


def w1_train(p0, Value):
    sigmoid, _, log = ops(Value)
    Wh = [[Value(float(p0["Wh"][h][i])) for i in range(2)] for h in range(2)]
    bh = [Value(float(p0["bh"][h])) for h in range(2)]
    wo = [Value(float(p0["wo"][h])) for h in range(2)]
    bo = Value(float(p0["bo"]))
    params = [Wh[0][0], Wh[0][1], Wh[1][0], Wh[1][1], bh[0], bh[1], wo[0], wo[1], bo]
    lr = common.W1_LR
    epochs = common.W1_EPOCHS
    last_loss = 0.0
    samples = list(zip(common.W1_X, common.W1_Y))
    with common.Timer() as t:
        for epoch in range(epochs):
            for x, y in samples:
                h = [sigmoid(Wh[j][0] * x[0] + Wh[j][1] * x[1] + bh[j]) for j in range(2)]
                p = sigmoid(wo[0] * h[0] + wo[1] * h[1] + bo)
                loss = -(y * log(p) + (1.0 - y) * log(1.0 - p))
                loss.backward()
                for q in params:
                    q.data -= lr * q.grad
                    q.grad = 0
                if epoch == epochs - 1:
                    last_loss += loss.data
    return t, last_loss / 4


# ----------------------------------------------------------------------------


def w3_train(dag, X, Y, batch, n_samples, Value, manual_gc=False):
    _, tanh, _ = ops(Value)
    n_in, n_hid, n_out = dag["inputs"], dag["hidden"], dag["outputs"]
    n = n_in + n_hid + n_out
    edges = dag["edges"]
    w = [Value(float(v)) for v in dag["weights"]]
    b = [Value(float(v)) for v in dag["biases"]]
    params = w + b
    inc = [[] for _ in range(n)]
    for e, (s, d) in enumerate(edges):
        inc[d].append((e, s))
    lr = common.W3_LR
    loss_sum = 0.0
    if manual_gc:
        gc.collect()
        gc.disable()
    with common.Timer() as t:
        for start in range(0, n_samples, batch):
            stop = min(start + batch, n_samples)
            total = None
            for r in range(start, stop):
                z = [Value(float(v)) for v in X[r]] + [None] * (n - n_in)
                for j in range(n_in, n):
                    a = b[j - n_in] if j < n_in + n_hid else None
                    for e, s in inc[j]:
                        term = w[e] * z[s]
                        a = term if a is None else a + term
                    z[j] = tanh(a) if j < n_in + n_hid else a
                se = None
                for k in range(n_out):
                    d = z[n_in + n_hid + k] - float(Y[r][k])
                    se = d * d if se is None else se + d * d
                sample_loss = 0.5 * se
                total = sample_loss if total is None else total + sample_loss
            loss = total * (1.0 / (stop - start))
            loss.backward()
            for q in params:
                q.data -= lr * q.grad
                q.grad = 0
            loss_sum += total.data
            if manual_gc:
                # the graph is garbage now (Value._backward closures make
                # reference cycles, so only the cycle collector frees it)
                del loss, total, sample_loss, se, d, z, a, term
                gc.collect()
    if manual_gc:
        gc.enable()
    return t, loss_sum / n_samples


# ----------------------------------------------------------------------------


def main():
    args = common.parse_args(PEER, default_repeats={"W1": 3, "W3a": 2, "W3b": 2},
                             supported=("W1", "W3a", "W3b"))
    common.set_threads(1)
    sys.setrecursionlimit(1_000_000)  # Value.backward's topological sort recurses
    from importlib.metadata import version as pkg_version
    from micrograd.engine import Value
    version = f"micrograd {pkg_version('micrograd')}"
    wl = args.workload
    budget = None if args.repeats_given else 80.0

    if wl == "W1":
        p0 = common.load_w1(args.generated)
        work, unit = common.work_amount(wl)

        def once(i):
            t, loss = w1_train(p0, Value)
            return t.seconds, t.cpu_ratio, {"loss": loss}
        med, infos = common.run_repeats(f"{PEER} {wl}", args.repeats, once, 1, budget)
        common.emit(wl, PEER, work / med, unit, med, len(infos), infos[0]["loss"], None, version,
                    note="sigmoid and log added as Value nodes")
        return

    dag, X, Y = common.load_w3(args.generated)
    s = common.W3_SETTINGS[wl]
    batch = s["batch"]
    n_edges = len(dag["edges"])
    total_updates = (len(X) // batch) * s["epochs"]
    # (peer name, manual gc, default subset)
    modes = [(PEER, False, 8 if batch == 1 else 64),
             (f"{PEER} (gc.collect per update)", True, 32 if batch == 1 else 64)]
    for peer, manual_gc, default_subset in modes:
        subset = args.subset or default_subset
        subset = max(batch, (min(subset, len(X)) // batch) * batch)

        def once(i):
            t, loss = w3_train(dag, X, Y, batch, subset, Value, manual_gc)
            return t.seconds, t.cpu_ratio, {"loss": loss}
        med, infos = common.run_repeats(f"{peer} {wl}", args.repeats, once, 1,
                                        budget / 2 if budget else None)
        updates = subset // batch
        note = (f"subset: first {subset} samples = {updates} of {total_updates} updates "
                f"(batch {batch}); throughput = {n_edges} x {subset} / median seconds; "
                f"final_loss = mean loss over the subset; tanh added as a Value node; ")
        if manual_gc:
            note += ("automatic gc disabled, gc.collect() after every update (timed): "
                     "the default cyclic GC re-traverses the large live graph many times")
        else:
            note += "default Python GC settings"
        common.emit(wl, peer, n_edges * subset / med, "edge-samples/s", med, len(infos),
                    infos[0]["loss"], None, version, note=note)

if __name__ == "__main__":
    main()
