"""Chapter 7: Dropout (dlbook.nn), EarlyStopping (dlbook.train) and dlbook.regularization
(weight-decay groups, augmentation, input noise, bootstrap, ensemble averaging), label smoothing."""
import numpy as np
import pytest
import torch

from dlbook.gradcheck import gradcheck
from dlbook.nn import CrossEntropyLoss, Dropout, Linear, Module, Sequential, Tanh, no_grad
from dlbook.optimizers import SGD, Adam
from dlbook.regularization import (
    Augment,
    GaussianNoise,
    average_predictions,
    bootstrap_indices,
    rotate_images,
    shift_images,
    weight_decay_groups,
)
from dlbook.train import EarlyStopping, evaluate, fit

torch.set_default_dtype(torch.float64)


class MaskFrom:
    """Stands in for a Generator: ``random`` returns 1 where ``keep`` is True, else 0, so that
    Dropout (keep = u >= p) uses exactly the mask ``keep``."""

    def __init__(self, keep):
        self.keep = np.asarray(keep)

    def random(self, shape):
        assert tuple(shape) == self.keep.shape
        return self.keep.astype(np.float64)


# ----------------------------------------------------------------------------- Dropout

@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_matches_torch_forward_backward(p):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 7)) + 3.0                   # no zeros: the mask is visible
    g = rng.standard_normal((6, 7))
    torch.manual_seed(0)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.Dropout(p)(xt)
    yt.backward(torch.tensor(g))
    keep = yt.detach().numpy() != 0
    d = Dropout(p)
    d.rng = MaskFrom(keep)
    y = d(x)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-14, atol=0)
    np.testing.assert_allclose(d.backward(g), xt.grad.numpy(), rtol=1e-14, atol=0)


def test_dropout_eval_and_p0_are_identity_p1_zero():
    x = np.random.default_rng(1).standard_normal((4, 5))
    d = Dropout(0.5, rng=0).eval()
    assert d(x) is not None and np.array_equal(d(x), x)
    assert np.array_equal(d.backward(np.ones_like(x)), np.ones_like(x))
    d0 = Dropout(0.0, rng=0)
    assert np.array_equal(d0(x), x)
    d1 = Dropout(1.0, rng=0)
    assert np.array_equal(d1(x), np.zeros_like(x))
    assert np.array_equal(d1.backward(np.ones_like(x)), np.zeros_like(x))
    with torch.no_grad():
        assert torch.equal(torch.nn.Dropout(1.0)(torch.tensor(x)), torch.zeros(4, 5))


def test_dropout_mask_statistics_and_scaling():
    p, n = 0.3, 400_000
    y = Dropout(p, rng=0)(np.ones(n))
    kept = y != 0
    assert abs(kept.mean() - (1 - p)) < 4 * np.sqrt(p * (1 - p) / n)
    assert np.allclose(y[kept], 1 / (1 - p))
    assert abs(y.mean() - 1.0) < 0.01                       # E[h_train] = h (inverted dropout)
    assert abs(y.var() - p / (1 - p)) < 0.01                # Var = p / (1 - p) for h = 1


def test_dropout_seeded_masks_reproducible_and_dtype():
    x = np.ones((3, 50), dtype=np.float32)
    a, b = Dropout(0.5, rng=7)(x), Dropout(0.5, rng=7)(x)
    assert np.array_equal(a, b) and a.dtype == np.float32
    assert not np.array_equal(a, Dropout(0.5, rng=8)(x))


def test_dropout_gradcheck_and_stack():
    class FixedMask(Module):
        def __init__(self, p):
            self.drop = Dropout(p)

        def forward(self, x):
            self.drop.rng = np.random.default_rng(0)
            return self.drop(x)

        def backward(self, g):
            return self.drop.backward(g)

    x = np.random.default_rng(2).standard_normal((5, 6))
    assert gradcheck(FixedMask(0.4), x) < 1e-8
    d = Dropout(0.5, rng=3)
    y1, y2 = d(np.ones(20)), d(np.ones(20))
    assert np.array_equal(d.backward(np.ones(20)), y2)      # LIFO: latest call first
    assert np.array_equal(d.backward(np.ones(20)), y1)
    with pytest.raises(RuntimeError, match="Dropout.backward"):
        d.backward(np.ones(20))
    with no_grad():
        d(np.ones(20))
    with pytest.raises(RuntimeError):
        d.backward(np.ones(20))


def test_dropout_bad_p():
    with pytest.raises(ValueError, match="p"):
        Dropout(1.5)
    with pytest.raises(TypeError, match="p"):
        Dropout("0.5")


# ----------------------------------------------------------------------------- label smoothing

@pytest.mark.parametrize("eps", [0.0, 0.1, 0.4])
def test_label_smoothing_matches_torch(eps):
    rng = np.random.default_rng(4)
    a, y = rng.standard_normal((7, 5)), rng.integers(0, 5, 7)
    ours = CrossEntropyLoss(label_smoothing=eps)
    value = ours(a, y)
    at = torch.tensor(a, requires_grad=True)
    lt = torch.nn.CrossEntropyLoss(label_smoothing=eps)(at, torch.tensor(y))
    lt.backward()
    assert abs(value - lt.item()) < 1e-12
    np.testing.assert_allclose(ours.backward(), at.grad.numpy(), rtol=1e-10, atol=1e-14)


