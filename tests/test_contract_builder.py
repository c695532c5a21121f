"""The contract builder on tiny hand-made OpenAPI descriptions, and its file-reading edge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from connect_harness.errors import UsageError
from connect_harness.spec.builder import (
    CONTRACT_SETS,
    SourceNames,
    build_all,
    build_contracts,
    build_from_files,
    build_from_spec_dir,
    convert_schema,
    write_contracts,
)

REF = "#/components/schemas/"


def _widget_spec() -> dict[str, Any]:
    return {
        "openapi": "3.0.0",
        "info": {"version": "2099-01-01"},
        "components": {
            "schemas": {
                "widget": {
                    "type": "object",
                    "required": ["id", "object", "owner", "size"],
                    "properties": {
                        "id": {"type": "string", "maxLength": 5000, "description": "Id."},
                        "object": {"type": "string", "enum": ["widget"]},
                        "owner": {
                            "anyOf": [
                                {"type": "string", "maxLength": 5000},
                                {"$ref": REF + "owner"},
                            ],
                            "x-expansionResources": {"oneOf": [{"$ref": REF + "owner"}]},
                        },
                        "colour": {"type": "string", "enum": ["red", "blue"], "nullable": True},
                        "size": {"$ref": REF + "size"},
                        "dimensions": {"anyOf": [{"$ref": REF + "size"}], "nullable": True},
                        "created": {"type": "integer", "format": "unix-time"},
                        "tags": {"type": "array", "items": {"type": "string"}},
                    },
                    "x-resourceId": "widget",
                    "x-expandableFields": ["owner", "dimensions"],
                },
                "owner": {
                    "type": "object",
                    "properties": {"id": {"type": "string"}, "widget": {"$ref": REF + "widget"}},
                    "x-resourceId": "owner",
                },
                "size": {
                    "type": "object",
                    "required": ["width"],
                    "properties": {"width": {"type": "integer"}},
                },
                "unrelated": {"type": "object", "properties": {}},
            }
        },
    }


def _catalogue() -> dict[str, Any]:
    return {
        "api_version": "2099-02-02",
        "events": {
            "widget.updated": {"objects": ["widget"], "description": "A widget changed."},
            "widget.created": {"objects": ["widget"], "description": "A widget was made."},
            "gadget.created": {"objects": ["gadget"], "description": "No schema."},
            "thing.happened": {"objects": [], "description": "No object."},
        },
    }


FIXTURES = {
    "resources": {
        "widget": {
            "id": "wdg_1Abcdefghijklmnop",
            "object": "widget",
            "owner": {"id": "own_1Abcdefghijklmnop", "object": "owner"},
            "colour": "green",
            "size": {"width": 3, "added_in_2026": True},
            "created": 1700000000,
            "tags": ["a", 1],
            "unknown_2026_field": "x",
        },
        "owner": {"id": "own_1Abcdefghijklmnop"},
    }
}


def test_nullable_becomes_a_null_type_branch() -> None:
    assert convert_schema({"type": "string", "nullable": True, "maxLength": 5}) == {
        "type": ["string", "null"],
        "maxLength": 5,
    }


def test_enum_and_nullable_adds_null_to_the_enum() -> None:
    assert convert_schema({"type": "string", "enum": ["a", "b"], "nullable": True}) == {
        "type": ["string", "null"],
        "enum": ["a", "b", None],
    }


def test_any_of_and_nullable_adds_a_null_branch() -> None:
    assert convert_schema({"anyOf": [{"$ref": REF + "size"}], "nullable": True}) == {
        "anyOf": [{"$ref": "#/$defs/size"}, {"type": "null"}]
    }


def test_expandable_field_keeps_only_the_id_string() -> None:
    converted = convert_schema(
        {
            "anyOf": [
                {"type": "string", "maxLength": 5000},
                {"$ref": REF + "customer"},
                {"$ref": REF + "deleted_customer"},
            ],
            "description": "The customer.",
            "nullable": True,
            "x-expansionResources": {"oneOf": [{"$ref": REF + "customer"}]},
        }
    )
    assert converted == {"type": ["string", "null"], "maxLength": 5000, "x-id-of": ["customer"]}


def test_refs_are_rewritten_and_vendor_keys_and_descriptions_dropped() -> None:
    converted = convert_schema(
        {
            "type": "object",
            "title": "Thing",
            "description": "Long prose.",
            "properties": {"size": {"$ref": REF + "size"}},
            "additionalProperties": {"$ref": REF + "size"},
            "x-resourceId": "thing",
            "x-expandableFields": [],
        }
    )
    assert converted == {
        "type": "object",
        "title": "Thing",
        "properties": {"size": {"$ref": "#/$defs/size"}},
        "additionalProperties": {"$ref": "#/$defs/size"},
    }


def test_only_schemas_reachable_after_expansion_pruning_are_kept() -> None:
    files = build_contracts(_widget_spec(), event_types=_catalogue(), fixtures=None)
    objects = json.loads(files["objects.json"])
    # `owner` is only reachable through the expandable `widget.owner`: dropped.
    assert sorted(objects["$defs"]) == ["size", "widget"]
    assert objects["$id"] == "https://connect-harness.invalid/contracts/2099-01-01/objects.json"


def test_supported_and_unsupported_events() -> None:
    files = build_contracts(_widget_spec(), event_types=_catalogue(), fixtures=None)
    manifest = json.loads(files["manifest.json"])
    assert sorted(manifest["events"]) == ["widget.created", "widget.updated"]
    assert manifest["unsupported"] == {
        "gadget.created": "the OpenAPI description has no schema 'gadget' "
        "(added after its API version)",
        "thing.happened": "the event-type catalogue lists no object schema for its data.object",
    }
    assert manifest["source"]["spec"] is None
    updated = json.loads(files["events/widget.updated.json"])
    created = json.loads(files["events/widget.created.json"])
    assert updated["properties"]["data"]["required"] == ["object", "previous_attributes"]
    assert created["properties"]["data"]["required"] == ["object"]


def test_examples_use_valid_fixture_values_and_generate_the_rest() -> None:
    files = build_contracts(_widget_spec(), event_types=_catalogue(), fixtures=FIXTURES)
    example = json.loads(files["examples/widget.json"])
    assert example == {
        "id": "wdg_1Abcdefghijklmnop",
        "object": "widget",
        # An expanded object in the fixture becomes the ID string.
        "owner": "own_1Abcdefghijklmnop",
        # "green" is not in this version's enum, and the field is nullable.
        "colour": "red",
        # Keys this version does not know are dropped, at every depth.
        "size": {"width": 3},
        "dimensions": None,
        "created": 1700000000,
        # Neither required nor nullable: rendered because the fixture has it; 1 is repaired.
        "tags": ["a", "example"],
    }
    _assert_valid(files, "widget", example)


def test_examples_without_fixtures() -> None:
    files = build_contracts(_widget_spec(), event_types=_catalogue(), fixtures=None)
    example = json.loads(files["examples/widget.json"])
    # Without fixtures, prefixes are derived from the object type names.
    assert example["id"].startswith("widget_1")
    assert example["owner"].startswith("owner_1")
    assert example == {
        "id": example["id"],
        "object": "widget",
        "owner": example["owner"],
        "colour": None,
        "size": {"width": 0},
        "dimensions": None,
    }
    _assert_valid(files, "widget", example)


def _assert_valid(files: dict[str, str], name: str, example: Any) -> None:
    objects = json.loads(files["objects.json"])
    registry: Registry[Any] = Registry().with_resource(
        objects["$id"], Resource.from_contents(objects)
    )
    validator = Draft202012Validator({"$ref": f"{objects['$id']}#/$defs/{name}"}, registry=registry)
    assert list(validator.iter_errors(example)) == []


def test_build_is_deterministic_and_names_sources() -> None:
    sources = SourceNames(spec="spec.json", fixtures=None, event_types="cat.json")
    first = build_contracts(
        _widget_spec(), event_types=_catalogue(), fixtures=FIXTURES, sources=sources
    )
    second = build_contracts(
        _widget_spec(), event_types=_catalogue(), fixtures=FIXTURES, sources=sources
    )
    assert first == second
    assert all(text.endswith("\n") for text in first.values())
    assert json.loads(first["manifest.json"])["source"]["spec"] == "spec.json"
    assert first["manifest.json"].startswith('{\n  "api_version": "2099-01-01",\n')


def test_write_contracts_replaces_the_folder_atomically(tmp_path: Path) -> None:
    out = tmp_path / "contracts"
    out.mkdir()
    (out / "stale.json").write_text("{}\n")
    write_contracts({"manifest.json": "{}\n", "events/a.b.json": "{}\n"}, out)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.json")) == [
        "events/a.b.json",
        "manifest.json",
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["contracts"]


def test_write_contracts_refuses_paths_outside_the_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="escapes the output folder"):
        write_contracts({"../evil.json": "{}\n"}, tmp_path / "contracts")
    assert list(tmp_path.iterdir()) == []


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_build_from_files(tmp_path: Path) -> None:
    spec = _write(tmp_path / "spec.json", _widget_spec())
    _write(tmp_path / "event_types.2099-02-02.json", _catalogue())
    fixtures = _write(tmp_path / "fixtures.json", FIXTURES)
    files = build_from_files(spec, fixtures_path=fixtures)
    assert json.loads(files["manifest.json"])["source"] == {
        "spec": "spec.json",
        "spec_version": "2099-01-01",
        "fixtures": "fixtures.json",
        "event_types": "event_types.2099-02-02.json",
        "event_types_api_version": "2099-02-02",
        "open_enums": None,
    }


def test_missing_spec_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(UsageError) as excinfo:
        build_from_files(missing)
    assert str(excinfo.value) == (
        f"OpenAPI spec file '{missing}' does not exist; check the path given to --spec"
    )


def test_spec_that_is_not_json(tmp_path: Path) -> None:
    spec = tmp_path / "spec3.yaml"
    spec.write_text("openapi: 3.0.0\n", encoding="utf-8")
    with pytest.raises(UsageError) as excinfo:
        build_from_files(spec)
    assert str(excinfo.value) == (
        f"OpenAPI spec file '{spec}' is not JSON (Expecting value at line 1); pass the JSON "
        "version of the file to --spec"
    )


def test_spec_that_is_not_openapi(tmp_path: Path) -> None:
    spec = _write(tmp_path / "spec.json", {"swagger": "2.0"})
    with pytest.raises(UsageError) as excinfo:
        build_from_files(spec)
    assert str(excinfo.value) == (
        f"OpenAPI spec file '{spec}' is not an OpenAPI 3 description (it needs 'openapi', "
        "'info.version' and 'components.schemas'); pass Stripe's openapi/spec3.json to --spec"
    )


def test_unreadable_spec(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as excinfo:
        build_from_files(tmp_path)
    assert str(excinfo.value) == (
        f"OpenAPI spec file '{tmp_path}' cannot be read (IsADirectoryError); pass a readable "
        "UTF-8 JSON file to --spec"
    )


def test_no_catalogue_beside_the_spec(tmp_path: Path) -> None:
    spec = _write(tmp_path / "spec.json", _widget_spec())
    with pytest.raises(UsageError) as excinfo:
        build_from_files(spec)
    assert str(excinfo.value) == (
        f"no event-type catalogue (event_types.*.json) next to '{spec}'; pass one with "
        "--event-types"
    )


def test_bad_catalogue_and_fixtures(tmp_path: Path) -> None:
    spec = _write(tmp_path / "spec.json", _widget_spec())
    catalogue = _write(tmp_path / "cat.json", {"events": ["widget.created"]})
    with pytest.raises(UsageError) as excinfo:
        build_from_files(spec, event_types_path=catalogue)
    assert str(excinfo.value) == (
        f"event-type catalogue file '{catalogue}' has no 'events' object mapping event types to "
        "their objects; pass event_types.<version>.json to --event-types"
    )
    catalogue = _write(tmp_path / "cat.json", _catalogue())
    fixtures = _write(tmp_path / "fixtures.json", [])
    with pytest.raises(UsageError) as excinfo:
        build_from_files(spec, event_types_path=catalogue, fixtures_path=fixtures)
    assert str(excinfo.value) == (
        f"fixtures file '{fixtures}' has no 'resources' object; pass Stripe's "
        "openapi/fixtures3.json to --fixtures"
    )


def test_example_keys_are_in_stripe_rendering_order() -> None:
    files = build_contracts(_widget_spec(), event_types=_catalogue(), fixtures=FIXTURES)
    example = json.loads(files["examples/widget.json"])
    assert list(example) == [
        "id",
        "object",
        "colour",
        "created",
        "dimensions",
        "owner",
        "size",
        "tags",
    ]


# --- open enums, fixture-relaxed presence, several sets ----------------------------------------


def _enum_spec(version: str = "2099-01-01") -> dict[str, Any]:
    spec = _widget_spec()
    spec["info"]["version"] = version
    widget = spec["components"]["schemas"]["widget"]["properties"]
    widget["status"] = {"type": "string", "enum": ["on", "off"]}
    widget["modes"] = {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}
    spec["components"]["schemas"]["size"]["properties"]["unit"] = {
        "type": "string",
        "enum": ["cm", "in"],
        "nullable": True,
    }
    return spec


OPEN = {"widget": ["status", "modes[]", "size.unit", "colour", "no.such.path"]}


def test_open_enums_accept_any_string_and_list_their_values_as_examples() -> None:
    files = build_contracts(
        _enum_spec(), event_types=_catalogue(), fixtures=None, open_enum_paths=OPEN
    )
    defs = json.loads(files["objects.json"])["$defs"]
    widget = defs["widget"]["properties"]
    assert widget["status"] == {"type": "string", "examples": ["on", "off"]}
    assert widget["modes"]["items"] == {"type": "string", "examples": ["a", "b"]}
    # Nullable stays nullable, and null is not an example.
    assert defs["size"]["properties"]["unit"] == {
        "type": ["string", "null"],
        "examples": ["cm", "in"],
    }
    assert widget["colour"] == {"type": ["string", "null"], "examples": ["red", "blue"]}
    assert json.loads(files["manifest.json"])["counts"]["open_enums"] == 4
    example = json.loads(files["examples/widget.json"])
    assert example["colour"] is None and example["size"]["unit"] is None
    _assert_valid(files, "widget", {**example, "status": "new-in-2100", "modes": ["z"]})
    objects = json.loads(files["objects.json"])
    registry: Registry[Any] = Registry().with_resource(
        objects["$id"], Resource.from_contents(objects)
    )
    validator = Draft202012Validator({"$ref": f"{objects['$id']}#/$defs/widget"}, registry=registry)
    assert not validator.is_valid({**example, "status": 3})  # strict on type


def test_examples_draw_open_enums_from_the_listed_values_only() -> None:
    spec = _enum_spec()
    spec["components"]["schemas"]["widget"]["required"].append("status")
    fixtures = {"resources": {"widget": {**FIXTURES["resources"]["widget"], "status": "unlisted"}}}
    files = build_contracts(spec, event_types=_catalogue(), fixtures=fixtures, open_enum_paths=OPEN)
    assert json.loads(files["examples/widget.json"])["status"] == "on"
    fixtures["resources"]["widget"]["status"] = "off"
    files = build_contracts(spec, event_types=_catalogue(), fixtures=fixtures, open_enum_paths=OPEN)
    assert json.loads(files["examples/widget.json"])["status"] == "off"


def test_relax_drops_required_properties_the_fixture_leaves_out() -> None:
    spec = _widget_spec()
    fixture = {k: v for k, v in FIXTURES["resources"]["widget"].items() if k != "owner"}
    fixture["size"] = {}
    fixtures = {"resources": {"widget": fixture}}
    strict = build_contracts(spec, event_types=_catalogue(), fixtures=fixtures)
    relaxed = build_contracts(spec, event_types=_catalogue(), fixtures=fixtures, relax=True)
    assert json.loads(strict["objects.json"])["$defs"]["widget"]["required"] == [
        "id", "object", "owner", "size"
    ]  # fmt: skip
    defs = json.loads(relaxed["objects.json"])["$defs"]
    assert defs["widget"]["required"] == ["id", "object", "size"]
    assert "required" not in defs["size"]
    assert json.loads(relaxed["manifest.json"])["relaxed_required"] == [
        "widget.owner",
        "widget.size.width",
    ]
    # limited to what the description of the fixtures' time also requires (FIXTURES_ERA_SPEC)
    only = build_contracts(
        spec, event_types=_catalogue(), fixtures=fixtures, relax=True, relax_only={"widget.owner"}
    )
    assert json.loads(only["objects.json"])["$defs"]["widget"]["required"] == [
        "id", "object", "size"
    ]  # fmt: skip
    assert json.loads(only["objects.json"])["$defs"]["size"]["required"] == ["width"]
    assert json.loads(only["manifest.json"])["relaxed_required"] == ["widget.owner"]


def test_build_all_puts_each_set_in_its_version_folder_with_one_readme() -> None:
    files = build_all(
        [_enum_spec("2099-01-01"), _enum_spec("2100-01-01.zeta")],
        event_types=_catalogue(),
        fixtures=FIXTURES,
        open_enums_doc={"objects": {"widget": {"open": ["status"], "closed": ["object"]}}},
        sets=CONTRACT_SETS[:2],
    )
    assert sorted({name.split("/")[0] for name in files}) == [
        "2099-01-01",
        "2100-01-01.zeta",
        "README.md",
    ]
    manifest = json.loads(files["2100-01-01.zeta/manifest.json"])
    assert manifest["source"]["spec"] == CONTRACT_SETS[1].spec
    assert manifest["source"]["open_enums"] == "open_enums.2026-10-28.json"
    assert (
        f"| `2100-01-01.zeta` | `{CONTRACT_SETS[1].spec}` | 2 of 4 | 2 | 1 |"
        in (files["README.md"])
    )
    objects = json.loads(files["2099-01-01/objects.json"])
    assert objects["$id"] == "https://connect-harness.invalid/contracts/2099-01-01/objects.json"
    # the same example at both versions: stored once, in the newer set (see the next test)
    assert json.loads(files["2100-01-01.zeta/examples/widget.json"])["created"] == 1700000000


def test_build_all_stores_what_two_sets_share_once_in_the_newer() -> None:
    # One description at two versions: identical schemas and examples, event contracts that
    # differ only by their $id.
    files = build_all(
        [_enum_spec("2099-01-01"), _enum_spec("2100-01-01.zeta")],
        event_types=_catalogue(),
        fixtures=FIXTURES,
        open_enums_doc=None,
        sets=CONTRACT_SETS[:2],
    )
    old_objects = json.loads(files["2099-01-01/objects.json"])
    new_objects = json.loads(files["2100-01-01.zeta/objects.json"])
    assert old_objects["$defs"] == {}
    assert old_objects["x-shared-defs"] == {"2100-01-01.zeta": sorted(new_objects["$defs"])}
    assert "x-shared-defs" not in new_objects
    manifest = json.loads(files["2099-01-01/manifest.json"])
    events = sorted(f"events/{name}.json" for name in manifest["events"])
    assert manifest["shared_files"] == {"2100-01-01.zeta": [*events, "examples/widget.json"]}
    assert json.loads(files["2100-01-01.zeta/manifest.json"])["shared_files"] == {}
    assert sorted(name for name in files if name.startswith("2099-01-01/")) == [
        "2099-01-01/manifest.json",
        "2099-01-01/objects.json",
    ]


def test_build_all_refuses_two_sets_of_one_version_and_a_bad_open_enum_list() -> None:
    with pytest.raises(UsageError, match="two OpenAPI descriptions have API version '2099-01-01'"):
        build_all(
            [_widget_spec(), _widget_spec()],
            event_types=_catalogue(),
            fixtures=None,
            open_enums_doc=None,
            sets=CONTRACT_SETS[:2],
        )
    with pytest.raises(UsageError, match="the open-enum list must be a JSON object"):
        build_all(
            [_widget_spec()],
            event_types=_catalogue(),
            fixtures=None,
            open_enums_doc={"open": []},
            sets=CONTRACT_SETS[:1],
        )


def test_build_from_spec_dir_names_the_missing_folder_and_files(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as excinfo:
        build_from_spec_dir(tmp_path / "nope")
    assert str(excinfo.value) == (
        f"spec folder '{tmp_path / 'nope'}' does not exist; pass the folder holding Stripe's data "
        "files (e.g. --spec-dir ../shared/stripe-spec)"
    )
    with pytest.raises(UsageError) as excinfo:
        build_from_spec_dir(tmp_path)
    missing = tmp_path / CONTRACT_SETS[0].spec
    assert str(excinfo.value) == (
        f"OpenAPI spec file '{missing}' does not exist; check the path given to --spec-dir"
    )


def test_open_enum_paths_cross_unions_and_map_values() -> None:
    spec = _widget_spec()
    schemas = spec["components"]["schemas"]
    mode = {"type": "string", "enum": ["x", "y"]}
    schemas["opt_a"] = {"type": "object", "properties": {"mode": mode}}
    schemas["opt_b"] = {"type": "object", "properties": {"mode": dict(mode)}}
    schemas["rule"] = {"type": "object", "properties": {"type": {"type": "string", "enum": ["r"]}}}
    schemas["widget"]["properties"]["opts"] = {
        "anyOf": [{"$ref": REF + "opt_a"}, {"$ref": REF + "opt_b"}],
        "nullable": True,
    }
    schemas["widget"]["properties"]["rules"] = {
        "type": "object",
        "nullable": True,
        "additionalProperties": {"type": "array", "items": {"$ref": REF + "rule"}},
    }
    paths = {"widget": ["opts.mode", "rules.{}[].type"]}
    files = build_contracts(spec, event_types=_catalogue(), fixtures=None, open_enum_paths=paths)
    defs = json.loads(files["objects.json"])["$defs"]
    assert defs["opt_a"]["properties"]["mode"] == {"type": "string", "examples": ["x", "y"]}
    assert defs["opt_b"]["properties"]["mode"] == {"type": "string", "examples": ["x", "y"]}
    assert defs["rule"]["properties"]["type"] == {"type": "string", "examples": ["r"]}
    assert json.loads(files["manifest.json"])["counts"]["open_enums"] == 2
