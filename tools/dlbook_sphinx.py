"""Sphinx extension of the book (loaded by ``_config.yml`` → ``sphinx.local_extensions``).

Keeps MyST-NB's execution cache honest. The cache keys a notebook on its code cells only, so a
chapter that does ``from dlbook.nn import Linear`` would keep showing outputs computed with an
older ``dlbook`` after ``src/dlbook/nn.py`` changed. On ``source-read`` we find the ``dlbook``
modules a chapter's code cells import (on the syntax tree, with the scan the tangler uses:
``tools/bookscan.py``; transitively, through the package's own imports), append a hidden
cell holding a hash of their source to the page, and record the files as dependencies of the
page: a change in any of them makes Sphinx re-read the page and the cache miss, so it re-executes.

It also removes sphinx-thebe's assets from the pages (see ``drop_thebe``), keeps chapter
numbers for figures but not for headings (see ``keep_only_figure_numbers``), makes the pages
pass axe-core's accessibility rules (``one_search_box``, ``figure_alt_text``,
``accessible_html``) and writes the build's execution record, ``_build/execution.json`` (see
``write_execution_report``), which ``tests/test_build_report.py`` reads: the book build is the
one execution of the chapters.
"""
import hashlib
import json
import re
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


STAMP_PREFIX = "# dlbook source this page imports: "


def source_stamp(text: str):
    """``(files, line)``: the package files a page depends on and the comment line holding their
    hash (the source of the hidden cell appended to the page), or ``(files, None)`` when the page
    imports nothing from dlbook."""
    files = closure(page_modules(text))
    if not files:
        return files, None
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.read_bytes())
    return files, (f"{STAMP_PREFIX}{digest.hexdigest()[:16]} "
                   f"({', '.join(f.stem for f in files)})")


def stamp(app, docname, source):
    if not docname.startswith("book/") or "```{code-cell}" not in source[0]:
        return
    files, line = source_stamp(source[0])
    if line is None:
        return
    for f in files:
        app.env.note_dependency(str(f))
    source[0] += f"\n\n```{{code-cell}} ipython3\n:tags: [remove-cell]\n\n{line}\n```\n"


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


def one_search_box(app, config):
    """One search box. pydata-sphinx-theme >= 0.16 puts a search field in its top navbar
    (``navbar_persistent``) unless the option is set explicitly; sphinx-book-theme already has
    one at the top of the left sidebar (and a search icon in the article header on narrow
    screens), so at wide widths the page showed two. An empty ``navbar_persistent`` leaves the
    theme's navbar empty (hidden in dlbook.css)."""
    config.html_theme_options.setdefault("navbar_persistent", [])


# Accessibility fixes to the HTML the themes and extensions write (found by axe-core in
# tools/check_html.py; each is a fix, no axe rule is switched off): (tag pattern, attribute
# pattern, replacement, why). Within every tag matching the first pattern, the second is replaced
# (attribute order varies: tools/dlbook_publish.py re-serializes some pages).
ACCESSIBLE_HTML = [
    # Docutils marks each entry of a bibliography (role="list") role="doc-biblioentry", deprecated
    # in DPUB-ARIA 1.1 and not a list item (axe aria-required-children, critical).
    (r'<div\b[^>]*\bcitation\b[^>]*>', r'role="doc-biblioentry"', 'role="listitem"',
     "bibliography entries are list items"),
    # MyST-NB's folded cells: the summary reads "Show code cell source" but is labelled "Toggle
    # hidden content" (axe label-content-name-mismatch): let the visible text be the name.
    (r'<summary\b[^>]*>', r'\s+aria-label="Toggle hidden content"', "",
     "folded cell: its name is its text"),
    # pydata-sphinx-theme's search field shows "Search Ctrl+K" but is labelled "Search".
    (r'<button\b[^>]*\bsearch-button-field\b[^>]*>', r'\s+aria-label="Search"', "",
     "search field: its name is its text"),
    # The colour-mode button is labelled "Color mode" while Font Awesome turns its icons' titles
    # ("Light", "Dark", "System Settings") into text: keep the label, drop the icon titles.
    (r'<i\b[^>]*\btheme-switch\b[^>]*>', r'\s+title="[^"]*"', "", "colour-mode icons"),
    # matplotlib's JavaScript animations (dlbook.plotting.animation_html): the frame <img> has no
    # alt text (axe image-alt, critical) and the frame slider no label (axe label, critical).
    (r'<img\b[^>]*\bid="_anim_img[^>]*>', r'^<img\b(?![^>]*\balt=)',
     '<img alt="Animation: one frame; play it with the buttons below"', "animation frame"),
    (r'<input\b[^>]*\bid="_anim_slider[^>]*>', r'^<input\b(?![^>]*\baria-label=)',
     '<input aria-label="Animation frame"', "animation slider"),
    # The sidebar's expand/collapse arrow of a chapter with sections is a <summary> holding only
    # an icon (axe summary-name, serious): give it a name.
    (r'<summary>(?=<span class="toctree-toggle")', r'<summary>',
     '<summary aria-label="Show or hide the sections of this chapter">',
     "sidebar arrow has a name"),
]


