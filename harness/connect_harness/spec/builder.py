"""Build the committed JSON Schema contracts from Stripe's OpenAPI description.

The core, :func:`build_contracts`, is a pure function: Stripe's OpenAPI 3.0 description, the
event-type catalogue and (optionally) Stripe's fixtures go in, a mapping of relative path to exact
file text comes out. :func:`write_contracts` puts those files on disk atomically and
:func:`build_from_files` is the file-reading edge the ``connect-harness contracts build`` command
calls. ``contracts/README.md`` (written by this module) documents the layout and the modelling
choices.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from connect_harness.errors import UsageError

__all__ = [
    "CONTRACTS_BASE_URI",
    "ID_OF",
    "SourceNames",
    "build_contracts",
    "build_from_files",
    "write_contracts",
]

CONTRACTS_BASE_URI: Final = "https://connect-harness.invalid/contracts/"
_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
_COMPONENT_PREFIX: Final = "#/components/schemas/"
#: Our one annotation keyword: on an expandable field's ID string, the object types it may name.
ID_OF: Final = "x-id-of"

#: The fixed "now" of generated examples (2023-08-16T00:00:00Z, the API version's date): examples
#: are data, so they must not depend on the clock.
_EXAMPLE_TIME: Final = 1692144000

# Connect-guide notes for the eight events its webhook page singles out (our wording).
_ALL_ACCOUNT_TYPES: Final = ("custom", "express", "standard")
_PLATFORM_CONTROLLED: Final = ("custom", "express", "standard with platform controls")
_GUIDE: Final[Mapping[str, tuple[str, tuple[str, ...] | None]]] = {
    "account.application.deauthorized": (
        "The connected account disconnected your platform. Clean up what you hold for it: from now "
        "on every request made as that account fails.",
        None,
    ),
    "account.external_account.updated": (
        "A bank account or debit card that receives the connected account's payouts changed. Only "
        "sent for accounts your platform controls; it can affect payouts.",
        _PLATFORM_CONTROLLED,
    ),
    "account.updated": (
        "The connected account's requirements, capabilities or status changed; watch it to know "
        "when an account can take charges and receive payouts.",
        _ALL_ACCOUNT_TYPES,
    ),
    "balance.available": (
        "Funds became available in a balance, for example money you can now transfer to connected "
        "accounts.",
        None,
    ),
    "payment_intent.succeeded": (
        "A payment succeeded. A direct charge arrives at the Connect endpoint with the connected "
        "account's `account`; a destination charge arrives at the platform's account endpoint "
        "without it.",
        None,
    ),
    "payout.failed": (
        "A payout failed and the external account it went to is disabled: no further payouts to it "
        "until the account's external account is updated.",
        None,
    ),
    "person.updated": (
        "A person of a connected account changed, typically because Persons API requirements "
        "changed. Sent for accounts your platform controls.",
        _PLATFORM_CONTROLLED,
    ),
    "customer.created": (
        "A customer was created; the Connect webhook guide uses it as its example event.",
        None,
    ),
}

# Our model of which endpoint kind receives an event type (documented in contracts/README.md).
_CONNECT_ONLY_PREFIXES: Final = ("account.application.", "account.external_account.", "person.")
_CONNECT_ONLY_TYPES: Final = frozenset({"account.updated", "capability.updated"})
_ACCOUNT_ONLY_PREFIXES: Final = ("application_fee.", "transfer.", "climate.", "balance_settings.")

# Id prefixes the fixtures get wrong for our purpose: a test-mode infix, a price id on a plan, a
# placeholder id. Objects whose ids are names (capability, coupon, report type) get no prefix.
_PREFIX_OVERRIDES: Final[Mapping[str, str | None]] = {
    "application": "ca_",
    "checkout.session": "cs_",
    "plan": "plan_",
    "line_item": "il_",
    "capability": None,
    "coupon": None,
    "reporting.report_type": None,
}

# Fixture values that contradict the rest of their example (a payment intent still waiting for a
# payment method has not been canceled, failed or processed): rendered as null instead.
_NULL_IN_EXAMPLES: Final[Mapping[str, tuple[str, ...]]] = {
    "payment_intent": ("canceled_at", "last_payment_error", "processing", "shipping"),
}

# Realistic values for string properties the fixtures do not cover, by property name.
_STRING_BY_NAME: Final[Mapping[str, str]] = {
    "currency": "usd",
    "default_currency": "usd",
    "country": "US",
    "email": "jenny.rosen@example.com",
    "name": "Jenny Rosen",
    "phone": "+15555550100",
    "last4": "4242",
    "city": "San Francisco",
    "line1": "510 Townsend St",
    "postal_code": "94103",
    "state": "CA",
    "url": "https://example.com",
    "description": "Example",
    "fingerprint": "Xt5EWLLDS7FJjR1c",
    "brand": "Visa",
    "client_secret": "secret_example_client_secret",
}


@dataclass(frozen=True)
class SourceNames:
    """File names (never paths) of the inputs, recorded in ``manifest.json``."""

    spec: str | None = None
    fixtures: str | None = None
    event_types: str | None = None


# --------------------------------------------------------------------------------------------------
# OpenAPI 3.0 -> JSON Schema 2020-12


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


def _reachable(defs: Mapping[str, Any], roots: Iterable[str]) -> list[str]:
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
# Event catalogue


def _receivable_by(event_type: str) -> tuple[str, ...]:
    if event_type in _CONNECT_ONLY_TYPES or event_type.startswith(_CONNECT_ONLY_PREFIXES):
        return ("connect",)
    if event_type.startswith(_ACCOUNT_ONLY_PREFIXES):
        return ("account",)
    return ("connect", "account")


def _split_catalogue(
    catalogue: Mapping[str, Any], schemas: Mapping[str, Any]
) -> tuple[dict[str, list[str]], dict[str, str]]:
    supported: dict[str, list[str]] = {}
    unsupported: dict[str, str] = {}
    for event_type in sorted(catalogue):
        objects = list(catalogue[event_type].get("objects") or [])
        missing = [name for name in objects if name not in schemas]
        if not objects:
            unsupported[event_type] = (
                "the event-type catalogue lists no object schema for its data.object"
            )
        elif missing:
            names = ", ".join(repr(name) for name in missing)
            plural = "schemas" if len(missing) > 1 else "schema"
            unsupported[event_type] = (
                f"the OpenAPI description has no {plural} {names} (added after its API version)"
            )
        else:
            supported[event_type] = objects
    return supported, unsupported


def _event_schema(base: str, event_type: str, objects: Sequence[str], description: str) -> Any:
    refs = [{"$ref": f"../objects.json#/$defs/{name}"} for name in objects]
    data_object: dict[str, Any]
    if len(refs) == 1:
        data_object = refs[0]
    else:
        # A discriminated union on `object`: as fast as the single case and with readable errors,
        # unlike oneOf/anyOf, which only say "not valid under any of the given schemas".
        data_object = {
            "type": "object",
            "required": ["object"],
            "properties": {"object": {"enum": list(objects)}},
            "allOf": [
                {
                    "if": {"properties": {"object": {"const": name}}},
                    "then": ref,
                }
                for name, ref in zip(objects, refs, strict=True)
            ],
        }
    data_required = ["object"]
    if event_type.endswith(".updated"):
        data_required.append("previous_attributes")
    nullable_string = {"type": ["string", "null"]}
    return {
        "$schema": _SCHEMA_DIALECT,
        "$id": f"{base}events/{event_type}.json",
        "title": f"{event_type} event",
        "description": description,
        "type": "object",
        "required": [
            "api_version",
            "created",
            "data",
            "id",
            "livemode",
            "object",
            "pending_webhooks",
            "request",
            "type",
        ],
        "properties": {
            "id": {"type": "string", "pattern": "^evt_"},
            "object": {"const": "event"},
            "account": {"type": "string", "pattern": "^acct_"},
            "api_version": nullable_string,
            "context": {"type": "string"},
            "created": {"type": "integer", "format": "unix-time"},
            "data": {
                "type": "object",
                "required": data_required,
                "properties": {
                    "object": data_object,
                    "previous_attributes": {"type": "object"},
                },
            },
            "livemode": {"type": "boolean"},
            "pending_webhooks": {"type": "integer", "minimum": 0},
            "request": {
                "type": ["object", "null"],
                "required": ["id", "idempotency_key"],
                "properties": {"id": nullable_string, "idempotency_key": nullable_string},
            },
            "type": {"const": event_type},
        },
    }


# --------------------------------------------------------------------------------------------------
# Examples


_MISSING: Final = object()
_PLACEHOLDER_ID: Final = "obj_123"


def _id_suffix(seed: str) -> str:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    chars = []
    for _ in range(24):
        number, digit = divmod(number, len(alphabet))
        chars.append(alphabet[digit])
    return "1" + "".join(chars)


def _fixture_prefix(fixture_id: Any) -> str | None:
    if not isinstance(fixture_id, str):
        return None
    match = re.match(r"^((?:[a-z]+_)+)[A-Za-z0-9]{10,}$", fixture_id)
    return match.group(1) if match else None


def _id_prefixes(spec_schemas: Mapping[str, Any], resources: Mapping[str, Any]) -> dict[str, str]:
    """The id prefix of every API resource whose fixture shows one (or that we know better)."""
    prefixes: dict[str, str] = {}
    for name in sorted(spec_schemas):
        schema = spec_schemas[name]
        if "id" not in schema.get("properties", {}):
            continue
        base = name.removeprefix("deleted_")
        if base in _PREFIX_OVERRIDES:
            override = _PREFIX_OVERRIDES[base]
            if override:
                prefixes[name] = override
            continue
        if "x-resourceId" not in schema:
            continue
        fixture = resources.get(name) or resources.get(base) or {}
        prefix = _fixture_prefix(fixture.get("id") if isinstance(fixture, Mapping) else None)
        if prefix:
            prefixes[name] = prefix
    return prefixes


def _stripe_order(properties: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Stripe renders `id` and `object` first, then the other keys alphabetically."""
    first = [(key, properties[key]) for key in ("id", "object") if key in properties]
    rest = sorted(key for key in properties if key not in ("id", "object"))
    return first + [(key, properties[key]) for key in rest]


