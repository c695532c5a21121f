"""Invoices on the fake: draft, finalized (open), paid with a payment intent and charge of the
customer's card, void, uncollectible, sent, deleted, each as ``lifecycle/billing.py`` says.

A subscription's first invoice is made and paid with the same functions
(:mod:`connect_harness.stripe_api.actions.subscriptions`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connect_harness.lifecycle.test_values import TestCard
from connect_harness.stripe_api import bodies
from connect_harness.stripe_api.actions import ActionContext, ActionError, action
from connect_harness.stripe_api.actions.cards import card_of, payment_method
from connect_harness.stripe_api.actions.rules import (
    Obj,
    carry_out,
    changes,
    customer_of,
    doc_url,
    emit,
    emit_rule,
    enter,
    id_of,
    keep,
    refuse_unless,
    rule_of,
    set_state,
    visible,
    whole,
)

__all__ = [
    "UNPAID",
    "Line",
    "customers_own",
    "finalize",
    "mark_paid",
    "new_invoice",
    "new_payment",
    "total_invoice",
]

#: Test card outcomes that leave an invoice unpaid (lifecycle/test_values.py).
UNPAID = frozenset({"declined", "requires_action"})

#: What an unpaid invoice says in the versions that have these fields (before 2025-03-31.basil).
_UNPAID_FIELDS = {"paid": False, "paid_out_of_band": False, "payment_intent": None, "charge": None}


# --- invoices ---------------------------------------------------------------------------------------


def new_invoice(ctx: ActionContext, customer: Obj, fields: Mapping[str, Any]) -> Obj:
    invoice = ctx.create("invoice", {"customer": customer.get("id"), **fields})
    enter(ctx, invoice, "invoice", "draft")
    ctx.set(
        invoice,
        {
            "created": ctx.request.now,
            "currency": fields.get("currency") or invoice.get("currency") or "usd",
            "number": None,
            "hosted_invoice_url": None,
            "invoice_pdf": None,
            "next_payment_attempt": None,
            "customer_email": customer.get("email"),
            "customer_name": customer.get("name"),
        },
    )
    keep(invoice, {**_UNPAID_FIELDS, "subscription": fields.get("subscription")})
    return invoice


@action("invoice", "create")
def create_invoice(ctx: ActionContext, _: Obj | None) -> Obj:
    customer = customer_of(ctx)
    invoice = ctx.generic()
    enter(ctx, invoice, "invoice", "draft")
    ctx.set(
        invoice,
        {
            "customer": customer.get("id"),
            "created": ctx.request.now,
            "number": None,
            "hosted_invoice_url": None,
            "invoice_pdf": None,
            "subscription": None,
            "billing_reason": "manual",
            "customer_email": customer.get("email"),
            "customer_name": customer.get("name"),
            "collection_method": ctx.params.get("collection_method") or "charge_automatically",
        },
    )
    keep(invoice, {**_UNPAID_FIELDS, "subscription": None})
    if ctx.params.get("pending_invoice_items_behavior") != "exclude":
        for item in visible(ctx, "invoiceitem"):
            mine = customer and item.get("customer") == customer.get("id")
            if mine and item.get("invoice") is None:
                item["invoice"] = invoice["id"]
                if isinstance(item.get("currency"), str):
                    invoice["currency"] = item["currency"]
    total_invoice(ctx, invoice)
    return carry_out(ctx, invoice, rule_of("invoice", "create"))


@dataclass(frozen=True)
class Line:
    """One line of an invoice: an invoice item, or a subscription item's charge for a period."""

    amount: int
    currency: Any
    description: Any
    quantity: int = 1
    price: Mapping[str, Any] | None = None
    invoice_item: str | None = None
    subscription: str | None = None
    subscription_item: str | None = None
    period: tuple[int, int] | None = None


def total_invoice(ctx: ActionContext, invoice: Obj, lines: list[Line] | None = None) -> None:
    """The invoice's lines and amounts (its invoice items' unless ``lines``), nothing paid yet."""
    if lines is None:
        lines = [
            Line(
                whole(item.get("amount")) or 0,
                item.get("currency"),
                item.get("description"),
                whole(item.get("quantity")) or 1,
                item.get("price") if isinstance(item.get("price"), Mapping) else None,
                invoice_item=str(item.get("id")),
            )
            for item in reversed(visible(ctx, "invoiceitem"))
            if item.get("invoice") == invoice.get("id")
        ]
    amount = sum(line.amount for line in lines)
    ctx.set(
        invoice,
        {
            "amount_due": amount,
            "amount_remaining": amount,
            "amount_paid": 0,
            "subtotal": amount,
            "subtotal_excluding_tax": amount,
            "total": amount,
            "total_excluding_tax": amount,
        },
    )
    listed = invoice.get("lines")
    if isinstance(listed, dict):
        data = listed.get("data")
        template = data[0] if isinstance(data, list) and data else {}
        listed["data"] = [
            _line(ctx, invoice, line, index, template) for index, line in enumerate(lines)
        ]
        ctx.set(listed, {"has_more": False, "total_count": len(lines)})
        listed["url"] = f"/v1/invoices/{invoice.get('id')}/lines"


