"""Deliveries an endpoint must refuse (and rotations it must accept), built from a good one.

Each :class:`Variant` is one named, deterministic change to the request Stripe would send: a missing
or malformed ``Stripe-Signature``, the wrong secret, a tampered body, a stale timestamp, a ``v0``
downgrade, and two SDK disagreements. ``stripe_python_accepts`` records what stripe-python 16.1.0
does with it (proven in the tests), so a check can tell "the endpoint is stricter than Stripe's SDK"
from "the endpoint accepted a forgery".

Timestamps are relative to the ``timestamp`` (or ``now``) argument, which the caller sets to the
current unix time: these functions never read the clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from connect_harness import arguments
from connect_harness.errors import UsageError
from connect_harness.wire.request import (
    DEFAULT_URL,
    SIGNATURE_HEADER,
    DeliveryRequest,
    delivery_request,
)
from connect_harness.wire.signing import _check_secret, compute_signature

__all__ = [
    "FUTURE_OFFSET",
    "STALE_AGE",
    "STALE_MARGIN",
    "Variant",
    "bad_variants",
    "rotated_variants",
]

TOLERANCE = 300
"""Stripe's default tolerance in seconds (both SDKs): older signatures are refused."""

STALE_MARGIN = 60
"""Extra seconds of age on the stale variant, so clock skew between us and the endpoint (or a
slow delivery) cannot make it look fresh."""

STALE_AGE = TOLERANCE + 1 + STALE_MARGIN
"""How many seconds before ``now`` (default ``timestamp``) the stale variants are signed."""

FUTURE_OFFSET = 3600
"""How many seconds after ``now`` (default ``timestamp``) the future variant is signed."""

_WRONG_SECRET = "whsec_connect_harness_wrong_secret"
_ROTATED_OUT_SECRET = "whsec_connect_harness_rotated_out_secret"


@dataclass(frozen=True)
class Variant:
    """One named delivery and whether stripe-python 16.1.0 ``construct_event`` accepts it."""

    name: str
    description: str
    request: DeliveryRequest
    stripe_python_accepts: bool


def bad_variants(
    body: bytes,
    *,
    secret: str,
    timestamp: int,
    livemode: bool,
    url: str = DEFAULT_URL,
    now: int | None = None,
) -> tuple[Variant, ...]:
    """The deliveries a correct endpoint refuses, plus ``future-timestamp``, which the SDKs accept.

    ``secret`` is the endpoint's signing secret and ``timestamp`` the signing time of the
    well-timed parts, normally the current unix time. ``now`` (default: ``timestamp``) is what the
    stale and future timestamps are measured from. Names, in order: missing-signature,
    malformed-garbage, malformed-no-timestamp, malformed-non-numeric-timestamp, wrong-secret,
    tampered-body, stale-timestamp, future-timestamp, v0-only, duplicated-timestamp.
    """
    _check_secret_is_one(secret)
    arguments.whole_number("now", now, optional=True)
    now = timestamp if now is None else now
    if isinstance(now, int) and not isinstance(now, bool) and now < STALE_AGE:
        raise UsageError(
            f"the timestamp {now} is too small to sign a stale variant {STALE_AGE} s "
            "earlier; pass the current unix time, e.g. int(time.time())."
        )

    def signed(at: int, secrets: str | list[str] = secret) -> DeliveryRequest:
        return delivery_request(body, secrets=secrets, timestamp=at, livemode=livemode, url=url)

    good = signed(timestamp)
    header = good.header(SIGNATURE_HEADER) or ""
    signatures = header.split(",", 1)[1]  # everything after "t=<timestamp>,"
    stale = now - STALE_AGE
    tampered_body, what_changed = _tamper(body)
    right_v0 = compute_signature(body, secret=secret, timestamp=timestamp)

    def variant(name: str, description: str, request: DeliveryRequest, accepts: bool) -> Variant:
        return Variant(name, description, request, accepts)

    return (
        variant(
            "missing-signature",
            "No Stripe-Signature header at all: anyone can POST this; the endpoint must answer "
            "400 and not act on the event.",
            good.without_header(SIGNATURE_HEADER),
            False,
        ),
        variant(
            "malformed-garbage",
            "Stripe-Signature is 'garbage', with no t= and no v1=: the endpoint must answer 400.",
            good.with_header(SIGNATURE_HEADER, "garbage"),
            False,
        ),
        variant(
            "malformed-no-timestamp",
            "the right signatures but no t= item: without the signed timestamp nothing can be "
            "verified, so the endpoint must answer 400.",
            good.with_header(SIGNATURE_HEADER, signatures),
            False,
        ),
        variant(
            "malformed-non-numeric-timestamp",
            "t=not-a-timestamp followed by the right signatures: the endpoint must answer 400.",
            good.with_header(SIGNATURE_HEADER, f"t=not-a-timestamp,{signatures}"),
            False,
        ),
        variant(
            "wrong-secret",
            "signed correctly but with a secret that is not the endpoint's (what a delivery meant "
            "for another endpoint, or another mode, looks like): the endpoint must answer 400.",
            signed(timestamp, _other_than(secret, _WRONG_SECRET)),
            False,
        ),
        variant(
            "tampered-body",
            f"the body was changed after signing ({what_changed}) and the original signature "
            "kept: an endpoint that verifies the raw bytes answers 400.",
            good.replace(body=tampered_body),
            False,
        ),
        variant(
            "stale-timestamp",
            f"signed correctly, but {STALE_AGE} s ago, beyond the {TOLERANCE} s tolerance: a "
            "replayed delivery; the endpoint must answer 400 (it has tolerance off if it accepts).",
            signed(stale),
            False,
        ),
        variant(
            "future-timestamp",
            f"signed correctly {FUTURE_OFFSET} s in the future: both Stripe SDKs accept this "
            "(they only refuse old timestamps), so accepting it is normal.",
            signed(now + FUTURE_OFFSET),
            True,
        ),
        variant(
            "v0-only",
            "only a v0 signature (made with the right secret) and no v1: Stripe only vouches for "
            "v1, so accepting this is a downgrade; the endpoint must answer 400.",
            good.with_header(SIGNATURE_HEADER, f"t={timestamp},v0={right_v0}"),
            False,
        ),
        variant(
            "duplicated-timestamp",
            f"t={stale} (stale), then t={timestamp} and the v1 for t={timestamp}: stripe-python "
            "reads the first t, finds no matching signature and refuses; stripe-node reads the "
            "last t and accepts. A careful endpoint answers 400.",
            good.with_header(SIGNATURE_HEADER, f"t={stale},{header}"),
            False,
        ),
    )


