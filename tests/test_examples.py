"""``--examples N``: more than one payload per type, varied where handlers branch, reproducible."""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest

from connect_harness.checks.run import ContractRun, DeliveryRecord, VerifyConfig
from connect_harness.cli import main
from connect_harness.errors import UsageError
from connect_harness.events.build import DEFAULT_CONNECTED_ACCOUNT, build_event
from connect_harness.events.examples import (
    EXAMPLE_SEED_STRIDE,
    build_example,
    build_examples,
    check_count,
)
from connect_harness.spec import contracts
from endpoints import flask_endpoint, value_branch
from endpoints.core import TEST_SECRET

SECRET = TEST_SECRET
BILLING_REASONS = (
    "automatic_pending_invoice_item_invoice",
    "manual",
    "quote_accept",
    "subscription",
    "subscription_create",
    "subscription_cycle",
    "subscription_threshold",
    "subscription_update",
    "upcoming",
)


def _account(event_type: str) -> str | None:
    receivable = contracts.event_info(event_type).receivable_by
    return DEFAULT_CONNECTED_ACCOUNT if "connect" in receivable else None


def _billing_reason(event_body: bytes) -> Any:
    return json.loads(event_body)["data"]["object"]["billing_reason"]


def test_the_first_example_is_the_canonical_event() -> None:
    first, *_ = build_examples("invoice.paid", 3, account=DEFAULT_CONNECTED_ACCOUNT, seed=7)
    canonical = build_event("invoice.paid", account=DEFAULT_CONNECTED_ACCOUNT, seed=7)
    assert first.event.body == canonical.body
    assert first.changes == ()
    assert "the canonical event" in first.describe()


def test_same_seed_same_bytes_other_seed_other_values() -> None:
    def bodies(seed: int) -> list[bytes]:
        return [e.event.body for e in build_examples("payment_intent.succeeded", 4, seed=seed)]

    assert bodies(3) == bodies(3)
    assert bodies(3)[0] != bodies(4)[0]  # ids
    changed = [dict(e.changes) for e in build_examples("payment_intent.succeeded", 4, seed=3)]
    assert changed[0] == {} and all(changed[1:])
    assert len({json.dumps(c, sort_keys=True) for c in changed[1:]}) == 3  # values cycle


def test_each_example_is_a_world_of_its_own_with_its_own_id() -> None:
    examples = build_examples("invoice.paid", 3, account=DEFAULT_CONNECTED_ACCOUNT, seed=5)
    assert [e.event.seed for e in examples] == [5 + k * EXAMPLE_SEED_STRIDE for k in range(3)]
    assert len({e.event.id for e in examples}) == 3
    assert len({e.event.object_id for e in examples}) == 3
    status = examples[0].event.payload["data"]["object"]["status"]
    for example in examples:
        assert example.event.id in example.describe()
        assert example.event.account == DEFAULT_CONNECTED_ACCOUNT
        assert example.event.payload["data"]["object"]["status"] == status  # the type says it


@pytest.mark.parametrize("event_type", contracts.supported_event_types())
def test_every_example_is_valid_and_rebuilt_by_its_overrides(event_type: str) -> None:
    for example in build_examples(event_type, 3, account=_account(event_type), seed=11):
        assert contracts.validate_event(example.event.payload) == []
        rebuilt = build_event(
            event_type,
            account=_account(event_type),
            seed=example.event.seed,
            overrides=example.overrides,
        )
        assert rebuilt.body == example.event.body
        for path, _ in example.changes:
            assert path.startswith("data.object.")
            assert not path.endswith((".id", ".status", ".object", ".livemode", ".account"))
            # nor why it was canceled: the unchanged status says whether it was
            assert not path.startswith("data.object.cancellation")


def test_a_succeeded_payment_intent_never_gets_a_cancellation_reason() -> None:
    """The status stays succeeded, so the reason it was canceled stays null in every example."""
    examples = build_examples("payment_intent.succeeded", 12, account="acct_1Examples", seed=1)
    assert {e.event.payload["data"]["object"]["cancellation_reason"] for e in examples} == {None}
    assert len({e.event.payload["data"]["object"]["capture_method"] for e in examples}) > 1


