"""The Flask app: verify the raw body, claim the event in the ledger, handle it, answer in JSON."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import stripe
from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError

from sample_app.config import Settings, load_settings
from sample_app.handlers import Context, Envelope, InvalidEvent, RetryLater, process
from sample_app.liveness import worker_token
from sample_app.store import Claim, Store, StoreConnection

logger = logging.getLogger("sample_app")

WEBHOOK_PATHS = ("/webhook", "/webhook/")

_TOLERANCE = 300
"""Seconds a signature's timestamp may lag behind: stripe-python's default, Stripe's advice."""

_ABANDONED_AFTER = 600.0
"""Seconds after which a 'processing' claim is taken to belong to a dead process when its worker's
liveness cannot be read (another host): longer than any request can run (stripe-python: 80 s
timeout, 2 retries), far shorter than Stripe's retry schedule. A claim whose worker is known dead
on this host is taken over at once (sample_app/liveness.py)."""


@dataclass(frozen=True)
class _AppState:
    settings: Settings
    store: Store
    in_flight_wait: float


def create_app(
    *,
    webhook_secret: str | Sequence[str] | None = None,
    db_path: str | os.PathLike[str] | None = None,
    secret_key_live: str | None = None,
    secret_key_test: str | None = None,
    api_base: str | None = None,
    in_flight_wait: float = 10.0,
    environ: Mapping[str, str] | None = None,
) -> Flask:
    """Build the webhook app. Arguments left as None are read from `environ` (default os.environ).

    webhook_secret: STRIPE_WEBHOOK_SECRET, one secret or several (comma-separated) when one URL
        serves both the account endpoint and the Connect endpoint. Required.
    secret_key_live / secret_key_test: STRIPE_SECRET_KEY_LIVE / STRIPE_SECRET_KEY_TEST, chosen by
        each event's livemode. Without the needed one, events are recorded but no API call is made.
    db_path: SAMPLE_APP_DB, default <instance folder>/sample_app.sqlite3.
    api_base: STRIPE_API_BASE; when set, stripe.api_base is set for the whole process.
    in_flight_wait: seconds a duplicate delivery waits for the copy being processed before it
        answers 409 (so that Stripe delivers it again later).

    Raises ConfigurationError (a RuntimeError) when the configuration cannot work.
    """
    settings = load_settings(
        webhook_secret=webhook_secret,
        secret_key_live=secret_key_live,
        secret_key_test=secret_key_test,
        db_path=db_path,
        api_base=api_base,
        environ=os.environ if environ is None else environ,
    )
    app = Flask("sample_app", static_folder=None)  # no /static route: /webhook is the only one
    store = Store(settings.db_path or Path(app.instance_path) / "sample_app.sqlite3")
    store.initialise()
    if settings.api_base is not None:
        stripe.api_base = settings.api_base
    app.extensions["sample_app"] = _AppState(settings, store, in_flight_wait)

    for path in WEBHOOK_PATHS:
        # Two rules instead of strict_slashes: "/webhook/" must not 308 to "/webhook", because
        # Stripe does not follow redirects. No automatic OPTIONS either: only POST is answered.
        app.add_url_rule(
            path,
            endpoint="webhook",
            view_func=receive_webhook,
            methods=["POST"],
            provide_automatic_options=False,
        )
    from sample_app.thin import THIN_PATHS, receive_thin  # the event destination of thin payloads

    for path in THIN_PATHS:
        app.add_url_rule(
            path,
            endpoint="webhook_thin",
            view_func=receive_thin,
            methods=["POST"],
            provide_automatic_options=False,
        )
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(sqlite3.OperationalError, _database_busy)
    app.register_error_handler(InternalServerError, _internal_error)
    return app


