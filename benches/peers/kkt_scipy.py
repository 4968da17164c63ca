#!/usr/bin/env python3
"""Peer benchmark for the KKT certificate (docs/kkt.md).

Solves the same problems as `relucert kkt --all` on the (m, k, d) = (100, 200, 100)
instance that `cargo run --release --example kkt_scale -- peer` writes to
target/kkt_peer/ (net.json, data.json in the relucert formats of docs/formats.md):

* L2:  min ||theta_hat - H lam||_2, lam >= 0, with scipy.optimize.nnls on the explicit
       P x m matrix H of per-sample gradients;
* Linf: min t s.t. -t <= (theta_hat - H lam)_p <= t, lam >= 0, with scipy linprog (HiGHS);
* L1:  min sum_p t_p s.t. -t_p <= (theta_hat - H lam)_p <= t_p, lam >= 0, linprog (HiGHS).

Times are medians; "full" includes building theta_hat and H from the JSON arrays
(the same work relucert's certify does, which builds its Gram matrix), "solve" only the
solver call. Reads target/kkt_peer/rust.json for relucert's times and eps, and prints
the ratios and the relative difference of eps.

Usage: python3 benches/peers/kkt_scipy.py   (creates benches/peers/.venv on first run,
installs numpy and scipy from PyPI, and runs the Rust side first; `--no-cargo` skips it;
`M K D` as arguments choose another size of the same instance family).
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from peer_venv import reexec_in_venv  # noqa: E402


CPU = {}


def median_time(f, reps):
    """Median wall time of `reps` calls; the median CPU time (process_time, all threads)
    of the same calls is kept in CPU[f.__name__] for the CPU ratios."""
    ts, cs = [], []
    out = None
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        out = f()
        ts.append(time.perf_counter() - t0)
        cs.append(time.process_time() - c0)
    ts.sort()
    cs.sort()
    CPU[f.__name__] = cs[len(cs) // 2]
    return ts[len(ts) // 2], out


def main():
    reexec_in_venv(__file__, ".venv", ["numpy", "scipy"])
    import numpy as np
    import scipy
    from scipy.optimize import linprog, nnls
    from scipy import sparse

    dims = [a for a in sys.argv[1:] if a.isdigit()] or ["100", "200", "100"]
    if "--no-cargo" not in sys.argv:
        subprocess.check_call(["cargo", "run", "--release", "--example", "kkt_scale", "--", "peer"] + dims, cwd=ROOT)
    d_ = os.path.join(ROOT, "target", "kkt_peer")
    net = json.load(open(os.path.join(d_, "net.json")))
    data = json.load(open(os.path.join(d_, "data.json")))
    rust = json.load(open(os.path.join(d_, "rust.json")))
    W = np.array(net["w"], dtype=float)
    b = np.array(net["b"], dtype=float)
    v = np.array(net["v"], dtype=float)
    X = np.array(data["x"], dtype=float)
    y = np.array(data["y"], dtype=float)
    m, d = X.shape
    k = W.shape[0]
    tau = 1e-9

    def build():
        U = X @ W.T + b
        q = y * (np.maximum(U, 0) @ v)
        qmin = q.min()
        assert qmin > 0, "net does not separate the data"
        s = 1.0 / np.sqrt(qmin)
        Wh, bh, vh = W * s, b * s, v * s
        Uh = U * s
        scale = np.sqrt((np.sum(Wh**2, 1) + bh**2)[None, :] * (np.sum(X**2, 1) + 1.0)[:, None])
        amb = int(np.sum(np.abs(Uh) <= tau * scale))
        S = (Uh > tau * scale).astype(float)  # m x k
        # H columns: blocks w (k*d), b (k), v (k), per sample i
        coef = (y[:, None] * vh[None, :] * S)  # m x k
        Hw = (coef[:, :, None] * X[:, None, :]).reshape(m, k * d)
        Hb = coef
        Hv = y[:, None] * np.maximum(Uh, 0)
        H = np.concatenate([Hw, Hb, Hv], axis=1).T  # P x m
        theta = np.concatenate([Wh.ravel(), bh, vh])
        return H, theta, amb

    reps = 11
    t_build, (H, theta, amb) = median_time(build, reps)
    assert amb == 0, f"{amb} ambiguous pairs: the explicit reference assumes none"
    P = H.shape[0]

    t_nnls, (lam, rnorm) = median_time(lambda: nnls(H, theta, maxiter=50 * m), reps)
    eps2 = np.linalg.norm(theta - H @ lam)
    theta_n2 = np.linalg.norm(theta)

    def lp():
        Hs = sparse.csr_matrix(H)
        ones = sparse.csr_matrix(np.ones((P, 1)))
        A = sparse.vstack([sparse.hstack([-Hs, -ones]), sparse.hstack([Hs, -ones])]).tocsr()
        bub = np.concatenate([-theta, theta])
        c = np.zeros(m + 1)
        c[-1] = 1.0
        return linprog(c, A_ub=A, b_ub=bub, bounds=[(0, None)] * (m + 1), method="highs")

    t_lp, res = median_time(lp, 3)
    assert res.status == 0, res.message
    lam_inf = res.x[:m]
    epsinf = np.max(np.abs(theta - H @ lam_inf))

    def lp1():
        Hs = sparse.csr_matrix(H)
        eye = sparse.identity(P, format="csr")
        A = sparse.vstack([sparse.hstack([-Hs, -eye]), sparse.hstack([Hs, -eye])]).tocsr()
        bub = np.concatenate([-theta, theta])
        c = np.concatenate([np.zeros(m), np.ones(P)])
        return linprog(c, A_ub=A, b_ub=bub, bounds=[(0, None)] * (m + P), method="highs")

    t_lp1, res1 = median_time(lp1, 1)
    assert res1.status == 0, res1.message
    eps1 = np.sum(np.abs(theta - H @ res1.x[:m]))

    print(f"scipy {scipy.__version__}, numpy {np.__version__}; m={m} k={k} d={d} P={P}")
    print(f"build H (explicit P x m):  {t_build*1e3:9.3f} ms")
    print(f"nnls solve:                {t_nnls*1e3:9.3f} ms   eps2 = {eps2:.12e}  eps_rel = {eps2/theta_n2:.6e}")
    print(f"linprog HiGHS (Linf):      {t_lp*1e3:9.3f} ms   epsinf = {epsinf:.12e}")
    r2 = rust["l2_seconds"]
    print(f"relucert L2 certify:       {r2*1e3:9.3f} ms   eps2 = {rust['l2_eps']:.12e}")
    print(f"ratio L2 (scipy build+nnls / relucert): {(t_build + t_nnls)/r2:8.1f}x")
    print(f"ratio L2 (scipy nnls only / relucert):  {t_nnls/r2:8.1f}x")
    print(f"eps2 relative difference: {abs(eps2 - rust['l2_eps'])/eps2:.3e}")
    lam_r = np.array(rust["l2_lambda"])
    print(f"lambda max abs difference (L2): {np.max(np.abs(lam_r - lam)):.3e} (max lambda {np.max(lam):.3e})")
    compare_lp(rust, "linf", "Linf (rowgen)", "Linf", "epsinf", epsinf, lam_inf, t_build + t_lp, CPU["build"] + CPU["lp"])
    print(f"linprog HiGHS (L1):        {t_lp1*1e3:9.3f} ms   eps1 = {eps1:.12e}")
    compare_lp(rust, "l1", "L1", "L1", "eps1", eps1, res1.x[:m], t_build + t_lp1, CPU["build"] + CPU["lp1"])


def compare_lp(rust, key, label, short, eps_name, eps, lam, t_highs, cpu_highs):
    """Prints relucert's LP answer (`key` = linf or l1) beside HiGHS's: time, CPU and
    wall ratios, ε difference and whether the supports of λ agree."""
    if f"{key}_seconds" not in rust:
        return
    r = rust[f"{key}_seconds"]
    print(f"relucert {label + ':':<17} {r*1e3:9.3f} ms   {eps_name} = {rust[key + '_eps']:.12e}")
    print(f"ratio {short} (scipy HiGHS build+solve / relucert): {t_highs/r:8.3f}x")
    if f"{key}_cpu_seconds" in rust:
        c = rust[f"{key}_cpu_seconds"]
        print(f"CPU: HiGHS {short} build+solve {cpu_highs*1e3:9.3f} ms, relucert {c*1e3:9.3f} ms, ratio {cpu_highs/c:8.3f}x")
    print(f"{eps_name} relative difference: {abs(eps - rust[key + '_eps'])/eps:.3e}")
    lr = np.array(rust[f"{key}_lambda"])
    top = max(np.max(lr), np.max(lam))
    same = set(np.nonzero(lr > 1e-7 * top)[0]) == set(np.nonzero(lam > 1e-7 * top)[0])
    print(f"{short} lambda support identical: {same}")


if __name__ == "__main__":
    main()