def test_enough_examples_send_every_listed_value() -> None:
    examples = build_examples("invoice.paid", 1 + len(BILLING_REASONS), seed=0)
    sent = {_billing_reason(e.event.body) for e in examples}
    assert sent == {*BILLING_REASONS, None}  # null too: billing_reason is nullable


def test_a_flag_flips_in_some_examples_only() -> None:
    values = [
        json.loads(e.event.body)["data"]["object"]["payouts_enabled"]
        for e in build_examples("account.updated", 7, account=DEFAULT_CONNECTED_ACCOUNT, seed=2)
    ]
    assert len(set(values[1:])) == 2


@pytest.mark.parametrize("count", [0, -1, 101, True, 2.5, "3"])
def test_a_bad_count_is_a_usage_error(count: Any) -> None:
    with pytest.raises(UsageError, match=r"examples .* must be a whole number from 1 to 100"):
        check_count(count)
    with pytest.raises(UsageError, match="examples"):
        VerifyConfig(secret=SECRET, examples=count)


def test_build_example_refuses_what_build_event_refuses() -> None:
    with pytest.raises(UsageError, match=r"did you mean 'invoice\.paid'"):
        build_example("invoice.payd", 2)


# --- in the checks -------------------------------------------------------------------------------


def _seed_sending(value: str) -> int:
    """A run seed whose default examples of invoice.paid carry ``billing_reason=value``."""
    for seed in range(300):
        check_seed = seed * 64  # ContractRun._seed("accepts-valid-events"): the first check
        bodies = [e.event.body for e in build_examples("invoice.paid", 3, seed=check_seed)]
        if any(_billing_reason(body) == value for body in bodies[1:]):
            return seed
    raise AssertionError(f"no seed below 300 sends billing_reason={value}")


def _accepts(app: object, **config: Any) -> tuple[str, list[DeliveryRecord], list[Any]]:
    settings: dict[str, Any] = {"secret": SECRET, "events": ("invoice.paid",)}
    with ContractRun(app, VerifyConfig(**{**settings, **config})) as run:
        result = run.run(only=["accepts-valid-events"])[0]
        return result.status, list(run.records), result.failures()


def test_a_bug_on_a_value_the_canonical_event_never_has() -> None:
    """500 only for billing_reason=subscription_create: --examples 1 misses it, the default finds it,
    names the example and the fields, and its reproduction rebuilds the exact bytes."""
    seed = _seed_sending("subscription_create")
    status, _, _ = _accepts(value_branch.create_app(SECRET), seed=seed, examples=1)
    assert status == "pass"
    status, records, failures = _accepts(value_branch.create_app(SECRET), seed=seed)
    assert status == "fail"
    assert len(records) == 5  # 3 permutations of the canonical event, then 2 examples
    (failure,) = failures
    assert 'data.object.billing_reason="subscription_create"' in (failure.variant or "")
    assert "the canonical invoice.paid got 2xx" in failure.reason
    (record,) = [r for r in records if r.response.status == 500]
    assert record.request.body and record.event_type == "invoice.paid"
    assert json.loads(record.request.body)["id"] in (failure.variant or "")
    assert failure.reproduce == record.reproduce
    assert _reproduced_body(record.reproduce) == record.request.body


def _reproduced_body(command: str) -> bytes:
    argv = shlex.split(command.split("  # then:")[0])
    assert argv[:2] == ["connect-harness", "sign"]
    argv = [SECRET if arg == "$STRIPE_WEBHOOK_SECRET" else arg for arg in argv[1:]]
    argv[argv.index("--format") + 1] = "json"
    with pytest.MonkeyPatch.context() as patch:
        import io
        import sys

        out = io.StringIO()
        patch.setattr(sys, "stdout", out)
        assert main(argv) == 0
    body: str = json.loads(out.getvalue())["body"]
    return body.encode("utf-8")


def test_verify_runs_send_the_same_bytes_for_the_same_seed() -> None:
    app = flask_endpoint.create_app(SECRET)
    first = [r.request.body for r in _accepts(app, seed=9)[1]]
    second = [r.request.body for r in _accepts(flask_endpoint.create_app(SECRET), seed=9)[1]]
    assert first == second and len(first) == 5
    other = [r.request.body for r in _accepts(flask_endpoint.create_app(SECRET), seed=10)[1]]
    assert set(first).isdisjoint(other)


