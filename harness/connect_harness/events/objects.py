"""Realistic, contract-valid Stripe objects, consistent with the account that owns them.

The contracts ship one canonical example per object type (Stripe's fixture values where they fit the
pinned schema, the rest generated from it). This module turns an example into *the* object of an event
or of a fake API answer: its own id and the ids of everything it names, all of one world
(:mod:`connect_harness.events.world`), the owning connected account written where Stripe writes it,
the mode, and Stripe's key order. The example is put in that order once per type and cached as text
cut where ids sit, so an object costs one ``str.join`` and one ``json.loads`` plus a few assignments:
the event builder's speed budget depends on it. Types events only name (a balance transaction) have
no example; theirs is the plainest value their schema accepts.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from connect_harness.events import world
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
    if object_type in contracts.object_types(version=version):
        example = contracts.object_example(object_type, version=version)
    else:
        # A type events only name (a balance transaction): the fake API must still serve it.
        schema = contracts.object_schema(object_type, version=version)
        example = _minimal(schema, (object_type,), version=version)
        prefix = id_prefix(object_type)
        if isinstance(example, dict) and "id" in example and prefix is not None:
            example["id"] = stripe_id(prefix, "example", object_type)
    return json.dumps(stripe_order(example), ensure_ascii=False)


@functools.cache
def _template(object_type: str, version: str | None = None) -> world.Template:
    text = _ordered_example_text(object_type, version)
    return world.template(text, json.loads(text), object_type, version=version)


def _minimal(
    schema: Mapping[str, Any],
    stack: tuple[str, ...],
    name: str = "",
    *,
    version: str | None = None,
) -> Any:
    """The plainest value ``schema`` accepts: null where allowed, the first enum value, zeros.

    For object types without a canonical example; every property is rendered, as Stripe does.
    """
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        if name in stack:
            return None
        return _minimal(
            contracts.object_schema(name, version=version), (*stack, name), version=version
        )
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    branches = [b for b in schema.get("anyOf", ()) if b != {"type": "null"}]
    if "null" in kinds or len(branches) < len(schema.get("anyOf", ())):
        return None
    if branches:
        return _minimal(branches[0], stack, name, version=version)
    if "enum" in schema:
        return schema["enum"][0]
    if schema.get("examples"):  # an open enum: generate a listed value
        return schema["examples"][0]
    if "object" in kinds:
        properties = schema.get("properties", {})
        return {key: _minimal(sub, stack, key, version=version) for key, sub in properties.items()}
    if "array" in kinds:
        return []
    if "string" in kinds:
        return "usd" if name == "currency" else "example"
    if "integer" in kinds or "number" in kinds:
        return 0
    if "boolean" in kinds:
        return False
    return None


@functools.cache
def _prefix_table() -> dict[str, str]:
    """Id prefix -> object type, first registered wins (the manifest lists primary types first)."""
    table: dict[str, str] = {}
    for object_type in world.described_types():
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
    # Every prefix ends in "_": the candidates are the id up to each of its underscores, and the
    # longest known one wins (a lookup per underscore instead of a test per known prefix).
    table = _prefix_lookup()
    end = object_id.rfind("_")
    while end >= 0:
        found = table.get(object_id[: end + 1])
        if found is not None:
            return found
        end = object_id.rfind("_", 0, end)
    return None


@functools.cache
def _prefix_lookup() -> dict[str, str]:
    """``prefix_`` -> object type, the same pairs as :func:`_prefixes_longest_first`."""
    return dict(_prefixes_longest_first())


def external_account_id(
    account: str | None, *, seed: int = 0, kind: str = "bank_account", livemode: bool = False
) -> str:
    """The id of the default external account (bank account or card) of ``account``.

    Payouts name it as their ``destination`` and the fake API serves it under the account, so a
    handler that follows ``payout.destination`` finds the same object the event talks about. It is
    the ``bank_account`` (or ``card``) of ``account.external_account.*`` events of the same world.
    """
    found = world.object_id(kind, account=account, livemode=livemode, seed=seed)
    assert found is not None
    return found


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
    same object; every object it names or embeds gets its id in the same world
    (:func:`connect_harness.events.world.object_id`). Fields Stripe uses to name the owning connected account (``account`` on external
    accounts, persons and capabilities) hold ``account``; a payout's ``destination`` is the account's
    default external account; an ``account`` object *is* the account. ``version`` picks the
    contract set whose shapes the object has (default the newest).
    """
    if object_id is None:
        object_id = world.object_id(object_type, account=account, livemode=livemode, seed=seed)
    text = _template(object_type, contracts.resolve_version(version).shapes).render(
        root_id=object_id, account=account, livemode=livemode, seed=seed
    )
    obj: dict[str, Any] = json.loads(text)
    if "livemode" in obj:
        obj["livemode"] = livemode
    if created is not None and isinstance(obj.get("created"), int):
        obj["created"] = created
    if object_type == "payout" and isinstance(obj.get("destination"), str):
        obj["destination"] = external_account_id(account, seed=seed, livemode=livemode)
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
