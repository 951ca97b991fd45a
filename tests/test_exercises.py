"""Every chapter ends with at least four exercises, each followed by a folded solution that holds an
executed code cell asserting its claim (issue 8; sphinx-exercise's gated directives)."""
import re
from collections import defaultdict
from pathlib import Path

import pytest

BOOK = Path(__file__).parents[1] / "book"
CHAPTER = re.compile(r"ch(\d\d)[a-z]?_")
EXERCISE = re.compile(r"^```\{exercise\}[^\n]*\n:label: (\S+)", re.M)
SOLUTION = re.compile(r"^```\{solution-start\} (\S+)\n(.*?)^```\{solution-end\}", re.M | re.S)


def chapters():
    pages = defaultdict(list)
    for page in sorted(BOOK.glob("ch*.md")):
        pages[int(CHAPTER.match(page.name).group(1))].append(page)
    return pages


def test_every_chapter_of_the_book_is_checked():
    assert sorted(chapters()) == list(range(1, 14))


@pytest.mark.parametrize("number", sorted(chapters()))
def test_chapter_has_four_exercises_with_asserted_solutions(number):
    text = "\n".join(p.read_text() for p in chapters()[number])
    labels = EXERCISE.findall(text)
    solutions = dict(SOLUTION.findall(text))
    assert len(labels) >= 4, f"chapter {number}: {len(labels)} exercises"
    assert "## Key points" in text, f"chapter {number}: no Key points section"
    for label in labels:
        body = solutions.get(label)
        assert body is not None, f"{label}: no solution"
        cells = re.findall(r"^```\{code-cell\}[^\n]*\n(.*?)^```", body, flags=re.M | re.S)
        assert any(re.search(r"^\s*assert\b", c, flags=re.M) for c in cells), \
            f"{label}: the solution has no code cell with an assert"