def _line(
    ctx: ActionContext, invoice: Obj, line: Line, index: int, template: Mapping[str, Any]
) -> Obj:
    """A ``line_item`` in the invoice's shape: the fields its example has, set from ``line``."""
    obj = copy.deepcopy(dict(template))
    now = ctx.request.now
    start, end = line.period or (now, now)
    price_id = line.price.get("id") if line.price else None
    ctx.set(
        obj,
        {
            "id": f"il_{str(invoice.get('id', ''))[3:]}{index}",
            "object": "line_item",
            "amount": line.amount,
            "subtotal": line.amount,
            "currency": line.currency,
            "description": line.description,
            "quantity": line.quantity,
            "invoice": invoice.get("id"),
            "livemode": ctx.live,
            "metadata": {},
            "discount_amounts": [],
            "discounts": [],
            "period": {"start": start, "end": end},
            "subscription": line.subscription,
        },
    )
    # Before 2025-03-31.basil a line named its item and price itself.
    keep(
        obj,
        {
            "invoice_item": line.invoice_item,
            "subscription_item": line.subscription_item,
            "price": dict(line.price) if line.price else None,
            "type": "subscription" if line.subscription_item else "invoiceitem",
            "proration": False,
        },
    )
    if "parent" in obj:
        details = {
            "invoice_item": line.invoice_item,
            "proration": False,
            "proration_details": {"credited_items": None},
            "subscription": line.subscription,
        }
        obj["parent"] = (
            {
                "type": "subscription_item_details",
                "invoice_item_details": None,
                "subscription_item_details": {
                    **details,
                    "subscription_item": line.subscription_item,
                },
            }
            if line.subscription_item
            else {
                "type": "invoice_item_details",
                "invoice_item_details": details,
                "subscription_item_details": None,
            }
        )
    if "pricing" in obj:
        obj["pricing"] = (
            {
                "type": "price_details",
                "price_details": {"price": price_id, "product": id_of(line.price.get("product"))},
                "unit_amount_decimal": str(line.price.get("unit_amount")),
            }
            if line.price
            else None
        )
    return obj


@action("invoice", "update")
def update_invoice(ctx: ActionContext, invoice: Obj | None) -> Obj:
    assert invoice is not None
    before = copy.deepcopy(invoice)
    after = ctx.generic()
    emit_rule(ctx, rule_of("invoice", "update"), [after], previous=changes(before, after))
    return after


@action("invoice", "delete")
def delete_invoice(ctx: ActionContext, invoice: Obj | None) -> Obj:
    assert invoice is not None
    rule = rule_of("invoice", "delete")
    refuse_unless(rule, invoice)
    snapshot = copy.deepcopy(invoice)
    answer = ctx.generic()
    emit_rule(ctx, rule, [snapshot])
    return answer


def finalize(ctx: ActionContext, invoice: Obj) -> None:
    enter(ctx, invoice, "invoice", "open")
    number = f"{str(invoice.get('id', ''))[-8:].upper()}-0001"
    ctx.set(
        invoice,
        {
            "number": number,
            "hosted_invoice_url": f"https://invoice.stripe.com/i/{invoice.get('id')}",
            "invoice_pdf": f"https://pay.stripe.com/invoice/{invoice.get('id')}/pdf",
            "effective_at": ctx.request.now,
        },
    )
    transitions = invoice.get("status_transitions")
    if isinstance(transitions, dict):
        transitions["finalized_at"] = ctx.request.now
    emit(ctx, "invoice.finalized", invoice)


@action("invoice", "finalize")
def finalize_invoice(ctx: ActionContext, invoice: Obj | None) -> Obj:
    assert invoice is not None
    refuse_unless(rule_of("invoice", "finalize"), invoice)
    finalize(ctx, invoice)
    return invoice


@action("invoice", "pay")
def pay_invoice(ctx: ActionContext, invoice: Obj | None) -> Obj:
    assert invoice is not None
    refuse_unless(rule_of("invoice", "pay"), invoice)
    if invoice.get("status") == "draft":
        finalize(ctx, invoice)
    if str(ctx.params.get("paid_out_of_band", "")).lower() == "true":
        mark_paid(ctx, invoice, None, None)
        keep(invoice, {"paid_out_of_band": True})
        emit(ctx, "invoice.paid", invoice)
        return invoice
    pm = _invoice_payment_method(ctx, invoice, ctx.params.get("payment_method"))
    error = _collect(ctx, invoice, pm)
    if error is not None:
        raise error
    return invoice