def fix_html(text: str) -> str:
    for tag, attribute, replacement, _why in ACCESSIBLE_HTML:
        text = re.sub(tag, lambda m, a=attribute, r=replacement: re.sub(a, r, m.group(0)), text)
    return text


def accessible_html(app, exception):
    """Apply ``ACCESSIBLE_HTML`` to every page written (idempotent: pages kept from an earlier
    build were fixed then)."""
    if exception is not None or getattr(app.builder, "format", None) != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        fixed = fix_html(text)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


def figure_alt_text(app, doctree, docname):
    """Every image gets alt text (axe-core image-alt; Sphinx would otherwise write the file name):
    an image of a numbered figure is described by its caption; an image outside a figure (an
    uncaptioned plot of a code cell) by the heading of the section it appears in."""
    from docutils import nodes
    for image in doctree.findall(nodes.image):
        if image.get("alt"):
            continue
        parent, caption, section = image.parent, None, None
        while parent is not None and caption is None:
            if isinstance(parent, nodes.figure):
                caption = next(iter(parent.findall(nodes.caption)), None)
            if section is None and isinstance(parent, nodes.section):
                section = parent
            parent = parent.parent
        if caption is not None:
            image["alt"] = " ".join(caption.astext().split())
        else:
            title = next(iter(section.findall(nodes.title)), None) if section is not None else None
            image["alt"] = ("Plot drawn by a code cell"
                            + (f" in “{title.astext()}”" if title is not None else ""))


EXECUTION_REPORT = "execution.json"


def write_execution_report(app, exception):
    """Write ``<outdir>/../execution.json``: for every page MyST-NB executed or took from its
    cache, in this build or an earlier one kept in the environment, the execution record
    (``runtime`` in seconds, ``succeeded``, ``method``: cache/force, ``error``, ``mtime``).
    Pages without code cells have no record. Written even when the build fails."""
    env = getattr(app, "env", None)
    if env is None or getattr(app.builder, "format", None) != "html":
        return
    metadata = getattr(env, "nb_metadata", {})
    report = {doc: dict(metadata[doc]["exec_data"]) for doc in sorted(env.found_docs)
              if doc in metadata and metadata[doc].get("exec_data")}
    for record in report.values():
        record.pop("traceback", None)
    folder = Path(app.outdir).parent
    (folder / EXECUTION_REPORT).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


def setup(app):
    # After Sphinx's TocTreeCollector (priority 500) assigned section and figure numbers.
    app.connect("env-get-updated", keep_only_figure_numbers, priority=900)
    app.connect("source-read", stamp)
    app.connect("html-page-context", drop_thebe, priority=900)
    app.connect("build-finished", write_execution_report)
    app.connect("config-inited", one_search_box)
    app.connect("build-finished", accessible_html)
    app.connect("doctree-resolved", figure_alt_text)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
