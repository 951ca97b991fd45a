"""The torch.optim-shaped surface of dlbook.optimizers (issue 7 §3; chapters 4-6).

* every optimizer PyTorch also has, on TWO parameter groups with different ``lr`` and
  ``weight_decay``, against ``torch.optim`` (float64, 150 steps, gradients that depend on the
  parameters, so any discrepancy would grow), including a group added mid-run;
* ``state_dict``/``load_state_dict``: torch's format, bit-for-bit resume with groups, clear
  errors on a mismatch;
* ``step(closure)`` returns the closure's loss, evaluates it once (with gradients enabled even
  inside ``no_grad()``), for every optimizer, LineSearchSGD included;
* schedulers on two groups against ``torch.optim.lr_scheduler``: ``base_lrs``, ``initial_lr``,
  ``get_last_lr()``, ``LinearLR`` + ``StepLR`` chained, ``ChainedScheduler``, ``SequentialLR``;
* hyper-parameters checked in groups too (TypeError/ValueError naming them).
"""
import copy
import math
import warnings

import numpy as np
import pytest
import torch

from dlbook.nn import Parameter, is_grad_enabled, no_grad
from dlbook.optimizers import (
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    ChainedScheduler,
    CosineAnnealingWarmRestarts,
    CyclicLR,
    ExponentialDecayLR,
    ExponentialLR,
    InverseTimeLR,
    LinearLR,
    LineSearchSGD,
    LRScheduler,
    MaxProp,
    NAdam,
    Optimizer,
    ReduceLROnPlateau,
    ReduceLROnRise,
    RMSprop,
    SequentialLR,
    StepLR,
    SutskeverMomentum,
)

STEPS = 150
SHAPES_A = [(3, 4), (4,)]          # group 0
SHAPES_B = [(2, 3), (1,)]          # group 1
SHAPES_C = [(5,)]                  # a group added mid-run


@pytest.fixture(autouse=True)
def float64_quiet_torch():
    # float64 also for torch's scalar state (NAdam's mu_product, the step counts); torch warns
    # when a scheduler is stepped in ways these tests do on purpose
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield
    torch.set_default_dtype(old)


def initial(shapes, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s) for s in shapes]


def noise_sequence(shapes, seed, steps=STEPS):
    """Per-step noise; a quarter of the entries exactly zero (sparse gradients)."""
    rng = np.random.default_rng(seed)
    return [[np.where(rng.random(s) < 0.25, 0.0, rng.normal(scale=1 + np.sin(t / 9) ** 2, size=s))
             for s in shapes] for t in range(steps)]


def gradient(w, n):
    """Depends on w (so a discrepancy changes later gradients) with curvature in [0.3, 0.9]:
    rounding differences are not amplified exponentially along the run."""
    return 0.6 * w + 0.3 * np.sin(w) + n


OURS_TORCH = {
    "SGD": (SGD, torch.optim.SGD, {}),
    "SGD-momentum": (SGD, torch.optim.SGD, dict(momentum=0.9)),
    "SGD-nesterov": (SGD, torch.optim.SGD, dict(momentum=0.8, nesterov=True)),
    "Adagrad": (Adagrad, torch.optim.Adagrad, dict(lr_decay=0.01, initial_accumulator_value=0.1)),
    "RMSprop": (RMSprop, torch.optim.RMSprop, dict(alpha=0.9)),
    "RMSprop-centered": (RMSprop, torch.optim.RMSprop, dict(momentum=0.5, centered=True)),
    "Adadelta": (Adadelta, torch.optim.Adadelta, dict(rho=0.8)),
    "Adam": (Adam, torch.optim.Adam, dict(betas=(0.8, 0.99))),
    "Adam-amsgrad": (Adam, torch.optim.Adam, dict(amsgrad=True)),
    "AdamW": (AdamW, torch.optim.AdamW, dict(betas=(0.85, 0.995))),
    "Adamax": (Adamax, torch.optim.Adamax, {}),
    "NAdam": (NAdam, torch.optim.NAdam, dict(momentum_decay=0.01)),
}
# the two groups: different lr and weight_decay; group 1 takes the optimizer's defaults for lr
LR = {"SGD": 0.02, "Adagrad": 0.05, "RMSprop": 0.003, "Adadelta": 0.9, "Adam": 0.01, "AdamW": 0.01,
      "Adamax": 0.01, "NAdam": 0.01}
