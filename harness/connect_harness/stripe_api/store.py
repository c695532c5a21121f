"""What the fake Stripe knows: objects with their owner and mode, events, revoked accounts.

An object exists because an event, a create or a test registered it: the store never invents one
for an id it was not told about. Objects an event references (its customer, charge, ...) are
recorded cheaply by :meth:`Store.register_reference` and built on first fetch, owned by the event's
account and in its mode, as on Stripe. The store is not thread-safe by itself: the server holds one
lock around every request.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Store", "Stored", "balance_key", "capability_key"]

_ID = re.compile(r"^[a-z]+_(?:(?:test|live)_)?[0-9A-Za-z]+$")

# Ids an object refers to that belong to the same account as the object itself; a handler that
# follows `payment_intent.customer` must act as the same account. (Application fees and transfers
# are the platform's even when they name a connected account, so they are not listed.)
_SAME_OWNER_TYPES = frozenset(
    {
        "balance_transaction",
        "charge",
        "checkout.session",
        "credit_note",
        "customer",
        "dispute",
        "invoice",
        "invoiceitem",
        "mandate",
        "payment_intent",
        "payment_method",
        "payout",
        "price",
        "product",
        "quote",
        "refund",
        "review",
        "setup_intent",
        "source",
        "subscription",
        "subscription_schedule",
        "tax_id",
    }
)

# Objects without a mode of their own: an account (and what hangs off it) exists in both modes.
_BOTH_MODES = frozenset({"account", "bank_account", "capability", "card", "person"})

#: Builds an object: (type, id, owner, livemode, seed) -> the object as Stripe renders it.
Builder = Callable[[str, "str | None", "str | None", bool, int], "dict[str, Any]"]


@dataclass
class Stored:
    """An object the fake knows: who owns it, its mode, and its current state (built lazily)."""

    type: str
    object_id: str | None
    owner: str | None
    livemode: bool | None
    obj: dict[str, Any] | None = None
    deleted: bool = False
    seed: int = 0


def balance_key(owner: str | None, livemode: bool) -> str:
    return f"balance/{owner or 'platform'}/{'live' if livemode else 'test'}"


def capability_key(account: str | None, name: str) -> str:
    return f"{account}/capabilities/{name}"


class Store:
    """Objects by id (and a few keyed otherwise: balances, capabilities, singletons)."""

    def __init__(self, build: Builder, type_for_id: Callable[[str], str | None]) -> None:
        self._build = build
        self._type_for_id = type_for_id
        self.objects: dict[str, Stored] = {}
        self.events: dict[str, Stored] = {}
        self.revoked: set[str] = set()
        self.created_count = 0

    def clear(self) -> None:
        self.objects.clear()
        self.events.clear()
        self.revoked.clear()
        self.created_count = 0

    # --- registering ------------------------------------------------------------------------------

    def register_event(self, payload: Mapping[str, Any], *, platform: str) -> None:
        """Make the objects of an event exist, owned by its account, in its mode."""
        owner = payload.get("account") or None
        livemode = bool(payload.get("livemode"))
        data = payload.get("data")
        obj = data.get("object") if isinstance(data, Mapping) else None
        event_id = payload.get("id")
        if isinstance(event_id, str):
            self.events[event_id] = Stored(
                "event", event_id, owner, livemode, copy.deepcopy(dict(payload))
            )
        if owner is not None:
            self.know_account(owner)
            if payload.get("type") == "account.application.deauthorized":
                self.revoked.add(owner)
        if isinstance(obj, Mapping):
            self.register_object(dict(obj), owner, livemode, platform=platform)

    def register_object(
        self, obj: dict[str, Any], owner: str | None, livemode: bool, *, platform: str = ""
    ) -> None:
        """Store ``obj`` as it is, owned by ``owner`` (None: the platform), and what it refers to."""
        object_type = str(obj.get("object", ""))
        object_id = obj.get("id") if isinstance(obj.get("id"), str) else None
        mode = livemode if "livemode" in obj or object_type not in _BOTH_MODES else None
        obj = copy.deepcopy(obj)
        if object_type == "account" and object_id is not None:
            self.objects[object_id] = Stored(
                "account", object_id, None if object_id == platform else object_id, None, obj
            )
            return
        if object_type == "balance":
            self.objects[balance_key(owner, livemode)] = Stored(
                "balance", None, owner, livemode, obj
            )
            return
        if object_type in ("bank_account", "card", "person", "capability"):
            owner = obj.get("account") if isinstance(obj.get("account"), str) else owner
        if object_id is None:
            return
        key = capability_key(owner, object_id) if object_type == "capability" else object_id
        self.objects[key] = Stored(object_type, object_id, owner, mode, obj)
        if object_type == "payout" and isinstance(obj.get("destination"), str):
            destination = obj["destination"]
            kind = "card" if destination.startswith("card_") else "bank_account"
            self.register_reference(destination, kind, owner, livemode, 0)
        for value in obj.values():
            if isinstance(value, str) and _ID.match(value) and value not in self.objects:
                referred = self._type_for_id(value)
                # A platform object's references are the platform's; a connected account's
                # application fees and transfers are the platform's even when it names them.
                if referred is not None and (owner is None or referred in _SAME_OWNER_TYPES):
                    self.register_reference(value, referred, owner, livemode, 0)

    def register_reference(
        self, object_id: str, object_type: str, owner: str | None, livemode: bool, seed: int
    ) -> None:
        """Know ``object_id`` as an ``object_type`` of ``owner`` in that mode, built on first fetch.

        Cheap (nothing is built now) and idempotent: an object already known keeps its state.
        """
        if object_id in self.objects:
            return
        self.objects[object_id] = Stored(object_type, object_id, owner, livemode, seed=seed)

    def know_account(self, account: str) -> None:
        """``account`` is connected to the platform (it acts as itself; the platform may act as it)."""
        if account not in self.objects:
            self.objects[account] = Stored("account", account, account, None)

    def connected(self, account: str) -> bool:
        stored = self.objects.get(account)
        return stored is not None and stored.type == "account" and stored.owner == account

    # --- reading ----------------------------------------------------------------------------------

    def materialize(self, stored: Stored) -> dict[str, Any]:
        """The object's current state, built from the contracts on first use."""
        if stored.obj is None:
            obj = self._build(
                stored.type, stored.object_id, stored.owner, bool(stored.livemode), stored.seed
            )
            if "livemode" not in obj and stored.type in _BOTH_MODES:
                stored.livemode = None
            stored.obj = obj
        return stored.obj

    def visible(self, types: frozenset[str], owner: str | None, live: bool) -> Iterator[Stored]:
        """Live objects of ``types`` that ``owner`` sees with a key of that mode, newest first."""
        for stored in reversed(list(self.objects.values())):
            if (
                stored.type in types
                and not stored.deleted
                and stored.owner == owner
                and stored.livemode in (None, live)
            ):
                yield stored

    def create(self, object_type: str, owner: str | None, live: bool) -> Stored:
        """A new object of ``object_type`` for ``owner``: a fresh id no other object has."""
        seed = self.created_count
        while True:
            seed += 1
            obj = self._build(object_type, None, owner, live, 1000 + seed)
            object_id = obj.get("id")
            if not isinstance(object_id, str) or object_id not in self.objects:
                break
        self.created_count = seed
        mode = live if "livemode" in obj or object_type not in _BOTH_MODES else None
        if object_type == "account" and isinstance(object_id, str):
            owner = object_id
        stored = Stored(
            object_type, object_id if isinstance(object_id, str) else None, owner, mode, obj
        )
        if stored.object_id is not None:
            self.objects[stored.object_id] = stored
        elif object_type != "balance":
            self.objects[f"created/{seed}"] = stored
        return stored
