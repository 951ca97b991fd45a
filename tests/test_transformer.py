"""Chapter 13: attention and the transformer against torch.nn (float64, CPU) and finite differences."""
import warnings

import numpy as np
import pytest
import torch

from dlbook.gradcheck import gradcheck
from dlbook.nn import LayerNorm, Module, get_num_threads, no_grad, parallel_for, set_num_threads
from dlbook.transformer import (
    MultiheadAttention,
    PositionalEncoding,
    PositionwiseFeedForward,
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
    causal_mask,
    scaled_dot_product_attention,
)

TOL = 1e-10


def _load(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()}, strict=True)


def _t(a, grad=False):
    return torch.tensor(a, requires_grad=grad)


def _close(a, b, tol=TOL):
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else b
    assert a.shape == b.shape
    assert np.max(np.abs(a - b), initial=0.0) < tol, np.max(np.abs(a - b))


def _param_grads_match(ours, theirs, tol=TOL):
    tgrads = {n: p.grad for n, p in theirs.named_parameters()}
    names = [n for n, _ in ours.named_parameters()]
    assert sorted(names) == sorted(tgrads)
    for n, p in ours.named_parameters():
        _close(p.grad, tgrads[n], tol)


class Call(Module):
    """A module whose forward calls ``fn(*inputs)`` and whose backward is ``back(g)``: adapts a
    layer with keyword arguments (masks) to gradcheck's positional interface."""

    def __init__(self, inner, fn, back=None):
        self.inner, self.fn = inner, fn
        self.back = back or inner.backward

    def forward(self, *inputs):
        return self.fn(*inputs)

    def backward(self, g):
        return self.back(g)


# ---------------------------------------------------------------------------- attention function

@pytest.mark.parametrize("mask_kind", ["none", "bool", "float", "causal"])
def test_scaled_dot_product_attention_matches_torch(mask_kind):
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 6, 5))
    v = rng.standard_normal((2, 3, 6, 7))
    kw = {}
    if mask_kind == "bool":
        m = rng.random((4, 6)) > 0.3
        m[:, 0] = True
        kw = {"attn_mask": m}
    elif mask_kind == "float":
        kw = {"attn_mask": rng.standard_normal((4, 6))}
    elif mask_kind == "causal":
        kw = {"is_causal": True}
    ours = scaled_dot_product_attention(q, k, v, **kw)
    theirs = torch.nn.functional.scaled_dot_product_attention(
        _t(q), _t(k), _t(v), **{n: (_t(a) if n == "attn_mask" else a) for n, a in kw.items()})
    _close(ours, theirs)


def test_scaled_dot_product_attention_bad_input():
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match="attn_mask"):
        scaled_dot_product_attention(x, x, x, attn_mask=np.ones((2, 2), bool))
    with pytest.raises(ValueError, match="query, key, value"):
        scaled_dot_product_attention(x, np.zeros((3, 5)), x)


# ---------------------------------------------------------------------------- multi-head attention

def _mha_pair(E=8, h=2, batch_first=False, bias=True, seed=0):
    torch.manual_seed(seed)
    theirs = torch.nn.MultiheadAttention(E, h, bias=bias, batch_first=batch_first, dtype=torch.float64)
    ours = MultiheadAttention(E, h, bias=bias, batch_first=batch_first)
    _load(ours, theirs)
    return ours, theirs


def test_mha_state_dict_keys_as_torch():
    ours, theirs = _mha_pair()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours, theirs = _mha_pair(bias=False)
    assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("kind", ["self", "cross"])
