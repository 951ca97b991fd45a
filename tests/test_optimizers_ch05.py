"""Tests of chapter 5 (book/ch05_gradient_descent.md): SGD with momentum / Nesterov / weight decay
and the learning-rate and momentum schedules of ``dlbook.optimizers``, against PyTorch and against
direct transcriptions of the notes' formulas (§5.1, §5.2, §5.4)."""
import copy
import math

import numpy as np
import pytest
import torch

from dlbook.nn import Parameter
from dlbook.optimizers import (
    SGD,
    ExponentialDecayLR,
    ExponentialLR,
    InverseTimeLR,
    LineSearchSGD,
    LRScheduler,
    ReduceLROnPlateau,
    ReduceLROnRise,
    StepLR,
    SutskeverMomentum,
)

SHAPES = [(3, 4), (4,), (2, 3, 2), (1,)]


def make_params(seed=0):
    rng = np.random.default_rng(seed)
    return [Parameter(rng.normal(size=s)) for s in SHAPES]


def grad_fn(rng_seed=1):
    """A gradient that depends on the parameter value and the step: g_t(w) = c*w + sin(w) + n_t."""
    rng = np.random.default_rng(rng_seed)
    scales = [rng.uniform(0.5, 2.0, size=s) for s in SHAPES]
    noise = [[rng.normal(size=s) for s in SHAPES] for _ in range(400)]

    def g(i, t, w):
        return scales[i] * w + np.sin(w) + 0.3 * noise[t][i]
    return g


def set_grads(params, g, t):
    for i, p in enumerate(params):
        p.grad[...] = g(i, t, p.data)


def run_dlbook(opt_kwargs, steps, seed=0):
    params = make_params(seed)
    opt = SGD(params, **opt_kwargs)
    g = grad_fn()
    traj = []
    for t in range(steps):
        opt.zero_grad()
        set_grads(params, g, t)
        opt.step()
        traj.append([p.data.copy() for p in params])
    return traj


def run_torch(opt_kwargs, steps, seed=0):
    params = [torch.tensor(p.data.copy(), dtype=torch.float64, requires_grad=True)
              for p in make_params(seed)]
    opt = torch.optim.SGD(params, foreach=False, **opt_kwargs)
    g = grad_fn()
    traj = []
    for t in range(steps):
        opt.zero_grad()
        for i, p in enumerate(params):
            p.grad = torch.from_numpy(g(i, t, p.detach().numpy().copy()))
        opt.step()
        traj.append([p.detach().numpy().copy() for p in params])
    return traj


def assert_close(traj_a, traj_b, rtol=1e-12):
    assert len(traj_a) == len(traj_b)
    for step_a, step_b in zip(traj_a, traj_b):
        for a, b in zip(step_a, step_b):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-13)


# ----------------------------------------------------------------------------- SGD vs torch
@pytest.mark.parametrize("kwargs", [
    dict(lr=0.05),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.03, momentum=0.7, nesterov=True),
    dict(lr=0.02, weight_decay=0.1),
    dict(lr=0.01, momentum=0.95, weight_decay=0.05),
    dict(lr=0.04, momentum=0.5, weight_decay=0.01, nesterov=True),
])
def test_sgd_matches_torch(kwargs):
    steps = 150
    ours = run_dlbook(kwargs, steps)
    ref = run_torch(kwargs, steps)
    assert_close(ours, ref)
    # the trajectory actually moved (the test could fail)
    assert not np.allclose(ours[-1][0], make_params()[0].data)


def test_sgd_default_hyperparameters_and_groups():
    params = make_params()
    opt = SGD(params)
    assert opt.defaults == dict(lr=0.01, momentum=0.0, weight_decay=0.0, nesterov=False)
    (group,) = opt.param_groups
    assert group["params"] == params and {k: group[k] for k in opt.defaults} == opt.defaults
    assert not hasattr(opt, "lr")             # hyper-parameters live in the groups only


def test_sgd_lr_changed_midway_matches_torch():
    """A schedule changes lr between steps: the velocity is not rescaled (PyTorch's form)."""
    kwargs = dict(lr=0.05, momentum=0.9, nesterov=True)
    params = make_params()
    opt = SGD(params, **kwargs)
    tparams = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    topt = torch.optim.SGD(tparams, foreach=False, **kwargs)
    g = grad_fn()
    for t in range(120):
        lr = 0.05 * 0.97 ** t
        opt.param_groups[0]["lr"] = lr
        topt.param_groups[0]["lr"] = lr
        set_grads(params, g, t)
        for i, p in enumerate(tparams):
            p.grad = torch.from_numpy(g(i, t, p.detach().numpy().copy()))
        opt.step()
        topt.step()
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-13)


