"""Hypothesis strategies for webhook events whose field values vary the way Stripe's do.

:func:`events` starts from the canonical event :func:`~connect_harness.events.build.build_event`
makes for a type, account and mode, changes some values of its ``data.object`` where the object's
contract allows them to differ, and renders the body again, so the bytes are what Stripe would send.

The places a value may change ("sites") are read once per object type and contract set from the
object's schema and its canonical example: a listed enum value (``enum``, or ``examples`` where the
contract keeps an enum open), null or set for a nullable field, an optional field left out, an
amount, unicode metadata within Stripe's limits, a boolean, free text. A draw picks a few sites and
a value for each, and one currency for the whole event. That keeps a draw to a few dozen choices
(fast), and shrinking goes back to the canonical event one site at a time.

What identifies or owns an object never changes: ids and every field naming another object
(``x-id-of``), ``object``, ``livemode``, ``created``, owner fields and the envelope. Nor does what
the event's state decides (its status, a paid invoice's ``amount_paid``:
:mod:`connect_harness.lifecycle.event_states`) or a list's ``has_more``; fields the state derives
from an amount follow a drawn amount. So a drawn
event still fits the fake API's world: the same ids, owners and modes as ``build_event``'s. The
one exception is the event's own id: an event whose contents differ from the canonical one gets an
id derived from its contents, as a different Stripe event would.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import EllipsisType
from typing import Any, Final

from hypothesis import strategies as st

from connect_harness.errors import UsageError
from connect_harness.events.build import DEFAULT_CONNECTED_ACCOUNT, Event, build_event, render_body
from connect_harness.events.ids import stripe_id
from connect_harness.events.schema_nodes import listed_values, names_an_object, types_of
from connect_harness.lifecycle import event_states
from connect_harness.spec import contracts
from connect_harness.spec.plans import agree_plans

__all__ = ["CURRENCIES", "MAX_AMOUNT", "events"]

_Draw = Callable[[st.SearchStrategy[Any]], Any]
_Path = tuple[str | int, ...]

#: Stripe's metadata limits: 50 keys, keys up to 40 characters (no square brackets), values up to
#: 500 characters.
_METADATA_MAX_KEYS: Final = 50
_METADATA_MAX_KEY_LENGTH: Final = 40
_METADATA_MAX_VALUE_LENGTH: Final = 500

#: Currencies drawn: zero-decimal (jpy, krw) and three-decimal (kwd) ones among them.
CURRENCIES: Final = (
    "usd",
    "eur",
    "gbp",
    "jpy",
    "cad",
    "aud",
    "chf",
    "sek",
    "brl",
    "inr",
    "krw",
    "kwd",
)

#: The largest amount drawn: Stripe's limit of eight digits in the currency's smallest unit.
MAX_AMOUNT: Final = 99_999_999

#: At most this many values change in one event (besides its currency)...
_MAX_CHANGES: Final = 24
#: ...and this many optional properties are left out: most objects have dozens, and Stripe renders
#: most of them, so an event missing half of them would be rarer than a test should make it.
_MAX_ABSENT: Final = 3

_ACCOUNT_ID: Final = re.compile(r"^acct_[A-Za-z0-9]+$")

# Keys that identify, own or date an object, or say its mode: never changed, nulled or left out.
_FIXED_KEYS: Final = frozenset({"id", "object", "livemode", "created", "account", "customer"})
_ID_LIKE: Final = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*_[0-9A-Za-z]{14,}$")
_CURRENCY_KEYS: Final = frozenset({"currency", "default_currency"})
_AMOUNT_KEY: Final = re.compile(
    r"(^|_)amount($|_)|^(sub)?total($|_excluding_tax$)|(^|_)balance$|^net$|^fee$"
)
# Amounts that go below zero: a customer's credit balance, a refund's net.
_SIGNED_AMOUNT_KEY: Final = re.compile(r"(^|_)balance$|^net$")
# Free text Stripe renders as the user wrote it: it may become (or be) any unicode text.
_TEXT_KEY: Final = re.compile(r"(^|_)(description|name|footer|memo|nickname)$")

_ABSENT: Final = object()  # a site's value for "leave this optional property out"

_NO_SURROGATES: Final = st.characters(codec="utf-8")  # text, never a lone surrogate
_METADATA: Final = st.dictionaries(
    st.text(
        st.characters(codec="utf-8", exclude_characters="[]"),
        min_size=1,
        max_size=_METADATA_MAX_KEY_LENGTH,
    ),
    st.text(_NO_SURROGATES, max_size=_METADATA_MAX_VALUE_LENGTH),
    max_size=_METADATA_MAX_KEYS,
)


@dataclass(frozen=True)
class _Site:
    """One place in ``data.object`` whose value may change, and what it may change to."""

    path: _Path
    values: st.SearchStrategy[Any]


@dataclass(frozen=True)
class _Sites:
    """Everything that may change in one object type's canonical object."""

    sites: tuple[_Site, ...]
    picks: st.SearchStrategy[int]
    #: Properties the contract lets Stripe leave out.
    optional: tuple[_Path, ...]
    optional_picks: st.SearchStrategy[int]
    currency_paths: tuple[_Path, ...]


