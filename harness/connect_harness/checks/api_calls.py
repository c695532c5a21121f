"""Checks judged on the endpoint's calls to the fake Stripe API: the connected account's context and
the event's mode."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from connect_harness.checks.common import call_text, finding_for
from connect_harness.checks.findings import (
    Finding,
)
from connect_harness.checks.sdk_spelling import sdk_of_call
from connect_harness.stripe_api.fake import ApiCall

if TYPE_CHECKING:
    from connect_harness.checks.interface import CheckRun
    from connect_harness.checks.records import DeliveryRecord


#: Request options passed where the parameters go (stripe-node's second argument).
_ACCOUNT_AS_PARAMETER = ("stripeAccount", "stripe_account")


def check_uses_connected_account_context(run: CheckRun) -> Iterator[Finding]:
    check = "uses-connected-account-context"
    records = run.judged_records()
    connect_records = [r for r in records if r.account is not None]
    if not connect_records:
        yield Finding(
            check=check,
            status="skip",
            reason=f"no Connect events were delivered (endpoint type {run.config.endpoint_type})",
        )
        return
    judged = 0
    failures: list[Finding] = []
    for record in records:
        for call in record.calls:
            if call.unserved:
                continue  # what Stripe would have answered is unknown: not judged
            verdict = _account_context_problem(
                record, call, certain=run.certainly_for(record, call)
            )
            if verdict is None:
                if record.account is not None or call.object_owner is not None:
                    judged += 1
                continue
            judged += 1
            problem, expected = verdict
            failures.append(
                finding_for(
                    record,
                    status="fail",
                    reason=problem,
                    expected=expected,
                    actual=call_text(call),
                    check=check,
                )
            )
    ambiguous = run.ambiguous_calls()
    for call in run.unattributed_calls():
        owner = call.object_owner
        if owner is None or call.path.startswith("/v1/accounts/"):
            continue
        if call.unserved:
            continue
        judged += 1
        if call.stripe_account != owner:
            failures.append(
                Finding(
                    check=check,
                    status="fail",
                    reason=f"{call_text(call)} touched an object of connected account {owner} "
                    f"without acting as it ({_where(call, ambiguous)})",
                    expected=f"Stripe-Account: {owner}",
                    actual=call_text(call),
                )
            )
    yield from failures
    if failures:
        return
    if judged == 0:
        observed = len(run.observed_calls())
        yield Finding(
            check=check,
            status="skip",
            reason="no API calls observed while handling Connect events"
            + (
                f" ({observed} call(s) observed in the run, none for a connected account's "
                "event or object)"
                if observed
                else ""
            ),
        )
        return
    yield Finding(
        check=check,
        status="pass",
        reason=f"{judged} API call(s) made while handling Connect events all used the right "
        f"account context{_untied(ambiguous)}",
        expected="Stripe-Account: <event.account> for connected-account objects",
        actual="as expected",
    )


def _account_context_problem(
    record: DeliveryRecord, call: ApiCall, *, certain: bool
) -> tuple[str, str] | None:
    """Why ``call`` made during ``record`` acts as the wrong account, with what was expected; or None."""
    path = call.path
    acting_as = call.stripe_account
    owner = call.object_owner
    misplaced = next((name for name in _ACCOUNT_AS_PARAMETER if name in call.query), None)
    spelling = sdk_of_call(call).spelling
    if misplaced is not None and acting_as is None:
        return (
            f"{call_text(call)} sent the account as the parameter {misplaced} instead of the "
            f"Stripe-Account header, so Stripe answers 400 'Received unknown parameter: "
            f"{misplaced}' and the call has platform auth; pass {spelling.account}",
            f"Stripe-Account: {record.account}" if record.account else "no Stripe-Account",
        )
    if owner is not None and acting_as != owner:
        if acting_as is None and path.startswith(f"/v1/accounts/{owner}"):
            return None  # the platform may read and manage its connected accounts directly
        what = f"as {acting_as}" if acting_as else "with platform auth (no Stripe-Account)"
        return (
            f"{call_text(call)} requested an object of connected account {owner} {what}; "
            f"Stripe answers 'No such ...': pass {spelling.account}",
            f"Stripe-Account: {owner}",
        )
    if acting_as is not None and owner is None and not certain:
        return None  # which event this call served cannot be told
    if acting_as is not None and acting_as not in (record.account, owner):
        handling = f"connected account {record.account}" if record.account else "the platform"
        return (
            f"{call_text(call)} acted as {acting_as} while handling an event of {handling}",
            f"Stripe-Account: {record.account}" if record.account else "no Stripe-Account",
        )
    return None


def check_separates_livemode(run: CheckRun) -> Iterator[Finding]:
    check = "separates-livemode"
    judged = 0
    failures: list[Finding] = []
    for record in run.judged_records():
        for call in record.calls:
            if call.unserved:
                continue  # what Stripe would have answered is unknown: not judged
            key_mode = call.key_mode
            object_live = call.object_livemode
            # The event's mode counts only for calls certainly made for it.
            event_live = record.livemode if run.certainly_for(record, call) else None
            wanted = {live for live in (event_live, object_live) if live is not None}
            if key_mode is None or not wanted:
                continue
            judged += 1
            wrong = [live for live in wanted if ("live" if live else "test") != key_mode]
            if not wrong:
                continue
            expected_mode = "live" if wrong[0] else "test"
            what = "event" if event_live == wrong[0] else "object"
            failures.append(
                finding_for(
                    record,
                    status="fail",
                    reason=f"{call_text(call)} used a {key_mode}-mode key for a {expected_mode}-mode "
                    f"{what}; choose the API key by event.livemode (a {key_mode} key cannot see "
                    f"{expected_mode} objects)",
                    expected=f"a {expected_mode}-mode key (sk_{expected_mode}_...)",
                    actual=f"{key_mode}-mode key: {call_text(call)}",
                    check=check,
                )
            )
    ambiguous = run.ambiguous_calls()
    for call in run.unattributed_calls():
        key_mode = call.key_mode
        object_live = call.object_livemode
        if key_mode is None or object_live is None:
            continue
        judged += 1
        expected_mode = "live" if object_live else "test"
        if key_mode != expected_mode:
            failures.append(
                Finding(
                    check=check,
                    status="fail",
                    reason=f"{call_text(call)} used a {key_mode}-mode key for a {expected_mode}-mode "
                    f"object ({_where(call, ambiguous)})",
                    expected=f"a {expected_mode}-mode key",
                    actual=f"{key_mode}-mode key",
                )
            )
    yield from failures
    if failures:
        return
    if judged == 0:
        observed = len(run.observed_calls())
        yield Finding(
            check=check,
            status="skip",
            reason="no API calls observed"
            if not observed
            else f"none of the {observed} API call(s) observed could be judged: none named an "
            "object of a known mode or used a key the fake could tell the mode of",
        )
        return
    yield Finding(
        check=check,
        status="pass",
        reason=f"{judged} API call(s) all used a key of their event's mode{_untied(ambiguous)}",
        expected="key mode = event mode",
        actual="as expected",
    )


def _where(call: ApiCall, ambiguous: list[ApiCall]) -> str:
    if call in ambiguous:
        return "made after an answer; nothing ties it to one delivery"
    return "outside any delivery"


def _untied(ambiguous: list[ApiCall]) -> str:
    """What the pass says of calls tied to no delivery (judged by the object they touch only)."""
    if not ambiguous:
        return ""
    return (
        f"; {len(ambiguous)} call(s) made after an answer could not be tied to one delivery "
        "(several delivered events name what they name) and were judged by the object they "
        "touch only"
    )
