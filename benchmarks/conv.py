#!/usr/bin/env python
"""Forward + backward of dlbook's Conv2d and MaxPool2d against PyTorch (CPU), in one process.

What is timed (chapter 9, issue: performance of the convolution)
    conv 1→32   Conv2d(1, 32, 3, padding=1) on a batch of 64 images 28×28: forward, then
                backward for the weight and bias gradients only (a first layer: its input is
                data, so neither library computes ∂L/∂x — dlbook's ``input_grad=False``, an
                input tensor without ``requires_grad`` in PyTorch).
    conv 32→64  Conv2d(32, 64, 3, padding=1) on 64 × 32 × 14 × 14: forward and full backward
                (weights, bias and input gradients).
    max pool    MaxPool2d(2) on 64 × 32 × 28 × 28: forward and backward.
    All in float32, same weights, inputs and output gradients in both libraries; the results
    are checked equal (to float32 rounding) before timing.

How it is timed
    As benchmarks/mlp_step.py: the same number of threads for NumPy's BLAS (threadpoolctl),
    dlbook's own threads (``dlbook.nn.set_num_threads``: the layers run chunks of the batch in
    parallel, the BLAS on one thread per chunk meanwhile) and PyTorch (``torch.set_num_threads``);
    turns of ``--block`` steps alternate between the
    libraries, each after a ``--pause`` and one untimed step (idle OpenBLAS/OpenMP threads spin
    for a while and would slow the other library's turn); the median over ``--repeats`` turns
    is reported, with the load average (re-run on a busy machine). Every line names the BLAS
    library NumPy uses and the kernel it picked (threadpoolctl), as ``openblas 0.3.x SkylakeX``:
    the im2col products run there, and a different kernel gives different numbers.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/conv.py \
        [--repeats 11] [--block 5] [--threads N] [--pause 0.2]

``ratio`` is dlbook time / PyTorch time: below 1, dlbook is faster. Targets of the issue:
≤ 1.0 for the 1-channel convolution and for pooling, ≤ 2.0 for 32→64. With more than one thread,
the 32→64 case is also timed the other way to use them, as a check of chapter 9's choice: dlbook
on one thread of its own while the BLAS splits each image's product (``(BLAS splitting
instead)``).
"""
import argparse
import os
import statistics
import time

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from dlbook.cnn import Conv2d, MaxPool2d
from dlbook.nn import get_num_threads, set_num_threads


def cases(seed=0):
    rng = np.random.default_rng(seed)
    f32 = np.float32
    out = []
    for name, cin, cout, size, input_grad in (("conv 1→32 28×28", 1, 32, 28, False),
                                              ("conv 32→64 14×14", 32, 64, 14, True)):
        ours = Conv2d(cin, cout, 3, padding=1, rng=rng, dtype=f32)
        theirs = torch.nn.Conv2d(cin, cout, 3, padding=1)
        with torch.no_grad():
            theirs.weight.copy_(torch.from_numpy(ours.weight.data))
            theirs.bias.copy_(torch.from_numpy(ours.bias.data))
        x = rng.standard_normal((64, cin, size, size)).astype(f32)
        g = rng.standard_normal((64, cout, size, size)).astype(f32)
        out.append((name, ours, theirs, x, g, input_grad))
    x = rng.standard_normal((64, 32, 28, 28)).astype(f32)
    g = rng.standard_normal((64, 32, 14, 14)).astype(f32)
    out.append(("max pool 2×2 64×32×28×28", MaxPool2d(2), torch.nn.MaxPool2d(2), x, g, True))
    return out


def dlbook_step(ours, x, g, input_grad):
    if hasattr(ours, "weight"):
        ours.weight.grad[...] = 0
        ours.bias.grad[...] = 0
        y = ours(x)
        return y, ours.backward(g, input_grad=input_grad)
    y = ours(x)
    return y, ours.backward(g)


def torch_step(theirs, xt, gt):
    theirs.zero_grad(set_to_none=False)
    if xt.grad is not None:
        xt.grad.zero_()
    y = theirs(xt)
    y.backward(gt)
    return y, xt.grad


def check(case):
    name, ours, theirs, x, g, input_grad = case
    xt = torch.tensor(x, requires_grad=input_grad)
    y, dx = dlbook_step(ours, x, g, input_grad)
    yt, dxt = torch_step(theirs, xt, torch.from_numpy(g))
    scale = float(np.abs(yt.detach().numpy()).max())
    assert np.abs(y - yt.detach().numpy()).max() <= 1e-4 * scale, name
    if input_grad:
        assert np.abs(dx - dxt.numpy()).max() <= 1e-4 * float(np.abs(dxt.numpy()).max()), name
    if hasattr(ours, "weight"):
        w, wt = ours.weight.grad, theirs.weight.grad.numpy()
        assert np.abs(w - wt).max() <= 1e-3 * float(np.abs(wt).max()), name
    return xt


def time_turns(fn, repeats, block, pause):
    times = []
    for _ in range(repeats):
        time.sleep(pause)
        fn()
        start = time.perf_counter()
        for _ in range(block):
            fn()
        times.append((time.perf_counter() - start) / block)
    return times


def blas_line():
    """NumPy's BLAS as threadpoolctl reports it: library, version, kernel, threads (other BLAS
    libraries loaded in the process, e.g. SciPy's own OpenBLAS, are not used by NumPy)."""
    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    ours = [i for i in blas if "numpy" in i["filepath"]] or blas
    return ", ".join(dict.fromkeys(f"{i['internal_api']} {i.get('version')} {i.get('architecture')} "
                                   f"×{i['num_threads']}" for i in ours)) or "no BLAS found"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--block", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--pause", type=float, default=0.2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        blas = blas_line()
        print(f"threads: torch {torch.get_num_threads()}; dlbook {get_num_threads()} "
              f"(dlbook.nn.parallel_for: chunks of the batch, one BLAS thread each); NumPy BLAS {blas}; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"{'case':28s} {'dlbook ms':>10s} {'torch ms':>10s} {'ratio':>7s} {'target':>7s}"
              "  BLAS (kernel)")
        for case in cases():
            name, ours, theirs, x, g, input_grad = case
            xt = check(case)
            gt = torch.from_numpy(g)
            split = args.threads > 1 and "32→64" in name      # also: the BLAS splits each product
            ours_t, split_t, theirs_t = [], [], []
            for _ in range(args.repeats):          # alternate turns
                ours_t += time_turns(lambda: dlbook_step(ours, x, g, input_grad), 1, args.block, args.pause)
                if split:
                    set_num_threads(1)
                    split_t += time_turns(lambda: dlbook_step(ours, x, g, input_grad), 1, args.block,
                                          args.pause)
                    set_num_threads(args.threads)
                theirs_t += time_turns(lambda: torch_step(theirs, xt, gt), 1, args.block, args.pause)
            a, b = statistics.median(ours_t), statistics.median(theirs_t)
            target = 2.0 if "32→64" in name else 1.0
            bound = "≤" + format(target, ".1f")
            print(f"{name:28s} {a * 1e3:10.2f} {b * 1e3:10.2f} {a / b:7.2f} {bound:>7s}  {blas}")
            if split:
                c = statistics.median(split_t)
                print(f"{'  (BLAS splitting instead)':28s} {c * 1e3:10.2f} {b * 1e3:10.2f} {c / b:7.2f} "
                      f"{'':>7s}  dlbook threads 1, the BLAS {args.threads} per product")

if __name__ == "__main__":
    main()
