#!/usr/bin/env python
"""One training step of a 784-512-512-10 MLP: dlbook (NumPy) against PyTorch (CPU), same process.

What is timed
    A step is ``zero_grad``, forward, cross-entropy loss, backward and a plain SGD update, on a
    batch of 256, in float32 and in float64. Both libraries get the same weights, data and dtype,
    and the same number of threads: NumPy's BLAS (OpenBLAS) through threadpoolctl, PyTorch (MKL
    for the matrix products, OpenMP for the rest) through ``torch.set_num_threads``. The script
    prints the libraries and thread counts it found, so this can be checked. Neither side skips
    work the other does: dlbook skips the gradient of the input data, as PyTorch does for an input
    that does not require grad, and the two models are checked to have taken identical steps.

How it is timed
    Turns of ``--block`` steps alternate between the libraries, so that a machine that gets busier
    or slower slows both alike. Before each turn the script rests ``--pause`` seconds and runs one
    untimed step: idle worker threads of the other library's pool spin for up to ~0.1 s before they
    sleep (with ``--pause 0`` OpenBLAS's spinning threads made PyTorch's turns twice as slow on a
    2-core machine; 0.2 s and 0.5 s give the same result). After 3 warm-up steps each, the median
    over ``--repeats`` turns of ``--block`` steps is reported.

How to read the result
    ``ratio dlbook/torch`` is the median dlbook step time over the median PyTorch step time:
    below 1, dlbook is faster. The line ``GEMMs only`` times just the eight matrix products of a
    step (three forward, three weight gradients, two input gradients), once with NumPy and once
    with PyTorch. Their ratio is the speed of OpenBLAS against MKL on these shapes, and
    ``NumPy GEMMs / torch step`` is a floor: no NumPy implementation of the step, however well
    written, can have a ratio below it. The rest of the step (bias, activation and its derivative,
    loss, zeroing and accumulating gradients, the update) is memory-bound element-wise work,
    single-threaded in NumPy and spread over the threads in PyTorch. The load average is printed:
    on a busy machine re-run, or raise ``--repeats``.

    python benchmarks/mlp_step.py [--repeats 15] [--block 5] [--threads N] [--activation tanh|sigmoid]
"""
import argparse
import os
import statistics
import time

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from dlbook.nn import CrossEntropyLoss, Linear, Sequential, Sigmoid, Tanh
from dlbook.optimizers import SGD

SIZES = (784, 512, 512, 10)
BATCH = 256
LR = 0.01


def build(dtype, activation, seed=0):
    """The dlbook model and a PyTorch copy with the same weights."""
    rng = np.random.default_rng(seed)
    g, tg = {"tanh": (Tanh, torch.nn.Tanh), "sigmoid": (Sigmoid, torch.nn.Sigmoid)}[activation]
    layers, tlayers = [], []
    for i in range(1, len(SIZES)):
        lin = Linear(SIZES[i - 1], SIZES[i], rng=rng, dtype=dtype)
        tlin = torch.nn.Linear(SIZES[i - 1], SIZES[i], dtype=getattr(torch, np.dtype(dtype).name))
        with torch.no_grad():
            tlin.weight.copy_(torch.from_numpy(lin.weight.data))
            tlin.bias.copy_(torch.from_numpy(lin.bias.data))
        layers.append(lin)
        tlayers.append(tlin)
        if i < len(SIZES) - 1:
            layers.append(g())
            tlayers.append(tg())
    return Sequential(*layers), torch.nn.Sequential(*tlayers)


