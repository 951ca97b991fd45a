"""Issue 7 §1-2: shared modules (a stack of pending calls), no_grad, eval mode, the memory rule,
cross-entropy with probability targets and label smoothing, and the package surface."""
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbook.gradcheck import gradcheck
from dlbook.nn import CrossEntropyLoss, Linear, Module, MSELoss, Parameter, Sequential, Tanh, no_grad
from dlbook.train import evaluate, fit, predict

TOL = 1e-7


def rng(seed=0):
    return np.random.default_rng(seed)


def test_linear_used_three_times_passes_gradcheck():
    L = Linear(4, 4, rng=rng(0))
    model = Sequential(L, Tanh(), L, Tanh(), L)
    errors = gradcheck(model, rng(1).normal(size=(5, 4)), return_errors=True)
    assert set(errors) == {"input[0]", "0.weight", "0.bias"}       # the shared layer counted once
    assert max(errors.values()) < TOL


def test_one_tanh_instance_used_twice():
    act = Tanh()
    model = Sequential(Linear(3, 3, rng=rng(0)), act, Linear(3, 3, rng=rng(1)), act)
    assert gradcheck(model, rng(2).normal(size=(4, 3))) < TOL


class Recurrence(Module):
    """h_t = tanh(W x_t + U h_{t-1}) unrolled by hand: one Linear pair called at every step."""

    def __init__(self, n_in, n_h, T):
        self.W, self.U = Linear(n_in, n_h, rng=rng(3)), Linear(n_h, n_h, rng=rng(4))
        self.act, self.T = Tanh(), T

    def forward(self, x):                                  # x: (T, N, n_in)
        h = np.zeros((x.shape[1], self.U.in_features))
        hs = []
        for t in range(self.T):
            h = self.act(self.W(x[t]) + self.U(h))
            hs.append(h)
        return np.stack(hs)

    def backward(self, grad_output):
        dx = np.zeros((self.T, grad_output.shape[1], self.W.in_features))
        dh = np.zeros_like(grad_output[0])
        for t in reversed(range(self.T)):                  # last in, first out
            da = self.act.backward(grad_output[t] + dh)
            dh = self.U.backward(da)
            dx[t] = self.W.backward(da)
        return dx


def test_cell_unrolled_30_steps_passes_gradcheck():
    model = Recurrence(3, 4, T=30)
    x = rng(5).normal(size=(30, 2, 3)) * 0.5
    errors = gradcheck(model, x, return_errors=True)
    assert set(errors) == {"input[0]", "W.weight", "W.bias", "U.weight", "U.bias"}
    assert max(errors.values()) < TOL


class TwoBranches(Module):
    """y = f(x) + g(x), where f and g share the layer L."""

    def __init__(self):
        self.L = Linear(3, 3, rng=rng(6))
        self.f = Sequential(self.L, Tanh())
        self.g = Sequential(Linear(3, 3, rng=rng(7)), Tanh(), self.L)

    def forward(self, x):
        return self.f(x) + self.g(x)

    def backward(self, grad_output):
        dx_g = self.g.backward(grad_output)                # g was called last: its backward first
        return self.f.backward(grad_output) + dx_g


def test_two_branches_sharing_a_layer_pass_gradcheck():
    assert gradcheck(TwoBranches(), rng(8).normal(size=(4, 3))) < TOL


def test_backward_without_pending_call_raises_and_never_doubles():
    L = Linear(2, 2, rng=rng(0))
    with pytest.raises(RuntimeError, match="Linear.backward: no pending forward call"):
        L.backward(np.ones((1, 2)))
    L(np.ones((1, 2)))
    L.backward(np.ones((1, 2)))
    grad = L.weight.grad.copy()
    with pytest.raises(RuntimeError, match="Linear.backward: no pending forward call"):
        L.backward(np.ones((1, 2)))
    assert np.array_equal(L.weight.grad, grad)
    loss = MSELoss()
    loss(np.zeros(3), np.ones(3))
    loss.backward()
    with pytest.raises(RuntimeError, match="MSELoss.backward"):
        loss.backward()


def _grads(model):
    return [p.grad.copy() for p in model.parameters()]


