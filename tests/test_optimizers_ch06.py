"""Tests of chapter 6 (book/ch06_adaptive.md): the adaptive optimizers and the schedules.

* ``variant="torch"`` (and Adadelta, which has no variant) against ``torch.optim`` over
  120 steps, float64, several parameter shapes, default and non-default hyper-parameters;
* the default ``variant="notes"`` and MaxProp against direct transcriptions of the notes'
  formulas (§6), written here independently of the package;
* CyclicLR, CosineAnnealingWarmRestarts and LinearLR against ``torch.optim.lr_scheduler``;
* AdamW (decoupled weight decay) against torch.optim.AdamW and against its formula;
* invalid hyper-parameters fail with a ValueError (wrong value) or TypeError (wrong kind)
  naming the argument;
* a run interrupted by a state_dict round-trip continues bit for bit.
"""
import copy

import numpy as np
import pytest
import torch

from dlbook.optimizers import (
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    CosineAnnealingWarmRestarts,
    CyclicLR,
    LinearLR,
    MaxProp,
    NAdam,
    RMSprop,
)

STEPS = 120
SHAPES = [(), (3,), (4, 5), (2, 3, 2)]


class Param:
    """A minimal Parameter: ``.data`` and ``.grad`` (what the optimizers rely on)."""

    def __init__(self, data):
        self.data = np.array(data, dtype=np.float64)
        self.grad = np.zeros_like(self.data)


@pytest.fixture(autouse=True)
def float64_torch():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def initial_values(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s) for s in SHAPES]


def gradient_sequence(seed=1, steps=STEPS):
    """Noise terms of the gradients; about a third of the entries are exactly zero
    (sparse features), and the scale varies over time."""
    rng = np.random.default_rng(seed)
    seq = []
    for t in range(steps):
        step = []
        for s in SHAPES:
            g = rng.normal(scale=1.0 + 2.0 * np.sin(t / 7.0) ** 2, size=s)
            step.append(np.where(rng.random(size=s) < 0.35, 0.0, g))
        seq.append(step)
    return seq


def gradient(w, noise):
    """The gradient fed to both implementations: depends on the current parameter, so any
    discrepancy in the trajectory also changes the later gradients."""
    return 0.3 * w + noise


def run_dlbook(cls, kwargs, steps=STEPS, seed=1):
    params = [Param(v) for v in initial_values()]
    opt = cls(params, **kwargs)
    for noise in gradient_sequence(seed, steps):
        for p, n in zip(params, noise):
            p.grad[...] = gradient(p.data, n)
        opt.step()
    return [p.data for p in params]


def run_torch(cls, kwargs, steps=STEPS, seed=1):
    params = [torch.tensor(v, requires_grad=True) for v in initial_values()]
    opt = cls(params, **kwargs)
    for noise in gradient_sequence(seed, steps):
        for p, n in zip(params, noise):
            p.grad = torch.from_numpy(np.asarray(gradient(p.detach().numpy(), n)))
        opt.step()
    return [p.detach().numpy() for p in params]


def assert_params_close(ours, ref, rtol=1e-10, atol=1e-12):
    for a, b in zip(ours, ref):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# ----------------------------------------------------------------- parity with torch.optim

TORCH_CASES = [
    (Adagrad, torch.optim.Adagrad, {}),
    (Adagrad, torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.1,
                                        initial_accumulator_value=0.5, eps=1e-6)),
    (RMSprop, torch.optim.RMSprop, {}),
    (RMSprop, torch.optim.RMSprop, dict(lr=0.003, alpha=0.9, eps=1e-6, weight_decay=0.05)),
    (RMSprop, torch.optim.RMSprop, dict(lr=0.002, momentum=0.8, centered=True)),
    (RMSprop, torch.optim.RMSprop, dict(momentum=0.9)),
    (Adadelta, torch.optim.Adadelta, {}),
    (Adadelta, torch.optim.Adadelta, dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)),
    (Adam, torch.optim.Adam, {}),
    (Adam, torch.optim.Adam, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    (Adam, torch.optim.Adam, dict(lr=0.02, betas=(0.5, 0.9), amsgrad=True)),
    (AdamW, torch.optim.AdamW, {}),
    (AdamW, torch.optim.AdamW, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.3)),
    (AdamW, torch.optim.AdamW, dict(lr=0.02, weight_decay=0.1, amsgrad=True)),
    (Adamax, torch.optim.Adamax, {}),
    (Adamax, torch.optim.Adamax, dict(lr=0.01, betas=(0.5, 0.9), eps=1e-5, weight_decay=0.2)),
    (NAdam, torch.optim.NAdam, {}),
    (NAdam, torch.optim.NAdam, dict(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.05,
                                    momentum_decay=0.01)),
]


