"""The chapter-9 Fashion-MNIST network reaches its accuracy bar (seeded; ~30 s of CPU time).

Same settings and network as the ``FASHION_CNN`` dictionary and ``fashion_cnn`` of
book/ch09b_fashion_mnist.md: trained on the first 24,000 official training images for one epoch,
tested on the official 10,000 test images.
"""
import ast
import re
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from dlbook.cnn import BatchNorm2d, Conv2d, Flatten, MaxPool2d
from dlbook.data import load_fashion_mnist
from dlbook.nn import CrossEntropyLoss, Linear, ReLU, Sequential
from dlbook.optimizers import Adam, LinearLR
from dlbook.train import evaluate, fit

FASHION_CNN = dict(n_train=24_000, epochs=1, batch_size=64, lr=3e-3, final_lr_factor=0.02, seed=0,
                   conv_channels=(16, 32), hidden=128, batch_norm=True)
CHAPTER = Path(__file__).resolve().parent.parent / "book" / "ch09b_fashion_mnist.md"


def test_settings_are_the_chapters():
    found = re.findall(r"^FASHION_CNN = (dict\(.*?\))\n", CHAPTER.read_text(), flags=re.S | re.M)
    assert len(found) == 1, found
    call = ast.parse(found[0], mode="eval").body
    assert {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords} == FASHION_CNN


def fashion_cnn(conv_channels, hidden, batch_norm, seed, dtype=np.float32):
    c1, c2 = conv_channels
    rng = np.random.default_rng(seed)
    norm = (lambda c: [BatchNorm2d(c, dtype=dtype)]) if batch_norm else (lambda c: [])
    return Sequential(
        Conv2d(1, c1, 3, padding=1, rng=rng, dtype=dtype), *norm(c1), ReLU(), MaxPool2d(2),
        Conv2d(c1, c2, 3, padding=1, rng=rng, dtype=dtype), *norm(c2), ReLU(), MaxPool2d(2),
        Flatten(), Linear(c2 * 7 * 7, hidden, rng=rng, dtype=dtype), ReLU(),
        Linear(hidden, 10, rng=rng, dtype=dtype))


def test_fashion_cnn_reaches_87_percent():
    cfg = FASHION_CNN
    X, y = load_fashion_mnist("train")
    X_test, y_test = load_fashion_mnist("test")
    X, y = X[:cfg["n_train"]], y[:cfg["n_train"]]
    model = fashion_cnn(cfg["conv_channels"], cfg["hidden"], cfg["batch_norm"], cfg["seed"])
    optimizer = Adam(model.parameters(), lr=cfg["lr"])
    updates = cfg["epochs"] * -(-len(X) // cfg["batch_size"])
    schedule = LinearLR(optimizer, start_factor=1.0, end_factor=cfg["final_lr_factor"], total_iters=updates)
    with threadpool_limits(1):
        fit(model, CrossEntropyLoss(), optimizer, X, y, epochs=cfg["epochs"], batch_size=cfg["batch_size"],
            rng=cfg["seed"] + 1, scheduler=schedule, scheduler_interval="update", log_every=0)
        test = evaluate(model, CrossEntropyLoss(), X_test, y_test, batch_size=500)
    assert test["accuracy"] >= 0.87, test
