"""Who is asking: the API key's mode, the account acted as (``Stripe-Account``), the API version.

Stripe's rules, as Connect handlers meet them: a secret key of one mode sees only that mode's
objects; ``Stripe-Account`` naming the platform's own account acts as the platform; naming an
account that is not connected, or one that revoked the platform's access, is a 403
``account_invalid``; a malformed ``Stripe-Version`` is a 400.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

from connect_harness.stripe_api import bodies

__all__ = ["Context", "authenticate", "check_api_version"]

_SECRET_KEY = re.compile(r"^(?:sk|rk)_(test|live)_[0-9A-Za-z_]+$")
_PUBLISHABLE_KEY = re.compile(r"^pk_(?:test|live)_")
# 2023-08-16, 2026-10-28.endive, and beta headers such as "2023-08-16; feature_beta=v1".
_API_VERSION = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:\.[a-z]+)?(?:\s*;\s*[a-z0-9_]+=v\d+)*$")

_NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
_PUBLISHABLE = (
    "This API call cannot be made with a publishable API key. Please use a secret API key. You "
    "can find a list of your API keys at https://dashboard.stripe.com/account/apikeys."
)


@dataclass(frozen=True)
class Context:
    """Who is asking: the key's mode, the connected account acted as (None: the platform), the key."""

    mode: str
    account: str | None
    key: str

    @property
    def live(self) -> bool:
        return self.mode == "live"


def authenticate(header: str | None) -> tuple[str | None, str | None, dict[str, Any] | None]:
    """(mode, key, None) for a usable secret key, else (None, None, Stripe's 401 body)."""
    key = ""
    if header:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "bearer":
            key = value.strip()
        elif scheme.lower() == "basic":
            try:
                key = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                key = value.strip()
            key = key.partition(":")[0]
        else:
            key = header.strip()
    if not key:
        return None, None, bodies.error("invalid_request_error", _NO_KEY)
    match = _SECRET_KEY.match(key)
    if match:
        return match.group(1), key, None
    if _PUBLISHABLE_KEY.match(key):
        return None, None, bodies.error("invalid_request_error", _PUBLISHABLE)
    return (
        None,
        None,
        bodies.error("invalid_request_error", f"Invalid API Key provided: {bodies.redact(key)}"),
    )


def check_api_version(version: str | None) -> dict[str, Any] | None:
    """Stripe's 400 body for a malformed ``Stripe-Version`` header, else None."""
    if version is None:
        return None
    match = _API_VERSION.match(version.strip())
    if match is None:
        return bodies.invalid_api_version(version)
    month, day = int(match.group(2)), int(match.group(3))
    if not (1 <= month <= 12 and 1 <= day <= 31) or match.group(1) < "2011":
        return bodies.invalid_api_version(version)
    return None
