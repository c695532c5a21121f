"""Stripe webhook events: the envelope, its ``data.object``, and the exact bytes that go over the wire.

``build_event`` is a pure function of its arguments: the same type, account, mode, seed and overrides
always give the same bytes. Nothing here reads the clock; ``created`` defaults to a fixed instant.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connect_harness import arguments
from connect_harness.errors import UsageError
from connect_harness.events import render
from connect_harness.events.ids import stripe_id, stripe_ids
from connect_harness.events.objects import build_object
from connect_harness.events.overrides import (
    deep_merge,
    loads_json,
    parse_assignment,
    set_path,
)
from connect_harness.events.world import object_id
from connect_harness.lifecycle.event_states import apply_event_state, previous_attributes
from connect_harness.spec import contracts

__all__ = [
    "DEFAULT_CONNECTED_ACCOUNT",
    "DEFAULT_CREATED",
    "Event",
    "EventCase",
    "build_event",
    "event_matrix",
    "event_permutations",
    "full_rendering",
    "loads_json",
    "parse_assignment",
    "raw_body_variants",
    "render_body",
]

#: 2026-01-01T00:00:00Z: the default ``created`` of events, so output never depends on the clock.
DEFAULT_CREATED = 1_767_225_600

#: The connected account that Connect events name unless told otherwise.
DEFAULT_CONNECTED_ACCOUNT = "acct_1HarnessConnect0"

_ACCOUNT_ID = re.compile(r"^acct_[A-Za-z0-9]+$")

# The object Stripe sends most often where the catalogue allows several.
_PREFERRED_OBJECT = {"account.external_account.": "bank_account", "customer.source.": "card"}

# Events Stripe raises on its own, not in answer to an API request: their `request.id` is null.
_AUTOMATIC = re.compile(
    r"^(balance\.available|payout\.(paid|failed|canceled|updated|reconciliation_completed)"
    r"|account\.updated|capability\.updated|person\.updated|invoice\.(upcoming|overdue|will_be_due)"
    r"|customer\.source\.expiring|.*\.expiring|.*\.expired|.*_reminder|radar\..*)$"
)


@dataclass(frozen=True)
class Event:
    """One webhook event: the parsed envelope and the exact body bytes Stripe would send.

    An event rendered from a template (:mod:`connect_harness.events.render`) parses ``payload``
    from ``body`` on first use: most deliveries only need the bytes.
    """

    type: str
    payload: dict[str, Any]
    body: bytes
    #: The world the event's ids come from: the fake API builds the objects it names with it.
    seed: int = 0

    @property
    def id(self) -> str:
        """The event id (``evt_...``); deduplicate on this, never on the signature."""
        return str(self.payload["id"])

    @property
    def account(self) -> str | None:
        """The connected account of a Connect event; None for a platform (account endpoint) event."""
        account = self.payload.get("account")
        return str(account) if account is not None else None

    @property
    def livemode(self) -> bool:
        """True for a live-mode event, False for test mode."""
        return bool(self.payload["livemode"])

    @property
    def data_object(self) -> dict[str, Any]:
        """The object snapshot of ``data.object``."""
        obj: dict[str, Any] = self.payload["data"]["object"]
        return obj

    @property
    def object_id(self) -> str | None:
        """The id of ``data.object``, where it has one."""
        value = self.data_object.get("id")
        return str(value) if value is not None else None

    @property
    def object_type(self) -> str:
        """The ``object`` field of ``data.object`` (``payment_intent``, ``bank_account``...)."""
        return str(self.data_object.get("object"))

    @property
    def permutation(self) -> str:
        """A short, stable label: ``connect-test``, ``platform-live``..."""
        return f"{'connect' if self.account else 'platform'}-{'live' if self.livemode else 'test'}"


class _Unparsed(dict[str, Any]):
    """The payload of an event not parsed yet (never seen outside :class:`Event`)."""


_UNPARSED: dict[str, Any] = _Unparsed()


def _payload_of(event: Event) -> dict[str, Any]:
    payload: dict[str, Any] = event.__dict__["payload"]
    if payload is _UNPARSED:
        payload = json.loads(event.body)
        event.__dict__["payload"] = payload
    return payload


def _set_payload(event: Event, payload: dict[str, Any]) -> None:
    event.__dict__["payload"] = payload


# A property over the dataclass field: the generated __init__, __eq__, __repr__ and
# dataclasses.replace go through it, so an event is a plain dataclass to everyone else.
setattr(Event, "payload", property(_payload_of, _set_payload, doc="The parsed envelope."))  # noqa: B010


def _lazy_event(event_type: str, body: bytes, seed: int) -> Event:
    return Event(type=event_type, payload=_UNPARSED, body=body, seed=seed)


def render_body(payload: Mapping[str, Any], *, ascii_only: bool = False) -> bytes:
    """Render an event the way Stripe does: UTF-8, 2-space indented JSON, no trailing newline.

    Whether Stripe escapes non-ASCII characters is not published: ``ascii_only`` picks ``\\uXXXX``
    escapes, the default sends them as literal UTF-8.
    """
    try:
        text = _indented(payload, ascii_only)
    except (_NotPlain, RecursionError):
        text = json.dumps(payload, indent=2, ensure_ascii=ascii_only)
    return text.encode("utf-8")


class _NotPlain(Exception):
    """A value :func:`_indented` leaves to ``json.dumps`` (which renders it, or refuses it)."""


def _indented(payload: object, ascii_only: bool) -> str:
    """``json.dumps(payload, indent=2, ensure_ascii=ascii_only)``, for plain JSON values only.

    CPython's C encoder does not indent (3.11, 3.12), so ``json.dumps(indent=2)`` runs the
    pure-Python one, which cost more than the rest of building an event. This writes the same text
    in one pass (the same C string escaper; ints and floats as ``json`` spells them) and raises
    :class:`_NotPlain` for anything else (a subclass, a non-string key, NaN, another type), so that
    ``json.dumps`` has the last word.
    """
    escape = json.encoder.encode_basestring_ascii if ascii_only else json.encoder.encode_basestring
    parts: list[str] = []
    add = parts.append

    def scalar(value: Any) -> str:
        if value is None:
            return "null"
        if value is True:
            return "true"
        if value is False:
            return "false"
        kind = type(value)
        if kind is int:
            return int.__repr__(value)
        if kind is float and math.isfinite(value):
            return float.__repr__(value)
        raise _NotPlain

    def walk(value: Any, indent: str) -> None:
        kind = type(value)
        if kind is dict:
            if not value:
                add("{}")
                return
            inner = indent + "  "
            separator = "{" + inner
            for key, item in value.items():
                if type(key) is not str:
                    raise _NotPlain
                kind = type(item)
                if kind is str:
                    add(separator + escape(key) + ": " + escape(item))
                elif kind is dict or kind is list or kind is tuple:
                    add(separator + escape(key) + ": ")
                    walk(item, inner)
                else:
                    add(separator + escape(key) + ": " + scalar(item))
                separator = "," + inner
            add(indent + "}")
        elif kind is list or kind is tuple:
            if not value:
                add("[]")
                return
            inner = indent + "  "
            separator = "[" + inner
            for item in value:
                kind = type(item)
                if kind is str:
                    add(separator + escape(item))
                elif kind is dict or kind is list or kind is tuple:
                    add(separator)
                    walk(item, inner)
                else:
                    add(separator + scalar(item))
                separator = "," + inner
            add(indent + "]")
        elif kind is str:
            add(escape(value))
        else:
            add(scalar(value))

    walk(payload, "\n")
    return "".join(parts)


def build_event(
    event_type: str,
    *,
    account: str | None = None,
    livemode: bool = False,
    api_version: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    merge: Mapping[str, Any] | None = None,
    seed: int = 0,
    created: int | None = None,
    object_type: str | None = None,
    pending_webhooks: int = 1,
    ascii_only: bool = False,
    id: str | None = None,
) -> Event:
    """Build one webhook event of ``event_type`` as Stripe would send it.

    ``account`` makes it a Connect event (top-level ``account``, its object owned by that connected
    account); None makes it a platform event for an account endpoint. ``overrides`` sets values by dotted
    path (``{"data.object.charges_enabled": False}``) and refuses paths that do not exist, except new
    keys under a ``metadata`` hash; ``merge`` deep-merges a nested mapping and may add keys. ``seed``
    varies every id deterministically. ``object_type`` picks one object where the type is polymorphic
    (``account.external_account.*`` carries a ``bank_account`` or a ``card``). ``api_version``
    picks the shapes of ``data.object`` (:func:`connect_harness.spec.contracts.resolve_version`:
    default the newest contract set) and is stamped on the event. ``id`` names the event (an ``evt_``
    id) without touching the world ``seed``: its request id and idempotency key then derive from it, so
    events of one world with different ids are different deliveries about the same objects.

    ``data.object`` is in the state the type names (``payment_intent.succeeded`` has received its
    amount and names its charge: :mod:`connect_harness.lifecycle.event_states`, docs/states.md),
    made an hour before ``created`` unless the event made it; ``overrides`` and ``merge`` are
    applied after the state, so they win.
    """
    _check_build_arguments(event_type, livemode, seed, created, pending_webhooks, ascii_only)
    if account is not None or id is not None or overrides or merge:
        _check_build_parts(account, overrides, merge, id)
    if id is not None and not re.fullmatch(r"evt_[A-Za-z0-9]+", id):
        raise UsageError(
            f"event id {id!r} is not like 'evt_1Abc...'; give 'evt_' and letters or digits"
        )
    created = DEFAULT_CREATED if created is None else created
    plain = (
        _TEMPLATES_ON
        and not (merge or overrides or ascii_only)
        and _plain_types(livemode, created, pending_webhooks)
    )
    if plain:
        # The arguments were checked when this key's template was made.
        known = (event_type, account, livemode, api_version, object_type, pending_webhooks)
        ready = _READY.get(known)
        if ready is not None:
            template, shape, automatic = ready
            body = template.render(
                seed=seed, created=created, given=_given(shape, seed, automatic, id)
            )
            return _lazy_event(event_type, body, seed)
    choice = contracts.resolve_version(api_version)
    version = choice.shapes
    info = contracts.event_info(event_type, version=version)
    if account is not None and not _ACCOUNT_ID.fullmatch(account):
        raise UsageError(
            f"account {account!r} is not a connected account id; "
            "pass one like 'acct_1PgafTB7WZ01zgkW' (or none for a platform event)"
        )
    chosen = _choose_object_type(info, object_type)
    automatic = _AUTOMATIC.match(event_type) is not None
    shape = _Shape(event_type, chosen, account, livemode, version, choice.stamp, pending_webhooks)
    if not plain:
        payload = _assemble(
            shape, seed=seed, created=created, given=_given(shape, seed, automatic, id)
        )
        if merge:
            deep_merge(payload, merge)
        for path, value in (overrides or {}).items():
            set_path(payload, path, value)
        body = render_body(payload, ascii_only=ascii_only)
        return Event(type=event_type, payload=payload, body=body, seed=seed)

    given = _given(shape, seed, automatic, id)
    found = _TEMPLATES.lookup(shape)
    if found == render.MAKE:
        reference = render_body(
            _assemble(
                shape,
                seed=render.REFERENCE_SEED,
                created=render.SENTINEL_CREATED,
                given=_given(shape, render.REFERENCE_SEED, automatic),
            )
        )
        found = render.make_template(
            reference,
            object_type=chosen,
            account=account,
            livemode=livemode,
            shapes=version,
            given=_given(shape, render.REFERENCE_SEED, automatic),
            given_at=lambda other: _given(shape, other, automatic),
        )
        _TEMPLATES.store(shape, found)
        if found is not None and len(_READY) < 4096:
            _READY[event_type, account, livemode, api_version, object_type, pending_webhooks] = (
                found,
                shape,
                automatic,
            )
    if isinstance(found, render.BodyTemplate):
        body = found.render(seed=seed, created=created, given=given)
        return _lazy_event(event_type, body, seed)
    payload = _assemble(shape, seed=seed, created=created, given=given)
    return Event(type=event_type, payload=payload, body=render_body(payload), seed=seed)


# Off only to measure the full path (bench) and to compare both paths (tests).
_TEMPLATES_ON = True
_TEMPLATES = render.TemplateCache()
# build_event's arguments -> (template, shape, automatic), for keys whose template is made.
_READY: dict[tuple[object, ...], tuple[render.BodyTemplate, _Shape, bool]] = {}


def _plain_types(livemode: object, created: object, pending_webhooks: object) -> bool:
    """Values a template renders as the full path would (``1`` is not ``true`` in JSON)."""
    return type(livemode) is bool and type(created) is int and type(pending_webhooks) is int


def clear_templates() -> None:
    """Forget every template (tests; a process that switched contract sets)."""
    _TEMPLATES.clear()
    _READY.clear()


@contextlib.contextmanager
def full_rendering() -> Iterator[None]:
    """Within this block every event takes the full path (for benchmarks and comparisons)."""
    global _TEMPLATES_ON
    saved, _TEMPLATES_ON = _TEMPLATES_ON, False
    try:
        yield
    finally:
        _TEMPLATES_ON = saved


@dataclass(frozen=True)
class _Shape:
    """What an event's body depends on besides its ids and ``created``: one template each."""

    type: str
    object_type: str
    account: str | None
    livemode: bool
    shapes: str
    stamp: str
    pending_webhooks: int