@pytest.mark.parametrize("masks", ["none", "causal_bool", "padding_bool", "both_float", "per_head"])
def test_mha_matches_torch(batch_first, kind, masks):
    E, h, N, L = 8, 2, 3, 4
    S = L if kind == "self" else 5
    ours, theirs = _mha_pair(E, h, batch_first)
    rng = np.random.default_rng(1)
    shape = (lambda T: (N, T, E)) if batch_first else (lambda T: (T, N, E))
    q = rng.standard_normal(shape(L))
    kv = q if kind == "self" else rng.standard_normal(shape(S))
    kw = {}
    kpm = np.zeros((N, S), bool)
    kpm[0, -2:] = True
    kpm[2, -1] = True
    if masks == "causal_bool":
        kw["attn_mask"] = np.triu(np.ones((L, S), bool), 1)
    elif masks == "padding_bool":
        kw["key_padding_mask"] = kpm
    elif masks == "both_float":
        causal = np.where(np.triu(np.ones((L, S), bool), 1), -np.inf, 0.0)
        kw["attn_mask"] = causal + rng.normal(0, .5, (L, S))
        kw["key_padding_mask"] = np.where(kpm, -np.inf, 0.0)
    elif masks == "per_head":
        m = rng.random((N * h, L, S)) < 0.3
        m[:, :, 0] = False
        kw["attn_mask"] = m
    tq = _t(q, True)
    tkv = tq if kind == "self" else _t(kv, True)
    t_out, t_w = theirs(tq, tkv, tkv, **{n: _t(a) for n, a in kw.items()}, average_attn_weights=False)
    out, w = ours(q, kv, kv, **kw, average_attn_weights=False)
    _close(out, t_out)
    _close(w, t_w)
    G = rng.standard_normal(out.shape)
    t_out.backward(_t(G))
    gq, gk, gv = ours.backward(G)
    if kind == "self":
        _close(gq + gk + gv, tq.grad)
    else:
        _close(gq, tq.grad)
        _close(gk + gv, tkv.grad)
    _param_grads_match(ours, theirs)
    # averaged weights as PyTorch's default
    _, t_wavg = theirs(_t(q), _t(kv), _t(kv), **{n: _t(a) for n, a in kw.items()})
    _close(ours(q, kv, kv, **kw)[1], t_wavg)


def test_mha_unbatched_and_no_bias_match_torch():
    ours, theirs = _mha_pair(bias=False)
    rng = np.random.default_rng(2)
    q, k = rng.standard_normal((4, 8)), rng.standard_normal((6, 8))
    tq, tk = _t(q, True), _t(k, True)
    t_out, t_w = theirs(tq, tk, tk, key_padding_mask=_t(np.array([0, 0, 0, 0, 1, 1], bool)))
    out, w = ours(q, k, k, key_padding_mask=np.array([0, 0, 0, 0, 1, 1], bool))
    _close(out, t_out)
    _close(w, t_w)
    G = rng.standard_normal(out.shape)
    t_out.backward(_t(G))
    gq, gk, gv = ours.backward(G)
    _close(gq, tq.grad)
    _close(gk + gv, tk.grad)
    _param_grads_match(ours, theirs)


@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_gradcheck_cross_and_self(batch_first):
    m = MultiheadAttention(6, 3, batch_first=batch_first, rng=0)
    rng = np.random.default_rng(3)
    q, k, v = rng.standard_normal((3, 2, 6)), rng.standard_normal((4, 2, 6)), rng.standard_normal((4, 2, 6))
    if batch_first:
        q, k, v = (np.ascontiguousarray(np.swapaxes(a, 0, 1)) for a in (q, k, v))
    kpm = np.array([[0, 0, 0, 1], [0, 0, 0, 0]], bool)
    cross = Call(m, lambda a, b, c: m(a, b, c, key_padding_mask=kpm)[0])
    assert gradcheck(cross, q, k, v, wrt=(0, 1, 2)) < 1e-6
    x = q
    selfatt = Call(m, lambda a: m(a, a, a, attn_mask=causal_mask(3))[0], lambda g: sum(m.backward(g)))
    assert gradcheck(selfatt, x) < 1e-6


