"""Contradictions in an event: what a reader of Stripe's docs would call impossible data.

:func:`contradictions` reads one event payload and lists, one sentence each, where its object
disagrees with the state its type names (:mod:`connect_harness.lifecycle.event_states`), where the
fields a status implies are missing (a failed payout without a ``failure_code``), where times are out
of order, amounts do not add up, a list says it has more items than it shows none, or
``previous_attributes`` names a value the field cannot have or the value it has now. The tests run it
over every type of every contract set; it is the state model's own referee, not a contract check
against endpoints.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

from connect_harness.lifecycle import event_states, reversal_lists, states
from connect_harness.spec import contracts

__all__ = ["contradictions", "object_contradictions"]


def contradictions(
    payload: Mapping[str, Any], *, version: str | None = None, history: bool = False
) -> list[str]:
    """Every contradiction in the event ``payload`` (empty: none found).

    ``history``: the object lived before the event (one the fake API acted on, not one made from an
    example): a time the state puts at or before the change (``finalized_at``, ``paid_at``) need
    only be set and not later than the event, and what it keeps from its history
    (:class:`~connect_harness.lifecycle.states.Keep`) need only be set where the state sets it.
    """
    shapes = contracts.resolve_version(version or str(payload.get("api_version"))).shapes
    event_type = str(payload["type"])
    obj = payload["data"]["object"]
    object_type = str(obj.get("object"))
    at = payload["created"]
    found = _state(event_type, object_type, obj, at, shapes, history)
    found += object_contradictions(obj, at=at)
    previous = payload["data"].get("previous_attributes")
    if isinstance(previous, Mapping):
        found += _previous(previous, obj, object_type, shapes)
    return found


def object_contradictions(obj: Mapping[str, Any], *, at: int) -> list[str]:
    """What is impossible in ``obj`` alone as of the unix time ``at`` (no event type to compare with):
    times out of order, amounts that do not add up, the fields its status implies, lists claiming
    items they do not show. For the fake API's objects after a transition, as for events'."""
    found = _times(obj, at)
    found += _invariants(str(obj.get("object")), obj)
    found += [f"{path}: has_more is true but data is empty" for path in _empty_lists(obj, "object")]
    found += reversal_lists.reversal_contradictions(obj)
    return found


def _state(
    event_type: str,
    object_type: str,
    obj: Mapping[str, Any],
    at: int,
    shapes: str,
    history: bool = False,
) -> list[str]:
    known = event_states.event_state(event_type, object_type, shapes)
    candidates = [known.state, *event_states.alternatives(event_type)]
    if known.state is None:
        status = obj.get("status")
        if not (isinstance(status, str) and status in states.known_states(object_type)):
            return []
        candidates = [status]
    misses: list[str] = []
    for index, name in enumerate(candidates):
        assert name is not None
        rule = states.state_of(object_type, name)
        wrong = _mismatches(rule, obj, at, history)
        if rule.status is not None and "status" in obj and obj["status"] != rule.status:
            wrong.insert(0, f"status is {obj['status']!r}, {event_type} says {rule.status!r}")
        if not wrong:
            return []
        if index == 0:
            misses = wrong
    return misses


def _mismatches(
    rule: states.State, obj: Mapping[str, Any], at: int, history: bool = False
) -> list[str]:
    wrong = []
    for path, expected in rule.fields.items():
        parent, _, key = path.rpartition(".")
        holder = obj.get(parent) if parent else obj
        if not isinstance(holder, Mapping) or key not in holder:
            continue
        actual = holder[key]
        if history and isinstance(expected, (states.Keep, states.At)):
            kept = expected.value if isinstance(expected, states.Keep) else expected
            if kept is not None and actual is None:
                wrong.append(f"{path} is None: the state sets it")
            elif isinstance(kept, states.At) and isinstance(actual, int) and actual > at:
                wrong.append(f"{path} is {actual}, after the event ({at})")
            continue
        if isinstance(expected, states.Keep):  # events are made fresh: no history of their own
            expected = expected.value
        if isinstance(expected, states.Link):
            if not isinstance(actual, str) or not actual:
                wrong.append(f"{path} is {actual!r}: the state names a {expected.object_type}")
            continue
        if isinstance(expected, states.Part):
            whole = obj.get(expected.field)
            if (
                isinstance(whole, int)
                and whole >= 2
                and not (isinstance(actual, int) and 0 < actual < whole)
            ):
                wrong.append(f"{path} is {actual!r}: a part of {expected.field} {whole}")
            continue
        want = _value(expected, obj, at)
        if actual != want:
            wrong.append(f"{path} is {actual!r}, the state says {want!r}")
    return wrong


def _value(expected: Any, obj: Mapping[str, Any], at: int) -> Any:
    if isinstance(expected, states.At):
        return states.before(at, expected.seconds)
    if isinstance(expected, states.Copy):
        found = obj.get(expected.field)
        return found + expected.plus if isinstance(found, int) else found
    if isinstance(expected, dict):
        return {key: _value(item, obj, at) for key, item in expected.items()}
    return expected


_TIMES = (
    "canceled_at",
    "ended_at",
    "voided_at",
    "completed_at",
    "released_at",
    "delivered_at",
    "confirmed_at",
    "delayed_at",
    "product_substituted_at",
    "status_transitions",
)


def _times(obj: Mapping[str, Any], at: int) -> list[str]:
    created = obj.get("created")
    if not isinstance(created, int) or isinstance(created, bool):
        return []
    found = []
    if created > at:
        found.append(f"created {created} is after the event's created {at}")
    for key in _TIMES:
        value = obj.get(key)
        times = value.items() if isinstance(value, Mapping) else [(key, value)]
        for name, stamp in times:
            if (
                isinstance(stamp, int)
                and not isinstance(stamp, bool)
                and not created <= stamp <= at
            ):
                found.append(f"{name} {stamp} is not between created {created} and the event {at}")
    return found


def _int(obj: Mapping[str, Any], key: str) -> int | None:
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _invariants(object_type: str, obj: Mapping[str, Any]) -> list[str]:
    checks = _CHECKS.get(object_type)
    return list(checks(obj)) if checks is not None else []


def _charge(obj: Mapping[str, Any]) -> Iterator[str]:
    amount, captured = _int(obj, "amount"), _int(obj, "amount_captured")
    refunded = _int(obj, "amount_refunded")
    if amount is not None and captured is not None and refunded is not None:
        if not 0 <= refunded <= max(captured, 0) <= amount and not (refunded == 0 == captured):
            yield f"amount_refunded {refunded} and amount_captured {captured} do not fit amount {amount}"
        if obj.get("refunded") is True and refunded != amount:
            yield f"refunded is true but amount_refunded {refunded} is not amount {amount}"
        if obj.get("refunded") is False and amount and refunded == amount:
            yield "refunded is false but the whole amount is refunded"
    if obj.get("captured") is False and captured:
        yield f"captured is false but amount_captured is {captured}"
    if obj.get("status") == "failed" and obj.get("failure_code") is None and "failure_code" in obj:
        yield "a failed charge without a failure_code"
    if obj.get("status") == "succeeded" and obj.get("failure_code") is not None:
        yield "a succeeded charge with a failure_code"


def _payment_intent(obj: Mapping[str, Any]) -> Iterator[str]:
    status, amount, received = obj.get("status"), _int(obj, "amount"), _int(obj, "amount_received")
    if amount is not None and received is not None:
        if status == "succeeded" and amount > 0 and received == 0:
            yield "a succeeded payment intent that received 0"
        if received > amount:
            yield f"amount_received {received} is more than amount {amount}"
    if status == "succeeded" and "latest_charge" in obj and obj["latest_charge"] is None:
        yield "a succeeded payment intent without latest_charge"
    if "canceled_at" in obj and (status == "canceled") != (obj["canceled_at"] is not None):
        yield f"status {status!r} with canceled_at {obj['canceled_at']!r}"
    if status == "requires_action" and obj.get("next_action") is None and "next_action" in obj:
        yield "requires_action without a next_action"


def _invoice(obj: Mapping[str, Any]) -> Iterator[str]:
    status = obj.get("status")
    due, paid, remaining = (
        _int(obj, key) for key in ("amount_due", "amount_paid", "amount_remaining")
    )
    if "paid" in obj and obj["paid"] is not (status == "paid"):
        yield f"paid is {obj['paid']!r} on a {status} invoice"
    if due is None or paid is None or remaining is None:
        return
    if status == "paid" and (remaining != 0 or paid < due):
        yield f"a paid invoice with amount_paid {paid}, amount_remaining {remaining} of {due}"
    if status in {"draft", "open", "uncollectible"} and paid + remaining != due:
        yield f"amount_paid {paid} + amount_remaining {remaining} is not amount_due {due}"


def _subscription(obj: Mapping[str, Any]) -> Iterator[str]:
    status = obj.get("status")
    if "ended_at" in obj and (status in {"canceled", "incomplete_expired"}) != (
        obj["ended_at"] is not None
    ):
        yield f"status {status!r} with ended_at {obj['ended_at']!r}"
    if status == "canceled" and obj.get("canceled_at") is None:
        yield "a canceled subscription without canceled_at"
    start, end = _int(obj, "trial_start"), _int(obj, "trial_end")
    if start is not None and end is not None and start > end:
        yield f"trial_start {start} is after trial_end {end}"
    if status == "trialing" and "trial_end" in obj and end is None:
        yield "a trialing subscription without trial_end"


def _payout(obj: Mapping[str, Any]) -> Iterator[str]:
    if "failure_code" in obj and (obj.get("status") == "failed") != (
        obj["failure_code"] is not None
    ):
        yield f"status {obj.get('status')!r} with failure_code {obj['failure_code']!r}"


def _reversible(amount_key: str, flag: str) -> Any:
    def check(obj: Mapping[str, Any]) -> Iterator[str]:
        amount, done = _int(obj, "amount"), _int(obj, amount_key)
        if amount is None or done is None:
            return
        if not 0 <= done <= amount:
            yield f"{amount_key} {done} is not within amount {amount}"
        if obj.get(flag) is True and done != amount:
            yield f"{flag} is true but {amount_key} {done} is not amount {amount}"
        if obj.get(flag) is False and amount and done == amount:
            yield f"{flag} is false but {amount_key} is the whole amount"

    return check


_CHECKS = {
    "charge": _charge,
    "payment_intent": _payment_intent,
    "invoice": _invoice,
    "subscription": _subscription,
    "payout": _payout,
    "transfer": _reversible("amount_reversed", "reversed"),
    "application_fee": _reversible("amount_refunded", "refunded"),
}


def _empty_lists(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, Mapping):
        if (
            value.get("object") == "list"
            and value.get("has_more") is True
            and not value.get("data")
        ):
            yield path
        for key, item in value.items():
            yield from _empty_lists(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _empty_lists(item, f"{path}.{index}")


def _previous(
    previous: Mapping[str, Any], obj: Mapping[str, Any], object_type: str, shapes: str
) -> list[str]:
    found = []
    for key, value in previous.items():
        if key not in obj:
            found.append(f"previous_attributes.{key}: the object has no {key}")
            continue
        before = copy.deepcopy(dict(obj))
        if isinstance(value, Mapping) and isinstance(obj[key], Mapping):
            before[key] = _merged(obj[key], value)  # Stripe names only the sub-fields that changed
        else:
            before[key] = value
        if before[key] == obj[key]:
            found.append(f"previous_attributes.{key} is its current value {value!r}")
            continue
        errors = contracts.validate_object(object_type, before, version=shapes)
        if errors:
            found.append(
                f"previous_attributes.{key} = {value!r} is not a value it can have: {errors[0]}"
            )
    return found


def _merged(current: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    for key, value in previous.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged
