"""Run-time access to the committed JSON Schema contracts of Stripe's webhook events.

The contracts are data files built by :mod:`connect_harness.spec.builder` (see
``contracts/README.md``): one set per Stripe API version, each in its own folder. This module finds
them (inside the wheel, or in a source checkout), loads each file once, and validates events and
objects with validators compiled once per schema and set: validation sits on the hot path of every
generated and every checked event.

Every public function takes ``version``: None means the newest set; any other Stripe API version
picks a set as :func:`resolve_version` does (an exact set, else the newest one not newer than it).
"""

from __future__ import annotations

import datetime
import difflib
import functools
import importlib.resources
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from connect_harness.errors import ContractError, UsageError
from connect_harness.spec.fastcheck import Check, FastCompiler, NoFastPath
from connect_harness.spec.versions import RELEASED, major_of, nearest_released

if TYPE_CHECKING:  # jsonschema is imported where first needed: the CLI and plugin start faster
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError
    from referencing import Registry

__all__ = [
    "EventInfo",
    "VersionChoice",
    "api_version",
    "contract_text",
    "contract_versions",
    "contracts_dir",
    "event_info",
    "event_schema",
    "id_prefix",
    "object_example",
    "object_schema",
    "object_types",
    "resolve_version",
    "supported_event_types",
    "unsupported_event_types",
    "validate_event",
    "validate_object",
]

_MANIFEST: Final = "manifest.json"
_API_VERSION: Final = re.compile(r"(\d{4})-(\d{2})-(\d{2})(\.[a-z]+)?")


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


@dataclass(frozen=True)
class VersionChoice:
    """Which contract set describes an API version, and what to stamp on events."""

    #: The contract set whose shapes are used (a name from :func:`contract_versions`).
    shapes: str
    #: The ``api_version`` to stamp on events: the requested version, else the set's.
    stamp: str
    #: One line saying which shapes stand in for the requested version, or None when they match.
    note: str | None


# --------------------------------------------------------------------------------------------------
# Finding the sets


def _has_sets(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob(f"*/{_MANIFEST}"))


@functools.cache
def contracts_dir() -> Path:
    """The folder holding one sub-folder per contract set: in the wheel, else in the checkout."""
    packaged = Path(str(importlib.resources.files("connect_harness") / "contracts"))
    if _has_sets(packaged):
        return packaged
    checkout = Path(__file__).resolve().parents[3] / "contracts"
    if _has_sets(checkout):
        return checkout
    raise ContractError(
        f"the contracts are missing: neither '{packaged}' nor '{checkout}' holds "
        f"<version>/{_MANIFEST}; reinstall connect-harness, or in a checkout run "
        "`connect-harness contracts build`"
    )


def _date(version: str) -> str:
    return version[:10]


@functools.cache
def contract_versions() -> tuple[str, ...]:
    """The API versions with a contract set, oldest first (``("2023-08-16", ...)``)."""
    names = [path.parent.name for path in contracts_dir().glob(f"*/{_MANIFEST}")]
    return tuple(sorted(names, key=lambda name: (_date(name), name)))


def _check_version(requested: str) -> str:
    value = requested.strip() if isinstance(requested, str) else ""
    match = _API_VERSION.fullmatch(value)
    valid = match is not None
    if match is not None:
        try:
            datetime.date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            valid = False
    if not valid:
        raise UsageError(
            f"API version {requested!r} is not a Stripe API version; give one like 2024-06-20 or "
            "2026-10-28.endive"
        )
    return value