def _given(
    shape: _Shape, seed: int, automatic: bool, id: str | None = None
) -> tuple[str | None, ...]:
    """The event's own ids: its id, its request's id and idempotency key (null when automatic).

    A given ``id`` names the event, and its request id and idempotency key derive from it; else all
    three derive from the world (seed, type, account, mode).
    """
    parts: tuple[object, ...] = (
        (seed, shape.type, shape.account, shape.livemode) if id is None else (id,)
    )
    if automatic:
        return (id or stripe_id("evt", *parts), None, None)
    event, request, key = stripe_ids(("evt", "req", "x"), *parts)
    return (id or event, request, _uuid_from(key))


def _assemble(
    shape: _Shape, *, seed: int, created: int, given: tuple[str | None, ...]
) -> dict[str, Any]:
    """The full path: the payload of the event of ``shape`` built field by field."""
    account, livemode = shape.account, shape.livemode
    data_object = build_object(
        shape.object_type,
        account=account,
        livemode=livemode,
        seed=seed,
        created=created,
        version=shape.shapes,
    )

    def link(object_type: str) -> str | None:
        return object_id(object_type, account=account, livemode=livemode, seed=seed)

    apply_event_state(
        data_object, shape.type, shape.object_type, at=created, link=link, shapes=shape.shapes
    )
    data: dict[str, Any] = {"object": data_object}
    if shape.type.endswith(".updated"):
        data["previous_attributes"] = previous_attributes(
            shape.type, data_object, shape.object_type, shape.shapes
        )

    payload: dict[str, Any] = {"id": given[0]}
    payload["object"] = "event"
    if account is not None:
        payload["account"] = account
    payload["api_version"] = shape.stamp
    payload["created"] = created
    payload["data"] = data
    payload["livemode"] = livemode
    payload["pending_webhooks"] = shape.pending_webhooks
    payload["request"] = {"id": given[1], "idempotency_key": given[2]}
    payload["type"] = shape.type
    return payload


