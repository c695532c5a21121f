"""Survives API errors: with the endpoint's Stripe calls failing (429, 500, a dropped connection), it
keeps answering, and once the fault clears and Stripe retries, it does the work exactly once.

For each fault, a fresh ``payment_intent.succeeded`` is delivered while every API call fails, then a
probe event (the endpoint must still answer: a crashed worker or a dead process does not), then the
fault is cleared. A delivery answered non-2xx is retried as Stripe retries it (the schedule compressed
to one retry a moment later: Stripe keeps retrying for up to 3 days in live mode, three times over a
few hours in test mode, and disables an endpoint that keeps failing). The work is the mutating calls
that succeeded on the event's object; a baseline event delivered without faults says how many there
should be. An endpoint that only reads from Stripe (and writes its own store) is put under the same
faults: its work is a read of the event's object that succeeded. An endpoint that answered 2xx while
every call it made for the event failed, and never made one again that succeeded, may have lost the
event's work: Stripe does not retry a 2xx. What it did with the failure inside is not observable,
so that is worded as what was seen.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from connect_harness.checks.common import call_text, finding_for, is_2xx
from connect_harness.checks.findings import Finding
from connect_harness.events.build import Event
from connect_harness.stripe_api.fake import ApiCall

if TYPE_CHECKING:
    from connect_harness.checks.interface import CheckRun
    from connect_harness.checks.records import DeliveryRecord

CHECK = "survives-api-errors"
EVENT_TYPE = "payment_intent.succeeded"
PROBE_TYPE = "customer.created"

#: (name, fail() arguments). A timeout is a dropped connection: waiting out a client's timeout
#: (80 s in stripe-python) would cost more than the whole run.
FAULTS: tuple[tuple[str, dict[str, object]], ...] = (
    ("429 rate_limit", {"status": 429}),
    ("500 api_error", {"status": 500}),
    ("a dropped connection", {"status": None, "reset": True}),
)

#: How long the no-fault delivery's work gets to show after the answer (a background job on a loaded
#: machine); only an endpoint that calls Stripe, but not for this event, waits it out.
BASELINE_GRACE = 1.0

#: How long an endpoint that answered 2xx gets to redo failed work by itself once the fault cleared.
SELF_RETRY_SECONDS = 5.0

STRIPE_RETRIES = (
    "Stripe retries a non-2xx for up to 3 days in live mode (three times over a few hours in test "
    "mode) and disables an endpoint that keeps failing"
)


def _for_object(call: ApiCall, event: Event) -> bool:
    """True if ``call`` is about the event's object: it was answered with it, or names it (a call a
    fault answered carries no object, only what its path and parameters name)."""
    return call.object_id == event.object_id or (
        event.object_id is not None and event.object_id in call.named_ids()
    )


def _work(run: CheckRun, event: Event, *, mutating: bool = True) -> list[ApiCall]:
    """Calls on the event's object that succeeded: the mutating ones, or (``mutating=False``) every
    one, reads included."""
    return [
        call
        for call in run.fake_api.calls
        if (call.mutating or not mutating) and 200 <= call.status < 300 and _for_object(call, event)
    ]


def _failed_calls(run: CheckRun, event: Event) -> list[ApiCall]:
    """Calls about the event's object that failed."""
    return [c for c in run.fake_api.calls if not 200 <= c.status < 300 and _for_object(c, event)]


@dataclass(frozen=True)
class Baseline:
    """Where a fault check sends its event (a connected account in test mode if the endpoint gets
    one), and what the event causes without faults: ``expected`` successful mutating calls on the
    event's object, ``reads`` successful calls of any kind. An endpoint that only reads (and writes
    its own store) has ``expected == 0``: its work is judged by its reads."""

    account: str | None
    livemode: bool
    expected: int
    reads: int = 0

    def done(self, run: CheckRun, event: Event) -> int:
        """How much of ``event``'s work succeeded: its mutating calls, or for an endpoint that only
        reads, its successful reads."""
        return len(_work(run, event, mutating=self.expected > 0))

    def what(self, event: Event) -> str:
        """The work in words, for a finding's ``expected``."""
        if self.expected:
            return f"{self.expected} successful mutating call(s) on {event.object_id}"
        return f"a successful call for {event.object_id} once the API answers again"


def baseline(run: CheckRun, check: str, loses: str) -> Baseline | Finding:
    """The event delivered once without faults; a skip (naming ``loses``, what a fault could do to
    the work) when it was not accepted or made no API call for the event's object."""
    perms = run.permutations(EVENT_TYPE)
    account, livemode = next(((a, live) for a, live in perms if a and not live), perms[0])
    base_seed = run.seed(check)
    baseline_event = run.event(EVENT_TYPE, account, livemode, base_seed)
    record = run.send_event(check, baseline_event, seed=base_seed, variant="no-fault")
    run.settle()
    # A job that starts after the answer may not have called yet. Waited for only when the
    # endpoint calls Stripe at all, or nothing was delivered before: an endpoint that made no call
    # in all the run's deliveries so far is not kept waiting.
    if run.observed_calls() or run.deliveries <= 1:
        deadline = time.monotonic() + BASELINE_GRACE
        while not _work(run, baseline_event, mutating=False) and time.monotonic() < deadline:
            time.sleep(0.02)
        run.settle()
    expected = len(_work(run, baseline_event))
    reads = len(_work(run, baseline_event, mutating=False))
    if not is_2xx(record.response.status) or reads == 0:
        return Finding(
            check=check,
            status="skip",
            reason=f"{EVENT_TYPE} without faults made no API call for its object that succeeded "
            f"(answered {record.response.status}); there is no work {loses}",
            event_type=EVENT_TYPE,
        )
    return Baseline(account, livemode, expected, reads)


