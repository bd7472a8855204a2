"""Correctness check of the W3 peers' gradients (not a benchmark).

    benchmarks/.venv/bin/python benchmarks/peers/python/check_w3.py --generated DIR

In float64, on the first sample (batch 1, as in W3a) and on the first batch of
64 (W3b), compares the batch-mean gradient of 0.5 * sum((yhat - t)^2) wrt
every edge weight and hidden bias computed by
  * a plain reference: unit-by-unit forward in the original unit order and
    reverse-mode backprop written out unit by unit (no levels, no library),
  * central finite differences of the reference loss on a few parameters,
  * numpy_peer.DagModel, torch_peer.DagTorch (every variant), the JAX peer's
    forward + jax.grad.
Also checks one SGD step in float32 lowers the loss. Prints a table to stderr
and exits 1 on a mismatch; the last stdout line is 'N passed, N failed'.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def reference(dag, X, T):
    """Unit-by-unit forward/backward in original unit order, float64."""
    import numpy as np
    n_in, n_hid, n_out = dag["inputs"], dag["hidden"], dag["outputs"]
    n = n_in + n_hid + n_out
    edges = [tuple(e) for e in dag["edges"]]
    w = np.asarray(dag["weights"], dtype=np.float64)
    b = np.asarray(dag["biases"], dtype=np.float64)
    inc = [[] for _ in range(n)]
    for e, (s, d) in enumerate(edges):
        inc[d].append(e)
    B = len(X)
    loss = 0.0
    gw = np.zeros(len(edges))
    gb = np.zeros(n_hid)
    for r in range(B):
        z = np.zeros(n)
        z[:n_in] = X[r]
        for j in range(n_in, n):
            a = sum(w[e] * z[edges[e][0]] for e in inc[j])
            if j < n_in + n_hid:
                a += b[j - n_in]
                z[j] = np.tanh(a)
            else:
                z[j] = a
        diff = z[n_in + n_hid:] - T[r]
        loss += 0.5 * float(diff @ diff)
        dz = np.zeros(n)
        dz[n_in + n_hid:] = diff / B
        for j in range(n - 1, n_in - 1, -1):
            da = dz[j] if j >= n_in + n_hid else dz[j] * (1 - z[j] ** 2)
            if n_in <= j < n_in + n_hid:
                gb[j - n_in] += da
            for e in inc[j]:
                s = edges[e][0]
                gw[e] += da * z[s]
                dz[s] += da * w[e]
    return loss / B, gw, gb


def ref_loss(dag, X, T, w, b):
    import numpy as np
    d2 = dict(dag)
    d2["weights"], d2["biases"] = w, b
    n_in, n_hid = dag["inputs"], dag["hidden"]
    n = n_in + n_hid + dag["outputs"]
    edges = dag["edges"]
    inc = [[] for _ in range(n)]
    for e, (s, d) in enumerate(edges):
        inc[d].append(e)
    tot = 0.0
    for r in range(len(X)):
        z = np.zeros(n)
        z[:n_in] = X[r]
        for j in range(n_in, n):
            a = sum(w[e] * z[edges[e][0]] for e in inc[j])
            z[j] = np.tanh(a + b[j - n_in]) if j < n_in + n_hid else a
        diff = z[n_in + n_hid:] - T[r]
        tot += 0.5 * float(diff @ diff)
    return tot / len(X)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--generated", required=True)
    p.add_argument("--fd", type=int, default=6, help="finite-difference probes")
    args = p.parse_args()
    common.set_threads(1)
    import numpy as np
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import torch
    import numpy_peer
    import torch_peer
    import jax_peer

    dag, X, Y = common.load_w3(args.generated)
    g64 = common.W3Graph(dag, dtype="float64")
    passed = failed = 0

    def check(name, got, want, tol):
        nonlocal passed, failed
        err = float(np.max(np.abs(np.asarray(got) - np.asarray(want))))
        scale = float(np.max(np.abs(want))) or 1.0
        ok = err <= tol * scale
        common.log(f"  {'ok  ' if ok else 'FAIL'} {name}: max abs err {err:.3e} "
                   f"(max |ref| {scale:.3e}, rel tol {tol:g})")
        if ok:
            passed += 1
        else:
            failed += 1

    for B in (1, 64):
        xb, tb = X[:B], Y[:B]
        common.log(f"batch of {B}:")
        loss, gw, gb = reference(dag, xb, tb)
        common.log(f"  reference loss {loss:.6f}, |gw| max {np.abs(gw).max():.3e}")
        # finite differences on a few edge weights and biases (largest grads
        # plus random ones)
        rng = np.random.RandomState(B)
        w0 = np.asarray(dag["weights"], dtype=np.float64)
        b0 = np.asarray(dag["biases"], dtype=np.float64)
        probes = list(np.argsort(-np.abs(gw))[:args.fd // 2]) + list(rng.randint(0, len(w0), args.fd - args.fd // 2))
        h = 1e-6
        fd_w = []
        for e in probes:
            wp, wm = w0.copy(), w0.copy()
            wp[e] += h
            wm[e] -= h
            fd_w.append((ref_loss(dag, xb, tb, wp, b0) - ref_loss(dag, xb, tb, wm, b0)) / (2 * h))
        check(f"B={B} reference vs finite differences ({len(probes)} weights)",
              gw[probes], np.array(fd_w), 1e-5)
        bprobe = int(np.argmax(np.abs(gb)))
        bp, bm = b0.copy(), b0.copy()
        bp[bprobe] += h
        bm[bprobe] -= h
        fd_b = (ref_loss(dag, xb, tb, w0, bp) - ref_loss(dag, xb, tb, w0, bm)) / (2 * h)
        check(f"B={B} reference vs finite differences (bias)", [gb[bprobe]], [fd_b], 1e-5)

        m = numpy_peer.DagModel(g64, np, dtype=np.float64)
        l_np, gW, gB = m.grads(xb, tb)
        ge, gbb = g64.edge_grads(gW, gB)
        check(f"B={B} numpy loss", [l_np / B], [loss], 1e-12)
        check(f"B={B} numpy weight grads", ge, gw, 1e-10)
        check(f"B={B} numpy bias grads", gbb, gb, 1e-10)

        for variant in torch_peer.DagTorch.VARIANTS:
            tm = torch_peer.DagTorch(g64, torch, variant, dtype=torch.float64)
            l_t, ge, gbb = tm.grads_numpy(torch.from_numpy(xb), torch.from_numpy(tb))
            check(f"B={B} torch {variant} loss", [l_t], [loss], 1e-12)
            check(f"B={B} torch {variant} weight grads", ge, gw, 1e-10)
            check(f"B={B} torch {variant} bias grads", gbb, gb, 1e-10)

        fwd = jax_peer.w3_forward_fn(g64, jnp, jnp.float64)
        lf = jax_peer.w3_loss_fn(fwd)
        params = jax_peer.w3_params(g64, jnp, jnp.float64)
        l_j, (gWj, gBj) = jax.jit(jax.value_and_grad(lf))(params, jnp.asarray(xb), jnp.asarray(tb))
        ge, gbb = g64.edge_grads([np.asarray(a) for a in gWj], [np.asarray(a) for a in gBj])
        check(f"B={B} jax loss", [float(l_j)], [loss], 1e-12)
        check(f"B={B} jax weight grads", ge, gw, 1e-10)
        check(f"B={B} jax bias grads", gbb, gb, 1e-10)

        # one float32 SGD step with a large step lowers the batch loss
        g32 = common.W3Graph(dag)
        m32 = numpy_peer.DagModel(g32, np)
        x32, t32 = xb.astype(np.float32), tb.astype(np.float32)
        before = m32.step(x32, t32, np.float32(0.5)) / B
        after, _, _ = m32.grads(x32, t32)
        after /= B
        ok = after < before
        common.log(f"  {'ok  ' if ok else 'FAIL'} B={B} float32 SGD step lr 0.5: "
                   f"loss {before:.6f} -> {after:.6f}")
        passed += ok
        failed += not ok

    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
