"""A thin-event destination written the way Stripe documents it, correct or with one named bug.

A bare WSGI app over stripe-python 16.1.0: ``StripeClient.parse_event_notification`` verifies and
parses; the handler fetches with ``fetch_related_object()`` and ``fetch_event()`` (which send
``Stripe-Context: <context>``); it answers 500 when a fetch fails and marks an event done only after
its work succeeded; for ``v2.core.account.closed`` it records the closure with one API call
carrying an Idempotency-Key derived from the event id; unknown types are acknowledged.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

import stripe

TEST_SECRET = "whsec_thin_endpoint_secret"

#: The one bug a broken thin endpoint has.
THIN_BUGS: dict[str, str] = {
    "no-verify": "parses without verifying the signature",
    "platform-context": "fetches the related object with platform context (no Stripe-Context)",
    "ack-on-fetch-failure": "answers 200 when the fetch fails",
    "dedupe-first": "marks the event done before fetching, so a failed fetch is never retried",
    "acts-twice": "no dedupe on the event id and no Idempotency-Key on its API call",
    "rejects-unknown": "answers 400 to thin types it does not handle",
}

HANDLED_PREFIXES = ("v2.core.account", "v1.")

Start = Callable[[str, list[tuple[str, str]]], Any]


def thin_app(api_url: str | None, *, secret: str = TEST_SECRET, bug: str | None = None) -> Any:
    """The WSGI app; ``api_url`` is where the (fake) Stripe API is (None: ``stripe.api_base`` when
    a notification comes, as the harness points it at the fake of the process that delivers)."""
    if bug is not None and bug not in THIN_BUGS:
        raise ValueError(f"unknown bug {bug!r}")
    done: set[str] = set()
    lock = threading.Lock()

    def client(livemode: bool) -> stripe.StripeClient:
        key = "sk_live_thin_endpoint" if livemode else "sk_test_thin_endpoint"
        base = api_url if api_url is not None else stripe.api_base
        return stripe.StripeClient(key, base_addresses={"api": base}, max_network_retries=0)

    def answer(start: Start, status: str, text: str) -> Iterable[bytes]:
        start(status, [("Content-Type", "application/json")])
        return [json.dumps({"message": text}).encode()]

    def app(environ: dict[str, Any], start: Start) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        header = environ.get("HTTP_STRIPE_SIGNATURE")
        livemode = bool(json.loads(body).get("livemode")) if body.startswith(b"{") else False
        sdk = client(livemode)
        try:
            if bug == "no-verify":
                notification = sdk.parse_event_notification_without_verification(body)
            else:
                notification = sdk.parse_event_notification(body, header, secret)
        except (stripe.SignatureVerificationError, ValueError, KeyError):
            return answer(start, "400 Bad Request", "bad notification")
        if not notification.type.startswith(HANDLED_PREFIXES):
            if bug == "rejects-unknown":
                return answer(start, "400 Bad Request", "unhandled type")
            return answer(start, "200 OK", "ignored")
        with lock:
            seen = notification.id in done
            if bug == "dedupe-first":
                done.add(notification.id)
        if seen and bug != "acts-twice":
            return answer(start, "200 OK", "already done")
        try:
            related = getattr(notification, "related_object", None)
            if bug == "platform-context" and related is not None:
                sdk.raw_request("get", related.url)
            elif related is not None:
                notification.fetch_related_object()
            notification.fetch_event()
            if notification.type == "v2.core.account.closed":
                options: dict[str, Any] = {}
                if notification.context:
                    options["stripe_context"] = str(notification.context)
                if bug != "acts-twice":
                    options["idempotency_key"] = f"closed-{notification.id}"
                sdk.raw_request("post", "/v1/customers", description="account closed", **options)
        except stripe.StripeError:
            if bug == "ack-on-fetch-failure":
                return answer(start, "200 OK", "could not fetch; ignored")
            return answer(start, "500 Internal Server Error", "fetch failed; retry")
        with lock:
            done.add(notification.id)
        return answer(start, "200 OK", "handled")

    return app
