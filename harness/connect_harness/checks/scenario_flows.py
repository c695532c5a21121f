"""Scenarios run as flows: the API calls against a fake Stripe API of their own, its events delivered.

A scenario with a flow (:mod:`connect_harness.events.scenarios`) is acted out on a private
:class:`~connect_harness.stripe_api.fake.FakeStripeAPI` rendering in the endpoint's API version, as
the connected account (or the platform); the events it emits are Stripe's for those calls, in
Stripe's order, with Connect's ``account``. The scenario's steps pick the ones the endpoint receives.
What the run's fake needs besides the events is :attr:`ScenarioWorld.objects`: every object the
flow made, in its latest state, so a fetch during any delivery order sees what Stripe would serve.

The same arguments give the same bytes: the private fake reads a clock of ours (one minute a
request from :data:`~connect_harness.events.build.DEFAULT_CREATED`), makes ids from its own
counters, and every id it made is then renamed for the scenario, seed, owner and mode (and every
event gets :func:`~connect_harness.events.scenarios.event_id`), so two orders or seeds of one
scenario never share an object. A flow runs once per process for each set of arguments (cached).
"""

from __future__ import annotations

import functools
import itertools
import json
import random
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from connect_harness.errors import HarnessError
from connect_harness.events.build import (
    DEFAULT_CONNECTED_ACCOUNT,
    DEFAULT_CREATED,
    Event,
    render_body,
)
from connect_harness.events.ids import stripe_id
from connect_harness.events.scenarios import (
    STEP_SECONDS,
    Scenario,
    built_scenario,
    check_scenario_arguments,
    event_id,
    reorder,
)
from connect_harness.lifecycle.fixtures import Reply, Request, encode_form, run_fixture

__all__ = ["ScenarioWorld", "build_scenario", "scenario_world"]

#: The keys a scenario's flow authenticates with: fakes, never a real key.
_TEST_KEY = "sk_test_connect_harness_scenario"
_LIVE_KEY = "sk_live_connect_harness_scenario"
#: The time the fixture format's ``${time-now-RFC3339}`` gives a scenario's flow.
_NOW_RFC3339 = "2009-02-13T23:31:30Z"


@dataclass(frozen=True)
class ScenarioWorld:
    """A scenario's events in Stripe's order and the objects they leave behind, latest state."""

    events: tuple[Event, ...]
    #: Every object the flow made, as the fake serves it after the flow (ids renamed as the events').
    objects: tuple[Mapping[str, Any], ...]
    #: Who owns :attr:`objects`: the connected account the flow acted as (None: the platform).
    owner: str | None
    livemode: bool

    def latest(self) -> dict[str, Mapping[str, Any]]:
        """:attr:`objects` by id."""
        return {str(obj["id"]): obj for obj in self.objects if isinstance(obj.get("id"), str)}


def build_scenario(
    name: str,
    *,
    account: str | None = DEFAULT_CONNECTED_ACCOUNT,
    livemode: bool = False,
    seed: int = 0,
    order: str = "stripe",
    api_version: str | None = None,
) -> tuple[Event, ...]:
    """The events of scenario ``name`` for connected account ``account``, in ``order``.

    A scenario with a flow is acted out on a fake Stripe API of its own, which emits its events
    (``connect-harness scenarios`` says which do and why the others are built from the contracts).
    With ``account=None`` the flow acts as the platform (a scenario with events only a connected
    account receives, such as ``onboarding``, then is a UsageError). ``order``: one of
    :data:`~connect_harness.events.scenarios.ORDERS`. The same arguments always give the same bytes.
    """
    world = scenario_world(
        name, account=account, livemode=livemode, seed=seed, api_version=api_version, order=order
    )
    return reorder(world.events, order, name=name, seed=seed)


def scenario_world(
    name: str,
    *,
    account: str | None = DEFAULT_CONNECTED_ACCOUNT,
    livemode: bool = False,
    seed: int = 0,
    api_version: str | None = None,
    order: str = "stripe",
) -> ScenarioWorld:
    """Scenario ``name``'s events (Stripe's order) and the latest state of the objects they name."""
    flow = check_scenario_arguments(
        name, account=account, livemode=livemode, seed=seed, order=order
    )
    if flow.fixture is None:
        events = built_scenario(
            name, account=account, livemode=livemode, seed=seed, api_version=api_version
        )
        return ScenarioWorld(events, (), account, livemode)
    owner = account if any(step.connect for step in flow.steps) else None
    return _flow_world(name, owner, livemode, seed, api_version)


_LOCK = threading.Lock()


#: The connected account a flow acts as; each scenario's events then name the account asked for.
_ACTOR = stripe_id("acct", "connect_harness", "scenario", "actor")


@dataclass(frozen=True)
class _FlowRun:
    """One run of a scenario's flow: the events its steps pick and the objects it made."""

    events: tuple[Event, ...]
    made: tuple[str, ...]
    objects: tuple[Mapping[str, Any], ...]