VARIANT = {Adagrad, RMSprop, Adam, AdamW, Adamax, NAdam}          # classes with variant="torch"


def groups_for(name, params_a, params_b):
    lr = LR[name.split("-")[0]]
    return [{"params": params_a, "lr": 2.5 * lr, "weight_decay": 0.05},
            {"params": params_b, "weight_decay": 0.2 if name != "AdamW" else 0.5}], lr


def run(name, framework, steps=STEPS, add_group_at=None):
    ours_cls, torch_cls, kwargs = OURS_TORCH[name]
    if framework == "ours":
        make = lambda w: Parameter(w.copy())
        get = lambda p: p.data
        kwargs = dict(kwargs, variant="torch") if ours_cls in VARIANT else kwargs

        def set_grad(p, g):
            p.grad[...] = g
        cls = ours_cls
    else:
        make = lambda w: torch.tensor(w.copy(), dtype=torch.float64, requires_grad=True)
        get = lambda p: p.detach().numpy()

        def set_grad(p, g):
            p.grad = torch.from_numpy(np.array(g, dtype=np.float64))
        kwargs = dict(kwargs, foreach=False)
        cls = torch_cls
    a = [make(w) for w in initial(SHAPES_A, 0)]
    b = [make(w) for w in initial(SHAPES_B, 1)]
    c = [make(w) for w in initial(SHAPES_C, 2)]
    groups, lr = groups_for(name, a, b)
    opt = cls(groups, lr=lr, **kwargs)
    noise = noise_sequence(SHAPES_A + SHAPES_B + SHAPES_C, 3, steps)
    active = a + b
    for t in range(steps):
        if t == add_group_at:
            opt.add_param_group({"params": c, "lr": 0.5 * lr, "weight_decay": 0.01})
            active = a + b + c
        for i, p in enumerate(active):
            set_grad(p, gradient(get(p), noise[t][i]))
        opt.step()
    return [get(p).copy() for p in a + b + c], opt


@pytest.mark.parametrize("name", list(OURS_TORCH))
def test_two_groups_match_torch(name):
    ours, opt = run(name, "ours")
    ref, _ = run(name, "torch")
    start = initial(SHAPES_A, 0) + initial(SHAPES_B, 1)
    for i, (x, y) in enumerate(zip(ours[:4], ref[:4])):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12, err_msg=f"{name}, parameter {i}")
        assert not np.allclose(x, start[i])                      # every parameter moved
    assert opt.param_groups[0]["lr"] != opt.param_groups[1]["lr"]
    assert opt.param_groups[0]["weight_decay"] != opt.param_groups[1]["weight_decay"]


@pytest.mark.parametrize("name", ["SGD-momentum", "Adagrad", "Adam", "AdamW", "NAdam"])
def test_group_added_mid_run_matches_torch(name):
    ours, opt = run(name, "ours", steps=120, add_group_at=40)
    ref, _ = run(name, "torch", steps=120, add_group_at=40)
    for x, y in zip(ours, ref):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12)
    assert len(opt.param_groups) == 3 and opt.param_groups[2]["lr"] == 0.5 * LR[name.split("-")[0]]


def test_groups_take_missing_values_from_the_defaults():
    a, b = [Parameter(np.zeros(2))], [Parameter(np.zeros(3))]
    opt = SGD([{"params": a, "lr": 0.1}, {"params": b}], lr=0.01, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.9]
    assert opt.defaults == dict(lr=0.01, momentum=0.9, weight_decay=0.0, nesterov=False)
    single = Parameter(np.zeros(1))
    opt.add_param_group({"params": single, "nesterov": True})        # a bare Parameter is allowed
    assert opt.param_groups[2]["params"] == [single] and opt.param_groups[2]["nesterov"] is True


