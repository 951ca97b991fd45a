"""Tests of dlbook.embeddings (chapter 10): counts, PMI, SVD, the prediction-based models'
gradients (float64 gradient checks, PyTorch parity), trees, training and data loaders."""
import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from dlbook.embeddings import (
    CBOW,
    NOTES_CORPUS,
    BinaryTree,
    ContrastiveOutput,
    GloVe,
    HierarchicalSoftmaxOutput,
    NegativeSamplingOutput,
    NoiseDistribution,
    SkipGram,
    SoftmaxOutput,
    SparseEmbedding,
    SparseSGD,
    Vocabulary,
    cbow_examples,
    cooccurrence_matrix,
    evaluate_analogies,
    evaluate_similarity,
    evaluate_synonyms,
    keep_probability,
    most_similar,
    pmi,
    skipgram_pairs,
    svd_embeddings,
    synonym_questions,
    tokenize_words,
    train_glove,
    train_word2vec,
)
from dlbook.gradcheck import gradcheck


def toy():
    sents = [tokenize_words(s, sentences=False) for s in NOTES_CORPUS]
    vocab = Vocabulary(sents)
    return sents, vocab, vocab.encode(sents)


def randomize(module, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    for p in module.parameters():
        p.data[...] = rng.normal(0, scale, p.data.shape)
    return module


# --- §10.1 counts -----------------------------------------------------------------------------

def test_notes_vocabulary_has_15_words():
    sents, vocab, _ = toy()
    assert len(vocab) == 15
    assert vocab.words[0] == "system" and vocab.counts[0] == 3       # in titles 2, 3 and 4
    assert vocab.index("interface") == vocab.words.index("interface")


def test_cooccurrence_counts_hand_computed():
    _, vocab, ids = toy()
    X = cooccurrence_matrix(ids, len(vocab), window=2).toarray()
    i = vocab.index
    assert (X == X.T).all() and np.trace(X) == 0
    # "human machine interface for ...": human sees machine (d=1) and interface (d=2), not "for"
    assert X[i("human"), i("machine")] == 1 and X[i("human"), i("interface")] == 1
    assert X[i("human"), i("for")] == 0
    # "user interface management system": user-system at distance 3 -> 0 for k=2, 1 for k=3
    assert X[i("user"), i("system")] == 0
    X3 = cooccurrence_matrix(ids, len(vocab), window=3).toarray()
    assert X3[i("user"), i("system")] == 1 and X3[i("human"), i("for")] == 1
    # "response time" in titles 2 and 4
    assert X[i("response"), i("time")] == 2
    # total: sum over sentences of 2 * #(pairs at distance <= 2); lengths 6, 7, 4, 6
    pairs = sum((n - 1) + (n - 2) for n in (6, 7, 4, 6))
    assert X.sum() == 2 * pairs
    # windows stop at sentence ends: "applications" (end of 1) never meets "user" (start of 2)
    X9 = cooccurrence_matrix(ids, len(vocab), window=9).toarray()
    assert X9[i("applications"), i("user")] == 0


def test_harmonic_weighting():
    X = cooccurrence_matrix([np.array([0, 1, 2])], 3, window=2, weighting="harmonic").toarray()
    assert X[0, 1] == 1.0 and X[0, 2] == 0.5 and X[1, 2] == 1.0


def test_pmi_variants_hand_computed():
    _, vocab, ids = toy()
    X = cooccurrence_matrix(ids, len(vocab), window=1).toarray()
    P = pmi(X, "pmi")
    h, m = vocab.index("human"), vocab.index("machine")
    N = X.sum()                                    # 38 ordered neighbour pairs
    assert N == 38
    assert math.isclose(P[h, m], math.log(1 * N / (1 * 2)))       # = ln 19 = 2.944
    assert math.isclose(P[h, m], 2.944, abs_tol=5e-4)
    assert P[h, vocab.index("for")] == -np.inf
    P0 = pmi(X, "pmi0")
    assert P0[h, vocab.index("for")] == 0.0
    PP = pmi(X, "ppmi")
    assert (PP >= 0).all() and np.allclose(PP, np.maximum(P, 0))
    # sparse input gives the same values
    Ps = pmi(sp.csr_matrix(X), "ppmi").toarray()
    assert np.allclose(Ps, PP)
    # capping at t = 1 changes only counts above 1
    Pc = pmi(X, "ppmi", cap=1)
    Xc = np.minimum(X, 1)
    ref = np.log(Xc * Xc.sum() / np.outer(Xc.sum(1), Xc.sum(0)), where=Xc > 0,
                 out=np.zeros_like(Xc))
    assert np.allclose(Pc, np.maximum(ref, 0))


def test_svd_identity_and_rank():
    _, vocab, ids = toy()
    P = pmi(cooccurrence_matrix(ids, len(vocab), window=2), "ppmi").toarray()
    W, C, s = svd_embeddings(P, k=5)
    Xh = W @ C.T
    assert np.allclose(Xh @ Xh.T, W @ W.T, atol=1e-12)
    assert np.linalg.matrix_rank(Xh) == 5
    assert np.all(np.diff(s) <= 0)
    U, S, Vt = np.linalg.svd(P)
    assert np.isclose(np.linalg.norm(P - Xh), np.sqrt((S[5:] ** 2).sum()))   # Eckart-Young
    # sparse path (randomized SVD) agrees on the singular values
    _, _, s2 = svd_embeddings(sp.csr_matrix(P), k=5, seed=0)
    assert np.allclose(s2, s, rtol=1e-6)


# --- gradients ----------------------------------------------------------------------------------

rng = np.random.default_rng(0)
V, D, B, K = 9, 4, 6, 3
H = rng.standard_normal((B, D))
T = rng.integers(0, V, B)
R = rng.integers(0, V, (B, K))


@pytest.mark.parametrize("make,args", [
    (lambda: SoftmaxOutput(V, D), (H, T)),
    (lambda: NegativeSamplingOutput(V, D), (H, T, R)),
    (lambda: NegativeSamplingOutput(V, D), (H, T, rng.integers(0, V, 5), 0.6)),
    (lambda: ContrastiveOutput(V, D, margin=1.0), (H, T, R)),
    (lambda: HierarchicalSoftmaxOutput(BinaryTree.huffman(np.arange(1, V + 1)), D), (H, T)),
    (lambda: HierarchicalSoftmaxOutput(BinaryTree.random(V, rng=3), D), (H, T)),
])
def test_output_layers_gradcheck(make, args):
    err = gradcheck(randomize(make()), *args, wrt=(0,))
    assert err < 1e-6


def test_models_gradcheck():
    sg = randomize(SkipGram(V, D, output="negative", rng=0))
    assert gradcheck(sg, T, T[::-1].copy(), R, wrt=()) < 1e-6
    sgs = randomize(SkipGram(V, D, output="softmax", rng=0))
    assert gradcheck(sgs, T, T[::-1].copy(), wrt=()) < 1e-6
    ctx = np.array([[1, 2, -1, 3], [0, -1, -1, -1], [4, 4, 5, 6], [7, 8, 1, -1], [2, 3, 4, 5],
                    [-1, 6, -1, 0]])
    for mean in (False, True):
        cb = randomize(CBOW(V, D, output="softmax", mean=mean, rng=0))
        assert gradcheck(cb, ctx, T, wrt=()) < 1e-6
    cbh = randomize(CBOW(V, D, output="hierarchical", tree=BinaryTree.huffman(np.ones(V)), rng=0))
    assert gradcheck(cbh, ctx, T, wrt=()) < 1e-6


def test_scatter_paths_agree_with_add_at():
    """_add_rows builds its sparse matrix over all rows when many indices come at once and over
    the distinct rows only otherwise; both must equal np.add.at."""
    r = np.random.default_rng(5)
    for V_, n in ((400, 6), (4000, 100), (20, 60)):    # a handful, few, many indices
        emb = SparseEmbedding(V_, 3, rng=0)
        idx = r.integers(0, V_, (n, 2))
        G = r.standard_normal((n, 2, 3))
        emb(idx)
        emb.backward(G)
        ref = np.zeros((V_, 3))
        np.add.at(ref, idx.reshape(-1), G.reshape(-1, 3))
        assert np.allclose(emb.weight.grad, ref, atol=1e-12)
    big = randomize(SkipGram(300, D, output="negative", rng=0))
    assert gradcheck(big, T, T[::-1].copy(), R, wrt=()) < 1e-6


def test_glove_gradcheck_and_value():
    g = randomize(GloVe(V, D, x_max=10.0, alpha=0.75), scale=0.3)
    x = rng.uniform(0.5, 30, B)
    j = R[:, 0]
    assert gradcheck(g, T, j, x, wrt=()) < 1e-6
    f = np.minimum(1, (x / 10.0) ** 0.75)
    pred = (g.weight.data[T] * g.context_weight.data[j]).sum(1) + g.bias.data[T] + g.context_bias.data[j]
    assert np.isclose(g(T, j, x), (f * (pred - np.log(x)) ** 2).sum())


def test_embedding_matches_torch():
    emb = SparseEmbedding(V, D, rng=0)
    idx = np.array([[1, 2, 2], [0, 8, 1]])
    G = rng.standard_normal(idx.shape + (D,))
    out = emb(idx)
    emb.backward(G)
    te = torch.nn.Embedding(V, D, _weight=torch.tensor(emb.weight.data.copy()))
    tout = te(torch.tensor(idx))
    tout.backward(torch.tensor(G))
    assert np.allclose(out, tout.detach().numpy())
    assert np.allclose(emb.weight.grad, te.weight.grad.numpy(), atol=1e-12)


def test_softmax_output_matches_torch_cross_entropy():
    m = randomize(SoftmaxOutput(V, D))
    loss = m(H, T)
    dh = m.backward(1.0)
    h = torch.tensor(H, requires_grad=True)
    W = torch.tensor(m.weight.data.copy(), requires_grad=True)
    tl = F.cross_entropy(h @ W.T, torch.tensor(T), reduction="sum")
    tl.backward()
    assert np.isclose(loss, tl.item(), rtol=1e-12)
    assert np.allclose(dh, h.grad.numpy(), atol=1e-12)
    assert np.allclose(m.weight.grad, W.grad.numpy(), atol=1e-12)


def test_negative_sampling_and_hs_match_torch_logsigmoid():
    m = randomize(NegativeSamplingOutput(V, D))
    loss = m(H, T, R)
    dh = m.backward(1.0)
    h = torch.tensor(H, requires_grad=True)
    W = torch.tensor(m.weight.data.copy(), requires_grad=True)
    tl = -(F.logsigmoid((h * W[T]).sum(1)).sum()
           + F.logsigmoid(-(h[:, None, :] * W[R]).sum(2)).sum())
    tl.backward()
    assert np.isclose(loss, tl.item(), rtol=1e-12)
    assert np.allclose(dh, h.grad.numpy(), atol=1e-12)
    assert np.allclose(m.weight.grad, W.grad.numpy(), atol=1e-12)
    # hierarchical softmax = binary cross-entropy with logits along the path
    tree = BinaryTree.huffman(np.array([9, 1, 3, 2, 7, 1, 1, 4, 2]))
    hs = randomize(HierarchicalSoftmaxOutput(tree, D))
    loss = hs(H, T)
    W = torch.tensor(hs.weight.data.copy())
    ref = 0.0
    for b, w in enumerate(T):
        n = tree.lengths[w]
        logits = W[tree.paths[w, :n]] @ torch.tensor(H[b])
        ref += F.binary_cross_entropy_with_logits(
            logits, torch.tensor(tree.codes[w, :n], dtype=torch.float64), reduction="sum").item()
    assert np.isclose(loss, ref, rtol=1e-12)


def test_contrastive_hinge_hand_computed():
    m = ContrastiveOutput(3, 2, margin=1.0)
    m.weight.data[...] = [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]
    h = np.array([[2.0, 0.0]])
    # s = 2 (word 0), s_r = 0 (word 1): 1 - 2 + 0 < 0 -> 0; s_r = 1 (word 2): 1 - 2 + 1 = 0 -> 0
    assert m(h, np.array([0]), np.array([[1, 2]])) == 0.0
    m.backward(1.0)
    # true word 1 (s = 0) against noise 0 (s_r = 2): 1 - 0 + 2 = 3
    assert m(h, np.array([1]), np.array([[0]])) == 3.0


def test_cbow_update_rule_of_the_notes():
    m = CBOW(6, 3, output="softmax", rng=1)
    m.output.weight.data[...] = np.random.default_rng(2).normal(0, 0.5, (6, 3))
    c, w = 2, 4
    u = m.input.weight.data[c].copy()
    z = m.output.weight.data @ u
    y = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    m(np.array([[c]]), np.array([w]))
    m.backward(1.0)
    assert np.allclose(-m.output.weight.grad[w], u * (1 - y[w]), atol=1e-14)


# --- trees -------------------------------------------------------------------------------------

def test_huffman_codes_optimal_small_example():
    # classic example: frequencies 45, 13, 12, 16, 9, 5 -> lengths 1, 3, 3, 3, 4, 4
    tree = BinaryTree.huffman(np.array([45, 13, 12, 16, 9, 5]))
    assert sorted(tree.lengths.tolist()) == [1, 3, 3, 3, 4, 4]
    assert tree.lengths[0] == 1 and set(tree.lengths[[4, 5]]) == {4}
    codes = ["".join(map(str, tree.codes[w, :tree.lengths[w]])) for w in range(6)]
    assert len(set(codes)) == 6
    assert not any(a != b and b.startswith(a) for a in codes for b in codes)   # prefix-free
    assert (tree.paths[:, 0] == 0).all()                                       # all start at root
    # leaf probabilities sum to one
    hs = randomize(HierarchicalSoftmaxOutput(tree, 3))
    assert np.allclose(np.exp(hs.log_prob(np.random.default_rng(0).normal(size=(4, 3)))).sum(1), 1)


def test_random_tree_is_balanced_permutation():
    t = BinaryTree.random(16, rng=0)
    assert (t.lengths == 4).all()
    codes = {tuple(t.codes[w]) for w in range(16)}
    assert len(codes) == 16
    t2 = BinaryTree.random(16, rng=1)
    assert not np.array_equal(t.codes, t2.codes)


# --- training pieces ----------------------------------------------------------------------------

def test_pairs_and_cbow_examples():
    ids = np.array([0, 1, 2, 3, 4, 5])
    sent = np.array([0, 0, 0, 1, 1, 1])
    c, x = skipgram_pairs(ids, sent, window=2, dynamic=False)
    pairs = set(zip(c.tolist(), x.tolist()))
    assert pairs == {(0, 1), (1, 0), (1, 2), (2, 1), (0, 2), (2, 0),
                     (3, 4), (4, 3), (4, 5), (5, 4), (3, 5), (5, 3)}
    ctx, tgt = cbow_examples(ids, sent, window=1, dynamic=False)
    assert tgt.tolist() == [0, 1, 2, 3, 4, 5]
    assert ctx[0].tolist() == [-1, 1] and ctx[2].tolist() == [1, -1] and ctx[3].tolist() == [-1, 4]


def test_noise_distribution_and_subsampling():
    counts = np.array([1000, 100, 10, 1])
    nd = NoiseDistribution(counts)
    draws = nd.sample(200_000, rng=0)
    expected = counts ** 0.75 / (counts ** 0.75).sum()
    assert np.allclose(np.bincount(draws, minlength=4) / 200_000, expected, atol=5e-3)
    keep = keep_probability(counts, sample=1e-3)
    assert keep[0] < keep[1] <= 1 and keep[-1] == 1.0
    assert (keep_probability(counts, 0) == 1).all()


def test_sparse_sgd_touches_only_used_rows():
    m = SkipGram(20, 4, output="negative", rng=0)
    before_in, before_out = m.input.weight.data.copy(), m.output.weight.data.copy()
    opt = SparseSGD(m.parameters(), lr=0.1)
    m(np.array([1, 2]), np.array([3, 4]), np.array([[5, 6], [7, 8]]))
    m.backward(1.0)
    g_in = m.input.weight.grad.copy()
    opt.step()
    opt.zero_grad()
    changed_in = np.flatnonzero((m.input.weight.data != before_in).any(1))
    assert set(changed_in) <= {1, 2}
    assert np.allclose(m.input.weight.data, before_in - 0.1 * g_in)
    assert set(np.flatnonzero((m.output.weight.data != before_out).any(1))) == {3, 4, 5, 6, 7, 8}
    assert not m.input.weight.grad.any() and not m.output.weight.grad.any()


def test_sparse_sgd_is_an_optimizer():
    from dlbook.optimizers import LinearLR, Optimizer
    m = SkipGram(20, 4, output="negative", rng=0)
    opt = SparseSGD([{"params": [m.input.weight], "lr": 0.5}, {"params": [m.output.weight]}],
                    lr=0.1)
    assert isinstance(opt, Optimizer)
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.1]
    randomize(m)
    before = m.output.weight.data.copy()

    def closure():
        opt.zero_grad()
        loss = m(np.array([1, 2]), np.array([3, 4]), np.array([[5, 6], [7, 8]]))
        m.backward(1.0)
        return loss

    loss = opt.step(closure)
    assert np.isfinite(loss)
    assert np.allclose(m.output.weight.data, before - 0.1 * m.output.weight.grad)
    sched = LinearLR(opt, start_factor=1.0, end_factor=0.5, total_iters=2)
    sched.step()
    assert opt.param_groups[1]["lr"] == pytest.approx(0.075)
    state = opt.state_dict()
    assert [g["lr"] for g in state["param_groups"]] == pytest.approx([0.375, 0.075])
    with pytest.raises(ValueError, match="lr"):
        SparseSGD(m.parameters(), lr=-1.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_sgns_step_equals_module_step(dtype):
    """train_word2vec's fused skip-gram step = SkipGram forward + backward + SparseSGD step, on a
    batch with repeated centre, context and noise words (and one word in all three roles)."""
    from dlbook.embeddings import _sgns_shared_step
    r = np.random.default_rng(4)
    V_, D_ = 12, 5
    words = np.array([3, 1, 3, 7, 3, 0])                 # centres at consecutive positions
    seg = np.array([0, 0, 1, 2, 2, 2, 3, 4, 4, 5])          # pairs per centre: 2, 1, 3, 1, 2, 1
    ctx = np.array([1, 3, 3, 2, 3, 9, 7, 1, 1, 5])
    noise = np.array([3, 8, 8, 1])
    nw = 5 / 4
    m = randomize(SkipGram(V_, D_, output="negative", rng=0, dtype=dtype), seed=1)
    W, C = m.input.weight.data.copy(), m.output.weight.data.copy()
    opt = SparseSGD(m.parameters(), lr=0.05)
    loss_mod = m(words[seg], ctx, noise, noise_weight=nw)
    m.backward(1.0)
    opt.step()
    loss_fused = _sgns_shared_step(W, C, words, seg, ctx, noise, nw, 0.05)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert loss_fused == pytest.approx(loss_mod, rel=tol)
    assert np.allclose(W, m.input.weight.data, atol=tol)
    assert np.allclose(C, m.output.weight.data, atol=tol)
    assert not np.allclose(W, randomize(SkipGram(V_, D_, rng=0, dtype=dtype), seed=1).input.weight.data)
    del r


def test_skipgram_pairs_centre_major_with_positions():
    ids = np.array([5, 6, 7, 8, 9])
    sent = np.array([0, 0, 0, 0, 1])
    pos, ctx = skipgram_pairs(ids, sent, window=2, dynamic=False, positions=True)
    assert (np.diff(pos) >= 0).all()                       # centre by centre
    assert list(zip(pos.tolist(), ctx.tolist())) == [
        (0, 6), (0, 7), (1, 5), (1, 7), (1, 8), (2, 5), (2, 6), (2, 8), (3, 6), (3, 7)]
    c, _ = skipgram_pairs(ids, sent, window=2, dynamic=False)
    assert (c == ids[pos]).all()
    _, ctx_dyn = skipgram_pairs(np.arange(1000), np.zeros(1000, int), 5, rng=0)
    assert 5.5 < len(ctx_dyn) / 1000 < 6.5                # mean window 3 on each side


@pytest.mark.parametrize("shared_negatives", [None, 8])
def test_training_learns_planted_structure(shared_negatives):
    """Two disjoint 'topics' of 10 words: skip-gram (negative sampling) must place words of the
    same topic closer than words of different topics, per pair or with the fused step
    (``shared_negatives``)."""
    r = np.random.default_rng(0)
    sents = [r.integers(0, 10, 12) + 10 * (i % 2) for i in range(800)]
    counts = np.bincount(np.concatenate(sents), minlength=20)
    m = SkipGram(20, 8, output="negative", rng=0)
    fused = {} if shared_negatives is None else {"shared_negatives": shared_negatives}
    h = train_word2vec(m, sents, counts, epochs=3, window=3, negative=3, lr=0.05,
                       batch_size=64, sample=0, rng=0, **fused)
    U = m.vectors / np.linalg.norm(m.vectors, axis=1, keepdims=True)
    S = U @ U.T
    same = np.array([[i // 10 == j // 10 and i != j for j in range(20)] for i in range(20)])
    diff = np.array([[i // 10 != j // 10 for j in range(20)] for i in range(20)])
    assert S[same].mean() > S[diff].mean() + 0.5
    assert h["epoch_loss"][-1] < h["epoch_loss"][0]
    if fused:
        assert h["examples"] > 3 * 800 * 12 * 2         # every pair of three epochs was used


def test_glove_training_decreases_loss():
    r = np.random.default_rng(1)
    sents = [r.integers(0, 15, 10) for _ in range(300)]
    X = cooccurrence_matrix(sents, 15, window=3, weighting="harmonic")
    g = GloVe(15, 5, x_max=10.0, rng=0)
    losses = train_glove(g, X, epochs=30, lr=0.1, batch_size=64, rng=0)
    assert losses[-1] < 0.5 * losses[0]


# --- evaluation ------------------------------------------------------------------------------

def test_evaluation_functions():
    sents, vocab, _ = toy()
    E = np.eye(len(vocab))
    E[vocab.index("user")] = E[vocab.index("system")] + 0.1 * E[vocab.index("time")]
    assert most_similar(E, vocab, "system", 1)[0][0] == "user"
    pairs = [("user", "system", 9.0), ("human", "machine", 1.0), ("time", "user", 5.0),
             ("nope", "human", 3.0)]
    res = evaluate_similarity(E, vocab, pairs)
    assert res["pairs_used"] == 3 and res["pairs_total"] == 4 and np.isclose(res["spearman"], 1.0)
    # analogy a:b :: c:d with d = c + (b - a)
    E2 = np.random.default_rng(0).normal(size=(len(vocab), 6))
    a, b, c, d = (vocab.index(w) for w in ("human", "machine", "user", "opinion"))
    E2[d] = E2[c] / np.linalg.norm(E2[c]) + E2[b] / np.linalg.norm(E2[b]) - E2[a] / np.linalg.norm(E2[a])
    res = evaluate_analogies(E2, vocab, [("human", "machine", "user", "opinion"),
                                         ("human", "machine", "user", "unknownword")])
    assert res["asked"] == 1 and res["accuracy"] == 1.0
    q = synonym_questions([("user", "system", 9.0), ("human", "time", 2.0)], vocab, rng=0)
    assert len(q) == 1 and q[0][1][q[0][2]] == "system" and len(q[0][1]) == 4
    assert evaluate_synonyms(E, vocab, q) == 1.0


# --- bad input ---------------------------------------------------------------------------------

def test_bad_input():
    with pytest.raises(ValueError, match="empty"):
        Vocabulary([])
    with pytest.raises(ValueError, match="empty"):
        Vocabulary([[], []])
    with pytest.raises(TypeError, match="tokenize"):
        Vocabulary(["a sentence as a string"])
    _, vocab, ids = toy()
    with pytest.raises(KeyError, match="'zebra' is not in the vocabulary"):
        vocab.index("zebra")
    with pytest.raises(KeyError, match="zebra"):
        most_similar(np.eye(len(vocab)), vocab, "zebra")
    with pytest.raises(ValueError, match="window"):
        cooccurrence_matrix(ids, len(vocab), window=0)
    with pytest.raises(TypeError, match="window"):
        cooccurrence_matrix(ids, len(vocab), window=1.5)
    with pytest.raises(ValueError, match="empty"):
        cooccurrence_matrix([np.array([], dtype=np.int64)], 3, window=2)
    with pytest.raises(ValueError, match="variant"):
        pmi(np.ones((2, 2)), "npmi")
    with pytest.raises(ValueError, match="k: expected a rank"):
        svd_embeddings(np.ones((3, 3)), k=3)
    with pytest.raises(ValueError, match="target"):
        SoftmaxOutput(5, 2)(np.zeros((1, 2)), np.array([5]))
    with pytest.raises(TypeError, match="indices"):
        SparseEmbedding(5, 2)(np.array([0.5]))
    with pytest.raises(ValueError, match="negatives"):
        SkipGram(5, 2, output="negative")(np.array([0]), np.array([1]))
    with pytest.raises(ValueError, match="tree"):
        SkipGram(5, 2, output="hierarchical")
    with pytest.raises(ValueError, match="context"):
        CBOW(5, 2)(np.array([[-1, -1]]), np.array([0]))
    with pytest.raises(ValueError, match="x: GloVe"):
        GloVe(5, 2)(np.array([0]), np.array([1]), np.array([0.0]))
    with pytest.raises(RuntimeError):
        SkipGram(5, 2, output="softmax").backward(1.0)


# --- data ----------------------------------------------------------------------------------------

def test_sotu_and_word_eval_loaders():
    from dlbook.data import load_analogies, load_sotu, load_word_pairs
    docs = load_sotu(first_year=2000, last_year=2001)
    assert [d["year"] for d in docs] == sorted(d["year"] for d in docs)
    assert {d["year"] for d in docs} == {2000, 2001} and all(len(d["text"]) > 1000 for d in docs)
    ws = load_word_pairs("wordsim353")
    sl = load_word_pairs("simlex999")
    assert len(ws) == 353 and len(sl) == 999 and ws[0] == ("love", "sex", 6.77)
    an = load_analogies()
    assert len(an) == 19544 and len({q[0] for q in an}) == 14
    with pytest.raises(ValueError, match="name"):
        load_word_pairs("men")
    with pytest.raises(ValueError, match="first_year"):
        load_sotu(first_year=2100)
