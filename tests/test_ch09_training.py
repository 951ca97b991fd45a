"""The chapter-9 Fashion-MNIST network reaches its accuracy bar (seeded; ~60–90 s of CPU time).

Same settings and network as the ``FASHION_CNN`` dictionary, ``fashion_cnn`` and ``train_fashion``
of book/ch09b_fashion_mnist.md: trained on the first ``n_train`` official training images for
``epochs`` epochs, tested on the official 10,000 test images, in evaluation mode.
"""
import ast
import re
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from dlbook.cnn import BatchNorm2d, Conv2d, Flatten, MaxPool2d
from dlbook.data import load_fashion_mnist
from dlbook.nn import CrossEntropyLoss, Linear, ReLU, Sequential
from dlbook.optimizers import AdamW, CosineAnnealingWarmRestarts, LinearLR, SequentialLR
from dlbook.train import evaluate, fit

FASHION_CNN = dict(n_train=60_000, epochs=2, batch_size=128, lr=4e-3, warmup=0.1, final_lr_factor=0.01,
                   weight_decay=1e-4, seed=0, conv_channels=(8, 32), hidden=256)
CHAPTER = Path(__file__).resolve().parent.parent / "book" / "ch09b_fashion_mnist.md"


def test_settings_are_the_chapters():
    found = re.findall(r"^FASHION_CNN = (dict\(.*?\))\n", CHAPTER.read_text(), flags=re.S | re.M)
    assert len(found) == 1, found
    call = ast.parse(found[0], mode="eval").body
    assert {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords} == FASHION_CNN


class ConvNet(Sequential):
    def backward(self, grad_output, input_grad=True):
        g = grad_output
        for layer in reversed(self.layers[1:]):
            g = layer.backward(g)
        return self.layers[0].backward(g, input_grad=input_grad)


def fashion_cnn(conv_channels, hidden, seed, dtype=np.float32):
    c1, c2 = conv_channels
    rng = np.random.default_rng(seed)
    return ConvNet(
        Conv2d(1, c1, 3, padding=1, rng=rng, dtype=dtype), MaxPool2d(2), BatchNorm2d(c1, dtype=dtype), ReLU(),
        Conv2d(c1, c2, 3, padding=1, rng=rng, dtype=dtype), MaxPool2d(2),
        BatchNorm2d(c2, dtype=dtype), ReLU(),
        Flatten(), Linear(c2 * 7 * 7, hidden, rng=rng, dtype=dtype), ReLU(),
        Linear(hidden, 10, rng=rng, dtype=dtype))


def test_conv_net_skips_only_the_input_gradient():
    model = fashion_cnn((2, 3), 5, seed=0, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((4, 1, 28, 28))
    out = model(x)
    assert model.backward(np.ones_like(out), input_grad=False) is None
    grads = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    model(x)
    assert model.backward(np.ones_like(out)).shape == x.shape
    for a, b in zip(grads, model.parameters()):
        np.testing.assert_allclose(a, b.grad, rtol=1e-12, atol=1e-12)


def test_fashion_cnn_reaches_91_percent():
    cfg = FASHION_CNN
    X, y = load_fashion_mnist("train")
    X_test, y_test = load_fashion_mnist("test")
    X, y = X[:cfg["n_train"]], y[:cfg["n_train"]]
    model = fashion_cnn(cfg["conv_channels"], cfg["hidden"], cfg["seed"])
    optimizer = AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    updates = cfg["epochs"] * -(-len(X) // cfg["batch_size"])
    warm = int(cfg["warmup"] * updates)
    schedule = SequentialLR(optimizer, [
        LinearLR(optimizer, start_factor=0.05, end_factor=1.0, total_iters=warm),
        CosineAnnealingWarmRestarts(optimizer, T_0=updates - warm,
                                    eta_min=cfg["final_lr_factor"] * cfg["lr"])],
        milestones=[warm])
    with threadpool_limits(1):
        fit(model, CrossEntropyLoss(), optimizer, X, y, epochs=cfg["epochs"], batch_size=cfg["batch_size"],
            rng=cfg["seed"] + 1, scheduler=schedule, scheduler_interval="update", log_every=0)
        test = evaluate(model, CrossEntropyLoss(), X_test, y_test, batch_size=500)
    assert test["accuracy"] >= 0.91, test
