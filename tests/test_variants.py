"""connect_harness.wire.variants: each bad delivery is refused by stripe-python for the stated reason."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import stripe

from connect_harness.errors import UsageError
from connect_harness.wire.request import delivery_request
from connect_harness.wire.signing import compute_signature, parse_signature_header
from connect_harness.wire.variants import (
    FUTURE_OFFSET,
    STALE_AGE,
    Variant,
    bad_variants,
    rotated_variants,
)

SECRET = "whsec_test_secret"
NAMES = (
    "missing-signature",
    "malformed-garbage",
    "malformed-no-timestamp",
    "malformed-non-numeric-timestamp",
    "wrong-secret",
    "tampered-body",
    "stale-timestamp",
    "future-timestamp",
    "v0-only",
    "duplicated-timestamp",
)
# What stripe-python 16.1.0 says when it refuses each variant (observed, not assumed).
PYTHON_REFUSAL = {
    "missing-signature": "No Stripe-Signature header value was provided",
    "malformed-garbage": "Unable to extract timestamp and signatures from header",
    "malformed-no-timestamp": "Unable to extract timestamp and signatures from header",
    "malformed-non-numeric-timestamp": "Unable to extract timestamp and signatures from header",
    "wrong-secret": "No signatures found matching the expected signature for payload",
    "tampered-body": "No signatures found matching the expected signature for payload",
    "stale-timestamp": "Timestamp outside the tolerance zone",
    "v0-only": "No signatures found with expected scheme v1",
    # First t wins: the stale t is used, and the v1 was made for the other t.
    "duplicated-timestamp": "No signatures found matching the expected signature for payload",
}


def event_body(livemode: bool) -> bytes:
    data = {
        "id": "evt_1",
        "object": "event",
        "api_version": "2023-08-16",
        "created": 1700000000,
        "data": {"object": {"id": "cus_1", "object": "customer", "name": "Zoë"}},
        "livemode": livemode,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "customer.created",
        "account": "acct_1",
    }
    return json.dumps(data, indent=2).encode()


def variants_by_name(livemode: bool, now: int | None = None) -> dict[str, Variant]:
    now = int(time.time()) if now is None else now
    body = event_body(livemode)
    made = bad_variants(body, secret=SECRET, timestamp=now, livemode=livemode)
    made += rotated_variants(body, secret=SECRET, timestamp=now, livemode=livemode)
    return {variant.name: variant for variant in made}


def stripe_python(variant: Variant, *, tolerance: int = 300) -> str | None:
    """None if construct_event accepts, else the exception's type and message."""
    request = variant.request
    try:
        stripe.Webhook.construct_event(
            request.body, request.header("Stripe-Signature"), SECRET, tolerance=tolerance
        )
    except Exception as err:
        return f"{type(err).__name__}: {err}"
    return None


def test_names_and_order() -> None:
    variants = bad_variants(event_body(True), secret=SECRET, timestamp=1700000000, livemode=True)
    assert tuple(v.name for v in variants) == NAMES
    rotated = rotated_variants(event_body(True), secret=SECRET, timestamp=1700000000, livemode=True)
    assert tuple(v.name for v in rotated) == ("rotated-new-first", "rotated-old-first")
    for variant in (*variants, *rotated):
        assert variant.description.endswith("."), variant.name
        assert SECRET not in variant.description


def test_variants_are_a_pure_function_of_their_inputs() -> None:
    assert variants_by_name(False, now=1700000000) == variants_by_name(False, now=1700000000)


@pytest.mark.parametrize("livemode", [True, False], ids=["live", "test"])
@pytest.mark.parametrize("name", [*NAMES, "rotated-new-first", "rotated-old-first"])
def test_stripe_python_does_what_the_variant_says(livemode: bool, name: str) -> None:
    variant = variants_by_name(livemode)[name]
    verdict = stripe_python(variant)
    if variant.stripe_python_accepts:
        assert verdict is None
    else:
        assert verdict is not None
        assert verdict.startswith("SignatureVerificationError: ")
        assert PYTHON_REFUSAL[name] in verdict