def _check_build_arguments(
    event_type: object,
    livemode: object,
    seed: object,
    created: object,
    pending_webhooks: object,
    ascii_only: object,
) -> None:
    """Wrong types are a UsageError naming the argument, not a TypeError deep inside."""
    if not isinstance(event_type, str):
        raise UsageError(f"event_type must be a string like 'payout.failed', not {event_type!r}")
    for name, flag in (("livemode", livemode), ("ascii_only", ascii_only)):
        if not isinstance(flag, bool):
            raise UsageError(f"{name} must be True or False, not {flag!r}")
    for name, number in (
        ("seed", seed),
        ("created", created),
        ("pending_webhooks", pending_webhooks),
    ):
        if isinstance(number, str) and name == "seed":
            arguments.json_value("seed", number)  # a seed string is hashed as UTF-8
            continue
        if number is None and name == "created":
            continue
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise UsageError(f"{name} must be a whole number, 0 or more, not {number!r}")


def _check_build_parts(account: object, overrides: object, merge: object, id: object) -> None:
    """The optional arguments' types (apart from the common case, where all are None)."""
    arguments.text("account", account, example=DEFAULT_CONNECTED_ACCOUNT, optional=True)
    arguments.mapping("overrides", overrides, example="{'data.object.amount': 500}")
    arguments.mapping("merge", merge, example="{'data': {'object': {'metadata': {'k': 'v'}}}}")
    # What is sent must be JSON: a NaN, an infinity or a lone surrogate in a value is refused here.
    arguments.json_value("overrides", overrides)
    arguments.json_value("merge", merge)
    arguments.text("id", id, example="evt_1Abc", optional=True)