@functools.lru_cache(maxsize=32)
def _flow_run(name: str, connect: bool, livemode: bool, api_version: str | None) -> _FlowRun:
    """Run the flow once per process for each mode and version (a verify run delivers a scenario
    for several accounts and seeds: :func:`_flow_world` renames, it does not run again)."""
    from connect_harness.events.scenarios import scenario
    from connect_harness.stripe_api.fake import FakeStripeAPI

    flow = scenario(name)
    fixture = flow.fixture
    assert fixture is not None
    owner = _ACTOR if connect else None
    ticks = itertools.count()
    emitted: list[Event] = []
    fake = FakeStripeAPI(
        api_version=api_version, clock=lambda: DEFAULT_CREATED + STEP_SECONDS * next(ticks)
    )
    # A scenario delivers snapshot events; thin ones (a meter's reports) are not in any of its flows.
    fake.on_event(lambda event: emitted.append(event) if isinstance(event, Event) else None)
    uuids = random.Random(f"{name}:{connect}:{livemode}")
    with _LOCK, fake:  # one flow at a time: a run's threads would otherwise start many fakes
        if owner is not None:
            fake.register_object({"id": owner, "object": "account"}, account=owner)
        run_fixture(
            fixture,
            _sender(fake.url, owner, livemode),
            env={},
            now=lambda: _NOW_RFC3339,
            new_uuid=lambda: str(uuid.UUID(int=uuids.getrandbits(128), version=4)),
        )
        picked = _steps(flow, emitted)
        made = sorted(_made_ids(fake.current_object, [event.payload for event in picked]))
        latest = [fake.current_object(object_id) for object_id in made]
    return _FlowRun(tuple(picked), tuple(made), tuple(obj for obj in latest if obj is not None))


@functools.lru_cache(maxsize=128)
def _flow_world(
    name: str, owner: str | None, livemode: bool, seed: int, api_version: str | None
) -> ScenarioWorld:
    run = _flow_run(name, owner is not None, livemode, api_version)
    renamed = {
        object_id: _renamed(object_id, name, seed, owner, livemode) for object_id in run.made
    }
    for index, event in enumerate(run.events):
        renamed[event.id] = event_id(name, seed, index, event.type, owner, livemode)
    if owner is not None:
        renamed[_ACTOR] = owner
    events = tuple(_renamed_events(list(run.events), renamed))
    objects = tuple(json.loads(_replace(json.dumps(obj), renamed)) for obj in run.objects)
    return ScenarioWorld(events, objects, owner, livemode)


def _steps(flow: Scenario, emitted: list[Event]) -> list[Event]:
    """The emitted events the scenario's steps name, in order (each step the next of its type)."""
    picked: list[Event] = []
    remaining = iter(emitted)
    for step in flow.steps:
        found = next((event for event in remaining if event.type == step.event_type), None)
        if found is None:
            raise HarnessError(
                f"scenario {flow.name!r}: its flow emitted no {step.event_type} where the "
                f"scenario expects one (emitted: {', '.join(e.type for e in emitted)}); "
                "this is a bug in connect_harness"
            )
        picked.append(found)
    return picked


def _made_ids(
    current: Callable[[str], dict[str, Any] | None], payloads: list[Mapping[str, Any]]
) -> set[str]:
    """Every object id the events name that the private fake knows (and what those name), but
    accounts: the connected account and the platform keep their ids."""
    found: set[str] = set()
    queue: list[Any] = list(payloads)
    while queue:
        for text in _strings(queue.pop()):
            if text in found or text.startswith(("acct_", "evt_")) or "_" not in text:
                continue
            obj = current(text)
            if obj is not None:
                found.add(text)
                queue.append(obj)
    return found


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _renamed(object_id: str, name: str, seed: int, owner: str | None, livemode: bool) -> str:
    prefix = object_id.rsplit("_", 1)[0]
    return stripe_id(prefix, "scenario", name, seed, object_id, owner or "platform", livemode)


def _replace(text: str, renamed: Mapping[str, str]) -> str:
    # Longest first: a client secret (pi_X_secret_Y) holds its intent's id.
    for old in sorted(renamed, key=len, reverse=True):
        text = text.replace(old, renamed[old])
    return text


def _renamed_events(picked: list[Event], renamed: Mapping[str, str]) -> Iterator[Event]:
    """The events with their ids renamed, each ``created`` a second after the one before at least:
    the events one request causes share its second on the fake, and an endpoint that orders a
    scenario's events by ``created`` should find Stripe's order there."""
    last = -1
    for event in picked:
        payload = json.loads(_replace(event.body.decode("utf-8"), renamed))
        payload["created"] = last = max(int(payload["created"]), last + 1)
        yield Event(event.type, payload, render_body(payload), event.seed)


def _sender(base_url: str, owner: str | None, livemode: bool) -> Callable[[Request], Reply]:
    """A flow's requests to the private fake: form-encoded, as the connected account."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def send(request: Request) -> Reply:
        headers = {"Authorization": f"Bearer {_LIVE_KEY if livemode else _TEST_KEY}"}
        if owner is not None:
            headers["Stripe-Account"] = owner
        headers.update(request.headers)
        url = base_url + request.path
        form = urllib.parse.urlencode(encode_form(request.params))
        data = None
        if request.method == "post":
            data = form.encode("utf-8")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif form:
            url += "?" + form
        call = urllib.request.Request(
            url, data=data, method=request.method.upper(), headers=headers
        )
        try:
            with opener.open(call, timeout=60) as answer:
                return Reply(answer.status, json.loads(answer.read()))
        except urllib.error.HTTPError as err:
            with err:
                return Reply(err.code, json.loads(err.read()))

    return send
