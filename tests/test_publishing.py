"""The publishing side of the book (tools/dlbook_publish.py): API reference, downloads, figures.

The full check is the book build (``jupyter-book build . -W -n``) and tools/check_html.py; these
tests cover the pieces that can be checked without building, plus the promise that a downloaded
chapter notebook runs outside the book folder.
"""
import base64
import importlib
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import docutils.core
import docutils.parsers.rst.roles as roles
import jupytext
import nbformat
import pytest
import yaml
from docutils import nodes

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import dlbook_publish as pub  # noqa: E402

MODULES = pub.modules()


def _all(module):
    return list(importlib.import_module(f"dlbook.{module}").__all__)


# --------------------------------------------------------------------------- API reference

def test_every_module_has_an_api_page_in_the_toc():
    stubs = sorted(p.stem for p in (ROOT / "book" / "api").glob("*.rst"))
    assert stubs == MODULES, "run `python tools/dlbook_publish.py --stubs` (and delete stale stubs)"
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    assert "glob: book/api/*" in toc and "file: book/api/index" in toc


@pytest.mark.parametrize("module", MODULES)
def test_module_declares_all_and_defines_it(module):
    mod = importlib.import_module(f"dlbook.{module}")
    assert hasattr(mod, "__all__"), f"dlbook.{module} has no __all__"
    missing = [n for n in mod.__all__ if not hasattr(mod, n)]
    assert not missing, f"dlbook.{module}.__all__ names undefined {missing}"
    assert pub.public_names(module) == list(mod.__all__)


@pytest.mark.parametrize("module", MODULES)
def test_api_page_documents_every_name_in_all(module):
    page = pub.api_page(module)
    documented = set(re.findall(r"^\.\. auto(?:class|function|data|exception):: (\w+)$", page, re.M))
    reexported = set(re.findall(r"^``(\w+)``: re-exported from", page, re.M))
    assert documented | reexported == set(_all(module))
    assert not documented & reexported
    assert f".. automodule:: dlbook.{module}" in page


def test_public_names_fall_back_to_top_level_definitions(tmp_path, monkeypatch):
    pkg = tmp_path / "dlbook"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "toy.py").write_text("import os\nfrom math import pi\nX = 1\nA, B = 1, 2\n_y = 2\n\n"
                                "def f():\n    pass\n\nclass C:\n    pass\n\ndef _g():\n    pass\n")
    monkeypatch.setattr(pub, "PKG", pkg)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m == "dlbook" or m.startswith("dlbook.")]:
        monkeypatch.delitem(sys.modules, name)
    assert pub.public_names("toy") == ["X", "A", "B", "f", "C"]


def _headings(chapter: Path):
    """Every heading path of a chapter below its title (["4.1 Structure", "Parameters, ..."]),
    and the title itself (provenance of code above the first section)."""
    paths, stack, fence = [], [], None
    for line in chapter.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^(`{3,}|~{3,})", line)
        if m:
            fence = None if fence and line.startswith(fence) else (fence or m.group(1))
            continue
        h = re.match(r"^(#{1,6}) (.+)$", line)
        if h and not fence:
            level = len(h.group(1)) - 1
            stack = stack[:level] + [pub._norm(h.group(2))]
            paths.append(list(stack))
    return [p[1:] for p in paths] + paths[:1]          # below the title, or the title itself


@pytest.mark.parametrize("module", MODULES)
def test_every_public_name_links_to_an_existing_section(module):
    where = pub.provenance(module)
    toc = pub.toc_pages()
    for name in _all(module):
        obj = getattr(importlib.import_module(f"dlbook.{module}"), name)
        if pub.home_module(obj, f"dlbook.{module}") != f"dlbook.{module}":
            continue                                    # re-export: documented at its home
        assert name in where, f"dlbook.{module}.{name}: no provenance comment above it"
        chapter, path = where[name]
        assert chapter.removesuffix(".md") in toc, f"{chapter} is not in _toc.yml"
        wanted = [pub._norm(p) for p in path.split(pub.SEPARATOR.strip())]
        assert wanted in _headings(ROOT / chapter), f"{name}: no section {path!r} in {chapter}"


def test_public_bases_skip_private_classes_and_object():
    class _Base:
        pass

    class Mixin:
        pass

    class _Private(_Base, Mixin):
        pass

    class Public(_Private):
        pass

    class Plain:
        pass

    assert pub.public_bases(Public) == [Mixin] and pub.public_bases(Plain) == []
    assert "show-inheritance" not in pub.api_page("checks")      # functions only


def test_find_section_matches_sphinx_titles(monkeypatch):
    def item(title, anchor, *subs):
        li = nodes.list_item()
        para = nodes.paragraph()
        para += nodes.reference("", title, anchorname=anchor)
        li += para
        if subs:
            bl = nodes.bullet_list()
            bl.extend(subs)
            li += bl
        return li
    toc = nodes.bullet_list()
    toc += item("10 Words", "", item("10.1 Direct representations", "#direct",
                                     item("The notes’ corpus – and `its` vocabulary", "#corpus")),
                item("Exercises", "#exercises"))
    env = SimpleNamespace(tocs={"book/ch10": toc})
    assert pub.find_section(env, "book/ch10", "10.1 Direct representations › The notes' corpus "
                                              "-- and its vocabulary") == "#corpus"
    assert pub.find_section(env, "book/ch10", "10 Words") == ""
    assert pub.find_section(env, "book/ch10", "Exercises") == "#exercises"
    assert pub.find_section(env, "book/ch10", "10.2 Missing") is None


def test_provenance_reads_the_nearest_comment_of_the_same_level(tmp_path, monkeypatch):
    (tmp_path / "m.py").write_text(
        "# book/ch01_a.md · 1.1 One\nclass A:\n    def f(self):\n        pass\n\n"
        "    # book/ch02_b.md · 2.1 Two › Sub\n    def g(self):\n        pass\n\n"
        "def h():\n    pass\n\n# book/ch02_b.md · 2.2 Three\n@staticmethod\ndef k():\n    pass\n")
    monkeypatch.setattr(pub, "PKG", tmp_path)
    assert pub.provenance("m") == {"A": ("book/ch01_a.md", "1.1 One"),
                                   "A.g": ("book/ch02_b.md", "2.1 Two › Sub"),
                                   "h": ("book/ch01_a.md", "1.1 One"),
                                   "k": ("book/ch02_b.md", "2.2 Three")}


def _rst_problems(text: str) -> list:
    for role in ("class", "meth", "func", "mod", "attr", "data", "exc", "obj", "dlbook-derived"):
        roles.register_generic_role(role, nodes.literal)
    doc = docutils.core.publish_doctree(
        text, settings_overrides={"report_level": 5, "halt_level": 5, "warning_stream": False})
    return [m.astext() for m in doc.findall(nodes.system_message)
            if m["level"] >= 2]


def _docstrings():
    import inspect
    for module in MODULES:
        mod = importlib.import_module(f"dlbook.{module}")
        yield f"dlbook.{module}", inspect.getdoc(mod) or ""
        for name in mod.__all__:
            obj = getattr(mod, name)
            if callable(obj):
                yield f"dlbook.{module}.{name}", inspect.getdoc(obj) or ""
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if not attr.startswith("_") and callable(member) and member.__doc__:
                        yield f"dlbook.{module}.{name}.{attr}", inspect.getdoc(member)


def test_docstrings_read_as_restructuredtext_without_errors():
    bad = {}
    for name, doc in _docstrings():
        problems = _rst_problems("\n".join(pub.plain_to_rst(doc.splitlines())))
        if problems:
            bad[name] = problems
    assert not bad


def test_plain_to_rst_escapes_text_and_keeps_markup():
    out = pub.plain_to_rst(["max |a − b| over *inputs and **kwargs, W_ and *adds* with ``x|*y``",
                            "see :class:`Adam|x`", "Example::", "", "    |raw| *x", "", "back |y|"])
    assert out[0] == r"max \|a − b\| over \*inputs and \*\*kwargs, W\_ and *adds* with ``x|*y``"
    assert out[1] == "see :class:`Adam|x`"
    assert out[4] == "    |raw| *x" and out[6] == r"back \|y\|"
    assert pub.plain_to_rst(["a stack of *pending calls*, each", "a*b and *x y"]) == \
        ["a stack of *pending calls*, each", r"a*b and \*x y"]
    assert _rst_problems("\n".join(out)) == []
    assert _rst_problems("max |a − b| over *inputs")           # the raw text is not valid


# --------------------------------------------------------------------------- figures

def _labels_in(chapter: Path):
    return re.findall(r"^\s+name: (fig-[\w-]+)\s*$", chapter.read_text(encoding="utf-8"), re.M)


def test_figure_appendix_lists_every_numbered_figure_with_both_files():
    listing = pub.figures_list()
    chapters = [ROOT / f"{d}.md" for d in pub.toc_pages() if (ROOT / f"{d}.md").exists()]
    labels = [lab for c in chapters for lab in _labels_in(c)]
    assert labels, "no numbered figures found"
    listed = re.findall(r"^- \{numref\}`(fig-[\w-]+)`", listing, re.M)
    assert listed == labels
    for label in labels:
        assert f'href="../figures/{label}.svg"' in listing and f'href="../figures/{label}.png"' in listing
    assert pub.FIGURE_LIST_MARKER in (ROOT / "book" / "appendix_figures.md").read_text()


def test_svg_setup_cell_goes_after_the_front_matter_of_notebooks_only():
    app = SimpleNamespace(env=SimpleNamespace(note_dependency=lambda p: None))
    nb = ("---\nkernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n"
          "\n# T\n\n```{code-cell} ipython3\n1\n```\n")
    source = [nb]
    pub.source_read(app, "book/chXX", source)
    head, cell, rest = source[0].partition(pub.SETUP_CELL)
    assert head.endswith("---\n\n") and rest.startswith("\n# T") and cell
    assert jupytext.reads(source[0], fmt="md:myst").cells[0].source.endswith(
        "%config InlineBackend.figure_formats = ['png', 'svg']")
    plain = ["# A page\n\nno code\n"]
    pub.source_read(app, "book/plain", plain)
    assert plain == ["# A page\n\nno code\n"]


def test_page_shows_the_png_when_a_figure_has_both_formats():
    from myst_nb.core.render import get_mime_priority
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    overrides = [tuple(o) for o in config["sphinx"]["config"]["nb_mime_priority_overrides"]]
    order = get_mime_priority("html", overrides)
    assert order.index("image/png") < order.index("image/svg+xml")
    assert "image/svg+xml" in order                  # an SVG-only output still shows


def _figure_nb(outputs, label="fig-ch99-x"):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("plot()", metadata={"mystnb": {"figure": {"name": label}}})
    cell.outputs = outputs
    nb.cells = [cell]
    return nb


def test_write_figures_writes_png_and_svg_named_after_the_label(tmp_path, monkeypatch):
    png = base64.b64encode(b"\x89PNG fake").decode()
    out = nbformat.v4.new_output("display_data", data={"image/png": png,
                                                      "image/svg+xml": ["<svg>", "</svg>"],
                                                      "text/plain": "<Figure>"})
    folder = tmp_path / "jupyter_execute" / "book"
    folder.mkdir(parents=True)
    nbformat.write(_figure_nb([out]), folder / "chXX.ipynb")
    nbformat.write(_figure_nb([], "fig-ch98-y"), folder / "chYY.ipynb")   # not executed: skipped
    warnings = []
    monkeypatch.setattr(pub.logger, "warning", lambda *a, **k: warnings.append(a))
    env = SimpleNamespace(mystnb_config=SimpleNamespace(output_folder=str(tmp_path / "jupyter_execute")),
                          found_docs={"book/chXX", "book/chYY"})
    app = SimpleNamespace(builder=SimpleNamespace(format="html"), outdir=str(tmp_path / "html"))
    pub.write_figures(app, env)
    assert (tmp_path / "html" / "figures" / "fig-ch99-x.png").read_bytes() == b"\x89PNG fake"
    assert (tmp_path / "html" / "figures" / "fig-ch99-x.svg").read_text() == "<svg></svg>"
    assert not (tmp_path / "html" / "figures" / "fig-ch98-y.png").exists() and not warnings
    only_png = nbformat.v4.new_output("display_data", data={"image/png": png})
    nbformat.write(_figure_nb([only_png]), folder / "chXX.ipynb")
    pub.write_figures(app, env)
    assert warnings and "fig-ch99-x" in warnings[0][1]


# --------------------------------------------------------------------------- downloads

def test_download_notebook_is_offered_and_written(tmp_path):
    context = {}
    app = SimpleNamespace(builder=SimpleNamespace(format="html"), outdir=str(tmp_path))
    pub.notebook_download(app, "book/ch03_sigmoid_neurons", "page.html", context, None)
    assert context["ipynb_source"] == "book/ch03_sigmoid_neurons.ipynb"
    nb = nbformat.read(tmp_path / "_sources" / "book" / "ch03_sigmoid_neurons.ipynb", as_version=4)
    nbformat.validate(nb)
    source = jupytext.read(ROOT / "book" / "ch03_sigmoid_neurons.md")
    assert [c.source for c in nb.cells] == [c.source for c in source.cells]
    context = {}
    pub.notebook_download(app, "book/api/nn", "page.html", context, None)    # not a notebook
    assert "ipynb_source" not in context


def test_downloaded_chapter_executes_outside_the_book_folder(tmp_path, monkeypatch):
    """What a reader does: download the .ipynb, `pip install -e .`, run it anywhere."""
    from nbclient import NotebookClient
    page = ROOT / "book" / "ch03_sigmoid_neurons.md"
    target = tmp_path / "downloads" / "ch03_sigmoid_neurons.ipynb"
    target.parent.mkdir()
    target.write_text(pub.notebook_text(page), encoding="utf-8")
    assert ROOT not in target.resolve().parents
    nb = nbformat.read(target, as_version=4)
    monkeypatch.chdir(target.parent)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(target.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, stderr
    assert any("image/png" in o.get("data", {}) for o in outputs)


def test_check_html_finds_broken_code_download_and_figure_links(tmp_path):
    import check_html
    (tmp_path / "book" / "api").mkdir(parents=True)
    (tmp_path / "_sources" / "book").mkdir(parents=True)
    (tmp_path / "book" / "api" / "nn.html").write_text('<dt id="dlbook.nn.Linear">Linear</dt>')
    (tmp_path / "_sources" / "book" / "ch.md").write_text("# md")
    page = tmp_path / "book" / "ch.html"
    page.write_text(
        '<a class="sphinx-codeautolink-a" href="api/nn.html#dlbook.nn.Linear">Linear</a>'
        '<a class="sphinx-codeautolink-a" href="api/nn.html#dlbook.nn.Tanh">Tanh</a>'
        '<a href="../_sources/book/ch.md">.md</a><a href="../_sources/book/ch.ipynb">.ipynb</a>'
        '<a href="../figures/fig-ch99-x.svg">SVG</a><a href="https://example.org/x">out</a>'
        '<a class="reference internal" href="api/missing.html">not checked here</a>')
    problems = check_html.check_links(tmp_path, [page])
    assert sorted(problems[page]) == ["broken link ../_sources/book/ch.ipynb",
                                      "broken link ../figures/fig-ch99-x.svg",
                                      "broken link api/nn.html#dlbook.nn.Tanh"]


def test_codeautolink_walks_the_untitled_sections_of_sphinx_exercise(tmp_path):
    from docutils.utils import new_document
    from sphinx_codeautolink.extension.block import CodeBlockAnalyser
    pub.patch_codeautolink()
    doc = new_document(str(tmp_path / "book" / "ch.md"))
    doc["source"] = str(tmp_path / "book" / "ch.md")
    chapter = nodes.section(ids=["ch"])
    chapter += nodes.title("", "4 Chapter")
    solution = nodes.section(ids=["solution-content"])          # as sphinx-exercise builds it
    solution += nodes.literal_block("", "from dlbook.nn import Linear\nLinear(2, 3)", language="python")
    chapter += solution
    after = nodes.section(ids=["after"])
    after += nodes.title("", "Key points")
    after += nodes.literal_block("", "x = 1", language="python")
    chapter += after
    doc += chapter
    visitor = CodeBlockAnalyser(doc, source_dir=str(tmp_path), global_preface=[], custom_blocks={},
                                concat_default=True, default_highlight_lang="python",
                                warn_default_parse_fail=True)
    doc.walkabout(visitor)
    headings = [t.example.headings for t in visitor.source_transforms]
    assert headings == [["4 Chapter"], ["4 Chapter", "Key points"]]
    assert any(n.import_components[-1:] == ["Linear"] for n in visitor.source_transforms[0].names)