def _placeholder(value: Any, key: str | None = None) -> bool:
    """Whether a fixture value is filler rather than data: ``{"type": "type"}``, ``"obj_123"``.

    Stripe's fixtures fill nullable hashes with such filler; a realistic object has null there.
    """
    if isinstance(value, dict):
        return any(_placeholder(sub, k) for k, sub in value.items())
    if isinstance(value, list):
        return any(_placeholder(sub) for sub in value)
    return isinstance(value, str) and value in (key, _PLACEHOLDER_ID)


def _json_type_ok(value: Any, schema: Mapping[str, Any]) -> bool:
    declared = schema.get("type")
    if declared is None:
        return True
    types = declared if isinstance(declared, list) else [declared]
    checks = {
        "null": value is None,
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "string": isinstance(value, str),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }
    return any(checks.get(kind, False) for kind in types)


def _allows_null(schema: Mapping[str, Any]) -> bool:
    declared = schema.get("type")
    if declared == "null" or (isinstance(declared, list) and "null" in declared):
        return True
    if None in schema.get("enum", ()):
        return True
    return any(branch == {"type": "null"} for branch in schema.get("anyOf", ()))


class _ExampleMaker:
    """Renders one canonical example per object type, guided by (drifted) fixtures."""

    def __init__(
        self,
        objects_doc: Mapping[str, Any],
        resources: Mapping[str, Any],
        prefixes: Mapping[str, str],
    ) -> None:
        self._defs: Mapping[str, Any] = objects_doc["$defs"]
        self._resources = resources
        self._prefixes = prefixes
        resource = Resource.from_contents(objects_doc, default_specification=DRAFT202012)
        registry: Registry[Any] = Registry().with_resource(objects_doc["$id"], resource)
        self._root = Draft202012Validator(objects_doc, registry=registry)

    def example(self, name: str) -> Any:
        fixture = self._resources.get(name, _MISSING)
        if isinstance(fixture, dict) and name in _NULL_IN_EXAMPLES:
            fixture = {**fixture, **dict.fromkeys(_NULL_IN_EXAMPLES[name])}
        return self._object(self._defs[name], fixture, stack=(name,), def_name=name)

    def _is_valid(self, value: Any, schema: Mapping[str, Any]) -> bool:
        return bool(self._root.evolve(schema=schema).is_valid(value))

    def _value(
        self, name: str, schema: Mapping[str, Any], fixture: Any, stack: tuple[str, ...]
    ) -> Any:
        """A valid value for ``schema``; ``name`` is the property name, for realistic strings."""
        if "$ref" in schema:
            target = schema["$ref"].rsplit("/", 1)[1]
            if target in stack:
                return None
            return self._object(self._defs[target], fixture, (*stack, target), def_name=target)
        nullable = _allows_null(schema)
        if nullable and (fixture is None or fixture is _MISSING or _placeholder(fixture)):
            return None
        if ID_OF in schema and isinstance(fixture, dict):
            # The fixture shows the expanded object; webhooks carry its id.
            fixture = fixture.get("id", _MISSING)
        if "anyOf" in schema:
            real = [b for b in schema["anyOf"] if b != {"type": "null"}]
            for branch in real:
                if fixture is not _MISSING and self._plausible(fixture, branch):
                    return self._value(name, branch, fixture, stack)
            return self._value(name, real[0], _MISSING, stack)
        if fixture is not _MISSING and not _json_type_ok(fixture, schema):
            fixture = _MISSING
        if "enum" in schema:
            if fixture is not _MISSING and fixture in schema["enum"]:
                return fixture
            return schema["enum"][0]
        declared = schema.get("type")
        types = declared if isinstance(declared, list) else [declared]
        if "object" in types:
            if "properties" in schema:
                return self._object(schema, fixture, stack)
            return self._free_object(schema, fixture, stack)
        if "array" in types:
            if not isinstance(fixture, list):
                return []
            items = schema.get("items", {})
            return [self._value(name, items, item, stack) for item in fixture]
        if fixture is not _MISSING and fixture != name and self._is_valid(fixture, schema):
            if ID_OF in schema and not self._names_id(fixture, schema[ID_OF]):
                return self._string(name, schema)
            return fixture
        if "string" in types:
            return self._string(name, schema)
        if "integer" in types:
            return _EXAMPLE_TIME if schema.get("format") == "unix-time" else 0
        if "number" in types:
            return 0
        if "boolean" in types:
            return False
        return None

    def _names_id(self, value: Any, targets: Sequence[str]) -> bool:
        known = [self._prefixes[t] for t in targets if t in self._prefixes]
        return not known or (isinstance(value, str) and value.startswith(tuple(known)))

    def _free_object(self, schema: Mapping[str, Any], fixture: Any, stack: tuple[str, ...]) -> Any:
        if not isinstance(fixture, dict):
            return {}
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            return {
                key: self._value(key, extra, value, stack)
                for key, value in fixture.items()
                if self._plausible(value, extra)
            }
        return {}

    def _object(
        self,
        schema: Mapping[str, Any],
        fixture: Any,
        stack: tuple[str, ...],
        def_name: str | None = None,
    ) -> Any:
        source: Mapping[str, Any] = fixture if isinstance(fixture, dict) else {}
        required = set(schema.get("required", ()))
        out: dict[str, Any] = {}
        for prop, sub in _stripe_order(schema.get("properties", {})):
            value = source.get(prop, _MISSING)
            if prop == "id" and def_name is not None and _json_type_ok("", sub):
                out[prop] = self._object_id(def_name, value)
            elif (
                prop in required
                or _allows_null(sub)
                or (value is not _MISSING and value is not None and self._plausible(value, sub))
            ):
                out[prop] = self._value(prop, sub, value, stack)
        return out

    def _prefix(self, object_type: str) -> str | None:
        prefix = self._prefixes.get(object_type)
        if prefix is None and object_type.removeprefix("deleted_") not in _PREFIX_OVERRIDES:
            # No fixture shows the prefix: derive one from the name, as Stripe mostly does.
            prefix = object_type.rsplit(".", 1)[-1] + "_"
        return prefix

    def _object_id(self, def_name: str, fixture: Any) -> str:
        """The fixture's id if it has the type's prefix, else a made-up one that has."""
        prefix = self._prefix(def_name)
        if isinstance(fixture, str) and fixture.startswith(prefix or "") and fixture:
            return fixture
        if prefix is None:
            # Ids chosen by the user (coupons) or names (capabilities): a short code.
            return _id_suffix(def_name)[1:9].upper()
        return prefix + _id_suffix(def_name)

    def _plausible(self, value: Any, schema: Mapping[str, Any]) -> bool:
        """Whether ``value`` has the right shape to guide the rendering of ``schema``."""
        if ID_OF in schema and isinstance(value, dict):
            return isinstance(value.get("id"), str)
        if "$ref" in schema:
            return isinstance(value, dict)
        if "anyOf" in schema:
            return any(self._plausible(value, branch) for branch in schema["anyOf"])
        if "enum" in schema:
            return value in schema["enum"]
        return _json_type_ok(value, schema)

    def _string(self, name: str, schema: Mapping[str, Any]) -> str:
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            return pattern.lstrip("^").replace("[^/]+", "example")
        targets = schema.get(ID_OF, ())
        known = [target for target in targets if target in self._prefixes]
        for target in known or targets[:1]:
            return (self._prefix(target) or "") + _id_suffix(target)
        if name in _STRING_BY_NAME:
            return _STRING_BY_NAME[name]
        if name.endswith("_url"):
            return "https://example.com"
        if schema.get("format") == "decimal":
            return "0"
        return "example"