def test_a_parameter_in_two_groups_is_an_error():
    p, q = Parameter(np.zeros(2)), Parameter(np.zeros(2))
    with pytest.raises(ValueError, match="twice"):
        SGD([{"params": [p, q]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="twice"):
        SGD([p, p], lr=0.1)
    opt = SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="twice"):
        opt.add_param_group({"params": [p]})


@pytest.mark.parametrize("group, error, name", [
    ({"lr": "0.1"}, TypeError, "lr"),
    ({"lr": -1.0}, ValueError, "lr"),
    ({"weight_decay": float("inf")}, ValueError, "weight_decay"),
    ({"betas": (0.9, 1.0)}, ValueError, "betas"),
    ({"eps": 0.0}, ValueError, "eps"),
    ({"amsgrad": "yes"}, TypeError, "amsgrad"),
])
def test_group_hyperparameters_are_checked(group, error, name):
    p, q = Parameter(np.zeros(2)), Parameter(np.zeros(2))
    with pytest.raises(error, match=name):
        Adam([{"params": [p]}, dict(group, params=[q])], lr=1e-3)


def test_bad_param_groups():
    p = Parameter(np.zeros(2))
    with pytest.raises(TypeError, match="params"):
        SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(TypeError, match="param_group"):
        SGD([p], lr=0.1).add_param_group([p])
    with pytest.raises(ValueError, match="empty"):
        SGD([{"params": []}], lr=0.1)


def test_lr_is_a_python_float_in_the_groups():
    """Hyper-parameters stay Python numbers: a NumPy float64 lr would upcast float32 updates."""
    p = Parameter(np.ones(3, dtype=np.float32))
    opt = Adam([p], lr=np.float64(0.01), betas=(np.float64(0.9), 0.999))
    assert type(opt.param_groups[0]["lr"]) is float and type(opt.param_groups[0]["betas"][0]) is float
    p.grad[...] = 1
    opt.step()
    assert p.data.dtype == np.float32 and opt.state[p]["exp_avg"].dtype == np.float32


# ------------------------------------------------------------------------ state_dict

def test_state_dict_has_torchs_format():
    ours, opt = run("Adam", "ours", steps=5)
    _, topt = run("Adam", "torch", steps=5)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [g["params"] for g in tsd["param_groups"]]
    assert sorted(sd["state"]) == sorted(tsd["state"]) == [0, 1, 2, 3]
    assert set(tsd["state"][0]) <= set(sd["state"][0])
    for i in range(4):
        np.testing.assert_allclose(sd["state"][i]["exp_avg"], tsd["state"][i]["exp_avg"].numpy(),
                                   rtol=1e-10)
        assert sd["state"][i]["step"] == int(tsd["state"][i]["step"])
    assert sd["param_groups"][0]["lr"] == tsd["param_groups"][0]["lr"]


@pytest.mark.parametrize("name", list(OURS_TORCH) + ["MaxProp"])
def test_resume_with_two_groups_is_bit_for_bit(name):
    cls, _, kwargs = OURS_TORCH.get(name, (MaxProp, None, dict(alpha=0.9)))
    lr = LR.get(name.split("-")[0], 0.01)
    noise = noise_sequence(SHAPES_A + SHAPES_B, 7, 80)

    def make():
        a = [Parameter(w) for w in initial(SHAPES_A, 0)]
        b = [Parameter(w) for w in initial(SHAPES_B, 1)]
        opt = cls([{"params": a, "lr": 2 * lr, "weight_decay": 0.05},
                   {"params": b, "weight_decay": 0.1}], lr=lr, **kwargs)
        return a + b, opt

    def steps(params, opt, part):
        for n in part:
            for p, e in zip(params, n):
                p.grad[...] = gradient(p.data, e)
            opt.step()

    straight, opt = make()
    steps(straight, opt, noise)
    first, opt1 = make()
    steps(first, opt1, noise[:33])
    saved = opt1.state_dict()
    steps(first, opt1, noise[33:35])                  # later steps must not leak into `saved`
    # a fresh optimizer with other hyper-parameters gets everything from the saved dict
    fresh_params = [Parameter(w) for w in initial(SHAPES_A, 0)] + \
                   [Parameter(w) for w in initial(SHAPES_B, 1)]
    replay, opt2 = make()
    steps(replay, opt2, noise[:33])
    for p, q in zip(fresh_params, replay):
        p.data[...] = q.data
    opt3 = cls([{"params": fresh_params[:2], "lr": 123.0}, {"params": fresh_params[2:]}], lr=7.0,
               **kwargs)
    opt3.load_state_dict(saved)
    assert [g["lr"] for g in opt3.param_groups] == [2 * lr, lr]
    assert [g["params"] for g in opt3.param_groups] == [fresh_params[:2], fresh_params[2:]]
    steps(fresh_params, opt3, noise[33:])
    for p, q in zip(fresh_params, straight):
        assert np.array_equal(p.data, q.data)


def test_load_state_dict_mismatch_errors():
    p, q, r = (Parameter(np.zeros(s)) for s in [(2,), (3,), (4,)])
    opt = Adam([{"params": [p]}, {"params": [q, r]}])
    for x in (p, q, r):
        x.grad[...] = 1
    opt.step()
    saved = opt.state_dict()
    with pytest.raises(ValueError, match="2 parameter groups, this optimizer has 1"):
        Adam([p, q, r]).load_state_dict(saved)
    with pytest.raises(ValueError, match="parameter group 1 has 2 parameters"):
        Adam([{"params": [p]}, {"params": [q]}]).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        Adam([{"params": [p]}, {"params": [r, q]}]).load_state_dict(saved)


# ------------------------------------------------------------------------ step(closure)

ALL = [lambda P: SGD(P, lr=0.1), lambda P: SGD(P, lr=0.1, momentum=0.9, nesterov=True),
       lambda P: Adagrad(P), lambda P: RMSprop(P), lambda P: Adadelta(P), lambda P: Adam(P),
       lambda P: AdamW(P), lambda P: Adamax(P), lambda P: NAdam(P), lambda P: MaxProp(P)]


@pytest.mark.parametrize("make", ALL, ids=["SGD", "NAG", "Adagrad", "RMSprop", "Adadelta", "Adam",
                                           "AdamW", "Adamax", "NAdam", "MaxProp"])
def test_step_returns_the_closure_loss(make):
    p = Parameter(np.array([1.0, -2.0]))
    opt = make([p])
    calls = []

    def closure():
        calls.append(is_grad_enabled())
        opt.zero_grad()
        p.grad += 2 * p.data                    # L = |w|^2
        return float(p.data @ p.data)

    before = float(p.data @ p.data)
    assert opt.step(closure) == before and calls == [True]
    before = float(p.data @ p.data)
    with no_grad():                              # as torch: the closure runs with gradients on
        assert opt.step(closure) == before
    assert calls == [True, True] and is_grad_enabled()
    p.grad[...] = 1.0
    assert opt.step() is None                    # no closure: no loss


def test_closure_gives_the_same_trajectory_as_setting_grads():
    """step(closure) with the gradient computed inside equals setting .grad then step()."""
    for make in (lambda P: SGD(P, lr=0.05, momentum=0.9), lambda P: Adam(P, lr=0.05)):
        p, q = Parameter(np.array([1.0, -2.0])), Parameter(np.array([1.0, -2.0]))
        o1, o2 = make([p]), make([q])
        for _ in range(50):
            def closure():
                o1.zero_grad()
                p.grad += np.sin(p.data) + p.data
                return 0.0
            o1.step(closure)
            q.grad[...] = np.sin(q.data) + q.data
            o2.step()
        assert np.array_equal(p.data, q.data)


def test_line_search_step_returns_loss_and_uses_groups():
    a, b = Parameter(np.array([2.0])), Parameter(np.array([-1.0]))
    opt = LineSearchSGD([{"params": [a], "lrs": (0.1, 0.5)}, {"params": [b], "lrs": (0.2, 1.0)}])

    def closure():
        opt.zero_grad()
        a.grad += a.data
        b.grad += b.data
        return float(0.5 * (a.data @ a.data + b.data @ b.data))

    loss = opt.step(closure)
    # candidate 1 (0.5 for a, 1.0 for b): a = 1.0, b = 0.0, loss 0.5 (candidate 0: 1.62 + 0.32)
    assert loss == pytest.approx(0.5) and a.data[0] == pytest.approx(1.0) and b.data[0] == 0.0
    assert [g["lr"] for g in opt.param_groups] == [0.5, 1.0]
    with pytest.raises(ValueError, match="lrs"):
        LineSearchSGD([{"params": [a], "lrs": (0.1,)}, {"params": [b], "lrs": (0.1, 0.2)}]).step(closure)


# ------------------------------------------------------------------------ schedulers

def two_group_opts(lr_a=0.4, lr_b=0.05):
    ours = SGD([{"params": [Parameter(np.zeros(2))], "lr": lr_a},
                {"params": [Parameter(np.zeros(3))], "lr": lr_b}], lr=0.1, momentum=0.9)
    theirs = torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)], "lr": lr_a},
                              {"params": [torch.zeros(3, requires_grad=True)], "lr": lr_b}],
                             lr=0.1, momentum=0.9)
    return ours, theirs