def _choose_object_type(info: contracts.EventInfo, object_type: str | None) -> str:
    if object_type is not None:
        if object_type not in info.objects:
            raise UsageError(
                f"{info.type} events carry {' or '.join(info.objects)}, not {object_type!r}; "
                "pick one of those"
            )
        return object_type
    for prefix, preferred in _PREFERRED_OBJECT.items():
        if info.type.startswith(prefix) and preferred in info.objects:
            return preferred
    return info.objects[0]


def _uuid_from(digest_id: str) -> str:
    tail = digest_id[2:].lower().ljust(32, "0")[:32]
    return f"{tail[:8]}-{tail[8:12]}-{tail[12:16]}-{tail[16:20]}-{tail[20:32]}"


def raw_body_variants(event: Event) -> tuple[tuple[str, bytes], ...]:
    """Bodies of ``event`` that any re-serialization would change, each still a valid event.

    An endpoint that verifies the signature over the raw bytes accepts all of them; one that parses and
    re-serializes first (framework JSON middleware, ``request.json``) breaks on at least one.
    """
    payload = json.loads(event.body)
    data_object = payload["data"]["object"]
    text = "Zürich — 東京 ✓"
    probe_key = "description" if "description" in data_object else "metadata"
    if probe_key == "description":
        data_object["description"] = text
    else:
        data_object["metadata"] = {**data_object.get("metadata", {}), "note": text}

    literal = render_body(payload)
    escaped = render_body(payload, ascii_only=True)
    slash_payload = json.loads(literal)
    slash_obj = slash_payload["data"]["object"]
    if "metadata" in slash_obj and isinstance(slash_obj["metadata"], dict):
        slash_obj["metadata"]["return_url"] = "https://example.com/return/path"
    else:
        slash_payload["data"]["object"]["metadata"] = {
            "return_url": "https://example.com/return/path"
        }
    slashes = render_body(slash_payload).replace(b"/", b"\\/")
    # Numbers with forms a parser normalises (1.50 -> 1.5, 1E2 -> 100.0) and an integer past 2**53.
    numbers = literal.replace(
        b'\n  "pending_webhooks": ',
        b'\n  "harness_probe": {\n    "float": 1.50,\n    "exponent": 1E2,\n'
        b'    "big": 123456789012345678901\n  },\n  "pending_webhooks": ',
        1,
    )
    compact = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return (
        ("literal-non-ascii", literal),
        ("escaped-non-ascii", escaped),
        ("escaped-slashes", slashes),
        ("number-forms", numbers),
        ("compact-whitespace", compact),
    )


