"""JAX peer: jax.jit around the WHOLE training run, so the loop runs compiled.

W1: lax.fori_loop over the 10,000 epochs (the 4 samples of an epoch unrolled),
    float64 (jax_enable_x64).
W2 / W2-wide: lax.scan over the 56 full batches of 32 (+ one step on the last
    batch of 5) inside lax.scan over the 50 epochs, float32.
W3a / W3b: lax.scan over the batches (inside lax.scan over the epochs), float32.
    The DAG is processed in topological levels (common.W3Graph): per level a
    gather of the (n_L x k) source positions from the activations so far,
    multiply by the (n_L x k) weights, sum, tanh, concatenate. jax.grad does
    the backward pass.
The first call compiles (and runs once as warm-up); the timed calls reuse the
compiled executable and end with block_until_ready.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

PEER = "JAX"


def tree_sgd(jax, params, grads, lr):
    return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)


# ----------------------------------------------------------------------------
# W1


def w1_make(jax, jnp):
    lax = jax.lax
    X = jnp.array(common.W1_X, dtype=jnp.float64)
    Y = jnp.array(common.W1_Y, dtype=jnp.float64)
    lr = common.W1_LR

    def loss_fn(params, x, y):
        Wh, bh, wo, bo = params
        h = jax.nn.sigmoid(Wh @ x + bh)
        p = jax.nn.sigmoid(wo @ h + bo)
        return -(y * jnp.log(p) + (1.0 - y) * jnp.log(1.0 - p))

    vg = jax.value_and_grad(loss_fn)

    @jax.jit
    def train(params):
        def epoch(e, carry):
            params, _ = carry
            total = jnp.zeros((), jnp.float64)
            for i in range(4):  # unrolled: the 4 samples in order
                loss, g = vg(params, X[i], Y[i])
                params = tree_sgd(jax, params, g, lr)
                total = total + loss
            return params, total
        return lax.fori_loop(0, common.W1_EPOCHS, epoch,
                             (params, jnp.zeros((), jnp.float64)))
    return train


def w1_params(p0, jnp):
    return (jnp.array(p0["Wh"]), jnp.array(p0["bh"]), jnp.array(p0["wo"]),
            jnp.array(p0["bo"], dtype=jnp.float64))


# ----------------------------------------------------------------------------
# helpers: an epoch = scan over the full batches + one step on the remainder


def split_batches(jnp, X, Y, batch):
    n = len(X)
    nf = n // batch
    full = (jnp.asarray(X[:nf * batch].reshape(nf, batch, -1)),
            jnp.asarray(Y[:nf * batch].reshape(nf, batch, -1)))
    rest = None
    if nf * batch < n:
        rest = (jnp.asarray(X[nf * batch:]), jnp.asarray(Y[nf * batch:]))
    return full, rest


def make_trainer(jax, jnp, loss_fn, lr, epochs, full, rest):
    """loss_fn(params, xb, yb) -> batch-mean loss. Returns jitted
    train(params) -> (params, per-epoch loss sums (epochs,))."""
    lax = jax.lax
    vg = jax.value_and_grad(loss_fn)

    def step(params, xb, yb):
        loss, g = vg(params, xb, yb)
        return tree_sgd(jax, params, g, lr), loss * xb.shape[0]

    def epoch(params, _):
        params, losses = lax.scan(lambda p, b: step(p, b[0], b[1]), params, full)
        total = losses.sum()
        if rest is not None:
            params, l2 = step(params, rest[0], rest[1])
            total = total + l2
        return params, total

    @jax.jit
    def train(params):
        return lax.scan(epoch, params, None, length=epochs)
    return train


# ----------------------------------------------------------------------------
# W2


def w2_loss(jax, jnp):
    def forward(params, x):
        h = x
        for i, (W, b) in enumerate(params):
            h = h @ W + b
            if i < len(params) - 1:
                h = jnp.tanh(h)
        return h

    def loss_fn(params, xb, yb):
        logp = jax.nn.log_softmax(forward(params, xb), axis=-1)
        return -(yb * logp).sum(-1).mean()
    return forward, loss_fn


# ----------------------------------------------------------------------------
# W3


def w3_forward_fn(graph, jnp, dtype):
    """forward(params, xb (B, n_in)) -> (B, n_out); params = (Ws, bs) in ELL
    layout, one (n_L, k) weight array per level (outputs last)."""
    idx = [jnp.asarray(lv["idx"].reshape(-1)) for lv in graph.levels]
    shapes = [lv["idx"].shape for lv in graph.levels]
    nh = len(graph.hidden_levels)

    def forward(params, xb):
        Ws, bs = params
        B = xb.shape[0]
        Z = jnp.concatenate([xb, jnp.zeros((B, 1), dtype)], axis=1)
        for li in range(nh + 1):
            n, k = shapes[li]
            G = jnp.take(Z, idx[li], axis=1).reshape(B, n, k)
            a = (G * Ws[li]).sum(-1)
            if li == nh:
                return a
            Z = jnp.concatenate([Z, jnp.tanh(a + bs[li])], axis=1)
    return forward


def w3_params(graph, jnp, dtype):
    return ([jnp.asarray(lv["W0"], dtype) for lv in graph.levels],
            [jnp.asarray(lv["b0"], dtype) for lv in graph.hidden_levels])


def w3_loss_fn(forward):
    def loss_fn(params, xb, yb):
        d = forward(params, xb) - yb
        return 0.5 * (d * d).sum(-1).mean()
    return loss_fn


# ----------------------------------------------------------------------------


def main():
    args = common.parse_args(PEER, default_repeats=5,
                             supported=("W1", "W2", "W2-wide", "W3a", "W3b"))
    threads = args.threads or 1
    common.set_threads(threads, pin=True)
    wl = args.workload
    import jax
    if wl == "W1":
        jax.config.update("jax_enable_x64", True)
    jax.devices()  # create the CPU backend (thread pools) while pinned
    common.unpin()
    import jax.numpy as jnp
    import jaxlib
    import numpy as np
    version = f"jax {jax.__version__} (jaxlib {jaxlib.__version__})"
    work, unit = common.work_amount(wl)
    tn = "" if threads == 1 else f" {common.thread_note(threads)}"
    budget = None if args.repeats_given else 90.0

    def timed(train, init, label):
        with common.Timer() as tc:
            out = train(init())
            jax.block_until_ready(out)
        common.log(f"  {label}: compile + warm-up run {tc.seconds:.2f} s")

        def once(i):
            params = init()
            jax.block_until_ready(params)
            with common.Timer() as t:
                out = train(params)
                jax.block_until_ready(out)
            return t.seconds, t.cpu_ratio, {"out": out}
        return common.run_repeats(label, args.repeats, once, threads, budget)

    if wl == "W1":
        p0 = common.load_w1(args.generated)
        train = w1_make(jax, jnp)
        peer = f"JAX fori_loop{tn}"
        med, infos = timed(train, lambda: w1_params(p0, jnp), f"{peer} {wl}")
        loss = float(infos[0]["out"][1]) / 4
        common.emit(wl, peer, work / med, unit, med, len(infos), loss, None, version,
                    note="jit of the whole training, lax.fori_loop over epochs, float64")

    elif wl in ("W2", "W2-wide"):
        X, Y = common.load_digits(args.generated)
        params0 = common.xavier_init(common.W2_LAYERS[wl], args.seed)
        forward, loss_fn = w2_loss(jax, jnp)
        full, rest = split_batches(jnp, X, Y, common.W2_BATCH)
        train = make_trainer(jax, jnp, loss_fn, np.float32(common.W2_LR),
                             common.W2_EPOCHS, full, rest)
        peer = f"JAX jit+scan{tn}"
        init = lambda: [(jnp.asarray(W), jnp.asarray(b)) for W, b in params0]  # noqa: E731
        med, infos = timed(train, init, f"{peer} {wl}")
        params, losses = infos[0]["out"]
        loss = float(losses[-1]) / len(X)
        logits = jax.jit(forward)(params, jnp.asarray(X))
        acc = float((np.asarray(logits).argmax(1) == Y.argmax(1)).mean())
        common.emit(wl, peer, work / med, unit, med, len(infos), loss, acc, version)

    else:
        dag, X, Y = common.load_w3(args.generated)
        graph = common.W3Graph(dag)
        common.log(f"W3 graph: {graph.describe()}")
        s = common.W3_SETTINGS[wl]
        dt = jnp.float32
        forward = w3_forward_fn(graph, jnp, dt)
        full, rest = split_batches(jnp, X.astype(np.float32), Y.astype(np.float32), s["batch"])
        train = make_trainer(jax, jnp, w3_loss_fn(forward), np.float32(common.W3_LR),
                             s["epochs"], full, rest)
        peer = f"JAX jit+scan{tn}"
        med, infos = timed(train, lambda: w3_params(graph, jnp, dt), f"{peer} {wl}")
        loss = float(infos[0]["out"][1][-1]) / len(X)
        common.emit(wl, peer, work / med, unit, med, len(infos), loss, None, version,
                    note="topological levels, ELL gather (jnp.take) + concatenate, jax.grad")


if __name__ == "__main__":
    main()