@functools.cache
def resolve_version(requested: str | None) -> VersionChoice:
    """The contract set for API version ``requested`` (None: the newest set, stamped as itself).

    An exact set if there is one; else the set of the requested version's major release (the
    newest set not newer than it, which is never one of an older major), stamping ``requested``;
    ``note`` then says which shapes stand in. Versions before every set get the oldest set. A
    malformed version, and one Stripe never released (see :mod:`connect_harness.spec.versions`),
    raise :class:`UsageError`; a version newer than every release known here is taken as a later
    release of the newest set's major when it names that major, and refused otherwise.
    """
    versions = contract_versions()
    if requested is None:
        return VersionChoice(shapes=versions[-1], stamp=versions[-1], note=None)
    value = _check_version(requested)
    if value in versions:
        return VersionChoice(shapes=value, stamp=value, note=None)
    release = _released(value)
    older = [name for name in versions if _date(name) <= _date(value)]
    if not older:
        shapes = versions[0]
        why = f"the oldest contract set: {value} is older than every set"
    else:
        shapes = older[-1]
        major = major_of(release) if release else major_of(value)
        if major is not None and major_of(shapes) != major:
            raise UsageError(
                f"API version {value} belongs to the {major} release, which has no contract set "
                f"(the newest set not newer is {shapes}, of another release whose shapes differ); "
                f"add one with `python scripts/add_version.py {value}` in a checkout, or give a version of a "
                "release that has one"
            )
        if release is None:
            why = (
                f"the set of the {major} release: {value} is newer than {RELEASED[-1]}, the "
                "newest version this connect-harness knows, and a release only adds fields"
            )
        elif major is not None:
            why = f"the set of the {major} release, whose later versions only add fields"
        else:
            why = f"the newest contract set not newer than {value}"
    note = f"API version {value}: events use the shapes of {shapes} ({why}), stamped {value}"
    return VersionChoice(shapes=shapes, stamp=value, note=note)


def _released(value: str) -> str | None:
    """The released version ``value`` names (a bare date names the version of that date).

    None for a version newer than every known release that names the newest set's major;
    :class:`UsageError` for any other version Stripe never released.
    """
    if value in RELEASED:
        return value
    if "." not in value:
        same_day = [name for name in RELEASED if _date(name) == value]
        if same_day:
            return same_day[-1]
    newest_set = contract_versions()[-1]
    if _date(value) > _date(RELEASED[-1]) and major_of(value) == major_of(newest_set):
        return None
    nearest = " and ".join(nearest_released(value))
    if _date(value) > _date(RELEASED[-1]):
        raise UsageError(
            f"API version {value} is newer than every Stripe API version this connect-harness "
            f"knows (the newest is {RELEASED[-1]}); if Stripe has released it, upgrade "
            f"connect-harness or, in a checkout, run `python scripts/add_version.py {value}`; "
            f"else give {RELEASED[-1]}"
        )
    raise UsageError(
        f"API version {value} is not one Stripe released; the nearest are {nearest}: give the "
        "version your endpoint is pinned to (its Stripe dashboard or SDK names it)"
    )


def _shapes(version: str | None) -> str:
    return resolve_version(version).shapes


# --------------------------------------------------------------------------------------------------
# Files of one set


#: Where the builder records what a set shares with newer sets (builder.share_identical).
_SHARED_FILES: Final = "shared_files"
_SHARED_DEFS: Final = "x-shared-defs"
_BASE_URI: Final = "https://connect-harness.invalid/contracts/"


@functools.cache
def _file_owners(shapes: str) -> Mapping[str, str]:
    """Relative path -> the newer set that holds this set's copy of the file."""
    shared = _manifest(shapes).get(_SHARED_FILES) or {}
    return {relative: owner for owner, paths in shared.items() for relative in paths}


def _read_text(shapes: str, relative: str) -> str:
    if relative != _MANIFEST:
        owner = _file_owners(shapes).get(relative)
        if owner is not None:  # the same file as the owner's, but for its own URI
            text = _read_own_text(owner, relative)
            return text.replace(f"{_BASE_URI}{owner}/", f"{_BASE_URI}{shapes}/")
    return _read_own_text(shapes, relative)


def _read_own_text(shapes: str, relative: str) -> str:
    path = contracts_dir() / shapes / relative
    try:
        return path.read_text(encoding="utf-8")
    except OSError as err:
        raise ContractError(
            f"contract file '{path}' cannot be read ({err.__class__.__name__}); reinstall "
            "connect-harness or rebuild the contracts with `connect-harness contracts build`"
        ) from err


@functools.cache
def _load(shapes: str, relative: str) -> Any:
    text = _read_text(shapes, relative)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ContractError(
            f"contract file '{contracts_dir() / shapes / relative}' is not valid JSON ({err.msg}); "
            "rebuild the contracts with `connect-harness contracts build`"
        ) from err


def _manifest(shapes: str) -> Mapping[str, Any]:
    manifest: Mapping[str, Any] = _load(shapes, _MANIFEST)
    return manifest


