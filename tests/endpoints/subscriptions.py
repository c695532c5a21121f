"""Endpoints that activate a subscription when its first invoice is paid, in Flask and Starlette.

Correct: the activation (``POST /v1/subscriptions/{id}``) runs once per event, after the dedupe on
event.id and with an Idempotency-Key derived from it, before answering or (``defer``) in a worker
after answering. With ``bug=True``: the bug a real endpoint had, that a single canonical invoice
never shows: the first-invoice branch (``billing_reason=subscription_create``) runs before the
dedupe and without a key, so every redelivery of that invoice repeats the call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import stripe
from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from endpoints.core import LIVE_KEY, TEST_KEY, TEST_SECRET, WebhookCore, _Rejected

__all__ = ["SubscriptionCore", "create_flask_app", "create_starlette_app", "subscription_of"]


def subscription_of(invoice: dict[str, Any]) -> str | None:
    """The invoice's subscription id in either API shape (2025-03-31 moved it under ``parent``)."""
    parent = invoice.get("parent") or {}
    details = parent.get("subscription_details") or {}
    found = details.get("subscription") or invoice.get("subscription")
    return found if isinstance(found, str) else None


def _first_invoice_paid(event: dict[str, Any]) -> bool:
    invoice = event.get("data", {}).get("object", {})
    return (
        event.get("type") == "invoice.paid"
        and invoice.get("billing_reason") == "subscription_create"
    )


@dataclass
class SubscriptionCore(WebhookCore):
    """:class:`WebhookCore` plus: activate the subscription when its first invoice is paid."""

    repeats_activation: bool = False
    #: Subscriptions activated, one entry per activation call that succeeded.
    activated: list[str] = field(default_factory=list)

    def handle(self, body: bytes, signature: str | None) -> tuple[int, dict[str, Any]]:
        if self.repeats_activation:
            try:
                event = self._verified_event(body, signature)
            except _Rejected as err:
                return err.status, {"error": str(err)}
            if _first_invoice_paid(event):  # the bug: this branch skips the dedupe below
                self._activate(event, idempotency_key=None)
                return 200, {"received": True, "activated": True}
        return super().handle(body, signature)

    def _act(self, event: dict[str, Any]) -> None:
        super()._act(event)
        if _first_invoice_paid(event):
            self._activate(event, idempotency_key=f"{event['id']}:activate")

    def _activate(self, event: dict[str, Any], *, idempotency_key: str | None) -> None:
        subscription = subscription_of(event["data"]["object"])
        if subscription is None:
            return
        options: dict[str, Any] = {
            "api_key": LIVE_KEY if event.get("livemode") else TEST_KEY,
            "stripe_account": event.get("account"),
        }
        if idempotency_key is not None:
            options["idempotency_key"] = idempotency_key
        try:
            stripe.Subscription.modify(subscription, metadata={"activated": "true"}, **options)
        except stripe.StripeError as err:
            status = err.http_status
            if status is None or status == 429 or status >= 500:
                raise  # transient: a 5xx, so that Stripe retries the event
            self.api_errors.append(f"{type(err).__name__}: {err.user_message}")
            return
        with self._lock:
            self.activated.append(subscription)


def create_flask_app(
    secret: str = TEST_SECRET, *, bug: bool = False, defer: float | None = None
) -> Flask:
    """POST /webhook in Flask; ``bug``: repeat the activation on every redelivery; ``defer``:
    answer first and act that many seconds later."""
    core = SubscriptionCore(secret, defer=defer, repeats_activation=bug)
    app = Flask(f"subscriptions_{'bug' if bug else 'correct'}")
    app.extensions["webhook_core"] = core

    def receive() -> ResponseReturnValue:
        status, body = core.handle(request.get_data(), request.headers.get("Stripe-Signature"))
        return jsonify(body), status

    app.add_url_rule("/webhook", "webhook", receive, methods=["POST"])
    return app


def create_starlette_app(
    secret: str = TEST_SECRET, *, bug: bool = False, defer: float | None = None
) -> Starlette:
    """The same endpoint in Starlette (an ASGI app: deliveries may run concurrently)."""
    core = SubscriptionCore(secret, defer=defer, repeats_activation=bug)

    async def receive(req: Request) -> JSONResponse:
        body = await req.body()
        status, payload = await run_in_threadpool(
            core.handle, body, req.headers.get("stripe-signature")
        )
        return JSONResponse(payload, status_code=status)

    app = Starlette(routes=[Route("/webhook", receive, methods=["POST"])])
    app.state.webhook_core = core
    return app