# ----------------------------------------------------------------------------- notes' forms
def test_momentum_equals_unrolled_sum_and_eta_inside_form():
    """§5.1: u_t = sum_tau beta^(t-tau) grad_tau, and the eta-inside form u'_t = eta u_t."""
    beta, eta = 0.8, 0.1
    p = Parameter(np.array([1.5, -0.5]))
    opt = SGD([p], lr=eta, momentum=beta)
    w_in = p.data.copy()          # eta-inside form: u'_t = beta u'_{t-1} + eta g_t, w -= u'_t
    u_in = np.zeros(2)
    grads = []
    for t in range(60):
        g = np.array([3.0 * p.data[0], 0.5 * p.data[1] ** 3]) + np.cos(t)
        grads.append(g)
        p.grad[...] = g
        opt.step()
        unrolled = sum(beta ** (t - tau) * grads[tau] for tau in range(t + 1))
        np.testing.assert_allclose(opt.state[p]["momentum_buffer"], unrolled, rtol=1e-12)
        g_in = np.array([3.0 * w_in[0], 0.5 * w_in[1] ** 3]) + np.cos(t)
        u_in = beta * u_in + eta * g_in
        w_in = w_in - u_in
        np.testing.assert_allclose(p.data, w_in, rtol=1e-10, atol=1e-12)


def test_nesterov_equals_lookahead_form_after_change_of_variables():
    """§5.2: u_t = beta u_{t-1} + grad(w_t - eta beta u_{t-1}), w_{t+1} = w_t - eta u_t; PyTorch's
    iterates are the look-ahead points v_t = w_t - eta beta u_{t-1}."""
    beta, eta = 0.9, 0.05
    A = np.array([[3.0, 0.5], [0.5, 0.4]])

    def grad(w):
        return A @ w + 0.2 * np.sin(w)
    w0 = np.array([2.0, -1.0])
    p = Parameter(w0.copy())
    opt = SGD([p], lr=eta, momentum=beta, nesterov=True)
    w, u = w0.copy(), np.zeros(2)
    for _ in range(200):
        np.testing.assert_allclose(p.data, w - eta * beta * u, rtol=1e-10, atol=1e-12)
        u = beta * u + grad(w - eta * beta * u)
        w = w - eta * u
        p.grad[...] = grad(p.data)
        opt.step()
    assert np.linalg.norm(w) < 1e-3       # both converged to the minimum at 0


def test_momentum_beats_plain_gd_on_ill_conditioned_quadratic():
    A = np.diag([1.0, 0.01])

    def steps_to(opt_kwargs, tol=1e-6):
        p = Parameter(np.array([1.0, 1.0]))
        opt = SGD([p], **opt_kwargs)
        for t in range(1, 20001):
            p.grad[...] = A @ p.data
            opt.step()
            if 0.5 * p.data @ A @ p.data < tol:
                return t
        return math.inf
    plain = steps_to(dict(lr=1.0))
    mom = steps_to(dict(lr=1.0, momentum=0.8))
    nag = steps_to(dict(lr=1.0, momentum=0.8, nesterov=True))
    assert mom < plain / 3 and nag < plain / 3


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize("kwargs, name, error", [
    (dict(lr=-0.1), "lr", ValueError),
    (dict(lr="0.1"), "lr", TypeError),
    (dict(lr=float("nan")), "lr", ValueError),
    (dict(momentum=-0.5), "momentum", ValueError),
    (dict(momentum=None), "momentum", TypeError),
    (dict(weight_decay=-1e-3), "weight_decay", ValueError),
    (dict(nesterov=True), "nesterov", ValueError),
    (dict(nesterov=True, momentum=0.0), "nesterov", ValueError),
    (dict(momentum=0.9, nesterov="yes"), "nesterov", TypeError),
])
def test_sgd_invalid_hyperparameters(kwargs, name, error):
    with pytest.raises(error, match=name):
        SGD(make_params(), **kwargs)


