"""Tests of dlbook.rnn (chapter 11): gradient checks, PyTorch parity, the notes' variants, bad input."""
import numpy as np
import pytest
import torch

from dlbook.gradcheck import gradcheck
from dlbook.nn import Embedding, Module
from dlbook.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, clip_grad_norm_


@pytest.fixture(autouse=True)
def _torch_float64():
    """PyTorch modules built in these tests are float64; the default is restored afterwards."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


class Flat(Module):
    """Test wrapper: runs a recurrent module and returns every output flattened into one vector,
    so gradcheck's J = Σ G ⊙ output covers the output sequence and the final states."""

    def __init__(self, inner, lstm, with_state):
        self.inner, self.lstm, self.with_state = inner, lstm, with_state

    def forward(self, x, *states):
        hx = None
        if self.with_state:
            hx = tuple(states) if self.lstm else states[0]
        res = self.inner(x, hx)
        parts = res if isinstance(res, tuple) else (res,)
        flat = []
        for p in parts:
            flat.extend(p if isinstance(p, tuple) else (p,))
        self.shapes = [np.shape(p) for p in flat]
        return np.concatenate([np.ravel(p) for p in flat])

    def backward(self, g):
        pieces, k = [], 0
        for s in self.shapes:
            n = int(np.prod(s))
            pieces.append(g[k:k + n].reshape(s))
            k += n
        cell = not hasattr(self.inner, "num_layers")
        if cell:
            args = (pieces[0], pieces[1]) if self.lstm else (pieces[0],)
        else:
            args = (pieces[0], (pieces[1], pieces[2]) if self.lstm else pieces[1])
        res = self.inner.backward(*args)
        if not self.with_state:
            return res
        dx, dstate = res
        return (dx,) + (tuple(dstate) if self.lstm else (dstate,))


LAYERS = {"rnn_tanh": (RNN, dict(nonlinearity="tanh"), torch.nn.RNN),
          "rnn_relu": (RNN, dict(nonlinearity="relu"), torch.nn.RNN),
          "lstm": (LSTM, {}, torch.nn.LSTM), "gru": (GRU, {}, torch.nn.GRU)}
CELLS = {"rnn_tanh": (RNNCell, dict(nonlinearity="tanh"), torch.nn.RNNCell),
         "rnn_relu": (RNNCell, dict(nonlinearity="relu"), torch.nn.RNNCell),
         "lstm": (LSTMCell, {}, torch.nn.LSTMCell), "gru": (GRUCell, {}, torch.nn.GRUCell)}


def _states(rng, kind, shape):
    h = rng.standard_normal(shape) * 0.5
    return (h, rng.standard_normal(shape) * 0.5) if kind == "lstm" else (h,)


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("num_layers,bidirectional,batch_first,with_state",
                         [(1, False, False, False), (2, True, True, True), (2, False, False, True),
                          (1, True, False, False)])
