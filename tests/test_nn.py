"""Tests of dlbook.nn, dlbook.gradcheck and the optimizer base (chapter 4)."""
import warnings

import numpy as np
import pytest
import torch

from dlbook.gradcheck import gradcheck
from dlbook.nn import (
    CrossEntropyLoss,
    Identity,
    Linear,
    Module,
    MSELoss,
    Parameter,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    mlp,
)
from dlbook.optimizers import SGD, Optimizer
from dlbook.train import accuracy, evaluate, fit

torch.set_default_dtype(torch.float64)
RTOL = 1e-10


def rng(seed=0):
    return np.random.default_rng(seed)


def rel_err(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0), 1e-300)
    return float(np.max(np.abs(a - b), initial=0.0) / scale)


def t(x, grad=False):
    return torch.tensor(np.asarray(x), dtype=torch.float64, requires_grad=grad)


# ----------------------------------------------------------------------------- gradient checks

class WithLoss:
    """A model followed by a loss, as one scalar function of the model's input."""

    def __init__(self, model, loss_fn, target):
        self.model, self.loss_fn, self.target = model, loss_fn, target

    def named_parameters(self):
        return self.model.named_parameters()

    def __call__(self, x):
        return self.loss_fn(self.model(x), self.target)

    def backward(self, g):
        return self.model.backward(self.loss_fn.backward(g))


@pytest.mark.parametrize("module_fn", [
    lambda: Linear(5, 3, rng=rng(1)),
    lambda: Linear(5, 3, bias=False, rng=rng(1)),
    Sigmoid, Tanh, Identity, Softmax,
    lambda: Softmax(dim=0),
    lambda: mlp([5, 4, 3, 2], activation="sigmoid", rng=rng(2)),
    lambda: mlp([5, 4, 3, 2], activation="tanh", rng=rng(2)),
], ids=["linear", "linear-nobias", "sigmoid", "tanh", "identity", "softmax", "softmax-dim0",
        "mlp-sigmoid", "mlp-tanh"])
def test_gradcheck_modules(module_fn):
    x = rng(3).normal(size=(4, 5))
    errors = gradcheck(module_fn(), x, return_errors=True)
    assert errors and max(errors.values()) < 1e-6, errors


def test_gradcheck_linear_leading_dims():
    assert gradcheck(Linear(3, 2, rng=rng(1)), rng(2).normal(size=(2, 4, 3))) < 1e-6


@pytest.mark.parametrize("reduction", ["batchmean", "mean", "sum"])
def test_gradcheck_mse(reduction):
    x, y = rng(1).normal(size=(4, 3)), rng(2).normal(size=(4, 3))
    assert gradcheck(MSELoss(reduction), x, y) < 1e-6


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gradcheck_cross_entropy(reduction):
    x = 3 * rng(1).normal(size=(6, 4))
    labels = rng(2).integers(0, 4, size=6)
    assert gradcheck(CrossEntropyLoss(reduction), x, labels) < 1e-6
    probs = rng(3).dirichlet(np.ones(4), size=6)
    assert gradcheck(CrossEntropyLoss(reduction), x, probs) < 1e-6


def test_gradcheck_network_with_loss():
    model = mlp([6, 5, 4, 3], activation="tanh", rng=rng(0))
    x, labels = rng(1).normal(size=(7, 6)), rng(2).integers(0, 3, size=7)
    errors = gradcheck(WithLoss(model, CrossEntropyLoss(), labels), x, return_errors=True)
    assert set(errors) == {"input[0]", "0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"}
    assert max(errors.values()) < 1e-6


def test_gradcheck_detects_a_wrong_backward():
    class BadTanh(Tanh):
        def backward(self, grad_output):
            (h,) = self.pop_saved()
            return grad_output * (1 - h)          # wrong: should be 1 - h**2
    assert gradcheck(BadTanh(), rng(0).normal(size=(3, 4))) > 1e-2


