#!/usr/bin/env python
"""Skip-gram with negative sampling: training speed of dlbook (NumPy) against gensim's Word2Vec.

What is timed
    One epoch over the same subset of the State of the Union corpus (chapter 10; whole sentences
    drawn at random, ``--tokens`` tokens, vocabulary of the whole corpus with min_count 5), with
    the same settings on both sides: dimension 100, window 5 (dynamic, as word2vec), 5 negatives,
    ``sample=0`` (no subsampling, so both process exactly the same words), linear learning-rate
    decay from 0.025, float32, one thread (gensim ``workers=1``; NumPy's BLAS limited to one
    thread by threadpoolctl). dlbook uses the chapter's settings: 1024 pairs per update (``--batch``) and 16
    noise words shared by a batch (weighted 5/16). Building gensim's vocabulary is not timed
    (``build_vocab`` before ``train``); dlbook's pair generation is inside its timing.

How to read the result
    words/s = corpus tokens processed per second; ``ratio dlbook/gensim`` above 1 means dlbook
    is faster. Turns alternate between the libraries and the median over ``--repeats`` turns is
    reported, so that a machine that gets busier slows both alike; the load average is printed.
    The WordSim-353 Spearman correlation of both models is printed as a sanity check (one epoch
    on a subset: low for both).
"""
import argparse
import os
import statistics
import time
import zlib

import numpy as np
from threadpoolctl import threadpool_limits

from dlbook.data import load_sotu, load_word_pairs
from dlbook.embeddings import SkipGram, Vocabulary, evaluate_similarity, tokenize_words, train_word2vec


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokens", type=int, default=300_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=1024, help="pairs per dlbook update")
    args = ap.parse_args()

    import gensim
    from gensim.models import Word2Vec

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
    print(f"gensim {gensim.__version__}, numpy {np.__version__}; {len(train)} sentences, {n} tokens, "
          f"|V| = {len(vocab)}")

    t_dl, t_gs = [], []
    with threadpool_limits(1):
        for rep in range(args.repeats):
            m = SkipGram(len(vocab), 100, output="negative", rng=rep, dtype=np.float32)
            t0 = time.perf_counter()
            train_word2vec(m, train, vocab.counts, epochs=1, window=5, negative=5, lr=0.025,
                           batch_size=args.batch, shared_negatives=16, sample=0, rng=rep)
            t_dl.append(time.perf_counter() - t0)
            g = Word2Vec(vector_size=100, window=5, negative=5, sg=1, min_count=1, sample=0,
                         workers=1, seed=rep, alpha=0.025,
                         hashfxn=lambda s: zlib.crc32(s.encode()))
            g.build_vocab(words)
            t0 = time.perf_counter()
            g.train(words, total_examples=len(words), epochs=1)
            t_gs.append(time.perf_counter() - t0)
            print(f"turn {rep + 1}: dlbook {t_dl[-1]:.2f} s, gensim {t_gs[-1]:.2f} s")
    E = np.array([g.wv[w] if w in g.wv else np.zeros(100, np.float32) for w in vocab.words])
    rho_dl = evaluate_similarity(m.vectors, vocab, ws353)["spearman"]
    rho_gs = evaluate_similarity(E, vocab, ws353)["spearman"]
    dl, gs = statistics.median(t_dl), statistics.median(t_gs)
    print(f"dlbook: {n / dl:,.0f} words/s; gensim: {n / gs:,.0f} words/s")
    print(f"WordSim-353 Spearman after one epoch: dlbook {rho_dl:.3f}, gensim {rho_gs:.3f}")
    print(f"ratio dlbook/gensim (speed): {gs / dl:.2f}   load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
