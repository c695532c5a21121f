"""Checks that correctly signed events are acknowledged: every type and permutation, and types no
endpoint can know."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from connect_harness.checks.common import (
    UNKNOWN_EVENT_TYPE,
    finding_for,
    is_2xx,
    perm_label,
    short,
)
from connect_harness.checks.examples import extra_examples, send_example
from connect_harness.checks.findings import (
    Finding,
)
from connect_harness.checks.sdk_parsing import python_sdk_failure
from connect_harness.events.examples import Example
from connect_harness.spec import contracts

if TYPE_CHECKING:
    from connect_harness.checks.interface import CheckRun
    from connect_harness.checks.records import DeliveryRecord


def _judge_acceptance(record: DeliveryRecord, what: str) -> Finding | None:
    """A fail finding if ``record`` did not get 2xx, else None."""
    response = record.response
    if is_2xx(response.status):
        return None
    if response.status == 0:
        why = f"{what} got no answer: Stripe counts that as a failed delivery and retries"
    elif 300 <= response.status < 400:
        why = f"{what} was redirected; Stripe never follows redirects, so the delivery failed"
    elif response.status >= 500:
        why = f"{what} got a server error; Stripe retries it for days, then disables the endpoint"
    else:
        why = f"{what} was refused; Stripe retries it for days, then disables the endpoint"
    if response.status >= 400:
        sdk = python_sdk_failure(record.request.body)
        why = why if sdk is None else f"{why}; {sdk}"
    return finding_for(record, status="fail", reason=why, expected="2xx")


def check_accepts_valid_events(run: CheckRun) -> Iterator[Finding]:
    check = "accepts-valid-events"
    seed = run.seed(check)
    for event_type in run.config.event_types:
        perms = run.permutations(event_type)
        if not perms:
            receivable = " and ".join(contracts.event_info(event_type).receivable_by)
            yield Finding(
                check=check,
                status="skip",
                reason=f"{event_type} is only sent to {receivable} endpoints, and this is "
                f"{'an' if run.config.endpoint_type == 'account' else 'a'} "
                f"{run.config.endpoint_type} endpoint",
                event_type=event_type,
            )
            continue
        failed = False
        events = [run.event(event_type, account, live, seed) for account, live in perms]
        for record in run.send_events(check, events, seed=seed):
            finding = _judge_acceptance(record, f"a correctly signed {event_type} event")
            if finding is not None:
                failed = True
                yield finding
        extras = extra_examples(run, event_type, seed)
        canonical_failed = failed
        for example in extras:
            record = send_example(run, check, example, seed=seed)
            finding = _judge_acceptance(
                record, f"a correctly signed {event_type} event with other field values"
            )
            if finding is not None:
                failed = True
                if not canonical_failed:
                    finding = replace(
                        finding,
                        reason=f"{finding.reason}; the canonical {event_type} got 2xx, so a "
                        f"branch taken on these values fails: {_differences(example)}",
                    )
                yield finding
        if not failed:
            more = f", and {len(extras)} more with other field values" if extras else ""
            yield Finding(
                check=check,
                status="pass",
                reason=f"every permutation got 2xx ({', '.join(perm_label(a, live) for a, live in perms)}){more}",
                event_type=event_type,
                expected="2xx",
                actual="2xx",
            )


#: How many changed fields a finding names before it says how many more there are.
SHOWN_CHANGES = 6


def _differences(example: Example) -> str:
    """What differs in ``example`` from the canonical event: its fields, or else its world."""
    if not example.changes:
        return (
            f"no field was set; it is the canonical event of another seed "
            f"({example.event.seed}), so its ids and generated values differ "
            f"(event {example.event.id}, object {example.event.object_id})"
        )
    shown = [f"{path}={short(json.dumps(value), 60)}" for path, value in example.changes]
    more = len(shown) - SHOWN_CHANGES
    text = ", ".join(shown[:SHOWN_CHANGES]) + (f" and {more} more" if more > 0 else "")
    return f"{len(shown)} field(s) differ from the canonical event: {text}"


def acceptance_finding(record: DeliveryRecord, what: str, *, passed: str, advice: str) -> Finding:
    """Pass if ``record`` got 2xx, else the failure with ``advice`` on how to fix it."""
    finding = _judge_acceptance(record, what)
    if finding is None:
        return finding_for(record, status="pass", reason=passed, expected="2xx")
    return replace(finding, reason=f"{finding.reason}; {advice}")


def check_acknowledges_unknown_events(run: CheckRun) -> Iterator[Finding]:
    check = "acknowledges-unknown-events"
    seed = run.seed(check)
    overrides = {"type": UNKNOWN_EVENT_TYPE}
    for account, live in run.permutations("customer.created"):
        event = run.event("customer.created", account, live, seed, overrides=overrides)
        record = run.send_event(check, event, seed=seed, overrides=overrides)
        record = replace(record, event_type=UNKNOWN_EVENT_TYPE)
        finding = _judge_acceptance(
            record, f"a correctly signed event of the unknown type {UNKNOWN_EVENT_TYPE}"
        )
        if finding is None:
            yield finding_for(
                record,
                status="pass",
                reason="acknowledged the unknown type with 2xx",
                expected="2xx",
            )
        else:
            yield replace(
                finding,
                reason=finding.reason
                + "; answer 2xx to every type you do not handle (Stripe adds new types any time)",
            )
