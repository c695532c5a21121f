"""Every flow, run offline against a FakeStripeAPI, makes the fake emit the event types Stripe emits for
it, in order: tests/data/trigger_events.json, written from Stripe's documentation (each event type's
"Occurs when..." text and the docs pages it names), not from the fake's code.

The fake's emissions land in parts (payments, then billing and Connect). PENDING lists the trigger
names whose emissions are not merged yet: each of those still runs, and the day its events match the
table the test fails and asks for the name to leave the list, so the list can only shrink to empty.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connect_harness.cli.session import FlowOptions, run_flow
from connect_harness.events.build import Event
from connect_harness.lifecycle.fixtures import FlowRefused, flow_names, load_flow
from connect_harness.stripe_api.server import FakeStripeAPI

TABLE = json.loads(
    (Path(__file__).parent / "data" / "trigger_events.json").read_text(encoding="utf-8")
)["triggers"]

#: Trigger names whose emissions the fake does not have yet (fakelife: payments; fakebill: billing
#: and Connect). Must shrink to empty.
PENDING: frozenset[str] = frozenset(TABLE)


def test_the_table_covers_every_trigger_name_with_a_source() -> None:
    assert sorted(TABLE) == sorted(flow_names())
    for name, entry in TABLE.items():
        assert entry["events"] and entry["source"], name
        assert all(isinstance(event, str) for event in entry["events"]), name


def emitted_types(name: str) -> tuple[list[str], str | None]:
    """The types the fake emits for ``name``'s flow, and the refusal that stopped it, if any."""
    emitted: list[Event] = []
    fake = FakeStripeAPI()
    on_event = getattr(fake, "on_event", None)
    if on_event is None:
        pytest.skip(f"{name}: the fake Stripe API emits no events yet (no on_event); PENDING")
    on_event(emitted.append)
    refused = None
    with fake:
        try:
            run_flow(load_flow(name), fake.url, FlowOptions())
        except FlowRefused as err:
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
        pytest.skip(f"PENDING {name}: the fake emitted {got} ({refused or 'not refused'})")
    assert refused is None, refused
    assert got == want
