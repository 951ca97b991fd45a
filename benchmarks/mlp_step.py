#!/usr/bin/env python
"""One training step of a 784-512-512-10 MLP: dlbook (NumPy) against PyTorch (CPU), same process.

A step is forward, cross-entropy loss, backward and a plain SGD update, on a batch of 256, in
float32 and float64. Both libraries get the same weights, data, dtype and number of threads
(NumPy's BLAS via threadpoolctl, ``torch.set_num_threads``). Turns of a few steps alternate
between the two so that a busy machine slows both alike; the script prints the median step times
and their ratio dlbook / torch (below 1: dlbook is faster).

    python benchmarks/mlp_step.py [--repeats 10] [--block 5] [--threads N] [--activation tanh|sigmoid]
"""
import argparse
import os
import statistics
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=10, help="turns per library")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--activation", choices=["tanh", "sigmoid"], default="tanh")
    ap.add_argument("--block", type=int, default=5, help="timed steps per turn")
    ap.add_argument("--pause", type=float, default=0.2, help="seconds of rest before each turn")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, {args.activation}, "
          f"{args.threads} threads (NumPy BLAS and torch), median of {args.repeats} alternating turns "
          f"of {args.block} steps")
    with threadpool_limits(limits=args.threads, user_api="blas"):
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

            for _ in range(3):                                  # warm up both
                step_dlbook()
                step_torch()
            times = {"dlbook": [], "torch": []}
            for _ in range(args.repeats):
                for name, step in (("dlbook", step_dlbook), ("torch", step_torch)):
                    # Idle BLAS/OpenMP worker threads of the other library spin for a while before
                    # they sleep and would steal the 2 cores: let them settle, warm up untimed.
                    time.sleep(args.pause)
                    step()
                    for _ in range(args.block):
                        t0 = time.perf_counter()
                        step()
                        times[name].append(time.perf_counter() - t0)
            assert all(p.data.dtype == dtype for p in model.parameters())
            md, mt = statistics.median(times["dlbook"]), statistics.median(times["torch"])
            print(f"{np.dtype(dtype).name:8s} dlbook {1e3 * md:7.2f} ms   torch {1e3 * mt:7.2f} ms   "
                  f"ratio dlbook/torch {md / mt:.2f}x")


if __name__ == "__main__":
    main()
