"""Reading the book's source: shared by the tangler, the notebook tools and the Sphinx extension.

``code_cells(text)`` gives the code cells of a MyST markdown notebook exactly as jupytext reads
them: it walks the tokens of ``jupytext.myst``'s markdown-it parser (the MyST plugins included)
and reads each ``{code-cell}`` with jupytext's own directive reader (``:tags: [...]`` lines or a
``---`` YAML block), so the tangler and the notebook runner cannot disagree about what a cell is
or what its source is. Each cell keeps its line numbers (for ``file:line`` errors) and the section
it stands under.

``dlbook_imports(source)`` lists every import of the ``dlbook`` package in Python source, found
on the syntax tree (``from dlbook import (nn,\\n optimizers)`` included).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import yaml
from jupytext import myst

PACKAGE = "dlbook"


class SourceError(Exception):
    """A problem in a page, reported as ``file:line: message``."""


@dataclass
class CodeCell:
    line: int        # line of the opening fence (1-based)
    body_line: int   # line of the first source line (1-based)
    options: dict
    source: str      # the code, exactly as jupytext hands it to the kernel
    section: str     # "5.4 Scheduling the learning rate › Step decay": the heading path

    @property
    def tags(self) -> list:
        tags = self.options.get("tags", [])
        return [tags] if isinstance(tags, str) else list(tags or [])


def _closes(token, lines) -> bool:
    """Whether a fence token ends with a closing fence (markdown-it runs an unclosed one to the end)."""
    last = token.map[1] - 1
    if last <= token.map[0] or last >= len(lines):
        return False
    fence = re.escape(token.markup[0]) + "{" + str(len(token.markup)) + ",}"
    return re.fullmatch(r" {0,3}" + fence + r"\s*", lines[last]) is not None


def code_cells(text: str, path: str = "<page>") -> list[CodeCell]:
    """The top-level ``{code-cell}`` cells of a MyST page, with the section path each stands under."""
    lines = text.splitlines()
    cells, headings, depth = [], {}, 0         # headings: level -> title of the current one
    tokens = myst.get_parser().parse(text + "\n")
    for k, token in enumerate(tokens):
        top = depth == 0
        depth += token.nesting
        if top and token.type == "heading_open":
            level = int(token.tag[1])
            headings = {h: t for h, t in headings.items() if h < level}
            headings[level] = tokens[k + 1].content.strip()
        if not (top and token.type == "fence"):
            continue
        if not _closes(token, lines):
            raise SourceError(f"{path}:{token.map[0] + 1}: code fence {token.markup} is never closed")
        if not token.info.startswith(myst.CODE_DIRECTIVE):
            continue
        try:
            options, body = myst.read_fenced_cell(token, len(cells), "Code")
        except (myst.MystMetadataParsingError, yaml.YAMLError) as e:
            raise SourceError(f"{path}:{token.map[0] + 2}: cell options are not valid YAML: "
                              f"{e}") from None
        if not isinstance(options, dict):
            raise SourceError(f"{path}:{token.map[0] + 2}: cell options must be a mapping "
                              f"(such as tags: [...]), got {type(options).__name__}")
        skipped = len(token.content.splitlines()) - len(body)     # option lines and a blank
        section = " › ".join(t for h, t in sorted(headings.items()) if h > 1) or headings.get(1, "")
        cells.append(CodeCell(token.map[0] + 1, token.map[0] + 2 + skipped, options,
                              "\n".join(body), section))
    return cells


# --------------------------------------------------------------------------- dlbook imports

@dataclass(frozen=True)
class DlbookImport:
    line: int                # line in the scanned source (1-based)
    module: str | None       # "nn" for dlbook.nn (also `from dlbook import nn`); None: `import dlbook`
    name: str | None         # the name taken from the module (`from dlbook.nn import Linear`)


def as_python(source: str) -> str:
    """Cell source with IPython magics and shell escapes blanked, so that it parses as Python."""
    return "\n".join("" if re.match(r"^\s*[%!]", ln) else ln for ln in source.splitlines())


def dlbook_imports(source: str) -> list[DlbookImport]:
    """Every absolute import of the dlbook package in ``source``, in source order.

    Raises SyntaxError when the source does not parse.
    """
    found = []
    for node in ast.walk(ast.parse(as_python(source))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            top, _, module = node.module.partition(".")
            if top == PACKAGE:
                found += [DlbookImport(node.lineno, module.split(".")[0], a.name) if module
                          else DlbookImport(node.lineno, a.name, None) for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                top, _, module = a.name.partition(".")
                if top == PACKAGE:
                    found.append(DlbookImport(node.lineno, module.split(".")[0] or None, None))
    return sorted(found, key=lambda i: i.line)


def imported_modules(sources) -> set[str] | None:
    """The dlbook modules (file stems; ``__init__`` for the package) that Python ``sources`` import,
    or None when one of them does not parse (then nobody can tell)."""
    modules = set()
    for source in sources:
        try:
            modules |= {i.module or "__init__" for i in dlbook_imports(source)}
        except SyntaxError:
            return None
    return modules
