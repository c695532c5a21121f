"""Payments on the fake: payment intents and the charges they make, refunds, disputes, customers,
payment methods, setup intents and Checkout Sessions, with Stripe's test cards.

What each action may start from and the error otherwise: :mod:`connect_harness.lifecycle.transitions`.
Which events each outcome emits: :mod:`connect_harness.lifecycle.emissions`. The fields each state
implies: :func:`connect_harness.lifecycle.states.apply_state`. What a test card does:
:mod:`connect_harness.lifecycle.test_values`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from connect_harness.lifecycle.states import apply_state
from connect_harness.lifecycle.test_values import TestCard, card_for
from connect_harness.stripe_api import bodies
from connect_harness.stripe_api.actions import ActionContext, ActionError, action

_ERROR_DOCS = "https://stripe.com/docs/error-codes/"

# A payment method created from a test card's name renders the card as Stripe's Testing page
# lists it; the cards by last four digits, for payment methods the fake did not make itself.
_CARDS_BY_LAST4: dict[str, TestCard] = {}


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _amount(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _links(**ids: Any) -> Any:
    """A ``link`` for :func:`apply_state`: the ids the state's fields name."""
    return lambda object_type: ids.get(object_type)


# --- payment methods and test cards -----------------------------------------------------------


def _test_card(ctx: ActionContext, name: str) -> TestCard | None:
    card = card_for(name)
    if card is None and (name.startswith("pm_card_") or name.startswith("tok_")):
        return card_for("pm_card_visa")  # a test card the table does not list: an ordinary card
    return card


def _card_payment_method(ctx: ActionContext, card: TestCard) -> dict[str, Any]:
    """A new card payment method for a test card (Stripe makes one per use of its name)."""
    pm = ctx.create("payment_method", {"type": "card", "customer": None})
    pm["created"] = ctx.request.now
    details = pm.get("card")
    if isinstance(details, dict):
        ctx.set(
            details,
            {"brand": card.brand, "last4": card.last4, "funding": card.funding, "wallet": None},
        )
        if "display_brand" in details:
            details["display_brand"] = card.brand
        networks = details.get("networks")
        if isinstance(networks, dict):
            networks["available"] = [card.brand]
    _CARDS_BY_LAST4.setdefault(card.last4, card)
    return pm


def payment_method(ctx: ActionContext, value: Any, param: str) -> dict[str, Any]:
    """The payment method ``value`` names: a test card's name makes a new one; an id is looked up
    as the asking context sees it (Stripe's 404 naming ``param`` when it does not exist)."""
    if isinstance(value, str):
        card = _test_card(ctx, value)
        if card is not None:
            return _card_payment_method(ctx, card)
    found = ctx.find(value, "payment_method")
    if found is None:
        body = bodies.no_such("PaymentMethod", str(value))
        body["error"]["param"] = param
        raise ActionError(404, body)
    return found


def card_of(pm: Mapping[str, Any]) -> TestCard:
    """The test card behind a payment method (an unknown card is an ordinary one that succeeds)."""
    details = pm.get("card")
    last4 = details.get("last4") if isinstance(details, Mapping) else None
    found = _CARDS_BY_LAST4.get(str(last4)) or _card_by_last4(str(last4))
    return found or _visa()


def _card_by_last4(last4: str) -> TestCard | None:
    from connect_harness.lifecycle.test_values import TEST_CARDS

    for card in TEST_CARDS:
        if card.last4 == last4:
            return card
    return None


def _visa() -> TestCard:
    card = card_for("pm_card_visa")
    assert card is not None
    return card


# --- charges ----------------------------------------------------------------------------------


def _balance_transaction(ctx: ActionContext, charge: Mapping[str, Any], amount: int) -> str:
    bt = ctx.create(
        "balance_transaction",
        {
            "amount": amount,
            "currency": charge.get("currency"),
            "source": charge.get("id"),
            "type": "charge",
            "status": "pending",
            "created": ctx.request.now,
            "description": charge.get("description"),
        },
    )
    if "net" in bt and isinstance(bt.get("fee"), int):
        bt["net"] = amount - bt["fee"]
    return str(bt["id"])