def test_gradcheck_rejects_float32_and_restores_grads():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(Tanh(), rng(0).normal(size=(2, 2)).astype(np.float32))
    lin = Linear(3, 2, rng=rng(0))
    lin.weight.grad[...] = 7.0
    gradcheck(lin, rng(1).normal(size=(2, 3)))
    assert np.all(lin.weight.grad == 7.0)
    with pytest.raises(TypeError, match="float64"):
        gradcheck(Linear(3, 2, rng=rng(0), dtype=np.float32), rng(1).normal(size=(2, 3)))


# ----------------------------------------------------------------------------- parity with PyTorch

def torch_linear(lin):
    tl = torch.nn.Linear(lin.in_features, lin.out_features, bias=lin.bias is not None)
    with torch.no_grad():
        tl.weight.copy_(t(lin.weight.data))
        if lin.bias is not None:
            tl.bias.copy_(t(lin.bias.data))
    return tl


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(bias):
    lin = Linear(7, 5, bias=bias, rng=rng(0))
    x, g = rng(1).normal(size=(8, 7)), rng(2).normal(size=(8, 5))
    tl, tx = torch_linear(lin), t(x, True)
    out = tl(tx)
    out.backward(t(g))
    assert rel_err(lin(x), out.detach()) < RTOL
    assert rel_err(lin.backward(g), tx.grad) < RTOL
    assert rel_err(lin.weight.grad, tl.weight.grad) < RTOL
    if bias:
        assert rel_err(lin.bias.grad, tl.bias.grad) < RTOL


@pytest.mark.parametrize("ours,theirs", [(Sigmoid, torch.sigmoid), (Tanh, torch.tanh),
                                         (Softmax, lambda z: torch.softmax(z, dim=-1))])
def test_activations_match_torch(ours, theirs):
    x, g = 4 * rng(1).normal(size=(6, 5)), rng(2).normal(size=(6, 5))
    m, tx = ours(), t(x, True)
    out = theirs(tx)
    out.backward(t(g))
    assert rel_err(m(x), out.detach()) < RTOL
    assert rel_err(m.backward(g), tx.grad) < RTOL


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_matches_torch(reduction):
    x, y = rng(1).normal(size=(6, 3)), rng(2).normal(size=(6, 3))
    loss, tx = MSELoss(reduction), t(x, True)
    tl = torch.nn.MSELoss(reduction=reduction)(tx, t(y))
    tl.backward()
    assert rel_err(loss(x, y), tl.item()) < RTOL
    assert rel_err(loss.backward(), tx.grad) < RTOL


def test_mse_batchmean_is_the_notes_formula():
    x, y = rng(1).normal(size=(6, 3)), rng(2).normal(size=(6, 3))
    loss = MSELoss()            # default: 1/N Σ_i Σ_j (ŷ_ij − y_ij)^2, notes §4.2
    direct = sum(sum((x[i, j] - y[i, j]) ** 2 for j in range(3)) for i in range(6)) / 6
    assert rel_err(loss(x, y), direct) < RTOL
    assert rel_err(loss.backward(), 2 * (x - y) / 6) < RTOL


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("kind", ["indices", "probabilities", "one-hot"])
def test_cross_entropy_matches_torch(kind, reduction):
    x = 3 * rng(1).normal(size=(8, 5))
    labels = rng(2).integers(0, 5, size=8)
    target = {"indices": labels, "probabilities": rng(3).dirichlet(np.ones(5), size=8),
              "one-hot": np.eye(5)[labels]}[kind]
    loss, tx = CrossEntropyLoss(reduction), t(x, True)
    ttarget = torch.tensor(target) if kind == "indices" else t(target)
    tl = torch.nn.CrossEntropyLoss(reduction=reduction)(tx, ttarget)
    tl.backward()
    assert rel_err(loss(x, target), tl.item()) < RTOL
    assert rel_err(loss.backward(), tx.grad) < RTOL


def test_cross_entropy_gradient_is_minus_e_l_minus_y_hat():
    x, labels = rng(1).normal(size=(4, 3)), np.array([0, 2, 1, 2])
    loss = CrossEntropyLoss("sum")
    loss(x, labels)
    y_hat = np.exp(x) / np.exp(x).sum(1, keepdims=True)
    assert rel_err(loss.backward(), -(np.eye(3)[labels] - y_hat)) < RTOL