@pytest.mark.parametrize("ours, theirs, kwargs", TORCH_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(TORCH_CASES)])
def test_parity_with_torch(ours, theirs, kwargs):
    extra = {} if ours is Adadelta else {"variant": "torch"}
    ref = run_torch(theirs, kwargs)
    got = run_dlbook(ours, {**kwargs, **extra})
    assert not np.allclose(ref[2], initial_values()[2])       # the parameters did move
    assert_params_close(got, ref)


def test_adadelta_lr_one_is_the_notes_rule_and_torch():
    """With lr=1 (the default) torch's Adadelta is the notes' rule: covered by the parity
    test with {} above and the transcription test below; here: lr only scales the step."""
    a = run_dlbook(Adadelta, dict(lr=1.0), steps=1)
    b = run_dlbook(Adadelta, dict(lr=0.5), steps=1)
    w0 = initial_values()
    for x, y, w in zip(a, b, w0):
        np.testing.assert_allclose(y - w, 0.5 * (x - w), rtol=1e-12, atol=1e-15)


# ------------------------------------------------ the notes' formulas, transcribed directly

def notes_adagrad(ws, grads_of, eta=0.01, eps=1e-10):
    v = [np.zeros_like(w) for w in ws]
    for grads in grads_of:
        for i, w in enumerate(ws):
            g = grads(i, w)
            v[i] = v[i] + g ** 2                                   # v_t = v_{t-1} + (grad w_t)^2
            ws[i] = w - eta / np.sqrt(v[i] + eps) * g              # w_{t+1} = w_t - eta/sqrt(v_t+eps) grad
    return ws


def notes_rmsprop(ws, grads_of, eta=0.01, beta=0.99, eps=1e-8):
    v = [np.zeros_like(w) for w in ws]
    for grads in grads_of:
        for i, w in enumerate(ws):
            g = grads(i, w)
            v[i] = beta * v[i] + (1 - beta) * g ** 2
            ws[i] = w - eta / np.sqrt(v[i] + eps) * g
    return ws


def notes_adadelta(ws, grads_of, beta=0.9, eps=1e-6):
    v = [np.zeros_like(w) for w in ws]
    u = [np.zeros_like(w) for w in ws]
    for grads in grads_of:
        for i, w in enumerate(ws):
            g = grads(i, w)
            v[i] = beta * v[i] + (1 - beta) * g ** 2
            dw = -np.sqrt(u[i] + eps) / np.sqrt(v[i] + eps) * g      # uses u_{t-1}
            ws[i] = w + dw
            u[i] = beta * u[i] + (1 - beta) * dw ** 2
    return ws


