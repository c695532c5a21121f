"""Thin event notifications: what the SDKs parse, and how they refuse the wrong kind of body.

Every thin type x context x mode goes through stripe-python 16.1.0's ``parse_event_notification``
and must come back as the notification class the SDK has for that type (its
``UnknownEventNotification`` for types it has no class for); a sample goes through stripe-node's
``parseEventNotification``. A snapshot body given to the thin parser, and a thin body given to
``construct_event``, fail with the SDKs' own messages.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import stripe
from stripe.events._event_classes import _V2_EVENT_NOTIFICATION_CLASS_LOOKUP as SDK_TYPES

from connect_harness.errors import UsageError
from connect_harness.events.build import DEFAULT_CONNECTED_ACCOUNT, build_event
from connect_harness.events.thin import (
    build_thin_event,
    iso_created,
    thin_event_info,
    thin_event_types,
    thin_type_name,
)
from connect_harness.lifecycle.state_checks import contradictions
from connect_harness.stripe_api.fake import FakeStripeAPI
from connect_harness.wire.signing import sign_payload

SECRET = "whsec_thin_test_secret"
NODE_DIR = Path(__file__).parent / "node"
CLIENT = stripe.StripeClient("sk_test_thin")
PERMUTATIONS = [
    (None, False),
    (None, True),
    (DEFAULT_CONNECTED_ACCOUNT, False),
    (DEFAULT_CONNECTED_ACCOUNT, True),
]


def signed(body: bytes) -> str:
    return sign_payload(body, SECRET, timestamp=int(time.time()))


def test_every_type_stripe_python_knows_is_built() -> None:
    known = set(thin_event_types())
    assert sum(name.startswith("v2.") for name in SDK_TYPES) == 57
    assert sorted(name for name in SDK_TYPES if name not in known) == []
    catalogue = json.loads((Path(__file__).parents[1] / "contracts" / "thin.json").read_text())
    assert len([t for t in catalogue["types"] if t.startswith("v1.")]) == 277 + 51
    assert {"v1.account.updated", "v1.payment_intent.succeeded"} <= known


def test_every_type_context_and_mode_parses_to_the_sdk_class() -> None:
    wrong = []
    for name in thin_event_types():
        expected = SDK_TYPES.get(name, ("", "UnknownEventNotification"))[1]
        for account, livemode in PERMUTATIONS:
            event = build_thin_event(name, account=account, livemode=livemode)
            notification = CLIENT.parse_event_notification(event.body, signed(event.body), SECRET)
            got = (
                type(notification).__name__,
                notification.id,
                notification.livemode,
                str(notification.context) if notification.context else None,
            )
            if got != (expected, event.id, livemode, account):
                wrong.append((name, account, livemode, got))
    assert wrong == []


def test_notification_body_has_stripes_keys_in_order() -> None:
    event = build_thin_event("v2.core.account.updated", account=DEFAULT_CONNECTED_ACCOUNT)
    body = json.loads(event.body)
    assert list(body) == [
        "id",
        "object",
        "type",
        "livemode",
        "created",
        "context",
        "related_object",
    ]
    assert body["object"] == "v2.core.event"
    assert body["created"] == "2026-01-01T00:00:00.000Z"
    assert body["related_object"] == {
        "id": DEFAULT_CONNECTED_ACCOUNT,
        "type": "v2.core.account",
        "url": f"/v2/core/accounts/{DEFAULT_CONNECTED_ACCOUNT}",
    }
    assert "data" not in body and "changes" not in body
    assert event.full_event["changes"] == {"before": {}, "after": {}}
    platform = json.loads(build_thin_event("v2.core.account.updated").body)
    assert "context" not in platform
    assert re.match(r"^evt_test_", body["id"])
    assert re.match(
        r"^evt_1", json.loads(build_thin_event("v2.core.account.updated", livemode=True).body)["id"]
    )


def test_v1_notification_names_the_snapshot_object() -> None:
    thin = build_thin_event(
        "v1.payment_intent.succeeded", account=DEFAULT_CONNECTED_ACCOUNT, seed=4
    )
    snapshot = build_event("payment_intent.succeeded", account=DEFAULT_CONNECTED_ACCOUNT, seed=4)
    assert thin.related_object == {
        "id": snapshot.object_id,
        "type": "payment_intent",
        "url": f"/v1/payment_intents/{snapshot.object_id}",
    }
    person = build_thin_event("v2.core.account_person.updated", account=DEFAULT_CONNECTED_ACCOUNT)
    assert person.related_object is not None
    assert person.related_object["url"].startswith(
        f"/v2/core/accounts/{DEFAULT_CONNECTED_ACCOUNT}/persons/"
    )
    assert person.full_event["data"] == {"account_id": DEFAULT_CONNECTED_ACCOUNT}


def test_singletons_and_types_without_an_object() -> None:
    balance = build_thin_event("balance.available")
    assert balance.type == "v1.balance.available"
    assert balance.related_object == {"type": "balance", "url": "/v1/balance"}
    assert build_thin_event("v2.core.account_link.returned").related_object is None


def test_pure_and_seeded() -> None:
    assert build_thin_event("v2.core.account.closed", seed=3) == build_thin_event(
        "v2.core.account.closed", seed=3
    )
    assert (
        build_thin_event("v2.core.account.closed", seed=3).id
        != build_thin_event("v2.core.account.closed", seed=4).id
    )


def test_created_is_iso_with_milliseconds() -> None:
    assert iso_created(1_700_000_000) == "2023-11-14T22:13:20.000Z"
    assert (
        json.loads(build_thin_event("v1.charge.succeeded", created=1_700_000_000).body)["created"]
        == "2023-11-14T22:13:20.000Z"
    )


def test_bad_input_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"did you mean v2\.core\.account\.updated"):
        thin_event_info("v2.core.acount.updated")
    with pytest.raises(UsageError, match="not a connected account id"):
        build_thin_event("v2.core.account.updated", account="cus_1")
    assert thin_type_name("account.updated") == "v1.account.updated"
    assert thin_type_name("v2.core.account.updated") == "v2.core.account.updated"


def test_snapshot_to_thin_parser_and_thin_to_construct_event_fail_as_in_the_sdk() -> None:
    snapshot = build_event("account.updated", account=DEFAULT_CONNECTED_ACCOUNT)
    with pytest.raises(ValueError, match="expects a thin event notification"):
        CLIENT.parse_event_notification(snapshot.body, signed(snapshot.body), SECRET)
    thin = build_thin_event("v2.core.account.updated", account=DEFAULT_CONNECTED_ACCOUNT)
    with pytest.raises(ValueError, match="thin event"):
        stripe.Webhook.construct_event(thin.body, signed(thin.body), SECRET)


def test_a_forged_thin_notification_is_refused() -> None:
    thin = build_thin_event("v2.core.account.updated", account=DEFAULT_CONNECTED_ACCOUNT)
    header = sign_payload(thin.body, "whsec_someone_else", timestamp=int(time.time()))
    with pytest.raises(stripe.SignatureVerificationError):
        CLIENT.parse_event_notification(thin.body, header, SECRET)


def _node(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if shutil.which("node") is None or not (NODE_DIR / "node_modules" / "stripe").exists():
        pytest.skip("node and tests/node/node_modules (stripe npm 23.1.0) are needed")
    done = subprocess.run(
        ["node", str(NODE_DIR / "thin.js")],
        input=json.dumps({"cases": cases}),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result


def _case(name: str, body: bytes, parser: str) -> dict[str, Any]:
    return {
        "name": name,
        "body_base64": base64.b64encode(body).decode(),
        "header": signed(body),
        "secret": SECRET,
        "parser": parser,
    }


def test_stripe_node_parses_a_sample_and_refuses_the_wrong_kind() -> None:
    sample = [
        "v2.core.account.updated",
        "v2.core.account[requirements].updated",
        "v2.core.account.closed",
        "v2.core.account_person.created",
        "v2.money_management.outbound_payment.posted",
        "v1.account.updated",
        "v1.payment_intent.succeeded",
        "v1.balance.available",
    ]
    events = [
        build_thin_event(name, account=account, livemode=live)
        for name in sample
        for account, live in PERMUTATIONS
    ]
    cases = [_case(f"thin-{n}", e.body, "thin") for n, e in enumerate(events)]
    snapshot = build_event("account.updated", account=DEFAULT_CONNECTED_ACCOUNT)
    cases.append(_case("snapshot-to-thin", snapshot.body, "thin"))
    cases.append(_case("thin-to-construct", events[0].body, "snapshot"))
    results = _node(cases)
    for event, result in zip(events, results, strict=False):
        related = event.related_object or {}
        assert (result["accepted"], result["id"], result["type"], result["context"]) == (
            True,
            event.id,
            event.type,
            event.context,
        ), result
        assert result["related_id"] == related.get("id"), result
    assert "expects a thin event notification" in results[-2]["error"]
    assert "thin event notification to a function that expects a webhook" in results[-1]["error"]


def test_catalogue_is_a_function_of_the_descriptions() -> None:
    from connect_harness.spec.thin import build_thin_catalogue

    def get(ref: str) -> dict[str, Any]:
        content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}
        return {"get": {"responses": {"200": {"content": content}}}}

    thin_type = {
        "type": "object",
        "properties": {
            "related_object": {"properties": {"type": {"enum": ["v2.core.account_person"]}}},
            "data": {
                "type": "object",
                "required": ["account_id"],
                "properties": {"account_id": {"type": "string"}},
            },
        },
        "x-stripeEvent": {"kind": "thin", "type": "v2.core.account_person.created"},
    }
    v2 = {
        "info": {"version": "2025-12-15.preview"},
        "paths": {"/v2/core/accounts/{account_id}/persons/{id}": get("v2.core.account_person")},
        "components": {"schemas": {"v2.core.account_person.created": thin_type}},
    }
    v1 = {"paths": {"/v1/charges/{charge}": get("charge"), "/v1/balance": get("balance")}}
    built = build_thin_catalogue(v2, v1, {"events": {"charge.succeeded": {"objects": ["charge"]}}})
    assert built["types"]["v2.core.account_person.created"] == {
        "changes": False,
        "data": {"account_id": "example"},
        "related_object": {
            "type": "v2.core.account_person",
            "url": "/v2/core/accounts/{account}/persons/{id}",
        },
        "source": "v2-description",
    }
    assert built["types"]["v1.charge.succeeded"]["source"] == "v1-catalogue"
    assert built["v1_objects"] == {
        "balance": {"singleton": True, "url": "/v1/balance"},
        "charge": {"url": "/v1/charges/{id}"},
    }
    assert "v2.core.account[future_requirements].updated" in built["types"]


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("v1.payment_intent.succeeded", "succeeded"),
        ("v1.payment_intent.canceled", "canceled"),
        ("v1.payout.failed", "failed"),
        ("v1.invoice.paid", "paid"),
        ("v1.customer.subscription.deleted", "canceled"),
    ],
)
def test_the_object_a_v1_notification_fetches_is_in_its_types_state(name: str, status: str) -> None:
    event = build_thin_event(name, account=DEFAULT_CONNECTED_ACCOUNT, created=1_800_000_000)
    with FakeStripeAPI() as fake:
        fake.register_event(event)
        client = stripe.StripeClient(
            "sk_test_thin_states", base_addresses={"api": fake.url}, max_network_retries=0
        )
        notification = client.parse_event_notification(event.body, signed(event.body), SECRET)
        fetched = notification.fetch_related_object()  # type: ignore[attr-defined]
    obj = fetched.to_dict()
    assert obj["status"] == status
    assert obj["created"] < 1_800_000_000
    snapshot = build_event(name[3:], account=DEFAULT_CONNECTED_ACCOUNT, created=1_800_000_000)
    assert contradictions({**snapshot.payload, "data": {"object": obj}}) == []
