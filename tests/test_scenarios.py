"""Scenarios: consistent objects across events, the orders, the CLI listing, and the checks built on
them against a correct endpoint and one with exactly each bug, in Flask and Starlette."""

from __future__ import annotations

import contextlib
import json
import threading
from typing import Any

import pytest

from connect_harness import build_scenario
from connect_harness.checks.run import ContractRun, VerifyConfig
from connect_harness.cli import main
from connect_harness.errors import UsageError
from connect_harness.events.scenarios import ORDERS, SCENARIOS, scenario
from connect_harness.spec import contracts
from connect_harness.stripe_api.fake import FakeStripeAPI
from endpoints import django_endpoint, flask_endpoint, starlette_endpoint, subscriptions
from endpoints.serving import served

SECRET = "whsec_test_secret"
ACCOUNT = "acct_1HarnessScenario"
NEW_CHECKS = ("order-independent", "after-deauthorization", "survives-api-errors")


def test_every_scenario_builds_in_every_order_with_distinct_event_ids() -> None:
    for flow in SCENARIOS:
        events = build_scenario(flow.name, account=ACCOUNT)
        assert [e.type for e in events] == [s.event_type for s in flow.steps]
        assert len({e.id for e in events}) == len(events)
        assert [e.payload["created"] for e in events] == sorted(
            e.payload["created"] for e in events
        )
        assert [e.type for e in build_scenario(flow.name, account=ACCOUNT, order="reversed")] == [
            s.event_type for s in reversed(flow.steps)
        ]
        shuffled = build_scenario(flow.name, account=ACCOUNT, order="shuffled")
        assert sorted(e.id for e in shuffled) == sorted(e.id for e in events)
        assert [e.id for e in shuffled] != [e.id for e in events]
        duplicated = build_scenario(flow.name, account=ACCOUNT, order="duplicated")
        assert [e.body for e in duplicated[::2]] == [e.body for e in events]
        assert [e.body for e in duplicated[1::2]] == [e.body for e in events]


@pytest.mark.parametrize("version", [None, "2023-08-16"])
def test_objects_are_consistent_across_a_scenarios_events(version: str | None) -> None:
    events = {
        e.type: e
        for e in build_scenario("subscription", account=ACCOUNT, seed=4, api_version=version)
    }
    customer = events["customer.created"].object_id
    subscription = events["customer.subscription.created"]
    assert subscription.data_object["customer"] == customer
    invoices = [events[f"invoice.{step}"] for step in ("created", "finalized", "paid")]
    invoices.append(events["invoice.payment_succeeded"])
    assert subscription.data_object["latest_invoice"] == invoices[0].object_id
    for invoice in invoices:
        obj = invoice.data_object
        assert (obj["id"], obj["customer"], obj["billing_reason"]) == (
            invoices[0].object_id,
            customer,
            "subscription_create",
        )
        # Where the API version in use puts the subscription: 2025-03-31 moved it under parent.
        if version == "2023-08-16":
            assert "parent" not in obj
            named = obj["subscription"]
        else:
            assert "subscription" not in obj
            named = obj["parent"]["subscription_details"]["subscription"]
            assert obj["parent"]["type"] == "subscription_details"
        assert named == subscription.object_id
        assert obj["lines"]["data"][0]["subscription"] == subscription.object_id
    assert [i.data_object["status"] for i in invoices] == ["draft", "open", "paid", "paid"]
    charge = build_scenario("direct-charge", account=ACCOUNT, api_version=version)
    assert charge[0].object_id == charge[2].object_id  # one payment intent, created then succeeded
    assert charge[1].data_object["payment_intent"] == charge[0].object_id
    assert charge[2].data_object["latest_charge"] == charge[1].object_id
    assert charge[1].data_object["amount"] == charge[2].data_object["amount_received"]
    assert all(e.account == ACCOUNT for e in charge)
    intent, paid, _, transfer = build_scenario("destination-charge", api_version=version)
    assert transfer.data_object["source_transaction"] == paid.object_id
    assert paid.data_object["transfer"] == transfer.object_id
    destination = transfer.data_object["destination"]
    assert paid.data_object["transfer_data"]["destination"] == destination
    assert intent.data_object["transfer_data"]["destination"] == destination


