"""What the app does with each verified event: the Connect guide's eight types; 2xx for the rest.

Every handler runs after the event was claimed in the ledger (store.claim_event) and ends by
marking it done in the same transaction as the state it changes (`Context.finish`). Calls to the
Stripe API are made with the key of the event's mode and, for a connected account's objects, as
that account (`stripe_account=`).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import stripe

from sample_app.config import Settings
from sample_app.store import PLATFORM, StoreConnection

logger = logging.getLogger("sample_app")

# Ids end up in headers (Stripe-Account, Idempotency-Key) and the database: only Stripe's alphabet.
_STRIPE_ID = re.compile(r"[A-Za-z0-9_.\-]{1,255}")
_SQLITE_INT = range(-(2**63), 2**63)


class InvalidEvent(ValueError):
    """The verified body is not a Stripe event this app can read (answered with 400)."""


class RetryLater(Exception):
    """A transient failure: nothing was committed, answer 5xx so that Stripe delivers again."""


@dataclass(frozen=True)
class Envelope:
    """The fields of a v1 snapshot event the handlers use, type-checked."""

    id: str
    type: str
    livemode: bool
    account: str | None
    created: int | None
    data_object: Mapping[str, Any] = field(repr=False)

    @classmethod
    def from_payload(cls, payload: object) -> Envelope:
        if not isinstance(payload, Mapping):
            raise InvalidEvent(
                "The body is JSON but not an object; a Stripe event is an object with "
                "id, type, livemode and data."
            )
        try:
            json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as err:
            raise InvalidEvent(
                "The event contains an unpaired surrogate escape (\\ud800-\\udfff), which is not "
                "text; Stripe never sends one."
            ) from err
        event_id, event_type = payload.get("id"), payload.get("type")
        if not isinstance(event_id, str) or not event_id:
            raise InvalidEvent(
                f"The body is not a Stripe event: its id is {event_id!r}, not a string."
            )
        if not _STRIPE_ID.fullmatch(event_id):
            raise InvalidEvent(f"The event id {event_id!r} is not a Stripe id (evt_...).")
        if not isinstance(event_type, str) or not event_type:
            raise InvalidEvent(
                f"The body is not a Stripe event: event {event_id}'s type is {event_type!r}, "
                "not a string."
            )
        livemode = payload.get("livemode")
        if not isinstance(livemode, bool):
            raise InvalidEvent(
                f"Event {event_id} has livemode {livemode!r}; it must be true or false, because it "
                "decides which API key may act on the event."
            )
        account = payload.get("account")
        if account is not None and (
            not isinstance(account, str) or not _STRIPE_ID.fullmatch(account)
        ):
            raise InvalidEvent(
                f"Event {event_id} has account {account!r}; expected an acct_... id."
            )
        created = payload.get("created")
        if created is not None and (
            isinstance(created, bool) or not isinstance(created, int) or created not in _SQLITE_INT
        ):
            raise InvalidEvent(f"Event {event_id} has created {created!r}; expected unix seconds.")
        data = payload.get("data")
        data_object = data.get("object") if isinstance(data, Mapping) else None
        if not isinstance(data_object, Mapping):
            raise InvalidEvent(
                f"Event {event_id} has no data.object; a snapshot event carries one."
            )
        return cls(event_id, event_type, livemode, account, created, data_object)

    def object_id(self) -> str:
        object_id = self.data_object.get("id")
        if not isinstance(object_id, str) or not object_id:
            raise InvalidEvent(
                f"Event {self.id} ({self.type}) has data.object.id {object_id!r}; expected an id."
            )
        return object_id


@dataclass
class Context:
    """One claimed event being handled: its ledger connection, its API key, notes for the record."""

    event: Envelope
    db: StoreConnection
    settings: Settings
    notes: list[str] = field(default_factory=list)
    finished: bool = False

    @property
    def api_key(self) -> str | None:
        return self.settings.api_key_for(self.event.livemode)

    def require_api_key(self) -> str | None:
        """The key for this event's mode, or None (noted and logged) when it is not configured."""
        key = self.api_key
        if key is None:
            name = self.settings.key_env_for(self.event.livemode)
            self.note(f"{name} is not set, so API calls for this event were skipped")
            logger.warning(
                "%s is not set; event %s (%s) recorded without API calls",
                name,
                self.event.id,
                self.event.type,
            )
        return key

    def note(self, text: str) -> None:
        self.notes.append(text)

    @contextmanager
    def finish(self) -> Iterator[StoreConnection]:
        """A transaction that also marks the event done: state and ledger commit together."""
        with self.db.transaction():
            yield self.db
            self.db.complete_event(
                self.event.id, now=time.time(), note="; ".join(self.notes) or None
            )
        self.finished = True


Handler = Callable[[Context], None]


def account_application_deauthorized(ctx: Context) -> None:
    """The account disconnected the platform: forget its state; no calls, they would fail now."""
    account = ctx.event.account
    if account is None:
        ctx.note("no connected account on the event, nothing to clean up")
        return
    with ctx.finish() as db:
        db.forget_account(
            account=account,
            livemode=ctx.event.livemode,
            created=ctx.event.created,
            event_id=ctx.event.id,
        )


