"""Which delivery each API call served, or none: by timing, or by what the call names.

The fake API labels each call with the delivery last started (:meth:`FakeStripeAPI.delivery`). That
label is the truth for an endpoint that does its work before answering: its calls all arrive while
their delivery waits for its answer. An endpoint that answers first and works later (as Stripe
advises) makes its calls after the answer, often while a later delivery is under way, so the label
names the wrong delivery. Once any call arrived after its delivery was answered (between
deliveries, or during a later one whose event names none of what it names while an answered
earlier one does), every call is tied by observable facts only:

* it can only serve a delivery that started before it arrived (the fake's per-call timestamps);
* an id it names (path, parameters, an Idempotency-Key derived from an event id) that appears in
  exactly one of those deliveries' events ties it to that event;
* when several events remain, the connected account it acts as (``Stripe-Account``) may leave one.

Copies of one event (a redelivery, a duplicate) cannot be told apart by content: a call tied to such
an event goes to its first copy, so no check blames a redelivery for the first copy's work. A call
that none of this ties to exactly one event is tied to none (:attr:`Attribution.ambiguous`), and the
checks judge it only by the object it touches, saying so, rather than blame a delivery for it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from connect_harness.stripe_api.calls import STRIPE_ID, ApiCall

__all__ = ["Attribution", "attribute", "names_its_event", "resolve_concurrent"]


class _Record(Protocol):
    @property
    def label(self) -> str: ...
    @property
    def started(self) -> float: ...
    @property
    def finished(self) -> float: ...
    @property
    def account(self) -> str | None: ...
    @property
    def request(self) -> _Request: ...


class _Request(Protocol):
    @property
    def body(self) -> bytes: ...


@dataclass(frozen=True)
class Attribution:
    """Calls by the label of the delivery they served; the calls tied to none."""

    by_label: dict[str, tuple[ApiCall, ...]]
    #: Calls made outside every delivery of the run (before the first, or another run's).
    outside: tuple[ApiCall, ...]
    #: Calls made after an answer that no observable fact ties to exactly one delivered event.
    ambiguous: tuple[ApiCall, ...]
    #: True when some call arrived after its delivery was answered (attribution by content).
    after_answering: bool


def attribute(records: Sequence[_Record], calls: Sequence[ApiCall]) -> Attribution:
    """Tie each of ``calls`` to one of ``records`` (by label) or to none; see the module."""
    labels: dict[str, list[_Record]] = {}
    for record in records:
        labels.setdefault(record.label, []).append(record)
    inside = [call for call in calls if call.delivery in labels]
    outside = tuple(call for call in calls if call.delivery not in labels)
    # Late: after its delivery was answered, or before it started (a call of an earlier one), or
    # naming only what an answered earlier delivery named (work for it, landing in a later one).
    answered = _Answered(records)
    late = any(not _within(call, labels[str(call.delivery)]) for call in inside) or any(
        answered.served_by(call, labels[str(call.delivery)]) for call in inside
    )
    by_label: dict[str, list[ApiCall]] = {}
    ambiguous: list[ApiCall] = []
    if not late:
        for call in inside:
            by_label.setdefault(str(call.delivery), []).append(call)
    else:
        events = [_EventOf(record) for record in records]
        for call in inside:
            label = _by_content(call, events)
            if label is None:
                ambiguous.append(call)
            else:
                by_label.setdefault(label, []).append(call)
    return Attribution(
        by_label={label: tuple(found) for label, found in by_label.items()},
        outside=outside,
        ambiguous=tuple(ambiguous),
        after_answering=late,
    )


def _within(call: ApiCall, records: Sequence[_Record]) -> bool:
    started = min(record.started for record in records)
    return started <= call.at <= max(record.finished for record in records)


class _Answered:
    """Which deliveries name which ids, read from the bodies once, when first needed."""

    def __init__(self, records: Sequence[_Record]) -> None:
        self.records = records
        self._naming: dict[str, list[tuple[float, str]]] | None = None

    def served_by(self, call: ApiCall, own: Sequence[_Record]) -> bool:
        """True if ``call`` names ids, none of them in the delivery it arrived during (``own``),
        and one named by a delivery answered before it arrived: work for that delivery, done
        after its answer.

        A call made while a delivery is handled usually names that delivery's event. One that
        names only an earlier, answered event's objects is either late work for it (an endpoint
        that answers first) or work that reaches back through stored state: tying it by content
        is right for both, since the event naming the object fixes the account and mode the call
        must use."""
        names = call.named_ids()
        if not names or any(not names.isdisjoint(_ids(record.request.body)) for record in own):
            return False
        naming = self._index()
        return any(
            finished <= call.at and label != call.delivery
            for name in names
            for finished, label in naming.get(name, ())
        )

    def _index(self) -> dict[str, list[tuple[float, str]]]:
        if self._naming is None:
            self._naming = {}
            for record in self.records:
                for name in _ids(record.request.body):
                    self._naming.setdefault(name, []).append((record.finished, record.label))
        return self._naming


@functools.lru_cache(maxsize=4096)
def _ids(body: bytes) -> frozenset[str]:
    """The Stripe ids a delivered body names (read once per body: a run judges its records often)."""
    return frozenset(STRIPE_ID.findall(body.decode("utf-8", "replace")))


class _EventOf:
    """A delivery's event as attribution sees it: id, account, start, and the ids its body names."""

    def __init__(self, record: _Record) -> None:
        self.label = record.label
        self.started = record.started
        self.account = record.account
        self.ids = _ids(record.request.body)
        event_id = _event_id(record.request.body)
        # Bodies that are not events (bad JSON, tampered copies) stand for themselves.
        self.key = event_id if event_id is not None else f"delivery:{record.label}"


