"""``--connect-payload snapshot|thin|both``: the shipped suite runs the catalogue the endpoint's
payload selects, as ``verify --payload`` does, and deselects the other."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import stripe  # noqa: F401  (imported once here: pytester drops modules first imported in an inline run)

from connect_harness.checks.findings import CATALOGUE
from connect_harness.checks.thin import THIN_CATALOGUE
from endpoints.serving import free_port
from endpoints.thin import TEST_SECRET


def suite(pytester: pytest.Pytester, *args: str, bug: str | None = None) -> pytest.RunResult:
    port = free_port()
    app = f"endpoints.thin:thin_app('http://127.0.0.1:{port}', bug={bug!r})"
    return pytester.runpytest(
        "-p", "connect_harness", "--pyargs", "connect_harness.suite", "--connect-app", app,
        "--connect-secret", TEST_SECRET, "--connect-fake-stripe-port", str(port),
        "--connect-seed", "5", *args,
    )  # fmt: skip


def test_payload_thin_runs_the_thin_checks_against_a_thin_destination(
    pytester: pytest.Pytester,
) -> None:
    result = suite(pytester, "--connect-payload", "thin")
    assert result.parseoutcomes() == {
        "passed": len(THIN_CATALOGUE),
        "deselected": len(CATALOGUE),
    }, result.stdout.str()
    result.stdout.fnmatch_lines(["connect_harness: *payload=thin (--connect-payload)*"])


def test_payload_thin_fails_a_destination_that_fetches_without_context(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECT_HARNESS_PAYLOAD", "thin")
    result = suite(pytester, "-k", "thin-fetches-with-context", bug="platform-context")
    result.assert_outcomes(failed=1, deselected=len(CATALOGUE) + len(THIN_CATALOGUE) - 1)
    result.stdout.fnmatch_lines(["*1 contract check(s) failed: thin-fetches-with-context*"])


@pytest.mark.parametrize(
    ("payload", "snapshot", "thin"),
    [(None, len(CATALOGUE), 0), ("both", len(CATALOGUE), len(THIN_CATALOGUE))],
)
def test_the_payload_selects_the_catalogue(
    pytester: pytest.Pytester, payload: str | None, snapshot: int, thin: int
) -> None:
    args = ["--collect-only", "-q"] + (["--connect-payload", payload] if payload else [])
    lines = suite(pytester, *args).stdout.lines
    assert sum("::test_contract[" in line for line in lines) == snapshot
    assert sum("::test_thin_contract[" in line for line in lines) == thin
    # every collected test is accounted for: the catalogue not selected is reported deselected
    left_out = len(CATALOGUE) + len(THIN_CATALOGUE) - snapshot - thin
    assert any(f"{left_out} deselected" in line for line in lines) == bool(left_out), lines[-3:]


def test_a_bad_payload_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = suite(pytester, "--connect-payload", "thick")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*payload 'thick' is not one of snapshot, thin, both*"])


def test_payload_both_runs_the_selected_checks_of_each(pytester: pytest.Pytester) -> None:
    only = "rejects-missing-signature or thin-acknowledges-unknown-types"
    result = suite(pytester, "--connect-payload", "both", "-k", only, "-v")
    result.assert_outcomes(passed=2, deselected=len(CATALOGUE) + len(THIN_CATALOGUE) - 2)
    result.stdout.fnmatch_lines(
        ["*test_contract?rejects-missing-signature? PASSED*",
         "*test_thin_contract?thin-acknowledges-unknown-types? PASSED*"]
    )  # fmt: skip


# Logs each thin notification delivered (its id, the xdist worker) to $DELIVERY_LOG, then hands it
# to the thin endpoint, which calls the fake Stripe API of the process that delivered it.
COUNTING_THIN_APP = """
import io
import json
import os

from endpoints.thin import thin_app

_app = thin_app(None)


def app(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    try:
        notification = json.loads(body).get("id")
    except ValueError:
        notification = None
    with open(os.environ["DELIVERY_LOG"], "a") as log:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        log.write(json.dumps([notification, worker]) + "\\n")
    environ["wsgi.input"] = io.BytesIO(body)
    return _app(environ, start_response)
"""


def test_n2_delivers_the_thin_checks_once_like_n0(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under -n 2 the thin tests run on both workers, and one worker delivers the notifications,
    with the ids -n 0 sends; the other reads its results."""
    pytest.importorskip("xdist")
    pytester.makepyfile(counting_thin_app=COUNTING_THIN_APP)
    tests = str(Path(__file__).resolve().parents[1])  # where the endpoints package is
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(pytester.path), tests]))
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # when this suite runs under xdist
    runs = {}
    for workers in ("0", "2"):
        log = pytester.path / f"thin-{workers}.log"
        monkeypatch.setenv("DELIVERY_LOG", str(log))
        result = pytester.runpytest_subprocess(
            "-p", "connect_harness", "--pyargs", "connect_harness.suite",
            "--connect-app", "counting_thin_app:app", "--connect-secret", TEST_SECRET,
            "--connect-seed", "5", "--connect-payload", "thin", "-n", workers, "-v",
        )  # fmt: skip
        outcomes = result.parseoutcomes()
        outcomes.pop("deselected", None)  # xdist does not count what its workers deselected
        ran_on = {
            line.split("]")[0].strip("[") for line in result.stdout.lines if "] PASSED" in line
        }
        deliveries = [json.loads(line) for line in log.read_text().splitlines()]
        runs[workers] = (outcomes, deliveries, ran_on)
    (one, one_log, _), (two, two_log, ran_on) = runs["0"], runs["2"]
    assert one == two == {"passed": len(THIN_CATALOGUE)}
    assert ran_on == {"gw0", "gw1"}  # both workers ran thin tests...
    assert len({worker for _, worker in two_log}) == 1  # ...and one delivered
    assert sorted(n for n, _ in two_log) == sorted(n for n, _ in one_log)