def test_mha_dropout_gradient_with_fixed_masks():
    m = MultiheadAttention(4, 2, dropout=0.3, batch_first=True, rng=0)
    x = np.random.default_rng(4).standard_normal((2, 5, 4))

    def fwd(a):
        m.rng = np.random.default_rng(7)            # the same dropout mask on every call
        return m(a, a, a)[0]
    assert gradcheck(Call(m, fwd, lambda g: sum(m.backward(g))), x) < 1e-6
    m.eval()
    out_eval = m(x, x, x)[0]
    m.backward(np.zeros_like(out_eval))
    m.train()
    m2 = MultiheadAttention(4, 2, dropout=0.0, batch_first=True, rng=0)
    _close(out_eval, m2(x, x, x)[0])


def test_masked_weights_exactly_zero_and_causality():
    m = MultiheadAttention(8, 2, batch_first=True, rng=1)
    x = np.random.default_rng(5).standard_normal((2, 6, 8))
    kpm = np.zeros((2, 6), bool)
    kpm[1, 4:] = True
    out, w = m(x, x, x, attn_mask=causal_mask(6), key_padding_mask=kpm, average_attn_weights=False)
    assert np.all(w[..., np.triu_indices(6, 1)[0], np.triu_indices(6, 1)[1]] == 0.0)
    assert np.all(w[1, :, :, 4:] == 0.0)
    assert np.allclose(w.sum(-1), 1.0)
    # a row with every key masked gets zero weights, not NaN, and no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, w2 = m(x, x, x, key_padding_mask=np.ones((2, 6), bool))
    assert np.all(w2 == 0.0)


def test_decoder_is_causal():
    model = Transformer(16, 4, 2, 2, 32, dropout=0.0, batch_first=True, rng=0)
    rng = np.random.default_rng(6)
    src, tgt = rng.standard_normal((2, 5, 16)), rng.standard_normal((2, 7, 16))
    with no_grad():
        base = model(src, tgt, tgt_mask=causal_mask(7))
        for t in range(7):
            changed = tgt.copy()
            changed[:, t] = rng.standard_normal((2, 16))
            out = model(src, changed, tgt_mask=causal_mask(7))
            assert np.array_equal(out[:, :t], base[:, :t])      # the past is untouched
            assert np.abs(out[:, t] - base[:, t]).max() > 1e-6  # the present does see it
        unmasked = model(src, changed)
    assert np.abs(unmasked[:, :6] - base[:, :6]).max() > 1e-6


def test_mha_bad_input():
    with pytest.raises(ValueError, match="embed_dim: must be divisible by num_heads=3"):
        MultiheadAttention(8, 3)
    m = MultiheadAttention(8, 2)
    x = np.zeros((4, 2, 8))
    with pytest.raises(ValueError, match=r"attn_mask: expected shape \(4, 4\) or \(4, 4, 4\)"):
        m(x, x, x, attn_mask=np.zeros((3, 4), bool))
    with pytest.raises(ValueError, match="key_padding_mask: expected shape"):
        m(x, x, x, key_padding_mask=np.zeros((4, 2), bool))
    with pytest.raises(ValueError, match="query: expected shape"):
        m(np.zeros((4, 2, 6)), x, x)
    with pytest.raises(TypeError, match="attn_mask"):
        m(x, x, x, attn_mask=np.zeros((4, 4), int))
    with pytest.raises(RuntimeError, match="MultiheadAttention.backward"):
        MultiheadAttention(8, 2).backward(x)


# ---------------------------------------------------------------------------- layer norm, PE, FFN

@pytest.mark.parametrize("shape", [(6,), (3, 6)])
def test_layernorm_matches_torch_and_gradcheck(shape):
    rng = np.random.default_rng(7)
    theirs = torch.nn.LayerNorm(shape, eps=1e-5, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.normal_()
        theirs.bias.normal_()
    ours = LayerNorm(shape)
    _load(ours, theirs)
    x = rng.standard_normal((4,) + (2,) * (len(shape) == 1) + shape) * 3 + 1
    tx = _t(x, True)
    t_out = theirs(tx)
    out = ours(x)
    _close(out, t_out)
    G = rng.standard_normal(out.shape)
    t_out.backward(_t(G))
    _close(ours.backward(G), tx.grad)
    _param_grads_match(ours, theirs)
    assert gradcheck(ours, x) < 1e-6
    with pytest.raises(ValueError, match="x: expected a shape ending in"):
        ours(np.zeros((4, 5)))


def test_layernorm_without_affine():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 5))
    ln = LayerNorm(5, elementwise_affine=False)
    assert list(ln.state_dict()) == []
    _close(ln(x), torch.nn.functional.layer_norm(_t(x), (5,)))
    assert gradcheck(ln, x) < 1e-6


