"""OpenAPI 3.0 schema nodes to JSON Schema 2020-12, and the contract-wide edits made after converting.

Pure functions over plain JSON data: :mod:`connect_harness.spec.builder` calls them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Final

from connect_harness.errors import UsageError

__all__ = ["ID_OF", "convert_schema", "open_enums", "reachable", "relax_required"]

_COMPONENT_PREFIX: Final = "#/components/schemas/"
#: Our one annotation keyword: on an expandable field's ID string, the object types it may name.
ID_OF: Final = "x-id-of"


def _rewrite_ref(ref: str) -> str:
    if not ref.startswith(_COMPONENT_PREFIX):
        raise UsageError(
            f"unsupported $ref {ref!r}: only '#/components/schemas/...' refs are known"
        )
    return "#/$defs/" + ref[len(_COMPONENT_PREFIX) :]


def _is_expandable(node: Mapping[str, Any]) -> bool:
    branches = node.get("anyOf")
    if not isinstance(branches, list) or "x-expansionResources" not in node:
        return False
    return any(isinstance(b, Mapping) and b.get("type") == "string" for b in branches)


def _expansion_targets(branches: Sequence[Any]) -> list[str]:
    targets: list[str] = []
    for branch in branches:
        ref = branch.get("$ref") if isinstance(branch, Mapping) else None
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[1].removeprefix("deleted_")
            if name not in targets:
                targets.append(name)
    return targets


def convert_schema(node: Any) -> Any:
    """Convert one OpenAPI 3.0 schema node (and everything under it) to JSON Schema 2020-12.

    ``nullable`` becomes a ``null`` type (or enum value, or ``anyOf`` branch); an expandable field
    keeps only its ID-string branch, because webhooks render IDs, annotated with ``x-id-of`` (the
    object types the ID may name); ``$ref`` points at ``#/$defs``; ``description`` and Stripe's
    ``x-*`` vendor keys are dropped.
    """
    if isinstance(node, list):
        return [convert_schema(item) for item in node]
    if not isinstance(node, Mapping):
        return node
    if "$ref" in node:
        # OpenAPI 3.0 ignores a $ref's siblings, so do we.
        return {"$ref": _rewrite_ref(node["$ref"])}
    source: Mapping[str, Any] = node
    out: dict[str, Any] = {}
    if _is_expandable(node):
        strings = [b for b in node["anyOf"] if isinstance(b, Mapping) and b.get("type") == "string"]
        source = dict(strings[0])
        if node.get("nullable"):
            source["nullable"] = True
        out[ID_OF] = _expansion_targets(node["anyOf"])
    for key, value in source.items():
        if key.startswith("x-") or key in ("description", "nullable"):
            continue
        if key == "properties":
            out[key] = {name: convert_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = convert_schema(value)
        elif key in ("anyOf", "oneOf", "allOf"):
            out[key] = [convert_schema(sub) for sub in value]
        else:
            out[key] = value
    if source.get("nullable"):
        _make_nullable(out)
    return out


def _make_nullable(out: dict[str, Any]) -> None:
    if "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    if "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        if "null" not in types:
            out["type"] = [*types, "null"]
        return
    for combinator in ("anyOf", "oneOf"):
        if combinator in out:
            if {"type": "null"} not in out[combinator]:
                out[combinator] = [*out[combinator], {"type": "null"}]
            return
    if "allOf" in out:
        out["anyOf"] = [{"allOf": out.pop("allOf")}, {"type": "null"}]
    # A typeless schema already admits null.


def _refs_in(node: Any) -> Iterable[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs_in(item)


def reachable(defs: Mapping[str, Any], roots: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        for ref in _refs_in(defs[name]):
            stack.append(ref.rsplit("/", 1)[1])
    return sorted(seen)


# --------------------------------------------------------------------------------------------------
# Edits after converting: open enums, presence Stripe's own fixtures contradict


def _resolve(defs: Mapping[str, Any], node: Any, depth: int = 0) -> list[dict[str, Any]]:
    """The schemas ``node`` stands for: ``$ref`` followed, every non-null ``anyOf`` branch."""
    if depth > 32 or not isinstance(node, dict):
        return []
    if "$ref" in node:
        return _resolve(defs, defs.get(str(node["$ref"]).rsplit("/", 1)[1]), depth + 1)
    if "anyOf" in node and not node.get("properties"):
        found: list[dict[str, Any]] = []
        for branch in node["anyOf"]:
            if branch != {"type": "null"}:
                found.extend(_resolve(defs, branch, depth + 1))
        return found
    return [node]


def _walk(defs: Mapping[str, Any], root: str, path: str) -> list[dict[str, Any]]:
    """The schema nodes at ``path`` (``a.b[]`` array items, ``a{}`` map values) under ``root``.

    Several where the path crosses a union (a payment method option that is one of two schemas).
    """
    nodes = _resolve(defs, defs.get(root))
    for part in path.split("."):
        name = part.rstrip("[]{}")
        if name:
            nodes = [
                sub
                for node in nodes
                if name in node.get("properties", {})
                for sub in _resolve(defs, node["properties"][name])
            ]
        for suffix in part[len(name) :].replace("[]", "[").replace("{}", "{"):
            key = "items" if suffix == "[" else "additionalProperties"
            nodes = [sub for node in nodes for sub in _resolve(defs, node.get(key))]
    return nodes


def open_enums(defs: Mapping[str, Any], open_paths: Mapping[str, Sequence[str]]) -> int:
    """Turn the enums Stripe's SDKs treat as open into ``examples`` on a string; return how many.

    ``open_paths`` maps an object type to its open enum paths (``open_enums.<version>.json``). An
    open enum keeps its ``type`` (so ``null`` stays allowed only where it was) and lists its known
    values under ``examples``, a standard annotation: validation accepts any string, generators
    draw from ``examples``. Paths this set's schemas do not have are skipped. Edits ``defs``.
    """
    changed = 0
    for root in sorted(open_paths):
        if root not in defs:
            continue
        for path in open_paths[root]:
            found = _walk(defs, root, path)
            nodes = list(
                {id(node): node for node in found if isinstance(node.get("enum"), list)}.values()
            )
            for node in nodes:
                values = node.pop("enum")
                listed = [value for value in values if value is not None]
                if "type" not in node:
                    node["type"] = ["string", "null"] if None in values else "string"
                node["examples"] = listed
            # Counted once per path the set has, also where an earlier path opened a shared schema.
            changed += bool(nodes) or any("examples" in node for node in found)
    return changed


def relax_required(
    defs: Mapping[str, Any], name: str, fixture: Any, only: Collection[str] | None = None
) -> list[str]:
    """Drop from ``required`` what Stripe's own fixture of ``name`` leaves out, at every depth.

    Returns the paths dropped (``invoice.amount_paid_off_stripe``). Edits ``defs``. With
    ``only``, just those paths may be dropped.
    """
    dropped: list[str] = []
    _relax(defs, defs.get(name), fixture, name, dropped, depth=0, only=only)
    return dropped


def _relax(
    defs: Mapping[str, Any],
    node: Any,
    value: Any,
    where: str,
    dropped: list[str],
    depth: int,
    only: Collection[str] | None = None,
) -> None:
    resolved = _resolve(defs, node)
    if len(resolved) != 1 or not isinstance(value, dict) or depth > 12:
        return  # a union: which branch the fixture shows is not known, so nothing is relaxed
    node = resolved[0]
    required = node.get("required")
    if isinstance(required, list):
        missing = [
            key
            for key in required
            if key not in value and (only is None or f"{where}.{key}" in only)
        ]
        if missing:
            node["required"] = [key for key in required if key not in missing]
            if not node["required"]:
                del node["required"]
            dropped.extend(f"{where}.{key}" for key in missing)
    properties = node.get("properties", {})
    for key, sub in value.items():
        if key in properties:
            _relax(defs, properties[key], sub, f"{where}.{key}", dropped, depth + 1, only)