def rotated_variants(
    body: bytes,
    *,
    secret: str,
    timestamp: int,
    livemode: bool,
    url: str = DEFAULT_URL,
) -> tuple[Variant, ...]:
    """Deliveries made during a secret rotation, which the endpoint must accept.

    Stripe sends one ``v1`` per active secret; the endpoint knows only ``secret``, the other comes
    from a secret it has never seen. ``rotated-new-first`` puts the endpoint's ``v1`` first,
    ``rotated-old-first`` second.
    """
    _check_secret_is_one(secret)
    other = _other_than(secret, _ROTATED_OUT_SECRET)

    def signed(secrets: list[str]) -> DeliveryRequest:
        return delivery_request(
            body, secrets=secrets, timestamp=timestamp, livemode=livemode, url=url
        )

    return (
        Variant(
            "rotated-new-first",
            "two v1 signatures, the endpoint's first and one from a secret it does not know "
            "second (a secret rotation): the endpoint must accept it.",
            signed([secret, other]),
            True,
        ),
        Variant(
            "rotated-old-first",
            "two v1 signatures, one from a secret the endpoint does not know first and the "
            "endpoint's second (a secret rotation): the endpoint must accept it.",
            signed([other, secret]),
            True,
        ),
    )


def _check_secret_is_one(secret: object) -> None:
    if not isinstance(secret, str):
        raise UsageError(
            f"the secret is a {type(secret).__name__}, but variants are built for one endpoint "
            "secret; pass it as a str (it starts with 'whsec_')."
        )
    _check_secret(secret, "the signing secret")


def _other_than(secret: str, candidate: str) -> str:
    return candidate if candidate != secret else candidate + "_other"


_CREATED = re.compile(rb'"created"\s*:\s*-?[0-9]+')
_DIGITS = re.compile(rb"[0-9]+")
_LETTER = re.compile(rb"[A-Za-z]")


def _tamper(body: bytes) -> tuple[bytes, str]:
    """Change one byte so the body is still JSON of the same shape, if it was JSON at all.

    Preferred: the last digit of ``created``. Else the last digit of the last run of digits
    (changing a final digit never makes a number, string or ``\\u`` escape invalid). Else the case
    of the last ASCII letter. Else (no letter, no digit) one space is appended.
    """
    created = _CREATED.search(body)
    if created:
        return _next_digit(body, created.end() - 1), "the last digit of 'created'"
    runs = list(_DIGITS.finditer(body))
    if runs:
        return _next_digit(body, runs[-1].end() - 1), f"the digit at byte {runs[-1].end() - 1}"
    letters = list(_LETTER.finditer(body))
    if letters:
        index = letters[-1].start()
        swapped = body[index : index + 1].swapcase()
        return body[:index] + swapped + body[index + 1 :], f"the case of the letter at byte {index}"
    return body + b" ", "a space appended"


def _next_digit(body: bytes, index: int) -> bytes:
    digit = body[index] - ord("0")
    return body[:index] + bytes([ord("0") + (digit + 1) % 10]) + body[index + 1 :]