def test_redelivery_redelivers_the_examples_too() -> None:
    config = VerifyConfig(secret=SECRET, events=("customer.created",), seed=4)
    with ContractRun(flask_endpoint.create_app(SECRET), config) as run:
        result = run.run(only=["idempotent-redelivery"])[0]
        variants = [r.variant or "" for r in run.records]
    assert result.status == "pass"
    examples = [v for v in variants if "example 3 (" in v]
    assert len(examples) == 2 * 5  # first delivery and redelivery, for each type
    assert {v.split(":")[0] for v in examples} == {"first-delivery", "redelivery"}
    with ContractRun(flask_endpoint.create_app(SECRET, bug="no-idempotency"), config) as run:
        failed = run.run(only=["idempotent-redelivery"])[0]
    assert failed.status == "fail"
    assert any("example 2 (" in (f.variant or "") for f in failed.failures())


def test_the_places_that_vary_are_the_same_in_every_permutation() -> None:
    """Places are found once per type on whichever canonical event comes first: that is pure only
    if every permutation's object has the same places and canonical values."""
    from connect_harness.events import examples

    for event_type in contracts.supported_event_types():
        receivable = contracts.event_info(event_type).receivable_by
        perms = [(DEFAULT_CONNECTED_ACCOUNT, False), (DEFAULT_CONNECTED_ACCOUNT, True)]
        perms = [p for p in perms if "connect" in receivable]
        perms += [(None, live) for live in (False, True) if "account" in receivable]
        found = set()
        for account, livemode in perms:
            event = build_event(event_type, account=account, livemode=livemode, seed=1)
            examples._PLACES.clear()
            found.add(repr(examples._places(event, None)))
        assert len(found) == 1, event_type
    examples._PLACES.clear()


def _lists(value: Any, path: str = "data.object") -> Any:
    """(path, list object) for every Stripe list inside ``value``."""
    if isinstance(value, dict):
        if value.get("object") == "list" and isinstance(value.get("data"), list):
            yield path, value
        for key, item in value.items():
            yield from _lists(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _lists(item, f"{path}.{index}")


@pytest.mark.exhaustive
def test_every_types_examples_have_lists_that_agree_with_has_more_and_amounts_that_add_up() -> None:
    """The module's claim, over every type: no list claims items it does not show (or shows fewer
    than its total_count without saying it has more), and a complete list of refunds (reversals)
    adds up to the amount refunded (reversed), in the canonical example and the varied ones."""
    from connect_harness.lifecycle.reversal_lists import REVERSAL_LISTS
    from connect_harness.lifecycle.state_checks import object_contradictions

    wrong: list[str] = []
    summed: set[str] = set()
    for event_type in contracts.supported_event_types():
        for example in build_examples(event_type, 3, account=_account(event_type), seed=5):
            obj = example.event.data_object
            at = example.event.payload["created"]
            where = f"{event_type} example {example.index}"
            wrong += [f"{where}: {line}" for line in object_contradictions(obj, at=at)]
            for path, listing in _lists(obj):
                shown, count = len(listing["data"]), listing.get("total_count")
                if listing.get("has_more") is False and isinstance(count, int) and count != shown:
                    wrong.append(f"{where}: {path} total_count {count} but {shown} shown")
            rule = REVERSAL_LISTS.get(str(obj.get("object")))
            if rule is not None and isinstance(obj.get(rule[0]), dict) and obj.get(rule[1]):
                summed.add(f"{obj['object']}.{rule[0]}")
    assert wrong == []
    assert summed == {f"{kind}.{rule[0]}" for kind, rule in REVERSAL_LISTS.items()}


def test_a_partial_refunds_example_lists_that_refund() -> None:
    full, partial = (e.event.data_object for e in build_examples("charge.refunded", 2))
    assert [r["amount"] for r in full["refunds"]["data"]] == [full["amount_refunded"]]
    assert [r["amount"] for r in partial["refunds"]["data"]] == [partial["amount_refunded"]]
    assert 0 < partial["amount_refunded"] < partial["amount"]
    assert partial["refunds"]["data"][0]["charge"] == partial["id"]
