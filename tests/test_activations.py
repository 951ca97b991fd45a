"""Chapter 8: activation layers (PyTorch parity forward and backward in float64, gradient checks),
Maxout (against a direct transcription) and the initialization functions (moments, gains, fans)."""
import numpy as np
import pytest
import torch

from dlbook.gradcheck import gradcheck
from dlbook.nn import (
    ELU,
    GELU,
    LeakyReLU,
    Linear,
    Maxout,
    Parameter,
    PReLU,
    ReLU,
    SiLU,
    Softplus,
    _calculate_fan_in_and_fan_out,
    calculate_gain,
    constant_,
    init,
    kaiming_normal_,
    kaiming_uniform_,
    normal_,
    ones_,
    uniform_,
    xavier_normal_,
    xavier_uniform_,
    zeros_,
)

torch.set_default_dtype(torch.float64)


def inputs(shape=(5, 7), seed=0, scale=3.0):
    x = np.random.default_rng(seed).standard_normal(shape) * scale
    x[np.abs(x) < 1e-3] = 0.5                  # keep finite differences away from the kinks
    return x


CASES = [
    (lambda: ReLU(), lambda: torch.nn.ReLU()),
    (lambda: LeakyReLU(), lambda: torch.nn.LeakyReLU()),
    (lambda: LeakyReLU(0.1), lambda: torch.nn.LeakyReLU(0.1)),
    (lambda: ELU(), lambda: torch.nn.ELU()),
    (lambda: ELU(alpha=0.5), lambda: torch.nn.ELU(alpha=0.5)),
    (lambda: GELU(), lambda: torch.nn.GELU()),
    (lambda: GELU(approximate="tanh"), lambda: torch.nn.GELU(approximate="tanh")),
    (lambda: SiLU(), lambda: torch.nn.SiLU()),
    (lambda: Softplus(), lambda: torch.nn.Softplus()),
    (lambda: Softplus(beta=2.0, threshold=3.0), lambda: torch.nn.Softplus(beta=2.0, threshold=3.0)),
]


@pytest.mark.parametrize("ours, theirs", CASES)
def test_activation_matches_torch(ours, theirs):
    x = inputs()
    g = np.random.default_rng(1).standard_normal(x.shape)
    layer = ours()
    y = layer(x)
    xt = torch.tensor(x, requires_grad=True)
    yt = theirs()(xt)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.backward(g), xt.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("ours, theirs", CASES)
def test_activation_gradcheck(ours, theirs):
    assert gradcheck(ours(), inputs(seed=2, scale=2.0)) < 1e-6


@pytest.mark.parametrize("make", [ReLU, LeakyReLU, ELU, PReLU])
def test_rectifiers_at_zero_use_left_derivative_like_torch(make):
    x = np.array([-1.0, 0.0, 1.0])
    layer = make()
    layer(x)
    ours = layer.backward(np.ones(3))
    torch_layer = {ReLU: torch.nn.ReLU, LeakyReLU: torch.nn.LeakyReLU, ELU: torch.nn.ELU,
                   PReLU: torch.nn.PReLU}[make]()
    xt = torch.tensor(x, requires_grad=True)
    torch_layer(xt).sum().backward()
    np.testing.assert_allclose(ours, xt.grad.numpy(), rtol=1e-12)


def test_extreme_inputs_are_finite_without_warnings():
    x = np.array([-1e4, -50.0, 0.0, 50.0, 1e4])
    with np.errstate(over="raise", invalid="raise", divide="raise"):   # underflow to 0 is exact enough
        for layer in (ReLU(), LeakyReLU(), ELU(), GELU(), GELU("tanh"), Softplus()):
            y = layer(x)
            d = layer.backward(np.ones_like(x))
            assert np.isfinite(y).all() and np.isfinite(d).all(), type(layer).__name__


@pytest.mark.parametrize("num_parameters", [1, 4])
def test_prelu_matches_torch_including_weight_grad(num_parameters):
    x = inputs((3, 4, 5))
    g = np.random.default_rng(3).standard_normal(x.shape)
    ours = PReLU(num_parameters, init=0.2)
    ours.weight.data[...] = np.linspace(0.1, 0.4, num_parameters)
    theirs = torch.nn.PReLU(num_parameters, init=0.2)
    with torch.no_grad():
        theirs.weight[...] = torch.tensor(ours.weight.data)
    xt = torch.tensor(x, requires_grad=True)
    yt = theirs(xt)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(ours(x), yt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.backward(g), xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-12)
    assert gradcheck(ours, x) < 1e-6
    if num_parameters == 4:
        with pytest.raises(ValueError, match="4 channels"):
            ours(np.ones((2, 3)))


