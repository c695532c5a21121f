"""The CI page's GitHub Actions matrix runs as written: its ``connect-harness`` steps, each shard of
the matrix and then the merge job, through ``cli.main`` in one folder (the artifacts' round trip)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from connect_harness.cli import main

PAGE = Path(__file__).resolve().parents[1] / "docs" / "how-to" / "ci.md"

# The page's `myapp:app`: a correct endpoint that signs with the page's made-up secret.
MYAPP = """
from endpoints.flask_endpoint import create_app

app = create_app("{secret}")
"""


def workflow() -> str:
    blocks = re.findall(r"```yaml\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
    return next(block for block in blocks if "matrix:" in block and "--shard" in block)


def steps(text: str) -> list[tuple[str, dict[str, str]]]:
    """Each ``- run: connect-harness ...`` step with the ``env:`` it sets."""
    found: list[tuple[str, dict[str, str]]] = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"\s*- run: (connect-harness .*)$", line)
        if not match:
            continue
        env: dict[str, str] = {}
        if index + 1 < len(lines) and lines[index + 1].strip() == "env:":
            for more in lines[index + 2 :]:
                pair = re.match(r"\s+([A-Z_]+): (\S+)$", more)
                if not pair:
                    break
                env[pair.group(1)] = pair.group(2)
        found.append((match.group(1), env))
    return found


def test_the_page_has_a_matrix_of_shards_and_a_merge_job() -> None:
    text = workflow()
    assert re.search(r"matrix:\n\s+shard: \[1, 2, 3\]", text)
    commands = [command for command, _ in steps(text)]
    assert [command.split()[1] for command in commands] == ["verify", "report"]
    assert "--shard ${{ matrix.shard }}/3" in commands[0]
    assert "needs: verify" in text and "if: always()" in text
    # the merge job reads every file the matrix uploads, by the name it uploads it under
    uploaded = re.findall(r"path: (shard-\$\{\{ matrix.shard \}\}\.json)", text)
    assert uploaded == ["shard-${{ matrix.shard }}.json"]
    merged = [f"shard-{k}.json" for k in (1, 2, 3)]
    assert all(name in commands[1].split() for name in merged)


def test_the_workflow_runs_locally_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (verify_step, env), (merge_step, _) = steps(workflow())
    secret = env["STRIPE_WEBHOOK_SECRET"]
    assert secret.startswith("whsec_")
    (tmp_path / "myapp.py").write_text(MYAPP.format(secret=secret))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    codes = []
    for shard in (1, 2, 3):
        command = verify_step.replace("${{ matrix.shard }}", str(shard))
        command = command.replace("${{ github.run_number }}", "17")
        assert "${{" not in command
        codes.append(main(shlex.split(command)[1:]))
    assert codes == [0, 0, 0], capsys.readouterr().out[-3000:]
    capsys.readouterr()
    assert main(shlex.split(merge_step)[1:]) == 0
    out, err = capsys.readouterr()
    assert "23 checks: 21 passed, 0 failed, 2 skipped" in out  # --serve's two are not judged
    report = json.loads((tmp_path / "connect-report.json").read_text())
    shards = [json.loads((tmp_path / f"shard-{k}.json").read_text()) for k in (1, 2, 3)]
    assert report["summary"]["deliveries"] == sum(s["summary"]["deliveries"] for s in shards)
    assert report["summary"]["seed"] == 17 and "shard" not in report
    assert 'tests="23"' in (tmp_path / "junit.xml").read_text()
    assert (tmp_path / "connect-report.html").stat().st_size > 0
    assert "3 shards" in err
