"""Events the fake's actions emitted, rendered as Stripe renders them.

The envelope is :func:`connect_harness.events.build.build_event`'s (key order, 2-space JSON), with
the action's own ``data.object`` rendered in the endpoint's API version (the fake's
``api_version``, as Stripe renders an event in the version of the endpoint it goes to:
https://docs.stripe.com/webhooks/versioning), the request's ``Request-Id`` and ``Idempotency-Key`` as
``request.id`` / ``request.idempotency_key``, the acting account as ``account`` and the key's mode
as ``livemode``. ``previous_attributes`` goes only with ``*.updated`` events: Stripe's description
of ``data.previous_attributes`` says "only included in events of type ``*.updated``".
"""

from __future__ import annotations

import collections
import json
import threading
from collections.abc import Callable
from typing import Any

from connect_harness.errors import HarnessError
from connect_harness.events.build import Event, build_event, render_body
from connect_harness.events.ids import stripe_id
from connect_harness.events.objects import build_object
from connect_harness.events.thin import ThinEvent
from connect_harness.stripe_api.actions import Pending
from connect_harness.stripe_api.rendering import render_in_version
from connect_harness.stripe_api.store import Store, Stored, shapes_of

__all__ = ["Emissions", "render_emitted"]


def render_emitted(pending: Pending, *, sequence: int) -> Event:
    """The event ``pending`` stands for; ``sequence`` (its place among the fake's emissions) and
    its request id make its ``evt_`` id, so two fakes given the same requests emit the same ids."""
    event_id = stripe_id("evt", "emitted", sequence, pending.request.request_id, pending.type)
    shapes = shapes_of(pending.request.api_version)
    obj = pending.obj if shapes is None else render_in_version(pending.obj, shapes, _reference)
    overrides: dict[str, Any] = {
        "data.object": obj,
        "request.id": pending.request.request_id,
        "request.idempotency_key": pending.request.idempotency_key,
    }
    if pending.type.endswith(".updated"):
        overrides["data.previous_attributes"] = pending.previous_attributes or {}
    object_type = pending.obj.get("object")
    arguments: dict[str, Any] = {
        "account": pending.owner,
        "livemode": pending.livemode,
        "created": pending.request.now,
        "overrides": overrides,
        "object_type": object_type if isinstance(object_type, str) else None,
        "id": event_id,
    }
    try:
        return build_event(pending.type, api_version=pending.request.api_version, **arguments)
    except HarnessError:
        # A contract set older than the event type (an endpoint pinned to 2023-08-16 gets a type
        # added later): the newest set knows it, and Stripe stamps the endpoint's version anyway.
        event = build_event(pending.type, **arguments)
        event.payload["api_version"] = pending.request.api_version
        return Event(event.type, event.payload, render_body(event.payload), event.seed)


def _reference(
    object_type: str, object_id: str | None, owner: str | None, livemode: bool, shapes: str
) -> dict[str, Any]:
    """What the contracts of ``shapes`` build for the object: the fields a version needs that the
    stored state lacks come from it."""
    return build_object(
        object_type, object_id=object_id, account=owner, livemode=livemode, version=shapes
    )


class Emissions:
    """A fake's emitted events: rendered and stored (the events API serves them), kept in order
    for :meth:`FakeStripeAPI.emitted_events`, and handed to the sinks callers registered."""

    def __init__(self, store: Store, *, keep: int | None = None) -> None:
        self._store = store
        self._lock = threading.Lock()  # never held while a sink runs
        #: A fake bounded by ``max_calls`` keeps only its latest ``max_calls`` events (and serves only
        #: those from the events API): one that serves for hours must not grow with every update.
        self._events: collections.deque[Event | ThinEvent] = collections.deque(maxlen=keep)
        self._emitted = 0  # every event's sequence number, including those no longer kept
        self._sinks: list[Callable[[Any], None]] = []
        self._errors: list[str] = []

    def subscribe(self, sink: Callable[[Any], None]) -> Callable[[], None]:
        with self._lock:
            self._sinks.append(sink)

        def unsubscribe() -> None:
            with self._lock:
                if sink in self._sinks:
                    self._sinks.remove(sink)

        return unsubscribe

    def events(self) -> list[Event | ThinEvent]:
        with self._lock:
            return list(self._events)

    def errors(self) -> list[str]:
        with self._lock:
            return list(self._errors)

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
            self._errors.clear()
            self._emitted = 0

    def store(self, pending: list[Pending]) -> list[Event]:
        """Render and store the events a request emitted (called under the fake's store lock)."""
        rendered = []
        for item in pending:
            with self._lock:
                event = render_emitted(item, sequence=self._emitted)
                self._emitted += 1
                if self._events.maxlen is not None and len(self._events) == self._events.maxlen:
                    self._store.events.pop(self._events[0].id, None)
                self._events.append(event)
            self._store.events[event.id] = Stored(
                "event", event.id, item.owner, item.livemode, json.loads(event.body)
            )
            rendered.append(event)
        return rendered

    def store_thin(self, thin: list[ThinEvent]) -> list[ThinEvent]:
        """Keep the thin notifications a request made (the meter event reports) in emission
        order; the v2 side serves them (``GET /v2/core/events/{id}``), not the v1 events API."""
        with self._lock:
            for event in thin:
                self._emitted += 1
                if self._events.maxlen is not None and len(self._events) == self._events.maxlen:
                    self._store.events.pop(self._events[0].id, None)
                self._events.append(event)
        return list(thin)

    def hand_over(self, events: list[Event | ThinEvent]) -> None:
        """Give each event to every sink, in order (called outside the fake's store lock)."""
        with self._lock:
            sinks = list(self._sinks)
        for event in events:
            for sink in sinks:
                try:
                    sink(event)
                except Exception as err:  # a listener's bug must not change Stripe's answer
                    with self._lock:
                        self._errors.append(f"{event.id}: {type(err).__name__}: {err}")
