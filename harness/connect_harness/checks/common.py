"""What every check family shares: the fixed probes (unknown type, invalid JSON, the disconnected
account), and the helpers that turn a response or an API call into a finding's words."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from connect_harness.checks.findings import (
    Finding,
    Status,
)
from connect_harness.delivery import Response
from connect_harness.stripe_api.fake import ApiCall

if TYPE_CHECKING:
    from connect_harness.checks.records import DeliveryRecord


#: What reproductions write instead of the secret: the secret never appears in any output.
SECRET_PLACEHOLDER = '"$STRIPE_WEBHOOK_SECRET"'


#: A type no endpoint can know; well-formed otherwise.
UNKNOWN_EVENT_TYPE = "connect_harness.unknown_event.created"


#: Correctly signed bodies that are not JSON.
INVALID_JSON_BODIES: tuple[tuple[str, bytes], ...] = (
    ("truncated-json", b'{"id": "evt_'),
    ("not-json", b"not json"),
)


#: The events whose handlers usually act (API calls, stored state): what redelivery must not repeat.
IDEMPOTENCY_EVENTS = (
    "payment_intent.succeeded",
    "payout.failed",
    "account.updated",
    "account.application.deauthorized",
    "customer.created",
)


#: The connected account that account.application.deauthorized events disconnect.
DISCONNECTED_ACCOUNT = "acct_1HarnessDisconnect"


# Events after which a correct endpoint stops acting for the account they name.
ACCOUNT_ENDING_EVENTS = frozenset({"account.application.deauthorized"})


# Which bad-variant names (connect_harness.wire.variants) each rejects-* check sends. Variants matched by no
# check (a future timestamp, a duplicated t=) describe SDK differences, not endpoint bugs.
REJECTION_VARIANTS: dict[str, Callable[[str], bool]] = {
    "rejects-missing-signature": lambda name: name == "missing-signature",
    "rejects-malformed-signature": lambda name: (
        name in {"malformed-garbage", "malformed-no-timestamp", "malformed-non-numeric-timestamp"}
    ),
    "rejects-wrong-secret": lambda name: name == "wrong-secret",
    "rejects-tampered-body": lambda name: name == "tampered-body",
    "rejects-stale-timestamp": lambda name: name.startswith("stale"),
    "rejects-v0-only": lambda name: name == "v0-only",
}


def is_2xx(status: int) -> bool:
    return 200 <= status < 300


def describe_response(response: Response) -> str:
    if response.status == 0:
        return f"no HTTP answer ({response.error or 'no response'})"
    text = str(response.status)
    location = response.header("Location")
    if 300 <= response.status < 400 and location:
        text += f" (Location: {location})"
    if response.error and response.status >= 500:
        text += f" ({short(response.error)})"
    return text


def short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def finding_for(
    record: DeliveryRecord,
    *,
    status: Status,
    reason: str,
    expected: str,
    actual: str | None = None,
    check: str | None = None,
) -> Finding:
    """A finding about one delivery; failing ones carry its reproduction.

    ``check`` is the judging check when it is not the one that sent the delivery.
    """
    if check is not None and check != record.check:
        reason = f"{reason} (delivered by {record.check})"
    return Finding(
        check=check or record.check,
        status=status,
        reason=reason,
        event_type=record.event_type,
        permutation=record.permutation,
        variant=record.variant,
        expected=expected,
        actual=actual if actual is not None else describe_response(record.response),
        reproduce=record.reproduce if status == "fail" else None,
    )


def perm_label(account: str | None, livemode: bool) -> str:
    return f"{'connect' if account else 'platform'}-{'live' if livemode else 'test'}"


def call_text(call: ApiCall) -> str:
    text = f"{call.method} {call.path}"
    account = call.stripe_account
    if account:
        text += f" [Stripe-Account: {account}]"
    key = call.idempotency_key
    if key and call.mutating:
        text += f" [Idempotency-Key: {short(key, 40)}]"
    return text


def json_text(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def utf8(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None