def test_stochastic_gelu_expectation():
    """The notes' GELU m·x, m ~ Bernoulli(Φ(x)), has expectation x Φ(x)."""
    rng = np.random.default_rng(4)
    x = np.linspace(-3, 3, 13)
    phi = GELU()(x) / np.where(x == 0, 1, x)
    m = rng.random((200_000, x.size)) < phi
    np.testing.assert_allclose((m * x).mean(axis=0), GELU()(x), atol=0.01)


# ----------------------------------------------------------------------------- Maxout

def test_maxout_matches_transcription_and_gradcheck():
    rng = np.random.default_rng(5)
    layer = Maxout(6, 4, pool_size=3, rng=0)
    x = rng.standard_normal((8, 6))
    z = x @ layer.linear.weight.data.T + layer.linear.bias.data
    expected = z.reshape(8, 4, 3).max(axis=-1)              # h_j = max_k (W_jk x + b_jk)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-14)
    assert gradcheck(layer, x) < 1e-6
    # the same computation in torch: Linear then max over groups
    xt = torch.tensor(x, requires_grad=True)
    W = torch.tensor(layer.linear.weight.data, requires_grad=True)
    b = torch.tensor(layer.linear.bias.data, requires_grad=True)
    out = (xt @ W.T + b).reshape(8, 4, 3).max(dim=-1).values
    g = rng.standard_normal((8, 4))
    out.backward(torch.tensor(g))
    layer.zero_grad()
    layer(x)
    np.testing.assert_allclose(layer.backward(g), xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.linear.weight.grad, W.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.linear.bias.grad, b.grad.numpy(), rtol=1e-12)


def test_maxout_contains_relu_and_leaky_relu():
    x = np.random.default_rng(6).standard_normal((10, 3))
    m = Maxout(3, 2, pool_size=2, rng=0)
    W, b = m.linear.weight.data, m.linear.bias.data
    W[1::2], b[1::2] = 0.0, 0.0                            # second piece of each unit: zero
    a = x @ W[0::2].T + b[0::2]
    np.testing.assert_allclose(m(x), ReLU()(a), rtol=1e-14)
    W[1::2], b[1::2] = 0.1 * W[0::2], 0.1 * b[0::2]        # second piece: 0.1 × the first
    np.testing.assert_allclose(m(x), LeakyReLU(0.1)(a), rtol=1e-14)


# ----------------------------------------------------------------------------- init

@pytest.mark.parametrize("shape", [(30, 20), (8, 3, 5, 5), (7, 11, 3)])
def test_fans_match_torch(shape):
    ours = _calculate_fan_in_and_fan_out(np.zeros(shape))
    theirs = torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))
    assert ours == theirs
    with pytest.raises(ValueError, match="at least 2"):
        _calculate_fan_in_and_fan_out(np.zeros(5))


@pytest.mark.parametrize("name, param", [("linear", None), ("sigmoid", None), ("tanh", None),
                                         ("relu", None), ("leaky_relu", None),
                                         ("leaky_relu", 0.2), ("selu", None), ("conv2d", None)])
def test_gains_match_torch(name, param):
    assert abs(calculate_gain(name, param) - torch.nn.init.calculate_gain(name, param)) < 1e-12


def moments(array):
    return float(array.mean()), float(array.var())


@pytest.mark.parametrize("fill, var, kind", [
    (lambda w: xavier_uniform_(w, rng=0), 2 / (400 + 300), "uniform"),
    (lambda w: xavier_normal_(w, gain=2.0, rng=0), 4 * 2 / (400 + 300), "normal"),
    (lambda w: kaiming_uniform_(w, nonlinearity="relu", rng=0), 2 / 300, "uniform"),
    (lambda w: kaiming_normal_(w, nonlinearity="relu", rng=0), 2 / 300, "normal"),
    (lambda w: kaiming_normal_(w, a=0.1, mode="fan_out", rng=0), 2 / (1 + 0.01) / 400, "normal"),
    (lambda w: kaiming_uniform_(w, a=np.sqrt(5), rng=0), 1 / 3 / 300, "uniform"),   # nn.Linear's default
])
def test_init_moments_against_formulas(fill, var, kind):
    w = Parameter(np.zeros((400, 300)))
    assert fill(w) is w
    mean, v = moments(w.data)
    n = w.data.size
    assert abs(mean) < 4 * np.sqrt(var / n)
    assert abs(v / var - 1) < 0.02
    if kind == "uniform":                                   # support [-sqrt(3 var), sqrt(3 var)]
        assert np.abs(w.data).max() <= np.sqrt(3 * var) + 1e-12
        assert np.abs(w.data).max() > 0.99 * np.sqrt(3 * var)
    else:                                                   # normal: kurtosis 3
        assert abs(np.mean(w.data ** 4) / v ** 2 - 3) < 0.1