def customers_own(ctx: ActionContext, object_id: str, customer: Mapping[str, Any]) -> Obj | None:
    """The payment method or source ``object_id`` when it is attached to ``customer``.

    A customer's default names only what was attached to it; an id the fake built from the
    contracts' example (a customer made without a payment method) is not the customer's.
    """
    found = ctx.find(object_id)
    if found is None or not customer or id_of(found.get("customer")) != customer.get("id"):
        return None
    return found


def _invoice_payment_method(ctx: ActionContext, invoice: Obj, named: Any) -> Obj | None:
    """The payment method an invoice is charged to: the request's, the invoice's, the customer's."""
    if isinstance(named, str):
        return payment_method(ctx, named, "payment_method")
    customer = ctx.find(id_of(invoice.get("customer")), "customer") or {}
    settings = customer.get("invoice_settings")
    for candidate in (
        invoice.get("default_payment_method"),
        settings.get("default_payment_method") if isinstance(settings, Mapping) else None,
        customer.get("default_source"),
    ):
        found = customers_own(ctx, str(id_of(candidate)), customer) if id_of(candidate) else None
        if found is not None:
            return found
        if isinstance(candidate, str) and candidate.startswith(("pm_card_", "tok_")):
            return payment_method(ctx, candidate, "payment_method")
    if not customer:
        return None
    attached = [
        pm for pm in visible(ctx, "payment_method") if pm.get("customer") == customer.get("id")
    ]
    return attached[0] if len(attached) == 1 else None


def _collect(ctx: ActionContext, invoice: Obj, pm: Obj | None) -> ActionError | None:
    """Charge an open invoice: paid (with its payment intent and charge), or Stripe's error."""
    amount = whole(invoice.get("amount_remaining")) or 0
    if amount == 0:
        mark_paid(ctx, invoice, None, None)
        emit_rule(ctx, rule_of("invoice", "pay"), [invoice])
        return None
    if pm is None:
        rule = rule_of("invoice", "pay_failed")
        ctx.set(
            invoice,
            {"attempted": True, "attempt_count": (whole(invoice.get("attempt_count")) or 0) + 1},
        )
        emit(ctx, "invoice.payment_failed", invoice)
        return ActionError(
            400,
            bodies.error(
                "invalid_request_error",
                f"Invoice {invoice['id']} cannot be paid: its customer has no default payment "
                "method and none was given; pass payment_method.",
            ),
        )
    card = card_of(pm)
    snapshots: dict[str, Obj] = {}
    pi, charge = new_payment(ctx, invoice, pm, card, amount, snapshots)
    objects = [invoice, pi] + ([charge] if charge is not None else [])
    if card.outcome not in UNPAID:
        mark_paid(ctx, invoice, pi, charge)
        emit_rule(ctx, rule_of("invoice", "pay"), objects, snapshots=snapshots)
        return None
    ctx.set(
        invoice,
        {"attempted": True, "attempt_count": (whole(invoice.get("attempt_count")) or 0) + 1},
    )
    if card.outcome == "requires_action":
        rule = rule_of("invoice", "pay_requires_action")
        emit_rule(ctx, rule, objects, snapshots=snapshots)
        message = "This payment requires additional user action before it can be completed."
        # A card_error: the Stripe CLI's invoice.payment_action_required fixture expects that type
        # for this pay (expected_error_type); docs.stripe.com/error-codes names the code.
        body = bodies.error(
            "card_error",
            message,
            code=rule.error_code,
            doc_url=doc_url(str(rule.error_code)),
        )
        body["error"]["payment_intent"] = copy.deepcopy(pi)
        return ActionError(402, body)
    rule = rule_of("invoice", "pay_failed")
    emit_rule(ctx, rule, objects, snapshots=snapshots)
    body = bodies.error(
        "card_error",
        card.message or "Your card was declined.",
        charge=charge.get("id") if charge else None,
        code=card.code or "card_declined",
        decline_code=card.decline_code,
        doc_url=doc_url(card.code or "card_declined"),
    )
    return ActionError(402, body)


