"""connect_harness.wire.signing: Stripe's signature scheme, checked against stripe-python 16.1.0."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import stripe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connect_harness.errors import UsageError
from connect_harness.wire.signing import (
    V0_SECRET,
    ParsedSignature,
    compute_signature,
    parse_signature_header,
    secret_warning,
    sign_payload,
)

SECRET = "whsec_test_secret"
BODY = json.dumps({"id": "evt_1", "object": "event", "created": 1700000000}, indent=2).encode()

# Deterministic and quick: the same examples on every run, nothing stored between runs.
PROPERTY = settings(
    derandomize=True,
    database=None,
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def python_rejection(body: bytes, header: str | None, secret: str) -> str | None:
    """None if stripe-python's verify_header accepts, else the error (any exception counts)."""
    try:
        stripe.WebhookSignature.verify_header(body, header, secret, tolerance=300)
    except Exception as err:
        return f"{type(err).__name__}: {err}"
    return None


# --- compute_signature / sign_payload -------------------------------------------------------------


def test_known_answer() -> None:
    # Cross-checked with: printf '%s' '1700000000.{"id": "evt_1"}' | openssl dgst -sha256 -hmac ...
    assert (
        compute_signature(b'{"id": "evt_1"}', secret=SECRET, timestamp=1700000000)
        == "33aa1568c6627d0d2d42556693c208077ca8f8b437ac8d9d6ebb6c2c650033eb"
    )


def test_single_secret_matches_stripe_pythons_own_test_header() -> None:
    expected = stripe.WebhookSignature.generate_signature_header(
        BODY.decode(), SECRET, timestamp=1700000000
    )
    assert sign_payload(BODY, SECRET, timestamp=1700000000) == expected


def test_one_v1_per_secret_in_order_then_v0() -> None:
    header = sign_payload(BODY, ["whsec_new", "whsec_old"], timestamp=1700000000, v0=True)
    sig = {
        s: compute_signature(BODY, secret=s, timestamp=1700000000)
        for s in ("whsec_new", "whsec_old", V0_SECRET)
    }
    assert header == (
        f"t=1700000000,v1={sig['whsec_new']},v1={sig['whsec_old']},v0={sig[V0_SECRET]}"
    )


def test_v0_is_not_made_with_the_endpoint_secret() -> None:
    header = sign_payload(BODY, SECRET, timestamp=1700000000, v0=True)
    v0 = parse_signature_header(header).v0
    assert v0 == (compute_signature(BODY, secret=V0_SECRET, timestamp=1700000000),)
    assert compute_signature(BODY, secret=SECRET, timestamp=1700000000) not in v0
    assert V0_SECRET != SECRET


def test_the_whole_secret_is_the_key_prefix_included() -> None:
    with_prefix = compute_signature(BODY, secret="whsec_abc", timestamp=1)
    assert with_prefix != compute_signature(BODY, secret="abc", timestamp=1)


def test_bytearray_body_is_signed_like_bytes() -> None:
    assert compute_signature(bytearray(BODY), secret=SECRET, timestamp=5) == compute_signature(
        BODY, secret=SECRET, timestamp=5
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: sign_payload(BODY, [], timestamp=1), "no signing secret was given"),
        (lambda: sign_payload(BODY, "", timestamp=1), "the signing secret is empty"),
        (lambda: sign_payload(BODY, " \n", timestamp=1), "the signing secret is empty"),
        (lambda: sign_payload(BODY, ["whsec_a", ""], timestamp=1), "signing secret #2 is empty"),
        (
            lambda: sign_payload(BODY, ["whsec_a", b"x"], timestamp=1),
            "signing secret #2 is a bytes",
        ),
        (lambda: sign_payload(BODY, SECRET, timestamp=-1), "the timestamp -1 is negative"),
        (lambda: sign_payload(BODY, SECRET, timestamp=1.5), "the timestamp 1.5 is not an integer"),
        (
            lambda: sign_payload(BODY, SECRET, timestamp=True),
            "the timestamp True is not an integer",
        ),
        (lambda: sign_payload(BODY.decode(), SECRET, timestamp=1), "the body to sign is a str"),
        (lambda: sign_payload({"id": 1}, SECRET, timestamp=1), "the body to sign is a dict"),
        (lambda: compute_signature(BODY, secret="", timestamp=1), "the signing secret is empty"),
    ],
)
def test_bad_input_is_a_usage_error_that_names_the_fix(call: Any, message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        call()
    text = str(info.value)
    assert text.endswith("."), "errors are full sentences"
    assert any(hint in text for hint in ("whsec_", "int(time.time())", "bytes", "encode"))


# --- secret_warning -------------------------------------------------------------------------------


def test_a_whsec_secret_gets_no_warning() -> None:
    assert secret_warning("whsec_test_secret") is None


@pytest.mark.parametrize("secret", ["sk_test_fake", "rk_live_fake", "pk_test_fake"])
def test_an_api_key_gets_the_api_key_warning(secret: str) -> None:
    warning = secret_warning(secret)
    assert warning is not None
    assert "that is an API key, not a webhook signing secret" in warning
    assert secret not in warning, "never print a secret"


def test_other_prefixes_are_allowed_with_a_warning() -> None:
    warning = secret_warning("my_secret_value")
    assert warning is not None
    assert "does not start with 'whsec_'" in warning
    assert "my_secret_value" not in warning
    assert sign_payload(BODY, "my_secret_value", timestamp=1).startswith("t=1,v1=")


def test_whitespace_around_a_secret_is_warned_about() -> None:
    warning = secret_warning("whsec_test_secret\n")
    assert warning is not None
    assert "whitespace" in warning


# --- parse_signature_header -----------------------------------------------------------------------


def test_parse_a_well_formed_header() -> None:
    header = sign_payload(BODY, ["whsec_a", "whsec_b"], timestamp=1700000000, v0=True)
    parsed = parse_signature_header(header)
    assert parsed.timestamp == 1700000000
    assert len(parsed.v1) == 2
    assert len(parsed.v0) == 1
    assert parsed.unknown == ()
    assert parsed.problems == ()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "missing or empty"),
        ("", "missing or empty"),
        ("garbage", "there is no t= timestamp"),
        (
            "t=1,t=2,v1=" + "a" * 64,
            "2 t= items; stripe-python reads the first, stripe-node the last",
        ),
        ("t=1.0,v1=" + "a" * 64, "the timestamp '1.0' is not a whole number of seconds"),
        ("t=1,v0=" + "a" * 64, "no v1 signature, only v0"),
        ("t=1", "there is no v1 signature"),
        ("t=1,v1=" + "A" * 64, "v1 signature #1 is not 64 lowercase hex digits"),
        ("t=1, v1=" + "a" * 64, "whitespace"),
        ("t=1,v1=" + "a" * 64 + ",x", "unrecognised item 'x'"),
    ],
)
def test_parse_reports_each_problem(value: str | None, problem: str) -> None:
    parsed = parse_signature_header(value)
    assert any(problem in p for p in parsed.problems), parsed.problems