def rates(opt):
    return [g["lr"] for g in opt.param_groups]


def compare(make_ours, make_theirs, steps=60, metrics=None):
    """Step both (optimizer first, as PyTorch asks) and compare every group's lr at every step;
    make_* returns the object whose .step() is called (a scheduler or a list of them)."""
    ours, theirs = two_group_opts()
    s_ours, s_theirs = make_ours(ours), make_theirs(theirs)
    seq_o, seq_t = [rates(ours)], [rates(theirs)]
    for e in range(steps):
        theirs.step()
        for s in (s_ours if isinstance(s_ours, list) else [s_ours]):
            s.step() if metrics is None else s.step(metrics[e])
        for s in (s_theirs if isinstance(s_theirs, list) else [s_theirs]):
            s.step() if metrics is None else s.step(metrics[e])
        seq_o.append(rates(ours))
        seq_t.append(rates(theirs))
        last = s_ours[-1] if isinstance(s_ours, list) else s_ours
        assert last.get_last_lr() == rates(ours)
    seq_o, seq_t = np.array(seq_o), np.array(seq_t)
    np.testing.assert_allclose(seq_o, seq_t, rtol=1e-13, atol=0)
    assert len(np.unique(seq_o[:, 0])) > 2                 # the rate did change
    return s_ours, ours


