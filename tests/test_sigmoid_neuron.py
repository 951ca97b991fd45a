"""Tests of chapter 3: the stable ``sigmoid`` and the ``SigmoidNeuron`` (notes §3.1, §3.3)."""
import warnings

import numpy as np
import pytest
import torch

from dlbook.neurons import SigmoidNeuron, sigmoid

X_TOY = np.array([0.5, 2.5])
Y_TOY = np.array([0.2, 0.9])


def transcribed_sigmoid(z):
    """The notes' formula 1 / (1 + exp(-z)), for moderate z only."""
    return 1.0 / (1.0 + np.exp(-z))


def numerical_grad(neuron, X, y, h=1e-6):
    """Central finite differences of the loss w.r.t. (weight..., bias), in float64."""
    theta = np.append(neuron.weight, neuron.bias)
    g = np.zeros_like(theta)
    for j in range(theta.size):
        plus, minus = theta.copy(), theta.copy()
        plus[j] += h
        minus[j] -= h
        lp = SigmoidNeuron(theta.size - 1, weight=plus[:-1], bias=plus[-1]).loss(X, y)
        lm = SigmoidNeuron(theta.size - 1, weight=minus[:-1], bias=minus[-1]).loss(X, y)
        g[j] = (lp - lm) / (2 * h)
    return g


# ------------------------------------------------------------------------ sigmoid

def test_sigmoid_matches_formula_for_moderate_inputs():
    z = np.linspace(-30, 30, 601)
    np.testing.assert_allclose(sigmoid(z), transcribed_sigmoid(z), rtol=1e-14, atol=0)
    assert sigmoid(0.0) == 0.5
    assert isinstance(sigmoid(0.3), np.floating) and np.ndim(sigmoid(0.3)) == 0


def test_sigmoid_symmetry_and_range():
    z = np.random.default_rng(0).normal(scale=20, size=1000)
    s = sigmoid(z)
    np.testing.assert_allclose(s + sigmoid(-z), 1.0, rtol=0, atol=1e-15)
    assert np.all((s >= 0) & (s <= 1))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_is_stable_for_huge_inputs(dtype):
    z = np.array([-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")               # any RuntimeWarning fails the test
        with np.errstate(all="raise"):               # any floating-point error raises
            s = sigmoid(z)
    assert s.dtype == dtype
    assert np.all(np.isfinite(s))
    assert s[0] == 0.0 and s[-1] == 1.0 and s[3] == 0.5
    # the naive formula overflows on the same input: the guard above is really armed
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        transcribed_sigmoid(np.array([-1e4]))


def test_sigmoid_handles_infinities_and_ints():
    np.testing.assert_array_equal(sigmoid(np.array([-np.inf, np.inf])), [0.0, 1.0])
    s = sigmoid(np.array([0, 1, -1]))
    assert s.dtype == np.float64
    np.testing.assert_allclose(s, transcribed_sigmoid(np.array([0.0, 1.0, -1.0])))


def test_sigmoid_parity_with_torch_forward_and_backward():
    rng = np.random.default_rng(1)
    z = np.concatenate([rng.normal(scale=5, size=200), [-1e4, -745.0, -40.0, 40.0, 1e4]])
    zt = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    st = torch.sigmoid(zt)
    upstream = rng.normal(size=z.size)
    st.backward(torch.tensor(upstream))
    s = sigmoid(z)
    np.testing.assert_allclose(s, st.detach().numpy(), rtol=1e-15, atol=1e-300)
    # the backward the book uses: dsigma/dz = sigma (1 - sigma)
    np.testing.assert_allclose(upstream * s * (1 - s), zt.grad.numpy(), rtol=1e-13, atol=1e-300)


def test_sigmoid_rejects_non_numbers():
    with pytest.raises(TypeError, match="z"):
        sigmoid(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="z"):
        sigmoid(np.array([1 + 2j]))


# ------------------------------------------------------------------------ SigmoidNeuron

@pytest.mark.parametrize("in_features", [1, 3])
def test_gradient_matches_central_differences(in_features):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(25, in_features))
    y = rng.uniform(size=25)
    for _ in range(5):
        neuron = SigmoidNeuron(in_features, weight=rng.normal(size=in_features),
                               bias=rng.normal())
        dw, db = neuron.grad(X, y)
        analytic = np.append(dw, db)
        numeric = numerical_grad(neuron, X, y)
        rel = np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), 1e-12)
        assert rel.max() < 1e-6, (analytic, numeric)
        assert dw.shape == (in_features,) and isinstance(db, float)


