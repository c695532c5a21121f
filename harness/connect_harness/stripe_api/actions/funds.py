"""A customer's cash balance on the fake: bank transfers paid into it (the
``fund_cash_balance`` test helper) and Stripe's automatic reconciliation of them against the
customer's waiting ``customer_balance`` payment intents.

Rows: :mod:`connect_harness.lifecycle.emissions` (``customer_cash_balance_transaction`` ``create``,
``payment_intent`` ``apply_funds``). Sources: docs.stripe.com/payments/customer-balance/reconciliation
(automatic reconciliation, Stripe's default: new funds pay the customer's open PaymentIntents) and
each event's "Occurs when..." text in Stripe's API description. Manual reconciliation is not
modelled: every customer's balance reconciles automatically.
"""

from __future__ import annotations

from typing import Any

from connect_harness.lifecycle.emissions import emission
from connect_harness.lifecycle.states import apply_state
from connect_harness.stripe_api.actions import ActionContext, action
from connect_harness.stripe_api.actions.cards import (
    link_ids,
    new_charge,
    ordinary_card,
    whole_amount,
)
from connect_harness.stripe_api.actions.rules import Obj, visible
from connect_harness.stripe_api.store import Store, Stored

__all__ = ["bank_transfer_instructions", "cash_balance_of", "waits_for_funds"]

#: The bank transfer type a currency's funds arrive by (the description's
#: ``funded.bank_transfer.type`` enum, one per currency Stripe takes bank transfers in).
_TRANSFER_BY_CURRENCY = {
    "eur": "eu_bank_transfer",
    "gbp": "gb_bank_transfer",
    "jpy": "jp_bank_transfer",
    "mxn": "mx_bank_transfer",
    "usd": "us_bank_transfer",
}


def waits_for_funds(pi: Obj) -> bool:
    """A ``customer_balance`` payment intent waiting for a bank transfer (``requires_action``)."""
    waiting = pi.get("next_action")
    return (
        pi.get("status") == "requires_action"
        and isinstance(waiting, dict)
        and waiting.get("type") == "display_bank_transfer_instructions"
    )


def bank_transfer_instructions(pi: Obj, params: Any) -> dict[str, Any]:
    """``next_action`` of a ``customer_balance`` payment intent waiting for its transfer: the
    amount still to come and how (docs.stripe.com/payments/bank-transfers/accept-a-payment:
    confirming leaves it ``requires_action`` with ``display_bank_transfer_instructions``)."""
    currency = str(pi.get("currency") or "usd")
    options = params.get("customer_balance") if isinstance(params, dict) else None
    transfer = options.get("bank_transfer") if isinstance(options, dict) else None
    kind = transfer.get("type") if isinstance(transfer, dict) else None
    return {
        "display_bank_transfer_instructions": {
            "amount_remaining": whole_amount(pi.get("amount")) or 0,
            "currency": currency,
            "financial_addresses": [],
            "hosted_instructions_url": None,
            "reference": str(pi.get("id", ""))[-10:].upper(),
            "type": kind or _TRANSFER_BY_CURRENCY.get(currency, "us_bank_transfer"),
        },
        "type": "display_bank_transfer_instructions",
    }


def _cash_balance(ctx: ActionContext, customer: Obj, currency: str) -> dict[str, Any]:
    """The customer's cash balance, as ``GET /v1/customers/{customer}/cash_balance`` serves it."""
    balance = cash_balance_of(ctx.store, str(customer["id"]), ctx.owner, ctx.live)
    if not isinstance(balance.get("available"), dict):
        balance["available"] = {}
    balance["available"].setdefault(currency, 0)
    return balance