def test_evaluate_between_loss_and_backward_changes_no_gradient():
    model = Sequential(Linear(4, 8, rng=rng(0)), Tanh(), Linear(8, 3, rng=rng(1)))
    x, y = rng(2).normal(size=(6, 4)), rng(3).integers(0, 3, 6)
    loss_fn = CrossEntropyLoss()
    loss_fn(model(x), y)
    model.backward(loss_fn.backward())
    expected = _grads(model)
    model.zero_grad()
    loss_fn(model(x), y)
    evaluate(model, loss_fn, rng(4).normal(size=(50, 4)), rng(5).integers(0, 3, 50))
    predict(model, rng(6).normal(size=(7, 4)))
    model.backward(loss_fn.backward())
    assert all(np.array_equal(a, b) for a, b in zip(expected, _grads(model)))


def test_backward_through_a_model_in_eval_mode():
    model = Sequential(Linear(3, 4, rng=rng(0)), Tanh(), Linear(4, 2, rng=rng(1))).eval()
    assert not model.training and gradcheck(model, rng(2).normal(size=(3, 3))) < TOL


def _pending(module):
    return len(module.__dict__.get("_pending", ()))


def test_no_grad_keeps_nothing_over_1000_forwards():
    model = Sequential(Linear(5, 5, rng=rng(0)), Tanh())
    x = rng(1).normal(size=(2, 5))
    with no_grad():
        for _ in range(1000):
            model(x)
    assert all(_pending(m) == 0 for m in model.modules())
    with pytest.raises(RuntimeError, match="no pending forward call"):
        model.backward(np.ones((2, 5)))

    @no_grad()
    def infer(v):
        return model(v)
    infer(x)
    assert _pending(model[0]) == 0


def test_pending_calls_are_bounded_by_max_pending():
    L = Linear(3, 3, rng=rng(0))
    for _ in range(3000):
        L(np.ones((1, 3)))
    assert _pending(L) == Module.max_pending == 1024
    L.max_pending = 4                                     # per instance, as for a long unroll
    for _ in range(10):
        L(np.ones((1, 3)))
    assert _pending(L) == 4
    for _ in range(4):
        L.backward(np.ones((1, 3)))
    with pytest.raises(RuntimeError, match=r"dropped after max_pending=4"):
        L.backward(np.ones((1, 3)))


def test_parameters_in_dicts_and_lists_are_found():
    class Model(Module):
        def __init__(self):
            self.heads = {"a": Linear(2, 2, rng=rng(0)), "b": Linear(2, 1, rng=rng(1))}
            self.extra = [Parameter(np.zeros(3))]
    names = [n for n, _ in Model().named_parameters()]
    assert names == ["extra.0", "heads.a.weight", "heads.a.bias", "heads.b.weight", "heads.b.bias"]


def test_fit_refuses_a_model_without_parameters():
    class Raw(Module):
        def __init__(self):
            self.W = np.zeros((2, 2))                     # a raw array is not a Parameter

        def forward(self, x):
            return x @ self.W
    with pytest.raises(ValueError, match="has no Parameter to train"):
        fit(Raw(), MSELoss(), None, np.zeros((4, 2)), np.zeros((4, 2)), epochs=1, rng=0)


def test_fit_stops_on_nan_loss_naming_epoch_and_batch():
    from dlbook.optimizers import SGD
    model = Sequential(Linear(2, 1, rng=rng(0)))
    X, y = rng(1).normal(size=(20, 2)), rng(2).normal(size=(20, 1))
    with pytest.raises(FloatingPointError, match=r"epoch \d+, batch \d+"):
        with np.errstate(over="ignore", invalid="ignore"):
            fit(model, MSELoss(), SGD(model.parameters(), lr=1e6), X, y, epochs=50, batch_size=5,
                rng=0, metric=None, log_every=None)


def test_save_and_load_without_suffix(tmp_path):
    a, b = Linear(3, 2, rng=rng(0)), Linear(3, 2, rng=rng(1))
    written = a.save(tmp_path / "m")
    assert written.name == "m.npz" and written.exists()
    b.load(tmp_path / "m")
    assert np.array_equal(a.weight.data, b.weight.data)
    b.load(str(tmp_path / "m.npz"))


