"""The README's code examples run as printed."""
import re
from pathlib import Path

import numpy as np

README = (Path(__file__).parents[1] / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_training_step_example_runs():
    block = next(b for b in BLOCKS if "model.backward(loss_fn.backward())" in b)
    r = np.random.default_rng(0)
    ns = {"x": r.normal(size=(8, 64)), "y": r.integers(0, 10, 8), "x_test": r.normal(size=(3, 64))}
    exec(block, ns)
    assert ns["predicted"].shape == (3,)
    assert all(np.any(p.grad != 0) for p in ns["model"].parameters())


def test_custom_module_template_runs_and_its_gradcheck_passes():
    block = next(b for b in BLOCKS if "class Scale(Module)" in b)
    assert len([line for line in block.splitlines() if line.strip()]) <= 16
    exec(block, {})                                  # ends with an assert on gradcheck
