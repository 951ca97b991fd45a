#!/usr/bin/env python
"""Convert the book's MyST chapters to .ipynb (jupytext) so pytest's nbmake can execute them.

    python tools/notebooks.py [OUT_DIR]      # default: tests/chapters

nbmake collects only ``.ipynb`` files; the chapters are MyST markdown, so the test command
converts them first (into tests/chapters: nbmake refuses any path containing "_build").
Pages without code cells are skipped. Stale notebooks are removed.
"""
import sys
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from bookscan import code_cells  # noqa: E402
from tangle import toc_files  # noqa: E402


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else ROOT / "tests" / "chapters"
    out.mkdir(parents=True, exist_ok=True)
    written = set()
    for page in toc_files(ROOT):
        if page.suffix != ".md" or not code_cells(page.read_text(encoding="utf-8"), str(page)):
            continue
        nb = jupytext.read(page)
        target = out / f"{page.stem}.ipynb"
        jupytext.write(nb, target)
        written.add(target.name)
    for old in out.glob("*.ipynb"):
        if old.name not in written:
            old.unlink()
    print(f"notebooks: {len(written)} chapter(s) -> {out}")


if __name__ == "__main__":
    main()
