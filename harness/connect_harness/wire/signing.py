"""Stripe's webhook signature scheme, computed exactly as Stripe computes it.

A delivery carries ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...][,v0=<hex>]``. Each ``v1`` is
the lowercase hex HMAC-SHA256 of ``b"<t>." + <raw body bytes>``, keyed with the *whole* endpoint
secret (``whsec_`` included) as UTF-8. During a secret rotation Stripe sends one ``v1`` per active
secret. Test-mode deliveries also carry a ``v0`` made with a fake secret, which no SDK accepts.

Everything here is a pure function of its arguments: no clock, no randomness. Callers pass the
timestamp (usually ``int(time.time())``, read at the edge that delivers).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

from connect_harness import arguments
from connect_harness.errors import UsageError

__all__ = [
    "V0_SECRET",
    "ParsedSignature",
    "compute_signature",
    "parse_signature_header",
    "secret_warning",
    "sign_payload",
]

V0_SECRET = "whsec_connect_harness_fake_v0_test_mode_secret"
"""The key of the ``v0`` signature on test-mode deliveries.

Stripe signs test-mode events a second time under the legacy ``v0`` scheme with a fake secret the
endpoint never sees, so a ``v0`` value never verifies with the endpoint's secret. We copy that on
purpose: were ``v0`` made with the endpoint secret, an endpoint that (wrongly) verifies ``v0``
instead of ``v1`` would pass every harness delivery yet fail on every real Stripe delivery. The
downgrade check (a header with *only* a ``v0`` made with the right secret) lives in
:mod:`connect_harness.wire.variants`.
"""

_HEX_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_DECIMAL = re.compile(r"[0-9]+")
_API_KEY_PREFIXES = ("sk_", "rk_", "pk_")


def compute_signature(body: bytes, *, secret: str, timestamp: int) -> str:
    """Return the ``v1`` signature of ``body`` at ``timestamp``: lowercase hex HMAC-SHA256.

    The key is the whole ``secret`` (``whsec_`` prefix included) encoded as UTF-8; the message is
    ``b"<timestamp>." + body``.
    """
    _check_body(body)
    _check_secret(secret, "the signing secret")
    _check_timestamp(timestamp)
    return _hex(b"%d." % timestamp + bytes(body), secret)


def _hex(message: bytes, secret: str) -> str:
    # hmac.digest: one call into OpenSSL, where hmac.new builds an HMAC object around it.
    return hmac.digest(secret.encode("utf-8"), message, "sha256").hex()


def sign_payload(
    body: bytes, secrets: str | Sequence[str], *, timestamp: int, v0: bool = False
) -> str:
    """Return the ``Stripe-Signature`` header value Stripe would send for ``body``.

    ``t=<timestamp>``, then one ``v1=<hex>`` per secret in the order given (several secrets model a
    rotation), then with ``v0=True`` the test-mode ``v0`` signature made with :data:`V0_SECRET`.
    """
    if not isinstance(secrets, (str, list, tuple)):
        raise UsageError(
            f"secrets must be a string or a list of strings like ['whsec_...'], not {secrets!r:.80}"
        )
    secret_list = [secrets] if isinstance(secrets, str) else list(secrets)
    arguments.boolean("v0", v0)
    if not secret_list:
        raise UsageError(
            "no signing secret was given; pass the endpoint's signing secret (it starts with "
            "'whsec_'), or several of them to model a secret rotation."
        )
    for number, secret in enumerate(secret_list, start=1):
        label = "the signing secret" if len(secret_list) == 1 else f"signing secret #{number}"
        _check_secret(secret, label)
    _check_body(body)
    _check_timestamp(timestamp)
    # Checked once above: the message is built once, not once per signature.
    message = b"%d." % timestamp + bytes(body)
    items = [f"t={timestamp}"]
    items.extend(f"v1={_hex(message, secret)}" for secret in secret_list)
    if v0:
        items.append(f"v0={_hex(message, V0_SECRET)}")
    return ",".join(items)


def secret_warning(secret: str) -> str | None:
    """Return a warning about a secret that is usable but probably not what the user meant.

    ``None`` for a well-formed ``whsec_`` secret. The text names only the secret's prefix, never
    the secret itself, so it is safe to print.
    """
    stripped = secret.strip()
    if stripped.startswith(_API_KEY_PREFIXES):
        return (
            f"the secret starts with '{stripped[:3]}': that is an API key, not a webhook signing "
            "secret; use the endpoint's signing secret (it starts with 'whsec_'; the Dashboard "
            "shows it on the webhook endpoint's page, `stripe listen` prints its own)."
        )
    if stripped != secret:
        return (
            "the secret has leading or trailing whitespace (often a stray newline from a .env file "
            "or a copy-paste); the SDKs use it as given, so signatures only match if the endpoint "
            "has the same whitespace; strip it."
        )
    if not secret.startswith("whsec_"):
        return (
            "the secret does not start with 'whsec_' as webhook signing secrets do; signing with "
            "it anyway, but check that it is the endpoint's signing secret (the Dashboard shows it "
            "on the webhook endpoint's page, `stripe listen` prints its own)."
        )
    return None


@dataclass(frozen=True)
class ParsedSignature:
    """What a ``Stripe-Signature`` value holds, read forgivingly so reports can describe any value.

    ``timestamps``, ``v1`` and ``v0`` keep every value as sent, in order; ``unknown`` keeps items
    that are none of those. ``problems`` says in plain words what differs from a well-formed header.
    """

    raw: str | None
    timestamps: tuple[str, ...]
    v1: tuple[str, ...]
    v0: tuple[str, ...]
    unknown: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def timestamp(self) -> int | None:
        """The timestamp, if there is exactly one ``t=`` and it is a plain decimal integer."""
        if len(self.timestamps) == 1 and _DECIMAL.fullmatch(self.timestamps[0]):
            return int(self.timestamps[0])
        return None


def parse_signature_header(value: str | None) -> ParsedSignature:
    """Split a ``Stripe-Signature`` value into its parts; never raises.

    Items are separated by ``,`` and split at their first ``=``; whitespace around an item is
    ignored for recognising it (and reported as a problem, since Stripe sends none).
    """
    if not value:
        return ParsedSignature(
            raw=value,
            timestamps=(),
            v1=(),
            v0=(),
            unknown=(),
            problems=("the Stripe-Signature header is missing or empty",),
        )
    timestamps: list[str] = []
    v1: list[str] = []
    v0: list[str] = []
    unknown: list[str] = []
    for item in value.split(","):
        key, sep, item_value = item.strip().partition("=")
        if sep and key == "t":
            timestamps.append(item_value)
        elif sep and key == "v1":
            v1.append(item_value)
        elif sep and key == "v0":
            v0.append(item_value)
        else:
            unknown.append(item)
    return ParsedSignature(
        raw=value,
        timestamps=tuple(timestamps),
        v1=tuple(v1),
        v0=tuple(v0),
        unknown=tuple(unknown),
        problems=_problems(value, timestamps, v1, v0, unknown),
    )


def _problems(
    value: str, timestamps: list[str], v1: list[str], v0: list[str], unknown: list[str]
) -> tuple[str, ...]:
    problems: list[str] = []
    if any(ch.isspace() for ch in value):
        problems.append("the value contains whitespace; Stripe sends none")
    if not timestamps:
        problems.append("there is no t= timestamp")
    elif len(timestamps) > 1:
        problems.append(
            f"there are {len(timestamps)} t= items; stripe-python reads the first, "
            "stripe-node the last"
        )
    problems.extend(
        f"the timestamp {_short(t)!r} is not a whole number of seconds"
        for t in timestamps
        if not _DECIMAL.fullmatch(t)
    )
    if not v1:
        problems.append(
            "there is no v1 signature, only v0, which no SDK accepts"
            if v0
            else "there is no v1 signature"
        )
    problems.extend(
        f"v1 signature #{number} is not 64 lowercase hex digits"
        for number, signature in enumerate(v1, start=1)
        if not _HEX_SIGNATURE.fullmatch(signature)
    )
    problems.extend(f"unrecognised item {_short(item)!r}" for item in unknown)
    return tuple(problems)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_body(body: object) -> None:
    if isinstance(body, str):
        raise UsageError(
            "the body to sign is a str, but signatures cover the exact bytes sent on the wire; "
            "pass bytes, e.g. body.encode('utf-8')."
        )
    if not isinstance(body, (bytes, bytearray)):
        raise UsageError(
            f"the body to sign is a {type(body).__name__}, not bytes; pass the exact bytes of the "
            "request body."
        )


def _check_secret(secret: object, label: str) -> None:
    if not isinstance(secret, str):
        raise UsageError(
            f"{label} is a {type(secret).__name__}, not a str; pass the endpoint's signing "
            "secret as text (it starts with 'whsec_')."
        )
    if not secret.strip():
        raise UsageError(
            f"{label} is empty; pass the endpoint's signing secret (it starts with 'whsec_'). "
            "An empty secret would make the Stripe SDKs refuse to verify anything."
        )
    try:
        secret.encode("utf-8")
    except UnicodeEncodeError:
        # Never the secret itself: only where the stray character is.
        raise UsageError(
            f"{label} holds a character that is not text (a lone surrogate, or a byte that is "
            "not UTF-8, at its position "
            f"{next(i for i, c in enumerate(secret) if 0xD800 <= ord(c) <= 0xDFFF) + 1}); "
            "copy the secret again from the Dashboard"
        ) from None


def _check_timestamp(timestamp: object) -> None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise UsageError(
            f"the timestamp {timestamp!r} is not an integer; pass whole unix seconds, "
            "e.g. int(time.time())."
        )
    if timestamp < 0:
        raise UsageError(
            f"the timestamp {timestamp} is negative; pass unix seconds, e.g. int(time.time())."
        )