# ---------------------------------------------------------------------------------------------------
# Schemas -> sites


# The contracts are read through these three helpers only: with one contract set per API version,
# they are where the version picks the set.


@functools.cache
def _definition(name: str, api_version: str | None) -> Mapping[str, Any]:
    """The schema of the ``$defs`` entry ``name`` in the contract set for ``api_version``."""
    return contracts.object_schema(name, version=api_version)


def _supported(api_version: str | None) -> tuple[str, ...]:
    return contracts.supported_event_types(version=api_version)


def _info(event_type: str, api_version: str | None) -> contracts.EventInfo:
    return contracts.event_info(event_type, version=api_version)


def _ref_name(ref: str) -> str | None:
    _, marker, name = ref.partition("#/$defs/")
    return name if marker and name and "/" not in name else None


def _one_of(options: list[st.SearchStrategy[Any]]) -> st.SearchStrategy[Any] | None:
    if not options:
        return None
    return options[0] if len(options) == 1 else st.one_of(options)


def _others(listed: Sequence[Any], value: Any) -> st.SearchStrategy[Any] | None:
    others = [option for option in dict.fromkeys(listed) if option != value]
    return st.sampled_from(others) if others else None


class _SiteFinder:
    """Walks a canonical object beside its schema and lists the sites where values may change."""

    def __init__(self, api_version: str | None) -> None:
        self._api_version = api_version
        self.sites: list[_Site] = []
        self.optional: list[_Path] = []
        self.currency_paths: list[_Path] = []

    def _resolve(self, node: Any, depth: int = 0) -> Mapping[str, Any] | None:
        if not isinstance(node, Mapping):
            return None
        if "$ref" in node and depth < 8:
            name = _ref_name(str(node["$ref"]))
            if name is None:
                return None
            return self._resolve(_definition(name, self._api_version), depth + 1)
        return node

    def value(self, node: Any, value: Any, path: _Path, *, optional: bool) -> None:
        """List the sites of ``value`` (at ``path``) that ``node`` describes."""
        key = path[-1] if path else None
        resolved = self._resolve(node)
        if resolved is None or key in _FIXED_KEYS or names_an_object(resolved):
            return
        if isinstance(value, str) and _ID_LIKE.match(value):
            return  # an id the contract does not mark as one (no x-id-of): still an id
        nullable = False
        branches = resolved.get("anyOf")
        if isinstance(branches, list):
            nullable = {"type": "null"} in branches
            shapes = [branch for branch in branches if branch != {"type": "null"}]
            # Several object shapes: which one a value is cannot be told here, so only null varies.
            resolved = self._resolve(shapes[0]) if len(shapes) == 1 else None
        if resolved is not None:
            nullable = nullable or "null" in types_of(resolved)
        if key == "metadata":
            nullable = False  # Stripe renders no metadata as {}, never as null
        options: list[st.SearchStrategy[Any]] = []
        if optional:
            self.optional.append(path)
        if nullable and value is not None:
            options.append(st.none())
        if resolved is not None:
            change = self._change(resolved, value, key, path, nullable=nullable)
            if change is not None:
                options.append(change)
        values = _one_of(options)
        if values is not None:
            self.sites.append(_Site(path, values))

    def _change(
        self,
        node: Mapping[str, Any],
        value: Any,
        key: str | int | None,
        path: _Path,
        *,
        nullable: bool,
    ) -> st.SearchStrategy[Any] | None:
        """What a value other than null or absent may become; children are listed as sites."""
        types = types_of(node)
        listed = listed_values(node)
        if listed is not None:
            return _others([option for option in listed if option is not None], value)
        if key in _CURRENCY_KEYS and isinstance(value, str):
            self.currency_paths.append(path)
            return None
        if key == "metadata" and isinstance(value, dict):
            return _METADATA
        if "boolean" in types:
            return _others([True, False], value)
        if "integer" in types and isinstance(key, str) and _AMOUNT_KEY.search(key):
            minimum = node.get("minimum")
            lowest = -MAX_AMOUNT if _SIGNED_AMOUNT_KEY.search(key) else 0
            lowest = max(lowest, int(minimum)) if isinstance(minimum, (int, float)) else lowest
            return st.integers(lowest, MAX_AMOUNT)
        if "string" in types and isinstance(key, str) and _TEXT_KEY.search(key):
            if "pattern" in node or "format" in node:
                return None
            limit = node.get("maxLength")
            size = min(40, limit) if isinstance(limit, int) and limit >= 1 else 40
            return st.text(_NO_SURROGATES, min_size=1, max_size=size)
        if isinstance(value, dict):
            self._object(node, value, path)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.value(node.get("items"), item, (*path, index), optional=False)
        return None

    def _object(self, node: Mapping[str, Any], value: dict[str, Any], path: _Path) -> None:
        properties = node.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        required = set(node.get("required") or ())
        additional = node.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                sub = properties[key]
                optional = key not in required and key != "metadata"
                self.value(sub, item, (*path, key), optional=optional)
            elif isinstance(additional, Mapping):
                self.value(additional, item, (*path, key), optional=False)


