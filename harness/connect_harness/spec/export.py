"""Standalone event schemas: one self-contained JSON Schema document per event type.

The committed contracts split an event's schema from the object schemas it refers to
(``../objects.json#/$defs/...``, resolved against ``$id`` URIs that nothing serves). A validator
given one file cannot follow those refs. :func:`standalone_schema` gathers everything an event
schema reaches under its own ``$defs``, points every ``$ref`` there and drops the ``$id``, so
python-jsonschema, check-jsonschema and ajv (strict mode, ``--spec=draft2020``) can use it alone,
with no extra files, network or flags. Unless ``annotated``, it keeps only standard keywords and
formats: our ``x-id-of`` and Stripe's formats (``unix-time``, ``decimal``, ``currency``) go.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from connect_harness.spec import contracts

__all__ = ["STANDARD_FORMATS", "standalone_schema"]

#: The formats JSON Schema 2020-12 defines; any other ``format`` is dropped unless annotated.
STANDARD_FORMATS: Final = frozenset(
    {
        "date-time",
        "date",
        "time",
        "duration",
        "email",
        "idn-email",
        "hostname",
        "idn-hostname",
        "ipv4",
        "ipv6",
        "uri",
        "uri-reference",
        "iri",
        "iri-reference",
        "uuid",
        "uri-template",
        "json-pointer",
        "relative-json-pointer",
        "regex",
    }
)
_DEFS_PREFIXES: Final = ("../objects.json#/$defs/", "#/$defs/")


def _def_name(ref: str) -> str:
    for prefix in _DEFS_PREFIXES:
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    raise ValueError(f"contract $ref {ref!r} does not point into objects.json")


def _rewrite(node: Any, found: list[str], annotated: bool) -> Any:
    """A copy of ``node`` with local refs, and (unless ``annotated``) standard keywords only."""
    if isinstance(node, list):
        return [_rewrite(item, found, annotated) for item in node]
    if not isinstance(node, Mapping):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            name = _def_name(value)
            found.append(name)
            out[key] = f"#/$defs/{name}"
        elif key in ("enum", "const", "examples", "default"):
            out[key] = value  # data, not schemas
        elif key in ("properties", "$defs"):
            # Keys here are names, not keywords: keep them all, rewrite their schemas.
            out[key] = {name: _rewrite(sub, found, annotated) for name, sub in value.items()}
        elif key == "$id" or (
            not annotated
            and (key.startswith("x-") or (key == "format" and value not in STANDARD_FORMATS))
        ):
            continue
        else:
            out[key] = _rewrite(value, found, annotated)
    return out


def standalone_schema(
    event_type: str, *, version: str | None = None, annotated: bool = False
) -> dict[str, Any]:
    """One self-contained JSON Schema 2020-12 document for ``event_type`` events.

    ``version`` picks the contract set as :func:`connect_harness.spec.contracts.resolve_version`
    does (default the newest). Every object schema the event reaches is under ``$defs``; no
    ``$id``; ``annotated`` keeps our ``x-`` keywords and Stripe's formats.
    """
    shapes = contracts.resolve_version(version).shapes
    event = contracts.event_schema(event_type, version=shapes)
    found: list[str] = []
    schema: dict[str, Any] = _rewrite(event, found, annotated)
    objects = contracts._objects(shapes)["$defs"]
    defs: dict[str, Any] = {}
    while found:
        name = found.pop()
        if name not in defs:
            defs[name] = _rewrite(objects[name], found, annotated)
    schema["$defs"] = dict(sorted(defs.items()))
    schema["title"] = f"{event_type} event (Stripe API {contracts.api_version(version=shapes)})"
    return schema