def test_sgd_invalid_group_hyperparameters():
    a, b = make_params()[:2]
    with pytest.raises(TypeError, match="lr: expected a real number, got '0.1'"):
        SGD([{"params": [a], "lr": "0.1"}, {"params": [b]}], lr=0.1)
    with pytest.raises(ValueError, match="momentum"):
        SGD([{"params": [a]}, {"params": [b], "momentum": -1.0}], lr=0.1)


def test_sgd_empty_params():
    with pytest.raises(ValueError, match="params"):
        SGD([], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="params"):
        SGD(iter([]), lr=0.1)


@pytest.mark.parametrize("make, name", [
    (lambda o: StepLR(o, step_size=0), "step_size"),
    (lambda o: StepLR(o, step_size=3, gamma=0.0), "gamma"),
    (lambda o: ExponentialLR(o, gamma=-0.9), "gamma"),
    (lambda o: ExponentialDecayLR(o, k=-0.1), "k"),
    (lambda o: InverseTimeLR(o, k=-1.0), "k"),
    (lambda o: ReduceLROnPlateau(o, factor=1.0), "factor"),
    (lambda o: ReduceLROnPlateau(o, mode="minimum"), "mode"),
    (lambda o: ReduceLROnPlateau(o, patience=-1), "patience"),
    (lambda o: ReduceLROnPlateau(o, threshold_mode="relative"), "threshold_mode"),
    (lambda o: ReduceLROnPlateau(o, threshold=-0.1), "threshold"),
    (lambda o: SutskeverMomentum(o, mu_max=1.0), "mu_max"),
    (lambda o: ReduceLROnRise(o, factor=1.5), "factor"),
])
def test_scheduler_invalid_arguments(make, name):
    opt = SGD(make_params(), lr=0.1, momentum=0.5)
    with pytest.raises(ValueError, match=name):
        make(opt)


@pytest.mark.parametrize("make, name", [
    (lambda o: StepLR(o, step_size=2.5), "step_size"),
    (lambda o: StepLR(o, step_size=2, gamma="0.5"), "gamma"),
    (lambda o: ReduceLROnPlateau(o, patience=1.5), "patience"),
    (lambda o: SutskeverMomentum(o, mu_max=0.9, period=2.0), "period"),
])
def test_scheduler_arguments_of_the_wrong_type(make, name):
    opt = SGD(make_params(), lr=0.1, momentum=0.5)
    with pytest.raises(TypeError, match=name):
        make(opt)


def test_scheduler_needs_an_optimizer():
    with pytest.raises(TypeError, match="optimizer"):
        StepLR(object(), step_size=2)


def test_sutskever_needs_momentum_hyperparameter():
    opt = LineSearchSGD(make_params())
    with pytest.raises(ValueError, match="optimizer"):
        SutskeverMomentum(opt, mu_max=0.9)


# ----------------------------------------------------------------------------- schedules vs torch
def lr_sequence_ours(make_sched, epochs, metrics=None, lr=0.5):
    opt = SGD(make_params(), lr=lr, momentum=0.9)
    sched = make_sched(opt)
    lrs = [opt.param_groups[0]["lr"]]
    for e in range(epochs):
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[e])
        lrs.append(opt.param_groups[0]["lr"])
        assert sched.get_last_lr() == [opt.param_groups[0]["lr"]]
    return np.array(lrs)


def lr_sequence_torch(make_sched, epochs, metrics=None, lr=0.5):
    opt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=lr, momentum=0.9)
    sched = make_sched(opt)
    lrs = [opt.param_groups[0]["lr"]]
    for e in range(epochs):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[e])
        lrs.append(opt.param_groups[0]["lr"])
    return np.array(lrs)


TL = torch.optim.lr_scheduler


@pytest.mark.parametrize("ours, ref", [
    (lambda o: StepLR(o, step_size=5, gamma=0.5), lambda o: TL.StepLR(o, step_size=5, gamma=0.5)),
    (lambda o: StepLR(o, step_size=7), lambda o: TL.StepLR(o, step_size=7)),
    (lambda o: StepLR(o, step_size=3, gamma=0.77), lambda o: TL.StepLR(o, step_size=3, gamma=0.77)),
    (lambda o: ExponentialLR(o, gamma=0.93), lambda o: TL.ExponentialLR(o, gamma=0.93)),
    (lambda o: ExponentialDecayLR(o, k=0.05),
     lambda o: TL.ExponentialLR(o, gamma=math.exp(-0.05))),
])
def test_schedules_match_torch(ours, ref):
    epochs = 60
    a = lr_sequence_ours(ours, epochs)
    b = lr_sequence_torch(ref, epochs)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
    assert a[-1] < a[0]


