"""One stored object, rendered in the API version a request asks for.

The store keeps one state per object, in whatever shapes it was first made (the newest contract
set for objects the fake creates, an event's own version for objects an event carried). Stripe
renders every response in the request's API version (its ``Stripe-Version`` header, else the
account's default: https://docs.stripe.com/api/versioning), so each answer is rendered here: the
top-level fields the target version's contract does not have are left out, and the fields it has
that the stored state lacks are taken from the object the contracts build at that version with the
same id, owner and mode. A few fields Stripe moved between versions keep their meaning across the
move (:data:`_MOVES`); events are never rendered again: they keep the version they were sent in.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from connect_harness.errors import HarnessError

__all__ = ["render_in_version"]

#: (object type, field at old versions, path in newer versions): the same fact in both shapes.
#: Stripe's 2025-03-31.basil changelog: "invoice.subscription" moved to
#: "invoice.parent.subscription_details.subscription".
_MOVES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("invoice", "subscription", ("parent", "subscription_details", "subscription")),
)

#: (type, id, owner, livemode, contract set) -> the object the contracts build in that set.
Builder = Callable[[str, "str | None", "str | None", bool, str], "dict[str, Any]"]


@functools.cache
def _fields(object_type: str, shapes: str) -> tuple[frozenset[str], frozenset[str]] | None:
    """(the fields the contract of ``shapes`` allows, the fields its objects have by default)."""
    from connect_harness.spec.contracts import object_example, object_schema

    try:
        schema = object_schema(object_type, version=shapes)
        example = object_example(object_type, version=shapes)
    except HarnessError:
        return None
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return None
    return frozenset(properties), frozenset(example)


def render_in_version(obj: dict[str, Any], shapes: str, build: Builder) -> dict[str, Any]:
    """``obj`` in the shapes of contract set ``shapes`` (a new dict; ``obj`` is not changed).

    Objects of types the contracts of ``shapes`` do not describe, events and deleted objects'
    stubs are returned as they are.
    """
    object_type = obj.get("object")
    if not isinstance(object_type, str) or object_type == "event" or obj.get("deleted") is True:
        return obj  # an event keeps its version; a deleted object's stub has no shape to render
    known = _fields(object_type, shapes)
    if known is None:
        return obj
    fields, default = known
    missing = [name for name in default if name not in obj]
    extra = [name for name in obj if name not in fields]
    if not extra and not missing:
        return obj
    reference: dict[str, Any] = {}
    if missing:
        object_id = obj.get("id") if isinstance(obj.get("id"), str) else None
        owner = obj.get("account") if isinstance(obj.get("account"), str) else None
        live = obj.get("livemode") is True
        try:
            reference = build(object_type, object_id, owner, live, shapes)
        except HarnessError:
            reference = {}
    rendered: dict[str, Any] = {}
    for name in reference or obj:
        if name in obj and name in fields:
            rendered[name] = obj[name]
        elif name in reference and name in fields:
            rendered[name] = reference[name]
    for name in obj:
        if name in fields and name not in rendered:
            rendered[name] = obj[name]
    _carry_moves(obj, rendered, object_type)
    return rendered


def _carry_moves(source: Mapping[str, Any], rendered: dict[str, Any], object_type: str) -> None:
    for moved_type, old, path in _MOVES:
        if moved_type != object_type:
            continue
        if old in rendered and old not in source:
            found = _at(source, path)
            if found is not None or isinstance(source.get(path[0]), Mapping):
                rendered[old] = found
            elif path[0] in source:
                rendered[old] = None  # no parent in the stored state: not a subscription's
        elif path[0] in rendered and path[0] not in source and old in source:
            value = source.get(old)
            parent = rendered.get(path[0])
            if value is None:
                rendered[path[0]] = None
            elif isinstance(parent, dict):
                _put(parent, path[1:], value)


def _at(value: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _put(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            return
        target = child
    if path and path[-1] in target:
        target[path[-1]] = value