def _new_charge(
    ctx: ActionContext,
    *,
    amount: int,
    currency: Any,
    pm: Mapping[str, Any] | None,
    card: TestCard,
    captured: bool,
    payment_intent: str | None,
    customer: Any,
    description: Any,
    metadata: Any,
) -> dict[str, Any]:
    """A charge of a payment (its state: succeeded, uncaptured or failed by ``card``)."""
    charge = ctx.create(
        "charge",
        {
            "amount": amount,
            "currency": currency,
            "created": ctx.request.now,
            "description": description,
            "metadata": copy.deepcopy(metadata) if isinstance(metadata, dict) else {},
            "payment_method": pm.get("id") if pm is not None else None,
            "invoice": None,
            "review": None,
            "dispute": None,
            "disputed": False,
            "application_fee": None,
            "application_fee_amount": None,
            "transfer": None,
            "balance_transaction": None,
            "failure_balance_transaction": None,
            "receipt_email": None,
            "on_behalf_of": None,
            "transfer_data": None,
            "source_transfer": None,
        },
    )
    charge["customer"] = customer
    charge["payment_intent"] = payment_intent
    details = charge.get("payment_method_details")
    if isinstance(details, dict):
        details["type"] = "card"
        card_details = details.get("card")
        if isinstance(card_details, dict):
            ctx.set(
                card_details,
                {"brand": card.brand, "last4": card.last4, "funding": card.funding},
            )
    links = _links(payment_intent=payment_intent, customer=customer)
    if card.outcome == "declined":
        apply_state(charge, "charge", "failed", at=ctx.request.now, link=links)
        ctx.set(charge, {"failure_code": card.code, "failure_message": card.message})
        ctx.set(
            charge,
            {
                "outcome": {
                    "network_status": "declined_by_network",
                    "reason": card.decline_code,
                    "risk_level": "normal",
                    "seller_message": "The bank did not return any further details with this "
                    "decline.",
                    "type": "issuer_declined",
                }
            },
        )
        return charge
    apply_state(
        charge, "charge", "succeeded" if captured else "uncaptured", at=ctx.request.now, link=links
    )
    charge["customer"], charge["payment_intent"] = customer, payment_intent
    if captured and "balance_transaction" in charge:
        charge["balance_transaction"] = _balance_transaction(ctx, charge, amount)
    ctx.set(
        charge,
        {
            "outcome": {
                "network_status": "approved_by_network",
                "reason": None,
                "risk_level": "normal",
                "seller_message": "Payment complete.",
                "type": "authorized",
            }
        },
    )
    return charge