def test_mlp_end_to_end_matches_torch():
    model = mlp([10, 8, 6, 4], activation="tanh", rng=rng(0))
    tmodel = torch.nn.Sequential(torch_linear(model[0]), torch.nn.Tanh(), torch_linear(model[2]),
                                 torch.nn.Tanh(), torch_linear(model[4]))
    x, labels = rng(1).normal(size=(16, 10)), rng(2).integers(0, 4, size=16)
    loss = CrossEntropyLoss()
    value = loss(model(x), labels)
    dx = model.backward(loss.backward())
    tx = t(x, True)
    tl = torch.nn.CrossEntropyLoss()(tmodel(tx), torch.tensor(labels))
    tl.backward()
    assert rel_err(value, tl.item()) < RTOL
    assert rel_err(dx, tx.grad) < RTOL
    tparams = dict(tmodel.named_parameters())
    names = [name for name, _ in model.named_parameters()]
    assert names == list(tparams) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    for name, p in model.named_parameters():
        assert rel_err(p.grad, tparams[name].grad) < RTOL, name


def test_linear_init_is_pytorch_uniform():
    lin = Linear(400, 300, rng=rng(0))
    bound = 1 / np.sqrt(400)
    for p in (lin.weight.data, lin.bias.data):
        assert p.min() >= -bound and p.max() <= bound
        assert p.min() < -0.95 * bound and p.max() > 0.95 * bound
    assert lin.weight.shape == (300, 400) and lin.bias.shape == (300,)
    assert np.array_equal(Linear(4, 3, rng=rng(5)).weight.data, Linear(4, 3, rng=5).weight.data)


# ----------------------------------------------------------------------------- module API

def test_backward_accumulates_into_grad():
    lin = Linear(3, 2, rng=rng(0))
    x, g = rng(1).normal(size=(4, 3)), rng(2).normal(size=(4, 2))
    lin(x)
    lin.backward(g)
    once = lin.weight.grad.copy()
    lin(x)                                        # one forward per backward
    lin.backward(g)
    assert np.allclose(lin.weight.grad, 2 * once)
    lin.zero_grad()
    assert not lin.weight.grad.any() and not lin.bias.grad.any()


def test_named_parameters_order_and_sharing():
    model = Sequential(Linear(3, 4, rng=rng(0)), Tanh(), Linear(4, 2, rng=rng(1)))
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len(list(model.parameters())) == 4
    shared = Sequential(model[0], Tanh(), model[0])
    assert len(list(shared.parameters())) == 2


def test_train_eval_propagate():
    model = mlp([3, 4, 2], rng=rng(0))
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_float32_end_to_end():
    model = mlp([6, 5, 3], activation="sigmoid", rng=rng(0), dtype=np.float32)
    x, labels = rng(1).normal(size=(4, 6)), rng(2).integers(0, 3, size=4)   # float64 input
    out = model(x)
    assert out.dtype == np.float32
    loss = CrossEntropyLoss()
    loss(out, labels)
    g = loss.backward()
    assert g.dtype == np.float32
    assert model.backward(g).dtype == np.float32
    for _, p in model.named_parameters():
        assert p.data.dtype == p.grad.dtype == np.float32
    opt = SGD(model.parameters(), lr=np.float64(0.1))
    opt.step()
    assert all(p.data.dtype == np.float32 for p in model.parameters())
    mse = MSELoss()
    mse(out, np.zeros((4, 3)))
    assert mse.backward().dtype == np.float32
    for act in (Tanh(), Softmax(), Sigmoid()):
        h = act(out)
        assert h.dtype == np.float32 and act.backward(h).dtype == np.float32


def test_state_dict_round_trip(tmp_path):
    a, b = mlp([4, 3, 2], rng=rng(0)), mlp([4, 3, 2], rng=rng(1))
    x = rng(2).normal(size=(5, 4))
    assert not np.allclose(a(x), b(x))
    sd = a.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    sd["0.weight"][...] = 0                      # a copy: does not touch the model
    assert a[0].weight.data.any()
    a.save(tmp_path / "model.npz")
    b.load(tmp_path / "model.npz")
    assert np.array_equal(a(x), b(x))


