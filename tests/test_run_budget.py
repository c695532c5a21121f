"""A run has a budget (issue 21): ``--max-run-time`` bounds the whole run, and answers so slow that the
run would exceed it stop it early, with one headline; what was not sent is not judged, never failed.

The endpoint here answers 200 after sleeping 1 s, a correct but slow endpoint: the runs must stop
after a few deliveries, report what they judged, and fail no check.
"""

from __future__ import annotations

import json
import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import stripe

from connect_harness.checks.budget import DEFAULT_MAX_RUN_TIME, MIN_SAMPLE, RunBudget, duration
from connect_harness.checks.run import ContractRun, VerifyConfig
from connect_harness.cli import main
from connect_harness.delivery import Response
from connect_harness.errors import UsageError
from connect_harness.settings import SETTINGS

SECRET = "whsec_budget_test_secret"
EVENTS = "customer.created,account.updated,payout.failed,invoice.paid"
#: The budget of the slow runs: room for 8 deliveries of 1 s; the pace stops them after 3.
BUDGET = "8"
#: Answers of :class:`_SlowEndpoint` take this long.
SLOW = 1.0


class _SlowEndpoint(BaseHTTPRequestHandler):
    """Answers every POST 200 after :data:`SLOW` seconds, whatever its signature (verify's probe
    and the budget only need an answer); counts the deliveries it got."""

    deliveries = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).deliveries += 1
        time.sleep(SLOW)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def do_GET(self) -> None:
        self.send_response(405)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def slow_url() -> Iterator[str]:
    _SlowEndpoint.deliveries = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowEndpoint)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/webhook"
    finally:
        server.shutdown()
        server.server_close()


# --- the budget itself, on a clock the test moves ------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _spend(budget: RunBudget, clock: _Clock, answers: list[float], remaining: int) -> str | None:
    """Make one delivery per answer time (each consulted first), then ask about the next."""
    for seconds in answers:
        assert budget.over(remaining=remaining) is None
        clock.now += seconds
        budget.record(Response(200, (), b"", seconds))
        remaining -= 1
    return budget.over(remaining=remaining)


def test_slow_answers_stop_the_run_as_soon_as_the_pace_is_known() -> None:
    clock = _Clock()
    budget = RunBudget(1800, clock=clock)

    headline = _spend(budget, clock, [11.0] * MIN_SAMPLE, remaining=1463)

    assert headline is not None
    assert headline.startswith(
        "the run stopped early, as it would exceed its time budget (--max-run-time 1800 s): "
        "3 deliveries took 33.0 s (answers took 11.0 s each, the median), and at that pace the "
        "1,460 deliveries still to make would take 4.5 h more; raise --max-run-time"
    )
    assert "run fewer checks" in headline


def test_a_healthy_pace_is_not_stopped() -> None:
    clock = _Clock()
    budget = RunBudget(1800, clock=clock)

    assert _spend(budget, clock, [0.05] * 200, remaining=1463) is None


def test_one_slow_first_answer_does_not_stop_a_healthy_run() -> None:
    # A server warming up answers its first delivery slowly; the median of the rest is the pace.
    clock = _Clock()
    budget = RunBudget(60, clock=clock)

    assert _spend(budget, clock, [20.0, 0.01, 0.01], remaining=1000) is None


def test_fewer_than_the_sample_never_project() -> None:
    clock = _Clock()
    budget = RunBudget(60, clock=clock)

    assert _spend(budget, clock, [25.0] * (MIN_SAMPLE - 1), remaining=1000) is None


def test_a_spent_budget_stops_whatever_the_pace() -> None:
    clock = _Clock()
    budget = RunBudget(10, clock=clock)

    headline = _spend(budget, clock, [0.5] * 20, remaining=1)

    assert headline is not None
    assert headline.startswith(
        "the run stopped at its time budget (--max-run-time 10 s): 20 deliveries took 10.0 s"
    )


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), True, "60"])
def test_a_bad_budget_is_a_usage_error(bad: object) -> None:
    with pytest.raises(
        UsageError, match=r"max_run_time .* must be a number of seconds more than 0"
    ):
        VerifyConfig(secret=SECRET, max_run_time=bad)  # type: ignore[arg-type]


