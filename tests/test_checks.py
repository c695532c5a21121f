"""ContractRun: configuration, lazy cached checks, fresh signatures, distinct events per check, skips."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import stripe

from connect_harness.checks.common import DISCONNECTED_ACCOUNT
from connect_harness.checks.findings import CATALOGUE
from connect_harness.checks.report import to_json
from connect_harness.checks.run import ContractRun, VerifyConfig, run_checks
from connect_harness.errors import UsageError
from connect_harness.events.build import DEFAULT_CONNECTED_ACCOUNT
from connect_harness.wire.signing import parse_signature_header
from endpoints import flask_endpoint

SECRET = "whsec_test_secret"
EVENTS = ("payment_intent.succeeded", "account.updated", "customer.created")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def quiet_app(secret: str) -> WsgiApp:
    """A correct endpoint that never calls the Stripe API: nothing for the API-call checks to judge."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        try:
            stripe.Webhook.construct_event(body, environ.get("HTTP_STRIPE_SIGNATURE"), secret)
            status = "200 OK"
        except (stripe.SignatureVerificationError, ValueError):
            status = "400 Bad Request"
        start_response(status, [("Content-Type", "application/json")])
        return [b"{}"]

    return app


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"secret": " "}, "the signing secret is empty"),
        (
            {"endpoint_type": "platform"},
            "endpoint type 'platform' is not one of connect, account, both",
        ),
        ({"mode": "live"}, "mode 'live' is not one of development, production"),
        ({"events": ("acount.updated",)}, "did you mean 'account.updated'"),
        ({"events": ()}, "the list of event types is empty"),
        ({"max_response_time": 0}, "max_response_time 0 must be more than 0 seconds"),
        ({"seed": -1}, "seed -1 must be a whole number"),
    ],
)
def test_config_rejects_bad_values(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        VerifyConfig(**{"secret": SECRET, **settings})


def test_config_defaults_to_every_supported_type() -> None:
    from connect_harness.spec import contracts

    assert VerifyConfig(secret=SECRET).event_types == contracts.supported_event_types()
    assert VerifyConfig(secret=SECRET, events=["account.updated"]).events == ("account.updated",)


def test_result_runs_only_what_the_check_needs_and_is_cached() -> None:
    app = flask_endpoint.create_app(SECRET)
    with ContractRun(app, VerifyConfig(secret=SECRET, events=EVENTS)) as run:
        result = run.result("rejects-v0-only")
        assert result.status == "pass"
        assert run.deliveries == 1
        assert run.result("rejects-v0-only") is result
        assert run.deliveries == 1
        assert {record.check for record in run.records} == {"rejects-v0-only"}


def test_checks_over_all_deliveries_run_everything_first() -> None:
    app = flask_endpoint.create_app(SECRET)
    with ContractRun(app, VerifyConfig(secret=SECRET, events=EVENTS)) as run:
        assert run.result("no-server-errors").status == "pass"
        checks = {record.check for record in run.records}
    assert checks == {spec.id for spec in CATALOGUE} - {
        "uses-connected-account-context",
        "separates-livemode",
        "no-redirects",
        "no-server-errors",
        "responds-in-time",
        "stays-alive",
        "never-logs-secrets",
    }


def test_run_only_returns_those_checks_in_catalogue_order() -> None:
    app = flask_endpoint.create_app(SECRET)
    results = run_checks(
        app,
        VerifyConfig(secret=SECRET, events=EVENTS),
        only=["rejects-invalid-json", "accepts-rotated-secret"],
    )
    assert [r.id for r in results] == ["accepts-rotated-secret", "rejects-invalid-json"]
    with pytest.raises(UsageError, match="unknown check 'rejects-json'"):
        run_checks(app, VerifyConfig(secret=SECRET), only=["rejects-json"])


def test_every_delivery_is_signed_when_it_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = iter(range(1_800_000_000, 1_900_000_000, 7))
    monkeypatch.setattr("connect_harness.checks.run.time.time", lambda: float(next(ticks)))
    app = flask_endpoint.create_app(SECRET)
    with ContractRun(app, VerifyConfig(secret=SECRET, events=EVENTS)) as run:
        run.result("idempotent-redelivery")
        stamps = [
            parse_signature_header(record.request.header("Stripe-Signature")).timestamp
            for record in run.records
        ]
    assert len(stamps) == len(set(stamps)) > 10


def test_no_two_checks_deliver_the_same_event() -> None:
    app = flask_endpoint.create_app(SECRET)
    with ContractRun(app, VerifyConfig(secret=SECRET, events=EVENTS, seed=3)) as run:
        run.run()
        ids_by_check: dict[str, set[str]] = {}
        for record in run.records:
            try:
                event_id = json.loads(record.request.body)["id"]
            except (ValueError, KeyError):
                continue
            ids_by_check.setdefault(record.check, set()).add(event_id)
    checks = list(ids_by_check)
    for i, first in enumerate(checks):
        for second in checks[i + 1 :]:
            assert not ids_by_check[first] & ids_by_check[second], (first, second)


def test_seed_changes_every_event_id() -> None:
    def ids(seed: int) -> set[str]:
        app = flask_endpoint.create_app(SECRET)
        with ContractRun(app, VerifyConfig(secret=SECRET, events=EVENTS, seed=seed)) as run:
            run.result("accepts-valid-events")
            return {json.loads(record.request.body)["id"] for record in run.records}

    assert not ids(1) & ids(2)


def test_disconnects_go_to_an_account_of_their_own() -> None:
    app = flask_endpoint.create_app(SECRET)
    config = VerifyConfig(
        secret=SECRET, events=("account.application.deauthorized", "customer.created")
    )
    with ContractRun(app, config) as run:
        run.result("accepts-valid-events")
        accounts = {(record.event_type, record.account) for record in run.records}
    assert ("account.application.deauthorized", DISCONNECTED_ACCOUNT) in accounts
    assert ("customer.created", DEFAULT_CONNECTED_ACCOUNT) in accounts


def test_checks_that_need_api_calls_skip_with_the_reason_when_there_are_none() -> None:
    results = {
        r.id: r for r in run_checks(quiet_app(SECRET), VerifyConfig(secret=SECRET, events=EVENTS))
    }
    skipped = {
        check: result.skip_reason for check, result in results.items() if result.status == "skip"
    }
    served_only = 'only a launched endpoint can be watched: run verify --serve "CMD" URL'
    assert (skipped.pop("stays-alive") or "").startswith(served_only)
    assert (skipped.pop("never-logs-secrets") or "").startswith(served_only)
    assert (skipped.pop("survives-api-errors") or "").startswith(
        "payment_intent.succeeded without faults made no API call for its object that succeeded"
    )
    assert (skipped.pop("retries") or "").startswith(
        "payment_intent.succeeded without faults made no API call for its object that succeeded"
    )
    assert skipped == {
        "idempotent-redelivery": "no mutating API calls observed; side effects outside the Stripe API "
        "cannot be seen",
        "uses-connected-account-context": "no API calls observed while handling Connect events",
        "separates-livemode": "no API calls observed",
    }
    assert all(
        result.status == "pass"
        for check, result in results.items()
        if check not in skipped
        and check not in {"stays-alive", "never-logs-secrets", "survives-api-errors", "retries"}
    )


def test_types_the_endpoint_cannot_receive_are_skipped_not_failed() -> None:
    app = flask_endpoint.create_app(SECRET)
    config = VerifyConfig(secret=SECRET, events=("person.updated",), endpoint_type="account")
    result = run_checks(app, config, only=["accepts-valid-events"])[0]
    assert result.status == "skip"
    assert result.skip_reason == (
        "person.updated is only sent to connect endpoints, and this is an account endpoint"
    )


def test_development_endpoints_get_test_events_only() -> None:
    app = flask_endpoint.create_app(SECRET)
    with ContractRun(app, VerifyConfig(secret=SECRET, events=EVENTS, mode="development")) as run:
        run.run()
        modes = {record.livemode for record in run.records if record.livemode is not None}
    assert modes == {False}


def test_production_account_endpoints_get_live_events_only() -> None:
    """An account endpoint belongs to one mode; a production Connect endpoint gets both."""
    app = flask_endpoint.create_app(SECRET)
    config = VerifyConfig(secret=SECRET, events=EVENTS, endpoint_type="account")
    with ContractRun(app, config) as run:
        results = run.run()
        signatures = [
            parse_signature_header(r.request.header("Stripe-Signature"))
            for r in run.records
            if r.check in {"rejects-invalid-json", "accepts-valid-events"}
        ]
        modes = {record.livemode for record in run.records if record.livemode is not None}
    assert modes == {True}
    assert all(status != "fail" for status in (result.status for result in results))
    # Bodies that are not events are signed as live ones too: no test-mode v0 signature.
    assert signatures and all(sig.v1 and not sig.v0 for sig in signatures)
    with ContractRun(app, VerifyConfig(secret=SECRET, events=EVENTS)) as run:
        run.run(only=["accepts-valid-events"])
        perms = {(r.account is not None, r.livemode) for r in run.records}
    assert perms == {(True, True), (True, False), (False, True)}


def test_findings_and_reports_never_contain_the_secret() -> None:
    secret = "whsec_do_not_print_me"
    app = flask_endpoint.create_app(secret, bug="format-only")
    results = run_checks(app, VerifyConfig(secret=secret, events=EVENTS))
    text = json.dumps(to_json(results, meta={"seed": 0}))
    assert "rejects-wrong-secret" in text
    assert secret not in text
    assert "do_not_print" not in text


def test_records_carry_the_api_calls_they_caused() -> None:
    app = flask_endpoint.create_app(SECRET)
    config = VerifyConfig(
        secret=SECRET, events=("payment_intent.succeeded",), endpoint_type="connect"
    )
    with ContractRun(app, config) as run:
        assert run.result("uses-connected-account-context").status == "pass"
        valid = [r for r in run.records if r.check == "accepts-valid-events"]
    assert valid
    for record in valid:
        methods = [call.method for call in record.calls]
        assert methods == ["GET", "POST"]
        assert {call.stripe_account for call in record.calls} == {record.account}


def test_a_skip_counts_the_calls_it_saw() -> None:
    """Calls made with a key the fake cannot tell the mode of cannot be judged by
    separates-livemode: the skip says how many there were instead of 'no API calls observed'."""
    verify = quiet_app(SECRET)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        answer = verify(environ, start_response)
        with contextlib.suppress(stripe.StripeError):  # a 401: the key is not a secret key
            stripe.Customer.list(api_key="rk_not_a_secret_key")
        return answer

    with ContractRun(app, VerifyConfig(secret=SECRET, events=EVENTS)) as run:
        (accepted, livemode) = run.run(["accepts-valid-events", "separates-livemode"])
        observed = len(run.observed_calls())
    assert accepted.status == "pass" and observed > 0
    assert livemode.status == "skip"
    assert livemode.skip_reason == (
        f"none of the {observed} API call(s) observed could be judged: none named an object of "
        "a known mode or used a key the fake could tell the mode of"
    )


def test_an_example_finding_names_the_fields_that_differ() -> None:
    from endpoints import value_branch
    from test_examples import _accepts, _seed_sending

    seed = _seed_sending("subscription_create")
    status, _, failures = _accepts(value_branch.create_app(SECRET), seed=seed)
    assert status == "fail"
    (failure,) = failures
    assert "so a branch taken on these values fails: " in failure.reason
    assert "field(s) differ from the canonical event: " in failure.reason
    assert 'data.object.billing_reason="subscription_create"' in failure.reason
