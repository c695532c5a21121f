"""Endpoints that call back into the fake Stripe API, judged by the whole catalogue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connect_harness.checks.run import ContractRun, VerifyConfig, run_checks
from connect_harness.cli import main
from connect_harness.spec import contracts
from connect_harness.stripe_api.routes import routes_for_version
from endpoints import refetching
from endpoints.core import TEST_SECRET
from known_sdk_issues import SDK_CRASHES

GUIDE_EVENTS = (
    "account.application.deauthorized",
    "account.external_account.updated",
    "account.updated",
    "balance.available",
    "payment_intent.succeeded",
    "payout.failed",
    "person.updated",
    "customer.created",
    "invoice.paid",
    "charge.refunded",
)


def test_an_endpoint_that_refetches_everything_passes_with_no_gaps() -> None:
    app = refetching.create_app(TEST_SECRET)
    # Every event type stripe-python can parse (it crashes on SDK_CRASHES: a bug of the SDK's).
    events = tuple(t for t in contracts.supported_event_types() if t not in SDK_CRASHES)
    with ContractRun(app, VerifyConfig(secret=TEST_SECRET, seed=5, events=events)) as run:
        results = run.run()
        calls = run.fake_api.calls
    core = app.extensions["webhook_core"]

    # The newest description has events of these objects but no v1 route that retrieves them
    # (stripe-python still has one): the fake says so and the checks excuse it as our gap.
    undescribed = {"/v1/apps/installs", "/v1/three_d_secure/authentications"}
    newest = routes_for_version(None)
    assert all(newest.match("GET", f"{path}/x_1")[0] is None for path in undescribed)
    problems = {
        result.id: [
            finding.reason
            for finding in result.findings
            if finding.status != "pass"
            and not any(f"does not serve GET {path}/" in finding.reason for path in undescribed)
        ]
        for result in results
        # No mutating calls: nothing for redelivery to repeat; and the launched-endpoint checks
        # need --serve. Its reads are put under API faults like any endpoint's work.
        if result.status != "pass"
        and result.id not in {"idempotent-redelivery", "stays-alive", "never-logs-secrets"}
    }
    assert all(reasons == [] for reasons in problems.values()), problems
    # Besides the faults survives-api-errors and retries put on its calls (answered 500, as it
    # should), only the routes the description lacks failed.
    faulted = ("RateLimitError: ", "APIError: ", "APIConnectionError: ")
    assert all(
        error.startswith(faulted)
        or (
            error.startswith("InvalidRequestError: Unrecognized request URL (GET: ")
            and any(path in error for path in undescribed)
        )
        for error in core.api_errors
    )
    assert core.fetched > 400  # every event type's object, in every permutation
    odd = [call for call in calls if call.fault is None and (call.unserved or call.status != 200)]
    assert {call.path.rsplit("/", 1)[0] for call in odd} == undescribed
    assert all(call.unserved and call.status == 404 for call in odd)
    # platform events acted as the platform by naming its own account id
    platform = run.fake_api.platform_account
    assert any(call.stripe_account_header == platform for call in calls)
    assert all(call.stripe_account != platform for call in calls)


def test_a_stripe_node_style_endpoint_fails_naming_the_unknown_parameter() -> None:
    app = refetching.create_app(TEST_SECRET, node_style=True)

    results = {
        result.id: result
        for result in run_checks(app, VerifyConfig(secret=TEST_SECRET, seed=5, events=GUIDE_EVENTS))
    }

    context = results["uses-connected-account-context"]
    assert context.status == "fail"
    assert "sent the account as the parameter stripeAccount" in context.failures()[0].reason
    accepted = results["accepts-valid-events"].failures()
    assert accepted
    assert all(
        "refused by Stripe with 400: Received unknown parameter: stripeAccount" in finding.reason
        for finding in accepted
    )


def test_calls_the_fake_cannot_serve_are_not_held_against_the_endpoint() -> None:
    app = refetching.gap_app()

    results = run_checks(
        app, VerifyConfig(secret=TEST_SECRET, seed=5, events=("customer.created",))
    )

    statuses = {result.id: result.status for result in results}
    assert "fail" not in statuses.values()
    skipped = [
        finding
        for result in results
        for finding in result.findings
        if finding.status == "skip" and "does not serve" in finding.reason
    ]
    assert skipped
    assert skipped[0].reason.startswith(
        "the fake Stripe API does not serve GET /v1/not_a_stripe_route: this answer may be our gap"
    )
    assert all(finding.reproduce is None for finding in skipped)


def test_verify_lists_the_gaps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "report.json"

    code = main(
        [
            "verify",
            "--app",
            "endpoints.refetching:gap_app()",
            "--secret",
            TEST_SECRET,
            "--events",
            "customer.created",
            "--seed",
            "3",
            "--report",
            str(report),
        ]
    )

    out = capsys.readouterr().out
    assert code == 0
    assert "The fake Stripe API does not serve these calls" in out
    assert "  GET /v1/not_a_stripe_route (" in out
    gaps = json.loads(report.read_text())["summary"]["fake_stripe_api_gaps"]
    assert gaps and gaps[0].startswith("GET /v1/not_a_stripe_route (")
