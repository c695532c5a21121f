"""Carrying out the billing and Connect lifecycle rules on the fake's store.

The rules are data (:mod:`connect_harness.lifecycle.billing`, :mod:`connect_harness.lifecycle.connect`);
these functions refuse what a rule does not allow (through the framework's
:func:`~connect_harness.stripe_api.actions.state_error`), move an object into a state with the
fields Stripe's docs say go with it (:func:`connect_harness.lifecycle.states.apply_state`), work
out ``previous_attributes``, and emit a rule's events in order, each with its object as it was at
that step and for the account that owns it.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterable, Mapping
from typing import Any

from connect_harness.lifecycle import connect, tools
from connect_harness.lifecycle.billing import Rule, rule_for
from connect_harness.lifecycle.states import StateError, apply_state
from connect_harness.stripe_api.actions import ActionContext, Pending, state_error

__all__ = [
    "ACTING",
    "Obj",
    "carry_out",
    "changes",
    "customer_of",
    "doc_url",
    "emit",
    "emit_rule",
    "enter",
    "id_of",
    "keep",
    "metadata_only",
    "refuse_unless",
    "rule_of",
    "set_state",
    "visible",
    "whole",
]

Obj = dict[str, Any]

#: ``owner=ACTING``: events belong to the account the request acts as.
ACTING: Any = object()


# --- the rules, carried out -----------------------------------------------------------------------


def rule_of(object_type: str, verb: str) -> Rule:
    """The billing, Connect or tools rule for ``verb`` on ``object_type`` (a missing one is our
    bug)."""
    found = (
        rule_for(object_type, verb)
        or connect.rule_for(object_type, verb)
        or tools.rule_for(object_type, verb)
    )
    assert found is not None, f"no lifecycle rule for {object_type} {verb}"
    return found


def refuse_unless(rule: Rule, obj: Mapping[str, Any]) -> None:
    """Stripe's 400 when ``obj``'s state does not allow ``rule``'s action (the framework's error)."""
    error = state_error(rule.object_type, rule.action, obj)
    if error is not None:
        raise error


def doc_url(code: str) -> str:
    return "https://stripe.com/docs/error-codes/" + code.replace("_", "-")


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """``previous_attributes``: the old values of what changed (hashes: only their changed keys)."""
    previous: dict[str, Any] = {}
    for name in [*after, *(name for name in before if name not in after)]:
        old, value = before.get(name), after.get(name)
        if old == value:
            continue
        if isinstance(old, dict) and isinstance(value, dict) and name != "items":
            previous[name] = changes(old, value)  # a hash: its changed keys (added ones: null)
        else:
            previous[name] = copy.deepcopy(old)  # a list (an object's items) is given whole
    return previous


def emit_rule(
    ctx: ActionContext,
    rule: Rule,
    objects: Iterable[Mapping[str, Any]],
    *,
    previous: Mapping[str, Any] | None = None,
    owner: Any = ACTING,
    skip: Iterable[str] = (),
    snapshots: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Emit ``rule``'s events in order, each with the one of ``objects`` it carries.

    ``owner`` (default: the acting context's) is the account the events belong to: a connected
    account's events carry it as ``account``. ``snapshots`` gives an event the object as it was
    at that step (``invoice.created`` a draft, though the request ends with it paid).
    """
    by_type = {str(obj.get("object")): obj for obj in objects}
    skipped = set(skip)
    for event_type in rule.emits:
        if event_type in skipped:
            continue
        obj = (snapshots or {}).get(event_type) or by_type.get(_carried(event_type))
        if obj is None:
            continue  # an outcome without that object (no charge when no card was tried)
        if event_type.endswith(".updated") and not previous:
            continue  # "Occurs whenever ... changes": an update that changed nothing emits none
        emit(ctx, event_type, obj, previous if event_type.endswith(".updated") else None, owner)