def notes_adam(ws, grads_of, eta=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = [np.zeros_like(w) for w in ws]
    v = [np.zeros_like(w) for w in ws]
    for t, grads in enumerate(grads_of, start=1):
        for i, w in enumerate(ws):
            g = grads(i, w)
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g ** 2
            m_hat = m[i] / (1 - beta1 ** t)
            v_hat = v[i] / (1 - beta2 ** t)
            ws[i] = w - eta / np.sqrt(v_hat + eps) * m_hat
    return ws


def notes_adamw(ws, grads_of, eta=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, lam=1e-2):
    """eq-ch06-adamw: w_t = (1 - eta lambda) w_{t-1} - eta mhat_t / sqrt(vhat_t + eps)."""
    m = [np.zeros_like(w) for w in ws]
    v = [np.zeros_like(w) for w in ws]
    for t, grads in enumerate(grads_of, start=1):
        for i, w in enumerate(ws):
            g = grads(i, w)
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g ** 2
            m_hat = m[i] / (1 - beta1 ** t)
            v_hat = v[i] / (1 - beta2 ** t)
            ws[i] = (1 - eta * lam) * w - eta / np.sqrt(v_hat + eps) * m_hat
    return ws


def notes_adamax(ws, grads_of, eta=2e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = [np.zeros_like(w) for w in ws]
    v = [np.zeros_like(w) for w in ws]
    for t, grads in enumerate(grads_of, start=1):
        for i, w in enumerate(ws):
            g = grads(i, w)
            m[i] = beta1 * m[i] + (1 - beta1) * g
            m_hat = m[i] / (1 - beta1 ** t)
            v[i] = np.maximum(beta2 * v[i], np.abs(g))
            ws[i] = w - eta / (v[i] + eps) * m_hat
    return ws


def notes_nadam(ws, grads_of, eta=2e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """The notes' NAdam with the step counter t (g_t = grad at w_{t-1}) and beta1 restored."""
    m = [np.zeros_like(w) for w in ws]
    v = [np.zeros_like(w) for w in ws]
    for t, grads in enumerate(grads_of, start=1):
        for i, w in enumerate(ws):
            g = grads(i, w)
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g ** 2
            m_hat = m[i] / (1 - beta1 ** t)
            v_hat = v[i] / (1 - beta2 ** t)
            ws[i] = w - eta / (np.sqrt(v_hat) + eps) * (beta1 * m_hat + (1 - beta1) * g / (1 - beta1 ** t))
    return ws


def notes_maxprop(ws, grads_of, eta=0.01, beta=0.99, eps=1e-8):
    v = [np.zeros_like(w) for w in ws]
    for grads in grads_of:
        for i, w in enumerate(ws):
            g = grads(i, w)
            v[i] = np.maximum(beta * v[i], np.abs(g))
            ws[i] = w - eta / (v[i] + eps) * g
    return ws


def transcribed(fn, **kw):
    ws = initial_values()
    seq = gradient_sequence()
    grads_of = [(lambda i, w, noise=noise: gradient(w, noise[i])) for noise in seq]
    return fn(ws, grads_of, **kw)


NOTES_CASES = [
    (Adagrad, {}, notes_adagrad, {}),
    (Adagrad, dict(lr=0.2, eps=1e-3), notes_adagrad, dict(eta=0.2, eps=1e-3)),
    (RMSprop, {}, notes_rmsprop, {}),
    (RMSprop, dict(lr=0.003, alpha=0.9, eps=1e-3), notes_rmsprop, dict(eta=0.003, beta=0.9, eps=1e-3)),
    (Adadelta, {}, notes_adadelta, {}),
    (Adadelta, dict(rho=0.95, eps=1e-4), notes_adadelta, dict(beta=0.95, eps=1e-4)),
    (Adam, {}, notes_adam, {}),
    (Adam, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-3), notes_adam,
     dict(eta=0.01, beta1=0.8, beta2=0.99, eps=1e-3)),
    (AdamW, {}, notes_adamw, {}),
    (AdamW, dict(lr=0.01, weight_decay=0.2, eps=1e-3), notes_adamw, dict(eta=0.01, lam=0.2, eps=1e-3)),
    (Adamax, {}, notes_adamax, {}),
    (Adamax, dict(lr=0.01, betas=(0.5, 0.9), eps=1e-2), notes_adamax,
     dict(eta=0.01, beta1=0.5, beta2=0.9, eps=1e-2)),
    (NAdam, {}, notes_nadam, {}),
    (NAdam, dict(lr=0.01, betas=(0.8, 0.95), eps=1e-3), notes_nadam,
     dict(eta=0.01, beta1=0.8, beta2=0.95, eps=1e-3)),
    (MaxProp, {}, notes_maxprop, {}),
    (MaxProp, dict(lr=0.003, alpha=0.9, eps=1e-3), notes_maxprop, dict(eta=0.003, beta=0.9, eps=1e-3)),
]


@pytest.mark.parametrize("cls, kwargs, fn, fkw", NOTES_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(NOTES_CASES)])
def test_default_follows_the_notes(cls, kwargs, fn, fkw):
    got = run_dlbook(cls, kwargs)                 # default variant: the notes' formula
    assert_params_close(got, transcribed(fn, **fkw))


@pytest.mark.parametrize("cls, kwargs", [
    (Adagrad, dict(lr=0.2, eps=1e-2)), (RMSprop, dict(eps=1e-2)), (Adam, dict(lr=0.01, eps=1e-2)),
    (AdamW, dict(lr=0.01, eps=1e-2)),
    (Adamax, dict(lr=0.05, eps=0.5)), (NAdam, dict(lr=0.01))])
def test_the_two_variants_differ(cls, kwargs):
    """The option is not a no-op: where eps (or NAdam's momentum schedule) matters, the
    notes' and PyTorch's forms give different trajectories."""
    a = run_dlbook(cls, dict(kwargs, variant="notes"))
    b = run_dlbook(cls, dict(kwargs, variant="torch"))
    assert max(np.max(np.abs(x - y)) for x, y in zip(a, b)) > 1e-4


def test_maxprop_step_is_bounded_by_lr():
    """|g_t| <= v_t, so one MaxProp step never moves a weight by more than lr."""
    p = Param(np.zeros(5))
    opt = MaxProp([p], lr=0.1, alpha=0.9)
    rng = np.random.default_rng(3)
    for _ in range(200):
        before = p.data.copy()
        p.grad[...] = rng.standard_cauchy(5) * (rng.random(5) < 0.2)
        opt.step()
        assert np.all(np.abs(p.data - before) <= 0.1 * (1 + 1e-12))


def test_adagrad_sparse_coordinate_keeps_its_rate():
    """A coordinate whose gradient is zero does not move and keeps its effective rate."""
    p = Param([1.0, 1.0])
    opt = Adagrad([p], lr=0.1)
    for _ in range(50):
        p.grad[...] = [1.0, 0.0]
        opt.step()
    assert p.data[1] == 1.0 and opt.state[p]["sum"][1] == 0.0
    assert opt.state[p]["sum"][0] == 50.0 and opt.state[p]["step"] == 50


def test_adamw_differs_from_adam_with_l2():
    """Same weight_decay: Adam adds lambda w to the gradient, AdamW shrinks w by (1 - lr lambda)."""
    a = run_dlbook(Adam, dict(lr=0.01, weight_decay=0.1))
    b = run_dlbook(AdamW, dict(lr=0.01, weight_decay=0.1))
    c = run_dlbook(Adam, dict(lr=0.01))
    d = run_dlbook(AdamW, dict(lr=0.01, weight_decay=0.0))
    assert max(np.max(np.abs(x - y)) for x, y in zip(a, b)) > 1e-3
    for x, y in zip(c, d):                       # without decay the two are the same algorithm
        np.testing.assert_array_equal(x, y)


def test_adamw_fixed_point_is_scale_free():
    """Book §6.4: on L = sum c_i (w_i - 1)^2 / 2, Adam+L2 ends at c/(c+lambda); AdamW's end point
    does not depend on c."""
    c, lam = np.array([1.0, 100.0]), 0.1
    ends = {}
    for cls in (Adam, AdamW):
        p = Param(np.zeros(2))
        opt = cls([p], lr=0.01, weight_decay=lam)
        for _ in range(3000):
            p.grad[...] = c * (p.data - 1)
            opt.step()
        ends[cls] = p.data.copy()
    np.testing.assert_allclose(ends[Adam], c / (c + lam), rtol=1e-6)
    assert abs(ends[AdamW][0] - ends[AdamW][1]) < 1e-6 and ends[AdamW][0] < 1


# ------------------------------------------------------------- learning-rate schedules

def torch_lrs(make, steps, lr=0.5):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched = make(opt)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return np.array(lrs, dtype=float)


def our_lrs(make, steps, lr=0.5):
    opt = SGD([Param([0.0])], lr=lr)
    sched = make(opt)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return np.array(lrs, dtype=float)


LRS = torch.optim.lr_scheduler
SCHEDULE_CASES = [
    ("cyclic-triangular", lambda o: CyclicLR(o, 0.01, 0.1, step_size_up=7),
     lambda o: LRS.CyclicLR(o, 0.01, 0.1, step_size_up=7, cycle_momentum=False)),
    ("cyclic-asymmetric", lambda o: CyclicLR(o, 0.001, 0.3, step_size_up=4, step_size_down=9),
     lambda o: LRS.CyclicLR(o, 0.001, 0.3, step_size_up=4, step_size_down=9, cycle_momentum=False)),
    ("cyclic-triangular2", lambda o: CyclicLR(o, 0.01, 0.1, step_size_up=5, mode="triangular2"),
     lambda o: LRS.CyclicLR(o, 0.01, 0.1, step_size_up=5, mode="triangular2", cycle_momentum=False)),
    ("cyclic-exp_range", lambda o: CyclicLR(o, 0.01, 0.1, step_size_up=5, mode="exp_range", gamma=0.99),
     lambda o: LRS.CyclicLR(o, 0.01, 0.1, step_size_up=5, mode="exp_range", gamma=0.99,
                            cycle_momentum=False)),
    ("cosine-T_mult-1", lambda o: CosineAnnealingWarmRestarts(o, T_0=10),
     lambda o: LRS.CosineAnnealingWarmRestarts(o, T_0=10)),
    ("cosine-T_mult-1-eta_min", lambda o: CosineAnnealingWarmRestarts(o, T_0=7, eta_min=0.05),
     lambda o: LRS.CosineAnnealingWarmRestarts(o, T_0=7, eta_min=0.05)),
    ("cosine-T_mult-2", lambda o: CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01),
     lambda o: LRS.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01)),
    ("cosine-T_mult-3", lambda o: CosineAnnealingWarmRestarts(o, T_0=2, T_mult=3),
     lambda o: LRS.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=3)),
    ("linear-default", lambda o: LinearLR(o), lambda o: LRS.LinearLR(o)),
    ("linear-warmup", lambda o: LinearLR(o, start_factor=0.1, total_iters=20),
     lambda o: LRS.LinearLR(o, start_factor=0.1, total_iters=20)),
    ("linear-decay", lambda o: LinearLR(o, start_factor=1.0, end_factor=0.25, total_iters=13),
     lambda o: LRS.LinearLR(o, start_factor=1.0, end_factor=0.25, total_iters=13)),
]