def check_survives_api_errors(run: CheckRun) -> Iterator[Finding]:
    found = baseline(run, CHECK, "an API error could lose")
    if isinstance(found, Finding):
        yield found
        return
    for index, (name, fault) in enumerate(FAULTS):
        yield from _under_fault(run, index, name, fault, found)


def _under_fault(
    run: CheckRun,
    index: int,
    name: str,
    fault: dict[str, object],
    found: Baseline,
) -> Iterator[Finding]:
    account, livemode, expected = found.account, found.livemode, found.expected
    # Seeds of their own: each fault gets a fresh event (and object), none shared with other checks.
    seed = run.scenario_seed(12 + index)
    event = run.event(EVENT_TYPE, account, livemode, seed)
    probe_event = run.event(PROBE_TYPE, account, livemode, seed)
    run.fake_api.fail("*", times=None, **fault)  # type: ignore[arg-type]
    try:
        first = run.send_event(CHECK, event, seed=seed, variant=f"during {name}")
        probe = run.send_event(CHECK, probe_event, seed=seed, variant=f"probe after {name}")
        run.settle()
    finally:
        run.fake_api.clear_faults()
    records = [first]
    if probe.response.status == 0:
        yield finding_for(
            probe,
            status="fail",
            reason=f"after its Stripe calls failed with {name}, the endpoint stopped answering "
            "(no HTTP answer to the next delivery); an API error must never take the server down",
            expected="an answer",
        )
        return
    retry: DeliveryRecord | None = None
    if not is_2xx(first.response.status):
        retry = run.send_event(
            CHECK, event, seed=seed, variant=f"retry after {name}", note="run it again: the retry"
        )
        records.append(retry)
        run.settle()
    done = found.done(run, event)
    if retry is None:
        # Answered 2xx: an endpoint that works after answering may redo the work by itself.
        deadline = time.monotonic() + SELF_RETRY_SECONDS
        while done == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
            done = found.done(run, event)
        run.settle()
        done = found.done(run, event)
    last = retry or first
    failed = _failed_calls(run, event)
    if retry is not None and not is_2xx(retry.response.status):
        yield finding_for(
            retry,
            status="fail",
            reason=f"once {name} cleared, Stripe's retry of the event still got "
            f"{retry.response.status or 'no answer'}; {STRIPE_RETRIES}",
            expected="2xx once the API answers again",
        )
    elif done == 0 and retry is None and failed:
        yield finding_for(
            last,
            status="fail",
            reason=f"acknowledged ({first.response.status}) while its Stripe calls failed with "
            f"{name} and never made them again ({len(failed)} failed call(s), e.g. "
            f"{call_text(failed[0])}; none succeeded within {SELF_RETRY_SECONDS:g} s after the "
            "fault cleared): the event's work may be lost, as Stripe does not retry a 2xx; "
            "answer 5xx when the work fails, or retry it in a job",
            expected=found.what(event),
            actual="none",
        )
    elif done == 0 and retry is not None:
        yield finding_for(
            last,
            status="fail",
            reason=f"once {name} cleared, Stripe's retry got {retry.response.status} but no call "
            f"for {event.object_id} succeeded: the retry was taken for a duplicate of the failed "
            "attempt and the event's work is lost; record an event as processed only once its "
            "work succeeded",
            expected=found.what(event),
            actual="none",
        )
    elif expected and done > expected:
        yield finding_for(
            last,
            status="fail",
            reason=f"after {name} and Stripe's retry, the work was done {done} times "
            f"(without faults: {expected}); deduplicate on event.id and use idempotency keys "
            f"({run.sdk().spelling.idempotency})",
            expected=f"{expected} successful mutating call(s)",
            actual=f"{done}",
        )
    elif done == 0:
        yield Finding(
            check=CHECK,
            status="skip",
            reason=f"not judged under {name}: the endpoint answered {first.response.status} and "
            f"made no call for {event.object_id} (without faults it did)",
            event_type=EVENT_TYPE,
            variant=f"during {name}",
        )
    else:
        yield Finding(
            check=CHECK,
            status="pass",
            reason=f"under {name} the endpoint kept answering ({first.response.status}"
            + (f", retry {retry.response.status}" if retry is not None else "")
            + (
                ") and did the work exactly once"
                if expected
                else ") and read again once it answered"
            ),
            event_type=EVENT_TYPE,
            variant=f"during {name}",
        )