def receive_webhook() -> tuple[Response, int]:
    """POST /webhook: the only view."""
    state: _AppState = current_app.extensions["sample_app"]
    payload = request.get_data()  # the exact bytes Stripe signed; never request.json first
    signature = request.headers.get("Stripe-Signature")
    if not signature:
        return _error(
            "The Stripe-Signature header is missing; this endpoint only accepts events signed by "
            "Stripe.",
            400,
        )
    if not signature.isascii():
        # stripe-python would raise TypeError comparing non-ASCII signatures.
        return _error("The Stripe-Signature header contains non-ASCII characters.", 400)

    try:
        text = _verify(payload, signature, state.settings.webhook_secrets)
        # The verified bytes are parsed here, with the stdlib, never by stripe-python's
        # construct_event: it builds typed objects from the payload and crashes on shapes Stripe
        # really sends (16.1.0: balance_settings.updated with null transfer rules). Reading plain
        # JSON, no event shape can make this endpoint answer 500.
        envelope = Envelope.from_payload(_parse(text))
    except _Rejected as err:
        return _error(str(err), 400)
    except InvalidEvent as err:
        return _error(str(err), 400)

    with state.store.connect() as db:
        claim = _claim(db, envelope, payload.decode("utf-8"), state.in_flight_wait)
        if claim is Claim.DONE:
            logger.info("event %s already processed; redelivery acknowledged", envelope.id)
            return _received(envelope, duplicate=True)
        if claim is Claim.IN_FLIGHT:
            return _error(
                f"Event {envelope.id} is being processed by another request; deliver it again "
                "later.",
                409,
            )
        ctx = Context(envelope, db, state.settings)
        try:
            process(ctx)
        except InvalidEvent as err:
            db.release_event(envelope.id, error=str(err))
            return _error(str(err), 400)
        except RetryLater as err:
            logger.warning("%s", err)
            db.release_event(envelope.id, error=str(err))
            return _error(str(err), 503)
        except BaseException as err:
            db.release_event(envelope.id, error=f"{type(err).__name__}: {err}")
            raise
    return _received(envelope, note="; ".join(ctx.notes) or None)


class _Rejected(Exception):
    """The request is not a verifiable Stripe event."""


def _verify(payload: bytes, signature: str, secrets: Sequence[str]) -> str:
    """Check the signature over the raw bytes with stripe-python's own check; return the text."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _Rejected("The body is not UTF-8, so it is not a Stripe event.") from err
    failure: stripe.SignatureVerificationError | None = None
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(text, signature, secret, _TOLERANCE)
            return text
        except stripe.SignatureVerificationError as err:
            failure = failure or err
    raise _Rejected(
        f"The Stripe-Signature header does not verify with this endpoint's signing secret "
        f"({failure.user_message if failure else 'no secret'}); check that the secret is the one "
        "of the endpoint that sent the event."
    )


def _parse(text: str) -> object:
    """The verified body as plain JSON values; a v2 thin event notification is refused."""
    try:
        parsed = json.loads(text)
    except RecursionError as err:
        raise _Rejected("The body is nested too deeply to be a Stripe event.") from err
    except ValueError as err:
        raise _Rejected(f"The signed body is not a v1 Stripe event: {err}") from err
    if isinstance(parsed, Mapping) and parsed.get("object") == "v2.core.event":
        raise _Rejected(
            "The signed body is a v2 thin event notification, not a v1 snapshot event; this "
            "endpoint serves v1 snapshot events only."
        )
    return parsed


def _claim(db: StoreConnection, envelope: Envelope, payload: str, wait: float) -> Claim:
    """Claim the event; while another request is processing it, wait up to `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        now = time.time()
        claim = db.claim_event(
            event_id=envelope.id,
            event_type=envelope.type,
            account=envelope.account,
            livemode=envelope.livemode,
            created=envelope.created,
            payload=payload,
            now=now,
            stale_before=now - _ABANDONED_AFTER,
            owner=worker_token(),
        )
        if claim is not Claim.IN_FLIGHT or time.monotonic() >= deadline:
            return claim
        time.sleep(0.05)


def _received(
    envelope: Envelope, *, duplicate: bool = False, note: str | None = None
) -> tuple[Response, int]:
    body: dict[str, object] = {"received": True, "event": envelope.id, "type": envelope.type}
    if duplicate:
        body["duplicate"] = True
    if note:
        body["note"] = note
    return jsonify(body), 200


def _error(message: str, status: int) -> tuple[Response, int]:
    return jsonify({"error": message}), status


def _http_error(err: HTTPException) -> tuple[Response, int, dict[str, str]]:
    # Keep the headers werkzeug chose (Allow on a 405), replace the HTML body.
    headers = {k: v for k, v in err.get_headers() if k.lower() != "content-type"}
    return jsonify({"error": err.description}), err.code or 500, headers


def _database_busy(err: sqlite3.OperationalError) -> tuple[Response, int]:
    logger.error("database error while handling a webhook: %s", err)
    return _error("The event could not be stored right now; deliver it again later.", 503)


def _internal_error(err: InternalServerError) -> tuple[Response, int]:
    # Flask has logged the original exception already.
    return _error("The event could not be handled; deliver it again later.", 500)
