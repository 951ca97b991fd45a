"""The chapter-4 digits experiment reaches its accuracy bar (seeded, a few seconds).

Same settings as the ``DIGITS`` dictionary of book/ch04_feedforward.md (experiment section).
"""
import ast
import re
from pathlib import Path

import numpy as np
import pytest

from dlbook.data import load_digits_split
from dlbook.nn import CrossEntropyLoss, mlp
from dlbook.optimizers import SGD
from dlbook.train import evaluate, fit

DIGITS = dict(test_size=0.25, val_size=0.1, sizes=[64, 32, 10], activation="tanh", lr=0.05,
              epochs=100, batch_size=32, seed=0)
CHAPTER = Path(__file__).resolve().parent.parent / "book" / "ch04_feedforward.md"


def test_settings_are_the_chapters():
    """The chapter says this test trains exactly its network: the two DIGITS must agree."""
    found = re.findall(r"^DIGITS = (dict\(.*?\))\n", CHAPTER.read_text(), flags=re.S | re.M)
    assert len(found) == 1, found
    call = ast.parse(found[0], mode="eval").body
    assert {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords} == DIGITS


def test_load_digits_split_is_standardized_on_train_only():
    X_tr, X_va, X_te, y_tr, y_va, y_te, (mean, std) = load_digits_split(0.25, 0.1, seed=0,
                                                                        return_stats=True)
    assert (len(X_tr), len(X_va), len(X_te)) == (1167, 180, 450)
    assert X_tr.dtype == np.float64 and y_tr.dtype == np.int64
    assert np.allclose(X_tr.mean(0), 0, atol=1e-12)
    assert np.allclose(X_tr.std(0)[std != 1], 1)
    assert not np.allclose(X_te.mean(0), 0, atol=1e-3)          # the scaler saw only the train rows
    raw = X_te * std + mean
    assert np.allclose(raw, np.round(raw)) and raw.min() >= -1e-9 and raw.max() <= 16 + 1e-9
    counts = np.bincount(y_te, minlength=10)                     # stratified: ~45 of each digit
    assert counts.min() >= 43 and counts.max() <= 47
    again = load_digits_split(0.25, 0.1, seed=0)
    assert np.array_equal(again[0], X_tr) and np.array_equal(again[5], y_te)
    X_tr2, X_te2, y_tr2, y_te2 = load_digits_split(test_size=0.2, seed=1, dtype=np.float32)
    assert X_tr2.dtype == np.float32 and len(X_te2) == 360
    with pytest.raises(ValueError, match="test_size"):
        load_digits_split(test_size=0.8, val_size=0.3)


def test_digits_mlp_reaches_97_percent():
    cfg = DIGITS
    X_tr, X_va, X_te, y_tr, y_va, y_te = load_digits_split(cfg["test_size"], cfg["val_size"],
                                                           seed=cfg["seed"])
    model = mlp(cfg["sizes"], activation=cfg["activation"], rng=np.random.default_rng(cfg["seed"]))
    loss_fn = CrossEntropyLoss()
    history = fit(model, loss_fn, SGD(model.parameters(), lr=cfg["lr"]), X_tr, y_tr,
                  epochs=cfg["epochs"], batch_size=cfg["batch_size"],
                  rng=np.random.default_rng(cfg["seed"] + 1), X_val=X_va, y_val=y_va, log_every=None)
    test = evaluate(model, loss_fn, X_te, y_te)
    assert test["accuracy"] >= 0.97, test
    assert history["val_accuracy"][-1] >= 0.95
    assert history["loss"][-1] < 0.05