def test_parse_keeps_values_as_sent_and_only_trusts_a_single_decimal_timestamp() -> None:
    parsed = parse_signature_header("t=5,t=6,v1=x=y,v2=z,junk")
    assert parsed == ParsedSignature(
        raw="t=5,t=6,v1=x=y,v2=z,junk",
        timestamps=("5", "6"),
        v1=("x=y",),
        v0=(),
        unknown=("v2=z", "junk"),
        problems=parsed.problems,
    )
    assert parsed.timestamp is None
    assert parse_signature_header("t=abc,v1=x").timestamp is None


# --- stripe-python accepts what we sign, and only that --------------------------------------------

secrets_strategy = st.lists(
    st.text(max_size=24).map(lambda s: "whsec_" + s), min_size=1, max_size=3, unique=True
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
json_bodies = st.builds(
    lambda data, ascii_only: json.dumps(
        {"id": "evt_1", "object": "event", "data": data}, indent=2, ensure_ascii=ascii_only
    ).encode(),
    json_values,
    st.booleans(),
)
text_bodies = st.text(min_size=1, max_size=200).map(lambda s: s.encode("utf-8"))
ages = st.integers(min_value=-250, max_value=250)


@PROPERTY
@given(body=json_bodies, secrets=secrets_strategy, age=ages, v0=st.booleans())
def test_stripe_python_constructs_every_event_we_sign(
    body: bytes, secrets: list[str], age: int, v0: bool
) -> None:
    header = sign_payload(body, secrets, timestamp=int(time.time()) - age, v0=v0)
    for secret in secrets:
        event = stripe.Webhook.construct_event(body, header, secret, tolerance=300)
        assert event.id == "evt_1"


@PROPERTY
@given(body=text_bodies, secrets=secrets_strategy, age=ages)
def test_stripe_python_verifies_any_utf8_body_we_sign(
    body: bytes, secrets: list[str], age: int
) -> None:
    header = sign_payload(body, secrets, timestamp=int(time.time()) - age, v0=True)
    for secret in secrets:
        assert python_rejection(body, header, secret) is None


@PROPERTY
@given(body=json_bodies | text_bodies, secrets=secrets_strategy, data=st.data())
def test_flipping_any_body_byte_is_rejected(
    body: bytes, secrets: list[str], data: st.DataObject
) -> None:
    header = sign_payload(body, secrets, timestamp=int(time.time()))
    index = data.draw(st.integers(0, len(body) - 1), label="index")
    mask = data.draw(st.integers(1, 255), label="xor mask")
    tampered = bytearray(body)
    tampered[index] ^= mask
    for secret in secrets:
        # A flip can break the UTF-8 (stripe-python then raises UnicodeDecodeError): still a no.
        assert python_rejection(bytes(tampered), header, secret) is not None


@PROPERTY
@given(body=json_bodies, secrets=secrets_strategy, data=st.data())
def test_flipping_any_v1_character_rejects_only_that_secret(
    body: bytes, secrets: list[str], data: st.DataObject
) -> None:
    header = sign_payload(body, secrets, timestamp=int(time.time()))
    items = header.split(",")
    which = data.draw(st.integers(0, len(secrets) - 1), label="which v1")
    position = data.draw(st.integers(0, 63), label="position")
    signature = items[1 + which].removeprefix("v1=")
    replacement = data.draw(
        st.sampled_from("0123456789abcdefABCDEF").filter(lambda c: c != signature[position])
    )
    items[1 + which] = "v1=" + signature[:position] + replacement + signature[position + 1 :]
    flipped = ",".join(items)
    for number, secret in enumerate(secrets):
        rejection = python_rejection(body, flipped, secret)
        if number == which:
            assert rejection is not None
            assert "No signatures found matching the expected signature" in rejection
        else:
            assert rejection is None
