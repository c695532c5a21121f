"""After deauthorization: late events for a disconnected account get 2xx, and the endpoint stops acting
as that account.

The app install / uninstall scenario is delivered in Stripe's order to a connected account of its own:
``account.application.authorized``, ``account.updated``, ``account.application.deauthorized``, then
events that were already on their way (``payment_intent.succeeded``, ``customer.created``). From the
deauthorization on, the fake API answers every request acting as that account with Stripe's 403. The
endpoint fails if a late event gets a 5xx or no answer, or if it makes any API call as that account
after the deauthorization was handled (the run waits for the endpoint to go quiet before the
deauthorization, so work for earlier events is never counted).

An endpoint that answers first and records the disconnection in a job makes no API call a run could
wait for, and its work may even start before its answer is read. So when the endpoint acted as the
account, the scenario is delivered again to another account with a pause after the deauthorization
(:data:`~connect_harness.checks.scenario_runs.SETTLE_AFTER_GRACE`), as Stripe's late events are not
milliseconds behind. If it still acted, once more with a longer pause
(:data:`~connect_harness.checks.scenario_runs.SETTLE_AFTER_LONG_GRACE`): on a loaded machine a
correct endpoint's job can lag that far, and blaming it would be a false alarm. The last delivery
is judged; after a paused one, the late events' jobs get as long as the pause to show they act as
the account anyway. Only an endpoint that acted in the first delivery pays for the pauses.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from connect_harness.checks.common import _call_text, _finding_for, _is_2xx
from connect_harness.checks.findings import Finding
from connect_harness.checks.scenario_runs import (
    SETTLE_AFTER_GRACE,
    SETTLE_AFTER_LONG_GRACE,
    Delivered,
    deliver_scenario,
    scenario_account,
)
from connect_harness.stripe_api.fake import ApiCall

if TYPE_CHECKING:
    from connect_harness.checks.run import ContractRun, DeliveryRecord

CHECK = "after-deauthorization"
SCENARIO = "install-uninstall"
DEAUTHORIZED = "account.application.deauthorized"
#: The pauses after the deauthorization, tried in turn while the endpoint acts as the account.
PAUSES = (0.0, SETTLE_AFTER_GRACE, SETTLE_AFTER_LONG_GRACE)


def _check_after_deauthorization(run: ContractRun) -> Iterator[Finding]:
    connect = [(a, live) for a, live in run._permutations() if a is not None]
    if not connect:
        yield Finding(
            check=CHECK,
            status="skip",
            reason="an account endpoint receives no deauthorizations (they go to Connect endpoints)",
        )
        return
    livemode = next((live for _, live in connect if not live), connect[0][1])
    for attempt, pause in enumerate(PAUSES):
        order = "stripe" if not pause else f"stripe, paused {pause:g} s after the deauthorization"
        account = scenario_account(CHECK, SCENARIO, order, run.config.seed)
        delivered = deliver_scenario(
            run,
            CHECK,
            SCENARIO,
            order="stripe",
            account=account,
            livemode=livemode,
            # Ids derive from the account too, so the third delivery reuses the second's seed.
            seed=run._seed(CHECK, min(attempt, 1)),
            settle_before=frozenset({DEAUTHORIZED}),
            settle_after=frozenset({DEAUTHORIZED}) if pause else frozenset(),
            grace=pause,
        )
        judged = _judge(run, delivered, account, pause=pause, last=attempt == len(PAUSES) - 1)
        if judged is not None:
            yield from judged
            return


def _judge(
    run: ContractRun, delivered: Delivered, account: str, *, pause: float, last: bool
) -> list[Finding] | None:
    """The findings of one delivery of the scenario; None when it must be delivered again, with a
    longer pause."""
    records = run._judged_records()
    position = next(i for i, e in enumerate(delivered.events) if e.type == DEAUTHORIZED)
    late = [records[r.sequence] for r in delivered.records[position + 1 :]]
    deauthorized = records[delivered.records[position].sequence]
    if not _is_2xx(deauthorized.response.status):
        return [
            _finding_for(
                deauthorized,
                status="fail" if deauthorized.response.status >= 500 else "skip",
                reason="account.application.deauthorized was not accepted; answer 2xx and stop "
                "acting for the account",
                expected="2xx",
            )
        ]
    findings = [
        _finding_for(
            record,
            status="fail",
            reason=f"{record.event_type} for an account that had deauthorized the platform got "
            f"{record.response.status or 'no answer'}; events already on their way still arrive: "
            "answer 2xx and do nothing for a disconnected account",
            expected="2xx",
        )
        for record in late
        if record.response.status == 0 or record.response.status >= 500
    ]
    acting = _acting(run.fake_api.calls, late, account)
    if pause and late and not acting:
        # The job had ``pause`` to take the deauthorization in: the late events' jobs get as long to
        # show they act anyway (on a loaded machine they can start after the settle's quiet time).
        deadline = max(record.finished for record in late) + pause
        while not acting and time.monotonic() < deadline:
            time.sleep(0.02)
            acting = _acting(run.fake_api.calls, late, account)
    if acting and not last and not findings:
        return None  # its job may not have taken the deauthorization in yet: pause longer
    if acting:
        after = f" ({pause:g} s after the deauthorization)" if pause else ""
        findings.append(
            _finding_for(
                late[0],
                status="fail",
                reason=f"after {account} deauthorized the platform, the endpoint kept acting as "
                f"it{after}: {_call_text(acting[0])} (Stripe answers 403); mark the account "
                "disconnected on account.application.deauthorized and skip its later events",
                expected="no API call as the disconnected account",
                actual=f"{len(acting)} call(s), e.g. {_call_text(acting[0])} -> {acting[0].status}",
            )
        )
    if findings:
        return findings
    return [
        Finding(
            check=CHECK,
            status="pass",
            reason=f"{len(late)} late event(s) after the deauthorization got 2xx and the endpoint "
            "made no call as the disconnected account",
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