def emit(
    ctx: ActionContext,
    event_type: str,
    obj: Mapping[str, Any],
    previous: Mapping[str, Any] | None = None,
    owner: Any = ACTING,
) -> None:
    """Emit ``event_type`` with a snapshot of ``obj``, for ``owner``'s account (default: acting)."""
    if owner is ACTING:
        ctx.emit(event_type, obj, previous)
        return
    ctx.emitted.append(
        Pending(
            event_type,
            copy.deepcopy(dict(obj)),
            owner if isinstance(owner, str) else None,
            ctx.live,
            ctx.request,
            copy.deepcopy(dict(previous)) if previous else None,
        )
    )


# The object type an event carries when its name's first part does not say it.
_CARRIED = {
    "customer.subscription.": "subscription",
    "customer.discount.": "discount",
    "account.external_account.": "bank_account",
    "account.application.": "application",
}


def _carried(event_type: str) -> str:
    for prefix, object_type in _CARRIED.items():
        if event_type.startswith(prefix):
            return object_type
    return event_type.rsplit(".", 1)[0]


def carry_out(
    ctx: ActionContext,
    obj: Obj,
    rule: Rule,
    *,
    extra: Iterable[Mapping[str, Any]] = (),
    owner: Any = ACTING,
) -> Obj:
    """Refuse, move ``obj`` to ``rule``'s state, and emit: the plain case of most actions."""
    refuse_unless(rule, obj)
    before = copy.deepcopy(obj)
    if rule.to_state is not None:
        enter(ctx, obj, rule.object_type, rule.to_state)
    emit_rule(ctx, rule, [obj, *extra], previous=changes(before, obj), owner=owner)
    return obj


def enter(ctx: ActionContext, obj: Obj, object_type: str, state: str) -> None:
    """Put ``obj`` in ``state`` with the fields Stripe's docs say go with it, as of now."""
    with contextlib.suppress(StateError):
        apply_state(obj, object_type, state, at=ctx.request.now)
    if "status" in obj:
        obj["status"] = state


def set_state(
    obj: Obj, object_type: str, state: str, ctx: ActionContext, links: Mapping[str, Any]
) -> None:
    try:
        apply_state(obj, object_type, state, at=ctx.request.now, link=links.get)
    except StateError:
        if "status" in obj:
            obj["status"] = state


#: Parameters any update may carry whatever the object's state: Stripe lets a closed object's
#: metadata change (api: DELETE /v1/subscriptions/{id}: "You can still update its metadata and
#: cancellation_details"); where the docs are silent on a state, refusing a metadata update would
#: blame a correct endpoint.
_ALWAYS = frozenset({"metadata", "expand", "cancellation_details"})


def metadata_only(params: Mapping[str, Any]) -> bool:
    """The update changes only metadata (and cancellation details): no state forbids that."""
    return set(params) <= _ALWAYS


def customer_of(ctx: ActionContext) -> Obj:
    """The request's ``customer`` (Stripe's 404 when it names none the context sees), or ``{}``.

    Newer versions let invoices, invoice items and subscriptions name a ``customer_account``
    instead, so no ``customer`` is not an error the fake can claim.
    """
    named = ctx.params.get("customer")
    return {} if named is None else ctx.require(named, "customer", "customer")


def keep(obj: Obj, fields: Mapping[str, Any]) -> None:
    """Set ``fields`` whether or not ``obj``'s shape has them: facts other versions render.

    The store keeps one state per object and each answer and event is rendered in its version
    (:mod:`connect_harness.stripe_api.rendering`), leaving out the fields that version lacks: an
    invoice paid at 2026-10-28 says ``paid: true`` and names its ``payment_intent`` when read at
    2023-08-16, though the newest shape has neither.
    """
    for name, value in fields.items():
        obj[name] = copy.deepcopy(value)


# --- reading the store and the request ------------------------------------------------------------------------------------------


def visible(ctx: ActionContext, object_type: str) -> list[Obj]:
    return [
        ctx.store.materialize(stored)
        for stored in ctx.store.visible(frozenset({object_type}), ctx.owner, ctx.live)
    ]


def id_of(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) else None


def whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None