def test_gradient_is_the_notes_formula_averaged():
    neuron = SigmoidNeuron(weight=0.7, bias=-0.3)
    f = transcribed_sigmoid(0.7 * X_TOY - 0.3)
    dw, db = neuron.grad(X_TOY, Y_TOY)
    np.testing.assert_allclose(dw, [np.mean((f - Y_TOY) * f * (1 - f) * X_TOY)], rtol=1e-14)
    np.testing.assert_allclose(db, np.mean((f - Y_TOY) * f * (1 - f)), rtol=1e-14)
    np.testing.assert_allclose(neuron.loss(X_TOY, Y_TOY), 0.5 * np.mean((f - Y_TOY) ** 2),
                               rtol=1e-14)


def test_forward_shapes_and_values():
    neuron = SigmoidNeuron(2, weight=[1.0, -2.0], bias=0.5)
    X = np.array([[0.0, 0.0], [1.0, 1.0], [3.0, -1.0]])
    np.testing.assert_allclose(neuron(X), transcribed_sigmoid(X @ [1.0, -2.0] + 0.5))
    assert neuron.forward(X).shape == (3,)


def test_gradient_descent_solves_the_toy_problem():
    neuron = SigmoidNeuron(weight=-2.0, bias=-2.0)
    trajectory = neuron.fit(X_TOY, Y_TOY, lr=10.0, max_iterations=200)
    assert trajectory["weight"].shape == (201, 1)
    assert trajectory["bias"].shape == trajectory["loss"].shape == (201,)
    assert trajectory["loss"][-1] < 1e-8
    # the exact solution: sigma(w x_i + b) = y_i  <=>  w x_i + b = logit(y_i)
    logit = np.log(Y_TOY / (1 - Y_TOY))
    w_exact = (logit[1] - logit[0]) / (X_TOY[1] - X_TOY[0])
    b_exact = logit[0] - w_exact * X_TOY[0]
    assert abs(neuron.weight[0] - w_exact) < 1e-3 and abs(neuron.bias - b_exact) < 1e-3
    # the trajectory starts at the initial point and ends at the current parameters
    assert trajectory["weight"][0, 0] == -2.0 and trajectory["bias"][0] == -2.0
    assert trajectory["weight"][-1, 0] == neuron.weight[0] and trajectory["bias"][-1] == neuron.bias


def test_small_learning_rate_is_slower():
    slow = SigmoidNeuron(weight=-2.0, bias=-2.0).fit(X_TOY, Y_TOY, lr=0.5, max_iterations=200)
    fast = SigmoidNeuron(weight=-2.0, bias=-2.0).fit(X_TOY, Y_TOY, lr=10.0, max_iterations=200)
    assert slow["loss"][-1] > 1e3 * fast["loss"][-1]


def test_too_large_learning_rate_overshoots_and_stalls():
    """Chapter 3, "The learning rate": eta = 80 > 2 / lambda_max (about 50) does not reach the
    minimum; the loss rises at some step and ends on the plateau where f(x_2) is close to 1."""
    big = SigmoidNeuron(weight=-2.0, bias=-2.0)
    run = big.fit(X_TOY, Y_TOY, lr=80.0, max_iterations=1000)
    assert np.any(np.diff(run["loss"]) > 0)                     # not a descent any more
    assert run["loss"][-1] > 1e-3
    assert big(X_TOY)[1] > 0.99


def test_gradient_descent_decreases_loss_on_random_data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(100, 4))
    w_true = np.array([1.5, -2.0, 0.5, 0.0])
    y = transcribed_sigmoid(X @ w_true + 0.3)
    neuron = SigmoidNeuron(4, rng=np.random.default_rng(4))
    trajectory = neuron.fit(X, y, lr=2.0, max_iterations=2000)
    assert np.all(np.diff(trajectory["loss"]) <= 1e-15)       # small eta: monotone descent
    assert trajectory["loss"][-1] < 1e-5
    np.testing.assert_allclose(neuron.weight, w_true, atol=0.05)


