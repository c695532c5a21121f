"""Checks on signature verification: forgeries refused, rotated secrets accepted, the raw body
verified, invalid JSON refused."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from connect_harness.checks.acceptance import acceptance_finding
from connect_harness.checks.common import (
    INVALID_JSON_BODIES,
    REJECTION_VARIANTS,
    SECRET_PLACEHOLDER,
    finding_for,
    is_2xx,
    short,
)
from connect_harness.checks.findings import (
    Finding,
)
from connect_harness.events.build import raw_body_variants as _raw_body_variants
from connect_harness.wire.request import DeliveryRequest
from connect_harness.wire.signing import parse_signature_header
from connect_harness.wire.variants import bad_variants, rotated_variants

if TYPE_CHECKING:
    from connect_harness.checks.interface import CheckRun
    from connect_harness.checks.records import DeliveryRecord


def _judge_rejection(record: DeliveryRecord, description: str) -> Finding:
    status = record.response.status
    expected = "400 (any 4xx passes)"
    if status == 400:
        return finding_for(
            record, status="pass", reason=f"rejected {description} with 400", expected=expected
        )
    if 400 <= status < 500:
        return finding_for(
            record,
            status="pass",
            reason=f"rejected {description} with {status}, not the usual 400; any 4xx tells Stripe "
            "the delivery failed, so this passes",
            expected=expected,
        )
    if is_2xx(status):
        why = f"accepted {description}: {_ACCEPTED_CONSEQUENCE.get(record.variant or '', _FORGERY)}"
    elif 300 <= status < 400:
        why = f"redirected {description} instead of rejecting it with 400"
    elif status >= 500:
        why = (
            f"answered {description} with a server error; a request that fails verification "
            "should get 400 (a 5xx looks like an outage and hides the real problem)"
        )
    else:
        why = f"gave no answer to {description}; it should be rejected with 400"
    return finding_for(record, status="fail", reason=why, expected=expected)


def rejection_check(check: str) -> Callable[[CheckRun], Iterator[Finding]]:
    wants = REJECTION_VARIANTS[check]

    def run_check(run: CheckRun) -> Iterator[Finding]:
        seed = run.seed(check)
        event = run.representative_event(check)
        now = int(time.time())
        variants = [
            v
            for v in bad_variants(
                event.body,
                secret=run.config.secret,
                timestamp=now,
                livemode=event.livemode,
                url=run.url,
                now=now,
            )
            if wants(v.name)
        ]
        if not variants:
            yield Finding(
                check=check,
                status="skip",
                reason="connect_harness.wire.variants offered no request for this check",
                event_type=event.type,
                permutation=event.permutation,
            )
            return
        for variant in variants:
            parsed_t = _signature_timestamp(variant.request)
            reproduce = run.reproduce_event(
                event,
                seed=seed,
                timestamp=parsed_t if variant.name.startswith("stale") else None,
                secrets=(_OTHER_SECRET,)
                if variant.name == "wrong-secret"
                else (SECRET_PLACEHOLDER,),
                note=_variant_note(variant.name, variant.description),
            )
            record = run.send(
                check, variant.request, event=event, variant=variant.name, reproduce=reproduce
            )
            yield _judge_rejection(record, _variant_phrase(variant.name, variant.description))

    run_check.__name__ = f"check_{check.replace('-', '_')}"
    return run_check


_FORGERY = "the endpoint acts on requests Stripe did not sign, so anyone who knows its URL can forge events"


_ACCEPTED_CONSEQUENCE = {
    "stale-timestamp": "a captured delivery can be replayed at any time later (is the tolerance "
    "set to 0 or None?)",
    "v0-only": "a downgrade: only v1 signatures come from Stripe, so v0 must be ignored",
    "truncated-json": "a body that is not an event was acted on; parse after verifying and "
    "answer 400 when parsing fails",
    "not-json": "a body that is not an event was acted on; parse after verifying and answer 400 "
    "when parsing fails",
}


#: Made-up secrets the reproductions use where another secret is the point.
_OTHER_SECRET = "whsec_not_this_endpoints_secret"


_ROTATED_OUT_SECRET = "whsec_rotated_out_old_secret"


# How findings name each bad variant, and what to change in the reproduced delivery (None: the command
# itself is exact).
_VARIANT_WORDS: dict[str, tuple[str, str | None]] = {
    "missing-signature": (
        "a request without a Stripe-Signature header",
        "drop the Stripe-Signature header",
    ),
    "malformed-garbage": (
        "a Stripe-Signature of 'garbage'",
        "send 'Stripe-Signature: garbage' instead",
    ),
    "malformed-no-timestamp": (
        "a Stripe-Signature without its t= item",
        "delete the t=... item from Stripe-Signature",
    ),
    "malformed-non-numeric-timestamp": (
        "a Stripe-Signature whose t= is not a number",
        "replace t=<digits> with t=not-a-timestamp in Stripe-Signature",
    ),
    "wrong-secret": ("an event signed with a secret that is not the endpoint's", None),
    "tampered-body": (
        "a body changed after it was signed",
        "change one character of the body and keep the header",
    ),
    "stale-timestamp": ("a signature older than the 300 s tolerance", None),
    "v0-only": (
        "a Stripe-Signature with only a v0 signature (made with the right secret)",
        "replace Stripe-Signature with t=<t>,v0=<the v1 value>",
    ),
}


def _variant_phrase(name: str, description: str) -> str:
    words = _VARIANT_WORDS.get(name)
    return words[0] if words else f"the {name} request ({short(description, 100)})"


def _variant_note(name: str, description: str) -> str | None:
    words = _VARIANT_WORDS.get(name)
    return words[1] if words else short(description, 100)


def _signature_timestamp(request: DeliveryRequest) -> int | None:
    return parse_signature_header(request.header("Stripe-Signature")).timestamp


def check_accepts_rotated_secret(run: CheckRun) -> Iterator[Finding]:
    check = "accepts-rotated-secret"
    seed = run.seed(check)
    event = run.representative_event(check)
    now = int(time.time())
    variants = rotated_variants(
        event.body, secret=run.config.secret, timestamp=now, livemode=event.livemode, url=run.url
    )
    for variant in variants:
        order = (
            (SECRET_PLACEHOLDER, _ROTATED_OUT_SECRET)
            if variant.name == "rotated-new-first"
            else (_ROTATED_OUT_SECRET, SECRET_PLACEHOLDER)
        )
        reproduce = run.reproduce_event(event, seed=seed, secrets=order)
        record = run.send(
            check, variant.request, event=event, variant=variant.name, reproduce=reproduce
        )
        yield acceptance_finding(
            record,
            f"an event signed during a secret rotation ({variant.name})",
            passed=f"accepted {variant.name}",
            advice="during a rotation Stripe sends one v1 per active secret and any one that "
            f"matches must be accepted; {_verify_spelling(run)} (it tries every v1)",
        )


def _verify_spelling(run: CheckRun) -> str:
    """How the endpoint's Stripe library verifies (the HTTP recipe when no library was seen)."""
    sdk = run.sdk()
    if sdk.key is None:
        return f"compute {sdk.spelling.verify}"
    return f"with {sdk.label}, {sdk.spelling.verify}"


def check_verifies_raw_body(run: CheckRun) -> Iterator[Finding]:
    check = "verifies-raw-body"
    seed = run.seed(check)
    base = run.representative_event(check)
    for name, body in _raw_body_variants(base):
        record = run.send(
            check,
            run.signed(body, livemode=base.livemode),
            event=base,
            variant=name,
            reproduce=run.reproduce_raw_body(base, name, seed=seed),
        )
        yield acceptance_finding(
            record,
            f"a correctly signed event body with {name.replace('-', ' ')}",
            passed=f"accepted the {name} body",
            advice="verify the signature over the raw request bytes, before any JSON parsing "
            f"(a re-serialized body no longer matches): {_verify_spelling(run)}",
        )


def check_rejects_invalid_json(run: CheckRun) -> Iterator[Finding]:
    check = "rejects-invalid-json"
    livemode = run.representative()[1]
    for name, body in INVALID_JSON_BODIES:
        record = run.send(
            check,
            run.signed(body, livemode=livemode),
            event_type=None,
            variant=name,
            reproduce=run.reproduce_body(body, livemode=livemode),
        )
        yield _judge_rejection(record, f"a correctly signed body that is not JSON ({body!r})")