# ----------------------------------------------------------------------------- weight decay groups

def test_weight_decay_groups_spare_biases():
    net = Sequential(Linear(4, 3, rng=0), Tanh(), Linear(3, 2, rng=1))
    groups = weight_decay_groups(net, 0.1)
    assert [len(g["params"]) for g in groups] == [2, 2]
    assert all(p.data.ndim == 2 for p in groups[0]["params"]) and groups[0]["weight_decay"] == 0.1
    assert all(p.data.ndim == 1 for p in groups[1]["params"]) and groups[1]["weight_decay"] == 0.0
    # one SGD step: weights get the penalty gradient alpha * w, biases not
    before = [p.data.copy() for p in net.parameters()]
    for p in net.parameters():
        p.grad[...] = 0
    SGD(groups, lr=0.5).step()
    for b, p in zip(before, net.parameters()):
        expected = b * (1 - 0.5 * 0.1) if b.ndim == 2 else b
        np.testing.assert_allclose(p.data, expected, rtol=1e-14)
    with pytest.raises(ValueError, match="weight_decay"):
        weight_decay_groups(net, -1.0)
    assert len(weight_decay_groups(Linear(2, 2, bias=False, rng=0), 0.1)) == 1


# ----------------------------------------------------------------------------- augmentation

def images(n=6, seed=0):
    return np.random.default_rng(seed).random((n, 1, 28, 28))


def test_rotation_exact_cases():
    x = images()
    np.testing.assert_allclose(rotate_images(x, np.zeros(6)), x, atol=1e-12)
    np.testing.assert_allclose(rotate_images(x, np.full(6, 90.0)), np.rot90(x, 1, axes=(2, 3)),
                               atol=1e-12)
    np.testing.assert_allclose(rotate_images(x, np.full(6, 180.0)), x[..., ::-1, ::-1], atol=1e-12)
    # a small rotation keeps a centred blob's mass (nothing leaves the image; bilinear
    # interpolation conserves it only approximately) and its centre
    blob = np.zeros((1, 1, 28, 28))
    blob[0, 0, 10:18, 10:18] = 1.0
    r = rotate_images(blob, [7.0])[0, 0]
    assert abs(r.sum() - blob.sum()) < 0.01 * blob.sum()
    yy, xx = np.mgrid[0:28, 0:28]
    assert abs((r * yy).sum() / r.sum() - 13.5) < 0.05 and abs((r * xx).sum() / r.sum() - 13.5) < 0.05


def test_shift_exact():
    x = images(2)
    out = shift_images(x, np.array([2, -1]), np.array([-3, 0]))
    np.testing.assert_array_equal(out[0, 0, 2:, :-3], x[0, 0, :-2, 3:])
    assert np.all(out[0, 0, :2] == 0) and np.all(out[0, 0, :, -3:] == 0)
    np.testing.assert_array_equal(out[1, 0, :-1], x[1, 0, 1:])


def test_augment_train_eval_shapes_and_seed():
    x = images(8).astype(np.float32)
    aug = Augment(shift=2, rotate=10, hflip=0.5, noise=0.05, rng=0)
    a = aug(x)
    assert a.shape == x.shape and a.dtype == np.float32 and not np.allclose(a, x)
    b = Augment(shift=2, rotate=10, hflip=0.5, noise=0.05, rng=0)(x.reshape(8, -1))
    np.testing.assert_allclose(b, a.reshape(8, -1))          # flattened input, same draws
    aug.eval()
    assert np.array_equal(aug(x), x)
    flips = Augment(hflip=1.0, rng=1)(x)
    np.testing.assert_array_equal(flips, x[..., ::-1])
    with pytest.raises(ValueError, match="x: expected shape"):
        aug(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="hflip"):
        Augment(hflip=2.0)


