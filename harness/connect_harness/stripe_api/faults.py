"""Faults on demand: the fake Stripe API answers 429s, 500s, slowly, or not at all, when asked.

A :class:`Fault` matches requests by a pattern such as ``"GET /v1/customers/*"`` (method optional,
``*`` matches within and across segments, ``"*"`` alone matches everything) and applies a fixed
number of times (or forever). Bodies are Stripe's for the status: 429 ``rate_limit`` (or
``lock_timeout``), 500 ``api_error``, and so on.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from connect_harness.errors import UsageError
from connect_harness.stripe_api import bodies

__all__ = ["Fault", "fault_body", "parse_pattern"]

_METHODS = ("GET", "POST", "DELETE")

_MESSAGES = {
    "rate_limit": "Too many requests hit the API too quickly. We recommend an exponential backoff "
    "of your requests.",
    "lock_timeout": "This object cannot be accessed right now because another API request or "
    "Stripe process is currently accessing it. If you see this error intermittently, retry the "
    "request. If you see this error frequently and are making multiple concurrent requests to a "
    "single object, make your requests serially or at a lower rate.",
}


@dataclass
class Fault:
    """One rule: requests matching ``method`` and ``path`` get this answer ``times`` more times."""

    method: str | None
    path: str
    status: int | None
    code: str | None
    times: int | None
    delay: float
    reset: bool

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method is not None and self.method != method:
            return False
        return self.path == "*" or fnmatch.fnmatchcase(path, self.path)

    def use(self) -> None:
        if self.times is not None:
            self.times -= 1


def parse_pattern(pattern: str) -> tuple[str | None, str]:
    """``"GET /v1/customers/*"`` -> ("GET", "/v1/customers/*"); ``"*"`` -> (None, "*")."""
    text = pattern.strip()
    method, _, rest = text.partition(" ")
    if rest and method.upper() in (*_METHODS, "*"):
        path = rest.strip()
        return (None if method == "*" else method.upper()), path
    if text == "*" or text.startswith("/"):
        return None, text
    raise UsageError(
        f"fault pattern {pattern!r} is not a route pattern; write it like 'GET /v1/customers/*', "
        "'/v1/payment_intents/*' or '*'"
    )


def fault_body(status: int, code: str | None) -> dict[str, Any]:
    """Stripe's error body for a fault answered with ``status`` (and ``code``)."""
    if status == 429:
        code = code or "rate_limit"
        return bodies.error(
            "invalid_request_error",
            _MESSAGES.get(code, _MESSAGES["rate_limit"]),
            code=code,
            doc_url=f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        )
    if status >= 500:
        body = bodies.error("api_error", "An unknown error occurred")
    elif status == 401:
        body = bodies.error("invalid_request_error", "Invalid API Key provided")
    elif status == 402:
        body = bodies.error("card_error", "Your card was declined.", code=code or "card_declined")
        return body
    else:
        body = bodies.error("invalid_request_error", "The request could not be completed")
    if code is not None:
        body["error"] = {"code": code, **body["error"]}
    return body
