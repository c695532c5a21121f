"""The objects the fake Stripe API answers with: the contracts' where they exist, else the
description's plain example, with the owner's id, mode and account fields filled in."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from connect_harness.errors import HarnessError
from connect_harness.stripe_api.routes import RouteTable

__all__ = ["build_object", "object_type_for_id", "platform_account_id", "schema_of"]


def platform_account_id() -> str:
    """The platform's own account id: what ``GET /v1/account`` answers with platform auth."""
    from connect_harness.events.ids import stripe_id

    return stripe_id("acct", "connect_harness", "platform")


def schema_of(obj: Mapping[str, Any], table: RouteTable) -> str | None:
    kind = obj.get("object")
    return table.schema_name(kind) if isinstance(kind, str) else None


def object_type_for_id(object_id: str) -> str | None:
    from connect_harness.events.objects import object_type_for_id

    return object_type_for_id(object_id)


def build_object(
    object_type: str,
    object_id: str | None,
    owner: str | None,
    livemode: bool,
    seed: int,
    table: RouteTable,
) -> dict[str, Any]:
    """The contracts' object where they cover the type, else the description's plain example."""
    from connect_harness.events.ids import stripe_id
    from connect_harness.events.objects import build_object as build_contract_object
    from connect_harness.spec import contracts

    if object_type in _contract_types():
        return build_contract_object(
            object_type, object_id=object_id, account=owner, livemode=livemode, seed=seed
        )
    obj = table.example(table.schema_name(object_type)) or {"object": object_type}
    if "id" in obj:
        if object_id is None:
            prefix = (contracts.id_prefix(object_type) or "").rstrip("_")
            prefix = prefix or object_type.rsplit(".", 1)[-1]
            object_id = stripe_id(prefix, seed, object_type, owner or "platform", livemode)
        obj["id"] = object_id
    if "livemode" in obj:
        obj["livemode"] = livemode
    if owner is not None and object_type in ("bank_account", "card", "person", "capability"):
        obj["account"] = owner
    return obj


@functools.cache
def _contract_types() -> frozenset[str]:
    from connect_harness.spec import contracts

    try:
        return frozenset(contracts.object_types())
    except HarnessError:
        return frozenset()
