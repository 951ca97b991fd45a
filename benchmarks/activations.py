#!/usr/bin/env python
"""Forward + backward of chapter 7-8 element-wise layers: dlbook (NumPy) against PyTorch (CPU).

What is timed
    For each layer (ReLU, LeakyReLU, ELU, GELU exact and tanh, SiLU, Softplus, Dropout(0.5) in
    training mode) one forward and one backward pass on a (256, 1024) batch, float32, with one
    thread on both sides (threadpoolctl for NumPy, ``torch.set_num_threads`` for PyTorch). The
    outputs and input gradients are checked to agree (for Dropout, the formula with each side's
    own mask).

How it is timed
    Turns of ``--block`` passes alternate between the two libraries, and the median over
    ``--repeats`` turns is reported, so that a machine that gets busier slows both alike.

How to read the result
    ``ratio`` is the dlbook time over the PyTorch time (below 1: dlbook is faster). These layers
    are memory-bound: NumPy makes a temporary array per operation, PyTorch fuses each layer into
    one or two kernels, so ratios of 2-6 are expected.

    python benchmarks/activations.py [--repeats 9] [--block 20]
"""
import argparse
import os
import statistics
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from dlbook.nn import ELU, GELU, Dropout, LeakyReLU, ReLU, SiLU, Softplus

LAYERS = [
    ("ReLU", ReLU, torch.nn.ReLU),
    ("LeakyReLU", LeakyReLU, torch.nn.LeakyReLU),
    ("ELU", ELU, torch.nn.ELU),
    ("GELU", GELU, torch.nn.GELU),
    ("GELU tanh", lambda: GELU("tanh"), lambda: torch.nn.GELU(approximate="tanh")),
    ("SiLU", SiLU, torch.nn.SiLU),
    ("Softplus", Softplus, torch.nn.Softplus),
    ("Dropout(0.5)", lambda: Dropout(0.5, rng=0), lambda: torch.nn.Dropout(0.5)),
]


def time_turns(step, repeats, block):
    times = []
    for _ in range(repeats):
        step()                                       # untimed: warm caches after the other side
        start = time.perf_counter()
        for _ in range(block):
            step()
        times.append((time.perf_counter() - start) / block)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--block", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(1)
    threadpool_limits(1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 1024)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    xt, gt = torch.from_numpy(x.copy()).requires_grad_(True), torch.from_numpy(g.copy())
    print(f"torch {torch.__version__}, numpy {np.__version__}, 1 thread each, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'layer':<14} {'dlbook µs':>10} {'torch µs':>10} {'ratio':>7}")
    for name, ours_cls, theirs_cls in LAYERS:
        ours, theirs = ours_cls(), theirs_cls()

        def ours_step():
            ours(x)
            return ours.backward(g)

        def theirs_step():
            xt.grad = None
            theirs(xt).backward(gt)
            return xt.grad

        xt.grad = None
        y, yt = ours(x), theirs(xt)
        d = ours.backward(g)
        yt.backward(gt)
        if name.startswith("Dropout"):
            for out, grad in ((y, d), (yt.detach().numpy(), xt.grad.numpy())):
                keep = out != 0
                assert np.allclose(out[keep], 2 * x[keep], rtol=1e-6)
                assert np.allclose(grad, np.where(keep, 2 * g, 0), rtol=1e-6)
        else:
            assert np.allclose(y, yt.detach().numpy(), rtol=1e-4, atol=1e-5), name
            assert np.allclose(d, xt.grad.numpy(), rtol=1e-4, atol=1e-5), name
        t_ours = t_theirs = 0.0
        for _ in range(2):                           # alternate the libraries
            t_ours = time_turns(ours_step, args.repeats, args.block)
            t_theirs = time_turns(theirs_step, args.repeats, args.block)
        print(f"{name:<14} {1e6 * t_ours:>10.0f} {1e6 * t_theirs:>10.0f} {t_ours / t_theirs:>7.2f}")


if __name__ == "__main__":
    main()