def test_default_initialisation_is_reproducible():
    a, b = SigmoidNeuron(3), SigmoidNeuron(3)
    np.testing.assert_array_equal(a.weight, b.weight)
    assert a.bias == b.bias and a.weight.dtype == np.float64
    c = SigmoidNeuron(3, rng=np.random.default_rng(123))
    assert not np.array_equal(a.weight, c.weight)


@pytest.mark.parametrize("seed", [3, np.int64(3), np.random.SeedSequence(3)])
def test_rng_accepts_seeds_and_generators_alike(seed):
    # issue 7 §4: SigmoidNeuron(2, rng=3) raised AttributeError (int has no standard_normal)
    a = SigmoidNeuron(2, rng=seed)
    b = SigmoidNeuron(2, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a.weight, b.weight)
    assert a.bias == b.bias


def test_rng_generator_is_shared_not_copied():
    g = np.random.default_rng(8)
    a, b = SigmoidNeuron(2, rng=g), SigmoidNeuron(2, rng=g)   # consecutive draws of one stream
    assert not np.array_equal(a.weight, b.weight)
    h = np.random.default_rng(8)
    np.testing.assert_array_equal(a.weight, h.standard_normal(2))


# ------------------------------------------------------------------------ bad input

@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(in_features=0), ValueError, "in_features"),
    (dict(in_features=2.0), TypeError, "in_features"),
    (dict(in_features=True), TypeError, "in_features"),
    (dict(in_features=2, weight=[1.0, 2.0, 3.0]), ValueError, r"weight: expected shape \(2,\)"),
    (dict(in_features=1, weight="a"), TypeError, "weight"),
    (dict(in_features=1, bias=[1.0, 2.0]), ValueError, "bias"),
    (dict(in_features=1, bias="x"), TypeError, "bias"),
    (dict(in_features=np.int64(0)), ValueError, "in_features: expected an integer >= 1, got 0"),
    (dict(in_features=2, rng=1.5), TypeError, "rng: expected a np.random.Generator"),
    (dict(in_features=2, rng=True), TypeError, "rng: expected"),
    (dict(in_features=2, rng=-3), ValueError, "rng: expected a non-negative integer seed"),
])
def test_constructor_rejects_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        SigmoidNeuron(**kwargs)


def test_methods_reject_bad_data():
    neuron = SigmoidNeuron(2, weight=[1.0, 1.0], bias=0.0)
    with pytest.raises(ValueError, match=r"X: expected shape \(N, 2\).*got \(3, 3\)"):
        neuron.forward(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="X"):
        neuron.forward(np.zeros(3))                 # 1-D only allowed for one input
    with pytest.raises(ValueError, match="X"):
        neuron.forward(np.zeros((0, 2)))
    with pytest.raises(TypeError, match="X"):
        neuron.forward(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match=r"y: expected shape \(3,\)"):
        neuron.grad(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(TypeError, match="y"):
        neuron.loss(np.zeros((1, 2)), np.array(["a"]))


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(lr=0.0), ValueError, "lr"),
    (dict(lr=-1.0), ValueError, "lr"),
    (dict(lr=float("nan")), ValueError, "lr"),
    (dict(lr="0.1"), TypeError, "lr"),
    (dict(max_iterations=-1), ValueError, "max_iterations"),
    (dict(max_iterations=10.0), TypeError, "max_iterations"),
    (dict(lr=True), TypeError, "lr: expected a real number"),
    (dict(lr=float("inf")), ValueError, "lr: expected a finite number > 0, got inf"),
])
def test_fit_rejects_bad_hyperparameters(kwargs, exc, match):
    neuron = SigmoidNeuron(weight=0.0, bias=0.0)
    with pytest.raises(exc, match=match):
        neuron.fit(X_TOY, Y_TOY, **kwargs)
    assert neuron.weight[0] == 0.0 and neuron.bias == 0.0    # nothing changed