def test_load_state_dict_strict_errors():
    model = mlp([4, 3, 2], rng=rng(0))
    before = model.state_dict()
    sd = model.state_dict()
    del sd["2.bias"]
    with pytest.raises(ValueError, match=r"missing key\(s\) \['2.bias'\]"):
        model.load_state_dict(sd)
    sd = model.state_dict()
    sd["3.weight"] = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"unexpected key\(s\) \['3.weight'\]"):
        model.load_state_dict(sd)
    sd = {k: v + 1 for k, v in model.state_dict().items()}
    sd["0.weight"] = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"state_dict\['0.weight'\]: expected shape \(3, 4\), got \(4, 3\)"):
        model.load_state_dict(sd)
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)   # nothing half-loaded
    del sd["0.weight"]
    model.load_state_dict(sd, strict=False)
    assert np.array_equal(model[0].bias.data, before["0.bias"] + 1)


# ----------------------------------------------------------------------------- numerical stability

@pytest.fixture
def strict_numpy():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            yield


def test_cross_entropy_huge_logits(strict_numpy):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0], [0.0, 0.0, -1e4]])
    labels = np.array([0, 0, 2])
    loss = CrossEntropyLoss("sum")
    value = loss(x, labels)
    # example 1: correct with margin 1e4 -> 0; example 2: wrong by 2e4 -> 2e4;
    # example 3: log(2 + e^-1e4) - (-1e4) = 1e4 + log 2
    assert value == pytest.approx(2e4 + 1e4 + np.log(2), rel=1e-12)
    g = loss.backward()
    assert np.all(np.isfinite(g))
    assert np.allclose(g, [[0, 0, 0], [-1, 1, 0], [0.5, 0.5, -1]])
    probs = np.array([[0.5, 0.5, 0.0], [0, 1, 0], [0, 0, 1]])
    soft = CrossEntropyLoss("sum")
    assert soft(x, probs) == pytest.approx(0.5 * 2e4 + 0 + 1e4 + np.log(2), rel=1e-12)
    assert np.all(np.isfinite(soft.backward()))
    s = Softmax()
    p = s(x)
    assert np.allclose(p.sum(1), 1) and np.all(np.isfinite(s.backward(np.ones_like(x))))
    xf = x.astype(np.float32)
    assert np.isfinite(CrossEntropyLoss()(xf, labels))


def test_saturated_sigmoid_and_tanh(strict_numpy):
    a = np.array([[-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4]])
    for dtype in (np.float64, np.float32):
        sig = Sigmoid()
        h = sig(a.astype(dtype))
        assert h.dtype == dtype
        assert np.all((h >= 0) & (h <= 1))
        assert h[0, 0] == 0 and h[0, -1] == 1 and h[0, 3] == 0.5
        if dtype == np.float64:
            assert h[0, 2] == pytest.approx(np.exp(-50), rel=1e-14)
        d = sig.backward(np.ones_like(h))
        assert np.all(np.isfinite(d)) and d[0, 0] == 0 and d[0, -1] == 0
        tanh = Tanh()
        h = tanh(a.astype(dtype))
        assert np.all(np.isfinite(tanh.backward(np.ones_like(h))))
    # a saturated network still gives finite losses and gradients
    model = mlp([3, 4, 2], activation="sigmoid", rng=rng(0))
    model[0].weight.data *= 1e4
    x, labels = rng(1).normal(size=(5, 3)), np.array([0, 1, 0, 1, 1])
    loss = CrossEntropyLoss()
    assert np.isfinite(loss(model(x), labels))
    assert np.all(np.isfinite(model.backward(loss.backward())))


# ----------------------------------------------------------------------------- bad input

