#!/usr/bin/env python
"""Tangle the book into the ``dlbook`` package.

Reads the chapters in ``_toc.yml`` order. A code cell tagged ``export-<module>`` goes to
``src/dlbook/<module>.py``; its imports are gathered once at the top of that module, its
definitions follow in book order, each block under a one-line provenance comment naming the
chapter file and section. A later cell may extend a class exported earlier to the same module by
writing ``class Name(Name):`` — its methods are merged into the original class (a method of the
same name replaces the earlier one).

    python tools/tangle.py            # write src/dlbook
    python tools/tangle.py --check    # fail (exit 1) with a diff if src/dlbook is not what the book gives

Errors (exit 2) name the file and line: an export cell that does not parse, a missing or unknown
target module, a name exported twice, a chapter importing from ``dlbook`` what only a later chapter
(or no chapter) defines.
"""
from __future__ import annotations

import argparse
import ast
import difflib
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

PACKAGE = "dlbook"
EXPORT_TAG = re.compile(r"^export(?:-(.*))?$")
FENCE_OPEN = re.compile(r"^(`{3,}|~{3,})\s*(\{[^}]*\})?\s*(.*)$")
IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


class TangleError(Exception):
    """A problem in the book, reported as ``file:line: message``."""


# --------------------------------------------------------------------------- reading the book

@dataclass
class Cell:
    path: str          # chapter file, relative to the root
    line: int          # line of the opening fence (1-based)
    section: str       # the heading the cell stands under
    tags: list
    source: str
    body_line: int     # line of the first source line (1-based)
    index: int = 0     # position in the whole book (for "defined later" checks)


def toc_files(root: Path) -> list[Path]:
    """The book's pages in ``_toc.yml`` order (root first, then parts/chapters/sections)."""
    toc_path = root / "_toc.yml"
    if not toc_path.exists():
        raise TangleError(f"{toc_path}: not found")
    toc = yaml.safe_load(toc_path.read_text())
    files: list[str] = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("parts"))
    walk(toc.get("chapters"))
    walk(toc.get("sections"))
    paths = []
    for f in files:
        candidates = [root / f] if Path(f).suffix else [root / (f + ".md"), root / (f + ".ipynb")]
        found = [c for c in candidates if c.exists()]
        if not found:
            raise TangleError(f"{toc_path}: page {f!r} not found")
        paths.append(found[0])
    return paths