def payment_intent_succeeded(ctx: Context) -> None:
    """Record the payment once, then mark it fulfilled on Stripe with an idempotent call."""
    event = ctx.event
    intent_id = event.object_id()
    account = event.account  # set for direct charges on a connected account
    if account is not None and ctx.db.is_deauthorized(account, event.livemode):
        ctx.note(f"{account} is deauthorized; calls as it would fail")
        return
    existing = ctx.db.payment(intent_id)
    if existing is not None and existing["event_id"] != event.id:
        ctx.note(f"{intent_id} was recorded by {existing['event_id']}; not fulfilled twice")
        return
    key = ctx.require_api_key()
    if key is None:
        return

    # The connected account owns the intent: without stripe_account Stripe answers
    # "No such payment_intent".
    intent = stripe.PaymentIntent.retrieve(intent_id, api_key=key, stripe_account=account)
    fields = intent.to_dict()
    with ctx.db.transaction():
        payment = ctx.db.record_payment(
            payment_intent=intent_id,
            account=account,
            amount=_int_or_none(fields.get("amount")),
            currency=_str_or_none(fields.get("currency")),
            status=_str_or_none(fields.get("status")),
            livemode=event.livemode,
            event_id=event.id,
        )
    if payment["event_id"] != event.id:  # a concurrent, distinct event about the same intent won
        ctx.note(f"{intent_id} was recorded by {payment['event_id']}; not fulfilled twice")
        return
    if not payment["fulfilled"]:
        # Committed before this call, so a failure below leaves the payment owned by this event;
        # the retry repeats the call with the same idempotency key and Stripe replays the result.
        stripe.PaymentIntent.modify(
            intent_id,
            metadata={"fulfilled_by_event": event.id},
            idempotency_key=f"fulfil-{event.id}",
            stripe_account=account,
            api_key=key,
        )
    with ctx.finish() as db:
        db.mark_fulfilled(intent_id)


def payout_failed(ctx: Context) -> None:
    """Stop payouts to the account and look at the external account the payout went to."""
    event = ctx.event
    account = event.account
    if account is not None and ctx.db.is_deauthorized(account, event.livemode):
        ctx.note(f"{account} is deauthorized; nothing to block")
        return
    payout = event.data_object
    destination = payout.get("destination")
    reason = _str_or_none(payout.get("failure_code")) or "payout failed"
    if account is not None and isinstance(destination, str) and destination:
        key = ctx.require_api_key()
        if key is not None:
            try:
                external = stripe.Account.retrieve_external_account(
                    account, destination, stripe_account=account, api_key=key
                )
            except stripe.InvalidRequestError as err:
                if err.http_status != 404:
                    raise
                ctx.note(f"external account {destination} no longer exists")
            else:
                status = _str_or_none(external.to_dict().get("status"))
                reason = f"{reason}; {destination} is {status or 'in an unknown state'}"
    with ctx.finish() as db:
        db.block_payouts(
            account=account or PLATFORM,
            livemode=event.livemode,
            reason=reason,
            event_id=event.id,
        )


def account_updated(ctx: Context) -> None:
    """Store the account's status from the snapshot; no call needed, the snapshot is current."""
    event = ctx.event
    snapshot = event.data_object
    requirements = snapshot.get("requirements")
    with ctx.finish() as db:
        applied = db.apply_account_snapshot(
            account=event.account or PLATFORM,
            livemode=event.livemode,
            charges_enabled=_bool_or_none(snapshot.get("charges_enabled")),
            payouts_enabled=_bool_or_none(snapshot.get("payouts_enabled")),
            requirements_json=None if requirements is None else json.dumps(requirements),
            created=event.created,
            event_id=event.id,
        )
        if not applied:
            ctx.note("a newer account.updated is already stored; this older one was not applied")


def record_only(ctx: Context) -> None:
    """The event row is the record; nothing else to do."""


HANDLERS: Mapping[str, Handler] = {
    "account.application.deauthorized": account_application_deauthorized,
    "payment_intent.succeeded": payment_intent_succeeded,
    "payout.failed": payout_failed,
    "account.updated": account_updated,
    "account.external_account.updated": record_only,
    "balance.available": record_only,
    "person.updated": record_only,
    "customer.created": record_only,
}


def process(ctx: Context) -> None:
    """Run the event's handler and mark it done; every other type is recorded and acknowledged.

    Raises RetryLater for failures a later delivery can fix, InvalidEvent for a body the handler
    cannot read. A permanent API error (the object is gone, access was revoked, the request is
    refused) is noted and the event completed: delivering it again would fail the same way.
    """
    handler = HANDLERS.get(ctx.event.type, record_only)
    try:
        handler(ctx)
    except stripe.StripeError as err:
        if _is_transient(err):
            raise RetryLater(
                f"The Stripe API call for {ctx.event.id} failed ({_describe(err)}); "
                "deliver the event again later."
            ) from err
        logger.warning("event %s: Stripe refused a call: %s", ctx.event.id, _describe(err))
        ctx.note(f"Stripe refused a call ({_describe(err)}), not retried")
    if not ctx.finished:
        with ctx.finish():
            pass


def _is_transient(err: stripe.StripeError) -> bool:
    # AuthenticationError counts as transient: a wrong or rotated key is fixed by the operator,
    # and Stripe's retries (days in live mode) carry the event until then.
    return isinstance(
        err,
        stripe.APIConnectionError
        | stripe.RateLimitError
        | stripe.APIError
        | stripe.AuthenticationError,
    )


def _describe(err: stripe.StripeError) -> str:
    status = f"HTTP {err.http_status}" if err.http_status else type(err).__name__
    message = " ".join(str(err.user_message or err).split())  # one line, for logs and the body
    return f"{status}: {message[:300]}"


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value not in _SQLITE_INT:
        return None
    return value


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _bool_or_none(value: object) -> bool | None:
    return value if isinstance(value, bool) else None
