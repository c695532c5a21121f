"""Reading a contract's schema nodes: their JSON types, listed values, and whether they name an object.
Shared by the seeded examples (:mod:`connect_harness.events.examples`) and the Hypothesis strategies
(:mod:`connect_harness.events.strategies`); no Hypothesis here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["listed_values", "names_an_object", "types_of"]


def types_of(node: Mapping[str, Any]) -> set[str]:
    """The JSON types ``node`` declares."""
    declared = node.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {name for name in declared if isinstance(name, str)}
    return set()


def listed_values(node: Mapping[str, Any]) -> list[Any] | None:
    """An enum's listed values: ``enum``, or ``examples`` where the contract keeps it open."""
    for keyword in ("enum", "examples"):
        values = node.get(keyword)
        if isinstance(values, list) and values:
            return values
    return None


def names_an_object(node: Any) -> bool:
    """True if ``node`` (or one of its ``anyOf`` branches) holds another object's id."""
    if not isinstance(node, Mapping):
        return False
    branches = node.get("anyOf")
    nested = branches if isinstance(branches, list) else []
    return "x-id-of" in node or any(names_an_object(branch) for branch in nested)
