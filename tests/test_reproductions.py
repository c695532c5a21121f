"""Every kind of reproduction command the catalogue prints runs, and puts the same bytes on the wire.

The checks deliver to a recording endpoint; each distinct kind of ``reproduce`` command (built event,
``--set`` overrides, ``--timestamp``, rotated secrets, ``printf``/``base64`` bodies, the raw-body
``python -c`` rebuilds) is run through ``sh`` with ``connect-harness`` and ``python`` on PATH, its
curl command is run too, and the body that arrives must be the body the check delivered.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from connect_harness.checks.run import ContractRun, DeliveryRecord, VerifyConfig
from connect_harness.delivery import UrlTarget

HARNESS = str(Path(__file__).resolve().parents[1] / "harness")
SECRET = "whsec_reproduce_me"

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl on PATH")


class Recorder:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                recorder.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def recorded() -> Iterator[tuple[Recorder, tuple[DeliveryRecord, ...]]]:
    recorder = Recorder()
    # no api_version: the raw-body rebuilds once printed api_version=null (a NameError)
    config = VerifyConfig(secret=SECRET, events=("account.updated",), seed=3)
    with ContractRun(UrlTarget(recorder.url), config) as run:
        run.run()
        records = run.records
    yield recorder, records
    recorder.server.shutdown()
    recorder.server.server_close()


def _kind(command: str) -> tuple[object, ...]:
    return (
        command.split(" | ")[0].split(" ", 1)[0] if " | " in command else "sign TYPE",
        " --set " in command,
        " --set 'data.object." in command,  # a varied example (--examples)
        " --timestamp " in command,
        command.count(" --secret "),
        " --live" in command,
        "# then:" in command,
    )


def _path_with_tools(tmp_path: Path) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, program in (
        ("connect-harness", f'exec "{sys.executable}" -m connect_harness "$@"\n'),
        ("python", f'exec "{sys.executable}" "$@"\n'),
    ):
        tool = bin_dir / name
        tool.write_text("#!/bin/sh\n" + program)
        tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


def test_every_kind_of_reproduction_delivers_the_same_bytes(
    recorded: tuple[Recorder, tuple[DeliveryRecord, ...]], tmp_path: Path
) -> None:
    recorder, records = recorded
    kinds: dict[tuple[object, ...], DeliveryRecord] = {}
    for record in records:
        kinds.setdefault(_kind(record.reproduce), record)
    starts = {kind[0] for kind in kinds}
    assert {"sign TYPE", "printf", "python"} <= starts, starts  # raw-body rebuilds included
    env = dict(os.environ, PATH=_path_with_tools(tmp_path), STRIPE_WEBHOOK_SECRET=SECRET)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [HARNESS, env.get("PYTHONPATH")]))
    for record in kinds.values():
        command = record.reproduce.split("  # then:")[0]
        curl = subprocess.run(
            ["sh", "-c", command], env=env, capture_output=True, text=True, timeout=120
        )
        assert curl.returncode == 0, (command, curl.stderr)
        assert "curl " in curl.stdout, curl.stdout
        before = len(recorder.bodies)
        sent = subprocess.run(
            ["sh", "-c", curl.stdout.strip() + " -s -o /dev/null"], env=env, capture_output=True,
            timeout=60,
        )  # fmt: skip
        assert sent.returncode == 0, (command, sent.stderr)
        assert recorder.bodies[before:] == [record.request.body], command
    rebuilds = [r.reproduce for r in records if r.reproduce.startswith("python -c")]
    assert rebuilds and not any(re.search(r"\bnull\b", r.split("|")[0]) for r in rebuilds)
    # Examples with other field values are among the kinds run above.
    assert any(" --set 'data.object." in r.reproduce for r in kinds.values())
