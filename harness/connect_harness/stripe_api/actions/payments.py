"""Payments on the fake: payment intents and the charges they make, charges, refunds, disputes.

What each action may start from and the error otherwise: :mod:`connect_harness.lifecycle.transitions`.
Which events each outcome emits: :mod:`connect_harness.lifecycle.emissions`. The fields each state
implies: :func:`connect_harness.lifecycle.states.apply_state`. What a test card does:
:mod:`connect_harness.lifecycle.test_values`.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from connect_harness.lifecycle.states import apply_state
from connect_harness.lifecycle.test_values import TestCard, card_for
from connect_harness.stripe_api import bodies
from connect_harness.stripe_api.actions import (
    ActionContext,
    ActionError,
    action,
    previous_attributes,
    update_emitting_changes,
)
from connect_harness.stripe_api.actions.cards import (
    DELAYED_TYPES,
    balance_transaction,
    brand_name,
    card_error,
    card_of,
    link_ids,
    method_from_data,
    method_to_confirm,
    missing_payment_method,
    new_charge,
    payment_method,
    truthy,
    whole_amount,
)
from connect_harness.stripe_api.actions.funds import bank_transfer_instructions
from connect_harness.stripe_api.actions.later import (
    fail_refund_later,
    reinstate_funds_later,
    settle_debit_later,
    withdraw_funds_later,
)
from connect_harness.stripe_api.store import Stored, balance_key

# --- payment intents ----------------------------------------------------------------------------


@action("payment_intent", "create")
def create_payment_intent(ctx: ActionContext, _: dict[str, Any] | None) -> dict[str, Any]:
    """Create; ``confirm=true`` confirms in the same request (its events follow ``created``)."""
    params = ctx.params
    pm = None
    if params.get("payment_method") not in (None, ""):
        pm = payment_method(ctx, params["payment_method"], "payment_method")
    elif isinstance(params.get("payment_method_data"), dict):
        pm = method_from_data(ctx, params["payment_method_data"])
    if params.get("customer") not in (None, ""):
        ctx.require(params["customer"], "customer", "customer")
    pi = ctx.generic()
    fresh_payment_intent(ctx, pi)
    if pm is not None:
        pi["payment_method"] = pm["id"]
    state = "requires_payment_method" if pm is None else "requires_confirmation"
    apply_state(pi, "payment_intent", state, at=ctx.request.now, link=link_ids())
    ctx.emit_outcome("ok", pi)
    if truthy(params.get("confirm")):
        confirm_intent(ctx, pi, pm)
    return pi


def fresh_payment_intent(ctx: ActionContext, pi: dict[str, Any]) -> None:
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
            "canceled_at": None,
            "cancellation_reason": None,
        },
    )
    transfer = params.get("transfer_data")
    if "transfer_data" in pi:
        given: dict[str, Any] | None = None
        if isinstance(transfer, Mapping) and transfer:
            given = {"amount": None, **transfer}  # Stripe's key order: amount, destination
            given["amount"] = whole_amount(transfer.get("amount"))
        pi["transfer_data"] = given
    types = params.get("payment_method_types")
    if isinstance(types, list) and "payment_method_types" in pi:
        pi["payment_method_types"] = [str(item) for item in types]
        if "automatic_payment_methods" not in params:  # the types were chosen, not automatic
            ctx.set(pi, {"automatic_payment_methods": None})
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
    confirm_intent(ctx, pi, method_to_confirm(ctx, pi))
    return pi


def confirm_intent(
    ctx: ActionContext,
    pi: dict[str, Any],
    pm: dict[str, Any] | None,
    *,
    then: Callable[[str], None] | None = None,
) -> None:
    """Attempt the payment: the test card decides (Stripe's Testing page). A delayed debit is
    ``processing``; its outcome follows later (``then`` gets it, after its events)."""
    if pm is None:
        raise missing_payment_method(pi, kind="payment_intent", name="PaymentIntent")
    card = card_of(pm)
    now = ctx.request.now
    if pm.get("type") == "customer_balance":  # paid later by bank transfer into the cash balance
        apply_state(pi, "payment_intent", "requires_action", at=now, link=link_ids())
        pi["next_action"] = bank_transfer_instructions(
            pi, ctx.params.get("payment_method_options") or pi.get("payment_method_options")
        )
        ctx.emit_outcome("awaiting_transfer", pi, verb="confirm")
        return
    if card.outcome == "requires_action" and pi.get("status") != "requires_action":
        apply_state(pi, "payment_intent", "requires_action", at=now, link=link_ids())
        ctx.emit_outcome("requires_action", pi, verb="confirm")
        return
    amount = whole_amount(pi.get("amount")) or 0
    manual = pi.get("capture_method") in ("manual", "manual_preferred")
    charge = new_charge(
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
    named = link_ids(charge=charge["id"])
    if pm.get("type") in DELAYED_TYPES:
        apply_state(charge, "charge", "pending", at=now, link=named)
        details = charge.get("payment_method_details")
        if isinstance(details, dict):
            details["type"] = pm["type"]
        ctx.set(charge, {"captured": True, "balance_transaction": None})
        apply_state(pi, "payment_intent", "processing", at=now, link=named)
        ctx.set(pi, {"latest_charge": charge["id"]})
        ctx.emit_outcome("processing", charge, pi, verb="confirm")
        settle_debit_later(ctx, pi, charge, pm, then)
        return
    if card.outcome == "declined":
        apply_state(pi, "payment_intent", "payment_failed", at=now, link=named)
        error = card_error(card, charge=charge, pm=pm)
        pi["last_payment_error"] = error
        pi["payment_method"] = None
        ctx.emit_outcome("declined", charge, pi, verb="confirm")
        body = {"error": {**error, "payment_intent": copy.deepcopy(pi)}}
        body["error"] = dict(sorted(body["error"].items()))
        raise ActionError(402, body)
    if manual:
        apply_state(pi, "payment_intent", "requires_capture", at=now, link=named)
        ctx.emit_outcome("requires_capture", charge, pi, verb="confirm")
        return
    apply_state(pi, "payment_intent", "succeeded", at=now, link=named)
    if card.outcome != "dispute" and card.available_at_once:
        balance = _credit_available(ctx, charge)
        ctx.emit_outcome("available", charge, pi, balance, verb="confirm")
        return
    if card.outcome != "dispute":
        ctx.emit_outcome("succeeded", charge, pi, verb="confirm")
        return
    dispute = new_dispute(ctx, charge, card)
    outcome = "inquiry" if dispute.get("status") == "warning_needs_response" else "disputed"
    ctx.emit_outcome(outcome, charge, pi, dispute, verb="confirm")
    withdraw_funds_later(ctx, dispute)


def _credit_available(ctx: ActionContext, charge: Mapping[str, Any]) -> dict[str, Any]:
    """The acting account's balance with ``charge``'s amount added to its available funds."""
    key = balance_key(ctx.owner, ctx.live)
    stored = ctx.store.objects.get(key)
    if stored is None:
        stored = ctx.store.objects[key] = Stored("balance", None, ctx.owner, ctx.live)
    balance = ctx.store.materialize(stored)
    amount, currency = charge.get("amount"), charge.get("currency")
    available = balance.get("available")
    if isinstance(available, list) and isinstance(amount, int):
        for entry in available:
            if isinstance(entry, dict) and entry.get("currency") == currency:
                entry["amount"] = int(entry.get("amount") or 0) + amount
                break
        else:
            available.append(
                {"amount": amount, "currency": currency, "source_types": {"card": amount}}
            )
    return balance


def _list_charge(pi: dict[str, Any], charge: Mapping[str, Any]) -> None:
    """Older API versions list the intent's charges in ``charges``."""
    charges = pi.get("charges")
    if isinstance(charges, dict) and isinstance(charges.get("data"), list):
        charges["data"] = [copy.deepcopy(dict(charge))]
        charges["total_count"] = 1


def new_dispute(ctx: ActionContext, charge: dict[str, Any], card: TestCard) -> dict[str, Any]:
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
    apply_state(dispute, "dispute", card.dispute_status, at=ctx.request.now, link=link_ids())
    dispute["status"] = card.dispute_status
    ctx.set(dispute, {"is_charge_refundable": card.dispute_status == "warning_needs_response"})
    ctx.set(charge, {"disputed": True, "dispute": dispute["id"]})
    return dispute


@action("payment_intent", "capture")
def capture_payment_intent(ctx: ActionContext, pi: dict[str, Any] | None) -> dict[str, Any]:
    assert pi is not None
    ctx.check_state(pi)
    capturable = whole_amount(pi.get("amount_capturable")) or whole_amount(pi.get("amount")) or 0
    wanted = ctx.params.get("amount_to_capture")
    amount = capturable if wanted in (None, "") else whole_amount(wanted)
    if amount is None or amount > capturable:
        body = bodies.error(
            "invalid_request_error",
            f"amount_to_capture must be at most the amount capturable ({capturable}).",
            param="amount_to_capture",
        )
        raise ActionError(400, body)
    charge = ctx.find(pi.get("latest_charge"), "charge")
    named = link_ids(charge=pi.get("latest_charge"))
    apply_state(pi, "payment_intent", "succeeded", at=ctx.request.now, link=named)
    pi["amount_received"] = amount
    if charge is None:  # its charge is not the fake's to see: the intent alone moves
        return pi
    # The uncaptured rest is released; amount_refunded counts refunds of captured money only.
    ctx.set(charge, {"captured": True, "amount_captured": amount})
    if "balance_transaction" in charge:
        charge["balance_transaction"] = balance_transaction(ctx, charge, amount)
    _list_charge(pi, charge)
    ctx.emit_outcome("ok", charge, pi)
    return pi


@action("payment_intent", "cancel")
def cancel_payment_intent(ctx: ActionContext, pi: dict[str, Any] | None) -> dict[str, Any]:
    assert pi is not None
    ctx.check_state(pi)
    held = pi.get("status") == "requires_capture"
    capturable = whole_amount(pi.get("amount_capturable")) or 0
    apply_state(pi, "payment_intent", "canceled", at=ctx.request.now, link=link_ids())
    pi["cancellation_reason"] = ctx.params.get("cancellation_reason") or None
    charge = ctx.find(pi.get("latest_charge"), "charge") if held else None
    if charge is None:
        ctx.emit_outcome("ok", pi)
        return pi
    # "the remaining amount_capturable is automatically refunded" (the cancel endpoint's text)
    refunded = (whole_amount(charge.get("amount_refunded")) or 0) + capturable
    ctx.set(charge, {"amount_refunded": refunded, "refunded": True})
    ctx.emit_outcome("released", charge, pi)
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
        # "updating the payment_method always requires you to confirm the PaymentIntent again"
        if updated.get("status") in ("requires_payment_method", "requires_action"):
            apply_state(
                updated,
                "payment_intent",
                "requires_confirmation",
                at=ctx.request.now,
                link=link_ids(),
            )
    ctx.emit_outcome("ok", updated)
    return updated


# --- charges ------------------------------------------------------------------------------------


@action("charge", "create")
def create_charge(ctx: ActionContext, _: dict[str, Any] | None) -> dict[str, Any]:
    """A charge of a ``source`` (a ``tok_*``, a card) or of a customer's default source."""
    params = ctx.params
    source = params.get("source")
    customer = params.get("customer") or None
    if customer is not None:
        found = ctx.require(customer, "customer", "customer")
        source = source or found.get("default_source")
    if not isinstance(source, str) or not source:
        return ctx.generic()
    card = card_for(source)
    if card is not None:  # a token makes a card, as on Stripe
        card_obj = ctx.create(
            "card",
            {"brand": brand_name(card.brand), "last4": card.last4, "funding": card.funding},
        )
        ctx.set(card_obj, {"customer": None, "account": None})
    else:
        found_card = ctx.find(source)
        if found_card is None:
            body = bodies.no_such("source", source)
            body["error"]["param"] = "source"
            raise ActionError(404, body)
        card_obj = found_card
        card = card_of({"card": card_obj})
    if card.outcome == "requires_action":
        # A charge cannot authenticate: the card's issuer declines it. Decline codes:
        # https://docs.stripe.com/declines/codes (authentication_required).
        card = dataclasses.replace(
            card,
            outcome="declined",
            code="card_declined",
            decline_code="authentication_required",
            message="Your card was declined. This transaction requires authentication.",
        )
    amount = whole_amount(params.get("amount")) or 0
    charge = new_charge(
        ctx,
        amount=amount,
        currency=params.get("currency"),
        pm=None,
        card=card,
        captured=params.get("capture") in (None, "", True, "true"),
        payment_intent=None,
        customer=customer,
        description=params.get("description") or None,
        metadata=params.get("metadata") if isinstance(params.get("metadata"), dict) else {},
    )
    ctx.set(charge, {"payment_method": card_obj.get("id"), "source": copy.deepcopy(card_obj)})
    if card.outcome == "declined":
        ctx.emit_outcome("declined", charge)
        raise ActionError(402, {"error": card_error(card, charge=charge, pm=None)})
    ctx.emit_outcome("succeeded", charge)
    return charge


@action("charge", "capture")
def capture_charge(ctx: ActionContext, charge: dict[str, Any] | None) -> dict[str, Any]:
    assert charge is not None
    ctx.check_state(charge)
    whole = whole_amount(charge.get("amount")) or 0
    wanted = ctx.params.get("amount")
    amount = whole if wanted in (None, "") else (whole_amount(wanted) or 0)
    ctx.set(charge, {"captured": True, "amount_captured": amount})
    if "balance_transaction" in charge:
        charge["balance_transaction"] = balance_transaction(ctx, charge, amount)
    ctx.emit_outcome("ok", charge)
    return charge


@action("charge", "update")
def update_charge(ctx: ActionContext, charge: dict[str, Any] | None) -> dict[str, Any]:
    assert charge is not None
    return update_emitting_changes(ctx, charge)


@action("charge", "refund")
def refund_charge(ctx: ActionContext, charge: dict[str, Any] | None) -> dict[str, Any]:
    """The legacy ``POST /v1/charges/{charge}/refund``: a refund; the answer is the charge."""
    assert charge is not None
    _refund(ctx, charge, verb="create")
    return charge


# --- refunds ------------------------------------------------------------------------------------


@action("refund", "create")
def create_refund(ctx: ActionContext, _: dict[str, Any] | None) -> dict[str, Any]:
    """Refund a charge (``charge``, or a payment intent's latest charge), whole or in part."""
    charge_id = ctx.params.get("charge") or ctx.path_values.get("charge")
    if not charge_id and ctx.params.get("payment_intent"):
        pi = ctx.require(ctx.params["payment_intent"], "payment_intent", "payment_intent")
        charge_id = pi.get("latest_charge")
        if not charge_id:
            body = bodies.error(
                "invalid_request_error",
                f"This PaymentIntent ({pi['id']}) does not have a successful charge to refund.",
                param="payment_intent",
            )
            raise ActionError(400, body)
    if not charge_id:
        return ctx.generic()
    charge = ctx.require(charge_id, "charge", "charge")
    return _refund(ctx, charge, verb="create")


def _refund(ctx: ActionContext, charge: dict[str, Any], *, verb: str) -> dict[str, Any]:
    ctx.check_state(
        charge,
        "refund",
        state="refunded" if charge.get("refunded") else "refundable",
        object_type="charge",
    )
    captured = charge.get("amount_captured")
    whole = whole_amount(captured) if captured is not None else whole_amount(charge.get("amount"))
    refundable = (whole or 0) - (whole_amount(charge.get("amount_refunded")) or 0)
    wanted = ctx.params.get("amount")
    amount = refundable if wanted in (None, "") else whole_amount(wanted)
    if amount is None or amount > refundable:
        body = bodies.error(
            "invalid_request_error",
            f"Refund amount ({wanted}) is greater than unrefunded amount on charge ({refundable}).",
            param="amount",
        )
        raise ActionError(400, body)
    refund = ctx.create(
        "refund",
        {
            "amount": amount,
            "charge": charge["id"],
            "payment_intent": charge.get("payment_intent"),
            "currency": charge.get("currency"),
            "created": ctx.request.now,
            "status": "succeeded",
            "reason": ctx.params.get("reason") or None,
            "metadata": copy.deepcopy(ctx.params.get("metadata"))
            if isinstance(ctx.params.get("metadata"), dict)
            else {},
            "failure_reason": None,
            "failure_balance_transaction": None,
            "next_action": None,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "transfer_reversal": None,
            "instructions_email": None,
        },
    )
    if "balance_transaction" in refund:
        bt = ctx.create(
            "balance_transaction",
            {
                "amount": -amount,
                "currency": charge.get("currency"),
                "source": refund["id"],
                "type": "refund",
                "status": "pending",
                "created": ctx.request.now,
                "fee": 0,
                "net": -amount,
            },
        )
        refund["balance_transaction"] = bt["id"]
    refunded = (whole_amount(charge.get("amount_refunded")) or 0) + amount
    # "Whether the charge has been fully refunded": its whole amount (a partially captured charge
    # refunded in full has had only its captured part back).
    whole_charge = whole_amount(charge.get("amount")) or 0
    ctx.set(charge, {"amount_refunded": refunded, "refunded": refunded >= whole_charge})
    refunds = charge.get("refunds")
    if isinstance(refunds, dict) and isinstance(refunds.get("data"), list):
        refunds["data"] = [copy.deepcopy(refund), *refunds["data"]]
        if isinstance(refunds.get("total_count"), int):
            refunds["total_count"] = len(refunds["data"])
    ctx.emit_outcome("ok", charge, refund, object_type="refund", verb=verb)
    paid_with = ctx.find(charge.get("payment_method"), "payment_method")
    if paid_with is not None and card_of(paid_with).outcome == "refund_fail":
        fail_refund_later(ctx, refund, charge)
    return refund


@action("refund", "update")
def update_refund(ctx: ActionContext, refund: dict[str, Any] | None) -> dict[str, Any]:
    assert refund is not None
    return update_emitting_changes(ctx, refund)


@action("refund", "cancel")
def cancel_refund(ctx: ActionContext, refund: dict[str, Any] | None) -> dict[str, Any]:
    assert refund is not None
    ctx.check_state(refund)
    previous = {"status": refund.get("status")}
    refund["status"] = "canceled"
    charge = ctx.find(refund.get("charge"), "charge")
    if charge is not None:
        refunded = max(
            (whole_amount(charge.get("amount_refunded")) or 0) - (refund["amount"] or 0), 0
        )
        ctx.set(charge, {"amount_refunded": refunded, "refunded": False})
    ctx.emit_outcome("ok", refund, previous_attributes=previous)
    return refund


# --- disputes -----------------------------------------------------------------------------------

# Stripe's Testing page, "Disputes": evidence whose uncategorized_text is one of these closes the
# dispute with that result.
_TEST_EVIDENCE = {"winning_evidence": "won", "losing_evidence": "lost"}
_CLOSED = {"won", "lost", "warning_closed"}


@action("dispute", "update")
def update_dispute(ctx: ActionContext, dispute: dict[str, Any] | None) -> dict[str, Any]:
    assert dispute is not None
    before = copy.deepcopy(dispute)
    evidence = ctx.params.get("evidence")
    updated = ctx.generic()
    submitted = isinstance(evidence, Mapping) and ctx.params.get("submit") not in (False, "false")
    inquiry = str(before.get("status", "")).startswith("warning_")
    if submitted and before.get("status") not in _CLOSED:
        details = updated.get("evidence_details")
        if isinstance(details, dict):
            count = details.get("submission_count")
            details["has_evidence"] = True
            details["submission_count"] = (count if isinstance(count, int) else 0) + 1
        updated["status"] = "warning_under_review" if inquiry else "under_review"
    previous = previous_attributes(before, updated)
    if previous:
        ctx.emit_outcome("ok", updated, previous_attributes=previous)
    text = evidence.get("uncategorized_text") if isinstance(evidence, Mapping) else None
    result = _TEST_EVIDENCE.get(str(text)) if submitted else None
    if result is not None and before.get("status") not in _CLOSED:
        updated["status"] = "warning_closed" if inquiry else result
        ctx.set(updated, {"is_charge_refundable": False})
        ctx.emit_outcome(result, updated, verb="test_evidence")
        if result == "won" and not inquiry:
            reinstate_funds_later(ctx, updated)
    return updated


@action("dispute", "close")
def close_dispute(ctx: ActionContext, dispute: dict[str, Any] | None) -> dict[str, Any]:
    assert dispute is not None
    ctx.check_state(dispute)
    inquiry = str(dispute.get("status", "")).startswith("warning_")
    dispute["status"] = "warning_closed" if inquiry else "lost"
    ctx.set(dispute, {"is_charge_refundable": False})
    ctx.emit_outcome("ok", dispute)
    return dispute
