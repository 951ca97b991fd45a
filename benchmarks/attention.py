#!/usr/bin/env python
"""Multi-head self-attention, forward + backward: dlbook (NumPy) against torch.nn.MultiheadAttention.

What is timed
    One forward and one backward pass of ``MultiheadAttention(256, 8)`` on a batch of 32 sequences
    of length 64 (batch first), float32, self-attention (query = key = value), no mask and no
    dropout. Both modules hold the same weights (loaded from PyTorch's ``state_dict``) and get the
    same input and output gradient; the outputs and input gradients are checked to agree before
    timing. Both libraries use the same number of threads: NumPy's BLAS through threadpoolctl,
    dlbook's ``parallel_for`` (the heads of the batch) through ``dlbook.nn.set_num_threads``,
    PyTorch through ``torch.set_num_threads``. PyTorch computes the gradient of the input (it
    requires grad) and of every parameter, as dlbook does.

How it is timed
    Turns of ``--block`` passes alternate between the libraries, with a short rest and an untimed
    pass before each turn (idle BLAS threads of the other library spin for a while); the median
    over ``--repeats`` turns is reported, and the ratio dlbook/torch of the medians (below 1:
    dlbook faster). The load average is printed: on a busy machine, re-run or raise --repeats.

    python benchmarks/attention.py [--repeats 11] [--block 5] [--threads N] [--causal]
"""
import argparse
import os
import statistics
import time

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from dlbook.nn import set_num_threads
from dlbook.transformer import MultiheadAttention, causal_mask

N, L, E, H = 32, 64, 256, 8


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--block", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--pause", type=float, default=0.2)
    ap.add_argument("--causal", action="store_true", help="add a causal attention mask")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    set_num_threads(args.threads)
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(E, H, batch_first=True)
    ours = MultiheadAttention(E, H, batch_first=True, dtype=np.float32)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, L, E)).astype(np.float32)
    g = rng.standard_normal((N, L, E)).astype(np.float32)
    mask = causal_mask(L, np.float32) if args.causal else None
    tx, tg = torch.tensor(x, requires_grad=True), torch.tensor(g)
    tmask = None if mask is None else torch.tensor(mask)

    def step_ours():
        out, _ = ours(x, x, x, attn_mask=mask, need_weights=False)
        return out, sum(ours.backward(g))

    def step_theirs():
        tx.grad = None
        theirs.zero_grad(set_to_none=True)
        out, _ = theirs(tx, tx, tx, attn_mask=tmask, need_weights=False)
        out.backward(tg)
        return out

    with threadpool_limits(args.threads):
        out, gx = step_ours()
        tout = step_theirs()
        assert np.allclose(out, tout.detach().numpy(), atol=1e-4), "outputs differ"
        assert np.allclose(gx, tx.grad.numpy(), atol=1e-3), "input gradients differ"
        times = {"dlbook": [], "torch": []}
        for _ in range(args.repeats):
            for name, step in (("dlbook", step_ours), ("torch", step_theirs)):
                time.sleep(args.pause)
                step()
                t0 = time.perf_counter()
                for _ in range(args.block):
                    step()
                times[name].append((time.perf_counter() - t0) / args.block)
        blas = [f"{p['internal_api']} {p.get('version')} ({p.get('architecture')}, "
                f"{p['num_threads']} threads)" for p in threadpool_info() if p["user_api"] == "blas"]
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"MultiheadAttention({E}, {H}) forward+backward, batch {N}, length {L}, float32, "
          f"{args.threads} thread(s){', causal mask' if args.causal else ''}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"  NumPy BLAS: {'; '.join(blas)}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print(f"  dlbook {1e3 * med['dlbook']:.1f} ms   torch {1e3 * med['torch']:.1f} ms   "
          f"ratio dlbook/torch {med['dlbook'] / med['torch']:.2f}")
    turns = sorted(a / b for a, b in zip(times["dlbook"], times["torch"]))
    print(f"  ratio of the {len(turns)} turns: min {turns[0]:.2f}, median "
          f"{statistics.median(turns):.2f}, max {turns[-1]:.2f}")


if __name__ == "__main__":
    main()