def test_augment_as_first_layer_trains():
    rng = np.random.default_rng(0)
    X = rng.random((64, 784)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    net = Sequential(Augment(shift=1, hflip=0.5, rng=0), Linear(784, 3, rng=0, dtype=np.float32))
    hist = fit(net, CrossEntropyLoss(), Adam(net.parameters(), lr=1e-2), X, y, epochs=3,
               batch_size=16, rng=0, log_every=0)
    assert len(hist["loss"]) == 3 and np.isfinite(hist["loss"]).all()


def test_gaussian_noise():
    x = np.zeros((200, 500))
    layer = GaussianNoise(0.3, rng=0)
    out = layer(x)
    assert abs(out.std() - 0.3) < 0.005 and abs(out.mean()) < 0.005
    g = np.random.default_rng(1).standard_normal(x.shape)
    assert np.array_equal(layer.backward(g), g)
    layer.eval()
    assert np.array_equal(layer(x), x)
    with pytest.raises(ValueError, match="std"):
        GaussianNoise(-1.0)


# ----------------------------------------------------------------------------- ensembles

def test_bootstrap_indices():
    idx = bootstrap_indices(1000, rng=0)
    assert idx.shape == (1000,) and idx.min() >= 0 and idx.max() < 1000
    assert np.array_equal(idx, bootstrap_indices(1000, rng=0))
    missing = np.mean([1 - len(np.unique(bootstrap_indices(1000, rng=s))) / 1000 for s in range(20)])
    assert abs(missing - (1 - 1 / 1000) ** 1000) < 0.01      # about 1/e of the examples left out
    assert bootstrap_indices(10, rng=0, size=3).shape == (3,)


def test_average_predictions_against_torch():
    rng = np.random.default_rng(5)
    outs = [rng.standard_normal((4, 6)) * 3 for _ in range(3)]
    t = torch.tensor(np.stack(outs))
    probs = torch.softmax(t, dim=-1)
    arith = torch.log(probs.mean(0))
    geo = torch.log_softmax(torch.log_softmax(t, -1).mean(0), -1)
    np.testing.assert_allclose(average_predictions(outs), arith.numpy(), rtol=1e-12)
    np.testing.assert_allclose(average_predictions(outs, "geometric"), geo.numpy(), rtol=1e-12)
    big = [np.array([[1000.0, 0.0]]), np.array([[0.0, 1000.0]])]     # no overflow
    assert np.isfinite(average_predictions(big)).all()
    with pytest.raises(ValueError, match="mode"):
        average_predictions(outs, "harmonic")


# ----------------------------------------------------------------------------- early stopping

class Scalar(Module):
    """A one-parameter model for driving the callback by hand."""

    def __init__(self):
        self.w = Linear(1, 1, rng=0)


def test_early_stopping_by_hand():
    model = Scalar()
    stop = EarlyStopping(patience=2)
    history = {"val_loss": []}
    values = [5.0, 4.0, 3.0, 3.5, 3.2, 2.0]
    stopped_at = None
    for epoch, v in enumerate(values, start=1):
        model.w.weight.data[...] = epoch                     # weights remember the epoch
        history["val_loss"].append(v)
        assert stop({"event": "update", "epoch": epoch}) is False   # updates are ignored
        if stop({"event": "epoch", "epoch": epoch, "history": history, "model": model}):
            stopped_at = epoch
            break
    assert stopped_at == 5 and stop.best_epoch == 3 and stop.best == 3.0 and stop.stopped_epoch == 5
    assert model.w.weight.data.item() == 3.0                  # the best epoch's parameters


def test_early_stopping_max_mode_min_delta_and_errors():
    model = Scalar()
    stop = EarlyStopping(patience=1, monitor="val_accuracy", mode="max", min_delta=0.05)
    h = {"val_accuracy": []}
    results = []
    for e, v in enumerate([0.5, 0.52, 0.7], start=1):
        h["val_accuracy"].append(v)
        results.append(stop({"event": "epoch", "epoch": e, "history": h, "model": model}))
    assert results == [False, True, False]      # 0.52 is not 0.05 better than 0.5; 0.7 is
    assert stop.best == 0.7 and stop.best_epoch == 3
    with pytest.raises(ValueError, match="monitor"):
        EarlyStopping()({"event": "epoch", "epoch": 1, "history": {"loss": [1.0]}, "model": model})
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="best")
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=0)
    with pytest.raises(RuntimeError, match="restore"):
        EarlyStopping().restore(model)


def test_early_stopping_with_fit_restores_best():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 30))
    y = rng.integers(0, 3, 40)                               # random labels: over-fitting guaranteed
    Xv, yv = rng.standard_normal((40, 30)), rng.integers(0, 3, 40)
    net = Sequential(Linear(30, 64, rng=0), Tanh(), Linear(64, 3, rng=1))
    stop = EarlyStopping(patience=3)
    hist = fit(net, CrossEntropyLoss(), Adam(net.parameters(), lr=0.02), X, y, epochs=200,
               batch_size=10, rng=0, X_val=Xv, y_val=yv, callbacks=[stop], log_every=0)
    assert stop.stopped_epoch == len(hist["epoch"]) < 200
    assert stop.stopped_epoch == stop.best_epoch + 3
    best = min(hist["val_loss"])
    assert hist["val_loss"][stop.best_epoch - 1] == best
    assert abs(evaluate(net, CrossEntropyLoss(), Xv, yv)["loss"] - best) < 1e-12


def test_rotation_with_shift_equals_rotation_then_shift():
    x = images(5, seed=3)
    angles, dy, dx = np.linspace(-10, 10, 5), np.array([1, -2, 0, 2, -1]), np.array([0, 1, -2, 2, -1])
    combined = rotate_images(x, angles, dy, dx)
    two_step = shift_images(rotate_images(x, angles), dy, dx)
    # identical away from the border (where the two-step version shifts in zeros, the one-pass
    # version still finds the rotated image's pixels)
    np.testing.assert_allclose(combined[..., 2:-2, 2:-2], two_step[..., 2:-2, 2:-2], atol=1e-12)
    assert np.abs(combined - two_step).max() > 0
