#!/usr/bin/env python
"""Forward + backpropagation through time of an LSTM: dlbook (NumPy) against torch.nn.LSTM (CPU).

What is timed
    One forward and one backward pass of a one-layer LSTM, T = 50 steps, batch 64, input 128,
    hidden 256, float32 (``--dtype float64`` too), with a gradient of ones on the output
    sequence. Both libraries get the same weights (dlbook's ``state_dict`` loaded into PyTorch),
    the same input and the same number of threads (NumPy's BLAS through threadpoolctl, PyTorch
    through ``torch.set_num_threads``). The input gradient is computed by both (the input requires
    grad in PyTorch), and the results are checked to agree before timing.

How it is timed
    Turns of ``--block`` passes alternate between the libraries (a machine that gets busier slows
    both alike), each turn after ``--pause`` seconds of rest and one untimed pass; the medians over
    ``--repeats`` turns are reported, with their ratio (below 1: dlbook faster). The issue's target
    is a ratio of at most 1.2. The load average is printed: on a busy machine, re-run.

    python benchmarks/rnn_lstm.py [--repeats 7] [--block 3] [--threads N] [--dtype float32]
"""
import argparse
import os
import statistics
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from dlbook.rnn import LSTM

T, N, I, H = 50, 64, 128, 256


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--block", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
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
        times = {"dlbook": [], "torch": []}
        for _ in range(args.repeats):
            for name, fn in (("dlbook", step_ours), ("torch", step_torch)):
                time.sleep(args.pause)
                fn()
                t = time.perf_counter()
                for _ in range(args.block):
                    fn()
                times[name].append((time.perf_counter() - t) / args.block)
        gemm_np, gemm_torch = gemm_floor(ours, x, args)
    a, b = statistics.median(times["dlbook"]), statistics.median(times["torch"])
    print(f"LSTM T={T} N={N} input={I} hidden={H} {dtype.name}, {args.threads} thread(s), "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"dlbook {a * 1e3:.1f} ms   torch {b * 1e3:.1f} ms   ratio dlbook/torch {a / b:.2f}")
    print(f"GEMMs only: NumPy {gemm_np * 1e3:.1f} ms, torch {gemm_torch * 1e3:.1f} ms; "
          f"NumPy GEMMs / torch pass {gemm_np / b:.2f} (a floor for the ratio)")


def gemm_floor(model, x, args):
    """Time just the matrix products of one forward + backward pass: the input projection, T
    recurrent products forward and T backward, and the three gradient products at the end."""
    W_ih, W_hh = model.weight_ih_l0.data, model.weight_hh_l0.data
    h = np.ones((N, H), x.dtype)
    d = np.ones((T, N, 4 * H), x.dtype)
    X2, D2 = x.reshape(-1, I), d.reshape(-1, 4 * H)
    Hs = np.ones((T * N, H), x.dtype)
    tW_ih, tW_hh, th, tX2, tD2, tHs = (torch.from_numpy(a) for a in (W_ih, W_hh, h, X2, D2, Hs))

    def numpy_gemms():
        X2 @ W_ih.T
        for t in range(T):
            h @ W_hh.T
            d[t] @ W_hh
        D2.T @ X2
        D2.T @ Hs
        D2 @ W_ih

    def torch_gemms():
        tX2 @ tW_ih.T
        for t in range(T):
            th @ tW_hh.T
            tD2[t * N:(t + 1) * N] @ tW_hh
        tD2.T @ tX2
        tD2.T @ tHs
        tD2 @ tW_ih

    out = []
    for fn in (numpy_gemms, torch_gemms):
        fn()
        ts = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
        out.append(statistics.median(ts))
    return out


if __name__ == "__main__":
    main()
