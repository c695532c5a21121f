"""What the fake Stripe knows: objects with their owner and mode, events, revoked accounts.

An object exists because an event, a create or a test registered it: the store never invents one
for an id it was not told about. Objects an event references (its customer, charge, ...) are
recorded cheaply by :meth:`Store.register_reference` and built on first fetch, owned by the event's
account and in its mode, as on Stripe. The store is not thread-safe by itself: the server holds one
lock around every request.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from connect_harness.errors import HarnessError
from connect_harness.events.world import CROSS_ACCOUNT_TYPES, references
from connect_harness.lifecycle.named_states import NamedState, apply_named, implied

__all__ = ["Store", "Stored", "balance_key", "capability_key"]

# Objects without a mode of their own: an account (and what hangs off it) exists in both modes.
_BOTH_MODES = frozenset({"account", "bank_account", "capability", "card", "person"})

# Ids of these types name the owner's card or bank account wherever an object holds them.
_EXTERNAL_ACCOUNT_TYPES = frozenset({"bank_account", "card"})

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
    #: The world (event seed) a lazily built object is built in, so its own references match.
    seed: int = 0
    #: A lazily built object keeps the mode it was named in even when it has no ``livemode`` field
    #: (a balance transaction); only the types of :data:`_BOTH_MODES` are seen in both modes.
    keep_mode: bool = False
    #: The contract set whose shapes say where a lazily built object's own references sit.
    version: str | None = None
    #: Named by a platform-side object that names a connected account (an application fee's
    #: charge): either side may own it, so it is served to whoever asks, in its mode.
    shared: bool = False
    #: The state the object that named it implies for a lazily built object (a succeeded intent's
    #: charge succeeded): the rule, the namer's top-level fields and its ``created``.
    implied: tuple[NamedState, dict[str, Any], int] | None = None


def _references(
    obj: Mapping[str, Any],
    object_type: str,
    owner: str | None,
    livemode: bool,
    version: str | None,
) -> list[tuple[str, str, str | None]]:
    """(id, type, owner) of every object ``obj`` names or embeds, found from the contracts.

    ``version`` is the contract set (an event's API version) that says where the ids sit.
    """
    try:
        found = references(obj, object_type, account=owner, livemode=livemode, version=version)
    except HarnessError:  # a type the contracts do not describe names nothing we can serve
        return []
    return [(ref.object_id, ref.object_type, ref.owner) for ref in found]


def shapes_of(api_version: Any) -> str | None:
    """The contract set of an event's ``api_version`` (None, the newest, when it names none)."""
    from connect_harness.spec.contracts import resolve_version

    if not isinstance(api_version, str):
        return None
    try:
        return resolve_version(api_version).shapes
    except HarnessError:
        return None


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
        #: What the fake knows of an object that none of its fields shows, by id: a payment
        #: method that was detached (Stripe refuses to use it again).
        self.notes: dict[str, set[str]] = {}

    def clear(self) -> None:
        self.objects.clear()
        self.events.clear()
        self.revoked.clear()
        self.notes.clear()
        self.created_count = 0

    # --- registering ------------------------------------------------------------------------------

    def register_event(
        self,
        payload: Mapping[str, Any],
        *,
        platform: str,
        seed: int = 0,
        body: bytes | None = None,
    ) -> None:
        """Make the objects of an event exist, owned by its account, in its mode.

        What ``data.object`` references is found in the shapes of the event's own ``api_version``
        and built lazily in the event's world (``seed``), so its ids are the ones events carry.
        ``body``, the bytes ``payload`` was rendered as, gives the stored copies by parsing them
        (several times faster than deep-copying the payload); without it the payload is copied.
        """
        owner = payload.get("account") or None
        livemode = bool(payload.get("livemode"))
        data = payload.get("data")
        obj = data.get("object") if isinstance(data, Mapping) else None
        event_id = payload.get("id")
        if isinstance(event_id, str):
            stored: dict[str, Any] = (
                json.loads(body) if body is not None else copy.deepcopy(dict(payload))
            )
            self.events[event_id] = Stored("event", event_id, owner, livemode, stored)
        if owner is not None:
            self.know_account(owner)
            if payload.get("type") == "account.application.deauthorized":
                self.revoked.add(owner)
        if isinstance(obj, Mapping):
            own = json.loads(body)["data"]["object"] if body is not None else None
            self.register_object(
                own if isinstance(own, dict) else dict(obj),
                owner,
                livemode,
                platform=platform,
                seed=seed,
                version=shapes_of(payload.get("api_version")),
                owned=isinstance(own, dict),
            )

    def register_object(
        self,
        obj: dict[str, Any],
        owner: str | None,
        livemode: bool,
        *,
        platform: str = "",
        seed: int = 0,
        version: str | None = None,
        owned: bool = False,
    ) -> None:
        """Store ``obj`` as it is, owned by ``owner`` (None: the platform), and what it refers to.

        ``owned``: ``obj`` is a private copy nobody else holds, stored without copying it again.

        The references are those :func:`connect_harness.events.world.references` finds in the shapes
        of ``version`` (None: the newest contract set), each recorded to be built with ``seed``.
        """
        object_type = str(obj.get("object", ""))
        object_id = obj.get("id") if isinstance(obj.get("id"), str) else None
        mode = livemode if "livemode" in obj or object_type not in _BOTH_MODES else None
        if not owned:
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
            self.register_reference(destination, kind, owner, livemode, seed, version=version)
        self._register_references(obj, object_type, owner, livemode, seed, version)

    def _register_references(
        self,
        obj: Mapping[str, Any],
        object_type: str,
        owner: str | None,
        livemode: bool,
        seed: int,
        version: str | None,
    ) -> None:
        """Know what ``obj`` names: the world's references, and the ids it leaves to the fake.

        :func:`connect_harness.events.world.references` leaves out what an application fee or a
        transfer names (which side owns it varies with the charge type): the connected account it
        names is connected, and its other ids are served to whoever asks (``shared``) rather than
        blame a handler for a choice Stripe leaves open. A card or bank account id the contracts
        do not mark as a reference (a legacy ``card_`` in a charge's ``payment_method``) is the
        owner's. Other ids the shapes of ``version`` do not mark are not references.
        """
        found = _references(obj, object_type, owner, livemode, version)
        for referred_id, referred_type, referred_owner in found:
            self.register_reference(
                referred_id, referred_type, referred_owner, livemode, seed, version=version
            )
        named = {referred_id for referred_id, _, _ in found}
        self._imply_states(obj)
        cross = object_type in CROSS_ACCOUNT_TYPES
        for key, value in obj.items():
            if key == "id" or not isinstance(value, str) or value in named:
                continue
            named_type = self._type_for_id(value)
            if named_type is None or named_type == "application":
                continue
            if named_type == "account":
                if cross:
                    self.know_account(value)
            elif cross:
                self.register_reference(
                    value, named_type, None, livemode, seed, version=version, shared=True
                )
            elif named_type in _EXTERNAL_ACCOUNT_TYPES:
                self.register_reference(value, named_type, owner, livemode, seed, version=version)

    def _imply_states(self, obj: Mapping[str, Any]) -> None:
        """Objects ``obj`` names that are not built yet are built in the state ``obj``'s implies
        (:mod:`connect_harness.lifecycle.named_states`), not the contracts' example state."""
        rules = list(implied(obj))
        if not rules:
            return
        holder = {key: value for key, value in obj.items() if not isinstance(value, (dict, list))}
        created = obj.get("created")
        at = created if isinstance(created, int) and not isinstance(created, bool) else 0
        for named_id, rule in rules:
            stored = self.objects.get(named_id)
            if stored is not None and stored.obj is None and stored.type == rule.named:
                stored.implied = (rule, holder, at)

    def register_reference(
        self,
        object_id: str,
        object_type: str,
        owner: str | None,
        livemode: bool,
        seed: int,
        *,
        version: str | None = None,
        shared: bool = False,
    ) -> None:
        """Know ``object_id`` as an ``object_type`` of ``owner`` in that mode, built on first fetch.

        Cheap (nothing is built now) and idempotent: an object already known keeps its state. An
        account reference is a connected account of the platform's; the object keeps its mode
        unless its type exists in both modes (:data:`_BOTH_MODES`).
        """
        if object_type == "account":
            self.know_account(object_id)
            return
        if object_id in self.objects:
            return
        self.objects[object_id] = Stored(
            object_type,
            object_id,
            owner,
            livemode,
            seed=seed,
            keep_mode=object_type not in _BOTH_MODES,
            version=version,
            shared=shared,
        )

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
            live = bool(stored.livemode)
            obj = self._build(stored.type, stored.object_id, stored.owner, live, stored.seed)
            if stored.implied is not None:
                rule, holder, at = stored.implied
                apply_named(obj, rule, holder, at=at)
            stored.obj = obj
            if stored.type != "balance":
                # Its own references, in the same world: following them finds objects too.
                self._register_references(
                    obj, stored.type, stored.owner, live, stored.seed, stored.version
                )
            if "livemode" not in obj and stored.type != "balance" and not stored.keep_mode:
                stored.livemode = None
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
        # An account built "for" a connected account is that account (its id is the owner's), so
        # every seed gave the same, taken id and this loop never ended: a new account's id is made
        # as the platform's.
        builder_owner = None if object_type == "account" else owner
        while True:
            seed += 1
            obj = self._build(object_type, None, builder_owner, live, 1000 + seed)
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