@pytest.mark.parametrize("name, ours, theirs", SCHEDULE_CASES, ids=[c[0] for c in SCHEDULE_CASES])
def test_schedule_parity_with_torch(name, ours, theirs):
    ref = torch_lrs(theirs, 150)
    got = our_lrs(ours, 150)
    assert len(np.unique(np.round(ref, 12))) > 2              # the schedule does change the rate
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-15)


def test_notes_cosine_formula_versus_sgdr():
    """The notes' formula, with period T+1 and cos(pi (t mod (T+1)) / T), reaches eta_min at
    the end of each cycle; SGDR/PyTorch with T_0 = T+1 restarts one step earlier in phase."""
    T, lo, hi = 9, 0.0, 0.5
    t = np.arange(40)
    notes = lo + (hi - lo) / 2 * (1 + np.cos(np.pi * (t % (T + 1)) / T))
    ours = our_lrs(lambda o: CosineAnnealingWarmRestarts(o, T_0=T + 1, eta_min=lo), 39, lr=hi)
    assert np.isclose(notes[T], lo) and ours[T] > lo                   # notes hit eta_min, SGDR not
    np.testing.assert_allclose(notes[:: T + 1], ours[:: T + 1])      # both restart at multiples of T+1


def test_scheduler_drives_adaptive_optimizer():
    p = Param([1.0])
    opt = Adam([p], lr=0.1)
    sched = LinearLR(opt, start_factor=0.5, total_iters=4)
    assert opt.param_groups[0]["lr"] == 0.05 and opt.param_groups[0]["initial_lr"] == 0.1
    for _ in range(6):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)