def test_layer_torch_parity(kind, num_layers, bidirectional, batch_first, with_state):
    cls, kw, tcls = LAYERS[kind]
    I, H, T, N = 3, 4, 5, 2
    rng = np.random.default_rng(1)
    ours = cls(I, H, num_layers=num_layers, bias=True, batch_first=batch_first,
               bidirectional=bidirectional, rng=0, **kw)
    ref = tcls(I, H, num_layers=num_layers, batch_first=batch_first, bidirectional=bidirectional, **kw)
    ours.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()}, strict=True)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    D = 2 if bidirectional else 1
    x = rng.standard_normal((N, T, I) if batch_first else (T, N, I))
    states = _states(rng, kind, (num_layers * D, N, H)) if with_state else ()
    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s, requires_grad=True) for s in states]
    hx_t = (tuple(st) if kind == "lstm" else st[0]) if with_state else None
    out_t, hn_t = ref(xt, hx_t)
    hn_t = hn_t if isinstance(hn_t, tuple) else (hn_t,)
    hx = (tuple(states) if kind == "lstm" else states[0]) if with_state else None
    out, hn = ours(x, hx)
    hn = hn if isinstance(hn, tuple) else (hn,)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    for a, b in zip(hn, hn_t):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-10, atol=1e-12)
    g_out = rng.standard_normal(out.shape)
    g_hn = [rng.standard_normal(a.shape) for a in hn]
    loss = (out_t * torch.tensor(g_out)).sum() + sum((a * torch.tensor(g)).sum() for a, g in zip(hn_t, g_hn))
    loss.backward()
    res = ours.backward(g_out, tuple(g_hn) if kind == "lstm" else g_hn[0])
    dx, dstate = res if with_state else (res, None)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    if with_state:
        dstate = dstate if kind == "lstm" else (dstate,)
        for a, b in zip(dstate, st):
            np.testing.assert_allclose(a, b.grad.numpy(), rtol=1e-9, atol=1e-11)
    tp = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, tp[name].grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=name)


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("with_state", [False, True])
def test_cell_torch_parity_over_time(kind, with_state):
    """A cell called at every step of a hand-written loop accumulates the right gradients (BPTT)."""
    cls, kw, tcls = CELLS[kind]
    I, H, T, N = 3, 4, 4, 2
    rng = np.random.default_rng(2)
    ours, ref = cls(I, H, rng=0, **kw), tcls(I, H, **kw)
    ours.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()}, strict=True)
    xs = rng.standard_normal((T, N, I))
    states = _states(rng, kind, (N, H)) if with_state else None
    hx = (tuple(states) if kind == "lstm" else states[0]) if with_state else None
    xt = torch.tensor(xs, requires_grad=True)
    st = [torch.tensor(s, requires_grad=True) for s in states] if with_state else None
    hxt = (tuple(st) if kind == "lstm" else st[0]) if with_state else None
    G = rng.standard_normal((T, N, H))
    loss, h_ours = 0, []
    for t in range(T):
        hxt = ref(xt[t], hxt)
        ht = hxt[0] if kind == "lstm" else hxt
        loss = loss + (ht * torch.tensor(G[t])).sum()
        hx = ours(xs[t], hx)
        h_ours.append(hx[0] if kind == "lstm" else hx)
        np.testing.assert_allclose(h_ours[-1], ht.detach().numpy(), rtol=1e-10, atol=1e-12)
    loss.backward()
    dh = np.zeros((N, H))
    dc = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        g = G[t] + dh
        res = ours.backward(g, dc) if kind == "lstm" else ours.backward(g)
        if t == 0 and not with_state:
            dx = res
        else:
            dx, ds = res
            if kind == "lstm":
                dh, dc = ds
            else:
                dh = ds
        np.testing.assert_allclose(dx, xt.grad[t].numpy(), rtol=1e-9, atol=1e-11)
    tp = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, tp[name].grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=name)
    if with_state:
        for a, b in zip(ds if kind == "lstm" else (ds,), st):
            np.testing.assert_allclose(a, b.grad.numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("kind,variant", [("rnn_tanh", "standard"), ("rnn_relu", "standard"),
                                          ("lstm", "standard"), ("lstm", "notes"),
                                          ("gru", "standard"), ("gru", "notes")])
def test_layer_gradcheck(kind, variant):
    cls, kw, _ = LAYERS[kind]
    if variant == "notes":
        kw = dict(kw, variant="notes")
    rng = np.random.default_rng(3)
    m = cls(2, 3, num_layers=2, bidirectional=True, rng=4, **kw)
    x = rng.standard_normal((4, 2, 2))
    states = _states(rng, kind, (4, 2, 3))
    f = Flat(m, kind == "lstm", True)
    err = gradcheck(f, x, *states, wrt=tuple(range(1 + len(states))))
    assert err < 1e-6, err


@pytest.mark.parametrize("kind,variant", [("rnn_tanh", "standard"), ("lstm", "standard"),
                                          ("lstm", "notes"), ("gru", "standard"), ("gru", "notes")])
def test_cell_gradcheck(kind, variant):
    cls, kw, _ = CELLS[kind]
    if variant == "notes":
        kw = dict(kw, variant="notes")
    rng = np.random.default_rng(5)
    m = cls(3, 2, rng=6, **kw)
    x = rng.standard_normal((2, 3))
    states = _states(rng, kind, (2, 2))
    err = gradcheck(Flat(m, kind == "lstm", True), x, *states, wrt=tuple(range(1 + len(states))))
    assert err < 1e-6, err


def _sig(a):
    return 1 / (1 + np.exp(-a))


def test_lstm_notes_variant_is_the_notes_equations():
    """Direct transcription of the notes' §11.3 equations, one example at a time."""
    rng = np.random.default_rng(7)
    n, d, T = 3, 4, 5
    m = LSTM(n, d, variant="notes", rng=8)
    x = rng.standard_normal((T, 1, n))
    out, (h_n, c_n) = m(x)
    Wih, Whh = m.weight_ih_l0.data, m.weight_hh_l0.data
    b = m.bias_ih_l0.data + m.bias_hh_l0.data
    blk = lambda A, k: A[k * d:(k + 1) * d]
    U_i, U_f, U, U_o = (blk(Wih, k) for k in range(4))
    W_i, W_f, W, W_o = (blk(Whh, k) for k in range(4))
    b_i, b_f, b_, b_o = (blk(b, k) for k in range(4))
    h, s = np.zeros(d), np.zeros(d)
    for t in range(T):
        xt = x[t, 0]
        o = _sig(W_o @ h + U_o @ xt + b_o)
        i = _sig(W_i @ h + U_i @ xt + b_i)
        f = _sig(W_f @ h + U_f @ xt + b_f)
        s_tilde = _sig(W @ h + U @ xt + b_)
        s = f * s + i * s_tilde
        h = o * _sig(s)
        np.testing.assert_allclose(out[t, 0], h, rtol=1e-12)
    np.testing.assert_allclose(c_n[0, 0], s, rtol=1e-12)
    # and it is not PyTorch's LSTM
    std = LSTM(n, d, rng=8)
    assert np.abs(std(x)[0] - out).max() > 1e-3


def test_gru_notes_variant_is_the_notes_equations():
    rng = np.random.default_rng(9)
    n, d, T = 3, 4, 5
    m = GRU(n, d, variant="notes", rng=10)
    x = rng.standard_normal((T, 1, n))
    out, h_n = m(x)
    Wih, Whh = m.weight_ih_l0.data, m.weight_hh_l0.data
    bih, bhh = m.bias_ih_l0.data, m.bias_hh_l0.data
    blk = lambda A, k: A[k * d:(k + 1) * d]
    s = np.zeros(d)
    for t in range(T):
        xt = x[t, 0]
        o = _sig(blk(Whh, 0) @ s + blk(Wih, 0) @ xt + blk(bih, 0) + blk(bhh, 0))
        i = _sig(blk(Whh, 1) @ s + blk(Wih, 1) @ xt + blk(bih, 1) + blk(bhh, 1))
        s_tilde = _sig(blk(Whh, 2) @ (o * s) + blk(Wih, 2) @ xt + blk(bih, 2) + blk(bhh, 2))
        s = (1 - i) * s + i * s_tilde
        np.testing.assert_allclose(out[t, 0], s, rtol=1e-12)
    np.testing.assert_allclose(h_n[0, 0], s, rtol=1e-12)
    assert np.abs(GRU(n, d, rng=10)(x)[0] - out).max() > 1e-3


def test_rnn_is_the_notes_recurrence():
    """s_i = tanh(U x_i + W s_{i-1} + b), the notes' §11.2 with σ = tanh."""
    rng = np.random.default_rng(11)
    m = RNN(3, 4, rng=12)
    x = rng.standard_normal((6, 3))                      # unbatched (T, input_size)
    out, h_n = m(x)
    s = np.zeros(4)
    U, W = m.weight_ih_l0.data, m.weight_hh_l0.data
    b = m.bias_ih_l0.data + m.bias_hh_l0.data
    for t in range(6):
        s = np.tanh(U @ x[t] + W @ s + b)
        np.testing.assert_allclose(out[t], s, rtol=1e-12)
    assert out.shape == (6, 4) and h_n.shape == (1, 4)


def test_dropout_between_layers_gradcheck_and_eval():
    m = LSTM(2, 3, num_layers=2, dropout=0.5, rng=13)
    x = np.random.default_rng(14).standard_normal((3, 2, 2))
    m.eval()
    a, b = m(x)[0], m(x)[0]
    np.testing.assert_array_equal(a, b)
    m.train()
    assert np.abs(m(x)[0] - a).max() > 0
    m.eval()
    assert gradcheck(Flat(m, True, False), x) < 1e-6


def test_embedding_torch_parity_and_padding():
    ref = torch.nn.Embedding(7, 3, padding_idx=2)
    ours = Embedding(7, 3, padding_idx=2, rng=0)
    assert np.all(ours.weight.data[2] == 0)
    ours.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    idx = np.array([[0, 2, 5], [5, 1, 2]])
    out = ours(idx)
    out_t = ref(torch.tensor(idx))
    np.testing.assert_array_equal(out, out_t.detach().numpy())
    g = np.random.default_rng(0).standard_normal(out.shape)
    (out_t * torch.tensor(g)).sum().backward()
    assert ours.backward(g) is None
    np.testing.assert_allclose(ours.weight.grad, ref.weight.grad.numpy(), rtol=1e-12)
    assert np.all(ours.weight.grad[2] == 0)
    assert gradcheck(Embedding(5, 2, rng=1), np.array([1, 1, 3]), wrt=()) < 1e-8


def test_embedding_bad_input():
    e = Embedding(4, 2, rng=0)
    with pytest.raises(TypeError, match="input: expected integer"):
        e(np.array([0.5]))
    with pytest.raises(ValueError, match=r"input: indices must lie in \[0, 4\)"):
        e(np.array([4]))
    with pytest.raises(ValueError, match="padding_idx"):
        Embedding(4, 2, padding_idx=4)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_torch_parity(norm_type, max_norm):
    rng = np.random.default_rng(15)
    m = LSTM(2, 3, rng=0)
    tp = [torch.nn.Parameter(torch.tensor(p.data)) for p in m.parameters()]
    for p, t in zip(m.parameters(), tp):
        p.grad[...] = rng.standard_normal(p.shape)
        t.grad = torch.tensor(p.grad.copy())
    total = clip_grad_norm_(m.parameters(), max_norm, norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type)
    assert total == pytest.approx(float(total_t), rel=1e-12)
    for p, t in zip(m.parameters(), tp):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_nonfinite():
    m = RNN(2, 2, rng=0)
    m.weight_hh_l0.grad[0, 0] = np.inf
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(m.parameters(), 1.0, error_if_nonfinite=True)


def test_bad_input():
    m = LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"input: expected shape \(T, N, 3\)"):
        m(np.zeros((5, 2, 4)))
    with pytest.raises(ValueError, match="length 0"):
        m(np.zeros((0, 2, 3)))
    with pytest.raises(ValueError, match=r"hx\[0\]: expected shape \(2, 2, 4\)"):
        m(np.zeros((5, 2, 3)), (np.zeros((1, 2, 4)), np.zeros((2, 2, 4))))
    with pytest.raises(ValueError, match=r"hx\[1\]: expected shape \(2, 2, 4\)"):
        m(np.zeros((5, 2, 3)), (np.zeros((2, 2, 4)), np.zeros((2, 3, 4))))   # inconsistent batch
    with pytest.raises(TypeError, match="hx: expected a pair"):
        m(np.zeros((5, 2, 3)), np.zeros((2, 2, 4)))
    g = GRU(3, 4, batch_first=True)
    with pytest.raises(ValueError, match=r"input: expected shape \(N, T, 3\)"):
        g(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"hx: expected shape \(1, 2, 4\)"):
        g(np.zeros((2, 5, 3)), np.zeros((1, 5, 4)))
    out, h = g(np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match=r"grad_output: expected shape \(2, 5, 4\)"):
        g.backward(np.zeros((5, 2, 4)))
    with pytest.raises(RuntimeError, match="no pending forward"):
        RNN(2, 2).backward(np.zeros((1, 1, 2)))
    with pytest.raises(ValueError, match="variant"):
        LSTM(2, 2, variant="paper")
    with pytest.raises(ValueError, match="nonlinearity"):
        RNN(2, 2, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size"):
        GRU(2, 0)
    c = LSTMCell(3, 4)
    with pytest.raises(ValueError, match=r"input: expected shape \(N, 3\)"):
        c(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"hx: expected shape \(2, 4\)"):
        c(np.zeros((2, 3)), (np.zeros((3, 4)), np.zeros((3, 4))))


def test_state_dict_loads_into_torch():
    ours = GRU(3, 5, num_layers=2, bidirectional=True, rng=0)
    ref = torch.nn.GRU(3, 5, num_layers=2, bidirectional=True)
    ref.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()}, strict=True)
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    np.testing.assert_allclose(ours(x)[0], ref(torch.tensor(x))[0].detach().numpy(), rtol=1e-10)


