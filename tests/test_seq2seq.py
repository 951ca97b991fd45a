"""Tests of chapter 12 (encoder–decoder models and attention, exported to dlbook.seq2seq):
gradient checks, PyTorch parity, masking, decoding, the date generator, bad input."""
import datetime

import numpy as np
import pytest
import torch

from dlbook.data import date_task_split, random_dates
from dlbook.gradcheck import gradcheck
from dlbook.nn import Module
from dlbook.seq2seq import (
    AdditiveAttention,
    DotAttention,
    Seq2Seq,
    SequenceCrossEntropyLoss,
    Vocab,
    beam_search,
    greedy_decode,
    masked_softmax,
    pad_batch,
    teacher_forcing_batch,
)


class Attn(Module):
    """gradcheck wrapper: context and weights of an attention module, concatenated."""

    def __init__(self, attn, mask, with_weights=True):
        self.attn, self.mask, self.with_weights = attn, mask, with_weights

    def forward(self, q, K):
        c, a = self.attn(q, K, self.mask)
        self.M = a.shape[1]
        return np.concatenate([c, a], axis=1) if self.with_weights else c

    def backward(self, g):
        E = g.shape[1] - (self.M if self.with_weights else 0)
        return self.attn.backward(g[:, :E], g[:, E:] if self.with_weights else None)


def _data(seed=0, N=3, M=5, S=4, E=4):
    rng = np.random.default_rng(seed)
    mask = np.ones((N, M), bool)
    mask[0, 3:] = False
    mask[1, 1:] = False
    return rng.standard_normal((N, S)), rng.standard_normal((N, M, E)), mask


@pytest.mark.parametrize("kind", ["additive", "dot"])
def test_attention_gradcheck(kind):
    q, K, mask = _data()
    attn = AdditiveAttention(4, 4, 6, rng=1) if kind == "additive" else DotAttention(4, scale=0.7)
    errs = gradcheck(Attn(attn, mask), q, K, wrt=(0, 1), return_errors=True)
    assert max(errs.values()) < 1e-6, errs


def test_attention_masked_positions_get_exactly_zero_weight_and_gradient():
    q, K, mask = _data()
    attn = AdditiveAttention(4, 4, 6, rng=1)
    c, a = attn(q, K, mask)
    assert np.all(a[~mask] == 0.0)
    assert np.allclose(a.sum(1), 1.0)
    assert a[1, 0] == 1.0
    dq, dK = attn.backward(np.ones_like(c))
    assert np.all(dK[~mask] == 0.0)
    # changing the padded keys changes nothing
    K2 = K.copy()
    K2[~mask] = 1e3
    assert np.array_equal(attn(q, K2, mask)[0], c)


def test_masked_softmax_rejects_all_masked_row_and_bad_shape():
    with pytest.raises(ValueError, match="mask"):
        masked_softmax(np.zeros((2, 3)), np.array([[1, 0, 0], [0, 0, 0]], bool))
    with pytest.raises(ValueError, match="mask"):
        masked_softmax(np.zeros((2, 3)), np.ones((2, 4), bool))


def test_additive_attention_matches_torch():
    q, K, mask = _data(1)
    attn = AdditiveAttention(4, 4, 6, rng=2)
    G = np.random.default_rng(3).standard_normal((3, 4))
    c, a = attn(q, K, mask)
    dq, dK = attn.backward(G)
    tq, tK = torch.tensor(q, requires_grad=True), torch.tensor(K, requires_grad=True)
    U, W, V = (torch.tensor(p.data, requires_grad=True) for p in (attn.U_att, attn.W_att, attn.V_att))
    e = torch.tanh((tq @ U.T)[:, None, :] + tK @ W.T) @ V
    ta = torch.softmax(e.masked_fill(~torch.tensor(mask), float("-inf")), dim=1)
    tc = (ta[:, :, None] * tK).sum(1)
    (tc * torch.tensor(G)).sum().backward()
    assert np.allclose(c, tc.detach().numpy(), atol=1e-12) and np.allclose(a, ta.detach().numpy(), atol=1e-12)
    assert np.allclose(dq, tq.grad.numpy(), atol=1e-12) and np.allclose(dK, tK.grad.numpy(), atol=1e-12)
    for p, t in zip((attn.U_att, attn.W_att, attn.V_att), (U, W, V)):
        assert np.allclose(p.grad, t.grad.numpy(), atol=1e-12)


