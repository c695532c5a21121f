"""Checkout Sessions on the fake: create (open, unpaid) and expire.

Completing a session happens on Stripe's hosted page (the Stripe CLI's fixtures call its private
``/v1/payment_pages`` API, which Stripe's API description does not include): the fake does not
serve it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connect_harness.stripe_api.actions import ActionContext, action
from connect_harness.stripe_api.actions.cards import whole_amount

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
    ctx.emit_outcome("ok", session)
    return session


def _prices(ctx: ActionContext, items: Any) -> list[tuple[dict[str, Any], int]]:
    found = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        price = ctx.find(item.get("price"), "price")
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
