"""Template rendering: byte-identical to the full path for every type, permutation and contract set."""

from __future__ import annotations

import dataclasses
import json

import pytest

from connect_harness.errors import UsageError
from connect_harness.events import build, render
from connect_harness.events.build import Event, build_event, full_rendering
from connect_harness.spec import contracts

ACCT = "acct_1PgafTB7WZ01zgkW"
PERMUTATIONS = [(None, False), (None, True), (ACCT, False), (ACCT, True)]


def _both(event_type: str, **kwargs: object) -> tuple[Event, Event]:
    fast = build_event(event_type, **kwargs)  # type: ignore[arg-type]
    with full_rendering():
        full = build_event(event_type, **kwargs)  # type: ignore[arg-type]
    return fast, full


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    build.clear_templates()


@pytest.mark.parametrize("version", contracts.contract_versions())
def test_template_bodies_equal_the_full_path_for_every_type_and_permutation(version: str) -> None:
    rendered = 0
    for event_type in contracts.supported_event_types(version=version):
        info = contracts.event_info(event_type, version=version)
        for object_type in info.objects:
            for account, livemode in PERMUTATIONS:
                common = dict(
                    account=account, livemode=livemode, api_version=version, object_type=object_type
                )
                build_event(event_type, **common)  # type: ignore[arg-type]  # first use: full path
                for seed, created in ((3, 1_700_000_000),):
                    fast, full = _both(event_type, seed=seed, created=created, **common)
                    assert fast.body == full.body, (event_type, object_type, account, livemode)
                    assert fast.payload == full.payload
                rendered += 1
    cache = build._TEMPLATES._templates
    made = [template for template in cache.values() if template is not None]
    # Every key got a template: none fell back because two of its ids coincided.
    assert len(made) == len(cache) == rendered


def test_the_template_path_is_taken_from_a_keys_second_use() -> None:
    first = build_event("customer.created", account=ACCT, seed=1)
    assert first.__dict__["payload"] is not build._UNPARSED  # full path: built, not parsed
    second = build_event("customer.created", account=ACCT, seed=2)
    third = build_event("customer.created", account=ACCT, seed=3)
    # Rendered: parsed only on demand.
    assert second.__dict__["payload"] is build._UNPARSED is third.__dict__["payload"]
    assert third.payload["id"] == third.id and json.loads(third.body) == third.payload
    assert [t for t in build._TEMPLATES._templates.values() if t is not None]


@pytest.mark.parametrize(
    "extra",
    [
        {"overrides": {"data.object.email": "x@example.com"}},
        {"merge": {"data": {"object": {"metadata": {"k": "v"}}}}},
        {"ascii_only": True},
    ],
)
def test_overrides_merges_and_ascii_only_take_the_full_path(extra: dict[str, object]) -> None:
    for seed in range(3):
        fast, full = _both("customer.created", account=ACCT, seed=seed, **extra)
        assert fast.body == full.body
        assert fast.__dict__["payload"] is not build._UNPARSED
    assert build._TEMPLATES._templates == {}


def test_ids_and_timestamps_vary_in_the_rendered_body() -> None:
    for seed in range(3):
        build_event("payment_intent.succeeded", account=ACCT, seed=seed, created=10 + seed)
    a = build_event("payment_intent.succeeded", account=ACCT, seed=7, created=1_800_000_000)
    b = build_event("payment_intent.succeeded", account=ACCT, seed=8, created=1_800_000_001)
    assert a.id != b.id and a.object_id != b.object_id
    assert a.payload["created"] == 1_800_000_000 and b.payload["created"] == 1_800_000_001
    assert str(render.SENTINEL_CREATED).encode() not in a.body


def test_rendered_events_are_plain_dataclasses() -> None:
    for seed in range(3):
        event = build_event("customer.created", seed=seed)
    assert event.__dict__["payload"] is build._UNPARSED
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.body = b"{}"  # type: ignore[misc]
    copy = dataclasses.replace(event, seed=9)
    assert copy.payload == json.loads(event.body) and copy.seed == 9
    with full_rendering():
        assert build_event("customer.created", seed=2) == event
    assert "customer.created" in repr(event)


def test_values_json_renders_differently_from_their_equals_never_reach_a_template() -> None:
    # 1 == True in Python but not in JSON: a template made for True must not render livemode=1.
    # Such values are refused up front (issue 10: wrong types are a UsageError naming the argument).
    for _ in range(3):
        build_event("customer.created", livemode=True, seed=4)
    with pytest.raises(UsageError, match="livemode must be True or False, not 1"):
        build_event("customer.created", livemode=1, seed=4)  # type: ignore[arg-type]
    assert b'"livemode": true,' in build_event("customer.created", livemode=True, seed=4).body


@pytest.mark.parametrize("created", [0, 100, 1_700_000_000])
def test_a_states_times_render_from_the_template_as_on_the_full_path(created: int) -> None:
    # A state's times sit before the event's created (never below 0): each is a slot of its own.
    types = ["invoice.paid", "customer.subscription.trial_will_end", "payment_intent.canceled"]
    for event_type in types:
        templated = [build_event(event_type, created=created, seed=seed).body for seed in (1, 2, 3)]
        with full_rendering():
            full = [build_event(event_type, created=created, seed=seed).body for seed in (1, 2, 3)]
        assert templated == full, event_type
