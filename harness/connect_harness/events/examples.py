"""More than one payload per event type: the canonical event, then examples whose field values vary.

Example 1 is the canonical event :func:`~connect_harness.events.build.build_event` makes. Example
``k`` (2, 3, ...) is built in a world of its own (``seed + (k - 1) * EXAMPLE_SEED_STRIDE``: its own
event id and objects, so no example looks like a redelivery, or like a second event about another
example's object), then changes the places of ``data.object`` whose value is one of a listed few,
by the rules of :mod:`connect_harness.events.strategies`: an enum's other listed values
(``billing_reason``, ``capture_method``, ``business_type``...), the other boolean, null where the
contract lets an enum or free text be null, and the currency (every currency field up to two levels
deep, and those of the items of a list there, together). Those are the values handlers branch on.

Every such place changes in every example (a flag in every other one), and the values cycle:
example ``k`` takes the place's ``(k - 2 + offset)``-th value, the offset drawn once per place from
the seed and type with a seeded ``random.Random``. So ``n`` examples send ``n - 1`` different values
of every place that has that many (all of them with enough examples), and the same seed always
gives the same bytes. Hypothesis is not used to draw: its draws outside a test are not reproducible,
and importing it and building its strategies for every type would cost a default run a second. An
example's bytes are the canonical body with those values replaced in place (the same bytes
``build_event`` renders with the changes as overrides, without its pure-Python encoder again).

Only what a handler can reasonably meet in one event of the type changes: places at most two levels
deep, never a ``status`` (the type says it: ``invoice.paid`` is paid) nor a field the type's state
decides (:func:`connect_harness.lifecycle.event_states.pinned_fields`: a paid invoice's
``amount_paid``, a captured charge's ``captured``), nor a nested ``type`` (it says which sibling
object is filled in), nor a list's ``has_more`` (an empty list that claims more items makes
stripe-python's auto-pagination raise), nor why an object was canceled (``cancellation_reason``,
``cancellation_details``: a succeeded payment intent has none); ids, owners, ``object``,
``livemode``, ``created`` and what ``previous_attributes`` says changed never do. Where a type's
object may be in another state with the same status (``charge.refunded``: refunded in full or in
part; :func:`~connect_harness.lifecycle.event_states.alternatives`), the examples take the states in
turn, the canonical one first.

An example is ``build_event(type, seed=<its world>, overrides=<its changes>)``: its id is its world's
(no other event of a run has it), and ``connect-harness sign TYPE --seed S --set PATH=VALUE ...``
rebuilds its exact bytes.
"""

from __future__ import annotations

import functools
import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from connect_harness.errors import UsageError
from connect_harness.events.build import (
    Event,
    build_event,
)
from connect_harness.events.schema_nodes import listed_values, names_an_object, types_of
from connect_harness.lifecycle import event_states, reversal_lists, states
from connect_harness.spec import contracts

__all__ = ["DEFAULT_EXAMPLES", "EXAMPLE_SEED_STRIDE", "Example", "build_examples", "check_count"]

#: How many payloads per event type ``verify`` sends unless told otherwise.
DEFAULT_EXAMPLES: Final = 3

#: Example ``k`` lives in the world ``seed + (k - 1) * EXAMPLE_SEED_STRIDE``: far above the seeds a
#: run derives (``seed * 64 + 0..63``) for any seed below 2**34, so no two worlds of a run meet.
EXAMPLE_SEED_STRIDE: Final = 2**40

#: The most examples a run may ask for per type (each is one more delivery per type).
MAX_EXAMPLES: Final = 100

#: The currencies an example switches to: the strategies' (zero- and three-decimal ones among them).
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

# As in the strategies: keys that identify, own, date or give the mode of an object, and ids.
_FIXED_KEYS: Final = frozenset({"id", "object", "livemode", "created", "account", "customer"})
_ID_LIKE: Final = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*_[0-9A-Za-z]{14,}$")
_CURRENCY_KEYS: Final = frozenset({"currency", "default_currency"})
_NEVER_CHANGED: Final = frozenset({"status"})
# A list's has_more says whether items are left out: flipping it on an empty list claims items
# that are not there (stripe-python's auto-pagination then raises IndexError).
_NESTED_NEVER_CHANGED: Final = frozenset({"status", "type", "has_more", "total_count"})
_TEXT_KEY: Final = re.compile(r"(^|_)(description|name|footer|memo|nickname)$")


