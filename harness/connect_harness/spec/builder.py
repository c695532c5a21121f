"""Build the committed JSON Schema contracts, one set per Stripe API version.

The core, :func:`build_contracts`, is a pure function: one of Stripe's OpenAPI 3.0 descriptions, the
event-type catalogue, (optionally) Stripe's fixtures and the open-enum list go in, a mapping of
relative path to exact file text comes out. :func:`build_all` does that for every API version of
:data:`CONTRACT_SETS` and adds the top-level ``README.md``; :func:`build_from_spec_dir` is the
file-reading edge the ``connect-harness contracts build`` command calls and
:func:`write_contracts` puts the files on disk atomically. The generated ``contracts/README.md``
documents the layout and the modelling choices.
"""

from __future__ import annotations

import calendar
import json
import os
import shutil
import tempfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from connect_harness.errors import UsageError
from connect_harness.spec.catalogue import (
    GUIDE,
    SCHEMA_DIALECT,
    event_schema,
    receivable_by,
    split_catalogue,
)
from connect_harness.spec.convert import (
    ID_OF,
    convert_schema,
    open_enums,
    reachable,
    relax_required,
)
from connect_harness.spec.examples import ExampleMaker, id_prefixes
from connect_harness.spec.readme import contracts_readme
from connect_harness.spec.routes import build_api_routes

__all__ = [
    "CATALOGUE_FILE",
    "CONTRACTS_BASE_URI",
    "CONTRACT_SETS",
    "FIXTURES_ERA_SPEC",
    "FIXTURES_FILE",
    "ID_OF",
    "OPEN_ENUMS_FILE",
    "ContractSet",
    "SourceNames",
    "build_all",
    "build_contracts",
    "build_from_files",
    "build_from_spec_dir",
    "carry_forward",
    "convert_schema",
    "described_properties",
    "share_identical",
    "write_contracts",
]

CONTRACTS_BASE_URI: Final = "https://connect-harness.invalid/contracts/"


@dataclass(frozen=True)
class ContractSet:
    """One contract set: the OpenAPI description it is built from and how."""

    #: File name of the OpenAPI description in the spec folder.
    spec: str
    #: Drop from ``required`` what Stripe's own fixtures leave out. Off for the sets of a major
    #: release before the fixtures' (2026-07-29.dahlia): what the fixtures lack may have been
    #: removed since (``discount.coupon`` at clover, ``invoice.paid`` at basil).
    relax_required: bool


#: Every contract set, oldest first; its folder is the description's ``info.version``.
CONTRACT_SETS: Final = (
    ContractSet("openapi.spec3.2023-08-16.json", relax_required=False),
    ContractSet("openapi.spec3.2024-09-30.acacia.derived.json", relax_required=False),
    ContractSet("openapi.spec3.2025-03-31.basil.derived.json", relax_required=False),
    ContractSet("openapi.spec3.2025-09-30.clover.derived.json", relax_required=False),
    ContractSet("openapi.spec3.2026-03-25.dahlia.derived.json", relax_required=True),
    ContractSet("openapi.spec3.2026-05-27.json", relax_required=True),
    ContractSet("openapi.spec3.2026-09-30.endive.derived.json", relax_required=True),
    ContractSet("openapi.spec3.2026-10-28.derived.json", relax_required=True),
    ContractSet("openapi.spec3.2026-11-18.endive.derived.json", relax_required=True),
)
#: The real description of the fixtures' time (2026-07-29): where it requires what the fixtures
#: leave out, the two disagree and a set may drop the requirement; a property required only in a
#: later description (stripe-node 23 types ``dispute.evidence_details.submission_method`` as always
#: present) postdates the fixtures, which then say nothing about it.
FIXTURES_ERA_SPEC: Final = "openapi.spec3.2026-05-27.json"
#: The other inputs, read from the same folder.
CATALOGUE_FILE: Final = "event_catalogue.2026-10-28.json"
FIXTURES_FILE: Final = "fixtures3.2026-07-29.json"
OPEN_ENUMS_FILE: Final = "open_enums.2026-10-28.json"


@dataclass(frozen=True)
class SourceNames:
    """File names (never paths) of the inputs, recorded in ``manifest.json``."""

    spec: str | None = None
    fixtures: str | None = None
    event_types: str | None = None
    open_enums: str | None = None


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


def _example_time(api_version: str) -> int:
    """The fixed "now" of generated examples: the API version's date at 00:00 UTC.

    Examples are data, so they must not depend on the clock.
    """
    year, month, day = (int(part) for part in api_version[:10].split("-"))
    return calendar.timegm((year, month, day, 0, 0, 0))