@functools.cache
def _objects(shapes: str) -> Mapping[str, Any]:
    """The set's ``objects.json`` with the schemas it shares with newer sets put back."""
    stored: Mapping[str, Any] = _load(shapes, "objects.json")
    shared = stored.get(_SHARED_DEFS)
    if not shared:
        return stored
    defs = dict(stored["$defs"])
    for owner, names in shared.items():
        owner_defs = _load(owner, "objects.json")["$defs"]
        defs.update({name: owner_defs[name] for name in names})
    objects = {key: value for key, value in stored.items() if key != _SHARED_DEFS}
    objects["$defs"] = dict(sorted(defs.items()))
    return objects


def contract_text(version: str, relative: str) -> str:
    """The text of file ``relative`` (``events/invoice.paid.json``) of contract set ``version``.

    What a set shares with a newer one is stored once (``contracts/README.md``, "Shared
    content"); this gives the set's own copy back. ``objects.json`` comes with every schema the
    set has, shared ones included.
    """
    shapes = _shapes(version)
    if relative == "objects.json":
        return json.dumps(_objects(shapes), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return _read_text(shapes, relative)


# --------------------------------------------------------------------------------------------------
# What a set describes


def api_version(*, version: str | None = None) -> str:
    """The API version of the contract set (default the newest), e.g. ``"2026-10-28.endive"``."""
    return str(_manifest(_shapes(version))["api_version"])


def supported_event_types(*, version: str | None = None) -> tuple[str, ...]:
    """Every event type with a contract in the set, sorted."""
    return _supported(_shapes(version))


@functools.cache
def _supported(shapes: str) -> tuple[str, ...]:
    return tuple(sorted(_manifest(shapes)["events"]))


def unsupported_event_types(*, version: str | None = None) -> dict[str, str]:
    """Event types Stripe lists but the set cannot describe: type -> reason."""
    return dict(_manifest(_shapes(version))["unsupported"])


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


def event_info(event_type: str, *, version: str | None = None) -> EventInfo:
    """What the set knows about ``event_type``.

    Raises :class:`UsageError` naming the closest supported type for an unknown one.
    """
    return _event_info(event_type, _shapes(version))


@functools.cache
def _event_info(event_type: str, shapes: str) -> EventInfo:
    events = _manifest(shapes)["events"]
    entry = events.get(event_type)
    if entry is None:
        unsupported = _manifest(shapes)["unsupported"]
        if event_type in unsupported:
            raise UsageError(
                f"event type {event_type!r} has no contract at API version {shapes}: "
                f"{unsupported[event_type]}; pick one of the {len(events)} supported types "
                "(connect-harness events lists them) or a newer --api-version"
            )
        known = _supported(shapes)
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


def event_schema(event_type: str, *, version: str | None = None) -> dict[str, Any]:
    """The JSON Schema contract of ``event_type`` in the set (a fresh copy).

    Its ``data.object`` refers into the set's ``objects.json``; for one self-contained document
    use :func:`connect_harness.spec.export.standalone_schema`.
    """
    shapes = _shapes(version)
    _event_info(event_type, shapes)
    schema: dict[str, Any] = json.loads(_read_text(shapes, f"events/{event_type}.json"))
    return schema


def object_types(*, version: str | None = None) -> tuple[str, ...]:
    """Object types with a canonical example (every type an event's ``data.object`` holds)."""
    return tuple(_manifest(_shapes(version))["examples"])


def _check_object_type(object_type: str, shapes: str) -> None:
    if object_type not in _objects(shapes)["$defs"]:
        known = tuple(_manifest(shapes)["examples"])
        raise _unknown(
            "object type",
            object_type,
            known,
            f"the contracts of {shapes} describe {len(known)} event object types",
        )


def object_schema(object_type: str, *, version: str | None = None) -> dict[str, Any]:
    """The schema of one object (a fresh copy); its ``#/$defs/...`` refs point into objects.json.

    Any ``$defs`` name works, including sub-objects such as ``account_requirements``.
    """
    shapes = _shapes(version)
    _check_object_type(object_type, shapes)
    schema: dict[str, Any] = json.loads(_object_schema_text(object_type, shapes))
    return schema


@functools.cache
def _object_schema_text(object_type: str, shapes: str) -> str:
    """One object's schema as JSON text, written once: each fresh copy is then one ``json.loads``."""
    return json.dumps(_objects(shapes)["$defs"][object_type])


def id_prefix(object_type: str, *, version: str | None = None) -> str | None:
    """The id prefix of ``object_type`` (``"acct_"`` for ``account``), or None if ids are names."""
    prefix = _manifest(_shapes(version))["id_prefixes"].get(object_type)
    return None if prefix is None else str(prefix)


@functools.cache
def _example_text(object_type: str, shapes: str) -> str:
    known = tuple(_manifest(shapes)["examples"])
    if object_type not in known:
        raise _unknown(
            "object type",
            object_type,
            known,
            f"examples at {shapes} exist for the {len(known)} event object types",
        )
    return _read_text(shapes, f"examples/{object_type}.json")


def object_example(object_type: str, *, version: str | None = None) -> dict[str, Any]:
    """A fresh copy of the canonical example ``object_type`` object (safe to mutate)."""
    example: dict[str, Any] = json.loads(_example_text(object_type, _shapes(version)))
    return example


# --------------------------------------------------------------------------------------------------
# Validation


@functools.cache
def _registry(shapes: str) -> Registry[Any]:
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    objects = _objects(shapes)
    registry: Registry[Any] = Registry().with_resource(
        objects["$id"], Resource.from_contents(objects, default_specification=DRAFT202012)
    )
    return registry


@functools.cache
def _event_validator(event_type: str, shapes: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator
    from referencing import Resource
    from referencing.jsonschema import DRAFT202012

    schema = _load(shapes, f"events/{event_type}.json")
    registry = _registry(shapes).with_resource(
        schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012)
    )
    return Draft202012Validator(schema, registry=registry)


@functools.cache
def _object_validator(object_type: str, shapes: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    reference = {"$ref": f"{_objects(shapes)['$id']}#/$defs/{object_type}"}
    return Draft202012Validator(reference, registry=_registry(shapes))


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


@functools.cache
def _fast_compiler(shapes: str) -> FastCompiler:
    return FastCompiler(_objects(shapes)["$defs"])


@functools.cache
def _fast_event_check(event_type: str, shapes: str) -> Check | None:
    try:
        return _fast_compiler(shapes).compile(_load(shapes, f"events/{event_type}.json"))
    except NoFastPath:
        return None


@functools.cache
def _fast_object_check(object_type: str, shapes: str) -> Check | None:
    try:
        return _fast_compiler(shapes).ref(object_type)
    except NoFastPath:
        return None


def _payload_shapes(payload: Mapping[str, Any]) -> str:
    stamped = payload.get("api_version")
    if isinstance(stamped, str) and _API_VERSION.fullmatch(stamped.strip()):
        try:
            return _shapes(stamped)
        except UsageError:
            # A version Stripe never released (or an impossible date) still says when the
            # payload was shaped: the newest set not newer judges it, else the newest.
            older = [name for name in contract_versions() if _date(name) <= stamped.strip()[:10]]
            if older:
                return older[-1]
    return contract_versions()[-1]


def validate_event(payload: Mapping[str, Any], *, version: str | None = None) -> list[str]:
    """Check an event against the contract of its ``type``: [] if valid, else readable error lines.

    Without ``version`` the set is chosen by the event's own ``api_version`` (as
    :func:`resolve_version` does; the newest set when it has none). Each line is
    ``<json path>: <message>``, e.g. ``$.livemode: 'yes' is not of type 'boolean'``.
    """
    if not isinstance(payload, Mapping):
        return [f"$: the event must be a JSON object, not {type(payload).__name__}"]
    shapes = _shapes(version) if version is not None else _payload_shapes(payload)
    event_type = payload.get("type")
    if not isinstance(event_type, str):
        return ["$.type: the event has no string 'type', so no contract applies"]
    if event_type not in _manifest(shapes)["events"]:
        try:
            _event_info(event_type, shapes)
        except UsageError as err:
            return [f"$.type: {err}"]
    fast = _fast_event_check(event_type, shapes)
    if fast is not None and fast(payload):
        return []
    return _format(list(_event_validator(event_type, shapes).iter_errors(payload)))


def validate_object(
    object_type: str, obj: Mapping[str, Any], *, version: str | None = None
) -> list[str]:
    """Check one object against its schema: [] if valid, else ``<json path>: <message>`` lines."""
    shapes = _shapes(version)
    _check_object_type(object_type, shapes)
    fast = _fast_object_check(object_type, shapes)
    if fast is not None and fast(obj):
        return []
    return _format(list(_object_validator(object_type, shapes).iter_errors(obj)))