def test_durations_read_as_a_person_reads_them() -> None:
    assert [duration(s) for s in (11.0, 720.0, 16200.0)] == ["11.0 s", "12 min", "4.5 h"]


def test_the_default_budget_is_half_an_hour_everywhere() -> None:
    assert DEFAULT_MAX_RUN_TIME == 1800.0
    assert VerifyConfig(secret=SECRET).max_run_time == DEFAULT_MAX_RUN_TIME
    spec = next(spec for spec in SETTINGS if spec.name == "max_run_time")
    assert spec.default == DEFAULT_MAX_RUN_TIME


# --- through the doors: the Python API, verify, the plugin --------------------------------------


def test_the_python_api_stops_early_and_fails_nothing(slow_url: str) -> None:
    config = VerifyConfig(
        secret=SECRET, events=tuple(EVENTS.split(",")), max_run_time=float(BUDGET), seed=3
    )
    with ContractRun(slow_url, config) as run:
        results = {r.id: r for r in run.run(["accepts-valid-events", "rejects-wrong-secret"])}
        sent = [r for r in run.records if r.response is not run.breaker.NOT_SENT]

    assert run.breaker.cause == "budget"
    assert len(sent) == MIN_SAMPLE == _SlowEndpoint.deliveries
    assert {check: r.status for check, r in results.items()} == {
        "accepts-valid-events": "skip",
        "rejects-wrong-secret": "skip",
    }
    reason = results["rejects-wrong-secret"].findings[0].reason
    assert reason == (
        "not judged: the run stopped at its time budget (--max-run-time 8 s) before this "
        "check's deliveries were all sent (see the run's headline)"
    )


