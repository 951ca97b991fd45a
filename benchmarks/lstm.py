#!/usr/bin/env python
"""Forward + backpropagation through time of an LSTM: dlbook (NumPy) against torch.nn.LSTM (CPU).

What is timed
    One forward and one backward pass of a one-layer LSTM, T = 50 steps, batch 64, input 128,
    hidden 256, float32 (``--dtype float64`` too), with a gradient of ones on the output
    sequence. Both libraries get the same weights (dlbook's ``state_dict`` loaded into PyTorch),
    the same input and the same number of threads (NumPy's BLAS through threadpoolctl, PyTorch
    through ``torch.set_num_threads``); the BLAS libraries and kernels found are printed. The input
    gradient is computed by both (the input requires grad in PyTorch), and the results are checked
    to agree before timing.

How it is timed
    Turns of ``--block`` passes alternate between the libraries (a machine that gets busier slows
    both alike), each turn after ``--pause`` seconds of rest and one untimed pass; the medians over
    ``--repeats`` turns are reported with their ratio (below 1: dlbook faster), and the spread of
    the per-turn ratios. The issue's target is a ratio of at most 1.2. The CPU time of the process
    (``time.process_time``) is reported too: on a machine shared with other jobs, wall time also
    measures the waits for a core, CPU time mostly the work done.

The GEMM-only floor
    dlbook's pass is made of matrix products done by NumPy's BLAS (OpenBLAS) and element-wise
    NumPy ufuncs. The products alone — the input projection of all steps, T recurrent products
    forward and T backward, and the three gradient products after the loop, with the shapes and
    layouts dlbook uses — are timed for NumPy and for PyTorch (MKL): "NumPy GEMMs / torch pass"
    is a floor for the ratio that no rewriting of the element-wise code can go below.

    python benchmarks/lstm.py [--repeats 7] [--block 3] [--threads 1] [--dtype float32]

Run it with ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`` on a machine that sets those (they
slow the current NumPy's OpenBLAS). One thread by default: on a machine shared with other jobs,
multi-threaded BLAS/OpenMP teams spin and measure the scheduler, not the code.
"""
import argparse
import os
import statistics
import time

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from dlbook.rnn import LSTM

T, N, I, H = 50, 64, 128, 256


