"""Order independence: a scenario arriving reversed, shuffled, with duplicates or concurrently gets no
5xx and repeats no side effect.

Stripe does not promise order, and delivers at least once: an ``invoice.paid`` may arrive before its
``invoice.created``, and any event twice, even both copies at once. Each scenario is delivered once in
Stripe's order (the baseline) and again reversed and shuffled; :data:`REPEAT_SCENARIOS` also with
every event twice in a row and (where the target serves requests concurrently: a URL or an ASGI app)
twice at the same moment. Each delivery uses a connected account (or, on an account endpoint, a
seed) of its own, so no state is shared. The endpoint fails if any event gets a 5xx (or no answer),
or if the delivery made a mutating API call (POST or DELETE, by method and path shape) more often
than the baseline did, without one Idempotency-Key between the copies: a repeated mutation for the
same content (an endpoint that repeats ``POST /v1/subscriptions/{id}`` on every redelivery of the
subscription's first invoice fails here, where a single canonical invoice never shows it). An event
refused with a 4xx is not judged here: that is ``accepts-valid-events``'s finding.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

from connect_harness.checks.common import call_text, finding_for
from connect_harness.checks.findings import Finding
from connect_harness.checks.redelivery import duplicated_mutations
from connect_harness.checks.scenario_runs import (
    CONCURRENT,
    Delivered,
    deliver_scenario,
    scenario_account,
)
from connect_harness.checks.sdk_spelling import sdk_of_call
from connect_harness.delivery import WsgiTarget
from connect_harness.events.scenarios import scenario
from connect_harness.stripe_api.fake import ApiCall

if TYPE_CHECKING:
    from connect_harness.checks.interface import CheckRun
    from connect_harness.checks.records import DeliveryRecord

CHECK = "order-independent"

#: The scenarios delivered out of order: bounded, so the check costs ~30 deliveries.
ORDER_SCENARIOS = ("subscription", "direct-charge")

#: The orders compared with Stripe's.
REORDERINGS = ("reversed", "shuffled")

#: The scenarios also delivered with every event twice (in a row, and at once): bounded too.
REPEAT_SCENARIOS = ("subscription",)

#: The repeated deliveries compared with Stripe's order (``concurrent`` not to a WSGI app, which
#: is called with ``wsgi.multithread`` false).
REPEATS = ("duplicated", CONCURRENT)

_ID_SEGMENT = re.compile(r"^([a-z]+)_[A-Za-z0-9]+$")


def _shape(call: ApiCall) -> tuple[str, str]:
    path = "/".join(
        f"{{{m.group(1)}}}" if (m := _ID_SEGMENT.match(part)) else part
        for part in call.path.split("?")[0].split("/")
    )
    return call.method, path


def check_order_independent(run: CheckRun) -> Iterator[Finding]:
    perms = run.permutations()
    connect = [(a, live) for a, live in perms if a is not None]
    platform = [(a, live) for a, live in perms if a is None]
    pool = connect or platform
    account_kind, livemode = next(((a, live) for a, live in pool if not live), pool[0])
    findings: list[Finding] = []
    delivered_any = False
    for offset, name in enumerate(ORDER_SCENARIOS):
        if ("connect" if account_kind else "account") not in scenario(name).receivers:
            continue
        runs: dict[str, Delivered] = {}
        for sub, order in enumerate(("stripe", *REORDERINGS, *_repeats(run, name))):
            account = (
                scenario_account(CHECK, name, order, run.config.seed) if account_kind else None
            )
            # Platform scenarios share the platform: a seed of their own keeps their objects apart.
            seed = run.seed(CHECK) if account_kind else run.scenario_seed(offset * 8 + sub)
            runs[order] = deliver_scenario(
                run, CHECK, name, order=order, account=account, livemode=livemode, seed=seed
            )
        delivered_any = True
        baseline = Counter(_shape(c) for c in runs["stripe"].calls(run) if c.mutating)
        failing = {order: _failing_types(run, delivered) for order, delivered in runs.items()}
        for order in runs:
            if order != "stripe":
                findings.extend(_judge(run, runs[order], baseline, failing))
    if not delivered_any:
        yield Finding(
            check=CHECK,
            status="skip",
            reason="no scenario fits this endpoint type",
        )
        return
    yield from findings


def _repeats(run: CheckRun, name: str) -> tuple[str, ...]:
    if name not in REPEAT_SCENARIOS:
        return ()
    if isinstance(run.target, WsgiTarget):
        return tuple(order for order in REPEATS if order != CONCURRENT)
    return REPEATS


def _failing_types(run: CheckRun, delivered: Delivered) -> set[str]:
    """The event types of ``delivered`` that got a 5xx or no answer."""
    records = run.judged_records()
    return {
        record.event_type
        for record in (records[sent.sequence] for sent in delivered.records)
        if record.event_type and (record.response.status == 0 or record.response.status >= 500)
    }


def _not_about_order(record: DeliveryRecord, failing: dict[str, set[str]]) -> Finding | None:
    """A not-judged finding when ``record``'s type failed in Stripe's own order too: whatever the
    cause, it is not the order (its own failed Stripe call is named when there is one)."""
    event_type = record.event_type
    if event_type is None or event_type not in failing.get("stripe", set()):
        return None
    every = all(event_type in types for types in failing.values())
    where = "in every order" if every else "in Stripe's own order too"
    failed_call = next((c for c in record.calls if c.status >= 400), None)
    cause = ""
    if failed_call is not None:
        cause = f"; its Stripe call {call_text(failed_call)} got {failed_call.status}"
        if failed_call.error:
            cause += f" ({failed_call.error})"
        owner = failed_call.object_owner
        if owner is not None and failed_call.stripe_account != owner:
            cause += (
                f": the call did not act as the object's account {owner} "
                f"(see uses-connected-account-context; pass "
                f"{sdk_of_call(failed_call).spelling.account})"
            )
    return Finding(
        check=CHECK,
        status="skip",
        reason=f"not judged: {event_type} got {record.response.status or 'no answer'} {where}, "
        f"so the order is not the cause (no-server-errors reports the failure){cause}",
        event_type=event_type,
        permutation=record.permutation,
        variant=record.variant,
    )


def _judge(
    run: CheckRun,
    delivered: Delivered,
    baseline: Counter[tuple[str, str]],
    failing: dict[str, set[str]],
) -> Iterator[Finding]:
    records = run.judged_records()
    failed = False
    refused = []
    repeated = delivered.order in REPEATS
    for sent in delivered.records:
        record = records[sent.sequence]
        status = record.response.status
        if 300 <= status < 500 and not (delivered.order == CONCURRENT and status == 409):
            refused.append(record)
        upstream = _not_about_order(record, failing) if status == 0 or status >= 500 else None
        if upstream is not None:
            failed = True  # not a pass either
            yield upstream
            continue
        if status == 0 or status >= 500:
            failed = True
            advice = (
                "Stripe delivers at least once, so answer 2xx to every copy of an event already "
                "received (or 409 to a copy still being handled)"
                if repeated
                else "Stripe does not promise order, so handle an event whose predecessors have "
                "not arrived yet (fetch the object, or store it and answer 2xx)"
            )
            yield finding_for(
                record,
                status="fail",
                reason=f"{delivered.what}: {record.event_type} got {status or 'no answer'}; "
                + advice,
                expected="2xx (or 4xx), never a 5xx",
            )
    mutations = [c for c in delivered.calls(run) if c.mutating]
    counts = Counter(_shape(c) for c in mutations)
    for shape, count in counts.items():
        if count <= baseline.get(shape, 0):
            continue
        same = [c for c in mutations if _shape(c) == shape]
        duplicated = duplicated_mutations(same)
        if duplicated is None:
            continue
        failed = True
        tied = [
            records[sent.sequence]
            for sent in delivered.records
            if any(c in same for c in records[sent.sequence].calls)
        ]
        at = tied[-1] if tied else records[delivered.records[-1].sequence]
        types = sorted({r.event_type for r in tied if r.event_type})
        made_for = f" for {', '.join(types)}" if types else ""
        advice = (
            "deduplicate on event.id (claimed atomically, as copies may arrive together) before "
            "acting, or send an Idempotency-Key derived from it: "
            f"{sdk_of_call(duplicated).spelling.idempotency}"
            if repeated
            else "act on each object once whatever order its events arrive in (upsert on the "
            "object id)"
        )
        yield finding_for(
            at,
            status="fail",
            reason=f"{delivered.what}, the endpoint made {call_text(duplicated)}{made_for} "
            f"{count} times (in Stripe's order: {baseline.get(shape, 0)}), without one "
            f"Idempotency-Key between the copies; {advice}",
            expected=f"{shape[0]} {shape[1]} at most {baseline.get(shape, 0)} time(s)",
            actual=f"{count} times",
        )
    if not failed and refused:
        yield Finding(
            check=CHECK,
            status="skip",
            reason=f"not judged: {delivered.what}, {refused[0].event_type} got "
            f"{refused[0].response.status} (an event not accepted says nothing about order)",
            variant=f"{delivered.name}:{delivered.order}",
        )
    elif not failed:
        yield Finding(
            check=CHECK,
            status="pass",
            reason=f"{delivered.what}: no 5xx, no side effect repeated",
            variant=f"{delivered.name}:{delivered.order}",
        )
