"""After deauthorization: late events for a disconnected account get 2xx, and the endpoint stops acting
as that account.

The app install / uninstall scenario is delivered in Stripe's order to a connected account of its own:
``account.application.authorized``, ``account.updated``, ``account.application.deauthorized``, then
events that were already on their way (``payment_intent.succeeded``, ``customer.created``). From the
deauthorization on, the fake API answers every request acting as that account with Stripe's 403. The
endpoint fails if a late event gets a 5xx or no answer, or if it makes any API call as that account
after the deauthorization was handled (the run waits for the endpoint to go quiet before and after
the deauthorization, so work for earlier events is never counted).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from connect_harness.checks.common import _call_text, _finding_for, _is_2xx
from connect_harness.checks.findings import Finding
from connect_harness.checks.scenario_runs import deliver_scenario, scenario_account

if TYPE_CHECKING:
    from connect_harness.checks.run import ContractRun

CHECK = "after-deauthorization"
SCENARIO = "install-uninstall"
DEAUTHORIZED = "account.application.deauthorized"


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
    account = scenario_account(CHECK, SCENARIO, "stripe", run.config.seed)
    delivered = deliver_scenario(
        run,
        CHECK,
        SCENARIO,
        order="stripe",
        account=account,
        livemode=livemode,
        seed=run._seed(CHECK),
        settle_before=frozenset({DEAUTHORIZED}),
        settle_after=frozenset({DEAUTHORIZED}),
    )
    records = run._judged_records()
    position = next(i for i, e in enumerate(delivered.events) if e.type == DEAUTHORIZED)
    late = [records[r.sequence] for r in delivered.records[position + 1 :]]
    deauthorized = records[delivered.records[position].sequence]
    if not _is_2xx(deauthorized.response.status):
        yield _finding_for(
            deauthorized,
            status="fail" if deauthorized.response.status >= 500 else "skip",
            reason="account.application.deauthorized was not accepted; answer 2xx and stop acting "
            "for the account",
            expected="2xx",
        )
        return
    failed = False
    for record in late:
        status = record.response.status
        if status == 0 or status >= 500:
            failed = True
            yield _finding_for(
                record,
                status="fail",
                reason=f"{record.event_type} for an account that had deauthorized the platform got "
                f"{status or 'no answer'}; events already on their way still arrive: answer 2xx "
                "and do nothing for a disconnected account",
                expected="2xx",
            )
    if late:
        first_late = late[0].started
        acting = [
            call
            for call in run.fake_api.calls
            if call.at >= first_late and call.stripe_account == account
        ]
        if acting:
            failed = True
            yield _finding_for(
                late[0],
                status="fail",
                reason=f"after {account} deauthorized the platform, the endpoint kept acting as it: "
                f"{_call_text(acting[0])} (Stripe answers 403); mark the account disconnected on "
                "account.application.deauthorized and skip its later events",
                expected="no API call as the disconnected account",
                actual=f"{len(acting)} call(s), e.g. {_call_text(acting[0])} -> {acting[0].status}",
            )
    if not failed:
        yield Finding(
            check=CHECK,
            status="pass",
            reason=f"{len(late)} late event(s) after the deauthorization got 2xx and the endpoint "
            "made no call as the disconnected account",
            variant=f"{SCENARIO}:stripe",
        )