@functools.cache
def _sites(event_type: str, object_type: str, api_version: str | None) -> _Sites:
    """The sites of one type's object, found on one fixed canonical event.

    Canonical events differ only in ids, owners and mode, never in shape; finding the sites on one
    fixed event (the first endpoint that receives the type, test mode) keeps what a seed draws
    independent of what was drawn before.
    """
    account = _receiving(event_type, api_version)[0]
    event = build_event(
        event_type, account=account, object_type=object_type, api_version=api_version
    )
    return _find_sites(event, object_type, api_version)


def _find_sites(event: Event, object_type: str, api_version: str | None) -> _Sites:
    finder = _SiteFinder(api_version)
    finder.value({"$ref": f"#/$defs/{object_type}"}, event.data_object, (), optional=False)
    # previous_attributes says what a field was before this change: the field keeps the value it
    # was changed to, or the event would contradict itself. The fields the event's state decides
    # (its status, a paid invoice's amount_paid: lifecycle.event_states) and a list's has_more
    # (an empty list claiming more items) keep theirs for the same reason.
    shapes = contracts.resolve_version(api_version).shapes
    kept = set(event.payload["data"].get("previous_attributes") or {})
    kept |= event_states.pinned_fields(event.type, object_type, shapes)

    def free(path: _Path) -> bool:
        return not path or (path[0] not in kept and path[-1] not in _LIST_BOOKKEEPING)

    sites = tuple(site for site in finder.sites if free(site.path))
    optional = tuple(path for path in finder.optional if free(path))
    return _Sites(
        sites=sites,
        picks=st.integers(0, max(0, len(sites) - 1)),
        optional=optional,
        optional_picks=st.integers(0, max(0, len(optional) - 1)),
        currency_paths=tuple(path for path in finder.currency_paths if free(path)),
    )


_LIST_BOOKKEEPING: Final = frozenset({"has_more", "total_count"})


def _parent(root: Any, path: _Path) -> Any:
    node = root
    for part in path[:-1]:
        found = isinstance(node, dict) and part in node
        found = found or (isinstance(node, list) and isinstance(part, int) and part < len(node))
        if not found:
            return None
        node = node[part]
    return node