TL = torch.optim.lr_scheduler
SCHEDULERS = {
    "StepLR": (lambda o: StepLR(o, 7, 0.5), lambda o: TL.StepLR(o, 7, 0.5)),
    "ExponentialLR": (lambda o: ExponentialLR(o, 0.95), lambda o: TL.ExponentialLR(o, 0.95)),
    "ExponentialDecayLR": (lambda o: ExponentialDecayLR(o, 0.05),
                           lambda o: TL.ExponentialLR(o, math.exp(-0.05))),
    "LinearLR": (lambda o: LinearLR(o, 0.1, total_iters=12), lambda o: TL.LinearLR(o, 0.1, total_iters=12)),
    "LinearLR-decay": (lambda o: LinearLR(o, 1.0, 0.2, total_iters=30),
                       lambda o: TL.LinearLR(o, 1.0, 0.2, total_iters=30)),
    "CyclicLR": (lambda o: CyclicLR(o, [0.01, 0.001], [0.1, 0.02], step_size_up=5, mode="triangular2"),
                 lambda o: TL.CyclicLR(o, [0.01, 0.001], [0.1, 0.02], step_size_up=5, mode="triangular2",
                                       cycle_momentum=False)),
    "SGDR": (lambda o: CosineAnnealingWarmRestarts(o, 4, 2, eta_min=0.001),
             lambda o: TL.CosineAnnealingWarmRestarts(o, 4, 2, eta_min=0.001)),
    "LinearLR+StepLR": (lambda o: [LinearLR(o, 0.2, total_iters=8), StepLR(o, 5, 0.7)],
                        lambda o: [TL.LinearLR(o, 0.2, total_iters=8), TL.StepLR(o, 5, 0.7)]),
    "StepLR+ExponentialLR": (lambda o: [StepLR(o, 4, 0.5), ExponentialLR(o, 0.97)],
                             lambda o: [TL.StepLR(o, 4, 0.5), TL.ExponentialLR(o, 0.97)]),
    "ChainedScheduler": (lambda o: ChainedScheduler([LinearLR(o, 0.25, total_iters=6),
                                                     ExponentialLR(o, 0.9)]),
                         lambda o: TL.ChainedScheduler([TL.LinearLR(o, 0.25, total_iters=6),
                                                        TL.ExponentialLR(o, 0.9)])),
    "SequentialLR": (lambda o: SequentialLR(o, [LinearLR(o, 0.1, total_iters=5), StepLR(o, 6, 0.5)], [5]),
                     lambda o: TL.SequentialLR(o, [TL.LinearLR(o, 0.1, total_iters=5), TL.StepLR(o, 6, 0.5)],
                                               [5])),
    "SequentialLR-3": (lambda o: SequentialLR(o, [LinearLR(o, 0.3, total_iters=4), ExponentialLR(o, 0.9),
                                                 CosineAnnealingWarmRestarts(o, 10)], [4, 20]),
                       lambda o: TL.SequentialLR(o, [TL.LinearLR(o, 0.3, total_iters=4),
                                                     TL.ExponentialLR(o, 0.9),
                                                     TL.CosineAnnealingWarmRestarts(o, 10)], [4, 20])),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_schedulers_on_two_groups_match_torch(name):
    compare(*SCHEDULERS[name])


def test_plateau_on_two_groups_with_min_lrs_matches_torch():
    rng = np.random.default_rng(0)
    m = 1 + np.exp(-np.arange(60) / 10) + 0.05 * rng.normal(size=60)
    compare(lambda o: ReduceLROnPlateau(o, factor=0.5, patience=1, min_lr=[0.01, 0.001]),
            lambda o: TL.ReduceLROnPlateau(o, factor=0.5, patience=1, min_lr=[0.01, 0.001]),
            metrics=m)


def test_initial_lr_is_set_once_and_base_lrs_shared():
    opt, _ = two_group_opts()
    first = LinearLR(opt, 0.1, total_iters=4)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.4, 0.05] == first.base_lrs
    assert rates(opt) == pytest.approx([0.04, 0.005])            # epoch 0 set at construction
    second = StepLR(opt, 3)
    assert second.base_lrs == [0.4, 0.05]                        # not the warmed-down rates
    assert first.last_epoch == second.last_epoch == 0


