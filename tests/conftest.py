"""Guard: with --nbmake, every converted chapter notebook must be collected.

nbmake silently skips notebooks in some folders (any path containing ``_build``), which once made
the chapter tests vanish without a failure. This fails the run instead.
"""
from pathlib import Path

import pytest

CHAPTERS = Path(__file__).parent / "chapters"


def pytest_collection_finish(session):
    if not session.config.getoption("nbmake", default=False):
        return
    expected = {p.resolve() for p in CHAPTERS.glob("*.ipynb")}
    collected = {Path(str(item.path)).resolve() for item in session.items
                 if str(item.path).endswith(".ipynb")}
    selected = session.config.getoption("keyword") or session.config.getoption("markexpr")
    if not expected and not selected:
        raise pytest.UsageError("--nbmake given but tests/chapters holds no notebooks: "
                                "run python tools/notebooks.py first")
    if not selected and collected != expected:
        missing = sorted(p.name for p in expected - collected)
        raise pytest.UsageError(f"chapter notebooks not collected by nbmake: {missing}")
