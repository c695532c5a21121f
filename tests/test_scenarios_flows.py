"""A scenario is a flow: its events are what a fake Stripe emits for the flow's API calls, in Stripe's
order, with Connect's account and the endpoint's API version; its objects are served in their latest
state in whatever order the events are delivered."""

from __future__ import annotations

import itertools
import json
import threading
from typing import Any

import pytest
import stripe
from flask import Flask, request

from connect_harness import build_scenario
from connect_harness.checks.run import ContractRun, VerifyConfig
from connect_harness.checks.scenario_flows import scenario_world
from connect_harness.checks.scenario_runs import deliver_scenario
from connect_harness.cli import main
from connect_harness.events.scenarios import SCENARIOS, Scenario, Step, scenario
from connect_harness.lifecycle.state_checks import contradictions
from connect_harness.spec import contracts
from connect_harness.stripe_api.fake import FakeStripeAPI

ACCOUNT = "acct_1ScenarioFlows00"
SECRET = "whsec_test_secret"
FLOWS = [flow.name for flow in SCENARIOS if flow.fixture is not None]


def test_four_scenarios_are_flows_and_the_others_say_why_not() -> None:
    assert FLOWS == ["direct-charge", "refund-dispute", "failed-payout", "subscription"]
    for flow in SCENARIOS:
        assert bool(flow.flow) != bool(flow.built_because), flow.name
    with pytest.raises(ValueError, match="needs a flow or a reason"):
        Scenario("nameless", "no flow, no reason", (Step("customer.created"),))


@pytest.mark.parametrize("name", FLOWS)
def test_a_flow_scenarios_events_are_what_the_fake_emits_for_its_calls(name: str) -> None:
    """The same calls run by hand on a fake give the same event types, in the same order."""
    flow = scenario(name)
    fixture = flow.fixture
    assert fixture is not None
    emitted: list[Any] = []
    with FakeStripeAPI(on_event=emitted.append) as fake:
        fake.register_object({"id": ACCOUNT, "object": "account"}, account=ACCOUNT)
        from connect_harness.cli.flows import FlowOptions, run_flow

        run_flow(fixture, fake.url, FlowOptions(account=ACCOUNT))
    delivered = build_scenario(name, account=ACCOUNT)
    wanted = [step.event_type for step in flow.steps]
    picked = iter(event.type for event in emitted)
    assert all(any(kind == want for kind in picked) for want in wanted)  # a subsequence, in order
    assert [event.type for event in delivered] == wanted
    assert {event.account for event in delivered} == {ACCOUNT}
    assert all(event.payload["request"]["id"].startswith("req_") for event in delivered)
    created = [event.payload["created"] for event in delivered]
    assert created == sorted(created) and len(set(created)) == len(created)


@pytest.mark.parametrize("version", ["2023-08-16", None])
def test_flow_events_are_rendered_in_the_endpoints_api_version(version: str | None) -> None:
    wanted = contracts.api_version(version=version)
    for name in FLOWS:
        for event in build_scenario(name, account=ACCOUNT, api_version=version):
            assert event.payload["api_version"] == wanted
            assert contracts.validate_event(event.payload, version=version) == [], event.type
            found = contradictions(event.payload, version=version, history=True)
            assert found == [], (name, event.type, found)


def test_seeds_and_accounts_get_objects_of_their_own_and_the_same_arguments_the_same_bytes() -> (
    None
):
    one = build_scenario("direct-charge", account=ACCOUNT, seed=1)
    again = build_scenario("direct-charge", account=ACCOUNT, seed=1)
    other_seed = build_scenario("direct-charge", account=ACCOUNT, seed=2)
    other_account = build_scenario("direct-charge", account="acct_1OtherScenario0", seed=1)
    platform = build_scenario("direct-charge", account=None, seed=1)
    assert [e.body for e in one] == [e.body for e in again]
    ids = [{e.id for e in run} | {str(e.object_id) for e in run} for run in (one, other_seed)]
    assert not ids[0] & ids[1]
    assert not {e.object_id for e in one} & {e.object_id for e in other_account}
    assert {e.account for e in platform} == {None}
    assert all("acct_" not in json.dumps(e.data_object) for e in platform)


def test_the_world_holds_every_object_the_events_name_in_its_latest_state() -> None:
    world = scenario_world("direct-charge", account=ACCOUNT, seed=3)
    latest = world.latest()
    created, charge, succeeded = world.events
    assert created.data_object["status"] == "requires_payment_method"
    assert latest[str(created.object_id)]["status"] == "succeeded"
    assert latest[str(charge.object_id)]["payment_intent"] == created.object_id
    assert charge.data_object["customer"] in latest
    assert succeeded.data_object["latest_charge"] == charge.object_id


