"""Findings grouped by root cause: one headline, and no dependent check gives its own advice."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from connect_harness.checks.findings import CheckResult
from connect_harness.checks.grouping import ROOT_CHECKS, Headline
from connect_harness.checks.report import render_table
from connect_harness.checks.run import ContractRun, VerifyConfig
from endpoints import flask_endpoint

SECRET = "whsec_test_secret"
EVENTS = ("customer.created", "payment_intent.succeeded", "account.updated", "payout.failed")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _run(app: object, secret: str = SECRET) -> tuple[list[CheckResult], list[Headline]]:
    config = VerifyConfig(secret=secret, events=EVENTS, seed=3, endpoint_type="connect")
    with ContractRun(app, config) as run:
        return run.run(), run.headlines()


def _refusing(app: WsgiApp, event_type: str) -> WsgiApp:
    """``app`` with a 400 for every event of ``event_type``, after reading the body."""

    def wrapper(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        try:
            refused = json.loads(body).get("type") == event_type
        except (ValueError, AttributeError):
            refused = False
        if refused:
            start_response("400 Bad Request", [("Content-Type", "application/json")])
            return [b'{"error": "unhandled type"}']
        import io

        environ["wsgi.input"] = io.BytesIO(body)
        return app(environ, start_response)

    return wrapper


def _dependent_advice(results: list[CheckResult]) -> dict[str, list[str]]:
    return {
        r.id: [f.reason for f in r.failures()]
        for r in results
        if r.id not in ROOT_CHECKS and r.failures()
    }


def test_wrong_secret_is_one_headline_and_no_dependent_check_advises() -> None:
    results, causes = _run(flask_endpoint.create_app(SECRET), secret="whsec_not_the_endpoints")
    assert [c.cause for c in causes] == ["wrong-secret"]
    assert causes[0].text.startswith(
        "every correctly signed delivery got 400: the secret given is probably not the endpoint's"
    )
    assert _dependent_advice(results) == {}
    statuses = {r.id: r.status for r in results}
    assert statuses["accepts-valid-events"] == "fail"
    assert statuses["accepts-rotated-secret"] == "skip"  # not "the rotation is broken"
    assert statuses["verifies-raw-body"] == "skip"  # not "verify the raw body"
    rotated = next(r for r in results if r.id == "accepts-rotated-secret")
    assert rotated.findings[0].reason == f"not judged: {causes[0].text}"


def test_every_delivery_redirected_is_one_headline() -> None:
    results, causes = _run(flask_endpoint.create_app(SECRET, bug="redirect"))
    assert [c.cause for c in causes] == ["redirect"]
    assert causes[0].text.startswith("every delivery got 301 to /webhook/: register the exact URL")
    assert _dependent_advice(results) == {}
    assert {r.id for r in results if r.status == "fail"} == {"accepts-valid-events", "no-redirects"}


def test_a_refused_type_is_one_headline_and_other_checks_do_not_judge_it() -> None:
    results, causes = _run(_refusing(flask_endpoint.create_app(SECRET), "customer.created"))
    assert [(c.cause, c.event_type) for c in causes] == [("refused-type", "customer.created")]
    assert causes[0].text.startswith("every delivery of customer.created got 400")
    assert _dependent_advice(results) == {}
    by_id = {r.id: r for r in results}
    # The signature checks use customer.created: a 400 to everything proves nothing about them.
    wrong = by_id["rejects-wrong-secret"]
    assert wrong.status == "skip"
    assert wrong.findings[0].reason.startswith("not judged: customer.created is not accepted")
    # Findings about other types are still judged.
    redelivery = by_id["idempotent-redelivery"]
    assert any(f.status == "pass" for f in redelivery.findings)
    assert any(
        f.status == "skip" and f.event_type == "customer.created" for f in redelivery.findings
    )


def test_a_correct_endpoint_has_no_headline() -> None:
    results, causes = _run(flask_endpoint.create_app(SECRET))
    assert causes == []
    served_only = {"stays-alive", "never-logs-secrets"}
    assert {r.status for r in results if r.id not in served_only} == {"pass"}


@pytest.mark.parametrize("cause", ["wrong-secret", "redirect"])
def test_the_table_shows_the_headline_first(cause: str) -> None:
    app = flask_endpoint.create_app(SECRET, bug="redirect" if cause == "redirect" else None)
    secret = "whsec_not_the_endpoints" if cause == "wrong-secret" else SECRET
    results, causes = _run(app, secret=secret)
    table = render_table(results, headlines=causes)
    assert table.splitlines()[0] == f"ROOT CAUSE: {causes[0].text}"


def _failing(app: WsgiApp, event_type: str, status: int = 500) -> WsgiApp:
    """``app`` answering ``status`` to every event of ``event_type`` (a crash on that type)."""
    refusing = _refusing(app, event_type)

    def wrapper(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(line: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            if line.startswith("400"):
                line = f"{status} Internal Server Error"
            return start_response(line, headers, *rest)

        return refusing(environ, start)

    return wrapper


def test_a_type_that_fails_upstream_is_not_blamed_on_raw_body_or_rotation() -> None:
    """customer.created (the signature checks' event) gets 500 whatever is sent: the raw-body and
    rotation findings point to accepts-valid-events instead of advising on the raw bytes."""
    results, causes = _run(_failing(flask_endpoint.create_app(SECRET), "customer.created"))
    assert causes == []  # a 5xx is not a refused type
    by_id = {r.id: r for r in results}
    assert by_id["accepts-valid-events"].status == "fail"
    for check in ("verifies-raw-body", "accepts-rotated-secret"):
        result = by_id[check]
        assert result.status == "skip", [f.reason for f in result.failures()]
        for finding in result.findings:
            assert finding.reason.startswith(
                "not judged: a correctly signed customer.created (connect-test) already fails "
                "in accepts-valid-events (got 500)"
            ), finding.reason
            assert "raw request bytes" not in finding.reason


def test_an_event_that_fails_in_every_order_is_not_blamed_on_order() -> None:
    config = VerifyConfig(secret=SECRET, events=("customer.created",), seed=3)
    app = _failing(flask_endpoint.create_app(SECRET), "invoice.paid")
    with ContractRun(app, config) as run:
        result = run.result("order-independent")
    reasons = [f.reason for f in result.findings if f.event_type == "invoice.paid"]
    assert reasons and all(
        r.startswith(
            "not judged: invoice.paid got 500 in every order, so the order is not the cause"
        )
        for r in reasons
    ), reasons
    assert not any("Stripe does not promise order" in f.reason for f in result.findings)
    assert result.status != "fail"


def test_an_order_dependent_endpoint_is_still_told_about_order() -> None:
    config = VerifyConfig(secret=SECRET, events=("customer.created",), seed=3)
    with ContractRun(flask_endpoint.create_app(SECRET, bug="order-dependent"), config) as run:
        result = run.result("order-independent")
    assert result.status == "fail"
    assert any("Stripe does not promise order" in f.reason for f in result.failures())
    assert not any("in every order" in f.reason for f in result.findings)


def _fetches_invoices_without_the_account() -> object:
    """Retrieves every invoice.paid's invoice with platform auth (no Stripe-Account) and lets the
    'No such invoice' escape: a 500 in every order, caused by the missing account, not by order."""
    import stripe
    from flask import Flask, jsonify, request

    app = Flask("invoices_without_account")

    @app.post("/webhook")
    def receive() -> Any:
        payload = request.get_data()
        try:
            event = stripe.Webhook.construct_event(
                payload, request.headers.get("Stripe-Signature", ""), SECRET
            )
        except (ValueError, stripe.SignatureVerificationError):
            return jsonify({"error": "bad signature"}), 400
        if event["type"] == "invoice.paid":
            stripe.Invoice.retrieve(event["data"]["object"]["id"], api_key="sk_test_fake")
        return jsonify({"received": True})

    return app


def test_a_missing_stripe_account_is_named_instead_of_order() -> None:
    config = VerifyConfig(secret=SECRET, events=("customer.created",), seed=3)
    with ContractRun(_fetches_invoices_without_the_account(), config) as run:
        result = run.result("order-independent")
    reasons = [f.reason for f in result.findings if f.event_type == "invoice.paid"]
    assert reasons, [f.reason for f in result.findings]
    for reason in reasons:
        assert reason.startswith("not judged: invoice.paid got 500 in every order"), reason
        assert "its Stripe call GET /v1/invoices/in_" in reason
        assert "did not act as the object's account acct_" in reason
        assert "pass stripe_account=event.account" in reason
    assert result.status != "fail"
