"""After deauthorization: late events for a disconnected account get 2xx, and the endpoint never
acts as that account successfully.

The app install / uninstall scenario is delivered in Stripe's order to a connected account of its own:
``account.application.authorized``, ``account.updated``, ``account.application.deauthorized``, then
events that were already on their way (``payment_intent.succeeded``, ``customer.created``). From the
deauthorization on, the fake API answers every request acting as that account with Stripe's 403
(``account_invalid``).

Stripe does not promise that ``account.application.deauthorized`` arrives before the late events
(https://docs.stripe.com/webhooks#event-ordering: "Stripe doesn't guarantee the delivery of events
in the order that they're generated"), so an endpoint that calls Stripe for a late event, gets the
403 and answers 2xx handles it correctly: that is a note, never a failure. A defect is what can be
observed to go wrong: a late event answered non-2xx (Stripe retries it for days, then disables the
endpoint) or not answered, or a call as the disconnected account that succeeded (the fake answers
every one 403, so that is a call the fake does not serve as Stripe would).

An endpoint that answers first and works in a job may make its calls after its answer: the run
settles (waits for the endpoint's calls to stop) before judging them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from connect_harness.checks.common import call_text, finding_for, is_2xx
from connect_harness.checks.findings import Finding
from connect_harness.checks.scenario_runs import Delivered, deliver_scenario, scenario_account
from connect_harness.stripe_api.fake import ApiCall

if TYPE_CHECKING:
    from connect_harness.checks.interface import CheckRun
    from connect_harness.checks.records import DeliveryRecord

CHECK = "after-deauthorization"
SCENARIO = "install-uninstall"
DEAUTHORIZED = "account.application.deauthorized"


def check_after_deauthorization(run: CheckRun) -> Iterator[Finding]:
    connect = [(a, live) for a, live in run.permutations() if a is not None]
    if not connect:
        yield Finding(
            check=CHECK,
            status="skip",
            reason="an account endpoint receives no deauthorizations (they go to Connect endpoints)",
        )
        return
    livemode = next((live for _, live in connect if not live), connect[0][1])
    account = scenario_account(CHECK, SCENARIO, "stripe", run.config.seed)
    delivered = deliver_scenario(
        run,
        CHECK,
        SCENARIO,
        order="stripe",
        account=account,
        livemode=livemode,
        seed=run.seed(CHECK),
        settle_before=frozenset({DEAUTHORIZED}),
    )
    yield from _judge(run, delivered, account)


def _judge(run: CheckRun, delivered: Delivered, account: str) -> list[Finding]:
    """The findings of one delivery of the scenario."""
    records = run.judged_records()
    position = next(i for i, e in enumerate(delivered.events) if e.type == DEAUTHORIZED)
    late = [records[r.sequence] for r in delivered.records[position + 1 :]]
    deauthorized = records[delivered.records[position].sequence]
    if not is_2xx(deauthorized.response.status):
        return [
            finding_for(
                deauthorized,
                status="fail" if deauthorized.response.status >= 500 else "skip",
                reason="account.application.deauthorized was not accepted; answer 2xx and stop "
                "acting for the account",
                expected="2xx",
            )
        ]
    findings = [
        finding_for(
            record,
            status="fail",
            reason=f"{record.event_type} for an account that had deauthorized the platform got "
            f"{record.response.status or 'no answer'}; events already on their way still arrive "
            "(Stripe does not promise the deauthorization comes first): answer 2xx and do "
            "nothing for a disconnected account, or handle Stripe's 403 (account_invalid) when "
            "a call for it fails",
            expected="2xx",
        )
        for record in late
        if not is_2xx(record.response.status)
    ]
    calls = _acting(run.fake_api.calls, late, account)
    acting = [call for call in calls if is_2xx(call.status)]
    if acting:
        findings.append(
            finding_for(
                late[0],
                status="fail",
                reason=f"after {account} deauthorized the platform, a call as it succeeded: "
                f"{call_text(acting[0])}; mark the account disconnected on "
                "account.application.deauthorized and skip its later events",
                expected="no successful API call as the disconnected account",
                actual=f"{len(acting)} call(s), e.g. {call_text(acting[0])} -> {acting[0].status}",
            )
        )
    if findings:
        return findings
    refused = [call for call in calls if call.status == 403]
    note = (
        f"; {len(refused)} call(s) as the disconnected account got Stripe's 403 and the endpoint "
        f"handled it (e.g. {call_text(refused[0])}): correct, as the deauthorization may arrive "
        "after the late events"
        if refused
        else " and the endpoint made no call as the disconnected account"
    )
    return [
        Finding(
            check=CHECK,
            status="pass",
            reason=f"{len(late)} late event(s) after the deauthorization got 2xx{note}",
            variant=f"{SCENARIO}:stripe",
        )
    ]


def _acting(
    calls: Sequence[ApiCall], late: Sequence[DeliveryRecord], account: str
) -> list[ApiCall]:
    """The calls acting as ``account`` from the first late event's delivery on."""
    if not late:
        return []
    first_late = late[0].started
    return [call for call in calls if call.at >= first_late and call.stripe_account == account]
