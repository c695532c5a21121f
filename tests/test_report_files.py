"""Report files are checked before the run, written whole or not at all, and never lost (issue 21)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from connect_harness.checks.report_files import ReportFile, ReportLost, check_distinct
from connect_harness.errors import UsageError

DEV_FULL = Path("/dev/full")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "--report is empty; give a file path"),
        ("   ", "--report is empty; give a file path"),
        ("{tmp}", "it is a folder"),
        ("{tmp}/no/such/folder/r.json", "No such file or directory; give a writable path"),
    ],
)
def test_a_bad_path_is_refused_at_once(path: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=message):
        ReportFile(path.format(tmp=tmp_path), "--report")


def test_two_flags_naming_one_file_are_refused(tmp_path: Path) -> None:
    report = ReportFile(str(tmp_path / "r.json"), "--report")
    junit = ReportFile(str(tmp_path / "." / "r.json"), "--junitxml")

    with pytest.raises(UsageError, match="--report and --junitxml both name"):
        check_distinct([report, junit])
    check_distinct([report, None, ReportFile(str(tmp_path / "j.xml"), "--junitxml")])


def test_a_failed_write_leaves_the_previous_report_and_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text('{"old": true}\n', encoding="utf-8")
    report = ReportFile(str(path), "--report")

    def dies_half_way(temporary: str) -> None:
        Path(temporary).write_text('{"new": ', encoding="utf-8")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        report.write_with(dies_half_way)

    assert path.read_text(encoding="utf-8") == '{"old": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_a_new_report_gets_ordinary_permissions(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    ReportFile(str(path), "--report").write("{}\n")

    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert path.read_text(encoding="utf-8") == "{}\n"


@pytest.mark.skipif(not DEV_FULL.exists(), reason="needs /dev/full (Linux)")
def test_a_report_that_cannot_be_written_is_saved_elsewhere() -> None:
    report = ReportFile(str(DEV_FULL), "--report")

    with pytest.raises(ReportLost) as info:
        report.write('{"summary": {}}\n')

    message = str(info.value)
    assert message.startswith("cannot write --report '/dev/full': No space left on device; ")
    saved = Path(message.rpartition("saved at ")[2].removesuffix(" instead"))
    try:
        assert json.loads(saved.read_text(encoding="utf-8")) == {"summary": {}}
        assert saved.suffix == ".json"
    finally:
        saved.unlink()
