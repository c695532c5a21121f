"""A dead endpoint never passes, an interrupt is the user's, a handled 403 is not a failure.

Each behaviour is shown failing against an endpoint with exactly that bug and passing against a
correct one: a server that dies mid-run (connection refused from then on) at a URL, through the CLI
as a user runs it; a run the user interrupts; endpoints that call Stripe for a late event of a
disconnected account and handle (or do not handle) Stripe's 403.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from connect_harness.checks.run import ContractRun, VerifyConfig
from connect_harness.cli import main
from endpoints import flask_endpoint, starlette_endpoint
from endpoints.core import TEST_SECRET
from test_checks import quiet_app

SECRET = TEST_SECRET
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _DyingServer:
    """``quiet_app`` over real HTTP that closes its listening socket after ``answers`` answers,
    as a server whose process died: every later connection is refused."""

    def __init__(self, answers: int) -> None:
        self.answered = 0
        self._answers = answers
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/webhook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._app_inner = quiet_app(SECRET)

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        answer = list(self._app_inner(environ, start_response))
        self.answered += 1
        if self.answered == self._answers:
            threading.Thread(target=self._die, daemon=True).start()
        return answer

    def _die(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> _DyingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.answered < self._answers:
            self._die()
        self._thread.join(timeout=10)


@pytest.fixture
def dying() -> Iterator[Callable[[int], _DyingServer]]:
    servers: list[_DyingServer] = []

    def start(answers: int) -> _DyingServer:
        server = _DyingServer(answers).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def test_a_server_that_dies_mid_run_fails_stays_alive_and_is_the_headline(
    dying: Callable[[int], _DyingServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = dying(5)  # the reachability probe is no request: five deliveries answered
    code = main(
        ["verify", server.url, "--secret", SECRET, "--events", "customer.created", "--seed", "1"]
    )
    out = capsys.readouterr().out
    assert code == 1
    lines = out.splitlines()
    root = [line for line in lines if line.startswith("ROOT CAUSE:")]
    assert root and root[0].startswith(
        "ROOT CAUSE: the endpoint stopped answering after delivery accepts-valid-events#"
    ), out
    assert "stays-alive" in out
    stays = [line for line in lines if "stays-alive" in line]
    assert any("FAIL" in line for line in stays), stays
    # The run stopped early: the breaker's five refused deliveries, then nothing sent.
    assert "5 deliveries in a row got no answer" in out


def test_a_server_that_stays_up_passes_stays_alive_at_a_url() -> None:
    with _DyingServer(10**9) as server:
        config = VerifyConfig(secret=SECRET, events=("customer.created",), seed=1)
        with ContractRun(server.url, config) as run:
            result = run.result("stays-alive")
            run.result("accepts-valid-events")
            again = run.silent_after()
    assert result.status == "pass"
    assert "answered until the end" in result.findings[0].reason
    assert again is None


def test_a_dead_server_is_judged_through_the_python_api() -> None:
    with _DyingServer(3) as server:
        config = VerifyConfig(secret=SECRET, events=("customer.created",), seed=1)
        with ContractRun(server.url, config) as run:
            results = {r.id: r for r in run.run()}
            causes = run.headlines()
    stays = results["stays-alive"]
    assert stays.status == "fail"
    (finding,) = stays.failures()
    assert finding.reason.startswith("the endpoint stopped answering after delivery ")
    assert "connection refused" in finding.reason
    assert [c.cause for c in causes] == ["stopped-answering"]
    # No check gives its own advice about deliveries that were refused or never sent.
    blamed = {
        r.id
        for r in results.values()
        if r.failures() and r.id not in {"stays-alive", "accepts-valid-events", "no-server-errors"}
    }
    assert blamed == set()


def test_an_interrupted_check_is_reported_interrupted_not_failed() -> None:
    """Ctrl-C while survives-api-errors is delivering: its deliveries are not sent, and it is
    reported interrupted instead of 'the endpoint stopped answering'."""
    app = flask_endpoint.create_app(SECRET)
    core = app.extensions["webhook_core"]
    handle = core.handle
    config = VerifyConfig(secret=SECRET, events=("customer.created",), seed=1)
    with ContractRun(app, config) as run:

        def interrupting(body: bytes, signature: str | None) -> tuple[int, dict[str, Any]]:
            answer = handle(body, signature)
            if b'"payment_intent.succeeded"' in body:
                run.breaker.interrupt()  # what verify's SIGINT handler calls
            return answer

        core.handle = interrupting  # type: ignore[method-assign]
        results = {r.id: r for r in run.run(["survives-api-errors", "no-server-errors"])}
    result = results["survives-api-errors"]
    assert result.status == "skip"
    assert result.findings[0].reason.startswith(
        "interrupted by the user (Ctrl-C) while this check was delivering (interrupted after"
    )
    assert results["no-server-errors"].status != "fail"


FRAMEWORKS = {"flask": flask_endpoint.create_app, "starlette": starlette_endpoint.create_app}


def _deauthorization(app: Any) -> Any:
    config = VerifyConfig(secret=SECRET, events=("customer.created",), seed=7)
    with ContractRun(app, config) as run:
        return run.result("after-deauthorization")


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_an_endpoint_that_handles_the_403_of_a_disconnected_account_passes(
    framework: str,
) -> None:
    app: Any = FRAMEWORKS[framework](SECRET)
    core = app.extensions["webhook_core"] if framework == "flask" else app.state.webhook_core
    core.handles_403 = True  # keeps no list of disconnected accounts: calls, gets 403, logs it
    result = _deauthorization(app)
    assert result.status == "pass", [f.reason for f in result.failures()]
    assert "got Stripe's 403 and the endpoint handled it" in result.findings[0].reason
    assert any("PermissionError" in error for error in core.api_errors)


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_an_endpoint_whose_403_escapes_fails_after_deauthorization(framework: str) -> None:
    result = _deauthorization(FRAMEWORKS[framework](SECRET, bug="crashes-on-deauthorized-403"))
    assert result.status == "fail"
    reasons = [f.reason for f in result.failures()]
    assert any(
        "payment_intent.succeeded for an account that had deauthorized the platform got 500" in r
        for r in reasons
    ), reasons


def test_an_express_server_that_dies_without_serve_fails_stays_alive() -> None:
    """Launched by the test, judged as any URL (no ``process=``): the run sees only its refused
    connections."""
    from connect_harness.delivery.process import ServedProcess, ServeSecrets
    from connect_harness.stripe_api.fake import FakeStripeAPI
    from endpoints.serving import free_port
    from test_endpoint_shapes import express_command

    port = free_port()
    url = f"http://127.0.0.1:{port}/webhook"
    config = VerifyConfig(secret=SECRET, events=("customer.created",), seed=1)
    with FakeStripeAPI() as fake:
        command = express_command(port, {"bug": "exits-after-answering"})
        process = ServedProcess(command, url, api_base=fake.url, given=ServeSecrets.fresh(SECRET))
        with process, ContractRun(url, config, fake_api=fake) as run:
            results = {r.id: r for r in run.run()}
            causes = [c.cause for c in run.headlines()]
    (finding,) = results["stays-alive"].failures()
    assert finding.reason.startswith("the endpoint stopped answering after delivery ")
    assert causes == ["stopped-answering"]
    assert run.breaker.stopped is not None  # the run stopped sending instead of blaming each check


def test_ctrl_c_during_verify_reports_the_check_interrupted_not_failed(tmp_path: Any) -> None:
    """The user's Ctrl-C while accepts-valid-events delivers: verify exits 130 and its partial
    report marks that check skipped as interrupted; no check fails for what was not sent."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    verify = quiet_app(SECRET)
    answered = threading.Event()
    count = [0]

    def slow(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        time.sleep(0.1)
        count[0] += 1
        if count[0] >= 3:
            answered.set()
        return verify(environ, start_response)

    server = make_server("127.0.0.1", 0, slow, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    report = Path(tmp_path) / "partial.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(Path(__file__).resolve().parents[1] / "harness"), env.get("PYTHONPATH")])
    )
    url = f"http://127.0.0.1:{server.server_port}/webhook"
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "connect_harness", "verify", url, "--secret", SECRET,
             "--seed", "1", "--report", str(report)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert answered.wait(timeout=60)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        server.shutdown()
        thread.join(timeout=10)
    assert process.returncode == 130, err
    checks = {check["id"]: check for check in json.loads(report.read_text())["checks"]}
    accepts = checks["accepts-valid-events"]
    assert accepts["status"] == "skip"
    assert accepts["findings"][0]["reason"].startswith(
        "interrupted by the user (Ctrl-C) while this check was delivering"
    )
    assert [c for c, check in checks.items() if check["status"] == "fail"] == []