def read_cells(path: Path, rel: str) -> list[Cell]:
    """The code cells of a MyST markdown notebook, with their tags and enclosing section."""
    lines = path.read_text(encoding="utf-8").splitlines()
    cells, headings, i = [], {}, 0          # headings: level -> title of the current one
    if lines and lines[0].strip() == "---":          # front matter
        i = next((k for k in range(1, len(lines)) if lines[k].strip() == "---"), 0) + 1
    while i < len(lines):
        m = FENCE_OPEN.match(lines[i])
        if not m:
            h = re.match(r"^(#{1,6})\s+(.*)$", lines[i])
            if h:
                level = len(h.group(1))
                headings = {k: v for k, v in headings.items() if k < level}
                headings[level] = h.group(2).strip()
            i += 1
            continue
        fence, directive = m.group(1), (m.group(2) or "")
        close = re.compile("^" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        if j == len(lines):
            raise TangleError(f"{rel}:{i + 1}: code fence {fence} is never closed")
        if directive == "{code-cell}":
            # "5.4 Scheduling the learning rate › Step decay": the section path below the title
            section = " › ".join(t for k, t in sorted(headings.items()) if k > 1) \
                or headings.get(1, "")
            cells.append(parse_code_cell(lines, i, j, rel, section))
        i = j + 1
    return cells


def parse_code_cell(lines, start, end, rel, section) -> Cell:
    body = lines[start + 1:end]
    options, k = {}, 0
    if body and body[0].strip() == "---":
        k = next((n for n in range(1, len(body)) if body[n].strip() == "---"), None)
        if k is None:
            raise TangleError(f"{rel}:{start + 2}: cell options block '---' is never closed")
        options = _yaml(body[1:k], rel, start + 2) or {}
        k += 1
    else:
        opt_lines = []
        while k < len(body) and body[k].startswith(":"):
            opt_lines.append(body[k][1:].replace(":", ": ", 1))
            k += 1
        options = _yaml(opt_lines, rel, start + 2) or {}
    if k < len(body) and not body[k].strip():
        k += 1
    tags = options.get("tags", []) if isinstance(options, dict) else []
    if isinstance(tags, str):
        tags = [tags]
    return Cell(rel, start + 1, section, list(tags), "\n".join(body[k:]) + "\n", start + 2 + k)


def _yaml(lines, rel, line):
    try:
        return yaml.safe_load("\n".join(lines))
    except yaml.YAMLError as e:
        raise TangleError(f"{rel}:{line}: cell options are not valid YAML: {e}") from None


# --------------------------------------------------------------------------- the package model

@dataclass
class Block:
    """A top-level definition (or a class member) with where it comes from."""
    name: str | None
    text: str
    origin: str            # "book/ch02.md · 2.3 Perceptron learning algorithm"
    cell: Cell


@dataclass
class ClassBlock(Block):
    header: str = ""       # decorators and the ``class X(...):`` line(s)
    doc: str = ""          # the docstring (a refining ``class X(X):`` may replace it)
    members: list = field(default_factory=list)   # Blocks, in order


@dataclass
class Module:
    name: str
    docstring: str | None = None
    imports: dict = field(default_factory=dict)    # rendered import -> first Cell
    blocks: list = field(default_factory=list)
    chapters: list = field(default_factory=list)


def origin(cell: Cell) -> str:
    return f"{cell.path} · {cell.section}" if cell.section else cell.path


def where(cell: Cell, lineno: int = 1) -> str:
    return f"{cell.path}:{cell.body_line + lineno - 1}"


def segments(src_lines, nodes, stop_line):
    """Source text of each node: from its first line (decorators included) up to the next node."""
    out = []
    for k, node in enumerate(nodes):
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        last = (min([nodes[k + 1].lineno] + [d.lineno for d in getattr(nodes[k + 1], "decorator_list", [])]) - 1
                if k + 1 < len(nodes) else stop_line)
        out.append((first, "\n".join(src_lines[first - 1:last]).rstrip() + "\n"))
    return out


class Book:
    def __init__(self, root: Path):
        self.root = root
        cfg = tomllib.loads((root / "pyproject.toml").read_text())
        self.known = cfg.get("tool", {}).get("dlbook", {}).get("modules")
        if not self.known:
            raise TangleError("pyproject.toml: [tool.dlbook] modules = [...] is missing")
        self.modules: dict[str, Module] = {}
        self.defined: dict[tuple, Cell] = {}     # (module, name) -> defining cell
        self.cells: list[Cell] = []

    # ---- pass 1: collect
    def read(self):
        for path in toc_files(self.root):
            rel = path.relative_to(self.root).as_posix()
            if path.suffix != ".md":
                continue
            for cell in read_cells(path, rel):
                cell.index = len(self.cells)
                self.cells.append(cell)
        for cell in self.cells:
            module = self.target(cell)
            if module:
                self.add(module, cell)
        for cell in self.cells:
            self.check_imports(cell)
        return self

    def target(self, cell: Cell) -> str | None:
        targets = [m for m in (EXPORT_TAG.match(str(t)) for t in cell.tags) if m]
        if not targets:
            return None
        if len(targets) > 1:
            raise TangleError(f"{cell.path}:{cell.line}: a cell can be exported to one module only, "
                              f"got tags {[m.group(0) for m in targets]}")
        module = targets[0].group(1)
        if not module:
            raise TangleError(f"{cell.path}:{cell.line}: export tag names no module: "
                              f"write export-<module>, one of {', '.join(self.known)}")
        if module not in self.known or not IDENT.match(module):
            raise TangleError(f"{cell.path}:{cell.line}: unknown target module {module!r} "
                              f"(known: {', '.join(self.known)}; add new ones to [tool.dlbook] "
                              f"modules in pyproject.toml)")
        return module

    def add(self, name: str, cell: Cell):
        try:
            tree = ast.parse(cell.source)
        except SyntaxError as e:
            raise TangleError(f"{where(cell, e.lineno or 1)}: export cell does not parse: "
                              f"{e.msg}") from None
        mod = self.modules.setdefault(name, Module(name))
        if cell.path not in mod.chapters:
            mod.chapters.append(cell.path)
        src_lines = cell.source.splitlines()
        body = list(tree.body)
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            if mod.blocks or mod.docstring is not None:
                raise TangleError(f"{where(cell, body[0].lineno)}: only the first export cell of "
                                  f"dlbook.{name} may start with a (module) docstring")
            mod.docstring = body[0].value.value
            body = body[1:]
        defs = []
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                self.add_import(mod, node, cell)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                   ast.Assign, ast.AnnAssign)):
                defs.append(node)
            else:
                raise TangleError(f"{where(cell, node.lineno)}: export cells may hold only imports "
                                  f"and definitions (def, class, NAME = ...), got "
                                  f"{type(node).__name__.lower()} statement")
        for node, (first, text) in zip(defs, segments(src_lines, defs, len(src_lines))):
            self.add_definition(mod, node, text, cell, first, src_lines)

    def add_import(self, mod: Module, node, cell: Cell):
        if isinstance(node, ast.ImportFrom) and node.level:
            raise TangleError(f"{where(cell, node.lineno)}: use absolute imports "
                              f"(from {PACKAGE}.<module> import ...) in export cells")
        names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
        if any(n == f"{PACKAGE}.{mod.name}" for n in names):
            return                                         # same module: the names are right here
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                one = ast.ImportFrom(module=node.module, names=[alias], level=0)
                mod.imports.setdefault(ast.unparse(one), cell)
        else:
            for alias in node.names:
                mod.imports.setdefault(ast.unparse(ast.Import(names=[alias])), cell)

    def add_definition(self, mod: Module, node, text, cell, first, src_lines):
        names = self.names_of(node)
        ext = (isinstance(node, ast.ClassDef) and len(node.bases) == 1
               and isinstance(node.bases[0], ast.Name) and node.bases[0].id == node.name)
        if ext:
            return self.extend(mod, node, cell, src_lines)
        for n in names:
            for (m, other), c in self.defined.items():
                if other == n:
                    raise TangleError(f"{where(cell, node.lineno)}: {n!r} is exported twice: "
                                      f"already defined in dlbook.{m} at {c.path}:{c.line}")
            self.defined[(mod.name, n)] = cell
        if isinstance(node, ast.ClassDef):
            members = [m for m in node.body if not (m is node.body[0] and self.is_docstring(m))]
            stop = node.end_lineno
            head_end = (members[0].lineno if members else stop + 1)
            head_end = min([head_end] + [d.lineno for m in members for d in getattr(m, "decorator_list", [])])
            doc = node.body[0] if self.is_docstring(node.body[0]) else None
            split = doc.lineno if doc else head_end
            header = "\n".join(src_lines[first - 1:split - 1]).rstrip() + "\n"
            block = ClassBlock(node.name, text, origin(cell), cell, header=header,
                               doc="\n".join(src_lines[split - 1:head_end - 1]).rstrip() + "\n"
                               if doc else "")
            for m, (_, mtext) in zip(members, segments(src_lines, members, stop)):
                block.members.append(Block(self.member_name(m), mtext, origin(cell), cell))
            mod.blocks.append(block)
        else:
            mod.blocks.append(Block(names[0] if names else None, text, origin(cell), cell))

    def extend(self, mod: Module, node, cell, src_lines):
        target = next((b for b in mod.blocks if isinstance(b, ClassBlock) and b.name == node.name),
                      None)
        if target is None:
            elsewhere = [m for (m, n) in self.defined if n == node.name]
            hint = (f" (it lives in dlbook.{elsewhere[0]}: extend it from a cell tagged "
                    f"export-{elsewhere[0]})" if elsewhere else "")
            raise TangleError(f"{where(cell, node.lineno)}: class {node.name}({node.name}) extends "
                              f"a class that no earlier cell exports to dlbook.{mod.name}{hint}")
        members = [m for m in node.body if not (m is node.body[0] and self.is_docstring(m))]
        if self.is_docstring(node.body[0]):                # a refined class gets the new docstring
            d = node.body[0]
            target.doc = "\n".join(src_lines[d.lineno - 1:d.end_lineno]).rstrip() + "\n"
        if not members:
            raise TangleError(f"{where(cell, node.lineno)}: class {node.name}({node.name}) adds nothing")
        note = f"    # {origin(cell)}\n"
        for m, (_, mtext) in zip(members, segments(src_lines, members, node.end_lineno)):
            name = self.member_name(m)
            new = Block(name, note + mtext, origin(cell), cell)
            old = next((k for k, b in enumerate(target.members) if name and b.name == name), None)
            if old is None:
                target.members.append(new)
            else:
                target.members[old] = new

    @staticmethod
    def is_docstring(node):
        return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str))

    @staticmethod
    def names_of(node) -> list[str]:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return [node.name]
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]

    @staticmethod
    def member_name(node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return node.name
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            return node.targets[0].id
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            return node.target.id
        return None

    # ---- pass 2: imports from dlbook must refer to what an earlier cell exports
    def check_imports(self, cell: Cell):
        src = "\n".join("" if re.match(r"^\s*[%!]", ln) else ln for ln in cell.source.splitlines())
        try:
            tree = ast.parse(src)
        except SyntaxError:
            return                        # not ours to judge: the notebook run will report it
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module == PACKAGE:
                    for a in node.names:
                        self.need_module(cell, node, a.name)
                elif node.module.startswith(PACKAGE + "."):
                    module = node.module.split(".", 1)[1]
                    for a in node.names:
                        self.need_name(cell, node, module, a.name)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith(PACKAGE + "."):
                        self.need_module(cell, node, a.name.split(".", 1)[1])

    def need_module(self, cell, node, module):
        cells = [c for (m, _), c in self.defined.items() if m == module]
        if not cells:
            raise TangleError(f"{where(cell, node.lineno)}: imports dlbook.{module}, which no chapter "
                              f"exports")
        if min(c.index for c in cells) >= cell.index and self.target(cell) != module:
            first = min(cells, key=lambda c: c.index)
            raise TangleError(f"{where(cell, node.lineno)}: imports dlbook.{module}, which is first "
                              f"defined later, in {first.path}:{first.line}")

    def need_name(self, cell, node, module, name):
        if name == "*":
            raise TangleError(f"{where(cell, node.lineno)}: 'from dlbook.{module} import *' hides "
                              f"where names come from; import them by name")
        src = self.defined.get((module, name))
        if src is None:
            raise TangleError(f"{where(cell, node.lineno)}: imports {name!r} from dlbook.{module}, "
                              f"which no chapter exports there")
        if src.index > cell.index:
            raise TangleError(f"{where(cell, node.lineno)}: imports {name!r} from dlbook.{module}, "
                              f"which only a later cell defines ({src.path}:{src.line}, "
                              f"{src.section}); move the import after it or the definition earlier")

    # ---- rendering
    def render(self) -> dict[str, tuple[str, list]]:
        """File name -> (text, provenance per line) for every file of src/dlbook."""
        files = {}
        for name in sorted(self.modules, key=lambda m: self.modules[m].blocks[0].cell.index
                           if self.modules[m].blocks else 0):
            files[f"{name}.py"] = self.render_module(self.modules[name])
        init = [f'"""{PACKAGE}: the NumPy deep-learning library of the dlbook book.\n',
                "Every module is tangled from the book's chapters (see each file's header):\n"]
        for name, mod in self.modules.items():
            init.append(f"    {PACKAGE}.{name:<14} {', '.join(mod.chapters)}\n")
        init.append('"""\n')
        text = HEADER.format(chapters="the book's chapters") + "".join(init)
        files["__init__.py"] = (text, [None] * text.count("\n"))
        return files

    def render_module(self, mod: Module):
        out, prov = [], []

        def emit(text, where=None):
            for line in text.split("\n"):
                out.append(line)
                prov.append(where)

        def blank(n):
            while out and not out[-1]:
                out.pop(), prov.pop()
            emit("\n" * (n - 1)) if n else None

        emit(HEADER.format(chapters=", ".join(mod.chapters)).rstrip("\n"))
        doc = mod.docstring or f"{PACKAGE}.{mod.name}, tangled from {', '.join(mod.chapters)}."
        emit('"""' + doc.strip("\n") + '\n"""' if "\n" in doc.strip() else '"""' + doc + '"""')
        emit("")
        for group in group_imports(mod.imports):
            blank(1)
            emit("\n".join(group))
        for block in mod.blocks:
            blank(2)
            emit(f"# {block.origin}", block.cell)
            if isinstance(block, ClassBlock):
                emit(block.header.rstrip("\n"), block.cell)
                if block.doc:
                    emit(block.doc.rstrip("\n"), block.cell)
                for m in block.members:
                    emit("", m.cell)
                    emit(m.text.rstrip("\n"), m.cell)
            else:
                emit(block.text.rstrip("\n"), block.cell)
        while out and not out[-1]:
            out.pop(), prov.pop()
        return "\n".join(out) + "\n", prov


HEADER = ("# This file is generated by tools/tangle.py from {chapters}.\n"
          "# DO NOT EDIT: change the chapter, then run `python tools/tangle.py`.\n")


def group_imports(imports: dict) -> list[list[str]]:
    """isort-like: stdlib, third party, dlbook; ``from x import a, b`` merged."""
    froms: dict = {}
    plain = []
    for text in imports:
        node = ast.parse(text).body[0]
        if isinstance(node, ast.ImportFrom):
            froms.setdefault(node.module, []).append(text.split(" import ", 1)[1])
        else:
            plain.append((node.names[0].name, text))
    lines = [(m, t) for m, t in plain]
    lines += [(m, f"from {m} import {', '.join(sorted(set(ns), key=str.lower))}")
              for m, ns in froms.items()]

    def group(m):
        top = m.split(".")[0]
        return 0 if top == "__future__" else 1 if top in sys.stdlib_module_names else \
            3 if top == PACKAGE else 2
    groups: dict = {}
    for m, t in sorted(lines, key=lambda mt: (group(mt[0]), mt[1].startswith("from"), mt[0], mt[1])):
        groups.setdefault(group(m), []).append(t)
    return [groups[k] for k in sorted(groups)]


# --------------------------------------------------------------------------- writing / checking

def tangle(root: Path) -> dict[str, tuple[str, list]]:
    return Book(root).read().render()


def check(root: Path, files) -> list[str]:
    """Differences between src/dlbook and the book, each naming the chapter cell to edit."""
    pkg = root / "src" / PACKAGE
    problems = []
    present = {p.name for p in pkg.glob("*.py")} if pkg.exists() else set()
    for stray in sorted(present - set(files)):
        problems.append(f"src/{PACKAGE}/{stray}: not produced by any chapter (stray file: delete "
                        f"it, or export its code from a chapter with an export-<module> tag)")
    for name, (text, prov) in files.items():
        path = pkg / name
        if not path.exists():
            problems.append(f"src/{PACKAGE}/{name}: missing (run python tools/tangle.py)")
            continue
        have = path.read_text(encoding="utf-8").splitlines()
        want = text.splitlines()
        if have == want:
            continue
        diff = difflib.unified_diff(want, have, f"book -> src/{PACKAGE}/{name}",
                                    f"src/{PACKAGE}/{name} (on disk)", lineterm="", n=2)
        blame = []
        for tag, i1, i2, _, _ in difflib.SequenceMatcher(None, want, have, autojunk=False).get_opcodes():
            if tag == "equal":
                continue
            cells = [c for c in prov[max(i1 - 1, 0):max(i2, i1 + 1)] if c is not None]
            for c in cells[:1] or [None]:
                blame.append(f"  edit {c.path} (cell at line {c.line}, {c.section}) and re-tangle"
                             if c else "  (in the generated header/imports) re-tangle")
        problems.append(f"src/{PACKAGE}/{name} differs from what the book produces:\n"
                        + "\n".join(dict.fromkeys(blame)) + "\n" + "\n".join(diff))
    return problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                    help="project root (holds _toc.yml, pyproject.toml, src/)")
    ap.add_argument("--check", action="store_true",
                    help="do not write; exit 1 if src/dlbook differs from the book")
    args = ap.parse_args(argv)
    try:
        files = tangle(args.root)
    except TangleError as e:
        print(f"tangle: error: {e}", file=sys.stderr)
        return 2
    if args.check:
        problems = check(args.root, files)
        for p in problems:
            print(p)
        if problems:
            print(f"tangle --check: FAILED ({len(problems)} file(s) differ from the book)")
            return 1
        print(f"tangle --check: src/{PACKAGE} matches the book ({len(files)} files)")
        return 0
    pkg = args.root / "src" / PACKAGE
    pkg.mkdir(parents=True, exist_ok=True)
    for stray in {p.name for p in pkg.glob("*.py")} - set(files):
        (pkg / stray).unlink()
    changed = []
    for name, (text, _) in files.items():
        path = pkg / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(name)
    print(f"tangle: wrote src/{PACKAGE} ({len(files)} files; changed: {', '.join(changed) or 'none'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
