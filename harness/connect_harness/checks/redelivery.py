"""The redelivery check: the same event again (in turn and concurrently) must not repeat side effects."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from connect_harness.checks.common import IDEMPOTENCY_EVENTS, call_text, finding_for, is_2xx
from connect_harness.checks.examples import extra_examples, send_example
from connect_harness.checks.findings import (
    Finding,
)
from connect_harness.checks.sdk_spelling import sdk_of_call
from connect_harness.delivery import UrlTarget
from connect_harness.events.build import Event
from connect_harness.events.examples import Example
from connect_harness.stripe_api.fake import ApiCall

if TYPE_CHECKING:
    from connect_harness.checks.interface import CheckRun
    from connect_harness.checks.records import DeliveryRecord


def check_idempotent_redelivery(run: CheckRun) -> Iterator[Finding]:
    check = "idempotent-redelivery"
    seed = run.seed(check)
    # The canonical events in every permutation, then the other examples of each type.
    sent: list[Event | Example] = [
        run.event(event_type, account, live, seed)
        for event_type in IDEMPOTENCY_EVENTS
        for account, live in run.permutations(event_type)
    ]
    for event_type in IDEMPOTENCY_EVENTS:
        sent.extend(extra_examples(run, event_type, seed))
    events = [item.event if isinstance(item, Example) else item for item in sent]

    def send(item: Event | Example, variant: str, note: str | None = None) -> DeliveryRecord:
        if isinstance(item, Example):
            return send_example(run, check, item, seed=seed, variant=variant, note=note)
        return run.send_event(check, item, seed=seed, variant=variant, note=note)

    firsts = [send(item, "first-delivery") for item in sent]
    run.settle()
    again = "run it twice; the second delivery is the redelivery"
    seconds = [send(item, "redelivery", again) for item in sent]
    concurrent: tuple[DeliveryRecord, DeliveryRecord] | None = None
    if isinstance(run.target, UrlTarget):
        event = run.event(
            "payment_intent.succeeded",
            *run.permutations("payment_intent.succeeded")[0],
            run.seed(check, 1),
        )
        concurrent = _deliver_twice_concurrently(run, check, event, seed=run.seed(check, 1))
    records = run.judged_records()

    mutating_seen = False
    findings: list[Finding] = []
    # Keys of every first copy: a call made after its delivery was answered can land in the next
    # delivery's window, so a key is only judged against all first copies together.
    keys = {
        key
        for first_sent in firsts
        for c in records[first_sent.sequence].calls
        if c.mutating and (key := c.idempotency_key)
    }
    for first_sent, second_sent in zip(firsts, seconds, strict=True):
        first, second = records[first_sent.sequence], records[second_sent.sequence]
        first_mutations = [c for c in first.calls if c.mutating]
        mutating_seen = mutating_seen or bool(first_mutations)
        if not is_2xx(second.response.status):
            findings.append(
                finding_for(
                    second,
                    status="fail",
                    reason="a redelivery of an event already received was refused; answer 2xx "
                    "to every copy (Stripe delivers at least once and retries until it gets 2xx)",
                    expected="2xx",
                )
            )
            continue
        repeated = [c for c in second.calls if c.mutating and c.idempotency_key not in keys]
        if repeated:
            findings.append(
                finding_for(
                    second,
                    status="fail",
                    reason=f"the redelivery repeated a side effect: {call_text(repeated[0])} "
                    "without an Idempotency-Key already used for the first copy; deduplicate on "
                    "event.id or send an idempotency key derived from it: "
                    f"{sdk_of_call(repeated[0]).spelling.idempotency}",
                    expected="no new mutating API calls (or the same Idempotency-Key)",
                    actual=f"{len(repeated)} new mutating call(s), e.g. {call_text(repeated[0])}",
                )
            )
        elif first_mutations:
            findings.append(
                finding_for(
                    second,
                    status="pass",
                    reason=f"redelivery answered 2xx and repeated none of the {len(first_mutations)} "
                    "mutating API call(s) of the first copy",
                    expected="2xx, no repeated side effects",
                )
            )
    findings.extend(_repeated_on_objects(check, events, seconds, records))
    if concurrent is not None:
        a, b = records[concurrent[0].sequence], records[concurrent[1].sequence]
        calls = [c for c in (*a.calls, *b.calls) if c.mutating]
        mutating_seen = mutating_seen or bool(calls)
        for record in (a, b):
            if not is_2xx(record.response.status) and record.response.status != 409:
                findings.append(
                    finding_for(
                        record,
                        status="fail",
                        reason="one of two concurrent copies of the same event was refused; "
                        "answer 2xx to both (or 409 so that Stripe retries later)",
                        expected="2xx",
                    )
                )
        duplicated = duplicated_mutations(calls)
        if duplicated is not None:
            findings.append(
                finding_for(
                    b,
                    status="fail",
                    reason=f"two concurrent copies of one event both made {call_text(duplicated)} "
                    "without sharing one Idempotency-Key; claim the event id atomically (a unique "
                    "constraint) before acting",
                    expected="each side effect once",
                    actual=f"{call_text(duplicated)} made twice",
                )
            )
    if not mutating_seen and not any(f.status == "fail" for f in findings):
        yield Finding(
            check=check,
            status="skip",
            reason="no mutating API calls observed; side effects outside the Stripe API cannot be seen",
        )
        return
    yield from findings


def _repeated_on_objects(
    check: str,
    events: Sequence[Event],
    seconds: Sequence[DeliveryRecord],
    records: Sequence[DeliveryRecord],
) -> Iterator[Finding]:
    """Side effects on an event's own object made twice without one Idempotency-Key between them.

    Judged by the object the calls name, not by which delivery they arrived during, so an endpoint
    that answers first and acts later is judged as fairly as one that acts before answering.
    """
    # Every delivery of this check: a late call lands in whichever delivery was last under way.
    mutations = [
        call
        for record in records
        if record.check == check
        for call in record.calls
        if call.mutating
    ]
    for event, second in zip(events, seconds, strict=True):
        own = [call for call in mutations if event.object_id and call.object_id == event.object_id]
        duplicated = duplicated_mutations(own)
        if duplicated is not None:
            yield finding_for(
                records[second.sequence],
                status="fail",
                reason=f"{call_text(duplicated)} was made again for the redelivered event without "
                "the Idempotency-Key of the first time; deduplicate on event.id or derive the key "
                f"from it: {sdk_of_call(duplicated).spelling.idempotency}",
                expected="each side effect once (or the same Idempotency-Key)",
                actual=f"{call_text(duplicated)} made more than once",
            )


def _deliver_twice_concurrently(
    run: CheckRun, check: str, event: Event, *, seed: int
) -> tuple[DeliveryRecord, DeliveryRecord]:
    label = run.next_label(check)
    requests = [run.signed(event.body, livemode=event.livemode) for _ in range(2)]
    reproduce = run.reproduce_event(
        event, seed=seed, note="run this command twice at the same time"
    )
    out: list[DeliveryRecord | None] = [None, None]
    barrier = threading.Barrier(2)

    def send(index: int) -> None:
        barrier.wait()
        out[index] = run.send(
            check,
            requests[index],
            event=event,
            variant=f"concurrent-copy-{index + 1}",
            reproduce=reproduce,
            label=label,  # one label: the fake cannot tell which copy caused a call
        )

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first, second = out
    assert first is not None and second is not None
    return first, second


def duplicated_mutations(calls: Sequence[ApiCall]) -> ApiCall | None:
    groups: dict[tuple[str, str], list[ApiCall]] = {}
    for call in calls:
        groups.setdefault((call.method, call.path), []).append(call)
    for group in groups.values():
        if len(group) < 2:
            continue
        keys = {call.idempotency_key for call in group}
        if None in keys or len(keys) > 1:
            return group[1]
    return None