def _at(root: Any, path: _Path) -> Any:
    parent = _parent(root, path)
    last = path[-1]
    if isinstance(parent, dict) and isinstance(last, str):
        return parent.get(last)
    if isinstance(parent, list) and isinstance(last, int) and last < len(parent):
        return parent[last]
    return None


def _apply(root: dict[str, Any], path: _Path, value: Any) -> None:
    """Set (or, for ``_ABSENT``, remove) the value at ``path``, if an earlier change left it there."""
    parent = _parent(root, path)
    last = path[-1]
    if isinstance(parent, dict) and isinstance(last, str) and last in parent:
        if value is _ABSENT:
            del parent[last]
        else:
            parent[last] = value
    elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
        parent[last] = value


# ---------------------------------------------------------------------------------------------------
# The public strategy


def _check_types(types: str | Sequence[str] | None, api_version: str | None) -> tuple[str, ...]:
    if types is None:
        return _supported(api_version)
    names = [types] if isinstance(types, str) else types
    if not isinstance(names, Sequence) or not all(isinstance(name, str) for name in names):
        raise UsageError(
            f"types={types!r} is not an event type or a list of them; pass e.g. 'invoice.paid', "
            "['payout.failed', 'account.updated'], or None for every supported type"
        )
    if not names:
        raise UsageError("types=[] names no event type; pass at least one, or None for all")
    for name in names:
        _info(name, api_version)  # raises UsageError naming the closest type
    return tuple(names)


@functools.cache
def _receiving(event_type: str, api_version: str | None) -> tuple[str | None, ...]:
    """The accounts of the endpoints that receive ``event_type``: Connect first, then platform."""
    receivable_by = _info(event_type, api_version).receivable_by
    choices: list[str | None] = []
    if "connect" in receivable_by:
        choices.append(DEFAULT_CONNECTED_ACCOUNT)
    if "account" in receivable_by:
        choices.append(None)
    return tuple(choices) or (DEFAULT_CONNECTED_ACCOUNT, None)


@functools.cache
def _receivers(event_type: str, api_version: str | None) -> st.SearchStrategy[str | None]:
    return st.sampled_from(_receiving(event_type, api_version))


def _accounts(account: object) -> st.SearchStrategy[str | None] | None:
    if account is ...:
        return None
    if isinstance(account, st.SearchStrategy):
        return account
    if account is not None and not (isinstance(account, str) and _ACCOUNT_ID.match(account)):
        raise UsageError(
            f"account={account!r} is not a connected account id; pass one like "
            "'acct_1PgafTB7WZ01zgkW', None for platform events, or a strategy of those"
        )
    return st.just(account)


def _modes(livemode: object) -> st.SearchStrategy[bool]:
    if livemode is ...:
        return st.booleans()
    if isinstance(livemode, st.SearchStrategy):
        return livemode
    if not isinstance(livemode, bool):
        raise UsageError(
            f"livemode={livemode!r} is not a boolean; pass True, False or a strategy of booleans"
        )
    return st.just(livemode)


@functools.cache
def _object_types(event_type: str, api_version: str | None) -> st.SearchStrategy[str]:
    """The event's object types, the one ``build_event`` picks first (what shrinking keeps)."""
    objects = _info(event_type, api_version).objects
    if len(objects) == 1:
        return st.just(objects[0])
    default = build_event(event_type, api_version=api_version).object_type
    return st.sampled_from((default, *(name for name in objects if name != default)))