def _check_open_enums(open_enums_doc: Any) -> Mapping[str, Sequence[str]]:
    objects = open_enums_doc.get("objects") if isinstance(open_enums_doc, Mapping) else None
    if not isinstance(objects, Mapping):
        raise UsageError(
            "the open-enum list must be a JSON object with an 'objects' object mapping each object "
            "type to {'open': [...], 'closed': [...]}; pass open_enums.<version>.json"
        )
    return {
        name: [str(path) for path in entry.get("open", ())]
        for name, entry in objects.items()
        if isinstance(entry, Mapping)
    }


def build_contracts(
    spec: Mapping[str, Any],
    *,
    event_types: Mapping[str, Any],
    fixtures: Mapping[str, Any] | None,
    sources: SourceNames | None = None,
    open_enum_paths: Mapping[str, Sequence[str]] | None = None,
    relax: bool = False,
    described: Mapping[str, Collection[str]] | None = None,
    relax_only: Collection[str] | None = None,
) -> dict[str, str]:
    """Turn one of Stripe's OpenAPI descriptions into one contract set: relative path -> exact text.

    Deterministic: the same inputs give the same bytes. ``sources`` only names the inputs in
    ``manifest.json``. ``open_enum_paths`` (object type -> open enum paths) makes those enums
    open; ``relax`` drops from ``required`` what the fixtures of event objects leave out.
    ``described`` (schema name -> every property any description has, see :func:`build_all`)
    lets examples keep fixture keys that no description describes. ``relax_only`` limits what
    ``relax`` may drop to those paths (``invoice.amount_paid_off_stripe``).
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

    supported, unsupported = split_catalogue(catalogue, spec_schemas)
    event_objects = sorted({name for objects in supported.values() for name in objects})
    converted = {name: convert_schema(spec_schemas[name]) for name in spec_schemas}
    defs = {name: converted[name] for name in reachable(converted, event_objects)}
    opened = open_enums(defs, open_enum_paths or {})
    relaxed: list[str] = []
    if relax:
        for name in event_objects:
            if isinstance(resources.get(name), Mapping):
                relaxed.extend(relax_required(defs, name, resources[name], only=relax_only))
    objects_doc = {
        "$schema": SCHEMA_DIALECT,
        "$id": f"{base}objects.json",
        "title": f"Stripe API objects as rendered in webhook events (API version {api_version})",
        "$defs": defs,
    }
    prefixes = id_prefixes(spec_schemas, resources)

    files: dict[str, str] = {"objects.json": _dump(objects_doc)}
    events_manifest: dict[str, Any] = {}
    for event_type, objects in supported.items():
        description = str(catalogue[event_type].get("description", ""))
        files[f"events/{event_type}.json"] = _dump(
            event_schema(base, event_type, objects, description)
        )
        guide, account_types = GUIDE.get(event_type, (None, None))
        events_manifest[event_type] = {
            "objects": objects,
            "receivable_by": list(receivable_by(event_type)),
            "description": description,
            "guide": guide,
            "account_types": list(account_types) if account_types else None,
        }

    maker = ExampleMaker(
        objects_doc,
        resources,
        prefixes,
        example_time=_example_time(api_version),
        described=described,
    )
    for name in event_objects:
        files[f"examples/{name}.json"] = _dump_example(maker.example(name))
    # Every API resource events carry or embed gets an id prefix, derived from its name where no
    # fixture shows one (as the examples' ids are), so ids can be made per account and mode.
    for name in defs:
        schema = spec_schemas.get(name, {})
        derived = maker.prefix(name)
        resource = "x-resourceId" in schema and "id" in schema.get("properties", {})
        if name not in prefixes and derived and resource:
            prefixes[name] = derived
    prefixes = dict(sorted(prefixes.items()))

    manifest = {
        "api_version": api_version,
        "source": {
            "spec": sources.spec,
            "spec_version": api_version,
            "fixtures": sources.fixtures,
            "event_types": sources.event_types,
            "event_types_api_version": event_types.get("api_version"),
            "open_enums": sources.open_enums,
        },
        "counts": {
            "event_types": len(catalogue),
            "supported": len(supported),
            "unsupported": len(unsupported),
            "object_schemas": len(defs),
            "examples": len(event_objects),
            "open_enums": opened,
        },
        "events": events_manifest,
        "unsupported": unsupported,
        "examples": event_objects,
        "id_prefixes": prefixes,
        "relaxed_required": sorted(set(relaxed)),
    }
    files["manifest.json"] = _dump(manifest)
    # The fake Stripe API's routes, parameters and plain examples of this version (api/...); a
    # description of schemas alone (no 'paths') has no API for it to serve.
    if "paths" in spec:
        files.update(build_api_routes(spec))
    return dict(sorted(files.items()))


def build_all(
    specs: Sequence[Mapping[str, Any]],
    *,
    event_types: Mapping[str, Any],
    fixtures: Mapping[str, Any] | None,
    open_enums_doc: Mapping[str, Any] | None,
    sets: Sequence[ContractSet] = CONTRACT_SETS,
    v2_spec: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Every contract set (``<api version>/...``) plus the top-level ``README.md``.

    ``specs`` are the OpenAPI descriptions of ``sets``, in the same order (oldest first). With
    ``v2_spec`` (Stripe's v2 description) the thin-event catalogue ``thin.json`` is built too.
    """
    if len(specs) != len(sets):
        raise UsageError(f"build_all got {len(specs)} descriptions for {len(sets)} contract sets")
    open_paths = _check_open_enums(open_enums_doc) if open_enums_doc is not None else None
    files: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    from connect_harness.spec.corrections import withhold

    specs = [withhold(spec, _check_spec(spec)[0]) for spec in specs]
    carried_specs = carry_forward(specs, event_types)
    described = described_properties(specs)
    relax_only = None
    for (spec, _), contract_set in zip(carried_specs, sets, strict=True):
        if contract_set.spec == FIXTURES_ERA_SPEC and fixtures is not None:
            relax_only = _relaxable(spec, event_types, fixtures)
    for (spec, carried), contract_set in zip(carried_specs, sets, strict=True):
        built = build_contracts(
            spec,
            event_types=event_types,
            fixtures=fixtures,
            sources=SourceNames(
                spec=contract_set.spec,
                fixtures=FIXTURES_FILE if fixtures is not None else None,
                event_types=CATALOGUE_FILE,
                open_enums=OPEN_ENUMS_FILE if open_paths is not None else None,
            ),
            open_enum_paths=open_paths,
            relax=contract_set.relax_required,
            described=described,
            relax_only=relax_only,
        )
        manifest = json.loads(built["manifest.json"])
        if carried is not None:
            manifest["carried_forward"] = carried
            built["manifest.json"] = _dump(manifest)
        version = manifest["api_version"]
        if any(row["version"] == version for row in rows):
            raise UsageError(f"two OpenAPI descriptions have API version {version!r}; keep one")
        rows.append({"version": version, "spec": contract_set.spec, **manifest["counts"]})
        files.update({f"{version}/{name}": text for name, text in built.items()})
    files = share_identical(files, [row["version"] for row in rows])
    files["README.md"] = contracts_readme(rows, base=CONTRACTS_BASE_URI)
    if v2_spec is not None:
        from connect_harness.spec.thin import THIN_FILE, build_thin_catalogue, dump_thin_catalogue

        files[THIN_FILE] = dump_thin_catalogue(
            build_thin_catalogue(v2_spec, specs[-1], event_catalogue=event_types)
        )
    return dict(sorted(files.items()))


