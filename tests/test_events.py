"""The event builder: every supported type, both endpoint kinds, both modes, against its contract."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connect_harness.errors import UsageError
from connect_harness.events.build import (
    DEFAULT_CONNECTED_ACCOUNT,
    build_event,
    event_matrix,
    event_permutations,
    parse_assignment,
    raw_body_variants,
    render_body,
)
from connect_harness.events.objects import build_object, external_account_id, object_type_for_id
from connect_harness.spec import contracts

ACCT = "acct_1PgafTB7WZ01zgkW"
PERMUTATIONS = [(None, False), (None, True), (ACCT, False), (ACCT, True)]


@pytest.mark.parametrize("event_type", contracts.supported_event_types())
def test_every_type_and_permutation_satisfies_its_contract(event_type: str) -> None:
    for account, livemode in PERMUTATIONS:
        event = build_event(event_type, account=account, livemode=livemode)
        assert contracts.validate_event(event.payload) == [], (event_type, account, livemode)
        assert json.loads(event.body) == event.payload
        assert event.payload["livemode"] is livemode
        assert event.payload.get("account") == account
        assert ("account" in event.payload) is (account is not None)


@pytest.mark.parametrize(
    "event_type",
    [t for t in contracts.supported_event_types() if len(contracts.event_info(t).objects) > 1],
)
def test_every_object_of_a_polymorphic_type_satisfies_the_contract(event_type: str) -> None:
    for object_type in contracts.event_info(event_type).objects:
        event = build_event(event_type, account=ACCT, object_type=object_type)
        assert event.object_type == object_type
        assert contracts.validate_event(event.payload) == []


def test_envelope_keys_come_in_stripes_order() -> None:
    connect = build_event("customer.created", account=ACCT)
    assert list(connect.payload) == [
        "id", "object", "account", "api_version", "created", "data",
        "livemode", "pending_webhooks", "request", "type",
    ]  # fmt: skip
    platform = build_event("customer.created")
    assert "account" not in platform.payload
    obj = connect.data_object
    assert list(obj)[:2] == ["id", "object"]
    rest = list(obj)[2:]
    assert rest == sorted(rest)


def test_body_is_two_space_json_without_trailing_newline() -> None:
    event = build_event("account.updated", account=ACCT)
    assert event.body.startswith(b'{\n  "id": "evt_')
    assert event.body.endswith(b"\n}")
    assert event.body == json.dumps(event.payload, indent=2, ensure_ascii=False).encode()


def test_non_ascii_is_literal_by_default_and_escaped_on_request() -> None:
    overrides = {"data.object.description": "Zürich"}
    literal = build_event("customer.created", overrides=overrides)
    escaped = build_event("customer.created", overrides=overrides, ascii_only=True)
    assert "Zürich".encode() in literal.body
    assert b"Z\\u00fcrich" in escaped.body
    assert json.loads(literal.body) == json.loads(escaped.body)


def test_same_inputs_same_bytes_and_the_seed_changes_every_id() -> None:
    first = build_event("payment_intent.succeeded", account=ACCT, seed=7)
    again = build_event("payment_intent.succeeded", account=ACCT, seed=7)
    other = build_event("payment_intent.succeeded", account=ACCT, seed=8)
    assert first.body == again.body
    assert first.id != other.id
    assert first.object_id != other.object_id
    assert first.id.startswith("evt_") and first.object_id and first.object_id.startswith("pi_")


def test_live_and_test_events_never_share_ids() -> None:
    live = build_event("payout.failed", account=ACCT, livemode=True)
    test = build_event("payout.failed", account=ACCT, livemode=False)
    assert live.id != test.id
    assert live.object_id != test.object_id


def test_previous_attributes_only_on_updated_events() -> None:
    updated = build_event("account.updated", account=ACCT)
    assert "previous_attributes" in updated.payload["data"]
    created = build_event("customer.created", account=ACCT)
    assert "previous_attributes" not in created.payload["data"]


def test_connected_accounts_objects_point_at_that_account() -> None:
    account = build_event("account.updated", account=ACCT)
    assert account.object_id == ACCT
    payout = build_event("payout.failed", account=ACCT)
    assert payout.data_object["destination"] == external_account_id(ACCT)
    person = build_event("person.updated", account=ACCT)
    assert person.data_object["account"] == ACCT
    external = build_event("account.external_account.updated", account=ACCT)
    assert external.object_type == "bank_account"
    assert external.data_object["account"] == ACCT
    deauthorized = build_event("account.application.deauthorized", account=ACCT)
    assert deauthorized.object_id and deauthorized.object_id.startswith("ca_")


def test_automatic_events_have_a_null_request() -> None:
    assert build_event("balance.available").payload["request"] == {
        "id": None,
        "idempotency_key": None,
    }
    request = build_event("customer.created").payload["request"]
    assert request["id"].startswith("req_") and request["idempotency_key"]


def test_overrides_by_dotted_path_and_by_merge() -> None:
    event = build_event(
        "account.updated",
        account=ACCT,
        overrides={
            "data.object.charges_enabled": False,
            "data.object.requirements.currently_due": ["external_account"],
            "data.object.metadata.tier": "gold",
            "pending_webhooks": 3,
        },
        merge={"data": {"object": {"future_field": {"x": 1}}}, "context": "acct_1Other"},
    )
    obj = event.data_object
    assert obj["charges_enabled"] is False
    assert obj["requirements"]["currently_due"] == ["external_account"]
    assert obj["metadata"]["tier"] == "gold"
    assert obj["future_field"] == {"x": 1}
    assert event.payload["pending_webhooks"] == 3
    assert event.payload["context"] == "acct_1Other"
    assert json.loads(event.body) == event.payload


def test_override_list_index() -> None:
    event = build_event("balance.available", overrides={"data.object.available.0.amount": 500})
    assert event.data_object["available"][0]["amount"] == 500


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "data.object.charges_enabld",
            "override path 'data.object.charges_enabld': data.object has no key 'charges_enabld'; "
            "did you mean 'charges_enabled'? (use merge, or --merge on the command line, to add new keys)",
        ),
        (
            "data.objekt.id",
            "override path 'data.objekt.id': data has no key 'objekt'; did you mean 'object'? "
            "(use merge, or --merge on the command line, to add new keys)",
        ),
        (
            "data.object.id.x",
            "override path 'data.object.id.x': data.object.id is \"acct_1PgafTB7WZ01zgkW\", "
            "not a hash or list, so it has no 'x'",
        ),
        (
            "data..id",
            "override path 'data..id' is empty or has an empty part; use e.g. 'data.object.id'",
        ),
    ],
)
def test_a_wrong_override_path_says_which_part_is_wrong(path: str, message: str) -> None:
    with pytest.raises(UsageError) as err:
        build_event("account.updated", account=ACCT, overrides={path: 1})
    assert str(err.value) == message


def test_bad_list_index_names_the_range() -> None:
    with pytest.raises(
        UsageError, match=r"is a list of 1 items, so '5' must be an index from 0 to 0"
    ):
        build_event("balance.available", overrides={"data.object.available.5.amount": 1})


def test_unknown_event_type_names_the_closest_match() -> None:
    with pytest.raises(
        UsageError, match=r"unknown event type 'acount.updated'; did you mean 'account.updated'"
    ):
        build_event("acount.updated")


def test_bad_account_and_object_type_are_usage_errors() -> None:
    with pytest.raises(UsageError, match=r"account 'cus_123' is not a connected account id"):
        build_event("customer.created", account="cus_123")
    with pytest.raises(UsageError, match=r"carry bank_account or card, not 'person'"):
        build_event("account.external_account.updated", object_type="person")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("data.object.charges_enabled=false", ("data.object.charges_enabled", False)),
        ("pending_webhooks=2", ("pending_webhooks", 2)),
        ("data.object.description=hello world", ("data.object.description", "hello world")),
        ('data.object.description="42"', ("data.object.description", "42")),
        ("data.object.customer=null", ("data.object.customer", None)),
        ("a.b=x=y", ("a.b", "x=y")),
    ],
)
def test_parse_assignment(text: str, expected: tuple[str, object]) -> None:
    assert parse_assignment(text) == expected


def test_parse_assignment_rejects_text_without_equals() -> None:
    with pytest.raises(UsageError, match=r"--set 'charges_enabled' is not PATH=VALUE"):
        parse_assignment("charges_enabled")


def test_raw_body_variants_are_valid_events_that_reserialization_changes() -> None:
    event = build_event("customer.created", account=ACCT)
    variants = dict(raw_body_variants(event))
    assert set(variants) == {
        "literal-non-ascii", "escaped-non-ascii", "escaped-slashes", "number-forms", "compact-whitespace",
    }  # fmt: skip
    for name, body in variants.items():
        payload = json.loads(body)
        assert payload["id"] == event.id, name
        assert contracts.validate_event(payload) == [], name
        # the two usual re-serializations both change at least one of these bodies
        assert body != render_body(payload) or body != json.dumps(payload).encode(), name
    assert body_changes_under(json.dumps, variants) == set(variants)


def body_changes_under(dump: object, variants: dict[str, bytes]) -> set[str]:
    changed = set()
    for name, body in variants.items():
        reserialized = dump(json.loads(body)).encode()  # type: ignore[operator]
        if reserialized != body:
            changed.add(name)
    return changed


def test_permutations_follow_the_endpoint_model() -> None:
    assert event_permutations(endpoint_type="connect", mode="development") == [
        (DEFAULT_CONNECTED_ACCOUNT, False)
    ]
    # An account endpoint belongs to one mode; a production Connect endpoint gets both.
    assert event_permutations(endpoint_type="account", mode="production") == [(None, True)]
    assert event_permutations(endpoint_type="account", mode="development") == [(None, False)]
    assert event_permutations(endpoint_type="connect", mode="production") == [
        (DEFAULT_CONNECTED_ACCOUNT, True),
        (DEFAULT_CONNECTED_ACCOUNT, False),
    ]
    assert event_permutations() == [
        (DEFAULT_CONNECTED_ACCOUNT, True),
        (DEFAULT_CONNECTED_ACCOUNT, False),
        (None, True),
    ]
    assert event_permutations(mode="development") == [
        (DEFAULT_CONNECTED_ACCOUNT, False),
        (None, False),
    ]
    with pytest.raises(
        UsageError, match="endpoint type 'platform' is not one of connect, account, both"
    ):
        event_permutations(endpoint_type="platform")


def test_event_matrix_gives_a_production_account_endpoint_live_events_only() -> None:
    cases = event_matrix("customer.created", endpoint_type="account", mode="production")
    assert [case.id for case in cases] == ["customer.created-platform-live"]
    cases = event_matrix("customer.created", endpoint_type="both", account=ACCT)
    assert [(case.account, case.livemode) for case in cases] == [
        (ACCT, True),
        (ACCT, False),
        (None, True),
    ]


def test_object_types_are_recognised_by_id_prefix() -> None:
    assert object_type_for_id("pi_123") == "payment_intent"
    assert object_type_for_id("acct_1") == "account"
    assert object_type_for_id("ba_1") == "bank_account"
    assert object_type_for_id("ca_1") == "application"
    assert object_type_for_id("nothing") is None
    assert object_type_for_id("sub_sched_1") == "subscription_schedule"
    assert object_type_for_id("sub_1") == "subscription"
    assert build_object("payment_intent", object_id="pi_given")["id"] == "pi_given"


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    event_type=st.sampled_from(contracts.supported_event_types()),
    seed=st.integers(min_value=0, max_value=2**63),
    account=st.none() | st.from_regex(r"acct_[A-Za-z0-9]{16}", fullmatch=True),
    livemode=st.booleans(),
    ascii_only=st.booleans(),
)
def test_any_seed_and_account_give_a_valid_round_tripping_event(
    event_type: str, seed: int, account: str | None, livemode: bool, ascii_only: bool
) -> None:
    event = build_event(
        event_type, account=account, livemode=livemode, seed=seed, ascii_only=ascii_only
    )
    assert contracts.validate_event(event.payload) == []
    assert json.loads(event.body) == event.payload
    if ascii_only:
        assert event.body.isascii()