def test_scheduler_state_dict_round_trip():
    opt = SGD([Param([0.0])], lr=0.3)
    sched = CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2)
    for _ in range(5):
        sched.step()
    sd = copy.deepcopy(sched.state_dict())
    opt2 = SGD([Param([0.0])], lr=0.3)
    sched2 = CosineAnnealingWarmRestarts(opt2, T_0=3, T_mult=2)
    sched2.load_state_dict(sd)
    for _ in range(10):
        sched.step()
        sched2.step()
        assert opt.param_groups[0]["lr"] == opt2.param_groups[0]["lr"]


# ---------------------------------------------------------------------- bad arguments

BAD = [
    (Adam, dict(lr=-1e-3), "lr"),
    (Adagrad, dict(lr=-0.1), "lr"),
    (Adam, dict(betas=(1.0, 0.999)), "betas"),
    (Adam, dict(betas=(0.9, -0.1)), "betas"),
    (NAdam, dict(betas=(0.9, 1.5)), "betas"),
    (Adam, dict(eps=0.0), "eps"),
    (RMSprop, dict(eps=-1e-8), "eps"),
    (Adagrad, dict(eps=0), "eps"),
    (MaxProp, dict(eps=-1.0), "eps"),
    (Adadelta, dict(rho=1.5), "rho"),
    (Adadelta, dict(rho=-0.1), "rho"),
    (Adadelta, dict(eps=0.0), "eps"),
    (RMSprop, dict(alpha=1.01), "alpha"),
    (MaxProp, dict(alpha=-0.5), "alpha"),
    (RMSprop, dict(momentum=-0.9), "momentum"),
    (Adam, dict(weight_decay=-1e-4), "weight_decay"),
    (Adagrad, dict(lr_decay=-0.1), "lr_decay"),
    (Adagrad, dict(initial_accumulator_value=-1.0), "initial_accumulator_value"),
    (NAdam, dict(momentum_decay=-0.004), "momentum_decay"),
    (Adam, dict(variant="keras"), "variant"),
    (AdamW, dict(weight_decay=-0.01), "weight_decay"),
    (Adam, dict(eps=float("nan")), "eps"),
]


