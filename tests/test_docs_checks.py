"""docs/checks.md: every check in the table, the SDK spelling table as the code has it, and the
figures it gives (the behaviours themselves are tested in test_api_faults, test_failure_checks,
test_endpoint_shapes, test_grouping and test_sdk_spelling)."""

from __future__ import annotations

import re
from pathlib import Path

from connect_harness.checks import api_faults, retries
from connect_harness.checks.findings import CATALOGUE
from connect_harness.checks.sdk_spelling import HTTP, SPELLINGS
from connect_harness.checks.stopping import DEFAULT_STOP_AFTER

DOC = (Path(__file__).resolve().parents[1] / "docs" / "checks.md").read_text(encoding="utf-8")


def _rows(first_header: str) -> list[list[str]]:
    lines = DOC.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_the_table_lists_every_check_in_catalogue_order() -> None:
    assert [row[0] for row in _rows("check")] == [spec.id for spec in CATALOGUE]
    assert "runs 23 checks" in DOC and len(CATALOGUE) == 23


def test_the_sdk_table_is_the_codes_table() -> None:
    rows = {row[0]: row[1:] for row in _rows("library")}
    spellings = {spelling.library: spelling for spelling in SPELLINGS.values()}
    assert set(rows) == {*spellings, "no library seen"}
    for library, cells in rows.items():
        spelling = spellings.get(library, HTTP)
        fields = (spelling.account, spelling.idempotency, spelling.verify)
        for cell, field in zip(cells, fields, strict=True):
            for code in re.findall(r"`([^`]+)`", cell):
                for piece in (p.strip() for p in code.split("...")):
                    if piece and piece not in ("<t>.<raw body>",):
                        assert piece.rstrip(")") in field, (library, piece, field)


def test_the_figures_are_the_codes() -> None:
    assert [name for name, _ in api_faults.FAULTS] == [
        "429 rate_limit",
        "500 api_error",
        "a dropped connection",
    ]
    assert "in turn with a\n`429 rate_limit`, a `500 api_error` and a dropped connection" in DOC
    assert api_faults.SELF_RETRY_SECONDS == 5 and "succeeded within 5 s" in DOC
    assert api_faults.BASELINE_GRACE == 1 and "gets up to 1 s after the answer" in DOC
    assert retries.FAILING_ATTEMPTS == 2 and "keeps the `429` for two attempts" in DOC
    assert DEFAULT_STOP_AFTER == 5 and "`--stop-after` (default 5)" in DOC