def _fetching_app(seen: list[tuple[str, str]]) -> Flask:
    """An endpoint that fetches each event's payment intent and records the status it got."""
    app = Flask("fetching")
    lock = threading.Lock()

    @app.post("/webhook")
    def receive() -> tuple[str, int]:
        event = json.loads(request.get_data())
        obj = event["data"]["object"]
        intent_id = obj["id"] if obj["object"] == "payment_intent" else obj.get("payment_intent")
        if isinstance(intent_id, str):
            intent = stripe.PaymentIntent.retrieve(
                intent_id, api_key="sk_test_fetching", stripe_account=event["account"]
            )
            with lock:
                seen.append((event["type"], intent.status))
        return "", 200

    return app


@pytest.mark.parametrize("order", ["reversed", "stripe"])
def test_a_fetch_sees_the_latest_state_in_any_delivery_order(order: str) -> None:
    seen: list[tuple[str, str]] = []
    config = VerifyConfig(secret=SECRET, seed=7, events=("customer.created",))
    with ContractRun(_fetching_app(seen), config) as run, run.fake_api.patch_stripe():
        deliver_scenario(
            run, "test", "direct-charge", order=order, account=ACCOUNT, livemode=False, seed=5
        )
    assert sorted(seen) == sorted(
        [(kind, "succeeded") for kind in ("payment_intent.created", "charge.succeeded")]
        + [("payment_intent.succeeded", "succeeded")]
    )


def test_the_scenarios_command_shows_each_flows_calls_or_why_there_is_none(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    assert (
        "flow: POST /v1/customers, POST /v1/products, POST /v1/prices, POST /v1/subscriptions"
        in out
    )
    assert "built from the contracts: an application is authorized through Connect OAuth" in out
    assert main(["scenarios", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)["scenarios"]}
    assert rows["failed-payout"]["built_because"] is None
    assert rows["failed-payout"]["flow"][2]["path"] == "/v1/payouts"
    assert rows["onboarding"]["flow"] == [] and rows["onboarding"]["built_because"]


def test_the_scenarios_page_lists_the_flows_and_their_test_payment_methods() -> None:
    from pathlib import Path

    page = Path(__file__).resolve().parents[1] / "docs" / "explanation" / "scenarios.md"
    rows = {
        line.split("|")[1].strip().strip("`"): line.split("|")[2]
        for line in page.read_text(encoding="utf-8").splitlines()
        if line.startswith("| `")
    }
    assert list(rows) == FLOWS
    for name, described in rows.items():
        flow = json.dumps(list(scenario(name).flow))
        for method in ("pm_card_visa", "pm_card_createDispute"):
            assert (method in described) == (method in flow), (name, method)
    assert "account_closed" in rows["failed-payout"]
    payout = next(
        e for e in build_scenario("failed-payout", account=ACCOUNT) if e.type == "payout.failed"
    )
    assert payout.data_object["failure_code"] == "account_closed"


def test_trigger_dates_a_flow_scenarios_last_event_now_and_keeps_its_spacing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import time

    from endpoints.serving import served

    received: list[dict[str, Any]] = []
    app = Flask("recording")

    @app.post("/webhook")
    def record() -> tuple[str, int]:
        received.append(json.loads(request.get_data()))
        return "", 200

    before = int(time.time())
    with served(app) as url:
        argv = ["trigger", "--scenario", "subscription", "--stripe-account", ACCOUNT,
                "--forward-to", url, "--secret", SECRET]  # fmt: skip
        assert main(argv) == 0, capsys.readouterr().err
    created = [event["created"] for event in received]
    built = [event.payload["created"] for event in build_scenario("subscription", account=ACCOUNT)]
    assert before <= created[-1] <= int(time.time())
    assert [b - a for a, b in itertools.pairwise(created)] == [
        b - a for a, b in itertools.pairwise(built)
    ]


def test_a_delivered_flow_events_reproduction_rebuilds_its_exact_bytes() -> None:
    import contextlib
    import io
    import shlex
    import sys

    config = VerifyConfig(secret=SECRET, seed=7, events=("customer.created",))
    with ContractRun(_fetching_app([]), config) as run, run.fake_api.patch_stripe():
        delivered = deliver_scenario(
            run, "test", "subscription", order="shuffled", account=ACCOUNT, livemode=False, seed=9
        )
    for event, record in zip(delivered.events, delivered.records, strict=True):
        words = shlex.split(record.reproduce)
        assert words[:2] == ["python", "-c"] and words[3] == "|"
        out = io.BytesIO()
        with contextlib.redirect_stdout(io.TextIOWrapper(out, write_through=True)) as stream:
            exec(words[2], {"sys": sys})
            stream.flush()
        assert out.getvalue() == event.body