def test_only_the_future_and_rotated_variants_are_accepted() -> None:
    accepted = {name for name, v in variants_by_name(True).items() if v.stripe_python_accepts}
    assert accepted == {"future-timestamp", "rotated-new-first", "rotated-old-first"}


def test_every_variant_keeps_the_rest_of_the_delivery() -> None:
    variants = variants_by_name(False)
    reference = variants["rotated-new-first"].request
    for name, variant in variants.items():
        request = variant.request
        assert (request.method, request.url) == (reference.method, reference.url)
        others = [(k, v) for k, v in request.headers if k != "Stripe-Signature"]
        assert others == [(k, v) for k, v in reference.headers if k != "Stripe-Signature"], name
        if name != "tampered-body":
            assert request.body == reference.body


def test_tampered_body_is_one_byte_off_valid_json_of_the_same_shape() -> None:
    now = int(time.time())
    original = event_body(True)
    variants = variants_by_name(True, now=now)
    tampered = variants["tampered-body"].request
    assert len(tampered.body) == len(original)
    assert sum(a != b for a, b in zip(tampered.body, original, strict=True)) == 1
    before, after = json.loads(original), json.loads(tampered.body)
    assert after["created"] != before["created"]
    assert after | {"created": before["created"]} == before
    untouched = delivery_request(original, secrets=SECRET, timestamp=now, livemode=True)
    assert tampered.header("Stripe-Signature") == untouched.header("Stripe-Signature")
    assert "the last digit of 'created'" in variants["tampered-body"].description


@pytest.mark.parametrize(
    ("body", "changed"),
    [
        (b'{"amount": 1999, "id": "x"}', b'{"amount": 1990, "id": "x"}'),
        (b'{"a": [19]}', b'{"a": [10]}'),
        (b'{"name": "abc"}', b'{"name": "abC"}'),
        (b"[]", b"[] "),
        (b"", b" "),
    ],
)
def test_tampering_without_created_still_changes_one_value(body: bytes, changed: bytes) -> None:
    [tampered] = [
        v
        for v in bad_variants(body, secret=SECRET, timestamp=1700000000, livemode=True)
        if v.name == "tampered-body"
    ]
    assert tampered.request.body == changed


def test_timestamps_are_relative_to_the_given_timestamp_and_correctly_signed() -> None:
    now = int(time.time())
    variants = variants_by_name(False, now=now)
    stale = parse_signature_header(variants["stale-timestamp"].request.header("Stripe-Signature"))
    future = parse_signature_header(variants["future-timestamp"].request.header("Stripe-Signature"))
    assert STALE_AGE == 361
    assert stale.timestamp == now - STALE_AGE
    assert future.timestamp == now + FUTURE_OFFSET == now + 3600
    # With the tolerance off, stripe-python accepts the stale one: only its age is wrong.
    assert stripe_python(variants["stale-timestamp"], tolerance=0) is None


def test_v0_only_carries_the_right_secrets_v0_and_nothing_else() -> None:
    now = int(time.time())
    header = variants_by_name(True, now=now)["v0-only"].request.header("Stripe-Signature")
    assert (
        header == f"t={now},v0={compute_signature(event_body(True), secret=SECRET, timestamp=now)}"
    )


@pytest.mark.parametrize("livemode", [True, False], ids=["live", "test"])
def test_duplicated_timestamp_puts_the_stale_t_first(livemode: bool) -> None:
    now = int(time.time())
    variants = variants_by_name(livemode, now=now)
    header = variants["duplicated-timestamp"].request.header("Stripe-Signature") or ""
    good = variants["rotated-new-first"].request
    own_v1 = parse_signature_header(good.header("Stripe-Signature")).v1[0]
    parsed = parse_signature_header(header)
    assert parsed.timestamps == (str(now - STALE_AGE), str(now))
    assert parsed.v1 == (own_v1,)
    assert len(parsed.v0) == (0 if livemode else 1)
    assert header.startswith(f"t={now - STALE_AGE},t={now},v1={own_v1}")


