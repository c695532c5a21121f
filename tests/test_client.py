"""The event factory and webhook client behind the plugin's fixtures, without pytest in between."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connect_harness.client import EventFactory, WebhookClient
from connect_harness.delivery import target_from
from connect_harness.errors import UsageError
from connect_harness.events.build import DEFAULT_CONNECTED_ACCOUNT, build_event

SECRET = "whsec_client_unit"


def test_factory_ids_are_unique_per_event_and_stable_per_scope() -> None:
    first, again = EventFactory(3, scope="t::a"), EventFactory(3, scope="t::a")
    ids = [first("payout.failed").id for _ in range(3)]
    assert len(set(ids)) == 3
    assert [again("payout.failed").id for _ in range(3)] == ids  # same seed, test, order
    assert EventFactory(3, scope="t::b")("payout.failed").id not in ids
    assert EventFactory(4, scope="t::a")("payout.failed").id not in ids


def test_factory_keeps_the_world_and_honours_seed_and_id() -> None:
    events = EventFactory(9, scope="t")
    one, two = events("payment_intent.succeeded"), events("payment_intent.succeeded")
    assert one.id != two.id and one.payload["request"]["id"] != two.payload["request"]["id"]
    assert one.data_object["id"] == two.data_object["id"] and one.seed == two.seed == 9
    assert (
        events("payout.failed", seed=9).id
        == build_event("payout.failed", seed=9, account=DEFAULT_CONNECTED_ACCOUNT).id
    )
    assert events("payout.failed", id="evt_1Chosen").id == "evt_1Chosen"


def test_factory_builds_connect_events_unless_told() -> None:
    events = EventFactory(0)
    assert events("payout.failed").account == DEFAULT_CONNECTED_ACCOUNT
    assert events("payout.failed", account=None).account is None


def test_build_event_id_refuses_a_non_event_id() -> None:
    with pytest.raises(UsageError, match=r"event id 'ch_1' is not like 'evt_1Abc\.\.\.'"):
        build_event("payout.failed", id="ch_1")


def dedupe_app() -> Any:
    seen: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        event_id = json.loads(body)["id"]
        duplicate = event_id in seen
        seen.append(event_id)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"duplicate": duplicate}).encode()]

    return app


def test_send_builds_with_the_factory_and_redeliver_repeats_the_id() -> None:
    client = WebhookClient(
        target_from(dedupe_app()), secret=SECRET, events=EventFactory(1, scope="s")
    )
    first = client.send("payout.failed")
    second = client.send("payout.failed")
    assert json.loads(first.body) == json.loads(second.body) == {"duplicate": False}
    event = build_event("customer.created")
    client.send(event)
    assert json.loads(client.redeliver(event).body) == {"duplicate": True}
    copies = client.send_concurrently(build_event("customer.updated"), copies=3)
    assert sorted(json.loads(r.body)["duplicate"] for r in copies) == [False, True, True]
    assert len(client.history) == 7


def test_client_refuses_bad_redelivery_and_copies() -> None:
    client = WebhookClient(target_from(dedupe_app()), secret=SECRET)
    with pytest.raises(UsageError, match="redeliver takes an Event that was built before, not str"):
        client.redeliver("payout.failed")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="copies 0 must be a whole number, 1 or more"):
        client.send_concurrently("payout.failed", copies=0)
