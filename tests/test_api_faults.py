"""API faults for every endpoint that calls Stripe, reads included: survives-api-errors and retries
judge an endpoint that only retrieves the event's object and writes its own store as they judge one
that mutates, by what can be observed (its answers, and which of its calls succeeded)."""

from __future__ import annotations

from typing import Any

import pytest

from connect_harness.checks.findings import CheckResult
from connect_harness.checks.run import ContractRun, VerifyConfig
from endpoints import flask_endpoint, starlette_endpoint
from endpoints.core import TEST_SECRET

pytestmark = pytest.mark.exhaustive

SECRET = TEST_SECRET
CHECKS = ["survives-api-errors", "retries"]


def _results(app: object) -> dict[str, CheckResult]:
    config = VerifyConfig(secret=SECRET, events=("customer.created",), seed=6)
    with ContractRun(app, config) as run:
        return {result.id: result for result in run.run(only=CHECKS)}


def _reader(framework: str, **core: Any) -> object:
    """An endpoint that only reads (retrieves data.object) and writes its own store."""
    create = flask_endpoint.create_app if framework == "flask" else starlette_endpoint.create_app
    app: Any = create(SECRET, **{k: v for k, v in core.items() if k in ("bug", "defer")})
    webhook = app.extensions["webhook_core"] if framework == "flask" else app.state.webhook_core
    webhook.reads_only = True
    for name, value in core.items():
        if name not in ("bug", "defer"):
            setattr(webhook, name, value)
    return app


@pytest.mark.parametrize("framework", ["flask", "starlette"])
def test_a_read_only_endpoint_is_put_under_api_faults_and_passes(framework: str) -> None:
    app = _reader(framework)
    results = _results(app)
    assert {check: r.status for check, r in results.items()} == dict.fromkeys(CHECKS, "pass")
    reasons = [f.reason for f in results["survives-api-errors"].findings]
    assert len(reasons) == 3 and all("read again once it answered" in r for r in reasons)
    assert "its read succeeded" in results["retries"].findings[0].reason


def test_an_answer_first_reader_that_retries_in_its_job_passes() -> None:
    results = _results(_reader("flask", defer=0.0))
    assert {check: r.status for check, r in results.items()} == dict.fromkeys(CHECKS, "pass")


def test_a_reader_that_acknowledges_failed_reads_is_told_what_was_seen() -> None:
    results = _results(_reader("flask", bug="swallows-api-errors"))
    result = results["survives-api-errors"]
    assert result.status == "fail"
    reasons = [f.reason for f in result.failures()]
    assert len(reasons) == 3
    assert all(
        "acknowledged (200) while its Stripe calls failed" in r
        and "never made them again" in r
        and "the event's work may be lost" in r
        and "GET /v1/payment_intents/pi_" in r
        for r in reasons
    ), reasons


def test_a_job_that_gives_up_on_a_failed_read_fails() -> None:
    results = _results(_reader("flask", defer=0.0, job_attempts=1))
    assert results["survives-api-errors"].status == "fail"
    assert "never made them again" in results["survives-api-errors"].failures()[0].reason
