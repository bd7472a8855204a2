"""PyTorch peer: eager mode, autograd, torch.optim.SGD.

W1: 2-2-1 sigmoid net, float64, one sample per update.
W2 / W2-wide: nn.Sequential(Linear, Tanh, ..., Linear) + F.cross_entropy,
float32, at 1 thread and 2 threads (unless --threads picks one).
W3a / W3b: the DAG in topological levels (common.W3Graph), float32, autograd.
Variants, all computing a_j = sum_i w_ji z_i + b_j level by level:
  gather     ELL layout: per level an index_select of the (n_L x k) source
             positions, multiply by the (n_L x k) weights, sum over k; the
             activations grow by torch.cat. Reported as "PyTorch 1 thread"
             (the plain version).
  index_add  edge list per level: index_select sources, multiply by the
             edge weights, index_add into the level's pre-activations.
  sparse     per level a sparse CSR matrix (n_L x positions so far) built
             from the weight values each step, torch.sparse.mm / @.
The fastest variant is also reported as "PyTorch best".
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

PEER = "PyTorch"


# ----------------------------------------------------------------------------
# W1


def w1_train(p0, torch):
    F = torch.nn.functional
    dt = torch.float64
    Wh = torch.tensor(p0["Wh"], dtype=dt, requires_grad=True)
    bh = torch.tensor(p0["bh"], dtype=dt, requires_grad=True)
    wo = torch.tensor(p0["wo"], dtype=dt, requires_grad=True)
    bo = torch.tensor(p0["bo"], dtype=dt, requires_grad=True)
    opt = torch.optim.SGD([Wh, bh, wo, bo], lr=common.W1_LR)
    samples = [(torch.tensor(x, dtype=dt), torch.tensor(y, dtype=dt))
               for x, y in zip(common.W1_X, common.W1_Y)]
    epochs = common.W1_EPOCHS
    last_loss = torch.zeros((), dtype=dt)
    with common.Timer() as t:
        for epoch in range(epochs):
            last = epoch == epochs - 1
            for x, y in samples:
                h = torch.sigmoid(Wh @ x + bh)
                p = torch.sigmoid(wo @ h + bo)
                loss = F.binary_cross_entropy(p, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if last:
                    last_loss += loss.detach()
    return t, float(last_loss) / 4


# ----------------------------------------------------------------------------
# W2


def w2_model(params, torch):
    layers = []
    n = len(params)
    for i, (W, b) in enumerate(params):
        lin = torch.nn.Linear(W.shape[0], W.shape[1])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.T.copy()))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if i < n - 1:
            layers.append(torch.nn.Tanh())
    return torch.nn.Sequential(*layers)


def w2_train(params, X, Y, torch):
    F = torch.nn.functional
    model = w2_model(params, torch)
    opt = torch.optim.SGD(model.parameters(), lr=common.W2_LR)
    Xt = torch.from_numpy(X)
    labels = torch.from_numpy(Y.argmax(1))
    batches = [(Xt[s:e].contiguous(), labels[s:e].contiguous())
               for s, e in common.digits_batches(len(X), common.W2_BATCH)]
    epochs = common.W2_EPOCHS
    loss_sum = torch.zeros(())
    with common.Timer() as t:
        for epoch in range(epochs):
            last = epoch == epochs - 1
            for xb, yb in batches:
                loss = F.cross_entropy(model(xb), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if last:
                    loss_sum += loss.detach() * xb.shape[0]
    with torch.no_grad():
        acc = float((model(Xt).argmax(1) == labels).float().mean())
    return t, float(loss_sum) / len(X), acc


# ----------------------------------------------------------------------------
# W3


class DagTorch:
    """The W3 DAG as an autograd computation; see the module docstring."""

    VARIANTS = ("gather", "index_add", "sparse")

    def __init__(self, graph, torch, variant="gather", dtype=None):
        import warnings
        warnings.filterwarnings("ignore", message=".*[Ss]parse.*")
        self.torch = torch
        self.g = graph
        self.variant = variant
        dtype = dtype or torch.float32
        self.dtype = dtype
        self.params = []
        self.W, self.b, self.lv = [], [], []
        for li, lv in enumerate(graph.levels):
            n, k = lv["idx"].shape
            mask = lv["eid"] >= 0
            if variant == "gather":
                W = torch.tensor(lv["W0"], dtype=dtype, requires_grad=True)
                info = {"idx": torch.from_numpy(lv["idx"].reshape(-1).copy()), "n": n, "k": k}
            else:
                # edge list of the level (padding dropped), row-major by unit
                import numpy as np
                r, c = np.nonzero(mask)
                src = lv["idx"][r, c]
                # rows in order, sources ascending within a row (CSR needs
                # sorted column indices; harmless for index_add)
                order = np.lexsort((src, r))
                r, c, src = r[order], c[order], src[order]
                W = torch.tensor(lv["W0"][r, c], dtype=dtype, requires_grad=True)
                info = {"n": n, "src": torch.from_numpy(src.copy()),
                        "dst": torch.from_numpy(r.astype(np.int64)), "rc": (r, c)}
                if variant == "sparse":
                    # CSR over columns 0..start-1 (positions before the level)
                    crow = np.zeros(n + 1, dtype=np.int64)
                    np.add.at(crow, r + 1, 1)
                    crow = np.cumsum(crow)
                    info["crow"] = torch.from_numpy(crow)
                    info["col"] = torch.from_numpy(src.astype(np.int64))
                    info["ncols"] = lv["start"] if not lv["is_output"] else graph.n_hidden_pos
            self.W.append(W)
            self.params.append(W)
            if not lv["is_output"]:
                b = torch.tensor(lv["b0"], dtype=dtype, requires_grad=True)
                self.b.append(b)
                self.params.append(b)
            self.lv.append(info)

    def forward(self, xb):
        """xb: (B, n_in) -> yhat (B, n_out)."""
        torch = self.torch
        B = xb.shape[0]
        nh = len(self.g.hidden_levels)
        if self.variant == "sparse":
            Zt = torch.cat([xb.t(), torch.zeros(1, B, dtype=self.dtype)], 0)  # (P, B)
            for li, info in enumerate(self.lv):
                S = torch.sparse_csr_tensor(info["crow"], info["col"], self.W[li],
                                            (info["n"], info["ncols"]))
                a = S @ Zt[:info["ncols"]]
                if li < nh:
                    Zt = torch.cat([Zt, torch.tanh(a + self.b[li][:, None])], 0)
                else:
                    return a.t()
        Z = torch.cat([xb, torch.zeros(B, 1, dtype=self.dtype)], 1)  # (B, P)
        for li, info in enumerate(self.lv):
            if self.variant == "gather":
                G = Z.index_select(1, info["idx"]).view(B, info["n"], info["k"])
                a = (G * self.W[li]).sum(-1)
            else:
                contrib = Z.index_select(1, info["src"]) * self.W[li]
                a = torch.zeros(B, info["n"], dtype=self.dtype).index_add(1, info["dst"], contrib)
            if li < nh:
                Z = torch.cat([Z, torch.tanh(a + self.b[li])], 1)
            else:
                return a

    def loss(self, xb, tb):
        """Batch mean of 0.5 * sum over outputs of squared differences."""
        d = self.forward(xb) - tb
        return 0.5 * (d * d).sum(1).mean()

    def grads_numpy(self, xb, tb):
        """(loss, edge-order weight grads, unit-order bias grads) for checks."""
        for p in self.params:
            p.grad = None
        loss = self.loss(xb, tb)
        loss.backward()
        if self.variant == "gather":
            gW = [W.grad.numpy() for W in self.W]
        else:
            import numpy as np
            gW = []
            for lv, info, W in zip(self.g.levels, self.lv, self.W):
                full = np.zeros(lv["idx"].shape)
                r, c = info["rc"]
                full[r, c] = W.grad.numpy()
                gW.append(full)
        ge, gb = self.g.edge_grads(gW, [b.grad.numpy() for b in self.b])
        return float(loss.detach()), ge, gb


def w3_train(graph, X, Y, workload, torch, variant):
    s = common.W3_SETTINGS[workload]
    model = DagTorch(graph, torch, variant)
    opt = torch.optim.SGD(model.params, lr=common.W3_LR)
    Xt = torch.from_numpy(X.astype("float32"))
    Yt = torch.from_numpy(Y.astype("float32"))
    batches = [(Xt[a:b].contiguous(), Yt[a:b].contiguous())
               for a, b in common.w3_batches(len(X), s["batch"])]
    loss_sum = torch.zeros(())
    with common.Timer() as t:
        for epoch in range(s["epochs"]):
            last = epoch == s["epochs"] - 1
            for xb, yb in batches:
                loss = model.loss(xb, yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if last:
                    loss_sum += loss.detach() * xb.shape[0]
    return t, float(loss_sum) / len(X)


# ----------------------------------------------------------------------------


def main():
    args = common.parse_args(PEER, default_repeats={"W1": 3, "W2": 5, "W2-wide": 5,
                                                     "W3a": 3, "W3b": 3},
                             supported=("W1", "W2", "W2-wide", "W3a", "W3b"))
    wl = args.workload
    if args.threads is None and wl in ("W2", "W2-wide"):
        # One process per thread count: switching a warm process from 1 to 2
        # threads with torch.set_num_threads made the 2-thread run ~10x
        # slower than a fresh 2-thread process.
        import subprocess
        rc = 0
        for nt in (1, 2):
            r = subprocess.run([sys.executable, os.path.abspath(__file__), *sys.argv[1:],
                                "--threads", str(nt)])
            rc = rc or r.returncode
        sys.exit(rc)
    thread_counts = [args.threads or 1]
    common.set_threads(max(thread_counts))
    import torch
    torch.set_num_interop_threads(1)
    version = f"torch {torch.__version__}"
    work, unit = common.work_amount(wl)
    budget = None if args.repeats_given else 55.0

    if wl == "W1":
        p0 = common.load_w1(args.generated)
    elif wl in ("W2", "W2-wide"):
        X, Y = common.load_digits(args.generated)
        params = common.xavier_init(common.W2_LAYERS[wl], args.seed)
    else:
        dag, X, Y = common.load_w3(args.generated)
        graph = common.W3Graph(dag)
        common.log(f"W3 graph: {graph.describe()}")

    for nt in thread_counts:
        torch.set_num_threads(nt)
        peer = f"{PEER} {common.thread_note(nt)}"
        if wl == "W1":
            def once(i):
                t, loss = w1_train(p0, torch)
                return t.seconds, t.cpu_ratio, {"loss": loss}
            med, infos = common.run_repeats(f"{peer} {wl}", args.repeats, once, nt, budget)
            common.emit(wl, peer, work / med, unit, med, len(infos), infos[0]["loss"], None, version)
        elif wl in ("W2", "W2-wide"):
            def once(i):
                t, loss, acc = w2_train(params, X, Y, torch)
                return t.seconds, t.cpu_ratio, {"loss": loss, "acc": acc}
            med, infos = common.run_repeats(f"{peer} {wl}", args.repeats, once, nt, budget)
            common.emit(wl, peer, work / med, unit, med, len(infos), infos[0]["loss"],
                        infos[0]["acc"], version)
        else:
            results = {}
            for variant in DagTorch.VARIANTS:
                def once(i, variant=variant):
                    t, loss = w3_train(graph, X, Y, wl, torch, variant)
                    return t.seconds, t.cpu_ratio, {"loss": loss}
                med, infos = common.run_repeats(f"{peer} {wl} {variant}", args.repeats, once,
                                                nt, budget / 3 if budget else None)
                results[variant] = (med, infos)
            med, infos = results["gather"]
            common.emit(wl, peer, work / med, unit, med, len(infos), infos[0]["loss"], None,
                        version, note="topological levels, ELL gather (index_select) + torch.cat, autograd")
            best = min(results, key=lambda v: results[v][0])
            med, infos = results[best]
            others = ", ".join(f"{v} {work / results[v][0]:.3g}" for v in DagTorch.VARIANTS)
            common.emit(wl, f"{PEER} best" + ("" if nt == 1 else f" ({nt} threads)"), work / med, unit, med, len(infos), infos[0]["loss"],
                        None, version,
                        note=f"{common.thread_note(nt)}, best variant: {best} "
                             f"(edge-samples/s: {others})")


if __name__ == "__main__":
    main()