def test_bad_input_errors():
    lin = Linear(4, 3, rng=rng(0))
    with pytest.raises(ValueError, match=r"x: expected shape \(N, 4\).*got \(5, 3\)"):
        lin(np.zeros((5, 3)))
    with pytest.raises(RuntimeError, match="Linear.backward: no pending forward call"):
        Linear(4, 3, rng=rng(0)).backward(np.zeros((5, 3)))
    for m in (Sigmoid(), Tanh(), Softmax(), Identity(), MSELoss(), CrossEntropyLoss()):
        with pytest.raises(RuntimeError, match="no pending forward call"):
            m.backward(np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="no pending forward call"):
        mlp([2, 3, 1], rng=rng(0)).backward(np.zeros((1, 1)))
    lin(np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"grad_output: expected shape \(5, 3\), got \(4, 3\)"):
        lin.backward(np.zeros((4, 3)))
    lin.backward(np.zeros((5, 3)))                      # the pending call survived the bad input
    ce = CrossEntropyLoss()
    with pytest.raises(ValueError, match=r"target: expected class indices of shape \(5,\), got shape \(4,\)"):
        ce(np.zeros((5, 3)), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match=r"target: class indices must lie in \[0, 3\).*\[0, 3\]"):
        ce(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"target: class indices must lie in \[0, 3\)"):
        ce(np.zeros((2, 3)), np.array([-1, 0]))
    with pytest.raises(ValueError, match=r"target: expected probabilities of shape \(2, 3\)"):
        ce(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="logits: expected a float array of shape"):
        ce(np.zeros(3), np.array([0]))
    with pytest.raises(ValueError, match=r"target: expected shape \(2, 3\).*got \(3, 2\)"):
        MSELoss()(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="in_features: expected an integer >= 1"):
        Linear(0, 3)
    with pytest.raises(TypeError, match=r"modules\[1\]: expected a Module"):
        Sequential(Linear(2, 2), np.tanh)
    model = mlp([4, 3, 2], rng=rng(0))
    with pytest.raises(ValueError, match=r"y: expected 10 targets \(one per row of X\), got 9"):
        fit(model, CrossEntropyLoss(), SGD(model.parameters()), np.zeros((10, 4)),
            np.zeros(9, dtype=int), epochs=1, rng=rng(0))
    with pytest.raises(ValueError, match="rng"):
        fit(model, CrossEntropyLoss(), SGD(model.parameters()), np.zeros((10, 4)),
            np.zeros(10, dtype=int), epochs=1)
    with pytest.raises(ValueError, match="reduction"):
        MSELoss("avg")
    with pytest.raises(TypeError, match="data: expected a floating-point array"):
        Parameter(np.arange(3))
    with pytest.raises(ValueError, match="activation: expected 'tanh', 'sigmoid' or a Module class"):
        mlp([3, 4, 2], activation="relu")
    with pytest.raises(ValueError, match=r"layer_sizes: expected at least \(n_0, n_L\)"):
        mlp([3])


# ----------------------------------------------------------------------------- fit and optimizers

def test_fit_learns_and_records_history(capsys):
    r = rng(0)
    X = r.normal(size=(200, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)                  # XOR-like quadrants
    model = mlp([2, 16, 2], activation="tanh", rng=rng(1))
    updates = []
    hist = fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.2), X, y, epochs=60,
               batch_size=20, rng=rng(2), X_val=X[:50], y_val=y[:50], log_every=20,
               callbacks=lambda info: updates.append(info["updates"]) if info["event"] == "update" else None)
    out = capsys.readouterr()
    assert out.err == ""
    lines = out.out.strip().splitlines()
    assert len(lines) == 3 and lines[-1].startswith("epoch 60/60 | loss ")
    assert " acc " in lines[-1] and " val_acc " in lines[-1]
    assert max(map(len, lines)) <= 80                  # fits a book page without scrolling
    assert set(hist) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "updates", "time"}
    assert len(hist["loss"]) == 60 and hist["updates"][-1] == 600 and updates == list(range(1, 601))
    assert hist["loss"][-1] < 0.5 * hist["loss"][0]
    assert hist["accuracy"][-1] > 0.9 and hist["val_accuracy"][-1] > 0.9
    assert evaluate(model, CrossEntropyLoss(), X, y)["accuracy"] > 0.9