def test_every_scenario_event_keeps_to_its_contract() -> None:
    for version in (None, "2023-08-16"):
        for flow in SCENARIOS:
            for event in build_scenario(flow.name, account=ACCOUNT, api_version=version):
                assert contracts.validate_event(event.payload, version=version) == [], event.type


def test_same_arguments_same_bytes_and_platform_steps_stay_platform() -> None:
    first = build_scenario("refund-dispute", account=ACCOUNT, seed=2, order="shuffled")
    assert [e.body for e in first] == [
        e.body for e in build_scenario("refund-dispute", account=ACCOUNT, seed=2, order="shuffled")
    ]
    destination = build_scenario("destination-charge", account=ACCOUNT)
    assert all(e.account is None for e in destination)
    platform = build_scenario("subscription", account=None)
    assert all(e.account is None for e in platform)
    assert scenario("subscription").receivers == {"connect", "account"}
    assert scenario("onboarding").receivers == {"connect"}


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        (
            {"name": "subscriptions"},
            "unknown scenario 'subscriptions'; did you mean 'subscription'",
        ),
        ({"name": "subscription", "order": "backwards"}, "unknown order 'backwards'"),
        ({"name": "onboarding", "account": None}, "Connect-only events (account.updated)"),
    ],
)
def test_bad_arguments_are_usage_errors(kwargs: dict[str, object], words: str) -> None:
    name = str(kwargs.pop("name"))
    with pytest.raises(UsageError, match=words.replace("(", r"\(").replace(")", r"\)")):
        build_scenario(name, **kwargs)  # type: ignore[arg-type]