@pytest.mark.parametrize("livemode", [True, False], ids=["live", "test"])
def test_malformed_headers_keep_the_real_signatures(livemode: bool) -> None:
    now = int(time.time())
    variants = variants_by_name(livemode, now=now)
    real = parse_signature_header(variants["rotated-new-first"].request.header("Stripe-Signature"))
    for name in ("malformed-no-timestamp", "malformed-non-numeric-timestamp"):
        parsed = parse_signature_header(variants[name].request.header("Stripe-Signature"))
        assert parsed.v1 == real.v1[:1]
        assert parsed.v0 == real.v0
    assert variants["malformed-garbage"].request.header("Stripe-Signature") == "garbage"
    assert variants["missing-signature"].request.header("Stripe-Signature") is None


def test_rotation_carries_an_unknown_secrets_v1_in_both_orders() -> None:
    now = int(time.time())
    variants = variants_by_name(True, now=now)
    own = compute_signature(event_body(True), secret=SECRET, timestamp=now)
    new_first = parse_signature_header(
        variants["rotated-new-first"].request.header("Stripe-Signature")
    )
    old_first = parse_signature_header(
        variants["rotated-old-first"].request.header("Stripe-Signature")
    )
    assert new_first.v1[0] == own == old_first.v1[1]
    assert new_first.v1[1] == old_first.v1[0] != own


def test_a_secret_equal_to_our_made_up_ones_still_gives_distinct_secrets() -> None:
    for secret in (
        "whsec_connect_harness_wrong_secret",
        "whsec_connect_harness_rotated_out_secret",
    ):
        body = event_body(True)
        now = 1700000000
        by_name = {
            v.name: v
            for v in bad_variants(body, secret=secret, timestamp=now, livemode=True)
            + rotated_variants(body, secret=secret, timestamp=now, livemode=True)
        }
        own = compute_signature(body, secret=secret, timestamp=now)
        assert parse_signature_header(
            by_name["wrong-secret"].request.header("Stripe-Signature")
        ).v1 != (own,)
        rotated = parse_signature_header(
            by_name["rotated-new-first"].request.header("Stripe-Signature")
        )
        assert rotated.v1[0] != rotated.v1[1]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: bad_variants(b"{}", secret=SECRET, timestamp=100, livemode=True),
            "the timestamp 100 is too small to sign a stale variant 361 s earlier",
        ),
        (
            lambda: bad_variants(b"{}", secret=[SECRET], timestamp=1700000000, livemode=True),
            "the secret is a list, but variants are built for one endpoint secret",
        ),
        (
            lambda: rotated_variants(b"{}", secret="", timestamp=1700000000, livemode=True),
            "the signing secret is empty",
        ),
        (
            lambda: bad_variants("{}", secret=SECRET, timestamp=1700000000, livemode=True),
            "the body to sign is a str",
        ),
    ],
)
def test_bad_input_is_a_usage_error(call: Any, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        call()


def test_now_moves_only_the_stale_and_future_timestamps() -> None:
    body = event_body(True)
    signed_at, now = 1700000000, 1700000100
    by_name = {
        v.name: v
        for v in bad_variants(body, secret=SECRET, timestamp=signed_at, livemode=True, now=now)
    }
    default = {
        v.name: v for v in bad_variants(body, secret=SECRET, timestamp=signed_at, livemode=True)
    }

    def timestamps(name: str, variants: dict[str, Variant]) -> tuple[str, ...]:
        return parse_signature_header(variants[name].request.header("Stripe-Signature")).timestamps

    assert timestamps("stale-timestamp", by_name) == (str(now - STALE_AGE),)
    assert timestamps("future-timestamp", by_name) == (str(now + FUTURE_OFFSET),)
    assert timestamps("duplicated-timestamp", by_name) == (str(now - STALE_AGE), str(signed_at))
    assert timestamps("wrong-secret", by_name) == (str(signed_at),)
    assert timestamps("stale-timestamp", default) == (str(signed_at - STALE_AGE),)
    unchanged = set(by_name) - {"stale-timestamp", "future-timestamp", "duplicated-timestamp"}
    assert all(by_name[name] == default[name] for name in unchanged)
