"""Stripe's test cards as the fake's objects: payment methods made from a test card's name, the
charge a payment makes with one (succeeded, uncaptured or declined as the card says), Stripe's
``card_error`` for a declined one. Shared by the payment actions of this package.

What a test card does: :mod:`connect_harness.lifecycle.test_values` (Stripe's Testing page).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from connect_harness.lifecycle.states import apply_state
from connect_harness.lifecycle.test_values import TEST_CARDS, TestCard, card_for
from connect_harness.stripe_api import bodies
from connect_harness.stripe_api.actions import ActionContext, ActionError

ERROR_DOCS = "https://stripe.com/docs/error-codes/"

#: Payment method types whose payments are not confirmed at once: a payment intent confirmed with
#: one is ``processing`` until the bank answers, days later (e.g.
#: https://docs.stripe.com/payments/sepa-debit/accept-a-payment, "Confirm the PaymentIntent":
#: processing, then succeeded or payment_failed asynchronously).
DELAYED_TYPES = frozenset(
    {"sepa_debit", "us_bank_account", "bacs_debit", "au_becs_debit", "acss_debit"}
)

# A payment method created from a test card's name renders the card as Stripe's Testing page
# lists it; the cards by last four digits, for payment methods the fake did not make itself.
_CARDS_BY_LAST4: dict[str, TestCard] = {}


def truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def whole_amount(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def link_ids(**ids: Any) -> Any:
    """A ``link`` for :func:`apply_state`: the ids the state's fields name."""
    return lambda object_type: ids.get(object_type)


# --- payment methods and test cards -----------------------------------------------------------


def _test_card(ctx: ActionContext, name: str) -> TestCard | None:
    card = card_for(name)
    if card is None and (name.startswith("pm_card_") or name.startswith("tok_")):
        return card_for("pm_card_visa")  # a test card the table does not list: an ordinary card
    return card


def card_payment_method(ctx: ActionContext, card: TestCard) -> dict[str, Any]:
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
            return card_payment_method(ctx, card)
    found = ctx.find(value, "payment_method")
    if found is None:
        body = bodies.no_such("PaymentMethod", str(value))
        body["error"]["param"] = param
        raise ActionError(404, body)
    check_reuse(ctx, found)
    return found


def method_from_data(ctx: ActionContext, data: Mapping[str, Any]) -> dict[str, Any]:
    """The payment method ``payment_method_data`` describes: a new one of its ``type``
    (api: POST /v1/payment_intents, payment_method_data: 'this hash will be used to create a
    PaymentMethod')"""
    kind = str(data.get("type") or "card")
    pm = ctx.create("payment_method", {"type": kind, "customer": None})
    pm["created"] = ctx.request.now
    if kind != "card":
        ctx.set(pm, {"card": None})
    for name, value in data.items():
        if name in pm and name not in ("type", "id", "object", kind):
            pm[name] = copy.deepcopy(value)
    from connect_harness.stripe_api.actions.later import remember_account  # later imports us

    remember_account(ctx, pm, data)
    return pm


def attachment(ctx: ActionContext, pm: Mapping[str, Any]) -> str:
    """A payment method's state: ``attached`` to a customer, ``detached`` from one, or
    ``unattached`` (never attached)."""
    if pm.get("customer"):
        return "attached"
    return "detached" if ctx.noted(pm, "detached") else "unattached"


def check_reuse(ctx: ActionContext, pm: Mapping[str, Any]) -> None:
    """A detached payment method "can no longer be used for a payment or re-attached"."""
    ctx.check_state(pm, "reuse", state=attachment(ctx, pm), object_type="payment_method")


def card_of(pm: Mapping[str, Any]) -> TestCard:
    """The test card behind a payment method (an unknown card is an ordinary one that succeeds)."""
    details = pm.get("card")
    last4 = details.get("last4") if isinstance(details, Mapping) else None
    found = _CARDS_BY_LAST4.get(str(last4)) or _card_by_last4(str(last4))
    return found or ordinary_card()


def _card_by_last4(last4: str) -> TestCard | None:

    for card in TEST_CARDS:
        if card.last4 == last4:
            return card
    return None


def ordinary_card() -> TestCard:
    card = card_for("pm_card_visa")
    assert card is not None
    return card


# --- charges ----------------------------------------------------------------------------------


def balance_transaction(ctx: ActionContext, charge: Mapping[str, Any], amount: int) -> str:
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


def new_charge(
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
    named = link_ids(payment_intent=payment_intent, customer=customer)
    if card.outcome == "declined":
        apply_state(charge, "charge", "failed", at=ctx.request.now, link=named)
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
        charge, "charge", "succeeded" if captured else "uncaptured", at=ctx.request.now, link=named
    )
    charge["customer"], charge["payment_intent"] = customer, payment_intent
    if captured and "balance_transaction" in charge:
        charge["balance_transaction"] = balance_transaction(ctx, charge, amount)
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


def card_error(
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
    error["doc_url"] = ERROR_DOCS + code.replace("_", "-")
    error["message"] = card.message
    if pm is not None:
        error["payment_method"] = copy.deepcopy(dict(pm))
    error["type"] = "card_error"
    return error


def brand_name(brand: str) -> str:
    """A card object spells the brand as a name (``Visa``), a payment method in lower case."""
    return {"amex": "American Express", "diners": "Diners Club", "unionpay": "UnionPay"}.get(
        brand, brand.capitalize() if brand != "jcb" else "JCB"
    )


def refuse_declined_attach(card: TestCard, pm: Mapping[str, Any] | None = None) -> None:
    """A card Stripe's Testing page declines already when it is attached to a customer: 402."""
    if card.attach_declined:
        raise ActionError(402, {"error": card_error(card, charge=None, pm=pm)})


def method_to_confirm(ctx: ActionContext, intent: dict[str, Any]) -> dict[str, Any] | None:
    """The payment method a confirm of ``intent`` (a payment or setup intent) uses: the one the
    request names (recorded on the intent), else the one the intent already has."""
    if ctx.params.get("payment_method") not in (None, ""):
        pm = payment_method(ctx, ctx.params["payment_method"], "payment_method")
        intent["payment_method"] = pm["id"]
        return pm
    if isinstance(intent.get("payment_method"), str):
        return ctx.find(intent["payment_method"], "payment_method")
    return None


def missing_payment_method(intent: dict[str, Any], *, kind: str, name: str) -> ActionError:
    """Stripe's 400 for confirming an intent without a payment method: ``kind`` is its object
    (``payment_intent``), ``name`` how the message calls it (``PaymentIntent``)."""
    how = (
        f"To confirm the {name}, update it with a payment method or pass one when you confirm it."
        if kind == "payment_intent"
        else "Update it with a payment method or pass one when you confirm it."
    )
    body = bodies.error(
        "invalid_request_error",
        f"You cannot confirm this {name} because it's missing a payment method. {how}",
        code=f"{kind}_unexpected_state",
        doc_url=ERROR_DOCS + f"{kind.replace('_', '-')}-unexpected-state",
        param="payment_method",
    )
    body["error"][kind] = copy.deepcopy(intent)
    return ActionError(400, body)
