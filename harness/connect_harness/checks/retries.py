"""Retries: a delivery answered non-2xx is retried on Stripe's schedule, time compressed; a transient
failure must end in one 2xx and the work done exactly once.

Stripe retries an event its endpoint did not answer with 2xx: in live mode for up to 3 days with
exponential backoff, in test mode three times over a few hours; it emails about an endpoint that
keeps failing and disables it. Every retry is the same event (same id, same bytes) signed afresh.

The check makes a failure the endpoint cannot avoid: every call it makes to the fake Stripe API
answers 429 (a rate limit) while a fresh ``payment_intent.succeeded`` is delivered and retried once (the transient
error outlasts the first retry), then the API answers again and Stripe's remaining retries follow,
until one gets 2xx. Delays between attempts keep the schedule's shape (each twice the one before)
at a millionth of its length. The work is judged as ``survives-api-errors`` judges it: the mutating
calls on the event's object that succeeded, as many as a delivery without faults makes.

It fails an endpoint that records the event id as processed before its work and keeps it when the
work fails (the retry is acknowledged as a duplicate and the work is lost), one that acknowledges a
retry whose work failed again, one that answers retries differently from a fresh delivery (refuses
them, or errs on its own stored state), and one that repeats the work across attempts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from connect_harness.checks.api_faults import EVENT_TYPE, SELF_RETRY_SECONDS, baseline
from connect_harness.checks.common import finding_for, is_2xx
from connect_harness.checks.findings import Finding

if TYPE_CHECKING:
    from connect_harness.checks.interface import CheckRun
    from connect_harness.checks.records import DeliveryRecord

CHECK = "retries"

#: Seconds before each retry: Stripe's backoff (each wait about twice the one before), compressed.
RETRY_DELAYS = (0.05, 0.1, 0.2)

#: Attempts the endpoint's Stripe calls fail for: the first delivery and the first retry.
FAILING_ATTEMPTS = 2

#: A rate limit: transient, and (unlike a 500) not retried inside stripe-python itself, whose backoff
#: would cost seconds per attempt without changing what the endpoint answers.
FAULT = "429 rate_limit"

KEEPS_FAILING = (
    "Stripe would keep retrying it (for up to 3 days in live mode, three times over a few hours "
    "in test mode), email you that the endpoint is failing, and then disable the endpoint"
)


def check_retries(run: CheckRun) -> Iterator[Finding]:
    found = baseline(run, CHECK, "a failed attempt could lose or repeat")
    if isinstance(found, Finding):
        yield found
        return
    account, livemode, expected = found.account, found.livemode, found.expected
    # An endpoint that only reads: a successful read is its work, and repeating it is harmless.
    work = found.what
    seed = run.seed(CHECK, 1)
    event = run.event(EVENT_TYPE, account, livemode, seed)
    attempts: list[DeliveryRecord] = []
    run.fake_api.fail("*", times=None, status=429)
    try:
        for number in range(1, len(RETRY_DELAYS) + 2):
            if number > 1:
                time.sleep(RETRY_DELAYS[number - 2])
            faulty = number <= FAILING_ATTEMPTS
            if number == FAILING_ATTEMPTS + 1:
                run.settle()  # calls of the failing attempts still fail
                run.fake_api.clear_faults()
            variant = f"during {FAULT}: attempt {number}" if faulty else f"retry {number - 1}"
            note = None if number == 1 else f"run it {number} times: attempt {number} is this one"
            record = run.send_event(CHECK, event, seed=seed, variant=variant, note=note)
            attempts.append(record)
            if is_2xx(record.response.status):
                break
    finally:
        run.settle()
        run.fake_api.clear_faults()
    done = found.done(run, event)
    last = attempts[-1]
    answers = ", ".join(str(r.response.status or "no answer") for r in attempts)
    if not is_2xx(last.response.status):
        yield finding_for(
            last,
            status="fail",
            reason=f"the {len(attempts)} attempts got {answers}: once the Stripe API answered "
            f"again, Stripe's retries of the event were still refused, unlike a fresh delivery; "
            f"{KEEPS_FAILING}",
            expected="2xx once the API answers again",
        )
        return
    if len(attempts) <= FAILING_ATTEMPTS and done == 0:
        # Answered 2xx while its calls failed: it may still do the work by itself.
        deadline = time.monotonic() + SELF_RETRY_SECONDS
        while done == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
            done = found.done(run, event)
        run.settle()
        done = found.done(run, event)
    if len(attempts) == 1:
        if done == expected or (not expected and done):
            yield Finding(
                check=CHECK,
                status="pass",
                reason=f"answered {last.response.status} while its Stripe calls failed and did "
                "the work itself once they answered again: Stripe had nothing to retry",
                event_type=EVENT_TYPE,
                variant=last.variant,
            )
        else:
            yield Finding(
                check=CHECK,
                status="skip",
                reason=f"not judged: the first attempt got {last.response.status} while its "
                "Stripe calls failed, so Stripe would not retry it (survives-api-errors judges "
                "that)",
                event_type=EVENT_TYPE,
                variant=last.variant,
            )
        return
    if done == 0:
        if len(attempts) <= FAILING_ATTEMPTS:
            why = (
                f"Stripe's retry (attempt {len(attempts)}) got {last.response.status} while the "
                "endpoint's Stripe calls still failed, and the work was never done (the endpoint "
                "gave up on the event, or took the retry for a duplicate of the failed attempt)"
            )
        else:
            why = (
                f"after {answers}, Stripe's retry (attempt {len(attempts)}) was acknowledged but "
                "the work was never done: the event id was probably recorded as processed before "
                "the work failed, so the retry looked like a duplicate"
            )
        yield finding_for(
            last,
            status="fail",
            reason=f"{why}; Stripe stops retrying after a 2xx, so the event is lost: record an "
            "event as processed only once its work succeeded (or release it when the work fails)",
            expected=work(event),
            actual="none",
        )
    elif expected and done > expected:
        yield finding_for(
            last,
            status="fail",
            reason=f"across {len(attempts)} attempts ({answers}) the work was done {done} times "
            f"(without faults: {expected}); a retry must not repeat what a failed attempt "
            "already did: deduplicate on event.id and use idempotency keys "
            f"({run.sdk().spelling.idempotency})",
            expected=f"{expected} successful mutating call(s)",
            actual=f"{done}",
        )
    else:
        yield Finding(
            check=CHECK,
            status="pass",
            reason=f"attempts got {answers} ({FAULT} on its Stripe calls during the first "
            f"{FAILING_ATTEMPTS}); Stripe's retry was accepted and "
            + ("the work done exactly once. " if expected else "its read succeeded. ")
            + f"Had it kept failing, {KEEPS_FAILING}",
            event_type=EVENT_TYPE,
            variant=last.variant,
        )