@dataclass(frozen=True)
class Example:
    """One payload of a type: ``index`` 1 is the canonical event, later ones vary field values.

    ``changes`` are the dotted paths whose values differ from the canonical event of the same
    world, with their values, in the order they were made. ``event.seed`` is the example's world.
    """

    index: int
    event: Event
    changes: tuple[tuple[str, Any], ...] = ()

    @property
    def overrides(self) -> dict[str, Any]:
        """``build_event(..., seed=self.event.seed, overrides=...)`` rebuilds its exact bytes."""
        return dict(self.changes)

    def describe(self) -> str:
        """``example 2 of 3 (evt_...): data.object.billing_reason="subscription_create", ...``."""
        if not self.changes:
            return f"example {self.index} ({self.event.id}, the canonical event)"
        shown = ", ".join(f"{path}={json.dumps(value)}" for path, value in self.changes)
        return f"example {self.index} ({self.event.id}: {shown})"


def check_count(count: object) -> int:
    """``count`` if it is a whole number of examples from 1 to :data:`MAX_EXAMPLES`."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_EXAMPLES:
        raise UsageError(
            f"examples {count!r} must be a whole number from 1 to {MAX_EXAMPLES}: how many "
            f"payloads to send per event type (1 sends only the canonical event; default "
            f"{DEFAULT_EXAMPLES})"
        )
    return count


def build_examples(
    event_type: str,
    count: int,
    *,
    account: str | None = None,
    livemode: bool = False,
    seed: int = 0,
    api_version: str | None = None,
) -> tuple[Example, ...]:
    """``count`` payloads of ``event_type``: the canonical event first, then varied examples.

    A pure function of its arguments: the same arguments give the same bytes.
    """
    check_count(count)
    return tuple(
        build_example(
            event_type,
            index,
            account=account,
            livemode=livemode,
            seed=seed,
            api_version=api_version,
        )
        for index in range(1, count + 1)
    )


def example_seed(seed: int, index: int) -> int:
    """The world seed of example ``index`` (1 is the canonical event's: ``seed`` itself)."""
    return seed + (index - 1) * EXAMPLE_SEED_STRIDE


def build_example(
    event_type: str,
    index: int,
    *,
    account: str | None = None,
    livemode: bool = False,
    seed: int = 0,
    api_version: str | None = None,
) -> Example:
    """Example ``index`` (1-based) of ``event_type``; see the module docstring."""
    world = example_seed(seed, index)
    if index == 1:
        event = build_event(
            event_type, account=account, livemode=livemode, seed=world, api_version=api_version
        )
        return Example(1, event)

    def build(overrides: Mapping[str, Any] | None = None) -> Event:
        return build_event(
            event_type,
            account=account,
            livemode=livemode,
            seed=world,
            api_version=api_version,
            overrides=overrides,
        )

    base = build()
    places, currency_paths = _places(base, api_version)
    # One offset per place, per seed and type (never per account or mode): the examples of a type
    # cycle through the same values whichever endpoint receives them.
    rng = random.Random(f"connect-harness examples\x1f{event_type}\x1f{seed}")
    changes: list[tuple[str, Any]] = []
    if currency_paths:
        others = [code for code in CURRENCIES if code != currency_paths[0][1]]
        currency = _cycled(others, index, rng.randrange(len(others)))
        changes += [(_dotted(path), currency) for path, _ in currency_paths]
    for path, values, canonical in places:
        value = _cycled(values, index, rng.randrange(len(values)))
        if not (value == canonical and type(value) is type(canonical)):
            changes.append((_dotted(path), value))
    changes += _state_changes(base, index)
    patched = _patched(base.body, changes)
    if patched is not None:
        # The same bytes build_event(..., overrides=changes) renders (a test compares them for
        # every type), without running the pure-Python indenting encoder again.
        return Example(index, _with_body(base, patched), tuple(changes))
    try:
        event = build(dict(changes))
    except UsageError:
        # A place this permutation's object lacks (it was found on another's): leave it out.
        changes = [(path, value) for path, value in changes if _exists(base.payload, path)]
        event = build(dict(changes))
    return Example(index, event, tuple(changes))


_Path = tuple[str, ...]


def _state_changes(base: Event, index: int) -> list[tuple[str, Any]]:
    """The fields that differ when example ``index`` carries another state the type allows.

    ``charge.refunded`` is sent fully refunded (example 1), then partially (example 2), and so on
    in turn: both are what Stripe sends for the type (lifecycle.event_states.alternatives).
    """
    others = event_states.alternatives(base.type)
    chosen = (None, *others)[(index - 1) % (len(others) + 1)]
    if chosen is None:
        return []
    obj = base.data_object
    at = base.payload["created"]
    changed = states.apply_state(json.loads(json.dumps(obj)), base.object_type, chosen, at=at)
    # A partial refund's list holds that refund: amounts that add up (lifecycle.reversal_lists).
    shapes = contracts.resolve_version(str(base.payload.get("api_version"))).shapes
    reversal_lists.fill_reversals(changed, base.object_type, at=at, shapes=shapes)
    return [(f"data.object.{path}", value) for path, value in _differences(obj, changed, "")]


def _differences(old: Any, new: Any, prefix: str) -> list[tuple[str, Any]]:
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key, value in new.items():
            found += _differences(old.get(key), value, f"{prefix}{key}.")
        return found
    return [] if old == new and type(old) is type(new) else [(prefix[:-1], new)]


_Places = tuple[tuple[tuple[_Path, tuple[Any, ...], Any], ...], tuple[tuple[_Path, Any], ...]]
_PLACES: dict[tuple[str, str, str | None], _Places] = {}


def _places(event: Event, api_version: str | None) -> _Places:
    """The places that vary in the event's object (path, values, canonical value), and its
    currency fields (path, canonical value; they change together). Found once per type and object
    type, on the first canonical event seen: canonical events differ only in ids, owners and
    mode, never in shape (a test compares every type's examples in every permutation)."""
    key = (event.type, event.object_type, api_version)
    found = _PLACES.get(key)
    if found is None:
        previous = frozenset(event.payload["data"].get("previous_attributes") or ())
        shapes = contracts.resolve_version(api_version).shapes
        pinned = event_states.pinned_fields(event.type, event.object_type, shapes)
        walker = _Walker(api_version, previous, pinned)
        obj = event.data_object
        walker.object({"$ref": f"#/$defs/{event.object_type}"}, obj, ())
        places = tuple((path, values, _at(obj, path)) for path, values in walker.places)
        currencies = tuple((path, _at(obj, path)) for path in walker.currency_paths)
        found = _PLACES.setdefault(key, (places, currencies))
    return found


class _Walker:
    """Walks a canonical object beside its schema: the places that vary, the currency fields."""

    def __init__(
        self, api_version: str | None, previous: frozenset[str], pinned: frozenset[str]
    ) -> None:
        self._api_version = api_version
        self._previous = previous  # what previous_attributes says changed: keep the new values
        self._pinned = pinned  # what the event's state decides (lifecycle.event_states)
        self.places: list[tuple[_Path, tuple[Any, ...]]] = []
        self.currency_paths: list[_Path] = []

    def _resolve(self, node: Any) -> Mapping[str, Any] | None:
        for _ in range(8):
            if not isinstance(node, Mapping):
                return None
            ref = node.get("$ref")
            if not isinstance(ref, str):
                return node
            _, marker, name = ref.partition("#/$defs/")
            if not marker or not name or "/" in name:
                return None
            node = _definition(name, self._api_version)
        return None

    def object(self, node: Any, value: Any, path: _Path) -> None:
        resolved = self._resolve(node)
        if resolved is None or not isinstance(value, dict):
            return
        properties = resolved.get("properties")
        if not isinstance(properties, Mapping):
            return
        for key, item in value.items():
            if key in properties and (path or key not in self._previous | self._pinned):
                self.value(properties[key], item, (*path, key))

    def currencies(self, node: Any, value: Any, path: _Path) -> None:
        """The currency fields of a list item."""
        resolved = self._resolve(node)
        if resolved is None or not isinstance(value, dict):
            return
        properties = resolved.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        for key, item in value.items():
            currency = key in _CURRENCY_KEYS and isinstance(item, str) and key in properties
            if currency and listed_values(self._resolve(properties[key]) or {}) is None:
                self.currency_paths.append((*path, key))

    def value(self, node: Any, value: Any, path: _Path) -> None:
        key = path[-1]
        resolved = self._resolve(node)
        if resolved is None or key in _FIXED_KEYS or names_an_object(resolved):
            return
        if isinstance(value, str) and _ID_LIKE.match(value):
            return  # an id the contract does not mark as one: still an id
        nullable = False
        branches = resolved.get("anyOf")
        if isinstance(branches, list):
            nullable = {"type": "null"} in branches
            shapes = [branch for branch in branches if branch != {"type": "null"}]
            # Several object shapes: which one a value is cannot be told here.
            resolved = self._resolve(shapes[0]) if len(shapes) == 1 else None
            if resolved is None:
                return
        types = types_of(resolved)
        nullable = (nullable or "null" in types) and value is not None
        listed = listed_values(resolved)
        if listed is None and key in _CURRENCY_KEYS and isinstance(value, str):
            self.currency_paths.append(path)
            return
        if isinstance(value, dict) and listed is None:
            if len(path) < 2:  # places are at most two levels deep
                self.object(resolved, value, path)
            return
        if isinstance(value, list):
            # Only the currency fields of list items change (an invoice's lines keep its
            # currency); other values deep in lists are not what a handler branches on first.
            for number, item in enumerate(value):
                self.currencies(resolved.get("items"), item, (*path, str(number)))
            return
        if len(path) > 2 or key in (_NEVER_CHANGED if len(path) == 1 else _NESTED_NEVER_CHANGED):
            return
        if path[0].startswith("cancel") and not isinstance(value, bool):
            return  # why it was canceled: the status, which never changes, says whether it was
        values: list[Any] = []
        if listed is not None:
            values = [option for option in dict.fromkeys(listed) if option not in (None, value)]
            if nullable:
                values.append(None)
        elif "boolean" in types and isinstance(value, bool):
            values = [not value, value]  # a flag flips in half the examples, not in every one
        elif nullable and isinstance(value, str) and _TEXT_KEY.search(key):
            values = [None]
        if values:
            self.places.append((path, tuple(values)))


@functools.cache
def _definition(name: str, api_version: str | None) -> Mapping[str, Any]:
    return contracts.object_schema(name, version=api_version)


def _at(obj: dict[str, Any], path: _Path) -> Any:
    node: Any = obj
    for part in path:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


_KEY_LINE: Final = re.compile(r'( *)"((?:[^"\\]|\\.)*)": (.*)')


def _patched(body: bytes, changes: list[tuple[str, Any]]) -> bytes | None:
    """``body`` (2-space indented JSON) with the scalar at each dotted path replaced, or None if a
    path is not found as one scalar line (then the caller renders the payload afresh)."""
    wanted = {tuple(path.split(".")): value for path, value in changes}
    lines = body.decode("utf-8").split("\n")
    # Per open container: its path and, for a list, how many items it has seen.
    stack: list[tuple[tuple[str, ...], int | None]] = []
    for number, line in enumerate(lines):
        text = line.strip()
        if text in ("{", "["):  # the root, or an object or list that is an item of a list
            path: tuple[str, ...] = ()
            if stack:
                parent, count = stack[-1]
                if count is None:
                    return None
                path = (*parent, str(count))
                stack[-1] = (parent, count + 1)
            stack.append((path, 0 if text == "[" else None))
            continue
        if text.startswith(("}", "]")):
            stack.pop()
            continue
        found = _KEY_LINE.fullmatch(line)
        if found is None:  # a scalar item of a list
            if stack and stack[-1][1] is not None:
                stack[-1] = (stack[-1][0], (stack[-1][1] or 0) + 1)
            continue
        indent, key, rest = found.groups()
        path = (*(stack[-1][0] if stack else ()), key)
        if rest in ("{", "["):
            stack.append((path, 0 if rest == "[" else None))
        elif path in wanted:
            comma = "," if rest.endswith(",") else ""
            value = json.dumps(wanted.pop(path), ensure_ascii=False)
            lines[number] = f'{indent}"{key}": {value}{comma}'
            if not wanted:
                break
    return "\n".join(lines).encode("utf-8") if not wanted else None


def _with_body(event: Event, body: bytes) -> Event:
    return Event(type=event.type, payload=json.loads(body), body=body, seed=event.seed)


def _exists(payload: dict[str, Any], dotted: str) -> bool:
    *parents, last = dotted.split(".")
    parent = _at(payload, tuple(parents))
    return isinstance(parent, dict) and last in parent


def _cycled(values: list[Any] | tuple[Any, ...], index: int, offset: int) -> Any:
    return values[(index - 2 + offset) % len(values)]


def _dotted(path: _Path) -> str:
    return "data.object." + ".".join(str(part) for part in path)


def overrides_as_text(overrides: Mapping[str, Any]) -> dict[str, str]:
    """``overrides`` as ``--set`` values: JSON text, so a string that looks like JSON stays text."""
    return {path: json.dumps(value, ensure_ascii=False) for path, value in overrides.items()}
