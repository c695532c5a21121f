"""Checkout Sessions on the fake: create (open, unpaid), expire, and pay on the hosted page.

Completing a session happens on Stripe's hosted page: the Stripe CLI's fixtures pay through its
private ``/v1/payment_pages`` API, which Stripe's API description does not include. The fake serves
the two calls those fixtures make (the page, then its ``confirm`` with a payment method), and the
payment that follows is the payment intent's own (``actions/payments.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from connect_harness.lifecycle.emissions import emission
from connect_harness.lifecycle.states import apply_state
from connect_harness.stripe_api import bodies
from connect_harness.stripe_api.actions import ActionContext, ActionError, action
from connect_harness.stripe_api.actions.cards import link_ids, payment_method, whole_amount
from connect_harness.stripe_api.actions.payments import confirm_intent, fresh_payment_intent

# --- Checkout Sessions --------------------------------------------------------------------------

# A session expires 24 hours after it is created unless told otherwise:
# https://docs.stripe.com/api/checkout/sessions/create (expires_at).
_SESSION_LIFETIME = 24 * 3600


@action("checkout.session", "create")
def create_checkout_session(ctx: ActionContext, _: dict[str, Any] | None) -> dict[str, Any]:
    """An ``open`` session, ``unpaid``; no event (Stripe has no ``checkout.session.created``)."""
    session = ctx.generic()
    now = ctx.request.now
    params = ctx.params
    total = _line_items_total(ctx, params.get("line_items"))
    ctx.set(
        session,
        {
            "created": now,
            "expires_at": whole_amount(params.get("expires_at")) or now + _SESSION_LIFETIME,
            "status": "open",
            "payment_status": "unpaid",
            "payment_intent": None,
            "setup_intent": None,
            "subscription": None,
            "invoice": None,
            "customer": params.get("customer") or None,
            "mode": params.get("mode") or session.get("mode"),
            "success_url": params.get("success_url") or None,
            # Filled in when the customer completes the session.
            "customer_details": None,
            "customer_email": params.get("customer_email") or None,
            "cancel_url": params.get("cancel_url") or None,
        },
    )
    if total is not None:
        ctx.set(session, {"amount_total": total, "amount_subtotal": total})
    currency = _line_items_currency(ctx, params.get("line_items"))
    if currency is not None:
        ctx.set(session, {"currency": currency})
    intent_data = params.get("payment_intent_data")
    if isinstance(intent_data, Mapping) and intent_data.get("setup_future_usage"):
        ctx.note(session, "saves the payment method")
    ctx.emit_outcome("ok", session)
    return session


def _prices(ctx: ActionContext, items: Any) -> list[tuple[dict[str, Any], int]]:
    found = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        price = ctx.find(item.get("price"), "price")
        inline = item.get("price_data")
        if price is None and isinstance(inline, Mapping):
            # api: POST /v1/checkout/sessions, line_items[].price_data: 'Data used to generate a
            # new Price object inline'; its amount and currency are the line's
            price = {"unit_amount": whole_amount(inline.get("unit_amount")),
                     "currency": inline.get("currency")}  # fmt: skip
        if price is not None:
            found.append((price, whole_amount(item.get("quantity")) or 1))
    return found


def _line_items_total(ctx: ActionContext, items: Any) -> int | None:
    prices = _prices(ctx, items)
    amounts = [whole_amount(price.get("unit_amount")) for price, _ in prices]
    if not prices or any(amount is None for amount in amounts):
        return None
    return sum(
        (amount or 0) * quantity for amount, (_, quantity) in zip(amounts, prices, strict=True)
    )


def _line_items_currency(ctx: ActionContext, items: Any) -> str | None:
    currencies = {str(price.get("currency")) for price, _ in _prices(ctx, items)}
    return currencies.pop() if len(currencies) == 1 else None


@action("checkout.session", "expire")
def expire_checkout_session(ctx: ActionContext, session: dict[str, Any] | None) -> dict[str, Any]:
    assert session is not None
    ctx.check_state(session)
    session["status"] = "expired"
    ctx.emit_outcome("ok", session)
    return session


@action("checkout.session", "payment_page_confirm")
def confirm_payment_page(ctx: ActionContext, session: dict[str, Any] | None) -> dict[str, Any]:
    """The customer pays on the hosted page: a payment intent for the session's total is created
    and confirmed with the payment method, then the session completes (paid; unpaid while a
    delayed method is processing) and emits ``checkout.session.completed``."""
    assert session is not None
    ctx.check_state(session)
    pm = payment_method(ctx, ctx.params.get("payment_method"), "payment_method")
    amount = whole_amount(session.get("amount_total"))
    if amount is None:
        message = f"Checkout Session {session.get('id')} has no total to pay."
        raise ActionError(400, bodies.error("invalid_request_error", message))
    customer = session.get("customer") if isinstance(session.get("customer"), str) else None
    if ctx.noted(session, "saves the payment method"):
        customer = _save_method(ctx, session, pm, customer)
    pay = dataclasses.replace(
        ctx,
        object_type="payment_intent",
        verb="create",
        params={"amount": amount, "currency": session.get("currency"), "customer": customer},
    )
    pi = pay.create("payment_intent", {"amount": amount, "currency": session.get("currency")})
    fresh_payment_intent(pay, pi)
    pi["payment_method"] = pm["id"]
    apply_state(pi, "payment_intent", "requires_confirmation", at=ctx.request.now, link=link_ids())
    pay.emit_outcome("ok", pi)

    def settled(outcome: str) -> None:  # a delayed method's outcome, later
        if outcome != "failed":
            ctx.set(session, {"payment_status": "paid"})
        ctx.emit_outcome_later(
            "failed" if outcome == "failed" else "succeeded", session, verb="settle"
        )

    confirm_intent(
        dataclasses.replace(pay, verb="confirm"), pi, pm, then=settled
    )  # a decline raises Stripe's 402
    if pi.get("status") not in ("succeeded", "processing", "requires_capture"):
        return session  # waiting for the customer (3D Secure): not completed yet
    paid = "unpaid" if pi.get("status") == "processing" else "paid"
    ctx.set(session, {"status": "complete", "payment_status": paid, "payment_intent": pi["id"]})
    ctx.emit_outcome("ok", session)
    return session


def _save_method(
    ctx: ActionContext, session: dict[str, Any], pm: dict[str, Any], customer: str | None
) -> str:
    """``payment_intent_data.setup_future_usage``: the payment method is saved on the session's
    customer, a new one when the session has none (the ``save_method`` row)."""
    saving = dataclasses.replace(ctx, object_type="checkout.session", verb="save_method")
    made = None
    if customer is None:
        details = pm.get("billing_details")
        given = details if isinstance(details, Mapping) else {}
        made = ctx.create(
            "customer",
            {
                "created": ctx.request.now,
                "metadata": {},
                "default_source": None,
                "test_clock": None,
                "balance": 0,
                "delinquent": False,
                "discount": None,
                "description": None,
                "email": given.get("email"),  # what the customer typed on the page
                "name": given.get("name"),
                "phone": given.get("phone"),
            },
        )
        customer = str(made["id"])
        ctx.set(session, {"customer": customer})
    pm["customer"] = customer
    row = emission("checkout.session", "save_method", "ok" if made is not None else "existing")
    for event_type in row.events:
        saving.emit(event_type, made if event_type == "customer.created" and made else pm)
    return customer
