#!/usr/bin/env python3
"""Peer benchmark for the exact L2 radius: the mixed-integer QP that exact verifiers
(MIPVerify.jl, GeoCert) stand on, solved by Gurobi and by SCIP, side by side with
`relucert radius` on the same nets and samples.

Problem, for a depth-2 ReLU net N(x) = sum_j v_j relu(w_j . x + b_j) and a sample (x, y):

    min ||delta||^2  s.t.  y * N(x + delta) <= 0.

Big-M encoding, with interval bounds valid in the ball ||delta|| <= R, where R is an
upper bound on the radius (a point that flips: found here by a short gradient attack,
then shrunk along the segment to the boundary, and checked by the forward pass):

    u_j = w_j . (x + delta) + b_j,    l_j = u_j(0) - R ||w_j||,   h_j = u_j(0) + R ||w_j||
    stable on  (l_j >= 0): a_j = u_j          stable off (h_j <= 0): a_j = 0
    unstable:  a_j >= u_j, a_j >= 0, a_j <= u_j - l_j (1 - z_j), a_j <= h_j z_j, z_j binary
    y * sum_j v_j a_j <= 0,   ||delta||^2 <= R^2.

The encoding is exact inside the ball, and the minimiser lies inside it, so the MIQP's
optimum is the radius (closed reading, the same as relucert's). Timings are wall clock
of the solver call with Threads = 1, and a common time limit.

Instances (`--suite`):
  * random K: w ~ N(0, 1/d), b ~ N(0, 0.1^2), v ~ N(0, 1/K), a sample on the sphere of
    radius sqrt(d), label sign N(x) (seeded numpy Generator);
  * trained K: `relucert gen sphere --d 10 --m 20 --seed 1`, then
    `relucert train --width K --target-loss 1e-30` (default schedule).
Or a single net with --net/--data/--samples.

Usage: python3 benches/peers/radius_mip.py --suite issue13 --time-limit 60
       python3 benches/peers/radius_mip.py --net n.json --data d.json --samples 0,1
(creates benches/peers/.venv-mip on first run and installs numpy, gurobipy and
pyscipopt from PyPI; gurobipy's pip licence is size-limited: instances over it are
reported as "size licence"). relucert is run from target/release/relucert (built with
`cargo build --release` first). Prints one JSON line per (instance, tool) and a table.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
RELUCERT = os.path.join(ROOT, "target", "release", "relucert")

sys.path.insert(0, HERE)
from peer_venv import reexec_in_venv  # noqa: E402

reexec_in_venv(__file__, ".venv-mip", ["numpy", "gurobipy", "pyscipopt"])
import numpy as np  # noqa: E402


def load_net(path):
    with open(path) as f:
        j = json.load(f)
    w = np.array(j["w"], dtype=float)
    b = np.array(j["b"], dtype=float) if j.get("bias", False) else np.zeros(w.shape[0])
    v = np.array(j["v"], dtype=float)
    return w, b, v


def load_data(path):
    with open(path) as f:
        j = json.load(f)
    return np.array(j["x"], dtype=float), np.array(j["y"], dtype=float)


def yn(w, b, v, x, y):
    return y * float(v @ np.maximum(w @ x + b, 0.0))


def attack(w, b, v, x, y, seconds=0.3, seed=0):
    """Upper bound on the radius: DeepFool-style steps from several starts, then the
    flipping point is pulled back along the segment to the boundary by bisection."""
    rng = np.random.default_rng(seed)
    best = math.inf
    t_end = time.perf_counter() + seconds
    d = x.shape[0]
    while time.perf_counter() < t_end:
        delta = rng.normal(size=d) * (0.01 if best == math.inf else 0.1 * best / math.sqrt(d))
        for _ in range(50):
            u = w @ (x + delta) + b
            f = y * float(v @ np.maximum(u, 0.0))
            if f <= 0:
                break
            g = y * (w.T @ (v * (u > 0)))
            gn = float(g @ g)
            if gn == 0.0:
                break
            delta = delta - 1.02 * (f / gn) * g
        if yn(w, b, v, x + delta, y) > 0:
            continue
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if yn(w, b, v, x + mid * delta, y) <= 0:
                hi = mid
            else:
                lo = mid
        best = min(best, hi * float(np.linalg.norm(delta)))
    return best


def encode(add_var, add_binary, add_cons, quicksum, w, b, v, x, y, R):
    """The big-M MIQP constraints, shared by both solvers: δ in the box [-R, R]^d, each
    neuron unstable in the ball of radius R (interval bounds u(x) ± R‖w_j‖) a ReLU with
    one binary, the others fixed, and the flip y·N(x + δ) ≤ 0. Returns δ's variables."""
    k, d = w.shape
    u0 = w @ x + b
    r = R * np.linalg.norm(w, axis=1)
    l, h = u0 - r, u0 + r
    delta = [add_var(-R, R) for _ in range(d)]
    terms = []
    for j in range(k):
        uj = quicksum(float(w[j, i]) * delta[i] for i in range(d)) + float(u0[j])
        if l[j] >= 0:
            terms.append(float(v[j]) * uj)
        elif h[j] <= 0:
            continue
        else:
            a = add_var(0.0, float(h[j]))
            z = add_binary()
            add_cons(a >= uj)
            add_cons(a <= uj - float(l[j]) * (1 - z))
            add_cons(a <= float(h[j]) * z)
            terms.append(float(v[j]) * a)
    add_cons(float(y) * quicksum(terms) <= 0)
    return delta


