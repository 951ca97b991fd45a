"""Exercises and key points (issue 8; sphinx-exercise's gated directives).

Every page under "Chapters" in ``_toc.yml`` (a chapter's own page and each of its section pages)
has at least four ``{exercise}`` directives, each followed by its gated solution
(``{solution-start}`` ... ``{solution-end}``) holding a code cell that asserts the claim; the
book build executes those cells (tests/test_build_report.py checks that every page executed
without an error). The last page of every chapter ends the chapter with ``## Key points``:
5-8 bullets.
"""
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[1]
CHAPTER = re.compile(r"ch(\d\d)[a-z]?_")
EXERCISE = re.compile(r"^```\{exercise\}[^\n]*\n:label: (\S+)", re.M)
SOLUTION = re.compile(r"^```\{solution-start\} (\S+)\n(.*?)^```\{solution-end\}", re.M | re.S)
CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.M | re.S)
NOT_EXECUTED = ("skip-execution", "raises-exception", "skip-cell")
MIN_EXERCISES = 4


def chapters() -> dict:
    """``{chapter file: [its page, its section pages...]}`` for the "Chapters" part of _toc.yml."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    found = {}

    def sections(entry):
        out = []
        for sub in entry.get("sections") or []:
            if "file" in sub:
                out.append(sub["file"])
            out += sections(sub)
        return out

    for part in toc.get("parts", []):
        if part.get("caption") == "Chapters":
            for entry in part.get("chapters") or []:
                found[entry["file"]] = [entry["file"], *sections(entry)]
    return found


def pages() -> list:
    return [page for group in chapters().values() for page in group]


def read(page: str) -> str:
    return (ROOT / f"{page}.md").read_text(encoding="utf-8")


def test_every_chapter_of_the_book_is_checked():
    numbers = {int(CHAPTER.search(Path(c).name).group(1)) for c in chapters()}
    assert sorted(numbers) == list(range(1, 14))


def exercise_problems(text: str) -> list:
    """What is wrong with a page's exercises (an empty list when nothing is)."""
    problems = []
    exercises = [(m.group(1), m.start()) for m in EXERCISE.finditer(text)]
    solutions = {m.group(1): (m.start(), m.group(2)) for m in SOLUTION.finditer(text)}
    if len(exercises) < MIN_EXERCISES:
        problems.append(f"{len(exercises)} exercise(s), at least {MIN_EXERCISES} wanted")
    for label, start in exercises:
        if label not in solutions:
            problems.append(f"{label}: no gated solution ({{solution-start}} {label})")
            continue
        where, body = solutions[label]
        if where < start:
            problems.append(f"{label}: the solution comes before the exercise")
        cells = [c for c in CODE_CELL.findall(body) if not any(t in c for t in NOT_EXECUTED)]
        if not any(re.search(r"^\s*assert\b", c, flags=re.M) for c in cells):
            problems.append(f"{label}: the solution has no executed code cell with an assert")
    return problems


@pytest.mark.parametrize("page", pages())
def test_page_has_four_exercises_with_asserted_solutions(page):
    problems = exercise_problems(read(page))
    assert not problems, f"{page}.md: " + "; ".join(problems)


def key_points(text: str):
    """The bullets of the page's ``## Key points`` section, or None without one."""
    m = re.search(r"^## Key points[ \t]*\n(.*?)(?=^#|\Z)", text, flags=re.M | re.S)
    if m is None:
        return None
    return re.findall(r"^[-*+] \S", m.group(1), flags=re.M)


@pytest.mark.parametrize("chapter", sorted(chapters()))
def test_last_page_of_chapter_has_five_to_eight_key_points(chapter):
    last = chapters()[chapter][-1]
    bullets = key_points(read(last))
    assert bullets is not None, f"{last}.md (last page of {chapter}): no '## Key points' section"
    assert 5 <= len(bullets) <= 8, f"{last}.md: {len(bullets)} key points, 5-8 wanted"


def test_checks_catch_what_they_should():
    """The checks themselves: a page with too few exercises, a solution without an assert,
    a missing solution, and key points outside 5-8 are all reported."""
    good = ("```{exercise}\n:label: ex-a\n\nDo.\n```\n\n```{solution-start} ex-a\n"
            ":class: dropdown\n```\n\n```{code-cell} ipython3\nassert 1 + 1 == 2\n```\n\n"
            "```{solution-end}\n```\n")
    assert exercise_problems("\n".join(good.replace("ex-a", f"ex-{i}") for i in range(4))) == []
    assert "3 exercise(s)" in exercise_problems(
        "\n".join(good.replace("ex-a", f"ex-{i}") for i in range(3)))[0]
    no_assert = good.replace("assert 1 + 1 == 2", "print(2)")
    assert any("no executed code cell" in p for p in exercise_problems(no_assert))
    skipped = good.replace("ipython3\n", "ipython3\n:tags: [skip-execution]\n")
    assert any("no executed code cell" in p for p in exercise_problems(skipped))
    assert any("no gated solution" in p for p in exercise_problems(good.split("```{solution")[0]))
    assert len(key_points("## Key points\n\n- a\n- b\n* c\n\n## Next\n- d\n")) == 3
    assert key_points("## Exercises\n") is None