def plateau_metrics(n=80, seed=3):
    """A validation-loss-like sequence: decreasing, with plateaus, rises and exact repeats."""
    rng = np.random.default_rng(seed)
    m = 2.0 * np.exp(-np.arange(n) / 15) + 0.3 + 0.05 * rng.normal(size=n)
    m[20:30] = m[19]                       # exact plateau (threshold=0 edge case)
    m[45:50] = m[44] * 1.00005             # tiny rise (below a relative threshold of 1e-4)
    return m


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(factor=0.5, patience=0, threshold=0.0),
    dict(factor=0.5, patience=2, threshold=1e-3, cooldown=3),
    dict(factor=0.3, patience=1, threshold=0.01, threshold_mode="abs", min_lr=0.01),
    dict(mode="max", factor=0.2, patience=1),
    dict(mode="max", factor=0.5, patience=0, threshold=0.02, threshold_mode="abs", cooldown=1),
])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    m = plateau_metrics()
    if kwargs.get("mode") == "max":
        m = -m
    a = lr_sequence_ours(lambda o: ReduceLROnPlateau(o, **kwargs), len(m), metrics=m)
    b = lr_sequence_torch(lambda o: TL.ReduceLROnPlateau(o, **kwargs), len(m), metrics=m)
    np.testing.assert_array_equal(a, b)
    if kwargs:
        assert a[-1] < a[0]


@pytest.mark.parametrize("factor", [0.5, 0.3])
def test_reduce_lr_on_rise_is_the_notes_rule(factor):
    """§5.4: halve the rate after an epoch whose validation loss is higher than the previous one."""
    m = plateau_metrics()
    got = lr_sequence_ours(lambda o: ReduceLROnRise(o, factor=factor), len(m), metrics=m)
    lr, expected = 0.5, [0.5]
    for e in range(len(m)):
        if e > 0 and m[e] > m[e - 1]:
            lr = lr * factor
        expected.append(lr)
    np.testing.assert_array_equal(got, expected)
    assert got[-1] < got[0]


def test_reduce_lr_on_rise_differs_from_plateau_after_a_rise():
    """A rise, then a fall to a value still above the best: the notes' rule halves once,
    ReduceLROnPlateau(patience=0, threshold=0) after every epoch that misses the best."""
    m = [1.0, 1.2, 1.1, 1.05]
    rise = lr_sequence_ours(lambda o: ReduceLROnRise(o), len(m), metrics=m, lr=1.0)
    plateau = lr_sequence_ours(lambda o: ReduceLROnPlateau(o, factor=0.5, patience=0, threshold=0.0),
                               len(m), metrics=m, lr=1.0)
    np.testing.assert_array_equal(rise, [1.0, 1.0, 0.5, 0.5, 0.5])
    np.testing.assert_array_equal(plateau, [1.0, 1.0, 0.5, 0.25, 0.125])


