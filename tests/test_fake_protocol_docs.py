"""docs/fake-api-protocol.md says what the fake validates: its tables are checked against the code."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from connect_harness.stripe_api.search import FIELDS

DOC = Path(__file__).resolve().parents[1] / "docs" / "fake-api-protocol.md"
TEXT = DOC.read_text(encoding="utf-8")


def table(header: str) -> list[list[str]]:
    """The rows of the table whose header row starts with ``header``."""
    lines = TEXT.splitlines()
    for index, line in enumerate(lines):
        if line.replace(" ", "").startswith(header.replace(" ", "")):
            rows = []
            for row in lines[index + 2 :]:
                if not row.startswith("|"):
                    break
                rows.append([cell.strip() for cell in row.strip().strip("|").split("|")])
            return rows
    raise AssertionError(f"{DOC.name} has no table starting {header!r}")


def _expand_braces(field: str) -> list[str]:
    """``a.{b,c}.{d,e}`` -> a.b.d, a.b.e, a.c.d, a.c.e."""
    parts = re.split(r"(\{[^}]*\})", field)
    choices = [part[1:-1].split(",") if part.startswith("{") else [part] for part in parts]
    return ["".join(combo) for combo in itertools.product(*choices)]


def documented_fields() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for resource, fields in table("| resource | fields |"):
        names: set[str] = set()
        for field in re.split(r",\s*(?![^{]*\})", fields):
            names.update(_expand_braces(field.strip()))
        found[resource] = names
    return found


def test_the_documented_search_fields_are_the_fields_the_fake_takes() -> None:
    assert documented_fields() == {resource: set(fields) for resource, fields in FIELDS.items()}


@pytest.mark.parametrize("row", table("| query | message |"), ids=lambda row: row[0][:40])
def test_each_documented_search_refusal_is_tested(row: list[str]) -> None:
    tests = (Path(__file__).parent / "test_fake_protocol.py").read_text(encoding="utf-8")
    # the message's fixed start, as the test asserts it
    start = row[1].strip("`").split("<")[0].split("...")[0].rstrip(" `;")
    start = start.removeprefix("param `page`: `")
    assert start and start[:30] in tests.replace('"\n            "', "").replace(
        '"\n        "', ""
    ), start
