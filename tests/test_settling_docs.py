"""The performance page quotes bench_verify's issue-20 figures by the names and goals the bench
prints (the numbers are the page's to update; their names and goals are held together here)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "explanation" / "performance.md"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bench_verify", ROOT / "bench" / "bench_verify.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _bench()


@pytest.mark.parametrize("name", sorted(BENCH.FIGURES))
def test_each_figure_the_bench_prints_is_on_the_page_with_its_goal(name: str) -> None:
    line = BENCH.figure_line(name, 1.0, "detail")
    printed_goal = re.search(r"\(goal (<= [^,]+),", line)
    assert line.startswith(f"{name}: ") and printed_goal is not None, line
    rows = [row for row in PAGE.read_text().splitlines() if f"`{name}`" in row]
    assert len(rows) == 1, f"{name} is not quoted once in {PAGE.name}"
    cells = [cell.strip() for cell in rows[0].strip("|").split("|")]
    script, _, goal, figure = cells
    assert script == "`bench/bench_verify.py`"
    assert goal == printed_goal.group(1)
    unit = BENCH.FIGURES[name][1]
    assert re.match(rf"\d+\.\d\d ?{unit}", figure), figure  # a measured value, in the goal's unit


def test_a_figure_says_whether_it_is_within_its_goal() -> None:
    assert "(goal <= 1.5x, within)" in BENCH.figure_line("verify-in-process-vs-bare-posts", 1.2, "")
    assert "(goal <= 2x, OVER)" in BENCH.figure_line("verify-url-vs-bare-posts", 2.5, "")
    assert BENCH.figure_line("verify-fixed-cost", 0.25, "d") == (
        "verify-fixed-cost: 0.25 s (goal <= 0.3 s, within); d"
    )