def test_fit_is_reproducible_and_supports_full_batch_and_stopping():
    X, y = rng(0).normal(size=(30, 3)), rng(1).normal(size=(30, 1))

    def run(**kw):
        model = mlp([3, 5, 1], rng=rng(2))
        return model, fit(model, MSELoss(), SGD(model.parameters(), lr=0.05), X, y, epochs=5,
                          metric=None, log_every=None, **kw)

    (m1, h1), (m2, h2) = run(rng=rng(3), batch_size=7), run(rng=rng(3), batch_size=7)
    assert h1["loss"] == h2["loss"] and np.array_equal(m1[0].weight.data, m2[0].weight.data)
    _, h = run(batch_size=None, shuffle=False)
    assert h["updates"] == [1, 2, 3, 4, 5] and "accuracy" not in h
    _, h = run(rng=rng(3), batch_size=10, callbacks=lambda info: info["updates"] == 4)
    assert h["updates"] == [3, 4] and h["epoch"] == [1, 2]     # stopped inside epoch 2


def test_fit_with_scheduler_and_closure():
    class Halve:
        def __init__(self, opt):
            self.opt = opt

        def step(self):
            self.opt.param_groups[0]["lr"] /= 2

    class ClosureSGD(SGD):
        calls = 0

        def step(self, closure=None):
            loss = closure()
            ClosureSGD.calls += 1
            super().step()
            return loss

    X, y = rng(0).normal(size=(20, 3)), rng(1).integers(0, 2, size=20)
    model = mlp([3, 4, 2], rng=rng(2))
    opt = ClosureSGD(model.parameters(), lr=0.8)
    hist = fit(model, CrossEntropyLoss(), opt, X, y, epochs=3, batch_size=5, rng=rng(3),
               scheduler=Halve(opt), log_every=None)
    assert hist["lr"] == [0.8, 0.4, 0.2] and ClosureSGD.calls == 12


def test_sgd_matches_torch():
    model = mlp([5, 4, 3], activation="sigmoid", rng=rng(0))
    tmodel = torch.nn.Sequential(torch_linear(model[0]), torch.nn.Sigmoid(), torch_linear(model[2]))
    opt, topt = SGD(model.parameters(), lr=0.3), torch.optim.SGD(tmodel.parameters(), lr=0.3)
    loss, tloss = CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    for step in range(4):
        x, labels = rng(10 + step).normal(size=(8, 5)), rng(20 + step).integers(0, 3, size=8)
        opt.zero_grad()
        loss(model(x), labels)
        model.backward(loss.backward())
        opt.step()
        topt.zero_grad()
        tloss(tmodel(t(x)), torch.tensor(labels)).backward()
        topt.step()
    tparams = dict(tmodel.named_parameters())
    for name, p in model.named_parameters():
        assert rel_err(p.data, tparams[name].detach()) < RTOL, name


