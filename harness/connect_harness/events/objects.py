"""Realistic, contract-valid Stripe objects, consistent with the account that owns them.

The contracts ship one canonical example per object type (Stripe's fixture values where they fit the
pinned schema, the rest generated from it). This module turns an example into *the* object of an event
or of a fake API answer: its own id, the owning connected account written where Stripe writes it, the
mode, and Stripe's key order. The example is put in that order once per type and cached as text, so an
object costs one ``json.loads`` plus a few assignments: the event builder's speed budget depends on it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from connect_harness.events.ids import stripe_id
from connect_harness.spec import contracts

__all__ = ["build_object", "external_account_id", "object_type_for_id", "stripe_order"]


def stripe_order(value: Any) -> Any:
    """Return ``value`` with every hash in Stripe's rendering order: ``id``, ``object``, then a-z."""
    if isinstance(value, dict):
        keys = sorted(value)
        for first in ("object", "id"):
            if first in value:
                keys.remove(first)
                keys.insert(0, first)
        return {key: stripe_order(value[key]) for key in keys}
    if isinstance(value, list):
        return [stripe_order(item) for item in value]
    return value


@functools.cache
def _ordered_example_text(object_type: str, version: str | None = None) -> str:
    example = contracts.object_example(object_type, version=version)
    return json.dumps(stripe_order(example), ensure_ascii=False)


@functools.cache
def _prefix_table() -> dict[str, str]:
    """Id prefix -> object type, first registered wins (the manifest lists primary types first)."""
    table: dict[str, str] = {}
    for object_type in contracts.object_types():
        prefix = id_prefix(object_type)
        if prefix and prefix not in table:
            table[prefix] = object_type
    return table


def id_prefix(object_type: str) -> str | None:
    """The id prefix Stripe uses for ``object_type`` (``payment_intent`` -> ``pi``), if it has one."""
    prefix = contracts.id_prefix(object_type)
    return prefix.rstrip("_") if prefix else None


@functools.cache
def _prefixes_longest_first() -> tuple[tuple[str, str], ...]:
    table = _prefix_table()
    return tuple((f"{prefix}_", table[prefix]) for prefix in sorted(table, key=len, reverse=True))


def object_type_for_id(object_id: str) -> str | None:
    """The object type an id names, judged by its longest known prefix (``pi_123`` -> ``payment_intent``).

    Longest first, so ``sub_sched_...`` is a subscription schedule, not a subscription.
    """
    for prefix, object_type in _prefixes_longest_first():
        if object_id.startswith(prefix):
            return object_type
    return None


def external_account_id(account: str | None, *, seed: int = 0, kind: str = "bank_account") -> str:
    """The id of the default external account (bank account or card) of ``account``.

    Payouts name it as their ``destination`` and the fake API serves it under the account, so a
    handler that follows ``payout.destination`` finds the same object the event talks about.
    """
    prefix = "ba" if kind == "bank_account" else "card"
    return stripe_id(prefix, seed, account or "platform", "external_account")


def build_object(
    object_type: str,
    *,
    object_id: str | None = None,
    account: str | None = None,
    livemode: bool = False,
    seed: int = 0,
    created: int | None = None,
    version: str | None = None,
) -> dict[str, Any]:
    """Return a contract-valid ``object_type`` object that belongs to ``account`` (None: the platform).

    ``object_id`` defaults to an id derived from the other arguments, so the same call always returns the
    same object. Fields Stripe uses to name the owning connected account (``account`` on external
    accounts, persons and capabilities) hold ``account``; a payout's ``destination`` is the account's
    default external account; an ``account`` object *is* the account. ``version`` picks the
    contract set whose shapes the object has (default the newest).
    """
    obj: dict[str, Any] = json.loads(_ordered_example_text(object_type, version))
    if object_id is None:
        if object_type == "account" and account is not None:
            object_id = account
        else:
            prefix = id_prefix(object_type)
            if prefix is not None:
                object_id = stripe_id(prefix, seed, object_type, account or "platform", livemode)
    if object_id is not None and "id" in obj:
        obj["id"] = object_id
    if "livemode" in obj:
        obj["livemode"] = livemode
    if created is not None and isinstance(obj.get("created"), int):
        obj["created"] = created
    if object_type == "payout" and isinstance(obj.get("destination"), str):
        obj["destination"] = external_account_id(account, seed=seed)
    if account is not None:
        _attach_to_account(obj, object_type, account)
    return obj


def _attach_to_account(obj: dict[str, Any], object_type: str, account: str) -> None:
    if object_type in {"bank_account", "card", "person", "capability"} and "account" in obj:
        obj["account"] = account
        if object_type in {"bank_account", "card"} and "customer" in obj:
            obj["customer"] = None
    if object_type == "account":
        external = obj.get("external_accounts")
        if isinstance(external, Mapping) and "url" in external:
            obj["external_accounts"] = {
                **external,
                "url": f"/v1/accounts/{obj['id']}/external_accounts",
            }
