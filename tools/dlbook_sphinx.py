"""Sphinx extension of the book (loaded by ``_config.yml`` → ``sphinx.local_extensions``).

Keeps MyST-NB's execution cache honest. The cache keys a notebook on its code cells only, so a
chapter that does ``from dlbook.nn import Linear`` would keep showing outputs computed with an
older ``dlbook`` after ``src/dlbook/nn.py`` changed. On ``source-read`` we find the ``dlbook``
modules a chapter's code cells import (on the syntax tree, with the scan the tangler uses:
``tools/bookscan.py``; transitively, through the package's own imports), append a hidden
cell holding a hash of their source to the page, and record the files as dependencies of the
page: a change in any of them makes Sphinx re-read the page and the cache miss, so it re-executes.

It also removes sphinx-thebe's assets from the pages (see ``drop_thebe``) and keeps chapter
numbers for figures but not for headings (see ``keep_only_figure_numbers``).
"""
import hashlib
from pathlib import Path

from bookscan import SourceError, code_cells, imported_modules

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "src" / "dlbook"


def page_modules(text: str) -> set:
    """The dlbook modules a page's code cells import (found on the syntax tree, as the tangler
    finds them); every module when a cell cannot be read or parsed, since then nobody can tell."""
    try:
        found = imported_modules(c.source for c in code_cells(text))
    except SourceError:
        found = None
    return {p.stem for p in PKG.glob("*.py")} if found is None else found


def closure(modules: set) -> list:
    """The package files that ``modules`` need, following ``dlbook`` imports inside the package."""
    seen, todo = set(), list(modules)
    while todo:
        m = todo.pop()
        path = PKG / f"{m}.py"
        if m in seen or not path.exists():
            continue
        seen.add(m)
        found = imported_modules([path.read_text(encoding="utf-8")])
        todo += [p.stem for p in PKG.glob("*.py")] if found is None else found
    return [PKG / f"{m}.py" for m in sorted(seen)]


def stamp(app, docname, source):
    if not docname.startswith("book/") or "```{code-cell}" not in source[0]:
        return
    files = closure(page_modules(source[0]))
    if not files:
        return
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.read_bytes())
        app.env.note_dependency(str(f))
    source[0] += ("\n\n```{code-cell} ipython3\n:tags: [remove-cell]\n\n"
                  f"# dlbook source this page imports: {digest.hexdigest()[:16]} "
                  f"({', '.join(f.stem for f in files)})\n```\n")


def drop_thebe(app, pagename, templatename, context, doctree):
    """The book has no live-code buttons; sphinx-thebe (loaded by Jupyter Book 1 regardless of
    ``launch_buttons.thebe: false``) adds its script twice, which throws "Identifier
    'THEBE_JS_URL' has already been declared" on every page. Drop its files."""
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [f for f in context[key]
                            if "thebe" not in str(getattr(f, "filename", f)).lower()
                            and "thebe" not in getattr(f, "attributes", {}).get("body", "").lower()]


def keep_only_figure_numbers(app, env):
    """Number figures, equations and algorithms by chapter ("Fig. 4.2") without numbering headings.

    Sphinx prefixes figure numbers with section numbers only inside a numbered toctree (``numbered:
    true`` in ``_toc.yml``), and then also writes those numbers before every heading and toctree
    entry. Our headings carry the notes' section numbers already ("2.1 Biological neurons"), so
    once the figure numbers are assigned we drop the section numbers.
    """
    env.toc_secnumbers = {}
    for title in env.titles.values():                 # page <title> and prev/next links
        title.attributes.pop("secnumber", None)
    for toc in env.tocs.values():
        for node in toc.findall():
            if "secnumber" in getattr(node, "attributes", {}):
                del node["secnumber"]
    return []


def setup(app):
    # After Sphinx's TocTreeCollector (priority 500) assigned section and figure numbers.
    app.connect("env-get-updated", keep_only_figure_numbers, priority=900)
    app.connect("source-read", stamp)
    app.connect("html-page-context", drop_thebe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
