"""docs/compatibility.md is held to what it promises: each table row is one behaviour with a verdict, every test it
names exists under tests/, and every row that says "same" names at least one.

Why renaming a cited test fails here: `defined_tests` reads every tests/**/*.py with `ast` and keeps the name of each
function or method that starts with `test_` — the names pytest collects. Rename, say,
`test_addresses_handed_out_in_listed_order` to anything else and that name is in no file any more, while the doc
still cites it in backticks: `test_every_cited_test_exists` then fails, naming the line and section of the row. The
same holds for a deleted test, or a test moved into a file outside tests/. Nothing is imported or run, so the check
does not depend on the cited test passing or even importing; and the only `test_…` names in this file are its own
tests, so no helper can stand in for a missing name.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cache

from tests.deploy.kustomize import ROOT

DOC = ROOT / "docs/compatibility.md"
TESTS = ROOT / "tests"
COLUMNS = ("behaviour", "upstream", "dnslb", "verdict", "shown by")
VERDICTS = ("same", "differs because ")
CITED = re.compile(r"`(test_\w+)`")


@dataclass(frozen=True)
class Row:
    section: str
    line: int
    cells: tuple[str, ...]

    @property
    def verdict(self) -> str:
        return self.cells[COLUMNS.index("verdict")]

    @property
    def shown_by(self) -> str:
        return self.cells[COLUMNS.index("shown by")]

    def __str__(self) -> str:
        return f"docs/compatibility.md line {self.line} ({self.section}): {self.cells[0]}"


def cells(line: str) -> tuple[str, ...]:
    """The cells of one `| a | b |` line (no cell in this doc holds a `|`; a row that did would have too many)."""
    return tuple(cell.strip() for cell in line.strip().removeprefix("|").removesuffix("|").split("|"))


@cache
def rows() -> tuple[Row, ...]:
    """The body rows of every table: after a header line and its `|---|` line, up to the first line that is not one."""
    found: list[Row] = []
    section = ""
    in_table = False
    lines = DOC.read_text().splitlines()
    for number, line in enumerate(lines, start=1):
        if line.startswith("## "):
            section = line[3:]
        if not line.startswith("|"):
            in_table = in_table and line.startswith("<!--")  # marked blocks sit inside a table
            continue
        if re.fullmatch(r"\|(\s*-+\s*\|)+", line):
            in_table = True
        elif in_table:
            found.append(Row(section, number, cells(line)))
    return tuple(found)


@cache
def defined_tests() -> frozenset[str]:
    """Every function or method named `test_…` in a Python file under tests/."""
    names = set()
    for path in TESTS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_"):
                names.add(node.name)
    return frozenset(names)


def test_every_row_is_one_behaviour_with_a_verdict() -> None:
    assert len(rows()) > 100, "the tables were not found"  # a parse that finds nothing must not pass
    sections = {row.section for row in rows()}
    assert len(sections) >= 10, sections
    for row in rows():
        assert len(row.cells) == len(COLUMNS), f"{row}: {len(row.cells)} cells, not {len(COLUMNS)}"
        assert all(row.cells), f"{row}: an empty cell"
        assert row.verdict.startswith(VERDICTS), f"{row}: verdict {row.verdict!r} is not same or differs because"


def test_every_cited_test_exists() -> None:
    cited = [(name, row) for row in rows() for name in CITED.findall(" ".join(row.cells))]
    assert len(cited) > 100
    missing = [f"{name} ({row})" for name, row in cited if name not in defined_tests()]
    assert missing == [], "cited in docs/compatibility.md, found in no file under tests/"
    # and outside the tables, the prose cites none that is gone either
    assert set(CITED.findall(DOC.read_text())) <= defined_tests()


def test_every_same_row_names_a_test() -> None:
    untested = [str(row) for row in rows() if row.verdict.startswith("same") and not CITED.search(row.shown_by)]
    assert untested == []


def test_every_difference_says_where_it_shows() -> None:
    """A "differs" row names what shows the difference: a plan line, an import note, an Event, a test, a doc."""
    silent = [str(row) for row in rows() if row.verdict.startswith("differs") and "`" not in row.shown_by]
    assert silent == []