def gemms(model, X, lib):
    """The step's eight matrix products, with operands of the same shapes and layouts as in the step."""
    Ws = [m.weight.data for m in model if isinstance(m, Linear)]
    rng = np.random.default_rng(2)
    H = [X] + [np.tanh(rng.standard_normal((BATCH, n))).astype(X.dtype) for n in SIZES[1:-1]]
    G = [rng.standard_normal((BATCH, n)).astype(X.dtype) for n in SIZES[1:]]
    if lib == "torch":
        Ws, H, G = ([torch.from_numpy(a) for a in arrays] for arrays in (Ws, H, G))

    def run():
        for h, W in zip(H, Ws):                 # forward: A = H W^T
            h @ W.T
        for i in reversed(range(len(Ws))):      # backward: dW = G^T H, dH = G W (not for the input)
            G[i].T @ H[i]
            if i:
                G[i] @ Ws[i]
    return run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=15, help="turns per library")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--activation", choices=["tanh", "sigmoid"], default="tanh")
    ap.add_argument("--block", type=int, default=5, help="timed steps per turn")
    ap.add_argument("--pause", type=float, default=0.2, help="seconds of rest before each turn")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, {args.activation}, median of "
          f"{args.repeats} alternating turns of {args.block} steps; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with threadpool_limits(limits=args.threads, user_api="blas"):
        blas = [f"{i['internal_api']} {i['version']} ({i.get('architecture', '?')}) "
                f"{i['num_threads']} threads" for i in threadpool_info() if i["user_api"] == "blas"]
        print(f"NumPy {np.__version__}: {'; '.join(blas)}.  torch {torch.__version__}: "
              f"{torch.get_num_threads()} threads, MKL {torch.backends.mkl.is_available()}")
        assert torch.get_num_threads() == args.threads
        for dtype in (np.float32, np.float64):
            model, tmodel = build(dtype, args.activation)
            rng = np.random.default_rng(1)
            X = rng.standard_normal((BATCH, SIZES[0])).astype(dtype)
            y = rng.integers(0, SIZES[-1], size=BATCH)
            tX, ty = torch.from_numpy(X), torch.from_numpy(y)
            opt, topt = SGD(model.parameters(), lr=LR), torch.optim.SGD(tmodel.parameters(), lr=LR)
            loss_fn, tloss_fn = CrossEntropyLoss(), torch.nn.CrossEntropyLoss()

            def step_dlbook():
                opt.zero_grad()
                loss_fn(model(X), y)
                model.backward(loss_fn.backward(), input_grad=False)   # as torch: X needs no grad
                opt.step()

            def step_torch():
                topt.zero_grad()
                tloss_fn(tmodel(tX), ty).backward()
                topt.step()

            runs = {"dlbook": step_dlbook, "torch": step_torch,
                    "numpy GEMMs": gemms(model, X, "numpy"), "torch GEMMs": gemms(model, X, "torch")}
            for _ in range(3):                                  # warm up all
                for run in runs.values():
                    run()
            times = {name: [] for name in runs}
            for _ in range(args.repeats):
                for name, run in runs.items():
                    # Idle BLAS/OpenMP worker threads of the other library spin for a while before
                    # they sleep and would steal the cores: let them settle, warm up untimed.
                    time.sleep(args.pause)
                    run()
                    for _ in range(args.block):
                        t0 = time.perf_counter()
                        run()
                        times[name].append(time.perf_counter() - t0)
            # Same number of steps from the same start: the two models must still agree.
            assert all(p.data.dtype == dtype for p in model.parameters())
            tol = 1e-4 if dtype == np.float32 else 1e-10
            for p, tp in zip(model.parameters(), tmodel.parameters()):
                np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=tol, atol=tol)
            md, mt, gn, gt = (statistics.median(times[k]) for k in runs)
            print(f"{np.dtype(dtype).name:8s} dlbook {1e3 * md:7.2f} ms   torch {1e3 * mt:7.2f} ms   "
                  f"ratio dlbook/torch {md / mt:.2f}x")
            print(f"{'':8s} GEMMs only: NumPy {1e3 * gn:6.2f} ms, torch {1e3 * gt:6.2f} ms "
                  f"(OpenBLAS/MKL {gn / gt:.2f}x); NumPy GEMMs / torch step {gn / mt:.2f}x (floor)")
    print(f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
