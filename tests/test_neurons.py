"""Tests of dlbook.neurons (Chapter 2, notes §2.1-2.5) and dlbook.plotting.draw_network."""
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402

from dlbook.neurons import (  # noqa: E402
    ConvergenceWarning,
    FitResult,
    MPNeuron,
    Perceptron,
    PerceptronNetwork,
    boolean_functions,
    boolean_inputs,
    is_linearly_separable,
    linearly_separable_functions,
    modified_inputs,
    modified_perceptron,
)
from dlbook.plotting import draw_network  # noqa: E402

X2 = boolean_inputs(2)
XOR = np.array([0, 1, 1, 0])


# ---------------------------------------------------------------- §2.1 McCulloch-Pitts neuron

def test_boolean_inputs_order_matches_the_notes():
    assert X2.tolist() == [[0, 0], [1, 0], [0, 1], [1, 1]]
    assert boolean_inputs(3).shape == (8, 3)
    assert len({tuple(r) for r in boolean_inputs(4)}) == 16


@pytest.mark.parametrize("neuron, table", [
    (MPNeuron(2, theta=2), [0, 0, 0, 1]),                         # AND
    (MPNeuron(2, theta=1), [0, 1, 1, 1]),                         # OR
    (MPNeuron(2, theta=0, inhibitory=[0, 1]), [1, 0, 0, 0]),      # NOR
    (MPNeuron(2, theta=1, inhibitory=[1]), [0, 1, 0, 0]),         # x1 AND NOT x2
    (MPNeuron(2, theta=0), [1, 1, 1, 1]),                         # tautology
    (MPNeuron(2, theta=3), [0, 0, 0, 0]),                         # never fires
])
def test_mp_neuron_truth_tables(neuron, table):
    assert neuron(X2).tolist() == table
    assert [neuron(x) for x in X2] == table                       # one sample at a time


def test_mp_not_and_three_input_and():
    assert MPNeuron(1, theta=0, inhibitory=[0])([[0], [1]]).tolist() == [1, 0]
    and3 = MPNeuron(3, theta=3)
    X3 = boolean_inputs(3)
    assert and3(X3).tolist() == X3.all(axis=1).astype(int).tolist()


def test_inhibition_is_absolute():
    n = MPNeuron(3, theta=1, inhibitory=[2])
    assert n([1, 1, 0]) == 1 and n([1, 1, 1]) == 0
    assert n.aggregate([1, 1, 1]) == 2          # g counts only the excitatory inputs


def test_mp_as_linear_agrees_on_every_input():
    X3 = boolean_inputs(3)
    for inh in [(), (0,), (1, 2), (0, 1, 2)]:
        for theta in range(0, 5):
            n = MPNeuron(3, theta, inh)
            w, w0 = n.as_linear()
            assert np.array_equal(n(X3), (X3 @ w + w0 >= 0).astype(int)), (inh, theta)


def test_mp_bad_input():
    n = MPNeuron(2, theta=1)
    with pytest.raises(ValueError, match=r"x: expected entries in \{0, 1\}, got values \[0, 2\]"):
        n([[0, 2]])
    with pytest.raises(ValueError, match=r"x: expected shape \(2,\) or \(n_samples, 2\), got \(3,\)"):
        n([1, 0, 1])
    with pytest.raises(ValueError, match=r"inhibitory\[0\]: expected an integer in \[0, 1\], got 2"):
        MPNeuron(2, theta=1, inhibitory=[2])
    with pytest.raises(TypeError, match=r"inhibitory\[1\]: expected an integer, got 1.7"):
        MPNeuron(3, theta=1, inhibitory=[0, 1.7])              # used to be truncated to 1
    with pytest.raises(ValueError, match=r"inhibitory: expected distinct input indices, got \(1, 1\)"):
        MPNeuron(2, theta=1, inhibitory=[1, np.int64(1)])
    assert MPNeuron(2, theta=1, inhibitory=[np.int64(1)]).inhibitory == (1,)
    with pytest.raises(ValueError, match="n_inputs: expected an integer >= 1, got 0"):
        MPNeuron(0, theta=1)
    with pytest.raises(TypeError, match="theta: expected a real number"):
        MPNeuron(2, theta="1")
    with pytest.raises(TypeError, match="n_inputs: expected an integer, got 2.0"):
        MPNeuron(2.0, theta=1)
    with pytest.raises(ValueError, match="theta: expected a finite number, got nan"):
        MPNeuron(2, theta=float("nan"))