def event_permutations(
    *, endpoint_type: str = "both", mode: str = "production"
) -> Sequence[tuple[str | None, bool]]:
    """The (account, livemode) pairs an endpoint of this model receives, in a stable order.

    ``endpoint_type``: ``connect`` (events carry ``account``), ``account`` (they do not) or ``both``;
    ``mode``: ``development`` endpoints get test events only. In ``production`` a Connect endpoint
    gets live *and* test events (a live platform's connected accounts act in both modes), while an
    account endpoint belongs to one mode and gets live events only (Stripe's livemode rule).
    """
    if endpoint_type not in {"connect", "account", "both"}:
        raise UsageError(f"endpoint type {endpoint_type!r} is not one of connect, account, both")
    if mode not in {"development", "production"}:
        raise UsageError(f"mode {mode!r} is not one of development, production")
    pairs: list[tuple[str | None, bool]] = []
    if endpoint_type in {"connect", "both"}:
        modes = [False] if mode == "development" else [True, False]
        pairs += [(DEFAULT_CONNECTED_ACCOUNT, live) for live in modes]
    if endpoint_type in {"account", "both"}:
        pairs.append((None, mode == "production"))
    return pairs


@dataclass(frozen=True)
class EventCase:
    """One cell of an event matrix: a type with an account (or none) and a mode.

    ``id`` is readable and stable (``account.updated-connect-live``), so pytest ids built from it are
    the same in every process, which pytest-xdist needs to distribute them.
    """

    type: str
    account: str | None
    livemode: bool

    @property
    def id(self) -> str:
        return f"{self.type}-{'connect' if self.account else 'platform'}-{'live' if self.livemode else 'test'}"

    def build(self, *, seed: int = 0, **build: Any) -> Event:
        """Build this case's event."""
        return build_event(
            self.type, account=self.account, livemode=self.livemode, seed=seed, **build
        )


def event_matrix(
    types: Sequence[str] | str | None = None,
    *,
    endpoint_type: str = "both",
    mode: str = "production",
    account: str | None = None,
    api_version: str | None = None,
) -> list[EventCase]:
    """Every (type, account, mode) an endpoint of this model receives, in a stable order.

    ``types`` defaults to every supported type; each is checked (unknown types raise ``UsageError``
    with the closest matches). ``account`` replaces the default connected account of Connect cases.
    ``api_version`` picks the contract set the types come from (default the newest).
    """
    arguments.text("account", account, example=DEFAULT_CONNECTED_ACCOUNT, optional=True)
    if types is None:
        names: Sequence[str] = contracts.supported_event_types(version=api_version)
    else:
        names = arguments.texts("types", types, example="payout.failed")
        for name in names:
            contracts.event_info(name, version=api_version)
    cases = []
    for name in names:
        for acct, livemode in event_permutations(endpoint_type=endpoint_type, mode=mode):
            chosen = (account or acct) if acct is not None else None
            cases.append(EventCase(type=name, account=chosen, livemode=livemode))
    return cases