def blas_line():
    """The BLAS / OpenMP libraries loaded in this process, as threadpoolctl sees them."""
    parts = []
    for lib in threadpool_info():
        name = lib.get("internal_api", "?")
        extra = " ".join(str(lib[k]) for k in ("version", "architecture") if lib.get(k))
        where = os.path.basename(lib.get("filepath", ""))
        parts.append(f"{name} {extra} ({where}, {lib.get('num_threads')} threads)")
    caps = torch.backends.cpu.get_cpu_capability()
    return "; ".join(parts) + f"; torch BLAS: {'MKL' if torch.backends.mkl.is_available() else '?'}" \
        f" (CPU capability {caps})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--block", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--pause", type=float, default=0.2)
    ap.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    args = ap.parse_args()
    dtype = np.dtype(args.dtype)
    torch.set_num_threads(args.threads)
    ours = LSTM(I, H, rng=0, dtype=dtype)
    ref = torch.nn.LSTM(I, H, dtype=getattr(torch, dtype.name))
    ref.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((T, N, I)).astype(dtype)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)

    def step_ours():
        ours.zero_grad()
        out, _ = ours(x)
        return ours.backward(np.ones_like(out))

    def step_torch():
        ref.zero_grad()
        xt.grad = None
        out, _ = ref(xt)
        out.backward(torch.ones_like(out))
        return xt.grad

    with threadpool_limits(args.threads):
        dx, dxt = step_ours(), step_torch()
        tol = 1e-3 if dtype == np.float32 else 1e-9
        assert np.allclose(dx, dxt.numpy(), rtol=tol, atol=tol), "dlbook and PyTorch disagree"
        for p, q in zip(ours.parameters(), ref.parameters()):
            assert np.allclose(p.grad, q.grad.numpy(), rtol=tol, atol=tol * 10), "gradients disagree"
        times = {"dlbook": [], "torch": []}
        cpu = {"dlbook": [], "torch": []}
        for _ in range(args.repeats):
            for name, fn in (("dlbook", step_ours), ("torch", step_torch)):
                time.sleep(args.pause)
                fn()
                t, c = time.perf_counter(), time.process_time()
                for _ in range(args.block):
                    fn()
                times[name].append((time.perf_counter() - t) / args.block)
                cpu[name].append((time.process_time() - c) / args.block)
        gemm_np, gemm_torch, cgemm_np, cgemm_torch = gemm_floor(ours, x, args)
        blas = blas_line()
    a, b = statistics.median(times["dlbook"]), statistics.median(times["torch"])
    turns = [p / q for p, q in zip(times["dlbook"], times["torch"])]
    ca, cb = statistics.median(cpu["dlbook"]), statistics.median(cpu["torch"])
    print(f"LSTM T={T} N={N} input={I} hidden={H} {dtype.name}, {args.threads} thread(s), "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"BLAS: {blas}")
    print(f"dlbook {a * 1e3:.1f} ms   torch {b * 1e3:.1f} ms   ratio dlbook/torch {a / b:.2f} "
          f"(per-turn ratios {min(turns):.2f}..{max(turns):.2f}, median {statistics.median(turns):.2f}; "
          f"target <= 1.2)")
    print(f"CPU time (all threads of the process): dlbook {ca * 1e3:.1f} ms   torch {cb * 1e3:.1f} ms   "
          f"ratio {ca / cb:.2f} (less sensitive to other jobs on the machine than wall time)")
    print(f"GEMMs only: NumPy {gemm_np * 1e3:.1f} ms, torch {gemm_torch * 1e3:.1f} ms "
          f"(NumPy/torch GEMMs {gemm_np / gemm_torch:.2f}); NumPy GEMMs / torch pass {gemm_np / b:.2f} "
          f"(a floor for the ratio); element-wise and the rest: dlbook {(a - gemm_np) * 1e3:.1f} ms, "
          f"torch {(b - gemm_torch) * 1e3:.1f} ms")
    print(f"GEMMs only, CPU time: NumPy {cgemm_np * 1e3:.1f} ms, torch {cgemm_torch * 1e3:.1f} ms "
          f"(NumPy/torch GEMMs {cgemm_np / cgemm_torch:.2f}); NumPy GEMMs / torch pass "
          f"{cgemm_np / cb:.2f}; element-wise and the rest: dlbook {(ca - cgemm_np) * 1e3:.1f} ms, "
          f"torch {(cb - cgemm_torch) * 1e3:.1f} ms")
    print("Where the time goes: the matrix products are on a par (OpenBLAS vs MKL); what remains is "
          "the element-wise work, which NumPy does one ufunc pass over memory per operation "
          "(about 11 per step forward and 16 backward) where PyTorch fuses each cell's element-wise "
          "work into one loop, plus the layout copies around the loops. dlbook keeps its large work "
          "arrays between passes (dlbook.nn.work_array), so it pays no page faults for fresh memory; "
          "PyTorch's CPU allocator does not keep them.")


def gemm_floor(model, x, args):
    """Time just the matrix products of one forward + backward pass, in dlbook's layout (states
    as columns): U x_t for all steps (one batched product), W s_{t-1} and W^T δ_t (T of each),
    and the three products after the loop, Δ X, Δ S and Δ^T U. (dlbook's input products carry
    the bias as one more column of U and of X: one column in 129, left out here.)"""
    W_ih, W_hh = model.weight_ih_l0.data, model.weight_hh_l0.data
    dt = x.dtype
    h = np.ones((H, N), dt)
    a = np.empty((4 * H, N), dt)
    dh = np.empty((H, N), dt)
    d = np.ones((T, 4 * H, N), dt)
    X2 = x.reshape(-1, I)
    D2 = np.ones((4 * H, T * N), dt)
    S = np.ones((T * N, H), dt)
    tW_ih, tW_hh, th, tX2, tD2, tS, td = (torch.from_numpy(v) for v in (W_ih, W_hh, h, X2, D2, S, d))

    def numpy_gemms():
        np.matmul(W_ih, x.transpose(0, 2, 1))
        for _ in range(T):
            np.matmul(W_hh, h, out=a)
        for t in range(T):
            np.matmul(W_hh.T, d[t], out=dh)
        D2 @ X2
        D2 @ S
        D2.T @ W_ih

    def torch_gemms():
        tW_ih @ tX2.T
        for _ in range(T):
            tW_hh @ th
        for t in range(T):
            tW_hh.T @ td[t]
        tD2 @ tX2
        tD2 @ tS
        tD2.T @ tW_ih

    ts = {numpy_gemms: [], torch_gemms: []}
    cs = {numpy_gemms: [], torch_gemms: []}
    for fn in ts:
        fn()
    for _ in range(args.repeats):
        for fn in ts:
            time.sleep(args.pause / 2)
            t, c = time.perf_counter(), time.process_time()
            fn()
            ts[fn].append(time.perf_counter() - t)
            cs[fn].append(time.process_time() - c)
    return [statistics.median(ts[fn]) for fn in ts] + [statistics.median(cs[fn]) for fn in cs]


if __name__ == "__main__":
    main()