@functools.lru_cache(maxsize=4096)
def _event_id(body: bytes) -> str | None:
    """The ``id`` of a delivered event body, None if it is not one (read once per body)."""
    try:
        payload = json.loads(body.decode("utf-8", "replace"))
    except ValueError:
        return None
    event_id = payload.get("id") if isinstance(payload, dict) else None
    return event_id if isinstance(event_id, str) else None


def _by_content(call: ApiCall, events: Sequence[_EventOf]) -> str | None:
    started = [event for event in events if event.started <= call.at]
    candidates: set[str] | None = None
    names = call.named_ids()
    for name in names:
        having = {event.key for event in started if name in event.ids}
        if len(having) == 1:
            candidates = having if candidates is None else candidates & having
            if not candidates:
                return None  # two ids, each unique to a different event
    if candidates is None:
        # No id unique to one event: the account it acts as may still leave one event of those
        # naming what it names.
        if not names or call.stripe_account is None:
            return None
        having = {
            event.key
            for event in started
            if event.account == call.stripe_account and not names.isdisjoint(event.ids)
        }
        if len(having) != 1:
            return None
        candidates = having
    (key,) = candidates
    # Copies of one event cannot be told apart: the first copy.
    return next(event.label for event in started if event.key == key)


def names_its_event(record: _Record, call: ApiCall) -> bool:
    """True if ``call`` names an id that ``record``'s delivered body carries (its object, the event
    id in an Idempotency-Key, a nested reference): content, not timing, ties the two."""
    return not call.named_ids().isdisjoint(_ids(record.request.body))


def resolve_concurrent(
    call: ApiCall, batch: Sequence[_Record], records: Sequence[_Record]
) -> str | None:
    """The label of the delivery ``call`` served, made while the deliveries ``batch`` were in
    flight together (or after them), or None when content does not tie it to exactly one.

    The fake cannot tell which of several concurrent deliveries a call came for, so timing says
    nothing and content decides, as for a late call: an id the call names that exactly one event
    of ``records`` (every delivery started before it) carries, or the account it acts as among
    those naming what it names (:func:`attribute`). Else, within ``batch`` only (whose events
    name no object of one another's): the deliveries whose events name what the call names (as
    one sent alone would have got it: an earlier event naming the same object would not have
    taken the call from it either), narrowed while more than one is left to those whose mode is
    the key's, then to the one whose connected account is the call's ``Stripe-Account``; a call
    naming nothing must match both.
    """
    started = [record for record in records if record.started <= call.at]
    label = _by_content(call, [_EventOf(record) for record in started])
    if label is not None:
        return label
    names = call.named_ids()
    in_flight = [record for record in batch if record.started <= call.at]
    if names:
        in_flight = [r for r in in_flight if not names.isdisjoint(_ids(r.request.body))]
    if len(in_flight) > 1 and call.key_mode is not None:
        live = call.key_mode == "live"
        in_flight = [r for r in in_flight if getattr(r, "livemode", None) is live]
    if len(in_flight) > 1 or (len(in_flight) == 1 and not names):
        in_flight = [r for r in in_flight if r.account == call.stripe_account]
    return in_flight[0].label if len(in_flight) == 1 else None