def solve_gurobi(w, b, v, x, y, R, time_limit):
    import gurobipy as gp
    from gurobipy import GRB
    env = gp.Env(empty=True)
    env.setParam("OutputFlag", 0)
    env.start()
    m = gp.Model(env=env)
    m.Params.Threads = 1
    m.Params.TimeLimit = time_limit
    m.Params.MIPGap = 1e-6
    delta = encode(lambda lo, hi: m.addVar(lb=lo, ub=hi), lambda: m.addVar(vtype=GRB.BINARY), m.addConstr,
                   gp.quicksum, w, b, v, x, y, R)
    sq = gp.quicksum(di * di for di in delta)
    m.addConstr(sq <= R * R)
    m.setObjective(sq, GRB.MINIMIZE)
    t0 = time.perf_counter()
    try:
        m.optimize()
    except gp.GurobiError as e:
        return {"status": "size licence" if "size-limited" in str(e) or "license" in str(e).lower() else "error: " + str(e)}
    secs = time.perf_counter() - t0
    out = {"seconds": secs, "nodes": m.NodeCount}
    if m.SolCount > 0:
        out["upper"] = math.sqrt(max(m.ObjVal, 0.0))
    out["lower"] = math.sqrt(max(m.ObjBound, 0.0))
    out["status"] = "exact" if m.Status == GRB.OPTIMAL else "bracket"
    return out


def solve_scip(w, b, v, x, y, R, time_limit):
    from pyscipopt import Model, quicksum
    m = Model()
    m.hideOutput()
    m.setParam("limits/time", time_limit)
    m.setParam("limits/gap", 1e-6)
    m.setParam("parallel/maxnthreads", 1)
    delta = encode(lambda lo, hi: m.addVar(lb=lo, ub=hi), lambda: m.addVar(vtype="B"), m.addCons,
                   quicksum, w, b, v, x, y, R)
    obj = m.addVar(lb=0.0)
    m.addCons(quicksum(di * di for di in delta) <= obj)
    m.addCons(obj <= R * R)
    m.setObjective(obj, "minimize")
    t0 = time.perf_counter()
    m.optimize()
    secs = time.perf_counter() - t0
    out = {"seconds": secs, "nodes": m.getNNodes()}
    if m.getNSols() > 0:
        out["upper"] = math.sqrt(max(m.getObjVal(), 0.0))
    out["lower"] = math.sqrt(max(m.getDualbound(), 0.0))
    out["status"] = "exact" if m.getStatus() == "optimal" else "bracket"
    return out


def run_relucert(net_path, data_path, i, time_limit, extra):
    t0 = time.perf_counter()
    p = subprocess.run([RELUCERT, "radius", "--net", net_path, "--data", data_path, "--samples", str(i),
                        "--time-limit", str(time_limit), "--json"] + extra, capture_output=True, text=True)
    secs = time.perf_counter() - t0
    if p.returncode != 0:
        return {"status": "error: " + p.stderr.strip()}
    s = json.loads(p.stdout)["samples"][0]
    return {"seconds": secs, "status": "exact" if s["exact"] else "bracket", "lower": s["lower"], "upper": s["upper"]}


