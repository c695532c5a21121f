"""What the fake Stripe API refuses before it reads a request's parameters: bodies too large to be
a Stripe request, a ``Content-Length`` that is not a length, and form bodies that are not UTF-8.

Stripe's documentation names no size limit for a request body (the API reference and
https://docs.stripe.com/api/errors are silent), so the limit here is generous: far above any body
an SDK builds (the largest, a Connect account's full onboarding with 50 metadata keys of 500
characters, is a few tens of KB), small enough that a runaway client cannot make a long-lived fake
hold hundreds of MB. A client that sends more gets ``413`` with an ``invalid_request_error`` body
that says the limit is the fake's, not Stripe's. A ``Content-Length`` that is not a number, and a
form body that is not UTF-8 (Stripe's SDKs always encode UTF-8), get ``400`` as any malformed request
does at Stripe (https://docs.stripe.com/api/errors: "400 Bad Request: the request was unacceptable,
often due to missing a required parameter"); Stripe's exact wording for these is undocumented.
"""

from __future__ import annotations

from typing import Any

from connect_harness.stripe_api import bodies

__all__ = ["MAX_BODY_BYTES", "Refusal", "form_text", "refusal"]

MAX_BODY_BYTES = 16 * 1024 * 1024
"""The largest request body the fake reads (16 MiB)."""


class Refusal:
    """A request refused before routing: its status and Stripe-shaped error body."""

    __slots__ = ("body", "status")

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.body = bodies.error("invalid_request_error", message)


def refusal(request: Any, *, max_body: int = MAX_BODY_BYTES) -> Refusal | None:
    """Why ``request`` (a werkzeug request) is refused before its body is read, or None.

    Reads nothing: the length is checked from ``Content-Length`` so that a 100 MB body is never
    held in memory.
    """
    declared = request.headers.get("Content-Length")
    if declared is not None:
        text = declared.strip()
        if not text.isdigit():
            return Refusal(
                400,
                f"The request's Content-Length header ({_shown(declared)}) is not a number of "
                "bytes; send the body's length in bytes.",
            )
        if int(text) > max_body:
            return Refusal(
                413,
                f"The request body is {int(text)} bytes; connect_harness's fake Stripe API reads "
                f"at most {max_body} bytes (Stripe documents no limit; no Stripe request is "
                "this large).",
            )
    return None


def form_text(raw: bytes) -> str | Refusal:
    """A form body as text, or the ``400`` Stripe gives a body that is not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return Refusal(
            400,
            f"Invalid request body: byte {err.start} is not UTF-8; encode form parameters as "
            "UTF-8 (application/x-www-form-urlencoded; charset=utf-8).",
        )


def _shown(value: str) -> str:
    return repr(value[:40].encode("unicode_escape", "backslashreplace").decode("ascii"))
