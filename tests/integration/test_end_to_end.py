"""As a user would: the sample app served by its own process, verified by the CLI in another."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from endpoints.serving import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_end_to_end_secret"
EVENTS = "payment_intent.succeeded,payout.failed,account.updated,account.application.deauthorized"


def wait_for_port(port: int, process: subprocess.Popen[bytes], *, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}; see server.log")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listened on port {port} within {within} s")


@pytest.fixture
def served_sample_app(tmp_path: Path) -> Iterator[tuple[str, int]]:
    app_port, fake_port = free_port(), free_port()
    env = {
        **os.environ,
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "STRIPE_SECRET_KEY_TEST": "sk_test_e2e",
        "STRIPE_SECRET_KEY_LIVE": "sk_live_e2e",
        "STRIPE_API_BASE": f"http://127.0.0.1:{fake_port}",
        "SAMPLE_APP_DB": str(tmp_path / "ledger.sqlite3"),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "sample_app", "--port", str(app_port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(app_port, process)
        yield f"http://127.0.0.1:{app_port}/webhook", fake_port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_sample_app_served_by_its_own_process_passes_verify(
    served_sample_app: tuple[str, int], tmp_path: Path
) -> None:
    url, fake_port = served_sample_app
    report = tmp_path / "report.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "connect_harness",
            "verify",
            url,
            "--secret",
            SECRET,
            "--fake-stripe-port",
            str(fake_port),
            "--events",
            EVENTS,
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(report.read_text())["summary"]
    # never-logs-secrets needs --serve (below); stays-alive judges a URL by its connections.
    assert (summary["passed"], summary["failed"], summary["skipped"]) == (22, 0, 1)
    assert SECRET not in result.stdout + result.stderr + report.read_text()


def test_sample_app_launched_by_verify_serve_passes_every_check(tmp_path: Path) -> None:
    port = free_port()
    report = tmp_path / "report.json"
    database = tmp_path / "ledger.sqlite3"
    command = (
        f"cd {shlex.quote(str(ROOT))} && SAMPLE_APP_DB={shlex.quote(str(database))} "
        f"exec {shlex.quote(sys.executable)} -m sample_app --port {port}"
    )
    result = subprocess.run(
        [
            sys.executable, "-m", "connect_harness", "verify",
            "--serve", command, f"http://127.0.0.1:{port}/webhook",
            "--secret", SECRET, "--events", EVENTS, "--report", str(report),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(report.read_text())["summary"]
    assert (summary["passed"], summary["failed"], summary["skipped"]) == (23, 0, 0)
    assert summary["headlines"] == []
    assert SECRET not in result.stdout + result.stderr + report.read_text()