def _refs(node: Any) -> list[str]:
    if isinstance(node, Mapping):
        found = []
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.append(ref.rsplit("/", 1)[1])
        for value in node.values():
            found.extend(_refs(value))
        return found
    if isinstance(node, list):
        return [name for item in node for name in _refs(item)]
    return []


def _relaxable(
    spec: Mapping[str, Any], event_types: Mapping[str, Any], fixtures: Mapping[str, Any]
) -> frozenset[str]:
    """The ``required`` paths of ``spec``'s event objects that Stripe's fixtures leave out."""
    _, schemas = _check_spec(spec)
    resources = fixtures.get("resources")
    if not isinstance(resources, Mapping):
        return frozenset()
    supported, _ = split_catalogue(_check_catalogue(event_types), schemas)
    converted = {name: convert_schema(schemas[name]) for name in schemas}
    paths: list[str] = []
    for name in sorted({name for objects in supported.values() for name in objects}):
        if isinstance(resources.get(name), Mapping):
            paths.extend(relax_required(converted, name, resources[name]))
    return frozenset(paths)


def described_properties(specs: Sequence[Mapping[str, Any]]) -> dict[str, frozenset[str]]:
    """Per component schema name, the properties any of ``specs`` gives it.

    Stripe's fixtures carry a few keys that no public description has and Stripe's SDKs type as
    always present (``charge.source``, ``price.recurring.trial_period_days``): examples keep those.
    A key some description has is left to that description, so a set never gets a field a later
    major release added in place of another (``invoice.parent`` stays out of 2023's invoices).
    Only schemas the newest description names are listed.
    """
    found: dict[str, set[str]] = {}
    for spec in specs:
        _, schemas = _check_spec(spec)
        for name, schema in schemas.items():
            properties = schema.get("properties") if isinstance(schema, Mapping) else None
            found.setdefault(name, set()).update(properties or ())
    # Only schemas the newest description names: the fixtures are of its time, and an older
    # schema of another name (2023's invoice settings) is not the one a fixture key belongs to.
    _, newest = _check_spec(specs[-1]) if specs else ("", {})
    return {name: frozenset(keys) for name, keys in found.items() if name in newest}


