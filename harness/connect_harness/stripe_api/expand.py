"""``expand[]``: ids replaced by the objects they name, where the description says a field expands.

A path such as ``latest_charge.balance_transaction`` or ``data.customer`` (in a list) is walked
through the object schemas' expandable fields (``x-expandableFields`` in the description) and the
sub-objects between them; at most four levels expand, as on Stripe. A field that cannot be expanded
is Stripe's 400. Every field the description lists in an object's ``x-expandableFields`` expands:
an id becomes its object, an array of ids (``discounts``) its objects, and a field Stripe leaves out
unless asked (``line_items``, ``sources``, ``currency_options``, ``applies_to``) is included; the
other listed fields (sub-objects such as an invoice's ``parent``) are accepted and walked through.
A search result's ``total_count`` is included only when expanded, as on Stripe. The objects
themselves come from a resolver (the store), which sees only what the caller may see; what an
included field holds comes from an includer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from connect_harness.stripe_api import bodies

__all__ = ["Includer", "Resolver", "expand"]

#: (id, the schemas the field may name, the object holding the id) -> the object, or None.
Resolver = Callable[[str, Sequence[str], Mapping[str, Any]], "dict[str, Any] | None"]

#: (the object, the field it leaves out, what the description says expanding it includes) -> the
#: field's value, or None to leave it out.
Includer = Callable[[Mapping[str, Any], str, Mapping[str, Any]], Any]

_MAX_LEVELS = 4


def expand(
    value: Any,
    schemas: Sequence[str],
    paths: Sequence[str],
    shapes: Mapping[str, Mapping[str, Any]],
    resolve: Resolver,
    schema_of: Callable[[Mapping[str, Any]], str | None],
    include: Includer | None = None,
) -> dict[str, Any] | None:
    """Expand ``paths`` in ``value`` (an object of one of ``schemas``, or a list) in place.

    Returns Stripe's 400 body for a path that cannot be expanded, else None.
    """
    for path in paths:
        parts = path.split(".")
        if sum(1 for part in parts if part != "data") > _MAX_LEVELS:
            return bodies.expand_too_deep(path)
        walker = _Walker(shapes, resolve, schema_of, include or _include_nothing, path)
        problem = walker.walk(value, schemas, parts)
        if problem is not None:
            return problem
    return None


def _include_nothing(obj: Mapping[str, Any], field: str, spec: Mapping[str, Any]) -> Any:
    return None


class _Walker:
    def __init__(
        self,
        shapes: Mapping[str, Mapping[str, Any]],
        resolve: Resolver,
        schema_of: Callable[[Mapping[str, Any]], str | None],
        include: Includer,
        path: str,
    ) -> None:
        self.shapes = shapes
        self.resolve = resolve
        self.schema_of = schema_of
        self.include = include
        self.path = path

    def walk(self, value: Any, schemas: Sequence[str], parts: list[str]) -> dict[str, Any] | None:
        if not parts:
            return None
        if isinstance(value, list):
            for item in value:
                problem = self.walk(item, schemas, parts)
                if problem is not None:
                    return problem
            return None
        if not isinstance(value, dict):
            return None  # a null or an id that could not be expanded: nothing below it to expand
        field, rest = parts[0], parts[1:]
        if value.get("object") in ("list", "search_result"):
            if field == "total_count" and not rest and value.get("object") == "search_result":
                return None  # included by the listing, which sees the expand[] it was asked
            if field != "data":
                return bodies.not_expandable(self.path)
            return self.walk(value.get("data", []), schemas, rest)
        own = self.schema_of(value)
        candidates = [own] if own is not None and own in self.shapes else list(schemas)
        for schema in candidates:
            shape = self.shapes.get(schema, {})
            targets = shape.get("x", {}).get(field)
            if targets is not None:
                current = value.get(field)
                if isinstance(current, str):
                    found = self.resolve(current, targets, value)
                    if found is not None:
                        value[field] = current = found
                return self.walk(current, targets, rest)
            targets = shape.get("a", {}).get(field)
            if targets is not None:
                items = value.get(field)
                if isinstance(items, list):
                    for index, item in enumerate(items):
                        if isinstance(item, str):
                            found = self.resolve(item, targets, value)
                            if found is not None:
                                items[index] = found
                return self.walk(items, targets, rest)
            spec = shape.get("n", {}).get(field)
            if spec is not None and field not in value:
                included = self.include(value, field, spec)
                if included is not None:
                    value[field] = included
            if not rest:
                if spec is not None:
                    return None
                continue  # a plain sub-object or list the description does not list as expandable
            sub = shape.get("s", {}).get(field)
            if sub is not None:
                return self.walk(value.get(field), [sub], rest)
            items = shape.get("l", {}).get(field)
            if items is not None:
                return self.walk(value.get(field), items, rest)
            if spec is not None:
                return self.walk(value.get(field), [], rest)
        return bodies.not_expandable(self.path)
