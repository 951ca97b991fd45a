"""Chapter 12, §12.3 on real documents (book/ch12e_han.md): the 20 Newsgroups loader on small files
the tests write, padded document batches, the masked Hierarchical Attention Network (float64
gradient checks, exactly zero weight and gradient on padding), the flat GRU baseline, and a short
training run."""
import numpy as np
import pytest
import torch

import dlbook.data as data
from dlbook.gradcheck import gradcheck
from dlbook.nn import CrossEntropyLoss, Module, no_grad
from dlbook.seq2seq import (
    ContextAttention,
    FlatGRUClassifier,
    HierarchicalAttentionNetwork,
    chunk_words,
    cue_documents,
    flatten_documents,
    pad_documents,
    train_documents,
)

TAB = ("Category\tText\nd\tstring\nclass\t\n\n"
       "sci.med\tdoctor said the pain is gone\n"
       "rec.autos\tmy car needs new tyres\n"
       "sci.med\tsecond post about a disease\n")


# --- loader --------------------------------------------------------------------------------------

def _write(tmp_path, monkeypatch, text, split="train"):
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path))
    rel, _ = data.NEWSGROUPS_SHA256[split]
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    monkeypatch.setitem(data.NEWSGROUPS_SHA256, split, (rel, data.sha256(path)))
    return path


def test_load_20newsgroups_reads_and_selects(tmp_path, monkeypatch):
    _write(tmp_path, monkeypatch, TAB)
    texts, y, cats = data.load_20newsgroups("train")
    assert cats == ("rec.autos", "sci.med") and y.tolist() == [1, 0, 1] and y.dtype == np.int64
    assert texts[1] == "my car needs new tyres"
    texts, y, cats = data.load_20newsgroups("train", ["sci.med"])
    assert texts == ["doctor said the pain is gone", "second post about a disease"]
    assert y.tolist() == [0, 0] and cats == ("sci.med",)


def test_load_20newsgroups_bad_input(tmp_path, monkeypatch):
    _write(tmp_path, monkeypatch, TAB)
    with pytest.raises(ValueError, match="split"):
        data.load_20newsgroups("validation")
    with pytest.raises(ValueError, match="categories.*sci.space"):
        data.load_20newsgroups("train", ["sci.space"])
    with pytest.raises(ValueError, match="categories"):
        data.load_20newsgroups("train", ["sci.med", "sci.med"])
    with pytest.raises(ValueError, match="header"):
        data.read_newsgroups_tab(["Group\tBody\n"])
    with pytest.raises(ValueError, match="line 5"):
        data.read_newsgroups_tab(TAB.splitlines(True)[:4] + ["no tab here\n"])


def test_load_20newsgroups_checks_sha_and_names_the_fetch_command(tmp_path, monkeypatch):
    path = _write(tmp_path, monkeypatch, TAB)
    path.write_text(TAB + "sci.med\tone more\n", encoding="utf-8")      # hash no longer matches
    with pytest.raises(ValueError, match="SHA-256.*fetch"):
        data.load_20newsgroups("train")
    path.unlink()
    with pytest.raises(FileNotFoundError, match="fetch_data.py"):
        data.load_20newsgroups("train")


# --- padded documents ----------------------------------------------------------------------------