def test_dot_attention_matches_torch_sdpa():
    q, K, mask = _data(2)
    c, a = DotAttention(4, scale=0.5)(q, K, mask)
    tc = torch.nn.functional.scaled_dot_product_attention(
        torch.tensor(q)[:, None, :], torch.tensor(K), torch.tensor(K),
        attn_mask=torch.tensor(mask)[:, None, :], scale=0.5)[:, 0]
    assert np.allclose(c, tc.numpy(), atol=1e-12)


def test_masked_loss_matches_torch_ignore_index():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((3, 4, 6))
    tgt = np.array([[3, 4, 2, 0], [5, 2, 0, 0], [1, 1, 1, 2]])
    loss_fn = SequenceCrossEntropyLoss()
    loss = loss_fn(logits, tgt)
    grad = loss_fn.backward()
    t = torch.tensor(logits, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(t.reshape(-1, 6), torch.tensor(tgt).reshape(-1), ignore_index=0)
    tl.backward()
    assert abs(loss - tl.item()) < 1e-12 and np.allclose(grad, t.grad.numpy(), atol=1e-12)
    assert np.all(grad[tgt == 0] == 0)


VARIANTS = [{}, {"conditioning": "every_step"}, {"attention": "additive"}, {"attention": "dot"}]


class WithLoss(Module):
    def __init__(self, model, src, tin, tout):
        self.model, self.batch, self.loss_fn = model, (src, tin, tout), SequenceCrossEntropyLoss()

    def forward(self, dummy):
        src, tin, tout = self.batch
        return self.loss_fn(self.model(src, tin), tout)

    def backward(self, g):
        self.model.backward(self.loss_fn.backward(g))


@pytest.mark.parametrize("kw", VARIANTS)
def test_seq2seq_gradcheck_padded_batch(kw):
    src = np.array([[4, 5, 6, 0], [5, 4, 4, 6]])
    tin, tout = np.array([[1, 3, 4], [1, 5, 0]]), np.array([[3, 4, 2], [5, 2, 0]])
    model = Seq2Seq(7, 6, 3, 4, rng=0, **kw)
    errs = gradcheck(WithLoss(model, src, tin, tout), np.zeros(1), wrt=(), return_errors=True)
    assert max(errs.values()) < 1e-4, errs
    # the padding row of the embeddings never receives a gradient; padded sources do not matter
    model.zero_grad()
    out = model(src, tin)
    loss_fn = SequenceCrossEntropyLoss()
    loss_fn(out, tout)
    model.backward(loss_fn.backward())
    assert np.all(model.src_embed.weight.grad[0] == 0)
    src2 = np.concatenate([src, np.zeros((2, 3), np.int64)], axis=1)
    assert np.allclose(model(src2, tin), out, atol=1e-12)


def test_decoder_step_with_attention_gradcheck():
    """One decoder step (the attention, the GRUCell and the output layer) w.r.t. s_{t−1} and h_j."""
    model = Seq2Seq(7, 6, 3, 4, attention="additive", rng=1)
    q, K, mask = _data(4, N=3, M=5, S=4, E=4)
    y = np.array([1, 3, 5])

    class Step(Module):
        def __init__(self):
            self.model = model

        def forward(self, s, H):
            P = model.attn.project(H)
            logits, s_new, _ = model.step(y, s, {"H": H, "mask": mask, "P": P, "enc": None})
            return np.concatenate([logits, s_new], axis=1)

        def backward(self, g):
            V = 6
            dfeat = model.out.backward(g[:, :V])
            ds = g[:, V:] + dfeat[:, :4]
            dx, ds_prev = model.decoder.backward(ds)
            dq, dk, dP = model.attn.step_backward(dfeat[:, 4:] + dx[:, 3:])
            model.tgt_embed.backward(dx[:, :3])
            return ds_prev + dq, dk + model.attn.project_backward(dP)

    errs = gradcheck(Step(), q, K, wrt=(0, 1), return_errors=True)
    assert max(errs.values()) < 1e-6, errs


@pytest.mark.parametrize("kw", VARIANTS)
def test_beam_one_equals_greedy(kw):
    model = Seq2Seq(9, 8, 5, 6, rng=3, **kw)
    rng = np.random.default_rng(0)
    srcs = [rng.integers(4, 9, size=n) for n in (1, 3, 6, 4, 2)]
    greedy, _ = greedy_decode(model, pad_batch(srcs), max_len=7)
    for src, g in zip(srcs, greedy):
        b, logp = beam_search(model, src, beam_size=1, max_len=7)
        g = list(g[:list(g).index(2) + 1]) if 2 in g else list(g)
        assert list(b) == g
        assert np.isfinite(logp)


def test_beam_search_finds_at_least_greedy_score_on_its_beam():
    model = Seq2Seq(9, 8, 5, 6, attention="dot", rng=4)
    src = np.array([4, 5, 6, 7])
    lp = [beam_search(model, src, beam_size=k, max_len=6)[1] for k in (1, 3, 8)]
    assert all(np.isfinite(lp))
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(model, src, beam_size=0)


def test_decoding_stops_at_max_len():
    model = Seq2Seq(9, 8, 5, 6, attention="additive", rng=5)
    toks, att = greedy_decode(model, np.array([[4, 5, 0]]), max_len=3)
    assert toks.shape[1] <= 3 and att.shape[1] == toks.shape[1] and np.all(att[:, :, 2] == 0)


def test_bad_input():
    model = Seq2Seq(9, 8, 5, 6, attention="additive", rng=5)
    with pytest.raises(ValueError, match="src"):
        model(np.array([[0, 0], [4, 5]]), np.array([[1], [1]]))       # empty source
    with pytest.raises(ValueError, match="src"):
        model(np.array([4, 5]), np.array([[1]]))
    with pytest.raises(ValueError, match="tgt_in"):
        model(np.array([[4, 5]]), np.array([[1], [1]]))
    with pytest.raises(ValueError, match="attention"):
        Seq2Seq(9, 8, attention="cosine")
    with pytest.raises(ValueError, match="max_len"):
        greedy_decode(model, np.array([[4]]), max_len=0)


def test_vocabulary_unknown_and_specials():
    v = Vocab(["abc"])
    assert v.itos[:4] == ["<PAD>", "<GO>", "<STOP>", "<UNK>"]
    assert v.encode("axb").tolist() == [4, 3, 5]
    assert "".join(v.decode(np.r_[v.encode("cab"), v.stop_idx, 4, 4])) == "cab"
    src, tin, tout = teacher_forcing_batch(["ab", "c"], ["ba", "a"], v, v)
    assert tin.tolist() == [[1, 5, 4], [1, 4, 0]] and tout.tolist() == [[5, 4, 2], [4, 2, 0]]
    assert v.decode(v.encode(["a", "zz"])) == ["a", "<UNK>"]          # word tokens work the same
    with pytest.raises(TypeError, match="tokens"):
        v.encode(3)


def test_date_generator_agrees_with_dateutil():
    """A second, independent reading of the generated dates (dateutil, a dependency of
    matplotlib; test_ch13_tasks reads them with strptime): same day, month and year mod 100."""
    from dateutil import parser

    for src, iso, fmt in random_dates(3000, rng=np.random.default_rng(0), with_format=True):
        d = datetime.date.fromisoformat(iso)
        if fmt.startswith("YYYY") or "'" in src:      # dateutil reads 19980303 and '98 its own way
            continue
        p = parser.parse(src, fuzzy=True, dayfirst="." in src and not any(c.isalpha() for c in src))
        assert (p.month, p.day, p.year % 100) == (d.month, d.day, d.year % 100), (src, iso)


def test_date_task_split_is_shared_and_has_no_leak():
    train, val, test, dup = date_task_split()
    again = date_task_split()
    assert (train, val, test, dup) == again                    # chapters 12 and 13 see one split
    s_train = {s for s, _, _ in train}
    assert not s_train & {s for s, _, _ in test} and not s_train & {s for s, _, _ in val}
    assert len(val) == 500 and len(test) == 2000 and dup > 0
    assert date_task_split(seed=1)[2] != test


def test_context_attention_matches_torch_and_gradcheck():
    from dlbook.seq2seq import ContextAttention

    rng = np.random.default_rng(5)
    h = rng.standard_normal((3, 4, 5))
    mask = np.ones((3, 4), bool)
    mask[2, 2:] = False
    att = ContextAttention(5, 6, rng=0)
    att.bias.data[:] = rng.standard_normal(6)
    s, a = att(h, mask)
    G = rng.standard_normal(s.shape)
    dh = att.backward(G)
    th = torch.tensor(h, requires_grad=True)
    W, b, u = (torch.tensor(p.data, requires_grad=True) for p in (att.weight, att.bias, att.context))
    e = torch.tanh(th @ W.T + b) @ u
    ta = torch.softmax(e.masked_fill(~torch.tensor(mask), float("-inf")), dim=1)
    ts = (ta[:, :, None] * th).sum(1)
    (ts * torch.tensor(G)).sum().backward()
    assert np.allclose(s, ts.detach().numpy(), atol=1e-12) and np.all(a[2, 2:] == 0)
    assert np.allclose(dh, th.grad.numpy(), atol=1e-12)
    for p, t in zip((att.weight, att.bias, att.context), (W, b, u)):
        assert np.allclose(p.grad, t.grad.numpy(), atol=1e-12)

    class Pooled(Module):
        def __init__(self):
            self.a = ContextAttention(5, 6, rng=1)

        def forward(self, x):
            return self.a(x, mask)[0]

        def backward(self, g):
            return self.a.backward(g)

    assert gradcheck(Pooled(), h) < 1e-6


def test_han_gradcheck_and_attention_shapes():
    from dlbook.nn import CrossEntropyLoss
    from dlbook.seq2seq import HierarchicalAttentionNetwork

    rng = np.random.default_rng(0)
    X, y = rng.integers(12, size=(2, 3, 4)), np.array([0, 2])
    han = HierarchicalAttentionNetwork(12, 3, 3, 4, 5, rng=0)

    class L(Module):
        def __init__(self):
            self.m, self.loss = han, CrossEntropyLoss()

        def forward(self, d):
            return self.loss(self.m(X), y)

        def backward(self, g):
            self.m.backward(self.loss.backward() * g)

    errs = gradcheck(L(), np.zeros(1), wrt=(), return_errors=True)
    assert set(n.split(".")[0] for n in errs) >= {"m"} and max(errs.values()) < 1e-4, errs
    han(X)
    assert han.word_attention.shape == (2, 3, 4) and np.allclose(han.word_attention.sum(-1), 1)
    assert np.allclose(han.sentence_attention.sum(-1), 1)
    with pytest.raises(ValueError, match="X"):
        han(np.zeros((2, 0, 4), np.int64))


def test_cue_documents_has_one_true_cue_and_one_negated_decoy():
    from dlbook.seq2seq import cue_documents

    X, y, where = cue_documents(200, rng=0)
    for x, c, (i, j) in zip(X, y, where):
        cues = [(a, b) for a in range(x.shape[0]) for b in range(x.shape[1]) if 1 <= x[a, b] <= 8]
        assert len(cues) == 2 and (i, j) in cues and (x[i, j] - 1) // 2 == c
        (a, b), = [p for p in cues if p != (i, j)]
        assert b > 0 and x[a, b - 1] == 59 and (x[a, b] - 1) // 2 != c


def test_diagrams_read_the_model_objects():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dlbook.seq2seq import HierarchicalAttentionNetwork, draw_attention_model, draw_han

    ax = draw_attention_model(Seq2Seq(40, 15, 16, 24, attention="additive", attn_size=20, rng=0))
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "U_att 20×24" in texts and "weight_ih 72×40" in texts
    ax = draw_han(HierarchicalAttentionNetwork(60, 4, 16, 32, 8, rng=0))
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "$u_w$ 8" in texts and "$V$ 4×32" in texts
    plt.close("all")


def test_draw_encoder_decoder_counts_parameters_and_checks_inputs():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dlbook.nn import Linear, Sequential, Tanh
    from dlbook.rnn import GRU
    from dlbook.seq2seq import draw_encoder_decoder

    enc = Sequential(Linear(3, 4, rng=0), Tanh())
    ax = draw_encoder_decoder(["x"], [enc], GRU(4, 5, rng=0), "y")
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "Linear→Tanh\n16 parameters" in texts and f"{3 * 5 * (4 + 5) + 6 * 5:,} parameters" in texts
    with pytest.raises(ValueError, match="encoders"):
        draw_encoder_decoder(["a", "b"], [enc], enc, "y")
    plt.close("all")
