"""POST /webhook/thin: an event destination that receives thin notifications (Accounts v2).

Verified over the raw bytes like /webhook, parsed with stripe-python's thin parser (a snapshot body
is refused here, as a thin one is on /webhook), claimed in the same ledger by notification id, then:

- ``v2.core.account[requirements].updated``: fetch the account with the notification's context
  (``fetch_related_object()`` sends ``Stripe-Context``) and stop payouts when a requirement is past
  due. The notification says only *that* something changed; the fetched account says what.
- ``v2.core.account.closed``: fetch the account and forget it only when the fetched account says
  it is closed (a notification may arrive late, after a reopening).
- every other type is acknowledged and recorded, untouched.

A failed fetch releases the claim and answers 503, so Stripe delivers the notification again and
the next attempt does the work; a notification whose work is done answers 200 to every redelivery.
"""

from __future__ import annotations

import json
import time
from typing import Any

import stripe
from flask import Response, current_app, request

from sample_app.handlers import Envelope
from sample_app.store import Claim, StoreConnection
from sample_app.webhook import (
    _AppState,
    _claim,
    _error,
    _received,
    _Rejected,
    _verify,
    logger,
)

THIN_PATHS = ("/webhook/thin", "/webhook/thin/")
HANDLED = ("v2.core.account[requirements].updated", "v2.core.account.closed")


def receive_thin() -> tuple[Response, int]:
    """POST /webhook/thin."""
    state: _AppState = current_app.extensions["sample_app"]
    payload = request.get_data()
    signature = request.headers.get("Stripe-Signature")
    if not signature or not signature.isascii():
        return _error("The Stripe-Signature header is missing or not ASCII.", 400)
    try:
        text = _verify(payload, signature, state.settings.webhook_secrets)
        body = json.loads(text)
    except _Rejected as err:
        return _error(str(err), 400)
    except (ValueError, RecursionError):
        return _error("The signed body is not JSON, so it is not a thin notification.", 400)
    if not isinstance(body, dict) or body.get("object") != "v2.core.event":
        return _error(
            "The signed body is not a v2 thin event notification; snapshot events go to /webhook.",
            400,
        )
    livemode = body.get("livemode") is True
    key = state.settings.api_key_for(livemode)
    client = stripe.StripeClient(
        key or "sk_test_unset",
        # STRIPE_API_BASE, else the module-level stripe.api_base (which a test run in-process
        # points at its fake API): a StripeClient does not read stripe.api_base by itself
        base_addresses={"api": state.settings.api_base or stripe.api_base},
        max_network_retries=0,
    )
    try:
        notification = client.parse_event_notification_without_verification(text)
    except (ValueError, KeyError, TypeError) as err:
        return _error(f"The thin notification cannot be read: {err}", 400)
    context = str(notification.context) if notification.context else None
    envelope = Envelope(
        id=notification.id,
        type=notification.type,
        livemode=livemode,
        account=context,
        created=None,
        data_object={},
    )
    with state.store.connect() as db:
        claim = _claim(db, envelope, text, state.in_flight_wait)
        if claim is Claim.DONE:
            return _received(envelope, duplicate=True)
        if claim is Claim.IN_FLIGHT:
            return _error(f"Notification {envelope.id} is being processed; deliver it later.", 409)
        if notification.type not in HANDLED or key is None:
            note = "not handled here" if key is None or notification.type not in HANDLED else None
            with db.transaction():
                db.complete_event(envelope.id, now=time.time(), note=note)
            return _received(envelope, note=note)
        try:
            account: Any = notification.fetch_related_object()  # type: ignore[attr-defined]
        except stripe.StripeError as err:
            logger.warning("fetching %s for %s failed: %s", notification.type, envelope.id, err)
            db.release_event(envelope.id, error=f"fetch failed: {err}")
            return _error("The related object could not be fetched; deliver it again later.", 503)
        with db.transaction():
            note = _apply(db, notification.type, account, envelope)
            db.complete_event(envelope.id, now=time.time(), note=note)
    return _received(envelope, note=note)


def _apply(db: StoreConnection, event_type: str, account: Any, envelope: Envelope) -> str | None:
    account_id = str(getattr(account, "id", "") or envelope.account or "")
    if event_type == "v2.core.account.closed":
        if getattr(account, "closed", None) is not True:
            return "the account is not closed (any more); nothing forgotten"
        db.forget_account(
            account=account_id, livemode=envelope.livemode, created=None, event_id=envelope.id
        )
        return "account closed: forgotten"
    requirements = getattr(account, "requirements", None)
    entries = (getattr(requirements, "entries", None) or []) if requirements else []
    past_due = [
        entry
        for entry in entries
        if getattr(getattr(entry, "minimum_deadline", None), "status", None) == "past_due"
    ]
    if past_due:
        db.block_payouts(
            account=account_id,
            livemode=envelope.livemode,
            reason=f"{len(past_due)} requirement(s) past due",
            event_id=envelope.id,
        )
        return "payouts stopped: requirements past due"
    return None