def new_payment(
    ctx: ActionContext,
    invoice: Obj,
    pm: Obj,
    card: TestCard,
    amount: int,
    snapshots: dict[str, Obj],
) -> tuple[Obj, Obj | None]:
    """The invoice's payment intent and its charge, in the state ``card`` leads to.

    ``snapshots`` gets the intent as ``payment_intent.created`` shows it: created with its
    payment method, before it is confirmed.
    """
    currency = invoice.get("currency")
    customer = id_of(invoice.get("customer"))
    pi = ctx.create(
        "payment_intent",
        {
            "amount": amount,
            "currency": currency,
            "customer": customer,
            "payment_method": pm.get("id"),
            "description": invoice.get("description"),
            "created": ctx.request.now,
            "metadata": {},
            "invoice": invoice.get("id"),
            "capture_method": "automatic",
        },
    )
    keep(pi, {"invoice": invoice.get("id")})  # before 2025-03-31.basil
    links = {"customer": customer, "payment_intent": pi.get("id")}
    set_state(pi, "payment_intent", "requires_confirmation", ctx, links)
    snapshots["payment_intent.created"] = copy.deepcopy(pi)
    charge: Obj | None = None
    if card.outcome == "requires_action":
        set_state(pi, "payment_intent", "requires_action", ctx, links)
        return pi, None
    charge = ctx.create(
        "charge",
        {
            "amount": amount,
            "currency": currency,
            "customer": customer,
            "payment_intent": pi.get("id"),
            "payment_method": pm.get("id"),
            "created": ctx.request.now,
            "invoice": invoice.get("id"),
            "description": invoice.get("description"),
            "metadata": {},
        },
    )
    keep(charge, {"invoice": invoice.get("id")})
    links["charge"] = charge.get("id")
    if card.outcome == "declined":
        set_state(charge, "charge", "failed", ctx, links)
        ctx.set(charge, {"failure_code": card.code, "failure_message": card.message})
        set_state(pi, "payment_intent", "payment_failed", ctx, links)
    else:
        set_state(charge, "charge", "succeeded", ctx, links)
        set_state(pi, "payment_intent", "succeeded", ctx, links)
        ctx.set(pi, {"latest_charge": charge.get("id"), "amount_received": amount})
    return pi, charge


def mark_paid(ctx: ActionContext, invoice: Obj, pi: Obj | None, charge: Obj | None) -> None:
    links = {
        "payment_intent": pi.get("id") if pi else None,
        "charge": charge.get("id") if charge else None,
    }
    set_state(invoice, "invoice", "paid", ctx, links)
    keep(invoice, {"paid": True, **links})
    transitions = invoice.get("status_transitions")
    if isinstance(transitions, dict):
        transitions["paid_at"] = ctx.request.now
    if pi is not None and isinstance(invoice.get("payments"), dict):
        payment = {
            "id": f"inpay_{str(pi.get('id', ''))[3:]}",
            "object": "invoice_payment",
            "amount_paid": pi.get("amount"),
            "amount_requested": pi.get("amount"),
            "created": ctx.request.now,
            "currency": pi.get("currency"),
            "invoice": invoice.get("id"),
            "is_default": True,
            "livemode": ctx.live,
            "payment": {"type": "payment_intent", "payment_intent": pi.get("id")},
            "status": "paid",
            "status_transitions": {"canceled_at": None, "paid_at": ctx.request.now},
        }
        invoice["payments"] = {
            "object": "list",
            "data": [payment],
            "has_more": False,
            "url": f"/v1/invoice_payments?invoice={invoice.get('id')}",
        }


@action("invoice", "void")
def void_invoice(ctx: ActionContext, invoice: Obj | None) -> Obj:
    assert invoice is not None
    refuse_unless(rule_of("invoice", "void"), invoice)
    set_state(invoice, "invoice", "void", ctx, {})
    transitions = invoice.get("status_transitions")
    if isinstance(transitions, dict):
        transitions["voided_at"] = ctx.request.now
    emit(ctx, "invoice.voided", invoice)
    return invoice


@action("invoice", "mark_uncollectible")
def mark_invoice_uncollectible(ctx: ActionContext, invoice: Obj | None) -> Obj:
    assert invoice is not None
    refuse_unless(rule_of("invoice", "mark_uncollectible"), invoice)
    set_state(invoice, "invoice", "uncollectible", ctx, {})
    transitions = invoice.get("status_transitions")
    if isinstance(transitions, dict):
        transitions["marked_uncollectible_at"] = ctx.request.now
    emit(ctx, "invoice.marked_uncollectible", invoice)
    return invoice


@action("invoice", "send")
def send_invoice(ctx: ActionContext, invoice: Obj | None) -> Obj:
    assert invoice is not None
    refuse_unless(rule_of("invoice", "send"), invoice)
    if invoice.get("status") == "draft":
        finalize(ctx, invoice)
    emit(ctx, "invoice.sent", invoice)
    return invoice
