"""Run-time access to the committed JSON Schema contracts of Stripe's webhook events.

The contracts are data files built by :mod:`connect_harness.contract_builder` (see
``contracts/README.md``). This module finds them (inside the wheel, or in a source checkout), loads
each file once, and validates events and objects with validators compiled once per schema:
validation sits on the hot path of every generated and every checked event.
"""

from __future__ import annotations

import difflib
import functools
import importlib.resources
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from connect_harness.errors import ContractError, UsageError

__all__ = [
    "EventInfo",
    "api_version",
    "contracts_dir",
    "event_info",
    "event_schema",
    "id_prefix",
    "object_example",
    "object_schema",
    "object_types",
    "supported_event_types",
    "unsupported_event_types",
    "validate_event",
    "validate_object",
]

_MANIFEST: Final = "manifest.json"


@dataclass(frozen=True)
class EventInfo:
    """What the contracts know about one supported event type."""

    type: str
    #: Component schema names ``data.object`` may hold, e.g. ``("bank_account", "card", "source")``.
    objects: tuple[str, ...]
    #: Which endpoint kinds receive it: a subset of ``("connect", "account")`` (our model).
    receivable_by: tuple[str, ...]
    description: str
    #: Connect-guide meaning, for the eight events the Connect webhook guide singles out.
    guide: str | None
    account_types: tuple[str, ...] | None


@functools.cache
def contracts_dir() -> Path:
    """The folder holding ``manifest.json``: in the installed wheel, else in the source checkout."""
    packaged = importlib.resources.files("connect_harness") / "contracts"
    if packaged.joinpath(_MANIFEST).is_file():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / "contracts"
    if (checkout / _MANIFEST).is_file():
        return checkout
    raise ContractError(
        f"the contracts are missing: neither '{packaged}' nor '{checkout}' holds {_MANIFEST}; "
        "reinstall connect-harness, or in a checkout run `connect-harness contracts build`"
    )


def _read_text(relative: str) -> str:
    path = contracts_dir() / relative
    try:
        return path.read_text(encoding="utf-8")
    except OSError as err:
        raise ContractError(
            f"contract file '{path}' cannot be read ({err.__class__.__name__}); reinstall "
            "connect-harness or rebuild the contracts with `connect-harness contracts build`"
        ) from err


@functools.cache
def _load(relative: str) -> Any:
    text = _read_text(relative)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ContractError(
            f"contract file '{contracts_dir() / relative}' is not valid JSON ({err.msg}); rebuild "
            "the contracts with `connect-harness contracts build`"
        ) from err


def _manifest() -> Mapping[str, Any]:
    manifest: Mapping[str, Any] = _load(_MANIFEST)
    return manifest


def _objects() -> Mapping[str, Any]:
    objects: Mapping[str, Any] = _load("objects.json")
    return objects


def api_version() -> str:
    """The Stripe API version the contracts were built from, e.g. ``"2023-08-16"``."""
    return str(_manifest()["api_version"])


@functools.cache
def supported_event_types() -> tuple[str, ...]:
    """Every event type with a contract, sorted."""
    return tuple(sorted(_manifest()["events"]))


def unsupported_event_types() -> dict[str, str]:
    """Event types Stripe lists but the contracts cannot describe: type -> reason."""
    return dict(_manifest()["unsupported"])


def _unknown(kind: str, value: str, known: tuple[str, ...], listing: str) -> UsageError:
    matches = difflib.get_close_matches(value, known, n=1, cutoff=0.6)
    if len(matches) == 1:
        hint = f"; did you mean {matches[0]!r}?"
    elif matches:
        hint = "; did you mean " + ", ".join(repr(m) for m in matches[:-1])
        hint += f" or {matches[-1]!r}?"
    else:
        hint = ""
    return UsageError(f"unknown {kind} {value!r}{hint} ({listing})")


@functools.cache
def event_info(event_type: str) -> EventInfo:
    """What the contracts know about ``event_type``.

    Raises :class:`UsageError` naming the closest supported type for an unknown one.
    """
    events = _manifest()["events"]
    entry = events.get(event_type)
    if entry is None:
        unsupported = unsupported_event_types()
        if event_type in unsupported:
            raise UsageError(
                f"event type {event_type!r} has no contract: {unsupported[event_type]}; pick one "
                f"of the {len(events)} supported types (connect-harness events lists them)"
            )
        known = supported_event_types()
        raise _unknown(
            "event type", event_type, known, f"connect-harness events lists all {len(known)}"
        )
    account_types = entry.get("account_types")
    return EventInfo(
        type=event_type,
        objects=tuple(entry["objects"]),
        receivable_by=tuple(entry["receivable_by"]),
        description=str(entry.get("description", "")),
        guide=entry.get("guide"),
        account_types=tuple(account_types) if account_types else None,
    )


