"""A launched endpoint (``verify --serve``): started with the fake's environment, watched, stopped; the
checks only it allows (stays-alive, never-logs-secrets) against correct and broken Python and node
endpoints."""

from __future__ import annotations

import shlex
import shutil
import sys
import time
from pathlib import Path

import pytest

from connect_harness.checks.findings import CATALOGUE, CheckResult
from connect_harness.checks.run import ContractRun, VerifyConfig
from connect_harness.cli import main
from connect_harness.delivery.process import ServedProcess, ServeSecrets
from connect_harness.errors import HarnessError, UsageError
from connect_harness.spec import contracts
from connect_harness.stripe_api.fake import FakeStripeAPI
from endpoints.serving import free_port

SECRET = "whsec_test_secret"
TESTS = Path(__file__).resolve().parent
NODE_ENDPOINT = TESTS / "node" / "serve_endpoint.js"
GUIDE_EVENTS = tuple(t for t in contracts.supported_event_types() if contracts.event_info(t).guide)


def python_command(port: int, bug: str | None = None) -> str:
    command = f"cd {shlex.quote(str(TESTS))} && PORT={port} exec {shlex.quote(sys.executable)} -m endpoints.served"
    return command + (f" --bug {bug}" if bug else "")


def node_command(port: int, bug: str | None = None) -> str:
    node = shutil.which("node")
    if node is None or not (TESTS / "node" / "node_modules" / "stripe").is_dir():
        pytest.skip("node with the stripe npm package (npm ci --prefix tests/node) is needed")
    command = f"PORT={port} exec {shlex.quote(node)} {shlex.quote(str(NODE_ENDPOINT))}"
    return command + (f" --bug {bug}" if bug else "")


def served_run(command: str, port: int) -> tuple[dict[str, CheckResult], list[str], ServedProcess]:
    url = f"http://127.0.0.1:{port}/webhook"
    with FakeStripeAPI() as fake:
        process = ServedProcess(command, url, api_base=fake.url, given=ServeSecrets.fresh(SECRET))
        with process:
            config = VerifyConfig(secret=SECRET, events=GUIDE_EVENTS, seed=21)
            with ContractRun(url, config, fake_api=fake, process=process) as run:
                results = {r.id: r for r in run.run()}
                causes = [c.text for c in run.headlines()]
        assert not process.alive
    return results, causes, process


def _not_passing(results: dict[str, CheckResult]) -> dict[str, list[str]]:
    return {
        check: [f.reason for f in result.findings if f.status != "pass"][:2]
        for check, result in results.items()
        if result.status != "pass"
    }


@pytest.mark.parametrize("language", ["python", "node"])
def test_correct_launched_endpoints_pass_every_check_with_nothing_skipped(language: str) -> None:
    port = free_port()
    command = python_command(port) if language == "python" else node_command(port)
    results, causes, _ = served_run(command, port)
    assert _not_passing(results) == {}
    assert list(results) == [spec.id for spec in CATALOGUE]
    assert causes == []


@pytest.mark.parametrize(
    ("language", "bug", "last_output"),
    [
        ("python", "exits-after-answering", "worker crashed: KeyError 'subscription'"),
        ("node", "unhandled-rejection", "Node.js v"),
    ],
)
def test_an_endpoint_that_dies_after_answering_fails_stays_alive(
    language: str, bug: str, last_output: str
) -> None:
    port = free_port()
    command = python_command(port, bug) if language == "python" else node_command(port, bug)
    results, causes, process = served_run(command, port)
    stays = results["stays-alive"]
    assert stays.status == "fail"
    finding = stays.failures()[0]
    assert "the endpoint's process exited (code" in finding.reason
    assert "after delivery accepts-valid-events#" in finding.reason
    assert last_output in finding.reason
    assert causes and causes[0].startswith("the endpoint's process exited after delivery")
    # Later deliveries got no answer: the dependent checks do not advise on them.
    advice = {
        check: [f.reason for f in r.failures()]
        for check, r in results.items()
        if r.failures() and check not in {"stays-alive", "accepts-valid-events", "no-server-errors"}
    }
    assert advice == {}
    assert process.returncode not in (None, 0)