def test_buffers_are_in_the_state_dict():
    class Norm(Module):
        def __init__(self):
            self.weight = Parameter(np.ones(2))
            self.register_buffer("running_mean", np.zeros(2))
    m = Norm()
    assert list(m.state_dict()) == ["weight", "running_mean"]
    m.load_state_dict({"weight": np.full(2, 3.0), "running_mean": np.full(2, 5.0)})
    assert np.array_equal(m.running_mean, [5.0, 5.0])
    with pytest.raises(ValueError, match="missing key"):
        m.load_state_dict({"weight": np.ones(2)})


# ----------------------------------------------------------------------------- cross-entropy

@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("kind", ["indices", "probabilities", "unnormalised"])
def test_cross_entropy_matches_torch(kind, reduction, smoothing):
    a = rng(0).normal(size=(6, 4)) * 3
    if kind == "indices":
        y = rng(1).integers(0, 4, 6)
        ty = torch.tensor(y)
    else:
        y = rng(1).uniform(0, 1, size=(6, 4))
        if kind == "probabilities":
            y /= y.sum(axis=1, keepdims=True)
        ty = torch.tensor(y)
    loss = CrossEntropyLoss(reduction=reduction, label_smoothing=smoothing)
    value = loss(a, y)
    grad = loss.backward()
    ta = torch.tensor(a, requires_grad=True)
    tv = F.cross_entropy(ta, ty, reduction=reduction, label_smoothing=smoothing)
    tv.backward()
    assert abs(value - tv.item()) <= 1e-12 * max(1, abs(tv.item()))
    assert np.allclose(grad, ta.grad.numpy(), rtol=1e-11, atol=1e-14)
    assert gradcheck(CrossEntropyLoss(reduction=reduction, label_smoothing=smoothing), a, y) < TOL


def test_cross_entropy_bad_smoothing():
    with pytest.raises(ValueError, match=r"label_smoothing: expected a finite number in \[0.0, 1.0\]"):
        CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(TypeError, match="label_smoothing: expected a real number"):
        CrossEntropyLoss(label_smoothing="0.1")


# ----------------------------------------------------------------------------- package surface

def test_star_import_of_nn_brings_layers_and_losses_only():
    ns = {}
    exec("from dlbook.nn import *", ns)
    names = {n for n in ns if not n.startswith("__")}
    assert {"Linear", "Sequential", "Tanh", "CrossEntropyLoss", "MSELoss", "Module", "Parameter",
            "no_grad"} <= names
    assert not names & {"fit", "evaluate", "accuracy", "np", "collections", "Path"}


def test_importing_nn_does_not_import_matplotlib():
    code = "import sys, dlbook.nn, dlbook.optimizers, dlbook.train; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_enable_grad_inside_no_grad_and_step_closure():
    from dlbook.nn import enable_grad, is_grad_enabled
    from dlbook.optimizers import SGD
    L = Linear(2, 1, rng=rng(0))
    opt = SGD(L.parameters(), lr=0.1)
    x, y = np.ones((3, 2)), np.zeros((3, 1))
    loss_fn = MSELoss()
    with no_grad():
        before = loss_fn(L(x), y)
    w_before = L.weight.data.copy()

    def closure():
        opt.zero_grad()
        value = loss_fn(L(x), y)
        L.backward(loss_fn.backward())
        return value
    with no_grad():
        with enable_grad():
            assert is_grad_enabled()
        assert not is_grad_enabled()
        loss = opt.step(closure)                      # the closure records, as in torch.optim
    assert loss == before                             # the loss at the weights before the step
    assert not np.array_equal(L.weight.data, w_before) and is_grad_enabled()


def test_gradcheck_with_a_non_contiguous_input():
    """A strided input (a swapaxes view, a Fortran-order array) is perturbed in place, not in a copy."""
    assert gradcheck(Tanh(), np.asfortranarray(rng(0).normal(size=(4, 3)))) < TOL
    assert gradcheck(Tanh(), rng(1).normal(size=(3, 4)).swapaxes(0, 1)) < TOL