def event_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema contract of ``event_type`` (a fresh copy)."""
    event_info(event_type)
    schema: dict[str, Any] = json.loads(_read_text(f"events/{event_type}.json"))
    return schema


def object_types() -> tuple[str, ...]:
    """Object types with a canonical example (every type an event's ``data.object`` holds)."""
    return tuple(_manifest()["examples"])


def _check_object_type(object_type: str) -> None:
    if object_type not in _objects()["$defs"]:
        raise _unknown(
            "object type",
            object_type,
            object_types(),
            f"the contracts describe {len(object_types())} event object types",
        )


def object_schema(object_type: str) -> dict[str, Any]:
    """The schema of one object (a fresh copy); its ``#/$defs/...`` refs point into objects.json.

    Any ``$defs`` name works, including sub-objects such as ``account_requirements``.
    """
    _check_object_type(object_type)
    schema: dict[str, Any] = json.loads(json.dumps(_objects()["$defs"][object_type]))
    return schema


def id_prefix(object_type: str) -> str | None:
    """The id prefix of ``object_type`` (``"acct_"`` for ``account``), or None if ids are names."""
    prefix = _manifest()["id_prefixes"].get(object_type)
    return None if prefix is None else str(prefix)


@functools.cache
def _example_text(object_type: str) -> str:
    if object_type not in object_types():
        raise _unknown(
            "object type",
            object_type,
            object_types(),
            f"examples exist for the {len(object_types())} event object types",
        )
    return _read_text(f"examples/{object_type}.json")


def object_example(object_type: str) -> dict[str, Any]:
    """A fresh copy of the canonical example ``object_type`` object (safe to mutate)."""
    example: dict[str, Any] = json.loads(_example_text(object_type))
    return example


@functools.cache
def _registry() -> Registry[Any]:
    objects = _objects()
    registry: Registry[Any] = Registry().with_resource(
        objects["$id"], Resource.from_contents(objects, default_specification=DRAFT202012)
    )
    return registry


@functools.cache
def _event_validator(event_type: str) -> Draft202012Validator:
    schema = _load(f"events/{event_type}.json")
    registry = _registry().with_resource(
        schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012)
    )
    return Draft202012Validator(schema, registry=registry)


@functools.cache
def _object_validator(object_type: str) -> Draft202012Validator:
    reference = {"$ref": f"{_objects()['$id']}#/$defs/{object_type}"}
    return Draft202012Validator(reference, registry=_registry())


def _json_path(error: ValidationError) -> str:
    path = "$"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _leaf(error: ValidationError) -> ValidationError:
    # For a union (nullable object, polymorphic data.object) report the most relevant inner error.
    while error.context:
        inner = best_match(error.context)
        if inner is None:
            break
        error = inner
    return error


def _format(errors: list[ValidationError]) -> list[str]:
    lines = []
    for error in errors:
        leaf = _leaf(error)
        lines.append(f"{_json_path(leaf)}: {leaf.message}")
    return sorted(set(lines))


def validate_event(payload: Mapping[str, Any]) -> list[str]:
    """Check an event against the contract of its ``type``: [] if valid, else readable error lines.

    Each line is ``<json path>: <message>``, e.g. ``$.livemode: 'yes' is not of type 'boolean'``.
    """
    if not isinstance(payload, Mapping):
        return [f"$: the event must be a JSON object, not {type(payload).__name__}"]
    event_type = payload.get("type")
    if not isinstance(event_type, str):
        return ["$.type: the event has no string 'type', so no contract applies"]
    if event_type not in _manifest()["events"]:
        try:
            event_info(event_type)
        except UsageError as err:
            return [f"$.type: {err}"]
    return _format(list(_event_validator(event_type).iter_errors(payload)))


def validate_object(object_type: str, obj: Mapping[str, Any]) -> list[str]:
    """Check one object against its schema: [] if valid, else ``<json path>: <message>`` lines."""
    _check_object_type(object_type)
    return _format(list(_object_validator(object_type).iter_errors(obj)))
