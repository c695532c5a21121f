"""Run-time access to the committed JSON Schema contracts of Stripe's webhook events.

The contracts are data files built by :mod:`connect_harness.spec.builder` (see
``contracts/README.md``). This module finds them (inside the wheel, or in a source checkout), loads
each file once, and validates events and objects with validators compiled once per schema:
validation sits on the hot path of every generated and every checked event.
"""

from __future__ import annotations

import difflib
import functools
import importlib.resources
import json
import numbers
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from connect_harness.errors import ContractError, UsageError

if TYPE_CHECKING:  # jsonschema is imported where first needed: the CLI and plugin start faster
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError
    from referencing import Registry

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
    checkout = Path(__file__).resolve().parents[3] / "contracts"
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
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    objects = _objects()
    registry: Registry[Any] = Registry().with_resource(
        objects["$id"], Resource.from_contents(objects, default_specification=DRAFT202012)
    )
    return registry


@functools.cache
def _event_validator(event_type: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator
    from referencing import Resource
    from referencing.jsonschema import DRAFT202012

    schema = _load(f"events/{event_type}.json")
    registry = _registry().with_resource(
        schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012)
    )
    return Draft202012Validator(schema, registry=registry)


@functools.cache
def _object_validator(object_type: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    reference = {"$ref": f"{_objects()['$id']}#/$defs/{object_type}"}
    return Draft202012Validator(reference, registry=_registry())


def _json_path(error: ValidationError) -> str:
    path = "$"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _leaf(error: ValidationError) -> ValidationError:
    # For a union (nullable object, polymorphic data.object) report the most relevant inner error.
    from jsonschema.exceptions import best_match

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


# ---------------------------------------------------------------------------------------------------
# A fast path for valid documents.
#
# jsonschema spends most of its time in per-keyword bookkeeping: about 1-4 ms per event. Events are
# valid far more often than not, so validation first runs a predicate compiled from the same schemas
# (the handful of keywords the contracts use, with jsonschema's semantics) and only falls back to
# jsonschema, the authority, to explain a failure. A schema using any other keyword gets no fast
# path at all, so the predicate can never accept what jsonschema would reject (tests compare both).

_Check = Callable[[Any], bool]
_ANNOTATIONS: Final = frozenset(
    {"$schema", "$id", "$defs", "title", "description", "format", "x-id-of", "$comment"}
)
_OBJECTS_REF: Final = ("#/$defs/", "../objects.json#/$defs/")


class _NoFastPath(Exception):
    """The schema uses a keyword the fast path does not implement."""


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


_TYPE_CHECKS: Final[Mapping[str, _Check]] = {
    "array": lambda value: isinstance(value, list),
    "boolean": lambda value: isinstance(value, bool),
    "integer": _is_integer,
    "null": lambda value: value is None,
    "number": _is_number,
    "object": lambda value: isinstance(value, dict),
    "string": lambda value: isinstance(value, str),
}


def _json_equal(one: Any, two: Any) -> bool:
    if isinstance(one, bool) or isinstance(two, bool):
        return isinstance(one, bool) and isinstance(two, bool) and one == two
    if isinstance(one, str) or isinstance(two, str):
        return isinstance(one, str) and isinstance(two, str) and one == two
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(map(_json_equal, one, two))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(_json_equal(one[k], two[k]) for k in one)
    if _is_number(one) and _is_number(two):
        return bool(one == two)
    return one is None and two is None


class _FastCompiler:
    def __init__(self, defs: Mapping[str, Any]) -> None:
        self._defs = defs
        self._compiled: dict[str, _Check] = {}

    def ref(self, name: str) -> _Check:
        if name not in self._defs:
            raise _NoFastPath(name)
        compiled = self._compiled

        def check(value: Any) -> bool:
            found = compiled.get(name)
            if found is None:
                found = compiled[name] = self.compile(self._defs[name])
            return found(value)

        return check

    def compile(self, schema: Any) -> _Check:
        if schema is True:
            return lambda value: True
        if not isinstance(schema, Mapping):
            raise _NoFastPath(repr(schema))
        checks: list[_Check] = []
        for key, argument in schema.items():
            if key in _ANNOTATIONS or key == "then":
                continue
            if key == "type":
                checks.append(self._type(argument))
            elif key == "properties":
                checks.append(self._properties(argument, schema.get("additionalProperties")))
            elif key == "additionalProperties":
                if "properties" not in schema:
                    checks.append(self._properties({}, argument))
            elif key == "required":
                checks.append(self._required(argument))
            elif key in ("enum", "const"):
                checks.append(self._enum(argument if key == "enum" else [argument]))
            elif key == "$ref":
                prefix = next((p for p in _OBJECTS_REF if argument.startswith(p)), None)
                if prefix is None:
                    raise _NoFastPath(argument)
                checks.append(self.ref(argument[len(prefix) :]))
            elif key == "items":
                checks.append(self._items(self.compile(argument)))
            elif key == "anyOf":
                checks.append(self._any([self.compile(branch) for branch in argument]))
            elif key == "allOf":
                checks.extend(self.compile(branch) for branch in argument)
            elif key == "if":
                checks.append(
                    self._if(self.compile(argument), self.compile(schema.get("then", True)))
                )
            elif key == "pattern":
                checks.append(self._pattern(re.compile(argument)))
            elif key == "maxLength":
                checks.append(self._max_length(argument))
            elif key == "minimum":
                checks.append(self._minimum(argument))
            else:
                raise _NoFastPath(key)
        return self._all(checks)

    @staticmethod
    def _all(checks: list[_Check]) -> _Check:
        # Hand-unrolled: this runs for every value of every event, and generators are slow.
        if not checks:
            return lambda value: True
        if len(checks) == 1:
            return checks[0]
        if len(checks) == 2:
            first, second = checks
            return lambda value: first(value) and second(value)
        if len(checks) == 3:
            first, second, third = checks
            return lambda value: first(value) and second(value) and third(value)

        def check(value: Any) -> bool:
            for one in checks:  # noqa: SIM110 - a loop is faster than all() over a generator
                if not one(value):
                    return False
            return True

        return check

    @staticmethod
    def _any(branches: list[_Check]) -> _Check:
        if len(branches) == 1:
            return branches[0]
        if len(branches) == 2:
            first, second = branches
            return lambda value: first(value) or second(value)

        def check(value: Any) -> bool:
            for branch in branches:  # noqa: SIM110 - a loop is faster than any() over a generator
                if branch(value):
                    return True
            return False

        return check

    @staticmethod
    def _type(argument: Any) -> _Check:
        names = argument if isinstance(argument, list) else [argument]
        if any(name not in _TYPE_CHECKS for name in names):
            raise _NoFastPath(repr(argument))
        if len(names) == 1:
            return _TYPE_CHECKS[names[0]]
        plain = {"array": list, "boolean": bool, "null": type(None), "object": dict, "string": str}
        classes = tuple(plain[name] for name in names if name in plain)
        if "number" in names:
            return lambda value: isinstance(value, classes) or _is_number(value)
        if "integer" in names:
            return lambda value: isinstance(value, classes) or _is_integer(value)
        return lambda value: isinstance(value, classes)

    def _properties(self, properties: Mapping[str, Any], additional: Any) -> _Check:
        compiled = {name: self.compile(sub) for name, sub in properties.items()}
        rest = None if additional is None else self.compile(additional)

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            for key, item in value.items():
                one = compiled.get(key)
                if one is not None:
                    if not one(item):
                        return False
                elif rest is not None and not rest(item):
                    return False
            return True

        return check

    @staticmethod
    def _required(names: list[str]) -> _Check:
        return lambda value: not isinstance(value, dict) or all(name in value for name in names)

    @staticmethod
    def _enum(values: list[Any]) -> _Check:
        if all(isinstance(v, str) for v in values):
            strings = frozenset(values)
            return lambda value: isinstance(value, str) and value in strings
        return lambda value: any(_json_equal(value, v) for v in values)

    @staticmethod
    def _items(each: _Check) -> _Check:
        return lambda value: not isinstance(value, list) or all(each(item) for item in value)

    @staticmethod
    def _if(condition: _Check, then: _Check) -> _Check:
        return lambda value: not condition(value) or then(value)

    @staticmethod
    def _max_length(limit: int) -> _Check:
        return lambda value: not isinstance(value, str) or len(value) <= limit

    @staticmethod
    def _minimum(limit: float) -> _Check:
        return lambda value: not _is_number(value) or value >= limit

    @staticmethod
    def _pattern(pattern: re.Pattern[str]) -> _Check:
        return lambda value: not isinstance(value, str) or pattern.search(value) is not None


@functools.cache
def _fast_compiler() -> _FastCompiler:
    return _FastCompiler(_objects()["$defs"])


@functools.cache
def _fast_event_check(event_type: str) -> _Check | None:
    try:
        return _fast_compiler().compile(_load(f"events/{event_type}.json"))
    except _NoFastPath:
        return None


@functools.cache
def _fast_object_check(object_type: str) -> _Check | None:
    try:
        return _fast_compiler().ref(object_type)
    except _NoFastPath:
        return None


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
    fast = _fast_event_check(event_type)
    if fast is not None and fast(payload):
        return []
    return _format(list(_event_validator(event_type).iter_errors(payload)))


def validate_object(object_type: str, obj: Mapping[str, Any]) -> list[str]:
    """Check one object against its schema: [] if valid, else ``<json path>: <message>`` lines."""
    _check_object_type(object_type)
    fast = _fast_object_check(object_type)
    if fast is not None and fast(obj):
        return []
    return _format(list(_object_validator(object_type).iter_errors(obj)))
