"""Billing on the fake: products, prices, coupons, invoice items, invoices, subscriptions, schedules,
quotes and credit notes move through Stripe's lifecycles and emit Stripe's events.

What each action may start from, where it leaves the object and what it emits is data in
:mod:`connect_harness.lifecycle.billing`; the handlers here carry it out on the store, filling in
the fields Stripe's docs say go with each state (:func:`connect_harness.lifecycle.states.apply_state`).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterable, Mapping
from typing import Any

from connect_harness.lifecycle.billing import CREDITABLE_INVOICE_STATES, Rule, rule_for
from connect_harness.lifecycle.states import StateError, apply_state
from connect_harness.lifecycle.test_values import TestCard
from connect_harness.stripe_api import bodies
from connect_harness.stripe_api.actions import (
    ActionContext,
    ActionError,
    Pending,
    action,
    state_error,
)
from connect_harness.stripe_api.actions.payments import card_of, payment_method

__all__ = [
    "ACTING",
    "carry_out",
    "changes",
    "emit",
    "emit_rule",
    "refuse_unless",
    "start_subscription",
]

Obj = dict[str, Any]

#: ``owner=ACTING``: events belong to the account the request acts as.
ACTING: Any = object()


# --- the rules, carried out -----------------------------------------------------------------------


def _rule(object_type: str, verb: str) -> Rule:
    from connect_harness.lifecycle import connect

    found = rule_for(object_type, verb) or connect.rule_for(object_type, verb)
    assert found is not None, f"no lifecycle rule for {object_type} {verb}"
    return found


def refuse_unless(rule: Rule, obj: Mapping[str, Any]) -> None:
    """Stripe's 400 when ``obj``'s state does not allow ``rule``'s action (the framework's error)."""
    error = state_error(rule.object_type, rule.action, obj)
    if error is not None:
        raise error


def _doc_url(code: str) -> str:
    return "https://stripe.com/docs/error-codes/" + code.replace("_", "-")


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """``previous_attributes``: the old values of what changed (hashes: only their changed keys)."""
    previous: dict[str, Any] = {}
    for name, value in after.items():
        old = before.get(name)
        if old == value:
            continue
        if isinstance(old, dict) and isinstance(value, dict) and name != "items":
            previous[name] = changes(old, value) | {k: None for k in value if k not in old}
        else:
            previous[name] = copy.deepcopy(old)
    return previous


def emit_rule(
    ctx: ActionContext,
    rule: Rule,
    objects: Iterable[Mapping[str, Any]],
    *,
    previous: Mapping[str, Any] | None = None,
    owner: Any = ACTING,
    skip: Iterable[str] = (),
) -> None:
    """Emit ``rule``'s events in order, each with the one of ``objects`` it carries.

    ``owner`` (default: the acting context's) is the account the events belong to: a connected
    account's events carry it as ``account``.
    """
    by_type = {str(obj.get("object")): obj for obj in objects}
    skipped = set(skip)
    for event_type in rule.emits:
        if event_type in skipped:
            continue
        obj = by_type.get(_carried(event_type))
        if obj is None:
            continue
        emit(ctx, event_type, obj, previous if event_type.endswith(".updated") else None, owner)


def emit(
    ctx: ActionContext,
    event_type: str,
    obj: Mapping[str, Any],
    previous: Mapping[str, Any] | None = None,
    owner: Any = ACTING,
) -> None:
    if owner is ACTING:
        ctx.emit(event_type, obj, previous)
        return
    ctx.emitted.append(
        Pending(
            event_type,
            copy.deepcopy(dict(obj)),
            owner if isinstance(owner, str) else None,
            ctx.live,
            ctx.request,
            copy.deepcopy(dict(previous)) if previous else None,
        )
    )


# The object type an event carries when its name's first part does not say it.
_CARRIED = {
    "customer.subscription.": "subscription",
    "customer.discount.": "discount",
    "account.external_account.": "bank_account",
    "account.application.": "application",
}


def _carried(event_type: str) -> str:
    for prefix, object_type in _CARRIED.items():
        if event_type.startswith(prefix):
            return object_type
    return event_type.rsplit(".", 1)[0]


def carry_out(
    ctx: ActionContext,
    obj: Obj,
    rule: Rule,
    *,
    extra: Iterable[Mapping[str, Any]] = (),
    owner: Any = ACTING,
) -> Obj:
    """Refuse, move ``obj`` to ``rule``'s state, and emit: the plain case of most actions."""
    refuse_unless(rule, obj)
    before = copy.deepcopy(obj)
    if rule.to_state is not None:
        _enter(ctx, obj, rule.object_type, rule.to_state)
    emit_rule(ctx, rule, [obj, *extra], previous=changes(before, obj), owner=owner)
    return obj


def _enter(ctx: ActionContext, obj: Obj, object_type: str, state: str) -> None:
    """Put ``obj`` in ``state`` with the fields Stripe's docs say go with it, as of now."""
    with contextlib.suppress(StateError):
        apply_state(obj, object_type, state, at=ctx.request.now)
    if "status" in obj:
        obj["status"] = state


def _generic_with_state(ctx: ActionContext, verb: str) -> Obj:
    """The dispatcher's create or update, then the rule's state and events."""
    rule = _rule(ctx.object_type, verb)
    return carry_out(ctx, ctx.generic(), rule)


def _plain(object_type: str, *verbs: str) -> None:
    """Register handlers that apply the request generically and emit the rule's events."""
    for verb in verbs:

        def handler(ctx: ActionContext, obj: Obj | None, verb: str = verb) -> Obj:
            rule = _rule(ctx.object_type, verb)
            if obj is None:  # create
                created = ctx.generic()
                ctx.set(created, {"created": ctx.request.now})
                return carry_out(ctx, created, rule)
            refuse_unless(rule, obj)
            before = copy.deepcopy(obj)
            if verb == "delete":
                answer = ctx.generic()
                emit_rule(ctx, rule, [obj])
                return answer
            after = ctx.generic()
            emit_rule(ctx, rule, [after], previous=changes(before, after))
            return after

        action(object_type, verb)(handler)


_plain("price", "update")
_plain("plan", "create", "update", "delete")
_plain("coupon", "create", "update", "delete")
_plain("promotion_code", "create", "update")
_plain("credit_note", "update")


# --- products ------------------------------------------------------------------------------------


@action("product", "create")
def create_product(ctx: ActionContext, _: Obj | None) -> Obj:
    product = ctx.generic()
    ctx.set(product, {"created": ctx.request.now, "updated": ctx.request.now, "active": True})
    if "active" in ctx.params:
        product["active"] = str(ctx.params["active"]).lower() == "true"
    return carry_out(ctx, product, _rule("product", "create"))


@action("product", "update")
def update_product(ctx: ActionContext, product: Obj | None) -> Obj:
    assert product is not None
    before = copy.deepcopy(product)
    after = ctx.generic()
    ctx.set(after, {"updated": ctx.request.now})
    emit_rule(ctx, _rule("product", "update"), [after], previous=changes(before, after))
    return after


@action("product", "delete")
def delete_product(ctx: ActionContext, product: Obj | None) -> Obj:
    assert product is not None
    rule = _rule("product", "delete")
    prices = [
        price
        for price in _visible(ctx, "price")
        if price.get("product") == product.get("id") or _id(price.get("product")) == product["id"]
    ]
    if prices:
        assert rule.error is not None
        raise ActionError(
            400, bodies.error("invalid_request_error", rule.error.format(id=product["id"]))
        )
    snapshot = copy.deepcopy(product)
    answer = ctx.generic()
    emit_rule(ctx, rule, [snapshot])
    return answer


@action("price", "create")
def create_price(ctx: ActionContext, _: Obj | None) -> Obj:
    product_id = ctx.params.get("product")
    if isinstance(product_id, str):
        ctx.require(product_id, "product", "product")
    price = ctx.generic()
    ctx.set(price, {"created": ctx.request.now, "active": True})
    amount = _int(ctx.params.get("unit_amount"))
    if amount is not None:
        ctx.set(price, {"unit_amount": amount, "unit_amount_decimal": str(amount)})
    recurring = ctx.params.get("recurring")
    if isinstance(recurring, Mapping) and isinstance(price.get("recurring"), dict):
        price["type"] = "recurring"
        price["recurring"]["interval_count"] = _int(recurring.get("interval_count")) or 1
    elif "recurring" in price and "type" in price:
        price["recurring"], price["type"] = None, "one_time"
    return carry_out(ctx, price, _rule("price", "create"))


# --- invoice items ----------------------------------------------------------------------------------


@action("invoiceitem", "create")
def create_invoiceitem(ctx: ActionContext, _: Obj | None) -> Obj:
    customer = ctx.require(ctx.params.get("customer"), "customer", "customer")
    invoice_id = ctx.params.get("invoice")
    if isinstance(invoice_id, str):
        invoice = ctx.require(invoice_id, "invoice", "invoice")
        if invoice.get("status") != "draft":
            raise ActionError(
                400,
                bodies.error(
                    "invalid_request_error",
                    f"Invoice {invoice_id} is {invoice.get('status')}: invoice items can only be "
                    "added to a draft invoice.",
                    param="invoice",
                ),
            )
    item = ctx.generic()
    amount = _int(ctx.params.get("amount"))
    if amount is None:
        amount = (_int(ctx.params.get("unit_amount")) or 0) * (
            _int(ctx.params.get("quantity")) or 1
        )
    ctx.set(
        item,
        {
            "customer": customer["id"],
            "amount": amount,
            "quantity": _int(ctx.params.get("quantity")) or 1,
            "invoice": invoice_id if isinstance(invoice_id, str) else None,
            "date": ctx.request.now,
            "subscription": None,
        },
    )
    if isinstance(invoice_id, str):
        _total_invoice(ctx, ctx.require(invoice_id, "invoice", "invoice"))
    return carry_out(ctx, item, _rule("invoiceitem", "create"))


@action("invoiceitem", "update")
def update_invoiceitem(ctx: ActionContext, item: Obj | None) -> Obj:
    assert item is not None
    _refuse_closed_item(ctx, item, "updated")
    return ctx.generic()


@action("invoiceitem", "delete")
def delete_invoiceitem(ctx: ActionContext, item: Obj | None) -> Obj:
    assert item is not None
    _refuse_closed_item(ctx, item, "deleted")
    snapshot = copy.deepcopy(item)
    answer = ctx.generic()
    emit_rule(ctx, _rule("invoiceitem", "delete"), [snapshot])
    return answer


def _refuse_closed_item(ctx: ActionContext, item: Obj, done: str) -> None:
    invoice = ctx.find(_id(item.get("invoice")), "invoice")
    if invoice is not None and invoice.get("status") != "draft":
        rule = _rule("invoiceitem", "delete")
        assert rule.error is not None
        message = rule.error.format(id=item["id"]).replace("deleted", done)
        raise ActionError(400, bodies.error("invalid_request_error", message))


# --- invoices ---------------------------------------------------------------------------------------


def _new_invoice(ctx: ActionContext, customer: Obj, fields: Mapping[str, Any]) -> Obj:
    invoice = ctx.create("invoice", {"customer": customer["id"], **fields})
    _enter(ctx, invoice, "invoice", "draft")
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
    return invoice


@action("invoice", "create")
def create_invoice(ctx: ActionContext, _: Obj | None) -> Obj:
    customer = ctx.require(ctx.params.get("customer"), "customer", "customer")
    invoice = ctx.generic()
    _enter(ctx, invoice, "invoice", "draft")
    ctx.set(
        invoice,
        {
            "customer": customer["id"],
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
    if ctx.params.get("pending_invoice_items_behavior") != "exclude":
        for item in _visible(ctx, "invoiceitem"):
            if item.get("customer") == customer["id"] and item.get("invoice") is None:
                item["invoice"] = invoice["id"]
                if isinstance(item.get("currency"), str):
                    invoice["currency"] = item["currency"]
    _total_invoice(ctx, invoice)
    return carry_out(ctx, invoice, _rule("invoice", "create"))


def _total_invoice(ctx: ActionContext, invoice: Obj, amount: int | None = None) -> None:
    """The invoice's amounts: its items' (or ``amount``), nothing paid yet."""
    if amount is None:
        amount = sum(
            _int(item.get("amount")) or 0
            for item in _visible(ctx, "invoiceitem")
            if item.get("invoice") == invoice.get("id")
        )
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


@action("invoice", "update")
def update_invoice(ctx: ActionContext, invoice: Obj | None) -> Obj:
    assert invoice is not None
    before = copy.deepcopy(invoice)
    after = ctx.generic()
    emit_rule(ctx, _rule("invoice", "update"), [after], previous=changes(before, after))
    return after


@action("invoice", "delete")
def delete_invoice(ctx: ActionContext, invoice: Obj | None) -> Obj:
    assert invoice is not None
    rule = _rule("invoice", "delete")
    refuse_unless(rule, invoice)
    snapshot = copy.deepcopy(invoice)
    answer = ctx.generic()
    emit_rule(ctx, rule, [snapshot])
    return answer


def _finalize(ctx: ActionContext, invoice: Obj) -> None:
    _enter(ctx, invoice, "invoice", "open")
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
    refuse_unless(_rule("invoice", "finalize"), invoice)
    _finalize(ctx, invoice)
    return invoice


@action("invoice", "pay")
def pay_invoice(ctx: ActionContext, invoice: Obj | None) -> Obj:
    assert invoice is not None
    refuse_unless(_rule("invoice", "pay"), invoice)
    if invoice.get("status") == "draft":
        _finalize(ctx, invoice)
    if str(ctx.params.get("paid_out_of_band", "")).lower() == "true":
        _mark_paid(ctx, invoice, None, None)
        emit(ctx, "invoice.paid", invoice)
        return invoice
    pm = _invoice_payment_method(ctx, invoice, ctx.params.get("payment_method"))
    error = _collect(ctx, invoice, pm)
    if error is not None:
        raise error
    return invoice


def _invoice_payment_method(ctx: ActionContext, invoice: Obj, named: Any) -> Obj | None:
    """The payment method an invoice is charged to: the request's, the invoice's, the customer's."""
    if isinstance(named, str):
        return payment_method(ctx, named, "payment_method")
    customer = ctx.find(_id(invoice.get("customer")), "customer") or {}
    settings = customer.get("invoice_settings")
    for candidate in (
        invoice.get("default_payment_method"),
        settings.get("default_payment_method") if isinstance(settings, Mapping) else None,
        customer.get("default_source"),
    ):
        found = _customers(ctx, str(_id(candidate)), customer) if _id(candidate) else None
        if found is not None:
            return found
        if isinstance(candidate, str) and candidate.startswith(("pm_card_", "tok_")):
            return payment_method(ctx, candidate, "payment_method")
    attached = [
        pm for pm in _visible(ctx, "payment_method") if pm.get("customer") == customer.get("id")
    ]
    return attached[0] if len(attached) == 1 else None


def _collect(ctx: ActionContext, invoice: Obj, pm: Obj | None) -> ActionError | None:
    """Charge an open invoice: paid (with its payment intent and charge), or Stripe's error."""
    amount = _int(invoice.get("amount_remaining")) or 0
    if amount == 0:
        _mark_paid(ctx, invoice, None, None)
        emit_rule(ctx, _rule("invoice", "pay"), [invoice])
        return None
    if pm is None:
        rule = _rule("invoice", "pay_failed")
        ctx.set(
            invoice,
            {"attempted": True, "attempt_count": (_int(invoice.get("attempt_count")) or 0) + 1},
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
    pi, charge = _payment(ctx, invoice, pm, card, amount)
    objects = [invoice, pi] + ([charge] if charge is not None else [])
    if card.outcome not in _UNPAID:
        _mark_paid(ctx, invoice, pi, charge)
        emit_rule(ctx, _rule("invoice", "pay"), objects)
        return None
    ctx.set(
        invoice, {"attempted": True, "attempt_count": (_int(invoice.get("attempt_count")) or 0) + 1}
    )
    if card.outcome == "requires_action":
        rule = _rule("invoice", "pay_requires_action")
        emit_rule(ctx, rule, objects)
        message = "This payment requires additional user action before it can be completed."
        body = bodies.error(
            "invalid_request_error",
            message,
            code=rule.error_code,
            doc_url=_doc_url(str(rule.error_code)),
        )
        body["error"]["payment_intent"] = copy.deepcopy(pi)
        return ActionError(402, body)
    rule = _rule("invoice", "pay_failed")
    emit_rule(ctx, rule, objects)
    body = bodies.error(
        "card_error",
        card.message or "Your card was declined.",
        charge=charge.get("id") if charge else None,
        code=card.code or "card_declined",
        decline_code=card.decline_code,
        doc_url=_doc_url(card.code or "card_declined"),
    )
    return ActionError(402, body)


def _payment(
    ctx: ActionContext, invoice: Obj, pm: Obj, card: TestCard, amount: int
) -> tuple[Obj, Obj | None]:
    """The invoice's payment intent and its charge, in the state ``card`` leads to."""
    currency = invoice.get("currency")
    customer = _id(invoice.get("customer"))
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
    links = {"customer": customer, "payment_intent": pi.get("id")}
    charge: Obj | None = None
    if card.outcome == "requires_action":
        _state(pi, "payment_intent", "requires_action", ctx, links)
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
    links["charge"] = charge.get("id")
    if card.outcome == "declined":
        _state(charge, "charge", "failed", ctx, links)
        ctx.set(charge, {"failure_code": card.code, "failure_message": card.message})
        _state(pi, "payment_intent", "payment_failed", ctx, links)
    else:
        _state(charge, "charge", "succeeded", ctx, links)
        _state(pi, "payment_intent", "succeeded", ctx, links)
        ctx.set(pi, {"latest_charge": charge.get("id"), "amount_received": amount})
    return pi, charge


def _state(
    obj: Obj, object_type: str, state: str, ctx: ActionContext, links: Mapping[str, Any]
) -> None:
    try:
        apply_state(obj, object_type, state, at=ctx.request.now, link=links.get)
    except StateError:
        if "status" in obj:
            obj["status"] = state


def _mark_paid(ctx: ActionContext, invoice: Obj, pi: Obj | None, charge: Obj | None) -> None:
    links = {
        "payment_intent": pi.get("id") if pi else None,
        "charge": charge.get("id") if charge else None,
    }
    _state(invoice, "invoice", "paid", ctx, links)
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
    refuse_unless(_rule("invoice", "void"), invoice)
    _state(invoice, "invoice", "void", ctx, {})
    transitions = invoice.get("status_transitions")
    if isinstance(transitions, dict):
        transitions["voided_at"] = ctx.request.now
    emit(ctx, "invoice.voided", invoice)
    return invoice


@action("invoice", "mark_uncollectible")
def mark_invoice_uncollectible(ctx: ActionContext, invoice: Obj | None) -> Obj:
    assert invoice is not None
    refuse_unless(_rule("invoice", "mark_uncollectible"), invoice)
    _state(invoice, "invoice", "uncollectible", ctx, {})
    transitions = invoice.get("status_transitions")
    if isinstance(transitions, dict):
        transitions["marked_uncollectible_at"] = ctx.request.now
    emit(ctx, "invoice.marked_uncollectible", invoice)
    return invoice


@action("invoice", "send")
def send_invoice(ctx: ActionContext, invoice: Obj | None) -> Obj:
    assert invoice is not None
    refuse_unless(_rule("invoice", "send"), invoice)
    if invoice.get("status") == "draft":
        _finalize(ctx, invoice)
    emit(ctx, "invoice.sent", invoice)
    return invoice


_MONTH = 30 * 86400
#: Test card outcomes that leave an invoice unpaid (lifecycle/test_values.py).
_UNPAID = frozenset({"declined", "requires_action"})

# --- subscriptions ------------------------------------------------------------------------------------


def _items(ctx: ActionContext, raw: Any) -> list[tuple[Obj, int]]:
    """(price, quantity) of each of a request's ``items`` (or a schedule phase's)."""
    entries = raw.values() if isinstance(raw, Mapping) else raw if isinstance(raw, list) else []
    found = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            continue
        price_id = entry.get("price") or entry.get("plan")
        price = ctx.require(price_id, "price", f"items[{index}][price]")
        found.append((price, _int(entry.get("quantity")) or 1))
    return found


def _subscription_items(subscription: Obj, items: list[tuple[Obj, int]], now: int) -> None:
    listed = subscription.get("items")
    if not isinstance(listed, dict):
        return
    template = listed.get("data", [{}])[0] if listed.get("data") else {}
    data = []
    for index, (price, quantity) in enumerate(items):
        item = copy.deepcopy(template) if isinstance(template, dict) else {}
        item.update(
            {
                "id": f"si_{str(subscription.get('id', ''))[4:]}{index}",
                "object": "subscription_item",
                "created": now,
                "price": copy.deepcopy(price),
                "quantity": quantity,
                "subscription": subscription.get("id"),
            }
        )
        for name, value in (
            ("current_period_start", subscription.get("current_period_start", now)),
            ("current_period_end", subscription.get("current_period_end", now + _MONTH)),
        ):
            if name in item:
                item[name] = value
        if "plan" in item and isinstance(item["plan"], dict):
            item["plan"] = {
                **item["plan"],
                "id": price.get("id"),
                "amount": price.get("unit_amount"),
            }
        data.append(item)
    listed["data"] = data
    listed["url"] = f"/v1/subscription_items?subscription={subscription.get('id')}"


def _amount_of(items: list[tuple[Obj, int]]) -> int:
    return sum((_int(price.get("unit_amount")) or 0) * quantity for price, quantity in items)


def _subscription_payment_method(ctx: ActionContext, customer: Obj, named: Any) -> Obj | None:
    if isinstance(named, str):
        return payment_method(ctx, named, "default_payment_method")
    settings = customer.get("invoice_settings")
    for candidate in (
        settings.get("default_payment_method") if isinstance(settings, Mapping) else None,
        customer.get("default_source"),
    ):
        if isinstance(candidate, str):
            found = _customers(ctx, candidate, customer)
            if found is not None:
                return found
            if candidate.startswith(("pm_card_", "tok_")):
                return payment_method(ctx, candidate, "default_payment_method")
    return None


def _customers(ctx: ActionContext, object_id: str, customer: Mapping[str, Any]) -> Obj | None:
    """The payment method or source ``object_id`` when it is attached to ``customer``.

    A customer's default names only what was attached to it; an id the fake built from the
    contracts' example (a customer made without a payment method) is not the customer's.
    """
    found = ctx.find(object_id)
    if found is None or _id(found.get("customer")) != customer.get("id"):
        return None
    return found


def start_subscription(
    ctx: ActionContext,
    customer: Obj,
    items: list[tuple[Obj, int]],
    params: Mapping[str, Any],
    subscription: Obj | None = None,
) -> Obj:
    """A new subscription and its first invoice, emitted as Stripe emits them (the rule table)."""
    now = ctx.request.now
    if subscription is None:
        subscription = ctx.create("subscription", {})
    trial_end = _trial_end(params, now)
    pm = _subscription_payment_method(ctx, customer, params.get("default_payment_method"))
    ctx.set(
        subscription,
        {
            "customer": customer["id"],
            "created": now,
            "start_date": now,
            "billing_cycle_anchor": trial_end or now,
            "current_period_start": now,
            "current_period_end": (trial_end or now) + _MONTH,
            "default_payment_method": pm.get("id")
            if pm and str(pm.get("id", "")).startswith("pm_")
            else None,
            "collection_method": params.get("collection_method") or "charge_automatically",
            "trial_start": now if trial_end else None,
            "trial_end": trial_end,
            "schedule": None,
            "pending_update": None,
            "discounts": [],
            "currency": items[0][0].get("currency") if items else subscription.get("currency"),
            "metadata": dict(params["metadata"])
            if isinstance(params.get("metadata"), Mapping)
            else subscription.get("metadata") or {},
        },
    )
    _apply_cancel_fields(subscription, params)
    _subscription_items(subscription, items, now)
    amount = 0 if trial_end else _amount_of(items)
    invoice = _new_invoice(
        ctx,
        customer,
        {
            "subscription": subscription["id"],
            "billing_reason": "subscription_create",
            "currency": subscription.get("currency"),
            "collection_method": subscription.get("collection_method"),
        },
    )
    _subscription_parent(invoice, subscription)
    _total_invoice(ctx, invoice, amount)
    subscription["latest_invoice"] = invoice["id"]
    _finalize_quietly(ctx, invoice)
    if trial_end:
        rule = _rule("subscription", "create_trialing")
        _enter(ctx, subscription, "subscription", "trialing")
        subscription["trial_end"], subscription["trial_start"] = trial_end, now
        _mark_paid(ctx, invoice, None, None)
        emit_rule(ctx, rule, [subscription, invoice])
        if trial_end - now <= 3 * 86400:
            emit(ctx, "customer.subscription.trial_will_end", subscription)
        return subscription
    card = card_of(pm) if pm is not None else None
    if amount == 0 or (card is not None and card.outcome not in _UNPAID):
        objects: list[Mapping[str, Any]] = [subscription, invoice]
        if amount and pm is not None and card is not None:
            pi, charge = _payment(ctx, invoice, pm, card, amount)
            _mark_paid(ctx, invoice, pi, charge)
            objects += [pi, *([charge] if charge else [])]
        else:
            _mark_paid(ctx, invoice, None, None)
        _enter(ctx, subscription, "subscription", "active")
        emit_rule(ctx, _rule("subscription", "create"), objects)
        return subscription
    if pm is not None and card is not None:
        # A declined or unauthenticated first payment: incomplete, the invoice open and attempted.
        pi, charge = _payment(ctx, invoice, pm, card, amount)
        _enter(ctx, subscription, "subscription", "incomplete")
        ctx.set(invoice, {"attempted": True, "attempt_count": 1})
        verb = "create_declined" if card.outcome == "declined" else "create_requires_action"
        paid = [subscription, invoice, pi, *([charge] if charge else [])]
        emit_rule(ctx, _rule("subscription", verb), paid)
        return subscription
    _enter(ctx, subscription, "subscription", "incomplete")
    pi = ctx.create(
        "payment_intent",
        {
            "amount": amount,
            "currency": invoice.get("currency"),
            "customer": customer["id"],
            "created": now,
            "payment_method": None,
            "metadata": {},
            "invoice": invoice.get("id"),
        },
    )
    _state(pi, "payment_intent", "requires_payment_method", ctx, {"customer": customer["id"]})
    ctx.set(invoice, {"attempted": True, "attempt_count": 1, "payment_intent": pi.get("id")})
    emit_rule(ctx, _rule("subscription", "create_incomplete"), [subscription, invoice, pi])
    return subscription


def _subscription_parent(invoice: Obj, subscription: Obj) -> None:
    """Where the invoice names its subscription: ``subscription`` (old) or ``parent`` (basil on)."""
    if "parent" in invoice:
        invoice["parent"] = {
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {
                "metadata": dict(subscription.get("metadata") or {}),
                "subscription": subscription.get("id"),
            },
        }


def _finalize_quietly(ctx: ActionContext, invoice: Obj) -> None:
    """Finalize without emitting: the caller's rule lists invoice.finalized in its place."""
    emitted = len(ctx.emitted)
    _finalize(ctx, invoice)
    del ctx.emitted[emitted:]


def _trial_end(params: Mapping[str, Any], now: int) -> int | None:
    days = _int(params.get("trial_period_days"))
    if days:
        return now + days * 86400
    end = params.get("trial_end")
    if end == "now" or end is None:
        return None
    value = _int(end)
    return value if value and value > now else None


def _apply_cancel_fields(subscription: Obj, params: Mapping[str, Any]) -> None:
    if "cancel_at_period_end" in params:
        subscription["cancel_at_period_end"] = str(params["cancel_at_period_end"]) == "true"
        if subscription["cancel_at_period_end"] and "cancel_at" in subscription:
            subscription["cancel_at"] = subscription.get("current_period_end")
        elif "cancel_at" in subscription:
            subscription["cancel_at"] = None


@action("subscription", "create")
def create_subscription(ctx: ActionContext, _: Obj | None) -> Obj:
    customer = ctx.require(ctx.params.get("customer"), "customer", "customer")
    items = _items(ctx, ctx.params.get("items"))
    return start_subscription(ctx, customer, items, ctx.params, ctx.generic())


@action("subscription", "update")
def update_subscription(ctx: ActionContext, subscription: Obj | None) -> Obj:
    assert subscription is not None
    rule = _rule("subscription", "update")
    refuse_unless(rule, subscription)
    before = copy.deepcopy(subscription)
    trial_end = subscription.get("trial_end")
    subscription = ctx.generic()
    subscription["trial_end"] = trial_end
    _apply_cancel_fields(subscription, ctx.params)
    if "items" in ctx.params:
        _subscription_items(subscription, _items(ctx, ctx.params["items"]), ctx.request.now)
    if isinstance(ctx.params.get("default_payment_method"), str):
        pm = payment_method(ctx, ctx.params["default_payment_method"], "default_payment_method")
        subscription["default_payment_method"] = pm.get("id")
    if ctx.params.get("trial_end") == "now" and subscription.get("status") == "trialing":
        return _end_trial(ctx, subscription, before)
    emit_rule(ctx, rule, [subscription], previous=changes(before, subscription))
    return subscription


def _end_trial(ctx: ActionContext, subscription: Obj, before: Obj) -> Obj:
    """``trial_end=now``: the trial ends at once; without a payment method it may pause."""
    now = ctx.request.now
    customer = ctx.find(_id(subscription.get("customer")), "customer") or {}
    pm = (
        ctx.find(subscription.get("default_payment_method"))
        if subscription.get("default_payment_method")
        else _subscription_payment_method(ctx, customer, None)
    )
    settings = subscription.get("trial_settings")
    behavior = (
        settings.get("end_behavior", {}).get("missing_payment_method")
        if isinstance(settings, Mapping) and isinstance(settings.get("end_behavior"), Mapping)
        else None
    )
    behavior = behavior or _param_end_behavior(ctx.params)
    subscription["trial_end"] = now
    if pm is None and behavior == "pause":
        _enter(ctx, subscription, "subscription", "paused")
        subscription["trial_end"] = now
        rule = _rule("subscription", "pause_at_trial_end")
        emit_rule(ctx, rule, [subscription], previous=changes(before, subscription))
        return subscription
    _enter(ctx, subscription, "subscription", "active")
    subscription["trial_end"] = now
    emit(ctx, "customer.subscription.trial_will_end", subscription)
    emit(ctx, "customer.subscription.updated", subscription, changes(before, subscription))
    return subscription


def _param_end_behavior(params: Mapping[str, Any]) -> Any:
    settings = params.get("trial_settings")
    if isinstance(settings, Mapping) and isinstance(settings.get("end_behavior"), Mapping):
        return settings["end_behavior"].get("missing_payment_method")
    return None


@action("subscription", "delete")
def cancel_subscription(ctx: ActionContext, subscription: Obj | None) -> Obj:
    assert subscription is not None
    rule = _rule("subscription", "delete")
    refuse_unless(rule, subscription)
    _enter(ctx, subscription, "subscription", "canceled")
    ctx.set(subscription, {"canceled_at": ctx.request.now, "ended_at": ctx.request.now})
    emit_rule(ctx, rule, [subscription])
    return subscription


@action("subscription", "resume")
def resume_subscription(ctx: ActionContext, subscription: Obj | None) -> Obj:
    assert subscription is not None
    return carry_out(ctx, subscription, _rule("subscription", "resume"))


# --- subscription schedules --------------------------------------------------------------------------


@action("subscription_schedule", "create")
def create_subscription_schedule(ctx: ActionContext, _: Obj | None) -> Obj:
    customer = ctx.require(ctx.params.get("customer"), "customer", "customer")
    phases = ctx.params.get("phases")
    listed = list(phases.values()) if isinstance(phases, Mapping) else phases or []
    first = listed[0] if listed and isinstance(listed[0], Mapping) else {}
    items = _items(ctx, first.get("items"))
    schedule = ctx.create("subscription_schedule", {"customer": customer["id"]})
    now = ctx.request.now
    ctx.set(
        schedule,
        {
            "created": now,
            "metadata": {},
            "released_subscription": None,
            "canceled_at": None,
            "completed_at": None,
            "released_at": None,
        },
    )
    start = ctx.params.get("start_date")
    if start == "now" or (_int(start) or now + 1) <= now:
        rule = _rule("subscription_schedule", "create_active")
        _enter(ctx, schedule, "subscription_schedule", "active")
        emitted = len(ctx.emitted)
        subscription = start_subscription(ctx, customer, items, {})
        subscription["schedule"] = schedule["id"]
        for pending in ctx.emitted[emitted:]:
            if pending.obj.get("id") == subscription["id"]:
                pending.obj["schedule"] = schedule["id"]
        schedule["subscription"] = subscription["id"]
        # subscription_schedule.created first, then the subscription's own events.
        emit_rule(ctx, rule, [schedule], skip=("customer.subscription.created",))
        ctx.emitted.insert(emitted, ctx.emitted.pop())
        return schedule
    _enter(ctx, schedule, "subscription_schedule", "not_started")
    schedule["subscription"] = None
    return carry_out(ctx, schedule, _rule("subscription_schedule", "create"))


@action("subscription_schedule", "update")
def update_subscription_schedule(ctx: ActionContext, schedule: Obj | None) -> Obj:
    assert schedule is not None
    rule = _rule("subscription_schedule", "update")
    refuse_unless(rule, schedule)
    before = copy.deepcopy(schedule)
    after = ctx.generic()
    emit_rule(ctx, rule, [after], previous=changes(before, after))
    return after


@action("subscription_schedule", "cancel")
def cancel_subscription_schedule(ctx: ActionContext, schedule: Obj | None) -> Obj:
    assert schedule is not None
    rule = _rule("subscription_schedule", "cancel")
    refuse_unless(rule, schedule)
    subscription = ctx.find(_id(schedule.get("subscription")), "subscription")
    _enter(ctx, schedule, "subscription_schedule", "canceled")
    emit_rule(ctx, rule, [schedule])
    if subscription is not None and subscription.get("status") != "canceled":
        _enter(ctx, subscription, "subscription", "canceled")
        ctx.set(subscription, {"canceled_at": ctx.request.now, "ended_at": ctx.request.now})
        emit(ctx, "customer.subscription.deleted", subscription)
    return schedule


@action("subscription_schedule", "release")
def release_subscription_schedule(ctx: ActionContext, schedule: Obj | None) -> Obj:
    assert schedule is not None
    rule = _rule("subscription_schedule", "release")
    refuse_unless(rule, schedule)
    subscription_id = _id(schedule.get("subscription"))
    _enter(ctx, schedule, "subscription_schedule", "released")
    ctx.set(schedule, {"released_subscription": subscription_id, "subscription": None})
    subscription = ctx.find(subscription_id, "subscription")
    if subscription is not None:
        subscription["schedule"] = None
    emit_rule(ctx, rule, [schedule])
    return schedule


# --- quotes -----------------------------------------------------------------------------------------


@action("quote", "create")
def create_quote(ctx: ActionContext, _: Obj | None) -> Obj:
    customer = ctx.params.get("customer")
    if isinstance(customer, str):
        ctx.require(customer, "customer", "customer")
    items = _items(ctx, ctx.params.get("line_items"))
    quote = ctx.generic()
    amount = _amount_of(items)
    ctx.set(
        quote,
        {
            "created": ctx.request.now,
            "amount_subtotal": amount,
            "amount_total": amount,
            "invoice": None,
            "subscription": None,
            "number": None,
        },
    )
    return carry_out(ctx, quote, _rule("quote", "create"))


@action("quote", "update")
def update_quote(ctx: ActionContext, quote: Obj | None) -> Obj:
    assert quote is not None
    refuse_unless(_rule("quote", "update"), quote)
    return ctx.generic()


def _quote_action(verb: str) -> None:
    def handler(ctx: ActionContext, quote: Obj | None) -> Obj:
        assert quote is not None
        rule = _rule("quote", verb)
        refuse_unless(rule, quote)
        _enter(ctx, quote, "quote", str(rule.to_state))
        if verb == "finalize":
            quote["number"] = f"QT-{str(quote.get('id', ''))[-8:].upper()}-0001"
        emit_rule(ctx, rule, [quote])
        return quote

    action("quote", verb)(handler)


for _verb in ("finalize", "accept", "cancel"):
    _quote_action(_verb)


# --- credit notes ----------------------------------------------------------------------------------


@action("credit_note", "create")
def create_credit_note(ctx: ActionContext, _: Obj | None) -> Obj:
    invoice = ctx.require(ctx.params.get("invoice"), "invoice", "invoice")
    rule = _rule("credit_note", "create")
    if invoice.get("status") not in CREDITABLE_INVOICE_STATES:
        assert rule.error is not None
        message = rule.error.format(id=invoice["id"], status=invoice.get("status"))
        raise ActionError(400, bodies.error("invalid_request_error", message, param="invoice"))
    lines = ctx.params.get("lines")
    entries = (
        lines.values() if isinstance(lines, Mapping) else lines if isinstance(lines, list) else []
    )
    amount = _int(ctx.params.get("amount"))
    if amount is None:
        amount = sum(
            _int(line.get("amount"))
            or (_int(line.get("unit_amount")) or 0) * (_int(line.get("quantity")) or 1)
            for line in entries
            if isinstance(line, Mapping)
        )
    note = ctx.generic()
    ctx.set(
        note,
        {
            "invoice": invoice["id"],
            "customer": _id(invoice.get("customer")),
            "currency": invoice.get("currency"),
            "amount": amount,
            "subtotal": amount,
            "total": amount,
            "created": ctx.request.now,
            "memo": ctx.params.get("memo"),
            "metadata": {},
            "voided_at": None,
        },
    )
    _enter(ctx, note, "credit_note", "issued")
    emit_rule(ctx, rule, [note])
    return note


@action("credit_note", "void")
def void_credit_note(ctx: ActionContext, note: Obj | None) -> Obj:
    assert note is not None
    rule = _rule("credit_note", "void")
    refuse_unless(rule, note)
    _enter(ctx, note, "credit_note", "void")
    ctx.set(note, {"voided_at": ctx.request.now})
    emit_rule(ctx, rule, [note])
    return note


# --- helpers ------------------------------------------------------------------------------------------


def _visible(ctx: ActionContext, object_type: str) -> list[Obj]:
    return [
        ctx.store.materialize(stored)
        for stored in ctx.store.visible(frozenset({object_type}), ctx.owner, ctx.live)
    ]


def _id(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None