def random_instance(k, d, seed, tmp):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(k, d)) / math.sqrt(d)
    b = rng.normal(size=k) * 0.1
    v = rng.normal(size=k) / math.sqrt(k)
    x = rng.normal(size=d)
    x *= math.sqrt(d) / np.linalg.norm(x)
    f = float(v @ np.maximum(w @ x + b, 0.0))
    y = 1.0 if f >= 0 else -1.0
    net = os.path.join(tmp, f"random-{k}-{seed}.json")
    data = os.path.join(tmp, f"random-{k}-{seed}-data.json")
    with open(net, "w") as fh:
        json.dump({"format": "relucert/net@1", "d": d, "k": k, "bias": True,
                   "w": w.tolist(), "b": b.tolist(), "v": v.tolist()}, fh)
    with open(data, "w") as fh:
        json.dump({"format": "relucert/data@1", "d": d, "m": 1, "x": [x.tolist()], "y": [y]}, fh)
    return net, data, [0]


def trained_instance(k, tmp, samples):
    data = os.path.join(tmp, "trained-data.json")
    if not os.path.exists(data):
        subprocess.check_call([RELUCERT, "gen", "sphere", "--d", "10", "--m", "20", "--seed", "1", "-o", data],
                              stdout=subprocess.DEVNULL)
    net = os.path.join(tmp, f"trained-{k}.json")
    if not os.path.exists(net):
        subprocess.check_call([RELUCERT, "train", "--data", data, "--width", str(k), "--target-loss", "1e-30",
                               "-o", net], stdout=subprocess.DEVNULL)
    return net, data, samples


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--suite", choices=["issue13", "small"], default=None)
    ap.add_argument("--net")
    ap.add_argument("--data")
    ap.add_argument("--samples", default="0")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--tools", default="relucert,gurobi,scip")
    ap.add_argument("--relucert-args", default="", help="extra arguments for relucert radius")
    ap.add_argument("--workdir", default=None)
    a = ap.parse_args()
    tmp = a.workdir or tempfile.mkdtemp(prefix="radius_mip_")
    os.makedirs(tmp, exist_ok=True)
    instances = []
    if a.net:
        instances.append(("given", a.net, a.data, [int(s) for s in a.samples.split(",")]))
    elif a.suite == "small":
        instances.append(("random k=16 s0", *random_instance(16, 10, 0, tmp)))
        instances.append(("trained k=32", *trained_instance(32, tmp, [0, 1])))
    else:
        for k in (16, 32, 64, 128):
            for seed in (0, 1):
                instances.append((f"random k={k} seed={seed}", *random_instance(k, 10, seed, tmp)))
        for k in (32, 64, 128, 256):
            instances.append((f"trained k={k}", *trained_instance(k, tmp, [0, 1, 2, 3])))
    tools = a.tools.split(",")
    extra = a.relucert_args.split()
    rows = []
    for name, net_path, data_path, samples in instances:
        w, b, v = load_net(net_path)
        X, Y = load_data(data_path)
        for i in samples:
            x, y = X[i], Y[i]
            t0 = time.perf_counter()
            R = attack(w, b, v, x, y)
            t_att = time.perf_counter() - t0
            row = {"instance": name, "sample": i, "k": int(w.shape[0]), "attack": R, "attack_seconds": t_att}
            if not math.isfinite(R):
                row["note"] = "attack found no flip; no ball for the big-M bounds"
            for tool in tools:
                if tool == "relucert":
                    row[tool] = run_relucert(net_path, data_path, i, a.time_limit, extra)
                elif not math.isfinite(R):
                    row[tool] = {"status": "skipped"}
                elif tool == "gurobi":
                    row[tool] = solve_gurobi(w, b, v, x, y, R * (1 + 1e-9), a.time_limit)
                elif tool == "scip":
                    row[tool] = solve_scip(w, b, v, x, y, R * (1 + 1e-9), a.time_limit)
            print(json.dumps(row), flush=True)
            rows.append(row)
    print("\n| instance | sample | attack | " + " | ".join(tools) + " |")
    print("|---|---|---|" + "---|" * len(tools))
    for r in rows:
        cells = []
        for t in tools:
            o = r.get(t, {})
            if o.get("status") == "exact":
                cells.append(f"exact {o['upper']:.4f}, {o['seconds']:.2f} s")
            elif o.get("status") == "bracket":
                cells.append(f"[{o.get('lower', 0):.3f}, {o.get('upper', math.inf):.3f}] {o['seconds']:.0f} s")
            else:
                cells.append(o.get("status", "-"))
        print(f"| {r['instance']} | {r['sample']} | {r['attack']:.4f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
