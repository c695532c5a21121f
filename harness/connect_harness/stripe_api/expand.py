"""``expand[]``: ids replaced by the objects they name, where the description says a field expands.

A path such as ``latest_charge.balance_transaction`` or ``data.customer`` (in a list) is walked
through the object schemas' expandable fields (``x-expandableFields`` in the description) and the
sub-objects between them; at most four levels expand, as on Stripe. A field that cannot be expanded
is Stripe's 400. The objects themselves come from a resolver (the store), which sees only what the
caller may see.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from connect_harness.stripe_api import bodies

__all__ = ["Resolver", "expand"]

#: (id, the schemas the field may name, the object holding the id) -> the object, or None.
Resolver = Callable[[str, Sequence[str], Mapping[str, Any]], "dict[str, Any] | None"]

_MAX_LEVELS = 4


def expand(
    value: Any,
    schemas: Sequence[str],
    paths: Sequence[str],
    shapes: Mapping[str, Mapping[str, Any]],
    resolve: Resolver,
    schema_of: Callable[[Mapping[str, Any]], str | None],
) -> dict[str, Any] | None:
    """Expand ``paths`` in ``value`` (an object of one of ``schemas``, or a list) in place.

    Returns Stripe's 400 body for a path that cannot be expanded, else None.
    """
    for path in paths:
        parts = path.split(".")
        if sum(1 for part in parts if part != "data") > _MAX_LEVELS:
            return bodies.expand_too_deep(path)
        problem = _walk(value, schemas, parts, path, shapes, resolve, schema_of)
        if problem is not None:
            return problem
    return None


def _walk(
    value: Any,
    schemas: Sequence[str],
    parts: list[str],
    path: str,
    shapes: Mapping[str, Mapping[str, Any]],
    resolve: Resolver,
    schema_of: Callable[[Mapping[str, Any]], str | None],
) -> dict[str, Any] | None:
    if not parts:
        return None
    if isinstance(value, list):
        for item in value:
            problem = _walk(item, schemas, parts, path, shapes, resolve, schema_of)
            if problem is not None:
                return problem
        return None
    if not isinstance(value, dict):
        return None  # a null or an id that could not be expanded: nothing below it to expand
    field, rest = parts[0], parts[1:]
    if value.get("object") in ("list", "search_result"):
        if field != "data":
            return bodies.not_expandable(path)
        return _walk(value.get("data", []), schemas, rest, path, shapes, resolve, schema_of)
    own = schema_of(value)
    candidates = [own] if own is not None and own in shapes else list(schemas)
    for schema in candidates:
        shape = shapes.get(schema, {})
        targets = shape.get("x", {}).get(field)
        if targets is not None:
            current = value.get(field)
            if isinstance(current, str):
                found = resolve(current, targets, value)
                if found is not None:
                    value[field] = current = found
            return _walk(current, targets, rest, path, shapes, resolve, schema_of)
        if not rest:
            continue
        sub = shape.get("s", {}).get(field)
        if sub is not None:
            return _walk(value.get(field), [sub], rest, path, shapes, resolve, schema_of)
        items = shape.get("l", {}).get(field)
        if items is not None:
            return _walk(value.get(field), items, rest, path, shapes, resolve, schema_of)
    return bodies.not_expandable(path)
