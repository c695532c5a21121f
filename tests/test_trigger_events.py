"""Every flow, run offline against a FakeStripeAPI, makes the fake emit the event types Stripe emits for
it, in order: tests/data/trigger_events.json, written from Stripe's documentation (each event type's
"Occurs when..." text and the docs pages it names), not from the fake's code.

The fake's emissions land in parts (payments, then billing and Connect). PENDING lists the trigger
names whose events the fake does not give yet, each with why: each of those still runs, and the day its
events match the table the test fails and asks for the name to leave the list, so the list can only
shrink to empty.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from connect_harness.cli.flows import FlowOptions, run_flow
from connect_harness.errors import HarnessError
from connect_harness.events.build import Event
from connect_harness.lifecycle.fixtures import flow_names, load_flow
from connect_harness.stripe_api.server import FakeStripeAPI

TABLE = json.loads(
    (Path(__file__).parent / "data" / "trigger_events.json").read_text(encoding="utf-8")
)["triggers"]

#: Trigger names whose flow the fake does not yet answer with Stripe's events, each with why (the fake's
#: emissions land in parts: fakelife payments, fakebill billing and Connect). Must shrink to empty.
PENDING = {
    "subscription_schedule.expiring": "two sources disagree and we do not invent a threshold: "
    "Stripe's event description says subscription_schedule.expiring 'Occurs 7 days before a "
    "subscription schedule will expire', while the Stripe CLI's fixture advances its clock to 9 "
    "days before the schedule's end (2020-01-20, end 2020-01-29) and was reported by Stripe as "
    "emitting it (stripe/stripe-cli PR #1462, 'Manual: stripe trigger "
    "subscription_schedule.expiring'); the fake sends it 7 days before, as documented, so this "
    "flow's advance does not reach it",
}

#: Flows whose params are the Stripe CLI's for API versions before Stripe removed them (``coupon`` on
#: customers and promotion codes, ``phases[].iterations`` on schedules): run at 2023-08-16, as a
#: user does with ``--api-version 2023-08-16`` (docs/trigger.md).
OLDER_VERSION = {
    "customer.discount.created",
    "customer.discount.deleted",
    "customer.discount.updated",
    "promotion_code.created",
    "promotion_code.updated",
    "subscription_schedule.canceled",
    "subscription_schedule.completed",
    "subscription_schedule.created",
    "subscription_schedule.released",
    "subscription_schedule.updated",
}


def test_the_table_covers_every_trigger_name_with_a_source() -> None:
    assert sorted(TABLE) == sorted(flow_names())
    assert set(PENDING).issubset(TABLE) and OLDER_VERSION.issubset(TABLE)
    for name, entry in TABLE.items():
        assert entry["events"] and entry["source"], name
        assert all(isinstance(event, str) for event in entry["events"]), name


def emitted_types(name: str) -> tuple[list[str], str | None]:
    """The types the fake emits for ``name``'s flow, and the refusal that stopped it, if any."""
    emitted: list[Event] = []
    fake = FakeStripeAPI()
    fake.on_event(emitted.append)
    refused = None
    with fake:
        try:
            version = "2023-08-16" if name in OLDER_VERSION else None
            run_flow(load_flow(name), fake.url, FlowOptions(api_version=version))
        except HarnessError as err:  # refused, or an answer lacking what a later step uses
            refused = str(err)
    return [event.type for event in emitted], refused


@pytest.mark.exhaustive
@pytest.mark.parametrize("name", sorted(TABLE))
def test_the_fake_emits_what_stripe_emits_for_each_flow(name: str) -> None:
    want = TABLE[name]["events"]
    got, refused = emitted_types(name)
    if name in PENDING:
        if got == want and refused is None:
            pytest.fail(f"{name} now emits what Stripe emits: remove it from PENDING")
        pytest.skip(
            f"PENDING {name}: {PENDING[name]}; the fake emitted {got} ({refused or 'not refused'})"
        )
    assert refused is None, refused
    assert got == want


SPEC = Path(
    os.environ.get("CONNECT_HARNESS_STRIPE_SPEC")
    or Path(__file__).resolve().parents[2] / "shared" / "stripe-spec"
)


@pytest.mark.skipif(
    not (SPEC / "event_catalogue.2026-10-28.json").is_file(),
    reason=f"Stripe's data (the event catalogue) is not at {SPEC}",
)
def test_every_quoted_description_is_stripes_and_every_type_is_one_stripe_has() -> None:
    """The table cites each event type's own 'Occurs when...' text: each quote is in Stripe's
    description (markdown dropped), and each listed type is a v1 type or a thin one."""
    catalogue = json.loads((SPEC / "event_catalogue.2026-10-28.json").read_text("utf-8"))["events"]
    thin = (SPEC / "openapi.v2.preview.2025-12-15.json").read_text("utf-8")

    def plain(text: str) -> str:
        return re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text).replace("`", "").rstrip(".")

    texts = [plain(entry["description"]) for entry in catalogue.values()]
    for name, entry in TABLE.items():
        for event_type in entry["events"]:
            assert event_type in catalogue or f'"{event_type}"' in thin, (name, event_type)
        for quote in re.findall(
            r"'((?:Occurs|Represents)[^']*(?:'[a-z_]+'[^']*)*)'", entry["source"]
        ):
            assert any(quote.rstrip(".") in text for text in texts) or quote in thin, (name, quote)
