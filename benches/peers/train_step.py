"""PyTorch peer of benches/train_step.rs: one full-batch SGD step of
nn.Sequential(Linear(d, k), ReLU(), Linear(k, 1, bias=False)) with the exponential loss
summed over samples (the paper's setting), torch.set_num_threads(2).

Run: python3 benches/peers/train_step.py (creates benches/peers/.venv-torch on first
run and installs torch and numpy from PyPI).
Prints median milliseconds per step for f64 and f32 at (m, d, k) = (1000, 1000, 1000)
and (100, 100, 1000), and the 1000^3 matmul time (the machine's product peak).
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_venv import reexec_in_venv  # noqa: E402

reexec_in_venv(__file__, ".venv-torch", ["torch", "numpy"])
import torch  # noqa: E402

torch.set_num_threads(2)


def time_it(fn, reps, warmup=3):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def step_time(m, d, k, dtype, reps):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(m, d, generator=g, dtype=dtype)
    x = x / x.norm(dim=1, keepdim=True) * d**0.5
    y = torch.where(torch.rand(m, generator=g) < 0.5, -1.0, 1.0).to(dtype)
    model = torch.nn.Sequential(
        torch.nn.Linear(d, k), torch.nn.ReLU(), torch.nn.Linear(k, 1, bias=False)
    ).to(dtype)
    opt = torch.optim.SGD(model.parameters(), lr=1e-5)

    def step():
        opt.zero_grad(set_to_none=False)
        out = model(x).squeeze(1)
        loss = torch.exp(-y * out).sum()
        loss.backward()
        opt.step()
        return loss.item()

    return time_it(step, reps)


def matmul_time(n, dtype):
    a = torch.rand(n, n, dtype=dtype)
    b = torch.rand(n, n, dtype=dtype)
    c = torch.empty(n, n, dtype=dtype)
    return time_it(lambda: torch.matmul(a, b, out=c), 20)


def main():
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    for dtype, name in [(torch.float64, "f64"), (torch.float32, "f32")]:
        t = matmul_time(1000, dtype)
        print(f"matmul_1000 {name}: {t * 1e3:.2f} ms ({2e9 / t / 1e9:.1f} GFLOP/s)")
    for (m, d, k) in [(1000, 1000, 1000), (100, 100, 1000)]:
        for dtype, name in [(torch.float64, "f64"), (torch.float32, "f32")]:
            reps = 30 if m == 1000 else 300
            t = step_time(m, d, k, dtype, reps)
            print(f"train_step {name} m{m}_d{d}_k{k}: {t * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