def test_chunk_and_pad_documents():
    assert chunk_words(range(7), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    X, M = pad_documents([[[5, 6, 7], [], [8]], [[1, 2], [3, 4], [5, 6], [7]]], max_sentences=3,
                         max_words=2)
    assert X.shape == (2, 3, 2) and X.dtype == np.int64
    assert X[0].tolist() == [[5, 6], [8, 0], [0, 0]] and M[0].tolist() == [[1, 1], [1, 0], [0, 0]]
    assert X[1].tolist() == [[1, 2], [3, 4], [5, 6]] and M[1].all()
    F, FM = flatten_documents(X, M)
    assert F[0].tolist() == [5, 6, 8, 0, 0, 0] and FM[0].tolist() == [1, 1, 1, 0, 0, 0]
    with pytest.raises(ValueError, match="docs"):
        pad_documents([])
    with pytest.raises(ValueError, match="document 1"):
        pad_documents([[[1]], [[], []]])
    with pytest.raises(ValueError, match="sentence_length"):
        chunk_words([1, 2], 0)


# --- the masked HAN ------------------------------------------------------------------------------

class DocumentLoss(Module):
    def __init__(self, model, X, mask, y):
        self.model, self.X, self.mask, self.y, self.loss = model, X, mask, y, CrossEntropyLoss()

    def forward(self, dummy):
        return self.loss(self.model(self.X, self.mask), self.y)

    def backward(self, grad_output):
        self.model.backward(self.loss.backward() * grad_output)


DOCS = [[[5, 6, 7], [8, 9]], [[4, 5, 6, 7], [9, 4, 5, 6], [7, 8, 9, 4]], [[3]]]


@pytest.mark.parametrize("seed", [0, 1])
def test_masked_han_gradcheck_and_zero_weight_on_padding(seed):
    X, M = pad_documents(DOCS)
    model = HierarchicalAttentionNetwork(10, 3, 3, 4, 5, rng=seed)
    # eps 1e-4: the gradient of the attention bias b_w is tiny, so smaller steps measure rounding
    err = gradcheck(DocumentLoss(model, X, M, np.array([0, 2, 1])), np.zeros(1), wrt=(), eps=1e-4)
    assert err < 1e-5
    model(X, M)
    assert (model.word_attention[~M] == 0).all()
    assert (model.sentence_attention[~M.any(2)] == 0).all()
    assert np.allclose(model.word_attention.sum(2)[M.any(2)], 1)
    assert np.allclose(model.sentence_attention.sum(1), 1)


def test_padding_gets_no_gradient_and_changes_nothing():
    X, M = pad_documents(DOCS)
    model = HierarchicalAttentionNetwork(10, 3, 3, 4, 5, rng=0)
    out = model(X, M)
    model.backward(np.ones_like(out))
    assert (model.embed.weight.grad[0] == 0).all()          # index 0 only ever appears as padding
    for k, doc in enumerate(DOCS):                           # each document alone: no padding at all
        if len({len(s) for s in doc}) == 1:
            with no_grad():
                alone = model(np.array([doc]))
            assert np.allclose(alone[0], out[k], atol=1e-12)
    # the padded value does not matter either
    X2 = np.where(M, X, 7)
    with no_grad():
        assert np.allclose(model(X2, M), out, atol=1e-12)


def test_no_mask_equals_all_true_mask_and_bad_masks():
    X, _, _ = cue_documents(4, sentences=3, words=4, rng=0)
    model = HierarchicalAttentionNetwork(60, 4, 3, 4, 5, rng=0)
    with no_grad():
        assert np.array_equal(model(X), model(X, np.ones(X.shape, bool)))
    M = np.ones(X.shape, bool)
    M[0, 0, 1] = False                      # a hole inside a sentence
    with pytest.raises(ValueError, match="right padding"):
        model(X, M)
    M = np.ones(X.shape, bool)
    M[0, 0] = False                         # a padded sentence before a real one
    with pytest.raises(ValueError, match="right padding"):
        model(X, M)
    with pytest.raises(ValueError, match="at least one word"):
        model(X, np.zeros(X.shape, bool))
    with pytest.raises(ValueError, match="mask"):
        model(X, np.ones((4, 3), bool))


def test_context_attention_matches_torch_with_mask():
    rng = np.random.default_rng(0)
    att = ContextAttention(4, 5, rng=0)
    h = rng.standard_normal((3, 6, 4))
    mask = np.arange(6) < np.array([[6], [3], [1]])
    g = rng.standard_normal((3, 4))
    s, alpha = att(h, mask)
    dh = att.backward(g)
    th = torch.tensor(h, requires_grad=True)
    W, b, u = (torch.tensor(p.data, requires_grad=True) for p in (att.weight, att.bias, att.context))
    e = torch.tanh(th @ W.T + b) @ u
    a = torch.softmax(e.masked_fill(~torch.tensor(mask), float("-inf")), dim=1)
    ts = (a[:, :, None] * th).sum(1)
    ts.backward(torch.tensor(g))
    assert np.allclose(s, ts.detach().numpy(), atol=1e-12) and np.allclose(alpha, a.detach().numpy())
    assert (alpha[~mask] == 0).all()
    assert np.allclose(dh, th.grad.numpy(), atol=1e-12)
    for p, t in zip((att.weight, att.bias, att.context), (W, b, u)):
        assert np.allclose(p.grad, t.grad.numpy(), atol=1e-12)


# --- the flat GRU baseline and training ----------------------------------------------------------

def test_flat_gru_gradcheck_and_mask():
    X, M = flatten_documents(*pad_documents(DOCS))
    model = FlatGRUClassifier(10, 3, 3, 4, rng=0)
    assert gradcheck(DocumentLoss(model, X, M, np.array([0, 2, 1])), np.zeros(1), wrt=()) < 1e-5
    with no_grad():
        full = model(X, M)
        assert np.allclose(model(X[2:, :1], M[2:, :1]), full[2:], atol=1e-12)
    bad = M.copy()
    bad[0, 0] = False
    with pytest.raises(ValueError, match="right padding"):
        model(X, bad)


def test_training_smoke_on_padded_cue_documents():
    """The toy task of §12.3 with documents of 3-5 sentences of 4-6 words, right-padded: the masked
    HAN learns it."""
    rng = np.random.default_rng(0)
    X0, y, _ = cue_documents(1500, sentences=5, words=6, rng=1)
    n_sent, n_words = rng.integers(3, 6, size=len(X0)), rng.integers(4, 7, size=len(X0))
    docs = []
    for k in range(len(X0)):
        docs.append([list(s[:n_words[k]]) for s in X0[k][:n_sent[k]]])
    X, M = pad_documents(docs)
    # labels: recompute from what is left (the true cue may have been cut): keep only documents
    # whose cue word survived
    keep = np.array([any(1 + 2 * y[k] <= w <= 2 + 2 * y[k] and
                         not (j > 0 and s[j - 1] == 59) for s in d for j, w in enumerate(s))
                     for k, d in enumerate(docs)])
    X, M, y = X[keep], M[keep], y[keep]
    model = HierarchicalAttentionNetwork(60, 4, 16, 32, 32, rng=0)
    hist = train_documents(model, X[:800], M[:800], y[:800], epochs=4, batch_size=50, rng=0, log=False)
    assert hist["loss"][-1] < 0.5 * hist["loss"][0]
    with no_grad():
        acc = np.mean(model(X[800:], M[800:]).argmax(1) == y[800:])
    assert acc > 0.9, acc
    with pytest.raises(ValueError, match="X, mask, y"):
        train_documents(model, X, M, y[:-1], epochs=1)