@pytest.mark.parametrize("cls, kwargs, name", BAD, ids=[f"{c.__name__}-{n}" for c, _, n in BAD])
def test_invalid_hyperparameters(cls, kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name}(\[\d\])?:"):
        cls([Param([1.0])], **kwargs)


BAD_KIND = [
    (Adam, dict(lr="0.001"), "lr"),
    (Adamax, dict(betas=(0.9,)), "betas"),
    (Adam, dict(betas=0.9), "betas"),
    (NAdam, dict(betas=(0.9, "0.999")), "betas"),
    (RMSprop, dict(centered=1), "centered"),
    (Adam, dict(amsgrad="no"), "amsgrad"),
    (Adadelta, dict(rho=None), "rho"),
    (AdamW, dict(weight_decay=[0.1]), "weight_decay"),
]


@pytest.mark.parametrize("cls, kwargs, name", BAD_KIND, ids=[f"{c.__name__}-{n}" for c, _, n in BAD_KIND])
def test_hyperparameters_of_the_wrong_kind(cls, kwargs, name):
    with pytest.raises(TypeError, match=rf"^{name}(\[\d\])?:"):
        cls([Param([1.0])], **kwargs)


ALL_OPTIMIZERS = [Adagrad, RMSprop, Adadelta, Adam, AdamW, Adamax, NAdam, MaxProp]


@pytest.mark.parametrize("cls", ALL_OPTIMIZERS, ids=lambda c: c.__name__)
def test_empty_params(cls):
    with pytest.raises(ValueError, match=r"^params:"):
        cls([])