# ---------------------------------------------------------------- §2.2-2.3 perceptron

def test_perceptron_rule_with_bias_is_minus_theta():
    p = Perceptron(2)
    p.weight, p.bias = np.array([1.0, 1.0]), -1.0
    assert p.theta == 1.0
    assert p(X2).tolist() == [0, 1, 1, 1]
    assert p.decision_function([0.5, 0.5]) == 0.0 and p.predict([0.5, 0.5]) == 1   # >= 0 fires


def _synthetic(seed, n=60, d=3, gap=0.1):
    rng = np.random.default_rng(seed)
    w, b = rng.standard_normal(d), rng.standard_normal() * 0.3
    X = rng.uniform(-1, 1, size=(10 * n, d))
    s = (X @ w + b) / np.linalg.norm(w)
    X, s = X[np.abs(s) > gap][:n], s[np.abs(s) > gap][:n]
    return X, (s > 0).astype(int)


@pytest.mark.parametrize("order", ["random", "cyclic"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_converges_on_synthetic_separable_data(order, seed):
    X, y = _synthetic(seed)
    assert 0 < y.sum() < len(y)
    p = Perceptron(3, rng=seed)
    res = p.fit(X, y, order=order)
    assert isinstance(res, FitResult) and res.converged and p.fit_result is res
    assert np.array_equal(p.predict(X), y)
    assert res.mistakes[-1] == 0 and sum(res.mistakes) == res.updates
    assert res.epochs == len(res.mistakes) >= 1


@pytest.mark.parametrize("features", [(0, 1), (2, 3)])
def test_converges_on_iris_setosa_vs_versicolor(features):
    iris = load_iris()
    two = iris.target < 2
    X, y = iris.data[two][:, features], iris.target[two]
    p = Perceptron(2, rng=0)
    res = p.fit(X, y, max_epochs=5000)
    assert res.converged
    assert (p.predict(X) == y).all()


def test_record_history_replays_the_updates():
    X, y = _synthetic(3, n=30, d=2)
    p = Perceptron(2, rng=1)
    w0, b0 = p.weight.copy(), p.bias
    res = p.fit(X, y, record=True, order="cyclic")
    assert len(res.history) == res.updates > 0
    w, b = w0, b0
    for w_k, b_k, i in res.history:                 # each step is +-x_i, the sign set by y_i
        sign = 1 if y[i] == 1 else -1
        assert np.allclose(w_k, w + sign * X[i]) and b_k == b + sign
        w, b = w_k, b_k
    assert np.allclose(w, p.weight) and b == p.bias


def test_fit_is_reproducible_with_the_same_seed():
    X, y = _synthetic(4)
    r1, r2 = Perceptron(3, rng=5).fit(X, y), Perceptron(3, rng=5).fit(X, y)
    assert (r1.epochs, r1.updates) == (r2.epochs, r2.updates)


def test_xor_does_not_converge_and_says_so():
    p = Perceptron(2, rng=0)
    with pytest.warns(ConvergenceWarning, match=r"did not converge: all max_epochs=50 epochs had "
                                                r"mistakes.*may not be linearly separable"):
        res = p.fit(X2, XOR, max_epochs=50)
    assert not res.converged and res.epochs == 50 and all(m > 0 for m in res.mistakes)
    assert "converged=False" in repr(res)
    assert (p.predict(X2) == XOR).sum() <= 3


def test_xor_nonconvergence_raise_and_ignore():
    with pytest.raises(RuntimeError, match="Perceptron.fit did not converge"):
        Perceptron(2).fit(X2, XOR, max_epochs=10, on_nonconvergence="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # "ignore" must not warn
        res = Perceptron(2).fit(X2, XOR, max_epochs=10, on_nonconvergence="ignore")
    assert not res.converged


def test_perceptron_bad_input():
    p = Perceptron(2)
    with pytest.raises(ValueError, match=r"y: expected binary labels in \{0, 1\}, got values \[-1, 1\]"):
        p.fit(X2, [-1, 1, 1, -1])
    with pytest.raises(ValueError, match=r"X: expected shape \(2,\) or \(n_samples, 2\), got \(4, 3\)"):
        p.fit(np.zeros((4, 3)), [0, 1, 1, 0])
    with pytest.raises(ValueError, match="X and y: expected one label per sample, got 4 samples and 3"):
        p.fit(X2, [0, 1, 1])
    with pytest.raises(ValueError, match=r"y: expected a 1-D array of labels, got shape \(4, 1\)"):
        p.fit(X2, XOR[:, None])
    with pytest.raises(TypeError, match="X: expected an array of real numbers, got dtype <U1"):
        p.predict([["a", "b"]])
    with pytest.raises(ValueError, match="X: expected finite numbers"):
        p.predict([np.nan, 1.0])
    with pytest.raises(ValueError, match=r"order: expected one of \('random', 'cyclic'\), got 'shuffle'"):
        p.fit(X2, XOR, order="shuffle")
    with pytest.raises(ValueError, match="max_epochs: expected an integer >= 1, got 0"):
        p.fit(X2, XOR, max_epochs=0)
    with pytest.raises(ValueError, match=r"init: expected one of \('random', 'zeros'\), got 'ones'"):
        Perceptron(2, init="ones")
    with pytest.raises(TypeError, match="init: expected one of"):
        Perceptron(2, init=0)
    with pytest.raises(ValueError, match="on_nonconvergence: expected one of"):
        p.fit(X2, XOR, on_nonconvergence="stop")
    with pytest.raises(TypeError, match="max_epochs: expected an integer, got True"):
        p.fit(X2, XOR, max_epochs=True)
    with pytest.raises(TypeError, match="in_features: expected an integer"):
        Perceptron(2.0)


# ---------------------------------------------------------------- Algorithm 2 and the bound

def test_modified_inputs_negates_the_negative_class():
    P = modified_inputs(np.array([[2.0, 3.0], [4.0, 5.0]]), [1, 0])
    assert P.tolist() == [[1.0, 2.0, 3.0], [-1.0, -4.0, -5.0]]
    assert np.allclose(np.linalg.norm(modified_inputs(X2, XOR, normalize=True), axis=1), 1)


def test_modified_perceptron_moves_from_zero_and_respects_the_bound():
    """k <= 1/delta^2 for normalised P' and w = 0 (convergence theorem, §2.3), with delta the
    margin of a known unit separator w* (any w* gives a valid bound)."""
    rng = np.random.default_rng(0)
    for _ in range(40):
        X, y = _synthetic(int(rng.integers(1 << 30)), n=40, d=2, gap=0.05)
        P = modified_inputs(X, y, normalize=True)
        # a separator of P' with a margin: the perceptron's own solution, then its margin
        w_star = modified_perceptron(P, max_epochs=100_000)[0]
        w_star /= np.linalg.norm(w_star)
        delta = (P @ w_star).min()
        assert delta > 0
        w, res = modified_perceptron(P, order="cyclic")
        assert res.converged and (P @ w > 0).all() and res.updates >= 1
        assert res.updates <= 1 / delta**2


def test_modified_perceptron_cannot_separate_xor():
    w, res = modified_perceptron(modified_inputs(X2, XOR, normalize=True), max_epochs=200)
    assert not res.converged


# ---------------------------------------------------------------- §2.4 separability

def test_is_linearly_separable_examples():
    assert not is_linearly_separable(X2, XOR)
    assert not is_linearly_separable(X2, 1 - XOR)
    assert is_linearly_separable(X2, [0, 1, 1, 1])
    assert is_linearly_separable(np.array([[0.0], [1.0], [2.0]]), [0, 0, 1])
    assert not is_linearly_separable(np.array([[0.0], [1.0], [2.0]]), [0, 1, 0])


def test_boolean_functions_table_2():
    F = boolean_functions(2)
    assert F.shape == (16, 4)
    assert F[1].tolist() == [0, 0, 0, 1]          # f_2 = AND
    assert F[6].tolist() == XOR.tolist()          # f_7 = XOR
    assert F[9].tolist() == (1 - XOR).tolist()    # f_10 = XNOR
    with pytest.raises(ValueError, match="n: expected 0 <= n <= 4"):
        boolean_functions(5)


def test_separable_counts_n2_n3():
    sep2 = linearly_separable_functions(2)
    assert sep2.sum() == 14
    assert np.flatnonzero(~sep2).tolist() == [6, 9]       # f_7 and f_10
    assert linearly_separable_functions(3).sum() == 104


def test_separable_count_n4():
    assert linearly_separable_functions(4).sum() == 1882


def test_perceptron_agrees_with_the_exact_test_on_two_inputs():
    for f, sep in zip(boolean_functions(2), linearly_separable_functions(2)):
        res = Perceptron(2, init="zeros").fit(X2, f, max_epochs=100, on_nonconvergence="ignore")
        assert res.converged == sep


# ---------------------------------------------------------------- §2.5 network of perceptrons

def test_network_hidden_layer_is_figure_5():
    net = PerceptronNetwork(2)
    assert net.hidden_weight.tolist() == [[-1, -1], [-1, 1], [1, -1], [1, 1]]
    assert net.hidden_bias.tolist() == [-2, -2, -2, -2]
    H = net.hidden(2 * X2 - 1)
    assert (H.sum(axis=1) == 1).all() and (H.sum(axis=0) == 1).all()   # one-hot, all different
    assert H[1].tolist() == [0, 0, 1, 0]          # x1 = True, x2 = False fires h_3


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("method", ["solve", "perceptron"])
def test_network_represents_every_boolean_function(n, method):
    X = 2 * boolean_inputs(n) - 1
    for f in boolean_functions(n):
        net = PerceptronNetwork(n)
        res = net.fit(X, f, method=method, max_epochs=50) if method == "perceptron" \
            else net.fit(X, f)
        assert res.converged
        assert np.array_equal(net(X), f)


def test_network_bad_input():
    net = PerceptronNetwork(2)
    with pytest.raises(ValueError, match=r"X: expected entries in \{-1, 1\}, got values "
                                         r"\[0, 1\].*from 0/1 use 2 \* X - 1"):
        net.fit(X2, XOR)
    with pytest.raises(ValueError, match="same input appears with label 0 and with label 1"):
        net.fit(np.array([[1, 1], [1, 1]]), [0, 1])
    with pytest.raises(ValueError, match=r"method: expected one of \('solve', 'perceptron'\), got 'lstsq'"):
        net.fit(2 * X2 - 1, XOR, method="lstsq")
    with pytest.raises(ValueError, match="n_inputs: expected at most 16"):
        PerceptronNetwork(30)


# ---------------------------------------------------------------- plotting

def test_draw_network_draws_and_checks_shapes():
    net = PerceptronNetwork(2)
    net.fit(2 * X2 - 1, XOR)
    fig, ax = plt.subplots()
    assert draw_network([2, 4, 1], net.weights, ax=ax, edge_labels=[False, True]) is ax
    assert [len(c.get_segments()) for c in ax.collections] == [8, 4]      # one collection per layer
    plt.close(fig)
    with pytest.raises(ValueError, match=r"weights\[1\]: expected shape \(1, 4\) \(out, in\), got \(4,\)"):
        draw_network([2, 4, 1], [net.hidden_weight, net.output_weight[0]])
    with pytest.raises(ValueError, match="weights: expected 2 arrays"):
        draw_network([2, 4, 1], [net.hidden_weight])
    with pytest.raises(ValueError, match="layer_sizes: expected a non-empty sequence of positive"):
        draw_network([2, 0, 1])
    fig, ax = plt.subplots()
    draw_network([784, 30, 10], ax=ax, max_nodes=8)      # large layers are elided
    assert [len(c.get_segments()) for c in ax.collections] == [7 * 7, 7 * 7]   # 7 nodes + ellipsis
    plt.close(fig)


# ------------------------------------------- dlbook.plotting: the notes' Figure 7 (§4.3)

def _symbols(graph):
    return [s for s, _ in graph["nodes"]]


def test_backprop_chain_of_the_notes_network():
    from dlbook.nn import CrossEntropyLoss, mlp
    from dlbook.plotting import backprop_chain
    net = mlp([4, 5, 5, 3], activation="sigmoid", rng=0)
    g = backprop_chain(net, CrossEntropyLoss())
    assert _symbols(g) == ["h_{0}", "a_{1}", "h_{1}", "a_{2}", "h_{2}", "a_{3}", r"\hat y", r"\mathcal{L}"]
    assert [n for _, n in g["nodes"]] == [4, 5, 5, 5, 5, 3, 3, 1]
    assert len(g["steps"]) == len(g["nodes"]) - 1
    forward, local = zip(*g["steps"])
    assert forward[0] == "W_{1} h_{0} + b_{1}" and forward[1] == r"\sigma"
    assert local[0] == r"\partial a_{1} / \partial h_{0} = W_{1}"
    assert local[1] == r"\partial h_{1} / \partial a_{1} = h_{1} \odot (1 - h_{1})"
    assert local[-1] == r"\partial \mathcal{L} / \partial \hat y = -e_l / \hat y_l"
    linears = [m for m in net.modules() if type(m).__name__ == "Linear"]
    assert [p[2] for p in g["params"]] == [m.weight.data.shape for m in linears]
    assert [g["nodes"][p[0]][0] for p in g["params"]] == ["a_{1}", "a_{2}", "a_{3}"]
    assert g["layers"] == [(1, 2, "hidden layer 1"), (3, 4, "hidden layer 2"), (5, 6, "output layer")]


def test_backprop_chain_tanh_mse_softmax_and_nesting():
    from dlbook.nn import Linear, MSELoss, Sequential, Softmax, Tanh
    from dlbook.plotting import backprop_chain
    model = Sequential(Sequential(Linear(2, 3, rng=0), Tanh()), Linear(3, 2, rng=1))
    g = backprop_chain(model, MSELoss())
    assert _symbols(g) == ["h_{0}", "a_{1}", "h_{1}", "a_{2}", r"\mathcal{L}"]
    assert g["steps"][1][1].endswith("= 1 - h_{1}^2")
    assert g["steps"][-1][1] == r"\partial \mathcal{L} / \partial a_{2} = 2(a_{2} - y)"
    g = backprop_chain(Sequential(Linear(2, 3, rng=0), Softmax()))          # no loss: ends at y_hat
    assert _symbols(g) == ["h_{0}", "a_{1}", r"\hat y"]
    assert g["layers"] == [(1, 2, "output layer")]


def test_backprop_chain_names_unknown_modules_and_refuses_bad_models():
    from dlbook.nn import Linear, Module, Sequential
    from dlbook.plotting import backprop_chain

    class Square(Module):
        def forward(self, a):
            return a * a

    g = backprop_chain(Sequential(Linear(2, 2, rng=0), Square()))
    assert g["nodes"][-1] == ("u_{1}", 2) and g["steps"][-1][0] == r"\mathrm{Square}"
    with pytest.raises(ValueError, match="model: expected a model with Linear layers, got Square"):
        backprop_chain(Square())
    with pytest.raises(ValueError, match="loss_fn: expected a CrossEntropyLoss, an MSELoss or None"):
        backprop_chain(Sequential(Linear(2, 2, rng=0)), Square())


def test_draw_backprop_graph_writes_the_chain_rule():
    from dlbook.nn import CrossEntropyLoss, mlp
    from dlbook.plotting import draw_backprop_graph
    net = mlp([4, 5, 5, 3], activation="tanh", rng=0)
    fig, ax = plt.subplots()
    draw_backprop_graph(net, CrossEntropyLoss(), ax=ax, wrt=2)
    texts = [t.get_text() for t in ax.texts]
    chain = [t for t in texts if t.startswith(r"$\partial \mathcal{L} / \partial W_{2} =")]
    assert len(chain) == 1
    # dL/dW_2: four steps from the loss back to a_2, then one into W_2
    assert chain[0].count(r"\partial") == 2 + 2 * (4 + 1)
    assert r"(\partial a_{2} / \partial W_{2})$" in chain[0]
    assert r"$\partial h_{1} / \partial a_{1}$" + "\n" + r"$= 1 - h_{1}^2$" in texts
    with pytest.raises(ValueError, match="wrt: expected a layer number in 1..3, got 4"):
        draw_backprop_graph(net, CrossEntropyLoss(), ax=ax, wrt=4)
    plt.close(fig)


def test_nn_does_not_import_plotting():
    import subprocess
    import sys
    code = "import sys, dlbook.nn; print('dlbook.plotting' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_backprop_chain_labels_multiply_to_the_gradient_dlbook_computes(activation):
    """Evaluate each local derivative exactly as its label in Figure 7 reads; their product along
    the chain must be the gradient dL/dh_0 that model.backward returns."""
    from dlbook.nn import CrossEntropyLoss, mlp
    from dlbook.plotting import backprop_chain
    rng = np.random.default_rng(0)
    net, loss_fn = mlp([4, 5, 5, 3], activation=activation, rng=1), CrossEntropyLoss()
    x, label = rng.normal(size=(1, 4)), np.array([2])
    loss_fn(net(x), label)
    grad_x = net.backward(loss_fn.backward())[0]

    g = backprop_chain(net, loss_fn)
    linears = iter(m for m in net.modules() if type(m).__name__ == "Linear")
    h = x[0]                                       # the current node's value, by the forward pass
    jacobians = []                                 # d node[k+1] / d node[k], read from the labels
    for (symbol, _), (_forward, local) in zip(g["nodes"][1:], g["steps"]):
        rhs = local.split(" = ")[1]
        if rhs.startswith("W_"):
            lin = next(linears)
            W = lin.weight.data
            h = W @ h + lin.bias.data
            jacobians.append(W)
        elif rhs.endswith(r"\odot (1 - " + symbol + ")"):          # sigma: h (1 - h)
            h = 1 / (1 + np.exp(-h))
            jacobians.append(np.diag(h * (1 - h)))
        elif rhs == f"1 - {symbol}^2":                              # tanh
            h = np.tanh(h)
            jacobians.append(np.diag(1 - h * h))
        elif rhs == r"\mathrm{diag}(\hat y) - \hat y \hat y^\top":  # softmax
            h = np.exp(h - h.max()) / np.exp(h - h.max()).sum()
            jacobians.append(np.diag(h) - np.outer(h, h))
        elif rhs == r"-e_l / \hat y_l":                             # -log y_hat_l
            e = np.eye(len(h))[label[0]]
            jacobians.append((-e / h[label[0]])[None, :])
            h = np.array([-np.log(h[label[0]])])
        else:
            raise AssertionError(f"unexpected label {local!r}")
    product = np.eye(1)
    for J in reversed(jacobians):                  # dL/dh_0 = J_last ... J_first
        product = product @ J
    np.testing.assert_allclose(product[0], grad_x, rtol=1e-12, atol=1e-15)