def test_metric_driven_flag():
    opt, _ = two_group_opts()
    assert LRScheduler.metric_driven is False
    assert ReduceLROnPlateau.metric_driven and ReduceLROnRise.metric_driven
    for s in (StepLR(opt, 2), ExponentialLR(opt, 0.9), InverseTimeLR(opt, 0.1), LinearLR(opt),
              CyclicLR(opt, 0.01, 0.1), CosineAnnealingWarmRestarts(opt, 3)):
        assert s.metric_driven is False


def test_momentum_schedule_sets_every_group():
    opt, _ = two_group_opts()
    sched = SutskeverMomentum(opt, mu_max=0.99, period=2)
    for _ in range(5):
        sched.step()
    assert [g["momentum"] for g in opt.param_groups] == pytest.approx([5 / 6, 5 / 6])   # t = 5: k = 3


def test_sequential_and_chained_refuse_metric_driven_and_foreign_schedulers():
    opt, _ = two_group_opts()
    other, _ = two_group_opts()
    with pytest.raises(ValueError, match="metric"):
        SequentialLR(opt, [LinearLR(opt), ReduceLROnPlateau(opt)], [3])
    with pytest.raises(ValueError, match="another optimizer"):
        ChainedScheduler([LinearLR(opt), StepLR(other, 2)])
    with pytest.raises(ValueError, match="milestones"):
        SequentialLR(opt, [LinearLR(opt), StepLR(opt, 2)], [3, 4])


def test_sequential_state_dict_resumes():
    def make():
        opt, _ = two_group_opts()
        return opt, SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=5), StepLR(opt, 4, 0.5)], [5])
    opt, sched = make()
    for _ in range(7):
        sched.step()
    saved_opt, saved = opt.state_dict(), copy.deepcopy(sched.state_dict())
    opt2, sched2 = make()
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved)
    for _ in range(20):
        sched.step()
        sched2.step()
        assert rates(opt) == rates(opt2)


def test_optimizer_base_class_is_abstract():
    p = Parameter(np.zeros(1))
    with pytest.raises(NotImplementedError):
        Optimizer([p], dict(lr=0.1)).step()