def test_positional_encoding_formula_and_length_error():
    d = 6
    pe = PositionalEncoding(d, max_len=20)
    for p in (0, 3, 19):
        for i in range(d // 2):
            assert pe.pe[p, 2 * i] == pytest.approx(np.sin(p / 10000 ** (2 * i / d)), abs=1e-12)
            assert pe.pe[p, 2 * i + 1] == pytest.approx(np.cos(p / 10000 ** (2 * i / d)), abs=1e-12)
    odd = PositionalEncoding(5, max_len=4).pe
    assert odd.shape == (4, 5) and odd[2, 4] == pytest.approx(np.sin(2 / 10000 ** (4 / 5)))
    x = np.zeros((21, 2, d))
    with pytest.raises(ValueError, match="sequence length 21 exceeds max_len=20"):
        pe(x)
    y = PositionalEncoding(d, max_len=30, batch_first=True)(np.zeros((2, 21, d)))
    assert np.array_equal(y[1], PositionalEncoding(d, max_len=30).pe[:21])
    assert gradcheck(PositionalEncoding(d), np.random.default_rng(0).standard_normal((3, 2, d))) < 1e-8


def test_ffn_gradcheck_and_formula():
    ffn = PositionwiseFeedForward(4, 7, rng=0)
    z = np.random.default_rng(9).standard_normal((2, 3, 4))
    w1, b1 = ffn.linear1.weight.data, ffn.linear1.bias.data
    w2, b2 = ffn.linear2.weight.data, ffn.linear2.bias.data
    _close(ffn(z), np.maximum(0, z @ w1.T + b1) @ w2.T + b2)
    ffn.backward(np.zeros((2, 3, 4)))
    assert gradcheck(ffn, z) < 1e-6


# ---------------------------------------------------------------------------- layers and stacks

@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_matches_torch(norm_first, batch_first):
    E, h, N, L = 8, 2, 3, 5
    torch.manual_seed(1)
    theirs = torch.nn.TransformerEncoderLayer(E, h, 16, dropout=0.0, norm_first=norm_first,
                                              batch_first=batch_first, dtype=torch.float64)
    ours = TransformerEncoderLayer(E, h, 16, dropout=0.0, norm_first=norm_first, batch_first=batch_first)
    _load(ours, theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    rng = np.random.default_rng(10)
    x = rng.standard_normal((N, L, E) if batch_first else (L, N, E))
    kpm = np.zeros((N, L), bool)
    kpm[1, -2:] = True
    tx = _t(x, True)
    t_out = theirs(tx, src_key_padding_mask=_t(kpm))
    out = ours(x, src_key_padding_mask=kpm)
    _close(out, t_out)
    G = rng.standard_normal(out.shape)
    t_out.backward(_t(G))
    _close(ours.backward(G), tx.grad)
    _param_grads_match(ours, theirs)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_gradcheck(norm_first):
    layer = TransformerEncoderLayer(4, 2, 6, dropout=0.0, norm_first=norm_first, activation="gelu", rng=0)
    x = np.random.default_rng(11).standard_normal((3, 2, 4))
    f = Call(layer, lambda a: layer(a, src_mask=causal_mask(3)))
    assert gradcheck(f, x) < 1e-6


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_torch_and_gradcheck(norm_first):
    E, h, N, T, S = 8, 2, 2, 4, 5
    torch.manual_seed(2)
    theirs = torch.nn.TransformerDecoderLayer(E, h, 16, dropout=0.0, norm_first=norm_first, batch_first=True,
                                              dtype=torch.float64)
    ours = TransformerDecoderLayer(E, h, 16, dropout=0.0, norm_first=norm_first, batch_first=True)
    _load(ours, theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    rng = np.random.default_rng(12)
    y, mem = rng.standard_normal((N, T, E)), rng.standard_normal((N, S, E))
    mkpm = np.array([[0, 0, 0, 0, 1], [0, 0, 0, 0, 0]], bool)
    ty, tm = _t(y, True), _t(mem, True)
    t_out = theirs(ty, tm, tgt_mask=_t(causal_mask(T)), memory_key_padding_mask=_t(mkpm))
    out = ours(y, mem, tgt_mask=causal_mask(T), memory_key_padding_mask=mkpm)
    _close(out, t_out)
    G = rng.standard_normal(out.shape)
    t_out.backward(_t(G))
    gy, gm = ours.backward(G)
    _close(gy, ty.grad)
    _close(gm, tm.grad)
    _param_grads_match(ours, theirs)
    small = TransformerDecoderLayer(4, 2, 6, dropout=0.0, norm_first=norm_first, batch_first=True, rng=0)
    f = Call(small, lambda a, b: small(a, b, tgt_mask=causal_mask(3)))
    assert gradcheck(f, y[:, :3, :4].copy(), mem[:, :, :4].copy(), wrt=(0, 1)) < 1e-6


@pytest.mark.parametrize("norm_first", [False, True])
def test_two_layer_transformer_matches_torch(norm_first):
    E, h, N, S, T = 8, 2, 3, 6, 5
    torch.manual_seed(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # PyTorch's note on nested tensors
        theirs = torch.nn.Transformer(E, h, 2, 2, 16, dropout=0.0, norm_first=norm_first, dtype=torch.float64)
    ours = Transformer(E, h, 2, 2, 16, dropout=0.0, norm_first=norm_first)
    _load(ours, theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    rng = np.random.default_rng(13)
    src, tgt = rng.standard_normal((S, N, E)), rng.standard_normal((T, N, E))
    skpm = np.zeros((N, S), bool)
    skpm[0, -2:] = True
    tkpm = np.zeros((N, T), bool)
    tkpm[2, -1] = True
    masks = dict(tgt_mask=np.triu(np.ones((T, T), bool), 1), src_key_padding_mask=skpm,
                 tgt_key_padding_mask=tkpm, memory_key_padding_mask=skpm)
    ts, tt = _t(src, True), _t(tgt, True)
    t_out = theirs(ts, tt, **{n: _t(a) for n, a in masks.items()})
    out = ours(src, tgt, **masks)
    _close(out, t_out)
    G = rng.standard_normal(out.shape)
    t_out.backward(_t(G))
    gs, gt = ours.backward(G)
    _close(gs, ts.grad)
    _close(gt, tt.grad)
    _param_grads_match(ours, theirs)
    theirs_mask = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64).numpy()
    assert np.array_equal(Transformer.generate_square_subsequent_mask(T), theirs_mask)


def test_transformer_gradcheck_end_to_end():
    model = Transformer(4, 2, 2, 2, 6, dropout=0.0, batch_first=True, rng=0)
    rng = np.random.default_rng(14)
    src, tgt = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    f = Call(model, lambda a, b: model(a, b, tgt_mask=causal_mask(3)))
    assert gradcheck(f, src, tgt, wrt=(0, 1)) < 1e-6


def test_stacks_have_independent_layers_and_torch_keys():
    enc = TransformerEncoder(TransformerEncoderLayer(8, 2, 16, dropout=0.1), 3, LayerNorm(8))
    keys = list(enc.state_dict())
    assert keys[0] == "layers.0.self_attn.in_proj_weight" and keys[-1] == "norm.bias"
    assert enc.layers[0].self_attn is not enc.layers[1].self_attn
    dec = TransformerDecoder(TransformerDecoderLayer(8, 2, 16), 2)
    assert "layers.1.multihead_attn.out_proj.weight" in dec.state_dict()
    with pytest.raises(ValueError, match="num_layers"):
        TransformerEncoder(TransformerEncoderLayer(8, 2), 0)
    with pytest.raises(ValueError, match="activation"):
        TransformerEncoderLayer(8, 2, activation="tanh")
    model = Transformer(8, 2, 1, 1, 16)
    with pytest.raises(ValueError, match="src, tgt: expected the same batch size"):
        model(np.zeros((3, 2, 8)), np.zeros((3, 4, 8)))
    with pytest.raises(ValueError, match="d_model=8"):
        model(np.zeros((3, 2, 6)), np.zeros((3, 2, 6)))


# ---------------------------------------------------------------------------- one module, two calls

def _twice_matches_torch(twice, ours, theirs, x1, x2, t1, t2, t_out, rng):
    """Forward and backward of ``twice`` (one module called on x1 and x2) equal torch's, and the
    parameters' gradients equal torch's, accumulated over the two calls. Returns the output
    gradient used."""
    out = twice(x1, x2)
    _close(out, t_out)
    G = rng.standard_normal(out.shape)
    t_out.backward(_t(G))
    g1, g2 = twice.backward(G)
    _close(g1, t1.grad)
    _close(g2, t2.grad)
    _param_grads_match(ours, theirs)
    return G

class _MHATwice(Module):
    """One MultiheadAttention called twice in one forward: self-attention on x1 (the fused path),
    then cross-attention with queries x2 and keys/values x1; backward in reverse order."""

    def __init__(self, mha):
        self.mha = mha

    def forward(self, x1, x2):
        a, _ = self.mha(x1, x1, x1)
        b, _ = self.mha(x2, x1, x1, need_weights=False)
        self.split = a.shape[1]
        return np.concatenate([a, b], axis=1)

    def backward(self, g):
        gq2, gk2, gv2 = self.mha.backward(g[:, self.split:])        # the latest call first
        gq1, gk1, gv1 = self.mha.backward(g[:, :self.split])
        return gq1 + gk1 + gv1 + gk2 + gv2, gq2


def test_mha_used_twice_in_one_forward_gradcheck_and_torch():
    rng = np.random.default_rng(21)
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=True, dtype=torch.float64)
    ours = MultiheadAttention(8, 2, batch_first=True)
    _load(ours, theirs)
    x1, x2 = rng.standard_normal((2, 5, 8)), rng.standard_normal((2, 3, 8))
    t1, t2 = _t(x1, True), _t(x2, True)
    ta, _ = theirs(t1, t1, t1)
    tb, _ = theirs(t2, t1, t1)
    G = _twice_matches_torch(_MHATwice(ours), ours, theirs, x1, x2, t1, t2, torch.cat([ta, tb], dim=1), rng)
    with pytest.raises(RuntimeError):                # both pending calls were consumed
        ours.backward(G[:, :5])
    errs = gradcheck(_MHATwice(MultiheadAttention(8, 2, batch_first=True, rng=3)), x1, x2,
                     wrt=(0, 1), return_errors=True)
    assert max(errs.values()) < 1e-6, errs


class _LNTwice(Module):
    def __init__(self, ln):
        self.ln = ln

    def forward(self, x1, x2):
        return np.concatenate([self.ln(x1), self.ln(x2)], axis=0)

    def backward(self, g):
        g2 = self.ln.backward(g[len(g) // 2:])
        return self.ln.backward(g[:len(g) // 2]), g2


def test_layernorm_used_twice_in_one_forward_gradcheck_and_torch():
    rng = np.random.default_rng(22)
    theirs = torch.nn.LayerNorm(6, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.normal_()
        theirs.bias.normal_()
    ours = LayerNorm(6)
    _load(ours, theirs)
    x1, x2 = rng.standard_normal((2, 4, 6)) * 2 + 1, rng.standard_normal((2, 4, 6)) - 3
    t1, t2 = _t(x1, True), _t(x2, True)
    _twice_matches_torch(_LNTwice(ours), ours, theirs, x1, x2, t1, t2,
                         torch.cat([theirs(t1), theirs(t2)], dim=0), rng)
    errs = gradcheck(_LNTwice(ours), x1, x2, wrt=(0, 1), return_errors=True)
    assert max(errs.values()) < 1e-6, errs


def _mha_pass(threads, seed=0):
    """Forward and backward of a training-mode MHA (dropout, padding and causal masks) with
    ``threads`` threads in parallel_for: the outputs, weights and every gradient."""
    old = get_num_threads()
    set_num_threads(threads)
    try:
        mha = MultiheadAttention(8, 2, dropout=0.3, batch_first=True, rng=seed)
        rng = np.random.default_rng(seed + 1)
        q, kv = rng.standard_normal((5, 4, 8)), rng.standard_normal((5, 6, 8))
        pad = np.zeros((5, 6), bool)
        pad[1, 4:] = pad[3, 2:] = True
        out, w = mha(q, kv, kv, key_padding_mask=pad, attn_mask=causal_mask(6)[:4],
                     average_attn_weights=False)
        grads = mha.backward(rng.standard_normal(out.shape))
        return [out, w, *grads] + [p.grad.copy() for p in mha.parameters()]
    finally:
        set_num_threads(old)


def test_mha_threads_give_the_same_result():
    """Any number of threads: the same output, weights and gradients (to rounding: the weight
    gradients are sums over chunks, and BLAS may round a product of fewer rows differently)."""
    one = _mha_pass(1)
    for threads in (2, 3, 8):                      # uneven chunks; more threads than sequences
        for a, b in zip(one, _mha_pass(threads)):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_parallel_for_covers_every_row_once_and_raises_errors():
    old = get_num_threads()
    set_num_threads(3)
    try:
        seen = np.zeros(10, int)

        def mark(b):
            seen[b] += 1
            inner = []
            parallel_for(lambda c: inner.append(c), 4)          # nested: runs directly
            assert inner == [slice(0, 4)]

        parallel_for(mark, 10)
        assert np.all(seen == 1)

        def fail(b):
            if b.start > 0:
                raise RuntimeError("chunk failed")

        with pytest.raises(RuntimeError, match="chunk failed"):
            parallel_for(fail, 9)
    finally:
        set_num_threads(old)
    with pytest.raises(ValueError):
        set_num_threads(0)


def test_mha_work_arrays_do_not_leak_between_calls():
    """MultiheadAttention keeps its large work arrays for the next pass (dlbook.nn.recycle):
    interleaved pending calls, a no_grad call in between, and weights already returned must not
    be disturbed. Sizes above the 1 MiB a kept array needs."""
    N, L, E, h = 16, 64, 64, 4                       # scores: 16·4·64·64 float64 = 2 MiB
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((N, L, E)) for _ in range(3)]
    gs = [rng.standard_normal((N, L, E)) for _ in range(2)]

    def alone(i):
        m = MultiheadAttention(E, h, batch_first=True, rng=1)
        out, w = m(xs[i], xs[i], xs[i], average_attn_weights=False)
        dx = sum(m.backward(gs[i]))
        return out, w, dx, m.in_proj_weight.grad.copy()

    m = MultiheadAttention(E, h, batch_first=True, rng=1)
    out0, w0 = m(xs[0], xs[0], xs[0], average_attn_weights=False)
    out1, w1 = m(xs[1], xs[1], xs[1], average_attn_weights=False)
    with no_grad():
        m(xs[2], xs[2], xs[2])
    dx1 = sum(m.backward(gs[1]))
    w1_before = w1.copy()
    dx0 = sum(m.backward(gs[0]))
    m(xs[2], xs[2], xs[2])                           # reuses the kept arrays
    ref0, ref1 = alone(0), alone(1)
    for got, ref in ((out0, ref0[0]), (w0, ref0[1]), (dx0, ref0[2]), (out1, ref1[0]), (dx1, ref1[2])):
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(w1, w1_before)
    np.testing.assert_allclose(m.in_proj_weight.grad, ref0[3] + ref1[3], rtol=0, atol=1e-12)