def test_scenarios_command_lists_every_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    for flow in SCENARIOS:
        assert flow.name in out
    assert "invoice.paid -> invoice.payment_succeeded" in out
    assert main(["scenarios", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["orders"] == list(ORDERS)
    assert [row["name"] for row in data["scenarios"]] == [flow.name for flow in SCENARIOS]


def _results(app: object) -> dict[str, tuple[str, list[str]]]:
    config = VerifyConfig(secret=SECRET, seed=7, events=("customer.created",))
    with ContractRun(app, config) as run:
        return {r.id: (r.status, [f.reason for f in r.failures()]) for r in run.run(NEW_CHECKS)}


FRAMEWORKS = {"flask": flask_endpoint.create_app, "starlette": starlette_endpoint.create_app}


@pytest.mark.parametrize("framework", [*sorted(FRAMEWORKS), "django"])
def test_correct_endpoints_pass_the_scenario_checks(framework: str) -> None:
    create = django_endpoint.create_app if framework == "django" else FRAMEWORKS[framework]
    results = _results(create(SECRET))
    assert {check: status for check, (status, _) in results.items()} == dict.fromkeys(
        NEW_CHECKS, "pass"
    )


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
@pytest.mark.parametrize(
    ("bug", "check", "words"),
    [
        (
            "order-dependent",
            "order-independent",
            "delivered in reversed order: invoice.paid got 500",
        ),
        (
            "crashes-on-deauthorized-403",
            "after-deauthorization",
            "for an account that had deauthorized the platform got 500",
        ),
        ("swallows-api-errors", "survives-api-errors", "the event's work may be lost"),
    ],
)
def test_an_endpoint_with_the_bug_fails_only_that_check(
    framework: str, bug: str, check: str, words: str
) -> None:
    results = _results(FRAMEWORKS[framework](SECRET, bug=bug))
    assert {c for c, (status, _) in results.items() if status == "fail"} == {check}
    assert any(words in reason for reason in results[check][1]), results[check][1]


def test_an_endpoint_slow_to_take_in_a_deauthorization_handles_the_403_and_passes() -> None:
    """It answers first and records a disconnection in a job that lags behind the late events
    (held here until every event of the scenario was answered): its jobs for the late events act
    as the account, get Stripe's 403 and take it as permanent. Stripe does not promise the
    deauthorization arrives first, so that is a note, not a failure."""
    app = flask_endpoint.create_app(SECRET, defer=0.0)
    core = app.extensions["webhook_core"]
    act, handle = core._act, core.handle
    answered = threading.Event()

    def counting_handle(body: bytes, signature: str | None) -> tuple[int, dict[str, Any]]:
        result = handle(body, signature)
        if b'"customer.created"' in body and b"acct_" in body:
            answered.set()
        return result

    def lagging_act(event: dict[str, object]) -> None:
        if event.get("type") == "account.application.deauthorized":
            answered.wait(timeout=30)
        act(event)

    core.handle, core._act = counting_handle, lagging_act
    config = VerifyConfig(secret=SECRET, seed=7, events=("customer.created",))
    with ContractRun(app, config) as run:
        result = run.result("after-deauthorization")
    assert result.status == "pass", [f.reason for f in result.failures()]
    assert "got Stripe's 403 and the endpoint handled it" in result.findings[0].reason


def _order_result(app: object, *, url: bool = False) -> tuple[str, list[str], list[str]]:
    """order-independent against ``app``: status, failure reasons, and what passed."""
    config = VerifyConfig(secret=SECRET, seed=7, events=("customer.created",))
    with contextlib.ExitStack() as stack:
        target = stack.enter_context(served(app)) if url else app
        # A served app calls stripe-python's api_base: point it at the run's fake (else its calls
        # went to api.stripe.com and failed, a 500 in every order that is not about order).
        fake = stack.enter_context(FakeStripeAPI()) if url else None
        if fake is not None:
            stack.enter_context(fake.patch_stripe())
        run = stack.enter_context(ContractRun(target, config, fake_api=fake))
        result = run.result("order-independent")
    return (
        result.status,
        [f.reason for f in result.failures()],
        [f.reason for f in result.findings if f.status == "pass"],
    )


SUBSCRIPTION_APPS = {
    "flask": subscriptions.create_flask_app,
    "starlette": subscriptions.create_starlette_app,
}


@pytest.mark.parametrize("framework", sorted(SUBSCRIPTION_APPS))
def test_repeating_a_mutation_on_every_redelivery_fails_order_independence(framework: str) -> None:
    """The bug only a subscription's first invoice shows: its redelivery repeats the activation."""
    status, reasons, _ = _order_result(SUBSCRIPTION_APPS[framework](SECRET, bug=True))
    assert status == "fail"
    repeated = "POST /v1/subscriptions/sub_"
    in_a_row = [r for r in reasons if "delivered twice in a row" in r and repeated in r]
    assert in_a_row, reasons
    assert "for invoice.paid 2 times (in Stripe's order: 1)" in in_a_row[0]
    at_once = [r for r in reasons if "twice at the same moment" in r and repeated in r]
    # An ASGI app serves deliveries concurrently; a WSGI app is called one request at a time.
    assert bool(at_once) == (framework == "starlette"), reasons
    # Reordered, each event arrives once: no repeated mutation to find.
    assert not [r for r in reasons if "reversed" in r or "shuffled" in r], reasons


def test_concurrent_copies_reach_a_flask_app_served_at_a_url() -> None:
    status, reasons, _ = _order_result(subscriptions.create_flask_app(SECRET, bug=True), url=True)
    assert status == "fail"
    assert any("twice at the same moment" in r for r in reasons), reasons


@pytest.mark.parametrize("framework", sorted(SUBSCRIPTION_APPS))
@pytest.mark.parametrize("defer", [None, 0.05])
def test_correct_subscription_endpoints_pass_every_order(
    framework: str, defer: float | None
) -> None:
    """Deduped on event.id with a key derived from it; acting before or after the answer."""
    app = SUBSCRIPTION_APPS[framework](SECRET, defer=defer)
    status, reasons, passed = _order_result(app)
    assert status == "pass", reasons
    ways = ["reversed order", "shuffled order", "twice in a row"]
    if framework == "starlette":
        ways.append("twice at the same moment")
    for way in ways:
        assert any("'subscription'" in p and way in p for p in passed), (way, passed)
    activated = (
        app.extensions["webhook_core"] if framework == "flask" else app.state.webhook_core
    ).activated
    assert activated, "the endpoint never activated a subscription: nothing was judged"
