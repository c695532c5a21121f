"""Every event of every contract set, type-checked by tsc --strict against the stripe npm release
pinning that set's API version (tests/node/package.json installs one per set as an npm alias).

One tsc run per set over a generated file of its events (tests/tsc_events.py): the canonical event
of every supported type and one varied example. What tsc rejects today is recorded with its reason
in tests/node/tsc_known.json; the test fails when that list changes either way, so a new gap fails
CI and a fixed one must be struck off.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import tsc_events
from connect_harness.spec import contracts

KNOWN = json.loads((tsc_events.NODE / "tsc_known.json").read_text(encoding="utf-8"))["rejected"]


def _installed(version: str) -> bool:
    modules = tsc_events.NODE / "node_modules"
    return (modules / tsc_events.package(version) / "package.json").is_file() and (
        modules / "typescript" / "bin" / "tsc"
    ).is_file()


def test_every_set_has_its_stripe_node_release_and_a_known_list() -> None:
    manifest = json.loads((tsc_events.NODE / "package.json").read_text(encoding="utf-8"))
    for version in contracts.contract_versions():
        assert tsc_events.package(version) in manifest["dependencies"], version
        assert version in KNOWN, version


@pytest.mark.parametrize("version", contracts.contract_versions())
def test_events_type_check_against_the_sdk_of_their_version(version: str, tmp_path: Path) -> None:
    if shutil.which("node") is None or not _installed(version):
        pytest.skip("node or the stripe npm aliases are not installed (npm ci --prefix tests/node)")
    pinned = json.loads(
        (tsc_events.NODE / "node_modules" / tsc_events.package(version) / "package.json").read_text(
            encoding="utf-8"
        )
    )["version"]
    _, types = tsc_events.write_set(version, tmp_path, examples=2)
    rejected = tsc_events.rejections(tsc_events.tsc(tmp_path), types)
    assert "(tsc)" not in rejected, rejected["(tsc)"]
    new = sorted(set(rejected) - set(KNOWN[version]))
    fixed = sorted(set(KNOWN[version]) - set(rejected))
    assert new == [], f"stripe@{pinned} now rejects: " + "; ".join(
        f"{name}: {rejected[name][0][:300]}" for name in new
    )
    assert fixed == [], f"these pass tsc now: strike them off tests/node/tsc_known.json: {fixed}"


def test_the_rejection_parser_maps_lines_to_event_types() -> None:
    output = (
        "events.ts(3,5): error TS2322: Type 'string' is not assignable to type 'number'.\n"
        "  Property 'plan' is missing.\n"
        "error TS5058: The specified path does not exist.\n"
    )
    assert tsc_events.rejections(output, ["(import)", "a.created", "b.updated"]) == {
        "b.updated": [
            "Type 'string' is not assignable to type 'number'. | Property 'plan' is missing."
        ],
        "(tsc)": ["error TS5058: The specified path does not exist."],
    }