def test_verify_stops_early_with_one_headline_and_exit_3(
    slow_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report, junit, html = tmp_path / "r.json", tmp_path / "j.xml", tmp_path / "r.html"

    code = main(
        ["verify", slow_url, "--secret", SECRET, "--events", EVENTS, "--seed", "3",
         "--check", "accepts-valid-events", "--check", "rejects-wrong-secret",
         "--max-run-time", BUDGET, "--report", str(report), "--junitxml", str(junit),
         "--html", str(html)]
    )  # fmt: skip

    out = capsys.readouterr().out
    assert code == 3
    assert out.count("the run stopped early, as it would exceed its time budget") == 1
    assert "(--max-run-time 8 s): 3 deliveries took" in out
    # the endpoint sleeps 1 s; a busy machine adds a little to each answer
    assert re.search(r"answers took 1\.\d s each, the median", out), out
    assert "FAIL" not in out
    assert "Not a pass: the run stopped at its time budget after 3 deliveries" in out
    assert _SlowEndpoint.deliveries == 3
    summary = json.loads(report.read_text())["summary"]
    assert summary["stopped_by"] == "budget" and summary["max_run_time"] == 8.0
    assert summary["stopped"].startswith("the run stopped early")
    assert (summary["sent"], summary["failed"], summary["skipped"]) == (3, 0, 2)
    skipped = [e.get("message", "") for e in ET.parse(junit).iter("skipped")]
    assert len(skipped) == 2 and all("time budget (--max-run-time 8 s)" in m for m in skipped)
    assert "the run stopped early" in html.read_text()


def test_verify_with_room_in_its_budget_is_not_stopped(
    slow_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["verify", slow_url, "--secret", SECRET, "--events", "customer.created",
         "--check", "accepts-valid-events", "--max-run-time", "60"]
    )  # fmt: skip

    out = capsys.readouterr().out
    assert code == 0, out
    assert "time budget" not in out


@pytest.mark.parametrize("value", ["0", "-5", "soon", "nan", "100000"])
def test_verify_refuses_a_bad_max_run_time_in_one_line(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["verify", "http://127.0.0.1:9/webhook", "--secret", SECRET, "--max-run-time", value]
    )

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("connect-harness: error: argument --max-run-time: ")
    assert err.count("\n") == 1


def test_the_plugin_stops_early_skips_what_it_did_not_send_and_does_not_pass(
    pytester: pytest.Pytester, slow_url: str
) -> None:
    assert stripe  # imported here once: pytester's inline run must not import a second copy
    result = pytester.runpytest(
        "-p", "connect_harness", "--pyargs", "connect_harness.suite",
        "--connect-url", slow_url, "--connect-secret", SECRET, "--connect-events", EVENTS,
        "--connect-seed", "3", "--connect-max-run-time", BUDGET, "-rs",
        "-k", "accepts-valid-events or rejects-wrong-secret", "--connect-report", "report.json",
    )  # fmt: skip

    text = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, text
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes["skipped"] == 2, text
    assert "connect_harness: the run stopped early, as it would exceed its time budget" in text
    assert "not judged: the run stopped at its time budget (--max-run-time 8 s)" in text
    assert _SlowEndpoint.deliveries == 3
    summary = json.loads((pytester.path / "report.json").read_text())["summary"]
    assert (summary["stopped_by"], summary["max_run_time"]) == ("budget", 8.0)
    assert summary["stopped"].startswith("the run stopped early")


def test_the_plugin_reads_the_budget_from_the_ini_file(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nconnect_max_run_time = 42\n")
    pytester.makepyfile(
        test_x="def test_x(connect_settings):\n    assert connect_settings['max_run_time'] == 42.0\n"
    )

    result = pytester.runpytest("-p", "connect_harness")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["connect_harness: *max_run_time=42.0 (ini connect_max_run_time)*"])


@pytest.mark.exhaustive  # the same logic on every Python: once, on py311
def test_under_xdist_a_workers_stop_makes_the_session_not_a_pass(
    pytester: pytest.Pytester, slow_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # when this suite runs under xdist
    result = pytester.runpytest_subprocess(
        "-p", "connect_harness", "--pyargs", "connect_harness.suite", "-n", "2",
        "--connect-url", slow_url, "--connect-secret", SECRET, "--connect-events", EVENTS,
        "--connect-seed", "3", "--connect-max-run-time", BUDGET,
        "-k", "accepts-valid-events or rejects-wrong-secret",
    )  # fmt: skip

    text = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, text
    assert result.parseoutcomes().get("failed", 0) == 0, text
    assert "connect_harness: the run stopped early, as it would exceed its time budget" in text


def test_the_robustness_page_gives_the_codes_figures() -> None:
    page = (Path(__file__).resolve().parents[1] / "docs" / "robustness.md").read_text()
    doc = " ".join(page.split())
    assert f"from its first delivery, default {DEFAULT_MAX_RUN_TIME:.0f} (30 minutes" in doc
    assert f"after {MIN_SAMPLE} answered deliveries, the pace so far" in doc
    assert "`verify` exits 3 when no check failed (1 when one did), pytest exits 1" in doc


def test_deliveries_without_an_answer_set_no_pace() -> None:
    # An endpoint that answers nothing is stopped by --stop-after, whose headline says so; the
    # budget projecting its timeouts as "answers" would hide that cause.
    clock = _Clock()
    budget = RunBudget(60, clock=clock)
    for _ in range(MIN_SAMPLE + 2):
        assert budget.over(remaining=1000) is None
        clock.now += 10.0
        budget.record(Response(0, (), b"", 10.0, "timed out"))

    assert budget.over(remaining=1000) is None
    clock.now += 20.0
    headline = budget.over(remaining=1000)
    assert headline is not None and headline.startswith(
        "the run stopped at its time budget (--max-run-time 60 s): 5 deliveries took 70.0 s;"
    )


def test_checks_judged_over_the_whole_run_count_only_the_deliveries_made(slow_url: str) -> None:
    # Before: "none of 31 deliveries got a 5xx" after a stop that sent 3 of them.
    config = VerifyConfig(
        secret=SECRET, events=tuple(EVENTS.split(",")), max_run_time=float(BUDGET), seed=3
    )
    with ContractRun(slow_url, config) as run:
        results = {r.id: r for r in run.run(["accepts-valid-events", "no-server-errors"])}

    assert run.deliveries > MIN_SAMPLE
    assert results["no-server-errors"].findings[0].reason == "none of 3 deliveries got a 5xx"