def _card_error(
    card: TestCard,
    *,
    charge: Mapping[str, Any] | None,
    pm: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Stripe's ``card_error`` for a declined test card (``last_payment_error`` and the 402)."""
    code = card.code or "card_declined"
    error: dict[str, Any] = {}
    if charge is not None:
        error["charge"] = charge.get("id")
    error["code"] = code
    error["decline_code"] = card.decline_code
    error["doc_url"] = _ERROR_DOCS + code.replace("_", "-")
    error["message"] = card.message
    if pm is not None:
        error["payment_method"] = copy.deepcopy(dict(pm))
    error["type"] = "card_error"
    return error


# --- payment intents ----------------------------------------------------------------------------


@action("payment_intent", "create")
def create_payment_intent(ctx: ActionContext, _: dict[str, Any] | None) -> dict[str, Any]:
    """Create; ``confirm=true`` confirms in the same request (its events follow ``created``)."""
    params = ctx.params
    pm = None
    if params.get("payment_method") not in (None, ""):
        pm = payment_method(ctx, params["payment_method"], "payment_method")
    if params.get("customer") not in (None, ""):
        ctx.require(params["customer"], "customer", "customer")
    pi = ctx.generic()
    _fresh_payment_intent(ctx, pi)
    if pm is not None:
        pi["payment_method"] = pm["id"]
    state = "requires_payment_method" if pm is None else "requires_confirmation"
    apply_state(pi, "payment_intent", state, at=ctx.request.now, link=_links())
    ctx.emit_outcome("ok", pi)
    if _truthy(params.get("confirm")):
        _confirm(ctx, pi, pm)
    return pi


def _fresh_payment_intent(ctx: ActionContext, pi: dict[str, Any]) -> None:
    """A new intent has made nothing yet: the example's charge, customer, review are not its."""
    params = ctx.params
    pi["created"] = ctx.request.now
    ctx.set(
        pi,
        {
            "latest_charge": None,
            "customer": params.get("customer") or None,
            "review": None,
            "invoice": None,
            "application": None,
            "on_behalf_of": params.get("on_behalf_of") or None,
            "processing": None,
            "payment_method": None,
            "capture_method": params.get("capture_method") or "automatic",
            "confirmation_method": params.get("confirmation_method") or "automatic",
            "description": params.get("description") or None,
            "transfer_data": None,
            "canceled_at": None,
            "cancellation_reason": None,
        },
    )
    types = params.get("payment_method_types")
    if isinstance(types, list) and "payment_method_types" in pi:
        pi["payment_method_types"] = [str(item) for item in types]
    if "charges" in pi:
        pi["charges"] = {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/charges?payment_intent={pi['id']}",
        }


@action("payment_intent", "confirm")
def confirm_payment_intent(ctx: ActionContext, pi: dict[str, Any] | None) -> dict[str, Any]:
    assert pi is not None
    ctx.check_state(pi)
    pm = None
    if ctx.params.get("payment_method") not in (None, ""):
        pm = payment_method(ctx, ctx.params["payment_method"], "payment_method")
        pi["payment_method"] = pm["id"]
    elif isinstance(pi.get("payment_method"), str):
        pm = ctx.find(pi["payment_method"], "payment_method")
    _confirm(ctx, pi, pm)
    return pi


def _confirm(ctx: ActionContext, pi: dict[str, Any], pm: dict[str, Any] | None) -> None:
    """Attempt the payment: the test card decides (Stripe's Testing page)."""
    if pm is None:
        body = bodies.error(
            "invalid_request_error",
            "You cannot confirm this PaymentIntent because it's missing a payment method. To "
            "confirm the PaymentIntent, update it with a payment method or pass one when you "
            "confirm it.",
            code="payment_intent_unexpected_state",
            doc_url=_ERROR_DOCS + "payment-intent-unexpected-state",
            param="payment_method",
        )
        body["error"]["payment_intent"] = copy.deepcopy(pi)
        raise ActionError(400, body)
    card = card_of(pm)
    now = ctx.request.now
    if card.outcome == "requires_action" and pi.get("status") != "requires_action":
        apply_state(pi, "payment_intent", "requires_action", at=now, link=_links())
        ctx.emit_outcome("requires_action", pi, verb="confirm")
        return
    amount = _amount(pi.get("amount")) or 0
    manual = pi.get("capture_method") in ("manual", "manual_preferred")
    charge = _new_charge(
        ctx,
        amount=amount,
        currency=pi.get("currency"),
        pm=pm,
        card=card,
        captured=not manual,
        payment_intent=pi["id"],
        customer=pi.get("customer"),
        description=pi.get("description"),
        metadata=pi.get("metadata"),
    )
    _list_charge(pi, charge)
    links = _links(charge=charge["id"])
    if card.outcome == "declined":
        apply_state(pi, "payment_intent", "payment_failed", at=now, link=links)
        error = _card_error(card, charge=charge, pm=pm)
        pi["last_payment_error"] = error
        pi["payment_method"] = None
        ctx.emit_outcome("declined", charge, pi, verb="confirm")
        body = {"error": {**error, "payment_intent": copy.deepcopy(pi)}}
        body["error"] = dict(sorted(body["error"].items()))
        raise ActionError(402, body)
    if manual:
        apply_state(pi, "payment_intent", "requires_capture", at=now, link=links)
        ctx.emit_outcome("requires_capture", charge, pi, verb="confirm")
        return
    apply_state(pi, "payment_intent", "succeeded", at=now, link=links)
    if card.outcome != "dispute":
        ctx.emit_outcome("succeeded", charge, pi, verb="confirm")
        return
    dispute = _new_dispute(ctx, charge, card)
    outcome = "inquiry" if dispute.get("status") == "warning_needs_response" else "disputed"
    ctx.emit_outcome(outcome, charge, pi, dispute, verb="confirm")


def _list_charge(pi: dict[str, Any], charge: Mapping[str, Any]) -> None:
    """Older API versions list the intent's charges in ``charges``."""
    charges = pi.get("charges")
    if isinstance(charges, dict) and isinstance(charges.get("data"), list):
        charges["data"] = [copy.deepcopy(dict(charge))]
        charges["total_count"] = 1


def _new_dispute(ctx: ActionContext, charge: dict[str, Any], card: TestCard) -> dict[str, Any]:
    dispute = ctx.create(
        "dispute",
        {
            "amount": charge.get("amount"),
            "currency": charge.get("currency"),
            "charge": charge["id"],
            "payment_intent": charge.get("payment_intent"),
            "reason": card.dispute_reason,
            "created": ctx.request.now,
            "metadata": {},
            "balance_transactions": [],
        },
    )
    apply_state(dispute, "dispute", card.dispute_status, at=ctx.request.now, link=_links())
    dispute["status"] = card.dispute_status
    ctx.set(dispute, {"is_charge_refundable": card.dispute_status == "warning_needs_response"})
    ctx.set(charge, {"disputed": True, "dispute": dispute["id"]})
    return dispute


@action("payment_intent", "capture")
def capture_payment_intent(ctx: ActionContext, pi: dict[str, Any] | None) -> dict[str, Any]:
    assert pi is not None
    ctx.check_state(pi)
    capturable = _amount(pi.get("amount_capturable")) or _amount(pi.get("amount")) or 0
    wanted = ctx.params.get("amount_to_capture")
    amount = capturable if wanted in (None, "") else _amount(wanted)
    if amount is None or amount > capturable:
        body = bodies.error(
            "invalid_request_error",
            f"amount_to_capture must be at most the amount capturable ({capturable}).",
            param="amount_to_capture",
        )
        raise ActionError(400, body)
    charge = ctx.find(pi.get("latest_charge"), "charge")
    links = _links(charge=pi.get("latest_charge"))
    apply_state(pi, "payment_intent", "succeeded", at=ctx.request.now, link=links)
    pi["amount_received"] = amount
    if charge is None:  # its charge is not the fake's to see: the intent alone moves
        return pi
    ctx.set(
        charge,
        {
            "captured": True,
            "amount_captured": amount,
            # The uncaptured rest is released: Stripe shows it as refunded on the charge.
            "amount_refunded": (_amount(charge.get("amount")) or 0) - amount,
        },
    )
    if "balance_transaction" in charge:
        charge["balance_transaction"] = _balance_transaction(ctx, charge, amount)
    _list_charge(pi, charge)
    ctx.emit_outcome("ok", charge, pi)
    return pi


@action("payment_intent", "cancel")
def cancel_payment_intent(ctx: ActionContext, pi: dict[str, Any] | None) -> dict[str, Any]:
    assert pi is not None
    ctx.check_state(pi)
    apply_state(pi, "payment_intent", "canceled", at=ctx.request.now, link=_links())
    pi["cancellation_reason"] = ctx.params.get("cancellation_reason") or None
    ctx.emit_outcome("ok", pi)
    return pi


@action("payment_intent", "update")
def update_payment_intent(ctx: ActionContext, pi: dict[str, Any] | None) -> dict[str, Any]:
    assert pi is not None
    if "amount" in ctx.params:
        ctx.check_state(pi, "update_amount")
    pm = None
    if ctx.params.get("payment_method") not in (None, ""):
        pm = payment_method(ctx, ctx.params["payment_method"], "payment_method")
    updated = ctx.generic()
    if pm is not None:
        updated["payment_method"] = pm["id"]
        if updated.get("status") == "requires_payment_method":
            apply_state(
                updated,
                "payment_intent",
                "requires_confirmation",
                at=ctx.request.now,
                link=_links(),
            )
    ctx.emit_outcome("ok", updated)
    return updated


# --- customers ----------------------------------------------------------------------------------


@action("customer", "create")
def create_customer(ctx: ActionContext, _: dict[str, Any] | None) -> dict[str, Any]:
    """Create; a ``payment_method`` is attached to the new customer (its own event follows)."""
    pm = None
    if ctx.params.get("payment_method") not in (None, ""):
        pm = payment_method(ctx, ctx.params["payment_method"], "payment_method")
    customer = ctx.generic()
    customer["created"] = ctx.request.now
    ctx.set(
        customer,
        {
            "default_source": None,
            "invoice_settings": {
                **(customer.get("invoice_settings") or {}),
                "default_payment_method": None,
            },
            "test_clock": None,
            "balance": 0,
            "delinquent": False,
            "discount": None,
        },
    )
    for name in ("email", "name", "description", "phone"):
        if name in customer:
            customer[name] = ctx.params.get(name) or None
    _apply_nested(ctx, customer)
    ctx.emit_outcome("ok", customer)
    if pm is not None:
        pm["customer"] = customer["id"]
        ctx.emit_outcome("ok", pm, object_type="payment_method", verb="attach")
    return customer


def _apply_nested(ctx: ActionContext, customer: dict[str, Any]) -> None:
    """``invoice_settings[default_payment_method]`` names a payment method of the customer."""
    settings = ctx.params.get("invoice_settings")
    if isinstance(settings, Mapping) and "default_payment_method" in settings:
        value = settings["default_payment_method"] or None
        holder = customer.get("invoice_settings")
        if isinstance(holder, dict):
            holder["default_payment_method"] = value


@action("customer", "update")
def update_customer(ctx: ActionContext, customer: dict[str, Any] | None) -> dict[str, Any]:
    assert customer is not None
    before = copy.deepcopy(customer)
    updated = ctx.generic()
    previous = _previous(before, updated)
    if previous:
        ctx.emit_outcome("ok", updated, previous_attributes=previous)
    return updated


@action("customer", "delete")
def delete_customer(ctx: ActionContext, customer: dict[str, Any] | None) -> dict[str, Any]:
    assert customer is not None
    snapshot = copy.deepcopy(customer)
    answer = ctx.generic()
    ctx.emit_outcome("ok", snapshot)
    return answer


def _previous(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """``previous_attributes``: each top-level field that changed, with its value before; a
    changed hash gives only its changed keys (a removed metadata key's previous value, an added
    one's ``null``), as Stripe's events do."""
    previous: dict[str, Any] = {}
    for name, value in before.items():
        now = after.get(name)
        if now == value:
            continue
        if isinstance(value, dict) and isinstance(now, dict):
            inner = {
                key: value.get(key) for key in {*value, *now} if value.get(key) != now.get(key)
            }
            previous[name] = dict(sorted(inner.items()))
        else:
            previous[name] = copy.deepcopy(value)
    return previous
