"""The event side of a contract set: who receives each type, the Connect-guide notes, the envelope.

Pure functions over the event-type catalogue; :mod:`connect_harness.spec.builder` calls them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = ["GUIDE", "event_schema", "receivable_by", "split_catalogue"]

SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"

# Connect-guide notes for the eight events its webhook page singles out (our wording).
_ALL_ACCOUNT_TYPES: Final = ("custom", "express", "standard")
_PLATFORM_CONTROLLED: Final = ("custom", "express", "standard with platform controls")
GUIDE: Final[Mapping[str, tuple[str, tuple[str, ...] | None]]] = {
    "account.application.deauthorized": (
        "The connected account disconnected your platform. Clean up what you hold for it: from now "
        "on every request made as that account fails.",
        None,
    ),
    "account.external_account.updated": (
        "A bank account or debit card that receives the connected account's payouts changed. Only "
        "sent for accounts your platform controls; it can affect payouts.",
        _PLATFORM_CONTROLLED,
    ),
    "account.updated": (
        "The connected account's requirements, capabilities or status changed; watch it to know "
        "when an account can take charges and receive payouts.",
        _ALL_ACCOUNT_TYPES,
    ),
    "balance.available": (
        "Funds became available in a balance, for example money you can now transfer to connected "
        "accounts.",
        None,
    ),
    "payment_intent.succeeded": (
        "A payment succeeded. A direct charge arrives at the Connect endpoint with the connected "
        "account's `account`; a destination charge arrives at the platform's account endpoint "
        "without it.",
        None,
    ),
    "payout.failed": (
        "A payout failed and the external account it went to is disabled: no further payouts to it "
        "until the account's external account is updated.",
        None,
    ),
    "person.updated": (
        "A person of a connected account changed, typically because Persons API requirements "
        "changed. Sent for accounts your platform controls.",
        _PLATFORM_CONTROLLED,
    ),
    "customer.created": (
        "A customer was created; the Connect webhook guide uses it as its example event.",
        None,
    ),
}

# Our model of which endpoint kind receives an event type (documented in contracts/README.md).
_CONNECT_ONLY_PREFIXES: Final = ("account.application.", "account.external_account.", "person.")
_CONNECT_ONLY_TYPES: Final = frozenset({"account.updated", "capability.updated"})
_ACCOUNT_ONLY_PREFIXES: Final = ("application_fee.", "transfer.", "climate.", "balance_settings.")


def receivable_by(event_type: str) -> tuple[str, ...]:
    if event_type in _CONNECT_ONLY_TYPES or event_type.startswith(_CONNECT_ONLY_PREFIXES):
        return ("connect",)
    if event_type.startswith(_ACCOUNT_ONLY_PREFIXES):
        return ("account",)
    return ("connect", "account")


def split_catalogue(
    catalogue: Mapping[str, Any], schemas: Mapping[str, Any]
) -> tuple[dict[str, list[str]], dict[str, str]]:
    supported: dict[str, list[str]] = {}
    unsupported: dict[str, str] = {}
    for event_type in sorted(catalogue):
        objects = list(catalogue[event_type].get("objects") or [])
        missing = [name for name in objects if name not in schemas]
        if not objects:
            unsupported[event_type] = (
                "the event-type catalogue lists no object schema for its data.object"
            )
        elif missing:
            names = ", ".join(repr(name) for name in missing)
            plural = "schemas" if len(missing) > 1 else "schema"
            unsupported[event_type] = (
                f"the OpenAPI description has no {plural} {names} (added after its API version)"
            )
        else:
            supported[event_type] = objects
    return supported, unsupported


def event_schema(base: str, event_type: str, objects: Sequence[str], description: str) -> Any:
    refs = [{"$ref": f"../objects.json#/$defs/{name}"} for name in objects]
    data_object: dict[str, Any]
    if len(refs) == 1:
        data_object = refs[0]
    else:
        # A discriminated union on `object`: as fast as the single case and with readable errors,
        # unlike oneOf/anyOf, which only say "not valid under any of the given schemas".
        data_object = {
            "type": "object",
            "required": ["object"],
            "properties": {"object": {"enum": list(objects)}},
            "allOf": [
                {
                    "if": {"properties": {"object": {"const": name}}},
                    "then": ref,
                }
                for name, ref in zip(objects, refs, strict=True)
            ],
        }
    data_required = ["object"]
    if event_type.endswith(".updated"):
        data_required.append("previous_attributes")
    nullable_string = {"type": ["string", "null"]}
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"{base}events/{event_type}.json",
        "title": f"{event_type} event",
        "description": description,
        "type": "object",
        "required": [
            "api_version",
            "created",
            "data",
            "id",
            "livemode",
            "object",
            "pending_webhooks",
            "request",
            "type",
        ],
        "properties": {
            "id": {"type": "string", "pattern": "^evt_"},
            "object": {"const": "event"},
            "account": {"type": "string", "pattern": "^acct_"},
            "api_version": nullable_string,
            "context": {"type": "string"},
            "created": {"type": "integer", "format": "unix-time"},
            "data": {
                "type": "object",
                "required": data_required,
                "properties": {
                    "object": data_object,
                    "previous_attributes": {"type": "object"},
                },
            },
            "livemode": {"type": "boolean"},
            "pending_webhooks": {"type": "integer", "minimum": 0},
            "request": {
                "type": ["object", "null"],
                "required": ["id", "idempotency_key"],
                "properties": {"id": nullable_string, "idempotency_key": nullable_string},
            },
            "type": {"const": event_type},
        },
    }
