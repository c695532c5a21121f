"""One stored object, rendered in the API version a request asks for.

The store keeps one state per object, in whatever shapes it was first made (the newest contract
set for objects the fake creates, an event's own version for objects an event carried). Stripe
renders every response in the request's API version (its ``Stripe-Version`` header, else the
account's default: https://docs.stripe.com/api/versioning), so each answer is rendered here,
walking the target version's contract schema down every sub-object and list: fields it does not
have are left out; fields it needs that the stored state lacks, and values of a type it does not
allow, are taken from the object the contracts build at that version with the same id, owner and
mode (a sub-object that object leaves out or holds null is rendered so). A few fields Stripe moved
between versions keep their meaning across the move (:data:`_MOVES`); events are never rendered
again: they keep the version they were sent in.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Mapping
from typing import Any, Final

from connect_harness.errors import HarnessError
from connect_harness.spec.plans import agree_plans

__all__ = ["INCLUDED", "render_in_version", "scalar_fields"]

#: (object type, field at old versions, path in newer versions, the newer container when the old
#: field holds a value): the same fact in both shapes. Stripe's 2025-03-31.basil changelog:
#: "invoice.subscription" moved to "invoice.parent.subscription_details.subscription", with
#: ``parent.type`` "subscription_details" (the parent schema of the description).
_MOVES: tuple[tuple[str, str, tuple[str, ...], dict[str, Any]], ...] = (
    (
        "invoice",
        "subscription",
        ("parent", "subscription_details", "subscription"),
        {
            "quote_details": None,
            "subscription_details": {"metadata": None, "subscription": None},
            "type": "subscription_details",
        },
    ),
)

#: Fields Stripe includes in an object only when a request expands them, at every version the
#: contracts cover. A customer's ``cash_balance``: the API reference marks it "Expandable" on the
#: Customer object and its example object leaves it out (docs.stripe.com/api/customers/object),
#: as Stripe's own example customer does (stripe/openapi fixtures3.json, in ../shared/stripe-spec);
#: the description lists it in ``x-expandableFields`` with no id form (nothing to replace, so
#: expanding can only include it). Expanding it includes the object ``GET
#: /v1/customers/{customer}/cash_balance`` serves (stripe_api.dispatch.Dispatcher.included).
INCLUDED: Final[Mapping[str, frozenset[str]]] = {"customer": frozenset({"cash_balance"})}

#: (type, id, owner, livemode, contract set) -> the object the contracts build in that set.
Builder = Callable[[str, "str | None", "str | None", bool, str], "dict[str, Any]"]


@functools.cache
def _schema(name: str, shapes: str) -> Mapping[str, Any] | None:
    """The contract schema ``name`` (an object or a sub-object's ``$defs`` entry) of ``shapes``."""
    from connect_harness.spec.contracts import object_schema

    try:
        return object_schema(name, version=shapes)
    except HarnessError:
        return None


@functools.cache
def _default_fields(object_type: str, shapes: str) -> frozenset[str]:
    """The fields the contracts' objects of ``object_type`` have by default."""
    from connect_harness.spec.contracts import object_example

    try:
        return frozenset(object_example(object_type, version=shapes))
    except HarnessError:
        return frozenset()


@functools.cache
def scalar_fields(object_type: str, version: str) -> Mapping[str, Mapping[str, Any]]:
    """The top-level fields of ``object_type`` at API ``version`` that hold a plain scalar (no
    id of another object), with their schemas: where a request's parameter of that name lands
    on an object whose stored state lacks the field (a field the newest shape dropped, such as a
    plan's ``aggregate_usage``, or one its example leaves out)."""
    from connect_harness.spec.contracts import resolve_version

    try:
        shapes = resolve_version(version).shapes
    except HarnessError:
        return {}
    schema = _schema(object_type, shapes)
    properties = schema.get("properties", {}) if schema is not None else {}
    found: dict[str, Mapping[str, Any]] = {}
    for name, prop in properties.items():
        kinds = prop.get("type") if isinstance(prop, Mapping) else None
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not isinstance(kinds, list) or "x-id-of" in prop:
            continue
        if {str(kind) for kind in kinds} <= {"integer", "boolean", "string", "number", "null"}:
            found[name] = prop
    return found


_ABSENT = object()  # the reference has no such field
_UNKNOWN = object()  # no reference built (yet)


class _Walk:
    """One rendering: the contract set, and how often the state lacked what the set needs."""

    def __init__(self, shapes: str, fill: bool = True) -> None:
        self.shapes = shapes
        #: Whether the reference fills what the state lacks (else it only says which fields
        #: beyond the description the version's objects carry).
        self.fill = fill
        #: Places the state could not be given this version's shape without a reference.
        self.broken = 0
        #: Fields of sub-objects beyond the description that only a reference can keep or drop
        #: (an account's settings.payments.statement_descriptor_prefix_kana).
        self.unplaced = 0

    def node(self, value: Any, schema: Mapping[str, Any], reference: Any, top: bool = False) -> Any:
        schema = self._resolve(schema, value)
        properties = schema.get("properties")
        if isinstance(value, dict) and isinstance(properties, Mapping):
            ref = reference if isinstance(reference, dict) else {}
            unknown = reference is _UNKNOWN
            broken_before = self.broken
            out: dict[str, Any] = {}
            for name in [*ref, *value]:
                if name in out:
                    continue
                if name not in properties:
                    # A field this version's objects carry beyond the description (Stripe's
                    # fixtures render a payment intent's `source`): kept as the state has it.
                    if name in ref and (self.fill or name in value):
                        out[name] = copy.deepcopy(value[name] if name in value else ref[name])
                    elif unknown and not top:  # the top level's are render_in_version's
                        self.unplaced += 1
                    continue
                if name in value:
                    below = _UNKNOWN if unknown else ref.get(name, _ABSENT)
                    rendered = self.node(value[name], properties[name], below)
                    if rendered is not _ABSENT:
                        out[name] = rendered
                elif name in ref and self.fill:
                    out[name] = copy.deepcopy(ref[name])
            if any(name not in out for name in schema.get("required", ())):
                self.broken += 1
            if self.broken > broken_before and (reference is None or reference is _ABSENT):
                # The version's object has none here (a valid null, or an optional field left
                # out): a sub-object this version's shape cannot complete is rendered as that.
                self.broken = broken_before
                return reference
            return out
        items = schema.get("items")
        if isinstance(value, list) and isinstance(items, Mapping):
            first = reference[0] if isinstance(reference, list) and reference else _UNKNOWN
            return [self.node(item, items, first) for item in value]
        if not _fits(value, schema):
            # A value this version does not allow here (a null where it has a string): the
            # version's own value, when there is one.
            if reference is _ABSENT:
                return _ABSENT  # optional in this version: left out, as its objects leave it
            if reference is not _UNKNOWN:
                return copy.deepcopy(reference)
            self.broken += 1
        return value

    def _resolve(self, schema: Mapping[str, Any], value: Any) -> Mapping[str, Any]:
        """The schema ``value`` is an instance of: refs followed, the branch of an ``anyOf``."""
        for _ in range(16):
            ref = schema.get("$ref")
            if isinstance(ref, str):
                found = _schema(ref.rsplit("/", 1)[-1], self.shapes)
                if found is None:
                    return {}
                schema = found
                continue
            branches = schema.get("anyOf")
            if not isinstance(branches, list):
                return schema
            chosen = self._branch(branches, value)
            if chosen is None:
                return {}
            schema = chosen
        return schema

    def _branch(self, branches: list[Any], value: Any) -> Mapping[str, Any] | None:
        candidates = []
        for branch in branches:
            resolved = self._resolve(branch, None) if "$ref" in branch else branch
            if (isinstance(value, dict) and isinstance(resolved.get("properties"), Mapping)) or (
                isinstance(value, list) and "items" in resolved
            ):
                candidates.append(resolved)
        kind = value.get("object") if isinstance(value, dict) else None
        for candidate in candidates:
            enum = candidate.get("properties", {}).get("object", {}).get("enum")
            if isinstance(enum, list) and kind in enum:
                return candidate
        return candidates[0] if candidates else None


_JSON_TYPES: Mapping[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
    "object": (dict,),
    "array": (list,),
}


def _fits(value: Any, schema: Mapping[str, Any]) -> bool:
    """Whether ``value``'s JSON type is one ``schema`` declares (no declaration: it fits)."""
    declared = schema.get("type")
    if declared is None:
        return True
    names = [declared] if isinstance(declared, str) else list(declared)
    for name in names:
        kinds = _JSON_TYPES.get(name, ())
        if isinstance(value, bool) and name in ("integer", "number"):
            continue
        if isinstance(value, kinds):
            return True
    return False


def render_in_version(obj: dict[str, Any], shapes: str, build: Builder) -> dict[str, Any]:
    """``obj`` in the shapes of contract set ``shapes`` (a new dict; ``obj`` is not changed).

    Objects of types the contracts of ``shapes`` do not describe, events and deleted objects'
    stubs are returned as they are.
    """
    object_type = obj.get("object")
    if not isinstance(object_type, str) or object_type == "event" or obj.get("deleted") is True:
        return obj  # an event keeps its version; a deleted object's stub has no shape to render
    schema = _schema(object_type, shapes)
    if schema is None:
        return obj
    walk = _Walk(shapes)
    rendered = walk.node(obj, schema, _UNKNOWN, top=True)
    fill = walk.broken or any(name not in obj for name in _default_fields(object_type, shapes))
    if fill or walk.unplaced:
        object_id = obj.get("id") if isinstance(obj.get("id"), str) else None
        owner = obj.get("account") if isinstance(obj.get("account"), str) else None
        try:
            reference = build(object_type, object_id, owner, obj.get("livemode") is True, shapes)
        except HarnessError:
            reference = None
        # Without a gap to fill, the reference only keeps the sub-objects' fields beyond the
        # description that this version's objects carry (it never adds a field the state lacks).
        rendered = _Walk(shapes, fill=bool(fill)).node(obj, schema, reference)
    if not isinstance(rendered, dict):
        return obj
    properties = schema.get("properties", {})
    extras = {
        name
        for name in _default_fields(object_type, shapes)
        if name in obj and name not in rendered and name not in properties
    }
    if extras:
        # Fields this version's objects carry beyond the description (Stripe's fixtures render a
        # payment intent's `source`), in the stored state's order.
        rendered = {
            name: rendered[name] if name in rendered else copy.deepcopy(obj[name])
            for name in dict.fromkeys([*obj, *rendered])
            if name in rendered or name in extras
        }
    _carry_moves(obj, rendered, object_type)
    for name in INCLUDED.get(object_type, ()):
        rendered.pop(name, None)  # included only when expanded: the expansion adds it back
    agree_plans(rendered, shapes)  # plan beside price: connect_harness.spec.plans
    return rendered


def _carry_moves(source: Mapping[str, Any], rendered: dict[str, Any], object_type: str) -> None:
    for moved_type, old, path, container in _MOVES:
        if moved_type != object_type:
            continue
        if old in rendered and old not in source:
            # newer state, older version: the old field holds what the new path holds
            rendered[old] = _at(source, path)
        elif path[0] in rendered and path[0] not in source and old in source:
            # older state, newer version: the new path holds the old field's value
            value = source.get(old)
            if isinstance(value, Mapping):
                value = value.get("id")
            if value is None:
                rendered[path[0]] = None
            else:
                rendered[path[0]] = copy.deepcopy(container)
                _put(rendered[path[0]], path[1:], value)


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