# --------------------------------------------------------------------------------------------------
# The pure core


def _dump(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _dump_example(document: Any) -> str:
    # An example's key order is meaningful (Stripe's rendering order, see _stripe_order): keep it.
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _check_spec(spec: Any) -> tuple[str, Mapping[str, Any]]:
    if not isinstance(spec, Mapping):
        raise UsageError("the OpenAPI description must be a JSON object; pass Stripe's spec3.json")
    version = spec.get("info", {}).get("version") if isinstance(spec.get("info"), Mapping) else None
    schemas = (
        spec.get("components", {}).get("schemas")
        if isinstance(spec.get("components"), Mapping)
        else None
    )
    if (
        not str(spec.get("openapi", "")).startswith("3.")
        or not isinstance(schemas, Mapping)
        or not isinstance(version, str)
    ):
        raise UsageError(
            "the input is not an OpenAPI 3 description (it needs 'openapi': '3.x', 'info.version' "
            "and 'components.schemas'); pass Stripe's openapi/spec3.json"
        )
    return version, schemas


def _check_catalogue(event_types: Any) -> Mapping[str, Any]:
    events = event_types.get("events") if isinstance(event_types, Mapping) else None
    if not isinstance(events, Mapping) or not all(
        isinstance(entry, Mapping) for entry in events.values()
    ):
        raise UsageError(
            "the event-type catalogue must be a JSON object with an 'events' object mapping each "
            "event type to {'objects': [...], 'description': ...}; pass event_types.<version>.json"
        )
    return events


def build_contracts(
    spec: Mapping[str, Any],
    *,
    event_types: Mapping[str, Any],
    fixtures: Mapping[str, Any] | None,
    sources: SourceNames | None = None,
) -> dict[str, str]:
    """Turn Stripe's OpenAPI description into the contract files: relative path -> exact text.

    Deterministic: the same inputs give the same bytes. ``sources`` only names the inputs in
    ``manifest.json``.
    """
    api_version, spec_schemas = _check_spec(spec)
    catalogue = _check_catalogue(event_types)
    sources = sources or SourceNames()
    base = f"{CONTRACTS_BASE_URI}{api_version}/"
    resources: Mapping[str, Any] = {}
    if fixtures is not None:
        found = fixtures.get("resources")
        if not isinstance(found, Mapping):
            raise UsageError(
                "the fixtures file has no 'resources' object; pass Stripe's openapi/fixtures3.json"
            )
        resources = found

    supported, unsupported = _split_catalogue(catalogue, spec_schemas)
    event_objects = sorted({name for objects in supported.values() for name in objects})
    converted = {name: convert_schema(spec_schemas[name]) for name in spec_schemas}
    defs = {name: converted[name] for name in _reachable(converted, event_objects)}
    objects_doc = {
        "$schema": _SCHEMA_DIALECT,
        "$id": f"{base}objects.json",
        "title": f"Stripe API objects as rendered in webhook events (API version {api_version})",
        "$defs": defs,
    }
    prefixes = _id_prefixes(spec_schemas, resources)

    files: dict[str, str] = {"objects.json": _dump(objects_doc)}
    events_manifest: dict[str, Any] = {}
    for event_type, objects in supported.items():
        description = str(catalogue[event_type].get("description", ""))
        files[f"events/{event_type}.json"] = _dump(
            _event_schema(base, event_type, objects, description)
        )
        guide, account_types = _GUIDE.get(event_type, (None, None))
        events_manifest[event_type] = {
            "objects": objects,
            "receivable_by": list(_receivable_by(event_type)),
            "description": description,
            "guide": guide,
            "account_types": list(account_types) if account_types else None,
        }

    maker = _ExampleMaker(objects_doc, resources, prefixes)
    for name in event_objects:
        files[f"examples/{name}.json"] = _dump_example(maker.example(name))

    manifest = {
        "api_version": api_version,
        "source": {
            "spec": sources.spec,
            "spec_version": api_version,
            "fixtures": sources.fixtures,
            "event_types": sources.event_types,
            "event_types_api_version": event_types.get("api_version"),
        },
        "counts": {
            "event_types": len(catalogue),
            "supported": len(supported),
            "unsupported": len(unsupported),
            "object_schemas": len(defs),
            "examples": len(event_objects),
        },
        "events": events_manifest,
        "unsupported": unsupported,
        "examples": event_objects,
        "id_prefixes": prefixes,
    }
    files["manifest.json"] = _dump(manifest)
    files["README.md"] = _readme(api_version, len(supported), len(unsupported))
    return dict(sorted(files.items()))


def _readme(api_version: str, supported: int, unsupported: int) -> str:
    return _README_TEMPLATE.format(
        api_version=api_version, supported=supported, unsupported=unsupported
    )


_README_TEMPLATE: Final = """\
# Contracts (generated: do not edit by hand)

JSON Schema 2020-12 contracts for Stripe v1 webhook events, built from Stripe's public OpenAPI
description of API version {api_version}. `connect_harness.spec.contracts` loads them at run time
(they ship inside the wheel as `connect_harness/contracts`); `connect_harness.spec.builder`
writes them.

## Rebuild

From the repository root, with Stripe's data files in `../shared/stripe-spec`:

    connect-harness contracts build \\
        --spec ../shared/stripe-spec/openapi.spec3.2023-08-16.json \\
        --fixtures ../shared/stripe-spec/fixtures3.2026-07-29.json \\
        --event-types ../shared/stripe-spec/event_types.2026-10-28.json \\
        --out contracts

The build is deterministic and atomic (a temporary folder next to `contracts/` is swapped in).
A test rebuilds it and compares the result with these files byte for byte.

## Layout

- `objects.json`: under `$defs`, every component schema reachable from an event's `data.object`,
  converted as described below. Its `$id` is
  `{base}{api_version}/objects.json`.
- `events/<type>.json`: one schema per supported event type ({supported} of them): the event
  envelope, with `data.object` a `$ref` into `objects.json`.
- `examples/<object>.json`: one canonical example object per object type that events carry; each
  validates against its schema. Keys are in Stripe's rendering order: `id` and `object` first,
  then the rest alphabetically.
- `manifest.json`: the inputs (file names and versions); counts; per supported event type its
  objects, who receives it (`receivable_by`), its description, and the Connect-guide note and
  account types for the eight events the Connect webhook guide singles out; the {unsupported}
  unsupported types with the reason; the list of example object types; the id prefix of every
  API resource whose prefix is known (`acct_`, `pi_`...).

Schemas refer to each other by relative `$ref` (`../objects.json#/$defs/account`), resolved
against their `$id`s (under the reserved domain `connect-harness.invalid`: nothing is fetched).

## From OpenAPI 3.0 to JSON Schema 2020-12

- `nullable: true` becomes a `null` type (`"type": ["string", "null"]`), a `null` enum value,
  or an `{{"type": "null"}}` branch of an `anyOf`.
- Expandable fields (`anyOf: [string, $ref...]` with `x-expansionResources`) keep only the
  string branch: webhook events render IDs, never expanded objects. Schemas reachable only
  through expansion are dropped. The string carries one annotation of ours, `x-id-of`: the
  object types the ID may name (`["customer"]`), so generators can pick the right prefix.
- `#/components/schemas/X` becomes `#/$defs/X`; `description` and Stripe's `x-*` vendor keys
  are dropped; `format` (`unix-time`, `decimal`) stays as an annotation.

## What the contract enforces

Strict on types, lenient on presence. A property's type, enum and nullability are enforced,
and so is the presence of the properties the description lists as `required` (a list that
under-states what Stripe renders). Unknown properties are allowed everywhere
(`additionalProperties` is never `false`), because newer API versions add fields.

The envelope requires `id` (`evt_...`), `object` (`"event"`), `api_version` (string or null),
`created` (integer), `data.object`, `livemode` (boolean), `pending_webhooks` (integer >= 0),
`request` (`{{"id", "idempotency_key"}}`, each string or null; or null) and `type` (the event
type). `account` (`acct_...`) and `context` (string) are optional. `data.previous_attributes`
(an object) is allowed on every event and required on `*.updated` events. When `data.object`
may hold several object types (`account.external_account.*`, `customer.source.*`...), the
object's `object` value selects the schema.

## Supported event types

An event type is supported when the catalogue lists at least one object schema for it and
every one of them is in the OpenAPI description. The unsupported ones (objects Stripe added
after this API version, or no object listed) are in `manifest.json` under `unsupported`, each
with its reason.

## Who receives what (`receivable_by`): our model, not Stripe's word

- `connect` only: `account.application.*`, `account.external_account.*`, `account.updated`,
  `person.*`, `capability.updated`: events about the connected account itself.
- `account` only: `application_fee.*`, `transfer.*`, `climate.*`, `balance_settings.*`: the
  platform's own money movements and products.
- everything else: both; at the Connect endpoint (with `account`) when it happens on a
  connected account, at the account endpoint (without it) when it happens on the platform.

## Examples

Values come from Stripe's fixtures where they validate against this API version's schema (the
fixtures are from a newer version: keys this version does not know are dropped, values it does
not accept are replaced); the rest is generated from the schema. Every `required` or nullable
property is rendered (a nullable one as `null` when the fixture has no value); a property that
is neither is rendered only when the fixture has it, as Stripe leaves out e.g. the per-type
sub-hashes of a payment method. Expandable fields hold ID strings with the referenced object's
prefix. Generated timestamps are {api_version} 00:00:00 UTC.
""".replace("{base}", CONTRACTS_BASE_URI)


# --------------------------------------------------------------------------------------------------
# Effects: files in, files out


def write_contracts(files: Mapping[str, str], out_dir: str | os.PathLike[str]) -> None:
    """Write ``files`` into ``out_dir``: build a sibling temp folder, then swap it in by renames.

    Nothing is ever half-written: a reader sees the old contracts or the complete new ones (or, for
    the instant between the two renames, no folder). Anything else in ``out_dir`` is replaced.
    """
    target = Path(out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    try:
        for relative, text in files.items():
            path = staging / relative
            if path.resolve().parent != staging.resolve() and staging.resolve() not in (
                path.resolve().parents
            ):
                raise UsageError(f"contract path {relative!r} escapes the output folder")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
        os.chmod(staging, 0o755)
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.rmdir(old)
            os.replace(target, old)
        os.replace(staging, target)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _read_json(path: Path, what: str, flag: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise UsageError(
            f"{what} file '{path}' does not exist; check the path given to {flag}"
        ) from err
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(
            f"{what} file '{path}' cannot be read ({err.__class__.__name__}); pass a readable "
            f"UTF-8 JSON file to {flag}"
        ) from err
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise UsageError(
            f"{what} file '{path}' is not JSON ({err.msg} at line {err.lineno}); pass the JSON "
            f"version of the file to {flag}"
        ) from err


def _find_catalogue(spec_path: Path) -> Path:
    candidates = sorted(spec_path.parent.glob("event_types.*.json"))
    if not candidates:
        raise UsageError(
            f"no event-type catalogue (event_types.*.json) next to '{spec_path}'; pass one with "
            "--event-types"
        )
    return candidates[-1]


def build_from_files(
    spec_path: str | os.PathLike[str],
    *,
    fixtures_path: str | os.PathLike[str] | None = None,
    event_types_path: str | os.PathLike[str] | None = None,
) -> dict[str, str]:
    """Read the input files and return :func:`build_contracts`'s files.

    Without ``event_types_path`` the newest ``event_types.*.json`` beside the spec is used. Bad
    input raises :class:`~connect_harness.errors.UsageError` naming the file and the fix.
    """
    spec_file = Path(spec_path)
    spec = _read_json(spec_file, "OpenAPI spec", "--spec")
    try:
        _check_spec(spec)
    except UsageError as err:
        raise UsageError(
            f"OpenAPI spec file '{spec_file}' is not an OpenAPI 3 description (it needs 'openapi', "
            "'info.version' and 'components.schemas'); pass Stripe's openapi/spec3.json to --spec"
        ) from err
    catalogue_file = Path(event_types_path) if event_types_path else _find_catalogue(spec_file)
    catalogue = _read_json(catalogue_file, "event-type catalogue", "--event-types")
    try:
        _check_catalogue(catalogue)
    except UsageError as err:
        raise UsageError(
            f"event-type catalogue file '{catalogue_file}' has no 'events' object mapping event "
            "types to their objects; pass event_types.<version>.json to --event-types"
        ) from err
    fixtures = None
    fixtures_name = None
    if fixtures_path is not None:
        fixtures_file = Path(fixtures_path)
        fixtures = _read_json(fixtures_file, "fixtures", "--fixtures")
        if not isinstance(fixtures, Mapping) or not isinstance(fixtures.get("resources"), Mapping):
            raise UsageError(
                f"fixtures file '{fixtures_file}' has no 'resources' object; pass Stripe's "
                "openapi/fixtures3.json to --fixtures"
            )
        fixtures_name = fixtures_file.name
    return build_contracts(
        spec,
        event_types=catalogue,
        fixtures=fixtures,
        sources=SourceNames(
            spec=spec_file.name, fixtures=fixtures_name, event_types=catalogue_file.name
        ),
    )