def test_notes_forms_against_formulas():
    """§5.4: eta_0 e^{-kt}, eta_0/(1+kt) (t = number of scheduler steps)."""
    eta0, k, epochs = 0.8, 0.07, 60
    t = np.arange(epochs + 1)
    a = lr_sequence_ours(lambda o: ExponentialDecayLR(o, k=k), epochs, lr=eta0)
    np.testing.assert_allclose(a, eta0 * np.exp(-k * t), rtol=1e-14)
    b = lr_sequence_ours(lambda o: InverseTimeLR(o, k=k), epochs, lr=eta0)
    np.testing.assert_allclose(b, eta0 / (1 + k * t), rtol=1e-14)
    c = lr_sequence_ours(lambda o: StepLR(o, step_size=5, gamma=0.5), epochs, lr=eta0)
    np.testing.assert_allclose(c, eta0 * 0.5 ** (t // 5), rtol=1e-14)


@pytest.mark.parametrize("mu_max", [0.999, 0.995, 0.99, 0.9, 0.0])
def test_sutskever_momentum_formula(mu_max):
    opt = SGD(make_params(), lr=0.1)
    sched = SutskeverMomentum(opt, mu_max=mu_max)
    seen = [opt.param_groups[0]["momentum"]]
    for _ in range(3000):
        sched.step()
        seen.append(opt.param_groups[0]["momentum"])
    t = np.arange(3001)
    formula = np.minimum(1 - 2.0 ** (-1 - np.log2(np.floor(t / 250) + 1)), mu_max)
    np.testing.assert_allclose(seen, formula, rtol=1e-15, atol=0)
    if mu_max > 0.9:
        assert seen[0] == 0.5 and seen[250] == 0.75 and seen[-1] == min(1 - 1 / 26, mu_max)


def test_sutskever_momentum_is_used_by_the_step():
    """The momentum set by the schedule is the one SGD uses: compare with a hand-written loop."""
    beta = lambda t: min(1 - 2.0 ** (-1 - math.log2(t // 250 + 1)), 0.99)
    p = Parameter(np.array([1.0, -2.0]))
    opt = SGD([p], lr=0.01)
    sched = SutskeverMomentum(opt, mu_max=0.99)
    w, u = p.data.copy(), None
    for t in range(800):
        p.grad[...] = np.array([1.0, 0.1]) * p.data
        opt.step()
        sched.step()
        g = np.array([1.0, 0.1]) * w
        u = g.copy() if u is None else beta(t) * u + g
        w = w - 0.01 * u
    np.testing.assert_allclose(p.data, w, rtol=1e-12)


# ----------------------------------------------------------------------------- line search
def test_line_search_picks_best_candidate():
    A = np.diag([2.0, 0.2, 5.0])
    loss = lambda w: 0.5 * w @ A @ w
    lrs = (1e-3, 1e-2, 0.1, 0.3, 1.0)
    p = Parameter(np.array([1.0, -1.0, 0.5]))
    opt = LineSearchSGD([p], lrs=lrs)
    losses = [loss(p.data)]
    for _ in range(30):
        w, g = p.data.copy(), A @ p.data
        p.grad[...] = g
        best = opt.step(lambda: loss(p.data))
        cand = [loss(w - eta * g) for eta in lrs]
        chosen = opt.param_groups[0]["lr"]
        assert chosen == lrs[int(np.argmin(cand))]
        np.testing.assert_array_equal(p.data, w - chosen * g)
        assert best == min(cand)
        losses.append(loss(p.data))
    assert np.all(np.diff(losses) < 0) and losses[-1] < 1e-2 * losses[0]


def test_line_search_needs_closure_and_valid_lrs():
    p = Parameter(np.ones(2))
    with pytest.raises(ValueError, match="closure"):
        LineSearchSGD([p]).step()
    with pytest.raises(ValueError, match="lrs"):
        LineSearchSGD([p], lrs=())
    with pytest.raises(ValueError, match="lrs"):
        LineSearchSGD([p], lrs=(0.1, -1.0))
    with pytest.raises(TypeError, match="lrs"):
        LineSearchSGD([p], lrs=0.1)
    with pytest.raises(ValueError, match="params"):
        LineSearchSGD([])


# ----------------------------------------------------------------------------- resuming
@pytest.mark.parametrize("kwargs", [
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.03, momentum=0.7, nesterov=True, weight_decay=0.01),
])
def test_resumed_optimizer_continues_bit_for_bit(kwargs):
    g = grad_fn()
    steps, cut = 120, 47
    params = make_params()
    opt = SGD(params, **kwargs)
    for t in range(steps):
        set_grads(params, g, t)
        opt.step()
        if t == cut - 1:
            saved_params = [Parameter(p.data.copy()) for p in params]
            saved = opt.state_dict()
    # the saved dict is a copy: later steps must not change it
    fresh = SGD(saved_params, lr=1.0)       # different hyper-parameters: restored from the dict
    fresh.load_state_dict(saved)
    group = fresh.param_groups[0]
    assert group["lr"] == kwargs["lr"] and group["momentum"] == kwargs["momentum"]
    assert group["params"] == saved_params
    for t in range(cut, steps):
        set_grads(saved_params, g, t)
        fresh.step()
    for a, b in zip(params, saved_params):
        assert np.array_equal(a.data, b.data)


@pytest.mark.parametrize("make, metric", [
    (lambda o: StepLR(o, step_size=4, gamma=0.6), False),
    (lambda o: ExponentialLR(o, gamma=0.95), False),
    (lambda o: ExponentialDecayLR(o, k=0.03), False),
    (lambda o: InverseTimeLR(o, k=0.2), False),
    (lambda o: SutskeverMomentum(o, mu_max=0.99, period=7), False),
    (lambda o: ReduceLROnPlateau(o, factor=0.5, patience=1, threshold=0.0, cooldown=2), True),
    (lambda o: ReduceLROnRise(o, factor=0.7), True),
])
def test_resumed_scheduler_continues_bit_for_bit(make, metric):
    g = grad_fn()
    m = plateau_metrics()
    epochs, cut = 60, 23

    def one_epoch(params, opt, sched, e):
        set_grads(params, g, e)
        opt.step()
        sched.step(m[e]) if metric else sched.step()
        return (opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"])

    params = make_params()
    opt = SGD(params, lr=0.1, momentum=0.5)
    sched = make(opt)
    hist = []
    for e in range(epochs):
        hist.append(one_epoch(params, opt, sched, e))
        if e == cut - 1:
            saved_params = [Parameter(p.data.copy()) for p in params]
            saved_opt, saved_sched = opt.state_dict(), copy.deepcopy(sched.state_dict())
    fresh_opt = SGD(saved_params, lr=0.1, momentum=0.5)
    fresh_sched = make(fresh_opt)
    fresh_opt.load_state_dict(saved_opt)
    fresh_sched.load_state_dict(saved_sched)
    hist2 = hist[:cut] + [one_epoch(saved_params, fresh_opt, fresh_sched, e)
                          for e in range(cut, epochs)]
    assert hist2 == hist
    for a, b in zip(params, saved_params):
        assert np.array_equal(a.data, b.data)
    assert len(set(hist)) > 1


def test_schedulers_subclass_lrscheduler():
    for cls in (StepLR, ExponentialLR, ExponentialDecayLR, InverseTimeLR, ReduceLROnPlateau,
                ReduceLROnRise, SutskeverMomentum):
        assert issubclass(cls, LRScheduler)


# ----------------------------------------------------------------------------- with fit (chapter 4)
def _regression_data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(64, 2))
    y = np.sin(X[:, :1]) + 0.5 * X[:, 1:] ** 2
    return X, y


def test_line_search_trains_with_fit_closure():
    """fit passes a closure (forward + backward); the line search must beat every fixed candidate
    rate after the same number of full-batch steps, and the model ends evaluated at the new point."""
    from dlbook.nn import MSELoss, mlp
    from dlbook.train import evaluate, fit
    X, y = _regression_data()
    lrs = (0.03, 0.1, 0.3, 0.6)
    finals = {}
    for name, make in [("ls", lambda P: LineSearchSGD(P, lrs=lrs))] + \
                      [(eta, lambda P, eta=eta: SGD(P, lr=eta)) for eta in lrs]:
        model = mlp([2, 16, 1], activation="tanh", rng=np.random.default_rng(1))
        opt = make(model.parameters())
        hist = fit(model, MSELoss(), opt, X, y, epochs=40, batch_size=None, shuffle=False,
                   metric=None, log_every=None)
        finals[name] = evaluate(model, MSELoss(), X, y, metric=None)["loss"]
        if name == "ls":
            assert set(hist["lr"]) <= set(lrs)
            # the closure's last call was at the chosen point: fit's loss is the new loss
            assert hist["loss"][-1] == pytest.approx(finals["ls"], rel=1e-12)
    assert finals["ls"] <= min(v for k, v in finals.items() if k != "ls")
    assert finals["ls"] < 0.1 * evaluate(mlp([2, 16, 1], activation="tanh",
                                             rng=np.random.default_rng(1)),
                                         MSELoss(), X, y, metric=None)["loss"]


def test_momentum_and_nesterov_train_a_network_faster_than_plain_sgd():
    from dlbook.nn import MSELoss, mlp
    from dlbook.train import evaluate, fit
    X, y = _regression_data(1)
    finals = {}
    for name, kw in [("sgd", {}), ("momentum", dict(momentum=0.9)),
                     ("nesterov", dict(momentum=0.9, nesterov=True))]:
        model = mlp([2, 16, 1], activation="tanh", rng=np.random.default_rng(2))
        fit(model, MSELoss(), SGD(model.parameters(), lr=0.02, **kw), X, y, epochs=60,
            batch_size=16, rng=np.random.default_rng(3), metric=None, log_every=None)
        finals[name] = evaluate(model, MSELoss(), X, y, metric=None)["loss"]
    assert finals["momentum"] < 0.5 * finals["sgd"]
    assert finals["nesterov"] < 0.5 * finals["sgd"]
    assert finals["nesterov"] < 0.05
