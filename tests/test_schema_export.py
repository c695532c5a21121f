"""Standalone schemas: one self-contained document per event type, usable by any validator alone."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from connect_harness.errors import UsageError
from connect_harness.events.build import build_event
from connect_harness.spec import contracts
from connect_harness.spec.export import STANDARD_FORMATS, standalone_schema

NODE_DIR = Path(__file__).resolve().parent / "node"
AJV = NODE_DIR / "node_modules" / ".bin" / "ajv"
ACCOUNT = "acct_1StandaloneSchema"
PERMUTATIONS = [(account, live) for account in (None, ACCOUNT) for live in (False, True)]
OLDER_SETS = contracts.contract_versions()[:-1]

# Every keyword the standalone schemas may use: JSON Schema 2020-12's own.
STANDARD_KEYWORDS = frozenset(
    {
        "$schema", "$ref", "$defs", "title", "description", "examples", "type", "enum", "const",
        "properties", "additionalProperties", "required", "items", "anyOf", "allOf", "if", "then",
        "pattern", "maxLength", "minimum", "format",
    }
)  # fmt: skip


@functools.cache
def _validator(event_type: str, version: str | None = None) -> Draft202012Validator:
    # Plain jsonschema with no registry: the document must carry everything it refers to.
    return Draft202012Validator(standalone_schema(event_type, version=version))


def _keywords(node: Any, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("enum", "const", "examples"):
                found.add(key)
                continue
            if key in ("properties", "$defs"):
                found.add(key)
                for sub in value.values():
                    _keywords(sub, found)
                continue
            found.add(key)
            _keywords(value, found)
    elif isinstance(node, list):
        for item in node:
            _keywords(item, found)
    return found


@pytest.mark.parametrize("event_type", contracts.supported_event_types())
def test_every_event_validates_against_its_standalone_schema(event_type: str) -> None:
    validator = _validator(event_type)
    for account, livemode in PERMUTATIONS:
        event = build_event(event_type, account=account, livemode=livemode, seed=7)
        assert list(validator.iter_errors(event.payload)) == [], (account, livemode)
        assert contracts.validate_event(event.payload) == []


@pytest.mark.parametrize(
    ("version", "event_type"),
    [
        (version, event_type)
        for version in OLDER_SETS
        for event_type in contracts.supported_event_types(version=version)[::9]
    ],
)
def test_a_sample_of_each_older_set_validates_against_its_standalone_schema(
    version: str, event_type: str
) -> None:
    validator = _validator(event_type, version)
    for account, livemode in PERMUTATIONS:
        event = build_event(event_type, account=account, livemode=livemode, api_version=version)
        assert list(validator.iter_errors(event.payload)) == []
        assert contracts.validate_event(event.payload) == []


@pytest.mark.parametrize("version", contracts.contract_versions())
def test_standalone_schemas_are_self_contained_and_standard(version: str) -> None:
    types = contracts.supported_event_types(version=version)
    for event_type in types[::5]:
        schema = standalone_schema(event_type, version=version)
        if event_type in (types[0], "invoice.paid"):  # the metaschema check is slow: two per set
            Draft202012Validator.check_schema(schema)
        text = json.dumps(schema)
        assert "$id" not in schema and '"$id"' not in text
        assert "objects.json" not in text and "x-" not in "".join(_keywords(schema, set()))
        assert _keywords(schema, set()) <= STANDARD_KEYWORDS
        refs = {part.split('"')[0] for part in text.split('"$ref": "')[1:]}
        assert all(ref.startswith("#/$defs/") for ref in refs)
        assert {ref.removeprefix("#/$defs/") for ref in refs} <= set(schema["$defs"])
        formats = {part.split('"')[0] for part in text.split('"format": "')[1:]}
        assert formats <= STANDARD_FORMATS


def test_annotated_keeps_our_keywords_and_stripes_formats() -> None:
    plain = standalone_schema("payout.failed")
    annotated = standalone_schema("payout.failed", annotated=True)
    payout = annotated["$defs"]["payout"]["properties"]
    assert payout["created"]["format"] == "unix-time"
    assert payout["balance_transaction"]["x-id-of"] == ["balance_transaction"]
    assert "format" not in plain["$defs"]["payout"]["properties"]["created"]
    assert "$id" not in annotated
    assert set(plain["$defs"]) == set(annotated["$defs"])


def test_standalone_schema_rejects_what_the_contract_rejects() -> None:
    event = build_event("payout.failed", account=ACCOUNT).payload
    bad = json.loads(json.dumps(event))
    bad["livemode"] = "yes"
    bad["data"]["object"]["amount"] = "1099"
    messages = sorted(error.message for error in _validator("payout.failed").iter_errors(bad))
    assert messages == ["'1099' is not of type 'integer'", "'yes' is not of type 'boolean'"]
    assert len(contracts.validate_event(bad)) == 2


def test_open_enums_accept_new_values_and_closed_ones_do_not() -> None:
    event = build_event("payment_intent.succeeded", account=ACCOUNT).payload
    schema = standalone_schema("payment_intent.succeeded")
    properties = schema["$defs"]["payment_intent"]["properties"]
    # stripe-node 23.1.0 types `status` as open (OtherString), `cancellation_reason` as closed.
    assert "enum" not in properties["status"] and "succeeded" in properties["status"]["examples"]
    assert "requested_by_customer" in properties["cancellation_reason"]["enum"]
    assert event["data"]["object"]["status"] in properties["status"]["examples"]
    event["data"]["object"]["status"] = "a_status_stripe_adds_next_month"
    assert list(_validator("payment_intent.succeeded").iter_errors(event)) == []
    assert contracts.validate_event(event) == []
    event["data"]["object"]["status"] = 3
    assert contracts.validate_event(event) == ["$.data.object.status: 3 is not of type 'string'"]
    event["data"]["object"]["status"] = "succeeded"
    event["data"]["object"]["cancellation_reason"] = "a_reason_stripe_adds_next_month"
    [problem] = contracts.validate_event(event)
    assert problem.startswith("$.data.object.cancellation_reason: 'a_reason_stripe_adds_next_")
    assert not _validator("payment_intent.succeeded").is_valid(event)


def test_standalone_schema_of_an_unknown_type_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"unknown event type 'payout\.faild'"):
        standalone_schema("payout.faild")


# --- third-party validators, each given the printed schema and an event file ---------------------

VALIDATOR_TYPES = ("invoice.paid", "account.external_account.created", "payout.failed")


def _files(tmp_path: Path, event_type: str, annotated: bool = False) -> tuple[Path, Path, Path]:
    schema = tmp_path / f"{event_type}.schema.json"
    printed = subprocess.run(
        [sys.executable, "-m", "connect_harness", "schema", event_type]
        + (["--annotated"] if annotated else []),
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    schema.write_bytes(printed)
    event = build_event(event_type, account=ACCOUNT, livemode=True)
    good = tmp_path / f"{event_type}.json"
    good.write_bytes(event.body)
    broken = dict(event.payload, livemode="yes")
    bad = tmp_path / f"{event_type}.bad.json"
    bad.write_text(json.dumps(broken), encoding="utf-8")
    return schema, good, bad


CHECK_JSONSCHEMA = shutil.which("check-jsonschema") or str(
    Path(sys.executable).parent / "check-jsonschema"
)


@pytest.mark.skipif(
    not Path(CHECK_JSONSCHEMA).is_file(),
    reason="check-jsonschema is not installed (pip install -e '.[test]')",
)
@pytest.mark.parametrize("event_type", VALIDATOR_TYPES)
def test_check_jsonschema_uses_the_printed_schema_alone(event_type: str, tmp_path: Path) -> None:
    schema, good, bad = _files(tmp_path, event_type)
    ok = subprocess.run(
        [CHECK_JSONSCHEMA, "--no-cache", "--schemafile", str(schema), str(good)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    refused = subprocess.run(
        [CHECK_JSONSCHEMA, "--no-cache", "--schemafile", str(schema), str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "'yes' is not of type 'boolean'" in refused.stdout + refused.stderr


def _node_missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not AJV.exists():
        return "ajv-cli is not installed: run npm ci in tests/node"
    return None


@pytest.mark.skipif(_node_missing() is not None, reason=str(_node_missing()))
@pytest.mark.parametrize(
    ("event_type", "strict"),
    [*((event_type, []) for event_type in VALIDATOR_TYPES), ("invoice.paid", ["--strict=true"])],
)
def test_ajv_draft2020_uses_the_printed_schema_alone(
    event_type: str, strict: list[str], tmp_path: Path
) -> None:
    schema, good, bad = _files(tmp_path, event_type)

    def ajv(data: Path, schema_file: Path = schema) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(AJV), "validate", "--spec=draft2020", *strict, "-s", str(schema_file),
             "-d", str(data)],
            capture_output=True, text=True, timeout=120, check=False, cwd=NODE_DIR,
        )  # fmt: skip

    ok = ajv(good)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"{good} valid" in ok.stdout + ok.stderr
    refused = ajv(bad)
    assert f"{bad} invalid" in refused.stdout + refused.stderr
    assert "must be boolean" in refused.stdout + refused.stderr
    # Our annotations are not standard: strict ajv refuses the annotated form, as it should.
    annotated_dir = tmp_path / "annotated"
    annotated_dir.mkdir()
    annotated, _, _ = _files(annotated_dir, event_type, annotated=True)
    refused = ajv(good, annotated)
    assert f"schema {annotated} is invalid" in refused.stdout + refused.stderr
    assert "unknown format" in refused.stdout + refused.stderr
