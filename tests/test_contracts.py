"""The committed contracts: well-formed, complete, reproducible, and usable at run time."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from connect_harness.errors import UsageError
from connect_harness.spec import contracts
from connect_harness.spec.builder import build_from_spec_dir

REPO = Path(__file__).resolve().parents[1]
CONTRACTS = REPO / "contracts"
STRIPE_SPEC = Path(
    os.environ.get("CONNECT_HARNESS_STRIPE_SPEC") or REPO.parent / "shared" / "stripe-spec"
)
VERSIONS = (
    "2023-08-16",
    "2024-09-30.acacia",
    "2025-03-31.basil",
    "2025-09-30.clover",
    "2026-03-25.dahlia",
    "2026-05-27.dahlia",
    "2026-09-30.endive",
    "2026-10-28.endive",
    "2026-11-18.endive",
)
NEWEST = VERSIONS[-1]
SPECS = {
    "2023-08-16": "openapi.spec3.2023-08-16.json",
    "2026-05-27.dahlia": "openapi.spec3.2026-05-27.json",
    "2026-10-28.endive": "openapi.spec3.2026-10-28.derived.json",
    **{
        version: f"openapi.spec3.{version}.derived.json"
        for version in VERSIONS
        if version not in ("2023-08-16", "2026-05-27.dahlia", "2026-10-28.endive")
    },
}


def _manifest(version: str) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(
        (CONTRACTS / version / "manifest.json").read_text(encoding="utf-8")
    )
    return manifest


# Every objects.json, and a fifth of the event schemas of the oldest and the newest set (one
# generator writes all envelopes; the metaschema check costs about 0.1 s a file).
SCHEMA_FILES = sorted(
    f"{version}/{relative}"
    for version in VERSIONS
    for relative in [
        "objects.json",
        *(
            [f"events/{name}.json" for name in sorted(_manifest(version)["events"])[::5]]
            if version in (VERSIONS[0], NEWEST)
            else []
        ),
    ]
)
EXAMPLES = sorted(_manifest(NEWEST)["examples"])
ALL_EXAMPLES = sorted(
    (version, name) for version in VERSIONS for name in _manifest(version)["examples"]
)
GUIDE_EVENTS = (
    "account.application.deauthorized",
    "account.external_account.updated",
    "account.updated",
    "balance.available",
    "payment_intent.succeeded",
    "payout.failed",
    "person.updated",
    "customer.created",
)


def _event(event_type: str, obj: dict[str, Any], **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",
        "object": "event",
        "api_version": NEWEST,
        "created": 1692144000,
        "data": {"object": obj, "previous_attributes": {}},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "account": "acct_1Nv0FGQ9RKHgCVdK",
    }
    event.update(changes)
    return event


@pytest.mark.parametrize("relative", SCHEMA_FILES)
def test_contract_file_is_a_valid_2020_12_schema(relative: str) -> None:
    version, inside = relative.split("/", 1)
    schema = json.loads(contracts.contract_text(version, inside))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    version, _ = relative.split("/", 1)
    assert schema["$id"] == f"https://connect-harness.invalid/contracts/{relative}"
    assert version in VERSIONS


def test_one_set_per_api_version_oldest_first() -> None:
    assert contracts.contract_versions() == VERSIONS
    assert sorted(p.name for p in CONTRACTS.iterdir()) == sorted(
        [*VERSIONS, "README.md", "thin.json"]
    )
    assert contracts.api_version() == NEWEST
    assert [contracts.api_version(version=v) for v in VERSIONS] == list(VERSIONS)


@pytest.mark.parametrize(
    ("version", "supported", "unsupported"),
    [
        ("2023-08-16", 232, 43),
        ("2024-09-30.acacia", 254, 21),
        ("2025-03-31.basil", 255, 20),
        ("2025-09-30.clover", 256, 19),
        ("2026-03-25.dahlia", 263, 12),
        ("2026-05-27.dahlia", 263, 12),
        ("2026-09-30.endive", 275, 0),
        ("2026-10-28.endive", 275, 0),
        (NEWEST, 275, 0),
    ],
)
def test_counts_of_supported_and_unsupported_event_types(
    version: str, supported: int, unsupported: int
) -> None:
    assert len(contracts.supported_event_types(version=version)) == supported
    assert len(_manifest(version)["events"]) == supported
    reasons = contracts.unsupported_event_types(version=version)
    assert len(reasons) == unsupported
    assert set(reasons).isdisjoint(contracts.supported_event_types(version=version))
    assert all("added after its API version" in reason for reason in reasons.values())


def test_the_newest_set_covers_the_whole_catalogue() -> None:
    assert contracts.unsupported_event_types() == {}
    assert "three_d_secure.authentication.succeeded" in contracts.supported_event_types()
    old = contracts.unsupported_event_types(version="2023-08-16")
    assert old["billing.meter.created"] == (
        "the OpenAPI description has no schema 'billing.meter' (added after its API version)"
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_manifest_names_its_inputs_by_file_name_only(version: str) -> None:
    manifest = _manifest(version)
    spec = SPECS[version]
    assert manifest["source"] == {
        "spec": spec,
        "spec_version": version,
        "fixtures": "fixtures3.2026-07-29.json",
        "event_types": "event_catalogue.2026-10-28.json",
        "event_types_api_version": "2026-10-28.endive",
        "open_enums": "open_enums.2026-10-28.json",
    }
    assert manifest["counts"]["event_types"] == 275
    assert "/" not in json.dumps(manifest["source"])


@pytest.mark.parametrize(("version", "object_type"), ALL_EXAMPLES)
def test_example_validates_against_its_object_schema(version: str, object_type: str) -> None:
    example = contracts.object_example(object_type, version=version)
    assert contracts.validate_object(object_type, example, version=version) == []
    assert example["object"] == object_type
    prefix = contracts.id_prefix(object_type, version=version)
    if prefix is not None:
        assert example["id"].startswith(prefix)


def test_examples_cover_every_event_object_and_the_connect_objects() -> None:
    event_objects = {
        name for t in contracts.supported_event_types() for name in contracts.event_info(t).objects
    }
    assert set(EXAMPLES) == event_objects == set(contracts.object_types())
    assert {
        "account",
        "application",
        "balance",
        "bank_account",
        "capability",
        "card",
        "charge",
        "customer",
        "payment_intent",
        "payout",
        "person",
    } <= set(EXAMPLES)


def test_examples_render_expandable_fields_as_id_strings() -> None:
    assert contracts.object_example("capability")["account"].startswith("acct_")
    assert contracts.object_example("payout")["balance_transaction"].startswith("txn_")
    assert contracts.object_example("person")["account"].startswith("acct_")


def test_object_example_is_a_fresh_copy() -> None:
    first = contracts.object_example("account")
    first["id"] = "changed"
    assert contracts.object_example("account")["id"].startswith("acct_")


@pytest.mark.parametrize("event_type", GUIDE_EVENTS)
def test_guide_events_have_a_note_and_a_valid_example_event(event_type: str) -> None:
    info = contracts.event_info(event_type)
    assert info.guide
    obj = contracts.object_example(info.objects[0])
    assert contracts.validate_event(_event(event_type, obj)) == []


def test_event_info_of_polymorphic_and_connect_only_types() -> None:
    info = contracts.event_info("account.external_account.updated")
    assert info.objects == ("bank_account", "card")
    assert info.receivable_by == ("connect",)
    assert info.account_types == ("custom", "express", "standard with platform controls")
    assert contracts.event_info("account.updated").account_types == (
        "custom",
        "express",
        "standard",
    )
    assert contracts.event_info("application_fee.created").receivable_by == ("account",)
    assert contracts.event_info("customer.created").receivable_by == ("connect", "account")
    assert contracts.event_info("charge.succeeded").guide is None


def test_event_info_suggests_the_closest_type() -> None:
    with pytest.raises(UsageError) as excinfo:
        contracts.event_info("acount.updated")
    assert str(excinfo.value) == (
        "unknown event type 'acount.updated'; did you mean 'account.updated'? "
        "(connect-harness events lists all 275)"
    )


def test_event_info_explains_an_unsupported_type() -> None:
    with pytest.raises(UsageError) as excinfo:
        contracts.event_info("billing.meter.created", version="2024-04-10")
    assert str(excinfo.value) == (
        "event type 'billing.meter.created' has no contract at API version 2023-08-16: the "
        "OpenAPI description has no schema 'billing.meter' (added after its API version); pick "
        "one of the 232 supported types (connect-harness events lists them) or a newer "
        "--api-version"
    )
    assert contracts.event_info("billing.meter.created").objects == ("billing.meter",)


def test_validate_event_reports_readable_errors() -> None:
    event = _event("payment_intent.succeeded", contracts.object_example("payment_intent"))
    event["livemode"] = "yes"
    event["data"]["object"]["amount"] = "1099"
    event["data"]["object"]["customer"] = {"id": "cus_1"}
    assert contracts.validate_event(event) == [
        "$.data.object.amount: '1099' is not of type 'integer'",
        "$.data.object.customer: {'id': 'cus_1'} is not of type 'string', 'null'",
        "$.livemode: 'yes' is not of type 'boolean'",
    ]


def test_validate_event_checks_the_envelope() -> None:
    event = _event("account.updated", contracts.object_example("account"))
    del event["data"]["previous_attributes"]
    event["id"] = "ev_1"
    event["pending_webhooks"] = -1
    event["request"] = None
    assert contracts.validate_event(event) == [
        "$.data: 'previous_attributes' is a required property",
        "$.id: 'ev_1' does not match '^evt_'",
        "$.pending_webhooks: -1 is less than the minimum of 0",
    ]


def test_validate_event_picks_the_schema_of_a_polymorphic_object() -> None:
    card = contracts.object_example("card")
    assert contracts.validate_event(_event("account.external_account.created", card)) == []
    card["exp_month"] = "12"
    assert contracts.validate_event(_event("account.external_account.created", card)) == [
        "$.data.object.exp_month: '12' is not of type 'integer'"
    ]
    card["object"] = "coupon"
    assert contracts.validate_event(_event("account.external_account.created", card)) == [
        "$.data.object.object: 'coupon' is not one of ['bank_account', 'card']"
    ]


def test_validate_event_without_a_known_type() -> None:
    assert contracts.validate_event({"id": "evt_1"}) == [
        "$.type: the event has no string 'type', so no contract applies"
    ]
    [line] = contracts.validate_event({"type": "acount.updated"})
    assert line.startswith("$.type: unknown event type 'acount.updated'; did you mean")


def test_object_schema_and_unknown_object_types() -> None:
    schema = contracts.object_schema("payout")
    assert schema["properties"]["object"] == {"enum": ["payout"], "type": "string"}
    assert contracts.id_prefix("payment_intent") == "pi_"
    assert contracts.id_prefix("capability") is None
    with pytest.raises(UsageError, match=r"^unknown object type 'payot'; did you mean 'payout'\?"):
        contracts.object_schema("payot")


def test_event_schema_refers_into_objects_json() -> None:
    schema = contracts.event_schema("payout.failed")
    assert schema["properties"]["data"]["properties"]["object"] == {
        "$ref": "../objects.json#/$defs/payout"
    }
    assert schema["properties"]["type"] == {"const": "payout.failed"}


def test_contracts_dir_holds_the_committed_contracts() -> None:
    # The checkout's folder in a development install, the wheel's copy under tox: the same files.
    found = contracts.contracts_dir()
    assert (found / NEWEST / "manifest.json").is_file()
    names = sorted(str(path.relative_to(found)) for path in found.rglob("*") if path.is_file())
    committed = sorted(
        str(path.relative_to(CONTRACTS)) for path in CONTRACTS.rglob("*") if path.is_file()
    )
    assert names == committed


@pytest.mark.skipif(
    not STRIPE_SPEC.is_dir(), reason=f"Stripe's spec data is not at {STRIPE_SPEC} (../shared)"
)
def test_rebuild_equals_the_committed_contracts() -> None:
    files = build_from_spec_dir(STRIPE_SPEC)
    committed = {
        path.relative_to(CONTRACTS).as_posix(): path.read_bytes()
        for path in CONTRACTS.rglob("*")
        if path.is_file()
    }
    assert sorted(files) == sorted(committed)
    different = [name for name in files if files[name].encode("utf-8") != committed[name]]
    assert different == [], (
        "rebuild: connect-harness contracts build --spec-dir ../shared/stripe-spec"
    )


def test_contracts_are_small() -> None:
    total = sum(path.stat().st_size for path in CONTRACTS.rglob("*") if path.is_file())
    assert total < 15_000_000


# The fast path of validate_event/validate_object must agree with jsonschema, the authority.

_JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=2_000_000_000)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.sampled_from(["", "usd", "acct_1", "evt_1", "x" * 5001, "card", "requires_action"])
)
_JSON = st.recursive(
    _JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*prefix, index)))
    return found


def _mutate(document: Any, path: tuple[Any, ...], new: Any, delete: bool) -> Any:
    if not path:
        return new
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return document


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    object_type=st.sampled_from(EXAMPLES),
    mutations=st.lists(st.tuples(st.integers(min_value=0), _JSON, st.booleans()), max_size=3),
    as_event=st.booleans(),
)
def test_fast_path_agrees_with_jsonschema(
    object_type: str, mutations: list[tuple[int, Any, bool]], as_event: bool
) -> None:
    event_type = next(
        t
        for t in contracts.supported_event_types()
        if object_type in contracts.event_info(t).objects
    )
    document: Any = contracts.object_example(object_type)
    if as_event:
        document = _event(event_type, document)
    for index, new, delete in mutations:
        paths = _paths(document)
        document = _mutate(document, paths[index % len(paths)], new, delete and len(paths) > 1)
    if as_event:
        fast = contracts._fast_event_check(event_type, NEWEST)
        slow = contracts._event_validator(event_type, NEWEST)
    else:
        fast = contracts._fast_object_check(object_type, NEWEST)
        slow = contracts._object_validator(object_type, NEWEST)
    assert fast is not None
    assert fast(document) == slow.is_valid(document)


@pytest.mark.parametrize(
    ("value", "valid"),
    [(1.0, True), (1.5, False), (True, False), (-1, True), ("1", False), (None, False)],
)
def test_fast_path_follows_jsonschema_on_number_edge_cases(value: Any, valid: bool) -> None:
    payout = contracts.object_example("payout")
    payout["amount"] = value
    fast = contracts._fast_object_check("payout", NEWEST)
    assert fast is not None
    assert fast(payout) is valid
    assert contracts._object_validator("payout", NEWEST).is_valid(payout) is valid
    assert (contracts.validate_object("payout", payout) == []) is valid


def _run_in_copy(site: Path, code: str) -> subprocess.CompletedProcess[str]:
    shutil.copytree(
        REPO / "harness" / "connect_harness",
        site / "connect_harness",
        ignore=shutil.ignore_patterns("__pycache__"),
        dirs_exist_ok=True,
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=False,
        cwd=site,
    )


def test_contracts_dir_in_the_wheel_layout(tmp_path: Path) -> None:
    # The wheel puts the contracts folder next to contracts.py (hatch force-include).
    site = tmp_path / "site-packages"
    site.mkdir()
    shutil.copytree(CONTRACTS, site / "connect_harness" / "contracts")
    result = _run_in_copy(
        site,
        "from connect_harness.spec import contracts\n"
        "print(contracts.contracts_dir())\n"
        "print(len(contracts.supported_event_types()))\n",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(site / "connect_harness" / "contracts"), "275"]


def test_contracts_dir_says_how_to_fix_missing_contracts(tmp_path: Path) -> None:
    site = tmp_path / "a" / "b"
    site.mkdir(parents=True)
    result = _run_in_copy(
        site,
        "from connect_harness.spec import contracts\n"
        "from connect_harness.errors import ContractError\n"
        "try:\n"
        "    contracts.contracts_dir()\n"
        "except ContractError as err:\n"
        "    print(err)\n",
    )
    assert result.returncode == 0, result.stderr
    packaged = site / "connect_harness" / "contracts"
    assert result.stdout == (
        f"the contracts are missing: neither '{packaged}' nor '{site.parent / 'contracts'}' holds "
        "<version>/manifest.json; reinstall connect-harness, or in a checkout run "
        "`connect-harness contracts build`\n"
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_every_schema_of_every_set_has_a_fast_path(version: str) -> None:
    # The fast path compiles $refs lazily: a keyword it does not know inside any object schema
    # would surface mid-validation, so every schema of every set must compile up front.
    from connect_harness.spec.fastcheck import FastCompiler

    defs = contracts._objects(version)["$defs"]
    compiler = FastCompiler(defs)
    for schema in defs.values():
        compiler.compile(schema)
    for event_type in contracts.supported_event_types(version=version):
        assert contracts._fast_event_check(event_type, version) is not None


@pytest.mark.parametrize("version", VERSIONS)
def test_examples_keep_fields_stripe_renders_that_no_description_has(version: str) -> None:
    # stripe-node types these as always present; Stripe's fixtures carry them; no description does
    price = contracts.object_example("price", version=version)
    assert price["recurring"]["trial_period_days"] is None
    assert "source" in contracts.object_example("payment_intent", version=version)
    assert contracts.object_example("product", version=version)["type"] == "good"
    assert contracts.object_example("charge", version=version)["source"] is None
    # a key some description has stays with it: 2023's invoices get no basil `parent`
    assert "parent" not in contracts.object_example("invoice", version="2023-08-16")
    for name in ("price", "payment_intent", "product", "charge"):
        example = contracts.object_example(name, version=version)
        assert contracts.validate_object(name, example, version=version) == []
