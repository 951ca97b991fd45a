"""The build report: the book build is the one execution of the chapters (issue 8, "execute once").

``tools/test.sh`` builds the book (``jupyter-book build . -W -n --keep-going``, MyST-NB executing
every chapter page, a failing cell failing the build) and then runs this module, which reads what
that build executed: ``_build/execution.json`` (written by ``tools/dlbook_sphinx.py`` from
MyST-NB's execution records) and the executed notebooks in ``_build/jupyter_execute/``, the
ones the HTML pages are rendered from. For every page under "Chapters" in ``_toc.yml`` it checks
that the page executed, without an error or stderr output, in at most 90 s, and that what was
executed is the page and the ``dlbook`` source as they are now (a stale ``_build`` fails). The
table of execution times is printed at the end of the run (``tests/conftest.py``).

Without a build this module fails (it does not skip): build first with ``bash tools/book.sh``.
"""
import json
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
REPORT = BUILD / "execution.json"
EXECUTED = BUILD / "jupyter_execute"
LIMIT_SECONDS = 90.0
sys.path.insert(0, str(ROOT / "tools"))
from bookscan import code_cells  # noqa: E402
from dlbook_sphinx import STAMP_PREFIX, source_stamp  # noqa: E402

# Cells our Sphinx extensions add to every page before execution (hidden from the reader).
INJECTED = (STAMP_PREFIX, "# every figure also as SVG for figures/<label>.svg")


def chapter_pages() -> list[str]:
    """Docnames of every page under the "Chapters" caption of ``_toc.yml`` (chapters and their
    sections), in book order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    found = []

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                found.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        if part.get("caption") == "Chapters":
            walk(part.get("chapters"))
    return found


def executable_pages() -> list[str]:
    return [doc for doc in chapter_pages()
            if code_cells((ROOT / f"{doc}.md").read_text(encoding="utf-8"), f"{doc}.md")]


def load_report() -> dict:
    if not REPORT.exists():
        pytest.fail(f"{REPORT.relative_to(ROOT)} not found: build the book first "
                    "(bash tools/book.sh, or the whole test command bash tools/test.sh)")
    return json.loads(REPORT.read_text(encoding="utf-8"))


def table(report: dict, pages: list[str]) -> str:
    """The build report: one line per chapter page, its execution time and status."""
    lines = [f"{'page':<32} {'seconds':>8}  {'method':<6}  status",
             f"{'-' * 32} {'-' * 8}  {'-' * 6}  {'-' * 20}"]
    total = 0.0
    for doc in pages:
        rec = report.get(doc)
        if rec is None:
            lines.append(f"{doc:<32} {'-':>8}  {'-':<6}  NOT EXECUTED")
            continue
        runtime = rec.get("runtime")
        total += runtime or 0.0
        status = ("FAILED: " + str(rec.get("error")) if not rec.get("succeeded")
                  else f"OVER {LIMIT_SECONDS:.0f} s" if runtime is None or runtime > LIMIT_SECONDS
                  else "ok")
        seconds = "?" if runtime is None else f"{runtime:.1f}"
        lines.append(f"{doc:<32} {seconds:>8}  {rec.get('method', '?'):<6}  {status}")
    lines.append(f"{'total':<32} {total:>8.1f}")
    return "\n".join(lines)


def test_the_chapters_part_lists_pages():
    assert len(chapter_pages()) >= 13
    assert executable_pages(), "no chapter page has code cells"


@pytest.mark.parametrize("doc", executable_pages())
def test_page_executed_without_errors(doc):
    rec = load_report().get(doc)
    assert rec is not None, f"{doc}: not executed by the build"
    assert rec["succeeded"] and not rec.get("error"), f"{doc}: execution failed: {rec.get('error')}"
    nb = nbformat.read(EXECUTED / f"{doc}.ipynb", as_version=4)
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", \
                f"{doc}: code cell {i + 1} raised {out.get('ename')}: {out.get('evalue')}"
            assert not (out["output_type"] == "stream" and out.get("name") == "stderr"), \
                f"{doc}: code cell {i + 1} wrote to stderr: {out.get('text', '')[:200]!r}"


@pytest.mark.parametrize("doc", executable_pages())
def test_page_executed_within_the_time_limit(doc):
    rec = load_report().get(doc)
    assert rec is not None, f"{doc}: not executed by the build"
    assert rec["runtime"] is not None, f"{doc}: no execution time recorded"
    assert rec["runtime"] <= LIMIT_SECONDS, \
        f"{doc}: executed in {rec['runtime']:.1f} s > {LIMIT_SECONDS:.0f} s (train on a smaller subset)"


@pytest.mark.parametrize("doc", executable_pages())
def test_executed_notebook_is_the_current_page_and_package(doc):
    """What the HTML shows was computed from this page and this ``src/dlbook``: the executed
    notebook's code cells are the page's (plus the hidden cells our extensions add), and its
    hidden stamp cell holds the hash of the package source the page imports today."""
    path = EXECUTED / f"{doc}.ipynb"
    assert path.exists(), f"{path.relative_to(ROOT)} missing: the page was not executed"
    executed = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    text = (ROOT / f"{doc}.md").read_text(encoding="utf-8")
    page = [c.source for c in jupytext.read(ROOT / f"{doc}.md").cells if c.cell_type == "code"]
    assert [s for s in executed if not s.startswith(INJECTED)] == page, \
        f"{doc}: _build holds outputs of an older version of the page: rebuild the book"
    _, line = source_stamp(text)
    stamps = [s for s in executed if s.startswith(STAMP_PREFIX)]
    assert stamps == ([line] if line else []), \
        f"{doc}: executed with another version of src/dlbook: rebuild the book"