@pytest.mark.parametrize("make, name", [
    (lambda o: CyclicLR(o, -0.1, 0.1), "base_lr"),
    (lambda o: CyclicLR(o, 0.1, 0.2, step_size_up=0), "step_size_up"),
    (lambda o: CyclicLR(o, 0.1, 0.2, mode="sawtooth"), "mode"),
    (lambda o: CosineAnnealingWarmRestarts(o, T_0=0), "T_0"),
    (lambda o: CosineAnnealingWarmRestarts(o, T_0=5, T_mult=0), "T_mult"),
    (lambda o: CosineAnnealingWarmRestarts(o, T_0=5, eta_min=-1.0), "eta_min"),
    (lambda o: LinearLR(o, start_factor=0.0), "start_factor"),
    (lambda o: LinearLR(o, end_factor=1.5), "end_factor"),
    (lambda o: LinearLR(o, total_iters=0), "total_iters"),
])
def test_invalid_schedules(make, name):
    with pytest.raises(ValueError, match=rf"^{name}:"):
        make(SGD([Param([0.0])], lr=0.1))


@pytest.mark.parametrize("make, name", [
    (lambda o: CyclicLR(o, 0.1, 0.2, step_size_down=1.5), "step_size_down"),
    (lambda o: CosineAnnealingWarmRestarts(o, T_0=np.float64(3.0)), "T_0"),
    (lambda o: CosineAnnealingWarmRestarts(o, T_0=True), "T_0"),
    (lambda o: LinearLR(o, total_iters="5"), "total_iters"),
])
def test_schedule_arguments_of_the_wrong_kind(make, name):
    with pytest.raises(TypeError, match=rf"^{name}:"):
        make(SGD([Param([0.0])], lr=0.1))


def test_integer_like_schedule_arguments_are_accepted():
    opt = SGD([Param([0.0])], lr=0.1)
    sched = CosineAnnealingWarmRestarts(opt, T_0=np.int64(3), T_mult=np.int32(2))
    assert sched.T_0 == 3 and type(sched.T_0) is int


# ------------------------------------------------------------------------ resuming

RESUME_CASES = [
    (Adagrad, dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    (Adagrad, dict(variant="torch")),
    (RMSprop, dict(momentum=0.5, centered=True)),
    (RMSprop, dict(variant="torch")),
    (Adadelta, dict(lr=0.7, weight_decay=0.01)),
    (Adam, dict(lr=0.01, amsgrad=True)),
    (Adam, dict(variant="torch")),
    (AdamW, dict(lr=0.01, weight_decay=0.1)),
    (Adamax, {}),
    (Adamax, dict(variant="torch")),
    (NAdam, {}),
    (NAdam, dict(variant="torch", momentum_decay=0.01)),
    (MaxProp, dict(alpha=0.9)),
]


@pytest.mark.parametrize("cls, kwargs", RESUME_CASES,
                         ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(RESUME_CASES)])
def test_resume_is_bit_for_bit(cls, kwargs):
    seq = gradient_sequence(seed=5, steps=60)

    def steps(params, opt, part):
        for noise in part:
            for p, n in zip(params, noise):
                p.grad[...] = gradient(p.data, n)
            opt.step()

    straight = [Param(v) for v in initial_values()]
    opt = cls(straight, **kwargs)
    steps(straight, opt, seq)

    first = [Param(v) for v in initial_values()]
    opt1 = cls(first, **kwargs)
    steps(first, opt1, seq[:30])
    saved = opt1.state_dict()
    snapshot = copy.deepcopy(saved)
    steps(first, opt1, seq[30:32])                      # later steps must not leak into `saved`
    assert saved["state"].keys() == snapshot["state"].keys()
    for i in saved["state"]:
        for k, value in saved["state"][i].items():
            assert np.array_equal(value, snapshot["state"][i][k])
    resumed = [Param(v) for v in initial_values()]
    opt2 = cls(resumed, **kwargs)
    steps(resumed, opt2, seq[:30])
    weights = [p.data.copy() for p in resumed]
    fresh = [Param(w) for w in weights]                 # a new process: new params, new optimizer
    opt3 = cls(fresh, **kwargs)
    opt3.load_state_dict(saved)
    assert all(opt3.state[p]["step"] == 30 for p in fresh)
    steps(fresh, opt3, seq[30:])
    for a, b in zip(fresh, straight):
        assert np.array_equal(a.data, b.data)