def test_float32_stays_float32():
    m = LSTM(3, 4, dtype=np.float32, rng=0)
    out, (h, c) = m(np.ones((2, 1, 3)))
    assert out.dtype == h.dtype == np.float32
    dx = m.backward(np.ones_like(out))
    assert dx.dtype == np.float32 and m.weight_hh_l0.grad.dtype == np.float32


def test_no_grad_keeps_nothing():
    from dlbook.nn import no_grad
    m = RNN(2, 3, rng=0)
    with no_grad():
        m(np.ones((4, 1, 2)))
    with pytest.raises(RuntimeError):
        m.backward(np.ones((4, 1, 3)))


@pytest.mark.parametrize("kind", [RNN, LSTM, GRU])
@pytest.mark.parametrize("batch", [1, 3])
def test_arguments_and_outputs_are_not_aliased(kind, batch):
    """BPTT works on copies: backward leaves grad_output untouched (also for a batch of one, where
    the transposed gradient is already contiguous), and changing the returned output in place
    after the forward pass does not change the gradients."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, batch, 2))
    g = rng.standard_normal((5, batch, 3))
    grads = []
    for scribble in (False, True):
        m = kind(2, 3, rng=0)
        out, _ = m(x)
        if scribble:
            out[...] = 7.0
        g_in = g.copy()
        dx = m.backward(g_in)
        np.testing.assert_array_equal(g_in, g)
        grads.append([dx] + [p.grad.copy() for p in m.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)


def test_lstm_float32_benchmark_shape_matches_torch():
    """The shapes of benchmarks/lstm.py in float32 against torch.nn.LSTM (forward and BPTT)."""
    T, N, I, H = 20, 64, 128, 256
    ours = LSTM(I, H, rng=0, dtype=np.float32)
    ref = torch.nn.LSTM(I, H, dtype=torch.float32)
    ref.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((T, N, I)).astype(np.float32)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    out, _ = ours(x)
    dx = ours.backward(np.ones_like(out))
    out_t, _ = ref(xt)
    out_t.backward(torch.ones_like(out_t))
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-3, atol=1e-4)
    for p, q in zip(ours.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("kind", [RNN, LSTM, GRU])
def test_recycled_work_arrays_do_not_leak_between_calls(kind):
    """The large work arrays are kept from one pass for the next (dlbook.nn.recycle): pending
    calls, calls under no_grad in between and other layers of the same shapes must not share
    them. Two interleaved calls (backward in reverse order) give what each call alone gives, and
    outputs and gradients already returned are not overwritten later."""
    from dlbook.nn import no_grad
    T, N, I, H = 40, 64, 8, 64                         # work arrays of more than 1 MiB
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((T, N, I)) for _ in range(3)]
    gs = [rng.standard_normal((T, N, H)) for _ in range(2)]

    def alone(x, g):
        m = kind(I, H, rng=0)
        out, _ = m(x)
        return out, m.backward(g), [p.grad.copy() for p in m.parameters()]

    def same(a, b):                                    # (the same arithmetic: equal up to rounding)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)

    want = [alone(x, g) for x, g in zip(xs, gs)]
    m, other = kind(I, H, rng=0), kind(I, H, rng=1)
    out0, _ = m(xs[0])
    out1, _ = m(xs[1])
    with no_grad():
        m(xs[2])
    other(xs[2])
    dx1 = m.backward(gs[1])
    grads1 = [p.grad.copy() for p in m.parameters()]
    other.backward(gs[0])
    m.zero_grad()
    dx0 = m.backward(gs[0])
    same(out0, want[0][0])
    same(out1, want[1][0])
    same(dx0, want[0][1])
    same(dx1, want[1][1])
    for got, ref in zip([p.grad for p in m.parameters()], want[0][2]):
        same(got, ref)
    for got, ref in zip(grads1, want[1][2]):
        same(got, ref)
    kept = dx1.copy()
    for _ in range(2):
        m(xs[2])
        m.backward(gs[0])
    same(dx1, kept)
