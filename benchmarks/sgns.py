#!/usr/bin/env python
"""Skip-gram with negative sampling: training speed of dlbook (NumPy) against gensim's Word2Vec.

What is timed
    One epoch over the same words of the State of the Union corpus (chapter 10; whole sentences
    in a random order, ``--tokens`` tokens, the whole corpus by default; vocabulary of the whole
    corpus with min_count 5), with the same settings on both sides: dimension 100, window 5
    (dynamic, as word2vec), 5 negatives, ``sample=0`` (no subsampling, so both process exactly
    the same words), linear learning-rate decay from 0.025, float32, one thread (gensim
    ``workers=1``; NumPy's BLAS limited to one thread by threadpoolctl), one process.
    dlbook uses the chapter's settings: about 1024 (centre, context) pairs per update
    (``--batch``, whole centres) and 64 noise words shared by a batch (``--shared``, each
    weighted 5/64). Building gensim's vocabulary is not timed (``build_vocab`` before
    ``train``); dlbook's pair generation is inside its timing.

How to read the result
    words/s = corpus tokens processed per second; ``ratio dlbook/gensim`` above 1 means dlbook
    is faster. Turns alternate between the libraries, each turn with its own seed, so that a
    machine that gets busier slows both alike. Printed per turn and as median [min, max] over
    the turns: the ratio of wall-clock times and the ratio of CPU times (process CPU seconds,
    less sensitive to other programs on a loaded machine). The WordSim-353 Spearman correlation
    of every trained model is printed too: the speed must not cost quality (the chapter's goal:
    dlbook within 0.05 of gensim). Run as
    ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/sgns.py``.
"""
import argparse
import os
import statistics
import time
import zlib

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from dlbook.data import load_sotu, load_word_pairs
from dlbook.embeddings import SkipGram, Vocabulary, evaluate_similarity, tokenize_words, train_word2vec


def spread(xs, fmt="{:.2f}"):
    return f"{fmt.format(statistics.median(xs))} [{fmt.format(min(xs))}, {fmt.format(max(xs))}]"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokens", type=int, default=2_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=1024, help="pairs per dlbook update")
    ap.add_argument("--shared", type=int, default=64, help="noise words shared by a batch")
    args = ap.parse_args()

    import gensim
    from gensim.models import Word2Vec
    from gensim.models.word2vec_inner import FAST_VERSION

    sentences = [s for d in load_sotu() for s in tokenize_words(d["text"])]
    vocab = Vocabulary(sentences, min_count=5)
    encoded = vocab.encode(sentences)
    order = np.random.default_rng(0).permutation(len(encoded))
    train, n = [], 0
    for i in order:
        train.append(encoded[i])
        n += len(encoded[i])
        if n >= args.tokens:
            break
    words = [[vocab.words[i] for i in s] for s in train]
    ws353 = load_word_pairs("wordsim353")
    print(f"gensim {gensim.__version__} (FAST_VERSION {FAST_VERSION}), numpy {np.__version__}; "
          f"{len(train)} sentences, {n} tokens, |V| = {len(vocab)}")

    wall, cpu, rho = {"dlbook": [], "gensim": []}, {"dlbook": [], "gensim": []}, {"dlbook": [], "gensim": []}
    with threadpool_limits(1):
        blas = "; ".join(f"{i['internal_api']} {i['version']} ({i['architecture']}, "
                         f"{i['num_threads']} thread) in {os.path.basename(i['filepath'])}"
                         for i in threadpool_info())
        print(f"BLAS/kernels (threadpoolctl): {blas}")
        for rep in range(args.repeats):
            m = SkipGram(len(vocab), 100, output="negative", rng=rep, dtype=np.float32)
            t0, c0 = time.perf_counter(), time.process_time()
            train_word2vec(m, train, vocab.counts, epochs=1, window=5, negative=5, lr=0.025,
                           batch_size=args.batch, shared_negatives=args.shared, sample=0, rng=rep)
            wall["dlbook"].append(time.perf_counter() - t0)
            cpu["dlbook"].append(time.process_time() - c0)
            rho["dlbook"].append(evaluate_similarity(m.vectors, vocab, ws353)["spearman"])
            g = Word2Vec(vector_size=100, window=5, negative=5, sg=1, min_count=1, sample=0,
                         workers=1, seed=rep, alpha=0.025,
                         hashfxn=lambda s: zlib.crc32(s.encode()))
            g.build_vocab(words)
            t0, c0 = time.perf_counter(), time.process_time()
            g.train(words, total_examples=len(words), epochs=1)
            wall["gensim"].append(time.perf_counter() - t0)
            cpu["gensim"].append(time.process_time() - c0)
            E = np.array([g.wv[w] if w in g.wv else np.zeros(100, np.float32) for w in vocab.words])
            rho["gensim"].append(evaluate_similarity(E, vocab, ws353)["spearman"])
            print(f"turn {rep + 1}: dlbook {wall['dlbook'][-1]:.1f} s ({cpu['dlbook'][-1]:.1f} s CPU, "
                  f"ρ {rho['dlbook'][-1]:.3f}), gensim {wall['gensim'][-1]:.1f} s "
                  f"({cpu['gensim'][-1]:.1f} s CPU, ρ {rho['gensim'][-1]:.3f}); "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)
    r_wall = [g / d for g, d in zip(wall["gensim"], wall["dlbook"])]
    r_cpu = [g / d for g, d in zip(cpu["gensim"], cpu["dlbook"])]
    for lib in ("dlbook", "gensim"):
        print(f"{lib}: {spread([n / t for t in wall[lib]], '{:,.0f}')} words/s wall, "
              f"{spread([n / t for t in cpu[lib]], '{:,.0f}')} words/s CPU; "
              f"WordSim-353 Spearman {spread(rho[lib], '{:.3f}')}")
    gaps = [g - d for g, d in zip(rho["gensim"], rho["dlbook"])]
    print(f"WordSim-353 gap gensim − dlbook: mean {statistics.mean(gaps):+.3f} "
          f"(per turn {', '.join(f'{x:+.3f}' for x in gaps)})")
    print(f"ratio dlbook/gensim (speed, median [min, max] over {args.repeats} turns): "
          f"wall {spread(r_wall)}, CPU {spread(r_cpu)}")
    print(f"BLAS/kernels (threadpoolctl): {blas}")


if __name__ == "__main__":
    main()