def test_optimizer_state_dict_round_trip():
    model = mlp([3, 2], rng=rng(0))
    opt = SGD(model.parameters(), lr=0.1)
    for p in model.parameters():
        p.grad[...] = 1.0
    opt.step()
    sd = opt.state_dict()
    opt2 = SGD(mlp([3, 2], rng=rng(1)).parameters(), lr=0.5)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.1
    sd["param_groups"][0]["lr"] = 99.0               # a deep copy: opt2 is not affected
    assert opt2.param_groups[0]["lr"] == 0.1
    with pytest.raises(ValueError, match="params: got an empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="lr: expected a finite number >= 0"):
        SGD(model.parameters(), lr=-1)
    with pytest.raises(ValueError, match="parameter group 0 has 2 parameters, this optimizer's has 1"):
        SGD([Parameter(np.zeros(2))]).load_state_dict(sd)
    assert isinstance(opt, Optimizer)


def test_accuracy_helper():
    out = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert accuracy(out, np.array([1, 0, 0])) == pytest.approx(2 / 3)
    assert accuracy(out, np.eye(2)[[1, 0, 1]]) == 1.0


def test_draw_model_reads_the_model():
    """Figure 6's counterpart: widths, weights and layer captions come from the model object."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dlbook.plotting import draw_model

    net = mlp([4, 5, 5, 3], activation="sigmoid", rng=rng(0))
    fig, ax = plt.subplots()
    assert draw_model(net, ax=ax) is ax
    assert [len(c.get_segments()) for c in ax.collections] == [4 * 5, 5 * 5, 5 * 3]
    widths = ax.collections[2].get_linewidths()       # edge width grows with |W_3[m, j]|
    order = np.argsort(np.abs(net[4].weight.data).ravel())
    assert widths[order[-1]] > widths[order[0]]
    names = [t.get_text() for t in ax.texts]
    assert names == [r"$h_0 = x$", r"$h_{1} = \sigma(a_{1})$", r"$h_{2} = \sigma(a_{2})$", r"$a_{3}$"]
    ax.clear()
    draw_model(mlp([2, 3, 1], activation="tanh", rng=rng(0)), ax=ax)
    assert r"$h_{1} = \tanh(a_{1})$" in [t.get_text() for t in ax.texts]
    plt.close(fig)
    with pytest.raises(ValueError, match="model: expected a model with Linear layers"):
        draw_model(Sequential(Tanh()))


def test_module_repr_and_base_errors():
    assert "Linear(in_features=3, out_features=2, bias=True)" in repr(mlp([3, 2], rng=rng(0)))
    with pytest.raises(NotImplementedError):
        Module().forward(1)


def test_backward_can_skip_the_input_gradient():
    model = mlp([5, 4, 3], rng=rng(0))
    x, labels = rng(1).normal(size=(6, 5)), rng(2).integers(0, 3, size=6)
    loss = CrossEntropyLoss()
    loss(model(x), labels)
    g = loss.backward()
    dx = model.backward(g)
    full = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    model(x)
    assert model.backward(g, input_grad=False) is None
    assert all(np.array_equal(a, p.grad) for a, p in zip(full, model.parameters()))
    assert dx.shape == x.shape
    # a first module without the option still works
    seq = Sequential(Tanh(), Linear(5, 2, rng=rng(3)))
    seq(x)
    assert seq.backward(np.ones((6, 2)), input_grad=False).shape == x.shape


def test_gradcheck_with_several_inputs_and_parameters_only():
    class Bilinear(Module):
        """J = x W y^T row-wise: two differentiable inputs and a parameter."""

        def __init__(self):
            self.weight = Parameter(rng(0).normal(size=(3, 2)))

        def forward(self, x, y):
            self.save_for_backward(x, y)
            return np.einsum("ni,ij,nj->n", x, self.weight.data, y)

        def backward(self, g):
            x, y = self.pop_saved()
            W = self.weight.data
            self.weight.grad += np.einsum("n,ni,nj->ij", g, x, y)
            return g[:, None] * (y @ W.T), g[:, None] * (x @ W)

    class OnlyFirst(Bilinear):
        def backward(self, g):
            return super().backward(g)[0]

    x, y = rng(1).normal(size=(4, 3)), rng(2).normal(size=(4, 2))
    errors = gradcheck(Bilinear(), x, y, wrt=(0, 1), return_errors=True)
    assert set(errors) == {"input[0]", "input[1]", "weight"} and max(errors.values()) < 1e-6
    assert gradcheck(Bilinear(), x, y, wrt=()) < 1e-6                    # parameters only
    with pytest.raises(ValueError, match=r"wrt: index 2 is out of range for 2 input\(s\)"):
        gradcheck(Bilinear(), x, y, wrt=(2,))
    with pytest.raises(ValueError, match=r"wrt: backward returned no gradient for inputs\[1\]"):
        gradcheck(OnlyFirst(), x, y, wrt=(0, 1))


def test_numpy_scalar_hyper_parameters_become_python_numbers():
    """A NumPy float64 lr (e.g. from np.logspace, or set by a schedule) would make ``lr * g`` of a
    float32 model a float64 temporary (NumPy 2 promotion): optimizers keep Python numbers."""
    from dlbook.optimizers import Adam
    p = Parameter(np.ones(4, dtype=np.float32))
    for opt in (SGD([p], lr=np.float64(0.1), momentum=np.float64(0.9)),
                Adam([p], lr=np.logspace(-3, -1, 3)[1])):
        lr = opt.param_groups[0]["lr"]
        assert type(lr) is float
        assert (lr * p.grad).dtype == np.float32
    assert type(SGD([p], lr=0.1, momentum=np.float64(0.9)).param_groups[0]["momentum"]) is float