def test_init_torch_same_distribution():
    t = torch.empty(400, 300)
    torch.manual_seed(0)
    torch.nn.init.kaiming_uniform_(t, a=np.sqrt(5))
    w = np.zeros((400, 300))
    kaiming_uniform_(w, a=np.sqrt(5), rng=0)
    assert abs(t.var().item() / w.var() - 1) < 0.02
    assert abs(t.abs().max().item() - np.abs(w).max()) < 1e-3
    torch.nn.init.xavier_normal_(t)
    xavier_normal_(w, rng=1)
    assert abs(t.var().item() / w.var() - 1) < 0.02


def test_init_simple_fills_and_namespace():
    w = np.empty((3, 4))
    assert np.all(zeros_(w) == 0) and np.all(ones_(w) == 1) and np.all(constant_(w, 2.5) == 2.5)
    u = uniform_(np.empty(10_000), -2.0, 3.0, rng=0)
    assert u.min() >= -2 and u.max() <= 3 and abs(u.mean() - 0.5) < 0.05
    n = normal_(np.empty(10_000), 1.0, 2.0, rng=0)
    assert abs(n.mean() - 1) < 0.1 and abs(n.std() - 2) < 0.1
    assert init.kaiming_normal_ is kaiming_normal_ and init.calculate_gain is calculate_gain
    lin = Linear(5, 3, rng=0, dtype=np.float32)
    init.xavier_uniform_(lin.weight, rng=0)
    assert lin.weight.data.dtype == np.float32
    a = xavier_uniform_(np.empty((5, 5)), rng=3)
    b = xavier_uniform_(np.empty((5, 5)), rng=3)
    assert np.array_equal(a, b)                              # seeded
    with pytest.raises(TypeError, match="tensor"):
        zeros_([1.0, 2.0])
    with pytest.raises(ValueError, match="nonlinearity"):
        calculate_gain("swish")
    with pytest.raises(ValueError, match="mode"):
        kaiming_normal_(np.empty((3, 3)), mode="fan_avg")


# ----------------------------------------------------------------------------- shared use

def _twice(layer, x1, x2):
    """The same layer applied twice in one forward: y = layer(x1) * layer(x2)."""
    a, b = layer(x1), layer(x2)
    return a, b, a * b


@pytest.mark.parametrize("ours, theirs", CASES + [
    (lambda: PReLU(3, init=0.2), lambda: torch.nn.PReLU(3, init=0.2)),
])
def test_activation_used_twice_in_one_forward(ours, theirs):
    """Two pending calls of one module: backward in reverse order gives torch's gradients,
    and parameter gradients (PReLU) accumulate over both uses."""
    x1, x2 = inputs((4, 3), seed=7), inputs((4, 3), seed=8)
    g = np.random.default_rng(9).standard_normal((4, 3))
    layer, ref = ours(), theirs()
    a, b, y = _twice(layer, x1, x2)
    gx2 = layer.backward(g * a)                # last call first (LIFO)
    gx1 = layer.backward(g * b)
    t1, t2 = torch.tensor(x1, requires_grad=True), torch.tensor(x2, requires_grad=True)
    yt = ref(t1) * ref(t2)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(gx1, t1.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(gx2, t2.grad.numpy(), rtol=1e-10, atol=1e-14)
    for p, q in zip(layer.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-10)
    with pytest.raises(RuntimeError):
        layer.backward(g)                      # both calls consumed


def test_maxout_used_twice_gradcheck():
    """Maxout (a Linear inside) shared by two branches: a float64 gradient check of the sum."""
    from dlbook.nn import Module

    class TwoBranches(Module):
        def __init__(self):
            self.shared = Maxout(5, 3, pool_size=2, rng=0)

        def forward(self, x):
            return self.shared(x) + self.shared(2.0 * x[:, ::-1].copy())

        def backward(self, grad_output):
            g2 = self.shared.backward(grad_output)
            g1 = self.shared.backward(grad_output)
            return g1 + 2.0 * g2[:, ::-1]

    x = np.random.default_rng(10).standard_normal((6, 5))
    assert gradcheck(TwoBranches(), x) < 1e-7