def carry_forward(
    specs: Sequence[Mapping[str, Any]], event_types: Mapping[str, Any]
) -> list[tuple[Mapping[str, Any], dict[str, Any] | None]]:
    """Each description with the event objects an older one of its major release has and it lacks.

    Within a major release Stripe only adds (docs.stripe.com/upgrades: breaking changes come with a
    new major release), so an event object that 2026-03-25.dahlia describes exists at
    2026-05-27.dahlia too, although Stripe's public description of that version leaves out the
    reserve, billing-alert and entitlement-summary objects that the SDKs of both versions type.
    Such a schema is copied, with every component it names that the newer description lacks,
    from the newest older description of the same major. Returns (description, record) pairs:
    the record (``{"from": version, "objects": [...]}``) goes into the manifest, None when
    nothing was carried.
    """
    from connect_harness.spec.versions import major_of

    catalogue = _check_catalogue(event_types)
    event_objects = sorted(
        {str(name) for entry in catalogue.values() for name in entry.get("objects", ())}
    )
    out: list[tuple[Mapping[str, Any], dict[str, Any] | None]] = []
    newest_of_major: dict[str, Mapping[str, Any]] = {}
    for spec in specs:
        version, schemas = _check_spec(spec)
        major = major_of(version)
        older = newest_of_major.get(major) if major is not None else None
        record = None
        if older is not None:
            older_version, older_schemas = _check_spec(older)
            missing = [n for n in event_objects if n in older_schemas and n not in schemas]
            if missing:
                added: dict[str, Any] = {}
                queue = list(missing)
                while queue:
                    name = queue.pop()
                    if name in schemas or name in added or name not in older_schemas:
                        continue
                    added[name] = older_schemas[name]
                    queue.extend(_refs(older_schemas[name]))
                spec = {
                    **spec,
                    "components": {
                        **spec["components"],
                        "schemas": {**schemas, **dict(sorted(added.items()))},
                    },
                }
                record = {"from": older_version, "objects": missing}
        if major is not None:
            newest_of_major[major] = spec
        out.append((spec, record))
    return out


#: Keys of the sharing records (see :func:`share_identical`).
SHARED_DEFS_KEY: Final = "x-shared-defs"
SHARED_FILES_KEY: Final = "shared_files"
#: Files never shared: the manifest says what is shared, and the fake API reads ``api/`` itself.
_UNSHARED: Final = ("manifest.json", "objects.json", "api/")