def events(
    types: str | Sequence[str] | None = None,
    *,
    account: str | st.SearchStrategy[str | None] | EllipsisType | None = ...,
    livemode: bool | st.SearchStrategy[bool] | EllipsisType = ...,
    api_version: str | None = None,
) -> st.SearchStrategy[Event]:
    """A Hypothesis strategy for webhook events as Stripe renders them, with varied field values.

    ``types``: one event type, a list of them, or None for every supported type. ``account``: a
    connected account id (Connect events), None (platform events) or a strategy of those; left out,
    each type is drawn for the endpoints that receive it (Connect, platform or both). ``livemode``:
    a boolean or a strategy of booleans; left out, both modes are drawn. ``api_version``: the
    version the events are rendered at, as ``build_event`` takes it.

    Each event validates against its contract and its ``body`` is the exact bytes Stripe would send.
    Ids, owners, ``object``, ``livemode`` and ``created`` are ``build_event``'s for the same type,
    account and mode; values vary: listed enum values, null or set, optional fields left out,
    amounts, the currency (one per event), unicode metadata within Stripe's limits, booleans, free
    text. Only listed enum values are drawn, even where Stripe's enums are open. Examples shrink
    towards ``build_event``'s canonical event.
    """
    if api_version is not None and not isinstance(api_version, str):
        raise UsageError(
            f"api_version={api_version!r} is not a version string; pass e.g. '2023-08-16' or None"
        )
    names = _check_types(types, api_version)
    accounts = _accounts(account)
    modes = _modes(livemode)
    if api_version is not None:
        build_event(names[0], api_version=api_version)  # a version build_event refuses, refused now
    kinds = st.sampled_from(names)

    @st.composite
    def drawn_events(draw: _Draw) -> Event:
        event_type: str = draw(kinds)
        chosen: str | None = draw(
            _receivers(event_type, api_version) if accounts is None else accounts
        )
        mode: bool = draw(modes)
        object_type: str = draw(_object_types(event_type, api_version))
        event = build_event(
            event_type,
            account=chosen,
            livemode=mode,
            api_version=api_version,
            object_type=object_type,
        )
        return _vary(draw, event, _sites(event_type, object_type, api_version))

    return drawn_events()


def _vary(draw: _Draw, event: Event, found: _Sites) -> Event:
    payload = event.payload
    obj = payload["data"]["object"]
    if found.currency_paths:
        canonical = _at(obj, found.currency_paths[0])
        currency = draw(_currencies(canonical if isinstance(canonical, str) else "usd"))
        for path in found.currency_paths:
            _apply(obj, path, currency)
    if found.sites:
        for _ in range(draw(_counts(min(_MAX_CHANGES, len(found.sites))))):
            site = found.sites[draw(found.picks)]
            _apply(obj, site.path, draw(site.values))
    if found.optional:
        for _ in range(draw(_counts(min(_MAX_ABSENT, len(found.optional))))):
            _apply(obj, found.optional[draw(found.optional_picks)], _ABSENT)
    # A drawn amount moves what the state derives from it (amount_received = amount...), and a
    # type whose object may be in another state with the same status (a partial refund) draws it.
    others = event_states.alternatives(event.type)
    shapes = contracts.resolve_version(payload["api_version"]).shapes
    event_states.apply_event_state(
        obj,
        event.type,
        event.object_type,
        at=payload["created"],
        shapes=shapes,
        state=draw(_states(others)) if others else None,
    )
    agree_plans(obj, shapes)  # a drawn price moves the plan Stripe renders beside it
    body = render_body(payload)
    if body == event.body:
        return event
    # An event id names one snapshot: Stripe redelivers an event unchanged, so other contents get
    # an id of their own (derived from them), or an endpoint that deduplicates on the id would
    # acknowledge every later draw as a redelivery without handling it.
    canonical_id = payload["id"]
    payload["id"] = stripe_id("evt", hashlib.blake2b(body, digest_size=16).hexdigest())
    body = body.replace(canonical_id.encode(), payload["id"].encode(), 1)
    return dataclasses.replace(event, payload=payload, body=body)


@functools.cache
def _states(others: tuple[str, ...]) -> st.SearchStrategy[str | None]:
    """The type's own state (None: what shrinking keeps) or one of its alternatives."""
    return st.sampled_from((None, *others))


@functools.cache
def _counts(most: int) -> st.SearchStrategy[int]:
    return st.integers(0, most)


@functools.cache
def _currencies(canonical: str) -> st.SearchStrategy[str]:
    """Every currency, the canonical one first (what shrinking keeps)."""
    return st.sampled_from((canonical, *(code for code in CURRENCIES if code != canonical)))