def cash_balance_of(store: Store, customer: str, owner: str | None, live: bool) -> dict[str, Any]:
    """Customer ``customer``'s cash balance object: what ``GET
    /v1/customers/{customer}/cash_balance`` serves and expanding a customer's ``cash_balance``
    includes. It names its customer and holds no funds until funded (the example's amounts are not
    this customer's)."""
    # The key the dispatcher serves that singleton under (dispatch.Dispatcher._singleton).
    key = "/".join(
        (
            "/v1/customers/{customer}/cash_balance",
            customer,
            owner or "platform",
            "live" if live else "test",
        )
    )
    stored = store.objects.get(key)
    if stored is None:
        stored = store.objects[key] = Stored("cash_balance", None, owner, live)
    balance = store.materialize(stored)
    notes = store.notes.setdefault(key, set())
    if stored.type == "cash_balance" and "cash balance kept" not in notes:
        notes.add("cash balance kept")
        balance["available"] = {}
        balance["customer"] = customer
    return balance


@action("customer_cash_balance_transaction", "create")
def fund_cash_balance(ctx: ActionContext, _: Obj | None) -> Obj:
    """``POST /v1/test_helpers/customers/{customer}/fund_cash_balance``: a ``funded`` transaction,
    then the funds paid into the customer's oldest waiting payment intents first, then
    ``cash_balance.funds_available`` when some are left."""
    customer = ctx.require(ctx.path_values.get("customer"), "customer", "customer")
    amount = whole_amount(ctx.params.get("amount")) or 0
    currency = str(ctx.params.get("currency") or "usd").lower()
    transaction = ctx.generic()
    balance = _cash_balance(ctx, customer, currency)
    balance["available"][currency] += amount
    funded = transaction.get("funded")
    if isinstance(funded, dict) and isinstance(funded.get("bank_transfer"), dict):
        transfer = funded["bank_transfer"]
        kind = _TRANSFER_BY_CURRENCY.get(currency, "us_bank_transfer")
        for name in list(transfer):
            if name.endswith("_bank_transfer") and name != kind:
                transfer[name] = None
        transfer["type"] = kind
        if ctx.params.get("reference"):
            transfer["reference"] = ctx.params["reference"]
    ctx.set(
        transaction,
        {
            "created": ctx.request.now,
            "currency": currency,
            "customer": customer["id"],
            "net_amount": amount,
            "ending_balance": balance["available"][currency],
            "type": "funded",
        },
    )
    pis = [  # oldest first (the store lists newest first)
        pi
        for pi in reversed(visible(ctx, "payment_intent"))
        if pi.get("customer") == customer["id"]
        and pi.get("currency") == currency
        and waits_for_funds(pi)
    ]
    # The transaction's own event first, then what reconciling it does, then what is left.
    left = emission(ctx.object_type, "create", "funds_left").events
    ctx.emit(left[0], transaction)
    for pi in pis:
        _apply(ctx, pi, balance, currency)
    if balance["available"][currency] > 0:
        for event_type in left[1:]:
            ctx.emit(event_type, balance)
    return transaction


def _apply(ctx: ActionContext, pi: Obj, balance: dict[str, Any], currency: str) -> None:
    """Pay what the balance holds into ``pi``: partly (``amount_remaining`` falls) or wholly (the
    intent succeeds with its charge)."""
    instructions = pi["next_action"]["display_bank_transfer_instructions"]
    remaining = whole_amount(instructions.get("amount_remaining")) or 0
    applied = min(remaining, balance["available"][currency])
    if applied <= 0:
        return
    balance["available"][currency] -= applied
    if applied < remaining:
        instructions["amount_remaining"] = remaining - applied
        ctx.emit_outcome("partially_funded", pi, object_type="payment_intent", verb="apply_funds")
        return
    pm = ctx.find(pi.get("payment_method"), "payment_method") or {}
    charge = new_charge(
        ctx,
        amount=whole_amount(pi.get("amount")) or 0,
        currency=currency,
        pm=pm,
        card=ordinary_card(),
        captured=True,
        payment_intent=pi["id"],
        customer=pi.get("customer"),
        description=pi.get("description"),
        metadata=pi.get("metadata"),
    )
    details = charge.get("payment_method_details")
    if isinstance(details, dict):
        details["type"] = "customer_balance"
    named = link_ids(charge=charge["id"])
    apply_state(pi, "payment_intent", "succeeded", at=ctx.request.now, link=named)
    ctx.emit_outcome("funded", charge, pi, object_type="payment_intent", verb="apply_funds")