def share_identical(files: Mapping[str, str], versions: Sequence[str]) -> dict[str, str]:
    """Store what several sets have identically once, in the newest set that has it.

    Within a major release Stripe only adds, so neighbouring sets repeat most schemas. An object
    schema (a ``$defs`` entry) that a newer set has with the same content is left out of an older
    set's ``objects.json``, which lists it under ``x-shared-defs`` (owner set -> names); a file
    (event schema, example) equal to a newer set's once the set's own URI is written as the
    other's is left out, and the set's ``manifest.json`` lists it under ``shared_files`` (owner
    set -> paths). :mod:`connect_harness.spec.contracts` puts both back when it loads a set.
    """
    out = dict(files)
    defs_of: dict[str, dict[str, Any]] = {
        version: json.loads(files[f"{version}/objects.json"])["$defs"] for version in versions
    }
    def_owner: dict[tuple[str, str], str] = {}
    file_owner: dict[tuple[str, str], str] = {}
    for version in reversed(versions):  # newest first: the newest holder owns the content
        own_uri = f"{CONTRACTS_BASE_URI}{version}/"
        for name, schema in defs_of[version].items():
            def_owner.setdefault((name, _dump(schema)), version)
        prefix = f"{version}/"
        for path, text in files.items():
            relative = path[len(prefix) :]
            if not path.startswith(prefix) or relative.startswith(_UNSHARED):
                continue
            file_owner.setdefault((relative, text.replace(own_uri, CONTRACTS_BASE_URI)), version)
    for version in versions:
        own_uri = f"{CONTRACTS_BASE_URI}{version}/"
        objects = json.loads(files[f"{version}/objects.json"])
        kept: dict[str, Any] = {}
        shared_defs: dict[str, list[str]] = {}
        for name, schema in objects["$defs"].items():
            owner = def_owner[(name, _dump(schema))]
            if owner == version:
                kept[name] = schema
            else:
                shared_defs.setdefault(owner, []).append(name)
        objects["$defs"] = kept
        if shared_defs:
            objects[SHARED_DEFS_KEY] = {
                owner: sorted(names) for owner, names in shared_defs.items()
            }
        out[f"{version}/objects.json"] = _dump(objects)
        shared_files: dict[str, list[str]] = {}
        prefix = f"{version}/"
        for path, text in files.items():
            relative = path[len(prefix) :]
            if not path.startswith(prefix) or relative.startswith(_UNSHARED):
                continue
            owner = file_owner[(relative, text.replace(own_uri, CONTRACTS_BASE_URI))]
            if owner != version:
                del out[path]
                shared_files.setdefault(owner, []).append(relative)
        manifest = json.loads(files[f"{version}/manifest.json"])
        manifest[SHARED_FILES_KEY] = {owner: sorted(names) for owner, names in shared_files.items()}
        out[f"{version}/manifest.json"] = _dump(manifest)
    return dict(sorted(out.items()))


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


def build_from_spec_dir(spec_dir: str | os.PathLike[str]) -> dict[str, str]:
    """Read every input of :data:`CONTRACT_SETS` from ``spec_dir`` and return :func:`build_all`'s files.

    Bad input raises :class:`~connect_harness.errors.UsageError` naming the file and the fix.
    """
    folder = Path(spec_dir)
    if not folder.is_dir():
        raise UsageError(
            f"spec folder '{folder}' does not exist; pass the folder holding Stripe's data files "
            "(e.g. --spec-dir ../shared/stripe-spec)"
        )
    specs = []
    for contract_set in CONTRACT_SETS:
        path = folder / contract_set.spec
        spec = _read_json(path, "OpenAPI spec", "--spec-dir")
        try:
            _check_spec(spec)
        except UsageError as err:
            raise UsageError(
                f"OpenAPI spec file '{path}' is not an OpenAPI 3 description (it needs 'openapi', "
                "'info.version' and 'components.schemas'); replace it with Stripe's spec3.json"
            ) from err
        specs.append(spec)
    catalogue_path = folder / CATALOGUE_FILE
    catalogue = _read_json(catalogue_path, "event-type catalogue", "--spec-dir")
    try:
        _check_catalogue(catalogue)
    except UsageError as err:
        raise UsageError(
            f"event-type catalogue file '{catalogue_path}' has no 'events' object mapping event "
            "types to their objects; replace it with the catalogue of 275 event types"
        ) from err
    fixtures = _read_json(folder / FIXTURES_FILE, "fixtures", "--spec-dir")
    if not isinstance(fixtures, Mapping) or not isinstance(fixtures.get("resources"), Mapping):
        raise UsageError(
            f"fixtures file '{folder / FIXTURES_FILE}' has no 'resources' object; replace it with "
            "Stripe's openapi/fixtures3.json"
        )
    enums = _read_json(folder / OPEN_ENUMS_FILE, "open-enum list", "--spec-dir")
    from connect_harness.spec.thin import V2_SPEC_FILE

    v2_spec = _read_json(folder / V2_SPEC_FILE, "v2 OpenAPI spec", "--spec-dir")
    if not isinstance(v2_spec, Mapping) or not isinstance(
        v2_spec.get("components", {}).get("schemas"), Mapping
    ):
        raise UsageError(
            f"v2 OpenAPI spec file '{folder / V2_SPEC_FILE}' has no 'components.schemas'; replace "
            "it with Stripe's v2 description"
        )
    return build_all(
        specs, event_types=catalogue, fixtures=fixtures, open_enums_doc=enums, v2_spec=v2_spec
    )