def test_an_endpoint_that_prints_the_secret_fails_never_logs_secrets() -> None:
    port = free_port()
    results, _, process = served_run(python_command(port, "logs-secret"), port)
    assert {check for check, r in results.items() if r.status == "fail"} == {"never-logs-secrets"}
    finding = results["never-logs-secrets"].failures()[0]
    assert finding.reason.startswith("the endpoint printed the webhook signing secret")
    assert finding.actual == "signature check failed with secret <the webhook signing secret>"
    assert SECRET not in repr(results)
    assert SECRET in process.output()


def test_without_serve_the_process_checks_skip_and_say_how() -> None:
    from endpoints import flask_endpoint

    config = VerifyConfig(secret=SECRET, events=("customer.created",))
    with ContractRun(flask_endpoint.create_app(SECRET), config) as run:
        result = run.result("stays-alive")
    assert result.status == "skip"
    assert "verify --serve" in (result.skip_reason or "")


def test_a_command_that_exits_before_listening_is_a_clear_error() -> None:
    process = ServedProcess(
        "echo starting; echo boom >&2; exit 4",
        f"http://127.0.0.1:{free_port()}/webhook",
        api_base="http://127.0.0.1:1",
        given=ServeSecrets.fresh(SECRET),
    )
    with pytest.raises(HarnessError, match=r"exited with code 4 before listening .*boom"):
        process.start()


def test_stop_ends_the_whole_process_group(tmp_path: Path) -> None:
    port = free_port()
    marker = tmp_path / "child.pid"
    command = (
        f"sleep 600 & echo $! > {shlex.quote(str(marker))}; "
        f"exec {shlex.quote(sys.executable)} -m http.server {port} --bind 127.0.0.1"
    )
    process = ServedProcess(
        command, f"http://127.0.0.1:{port}/", api_base="http://x", given=ServeSecrets.fresh(SECRET)
    )
    with process:
        assert process.alive
    child = int(marker.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and Path(f"/proc/{child}").exists():
        time.sleep(0.05)
    status = Path(f"/proc/{child}/stat")
    assert not status.exists() or status.read_text().split()[2] == "Z"


def test_serve_environment_points_at_the_fake_with_fresh_made_up_keys() -> None:
    given = ServeSecrets.fresh(SECRET)
    assert given.key_test.startswith("sk_test_harness") and given.key_live.startswith("sk_live_")
    assert ServeSecrets.fresh(SECRET).key_test != given.key_test
    with pytest.raises(UsageError, match="the --serve command is empty"):
        ServedProcess("  ", "http://127.0.0.1:1/", api_base="x", given=given)


def test_verify_serve_runs_the_checks_against_the_launched_endpoint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = free_port()
    argv = [
        "verify", "--serve", python_command(port, "logs-secret"), f"http://127.0.0.1:{port}/webhook",
        "--secret", SECRET, "--events", "customer.created", "--seed", "2",
        "--check", "rejects-wrong-secret", "--check", "stays-alive", "--check", "never-logs-secrets",
    ]  # fmt: skip
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert "3 checks: 2 passed, 1 failed, 0 skipped" in out
    assert "FAIL never-logs-secrets" in out
    assert SECRET not in out + err


def test_verify_serve_with_app_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["verify", "--serve", "true", "--app", "x:y", "--secret", SECRET]
    assert main(argv) == 2
    assert "--serve starts a server and needs the URL" in capsys.readouterr().err


LINGERING_ENDPOINT = """
import http.server, os, socketserver, sys, threading, time

class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.wfile.flush()
        threading.Thread(target=dying, daemon=True).start()

    def log_message(self, *args):
        pass

def dying():
    # The listening socket closes at once; the process is reaped only half a second later.
    server.socket.close()
    print("closing down", flush=True)
    time.sleep(0.5)
    os._exit(3)

server = socketserver.TCPServer(("127.0.0.1", int(sys.argv[1])), Handler)
server.serve_forever()
"""


def test_deliveries_refused_while_the_process_is_still_dying_are_not_blamed(
    tmp_path: Path,
) -> None:
    script = tmp_path / "lingering.py"
    script.write_text(LINGERING_ENDPOINT)
    port = free_port()
    command = f"exec {shlex.quote(sys.executable)} {shlex.quote(str(script))} {port}"
    results, causes, process = served_run(command, port)
    assert process.returncode == 3
    assert results["stays-alive"].status == "fail"
    assert causes and causes[0].startswith("the endpoint's process exited after delivery")
    advice = {
        check: [f.reason for f in r.failures()]
        for check, r in results.items()
        if r.failures() and check not in {"stays-alive", "accepts-valid-events", "no-server-errors"}
    }
    assert advice == {}
