"""The retries check: Stripe's retries of a failed delivery, time compressed, end in one 2xx and the
work done once; the finding says what Stripe does with an endpoint that keeps failing."""

from __future__ import annotations

import json
import threading

import pytest
from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

from connect_harness.checks.findings import CheckResult
from connect_harness.checks.responses import under_api_fault
from connect_harness.checks.retries import FAILING_ATTEMPTS, RETRY_DELAYS
from connect_harness.checks.run import ContractRun, VerifyConfig
from endpoints import flask_endpoint, starlette_endpoint
from endpoints.core import TEST_SECRET, WebhookCore

SECRET = TEST_SECRET


def _retries(app: object) -> tuple[CheckResult, list[str]]:
    config = VerifyConfig(secret=SECRET, events=("customer.created",), seed=6)
    with ContractRun(app, config) as run:
        (result,) = run.run(only=["retries"])
        records = [r for r in run.records if r.check == "retries"]
    # no-server-errors does not count a 500 answered while the API failed on purpose.
    assert [under_api_fault(r) for r in records] == [
        (r.variant or "").startswith("during ") for r in records
    ]
    return result, [r.variant or "" for r in records]


def test_a_correct_endpoint_recovers_on_the_retry_after_the_outage() -> None:
    result, variants = _retries(flask_endpoint.create_app(SECRET))
    assert result.status == "pass"
    (finding,) = result.findings
    assert "attempts got 500, 500, 200" in finding.reason
    assert "the work done exactly once" in finding.reason
    assert "for up to 3 days in live mode" in finding.reason
    assert "disable the endpoint" in finding.reason
    assert variants == [
        "no-fault",
        "during 429 rate_limit: attempt 1",
        "during 429 rate_limit: attempt 2",
        "retry 2",
    ]
    assert FAILING_ATTEMPTS == 2 and len(RETRY_DELAYS) == 3


def test_a_starlette_endpoint_that_dedupes_failed_attempts_loses_the_event() -> None:
    result, _ = _retries(starlette_endpoint.create_app(SECRET, bug="dedupes-failed-attempts"))
    assert result.status == "fail"
    (finding,) = result.failures()
    assert "the event is lost" in finding.reason
    assert finding.reproduce is not None and "payment_intent.succeeded" in finding.reproduce


def _event_id(body: bytes) -> str:
    try:
        return str(json.loads(body).get("id"))
    except (ValueError, AttributeError):
        return ""


def _refusing_retries_app(*, reads_only: bool = False) -> Flask:
    """Correct until its work fails once; from then on it errs on its own stored state (it stored
    the event before the work, and storing it again violates a unique constraint). ``reads_only``:
    its work is a read of the event's object, written to its own store."""
    core = WebhookCore(SECRET, reads_only=reads_only)
    stored: set[str] = set()
    lock = threading.Lock()
    app = Flask("endpoint_refusing_retries")

    def receive() -> ResponseReturnValue:
        body = request.get_data()
        event_id = _event_id(body)
        with lock:
            if event_id in stored:
                return jsonify({"error": "UNIQUE constraint failed: events.id"}), 500
        status, answer = core.handle(body, request.headers.get("Stripe-Signature"))
        if status >= 500:
            with lock:
                stored.add(event_id)
        return jsonify(answer), status

    app.add_url_rule("/webhook", "webhook", receive, methods=["POST"])

    @app.errorhandler(Exception)
    def failed(error: Exception) -> ResponseReturnValue:
        with lock:
            stored.add(_event_id(request.get_data()))
        return jsonify({"error": str(error)}), 500

    return app


@pytest.mark.parametrize("reads_only", [False, True])
def test_an_endpoint_that_keeps_refusing_the_retries_is_told_what_stripe_does(
    reads_only: bool,
) -> None:
    result, variants = _retries(_refusing_retries_app(reads_only=reads_only))
    assert result.status == "fail"
    (finding,) = result.failures()
    assert "the 4 attempts got 500, 500, 500, 500" in finding.reason
    assert "unlike a fresh delivery" in finding.reason
    assert "email you" in finding.reason and "disable the endpoint" in finding.reason
    assert variants[-1] == "retry 3"
    assert finding.expected == "2xx once the API answers again"
