"""Billing's catalogue objects on the fake: products, prices, plans, coupons, promotion codes,
invoice items, quotes and credit notes move through Stripe's lifecycles and emit Stripe's events.

What each action may start from, where it leaves the object and what it emits is data in
:mod:`connect_harness.lifecycle.billing`; invoices and subscriptions have modules of their own
(:mod:`~connect_harness.stripe_api.actions.invoices`,
:mod:`~connect_harness.stripe_api.actions.subscriptions`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from connect_harness.lifecycle.billing import CREDITABLE_INVOICE_STATES
from connect_harness.stripe_api import bodies
from connect_harness.stripe_api.actions import ActionContext, ActionError, action
from connect_harness.stripe_api.actions.invoices import Line, new_invoice, total_invoice
from connect_harness.stripe_api.actions.rules import (
    Obj,
    carry_out,
    changes,
    customer_of,
    emit,
    emit_rule,
    enter,
    id_of,
    keep,
    metadata_only,
    refuse_unless,
    rule_of,
    visible,
    whole,
)
from connect_harness.stripe_api.actions.subscriptions import (
    amount_of,
    inline_price,
    price_items,
    start_subscription,
)

__all__: list[str] = []


def _plain(object_type: str, *verbs: str) -> None:
    """Register handlers that apply the request generically and emit the rule's events."""
    for verb in verbs:

        def handler(ctx: ActionContext, obj: Obj | None, verb: str = verb) -> Obj:
            rule = rule_of(ctx.object_type, verb)
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
_plain("plan", "update", "delete")
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
    return carry_out(ctx, product, rule_of("product", "create"))


@action("product", "update")
def update_product(ctx: ActionContext, product: Obj | None) -> Obj:
    assert product is not None
    before = copy.deepcopy(product)
    after = ctx.generic()
    if changes(before, after):  # ``updated`` moves only when something else did
        ctx.set(after, {"updated": ctx.request.now})
    emit_rule(ctx, rule_of("product", "update"), [after], previous=changes(before, after))
    return after


@action("product", "delete")
def delete_product(ctx: ActionContext, product: Obj | None) -> Obj:
    assert product is not None
    rule = rule_of("product", "delete")
    prices = [
        price
        for price in visible(ctx, "price")
        if price.get("product") == product.get("id") or id_of(price.get("product")) == product["id"]
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


@action("plan", "create")
def create_plan(ctx: ActionContext, _: Obj | None) -> Obj:
    """A plan; an inline ``product`` (a dictionary, not an id) creates that product first."""
    inline = ctx.params.get("product")
    if isinstance(inline, str):
        ctx.require(inline, "product", "product")
    plan = ctx.generic()
    ctx.set(plan, {"created": ctx.request.now})
    if not isinstance(inline, Mapping):
        return carry_out(ctx, plan, rule_of("plan", "create"))
    product = ctx.create(
        "product",
        {
            "name": inline.get("name"),
            "active": str(inline.get("active", "true")).lower() == "true",
            "metadata": dict(inline.get("metadata") or {}),
            "created": ctx.request.now,
            "updated": ctx.request.now,
            "default_price": None,
        },
    )
    plan["product"] = product.get("id")
    return carry_out(ctx, plan, rule_of("plan", "create_with_product"), extra=[product])


@action("price", "create")
def create_price(ctx: ActionContext, _: Obj | None) -> Obj:
    product_id = ctx.params.get("product")
    if isinstance(product_id, str):
        ctx.require(product_id, "product", "product")
    price = ctx.generic()
    # api: POST /v1/prices, active: 'Whether the price can be used for new purchases. Defaults to
    # true.'
    ctx.set(price, {"created": ctx.request.now, "active": str(ctx.params.get("active")) != "false"})
    amount = whole(ctx.params.get("unit_amount"))
    if amount is not None:
        ctx.set(price, {"unit_amount": amount, "unit_amount_decimal": str(amount)})
    recurring = ctx.params.get("recurring")
    if isinstance(recurring, Mapping) and isinstance(price.get("recurring"), dict):
        price["type"] = "recurring"
        price["recurring"]["interval_count"] = whole(recurring.get("interval_count")) or 1
    elif "recurring" in price and "type" in price:
        price["recurring"], price["type"] = None, "one_time"
    return carry_out(ctx, price, rule_of("price", "create"))


# --- invoice items ----------------------------------------------------------------------------------


@action("invoiceitem", "create")
def create_invoiceitem(ctx: ActionContext, _: Obj | None) -> Obj:
    customer = customer_of(ctx)
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
    price = _item_price(ctx)
    item = ctx.generic()
    quantity = whole(ctx.params.get("quantity")) or 1
    unit = whole(ctx.params.get("unit_amount"))
    if unit is None and price is not None:
        unit = whole(price.get("unit_amount"))
    amount = whole(ctx.params.get("amount"))
    if amount is None:
        amount = (unit or 0) * quantity
    ctx.set(
        item,
        {
            "customer": customer.get("id"),
            "amount": amount,
            "quantity": quantity,
            "invoice": invoice_id if isinstance(invoice_id, str) else None,
            "date": ctx.request.now,
            "subscription": None,
        },
    )
    if price is not None:
        _price_item(item, price, unit)
    if isinstance(invoice_id, str):
        total_invoice(ctx, ctx.require(invoice_id, "invoice", "invoice"))
    return carry_out(ctx, item, rule_of("invoiceitem", "create"))


def _item_price(ctx: ActionContext) -> Obj | None:
    """The price an invoice item is created with: ``price`` before 2025-03-31.basil,
    ``pricing[price]`` since (api: POST /v1/invoiceitems at each version), else None."""
    pricing = ctx.params.get("pricing")
    named, param = ctx.params.get("price"), "price"
    if named is None and isinstance(pricing, Mapping):
        named, param = pricing.get("price"), "pricing[price]"
    inline = ctx.params.get("price_data")
    if named is None and isinstance(inline, Mapping):
        return inline_price(ctx, inline, "price_data")
    if not isinstance(named, str) or not named:
        return None
    return ctx.require(named, "price", param)


def _price_item(item: Obj, price: Obj, unit: int | None) -> None:
    """The invoice item carries its price in every version's shape: the price object (and,
    through rendering, the plan beside it) before basil, ``pricing.price_details`` since; its
    currency is the price's (api: POST /v1/invoiceitems, price: 'The ID of the price object')."""
    if isinstance(price.get("currency"), str) and "currency" in item:
        item["currency"] = price["currency"]
    decimal = str(unit) if unit is not None else price.get("unit_amount_decimal")
    keep(item, {"price": price, "unit_amount": unit, "unit_amount_decimal": decimal})
    if "pricing" in item:
        item["pricing"] = {
            "type": "price_details",
            "price_details": {"price": price.get("id"), "product": id_of(price.get("product"))},
            "unit_amount_decimal": decimal,
        }


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
    emit_rule(ctx, rule_of("invoiceitem", "delete"), [snapshot])
    return answer


def _refuse_closed_item(ctx: ActionContext, item: Obj, done: str) -> None:
    invoice = ctx.find(id_of(item.get("invoice")), "invoice")
    if invoice is not None and invoice.get("status") != "draft":
        rule = rule_of("invoiceitem", "delete")
        assert rule.error is not None
        message = rule.error.format(id=item["id"]).replace("deleted", done)
        raise ActionError(400, bodies.error("invalid_request_error", message))


# --- quotes -----------------------------------------------------------------------------------------


@action("quote", "create")
def create_quote(ctx: ActionContext, _: Obj | None) -> Obj:
    customer = ctx.params.get("customer")
    if isinstance(customer, str):
        ctx.require(customer, "customer", "customer")
    items = price_items(ctx, ctx.params.get("line_items"))
    quote = ctx.generic()
    amount = amount_of(items)
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
    for price, quantity in items:
        amount = (whole(price.get("unit_amount")) or 0) * quantity
        item = ctx.create(
            "item",
            {
                "amount_subtotal": amount,
                "amount_total": amount,
                "currency": price.get("currency"),
                "description": price.get("nickname") or price.get("id"),
                "price": copy.deepcopy(price),
                "quantity": quantity,
            },
        )
        # Which quote the line is of: kept in the store (no version renders it), so the quote's
        # line_items list and its acceptance find it.
        keep(item, {"quote": quote["id"]})
    return carry_out(ctx, quote, rule_of("quote", "create"))


@action("quote", "update")
def update_quote(ctx: ActionContext, quote: Obj | None) -> Obj:
    assert quote is not None
    if not metadata_only(ctx.params):
        refuse_unless(rule_of("quote", "update"), quote)
    return ctx.generic()


def _quote_action(verb: str) -> None:
    def handler(ctx: ActionContext, quote: Obj | None) -> Obj:
        assert quote is not None
        rule = rule_of("quote", verb)
        refuse_unless(rule, quote)
        enter(ctx, quote, "quote", str(rule.to_state))
        if verb == "finalize":
            quote["number"] = f"QT-{str(quote.get('id', ''))[-8:].upper()}-0001"
        emit_rule(ctx, rule, [quote])
        return quote

    action("quote", verb)(handler)


for _verb in ("finalize", "cancel"):
    _quote_action(_verb)


@action("quote", "accept")
def accept_quote(ctx: ActionContext, quote: Obj | None) -> Obj:
    """Accepted: a subscription when a line is recurring, else a draft invoice of its lines.

    docs.stripe.com/api/quotes/accept: "Returns an accepted quote and creates an invoice,
    subscription or subscription schedule"; docs.stripe.com/quotes/overview: which one depends
    "on whether or not there are recurring prices on the quote". The docs do not say the order
    of the events nor the new invoice's status: ``quote.accepted`` comes first, the invoice stays
    a draft.
    """
    assert quote is not None
    rule = rule_of("quote", "accept")
    refuse_unless(rule, quote)
    first = len(ctx.emitted)
    customer = ctx.find(id_of(quote.get("customer")), "customer") or {}
    items = [
        (item["price"], whole(item.get("quantity")) or 1)
        for item in reversed(visible(ctx, "item"))
        if item.get("quote") == quote.get("id") and isinstance(item.get("price"), Mapping)
    ]
    if any(isinstance(price.get("recurring"), Mapping) for price, _ in items):
        subscription = start_subscription(ctx, customer, items, {})
        ctx.set(quote, {"subscription": subscription["id"]})
    else:
        invoice = new_invoice(
            ctx, customer, {"billing_reason": "quote_accept", "currency": quote.get("currency")}
        )
        keep(invoice, {"quote": quote["id"]})  # before 2025-03-31.basil
        if "parent" in invoice:
            invoice["parent"] = {
                "type": "quote_details",
                "quote_details": {"quote": quote["id"]},
                "subscription_details": None,
            }
        lines = [
            Line(
                (whole(price.get("unit_amount")) or 0) * quantity,
                price.get("currency"),
                price.get("nickname") or price.get("id"),
                quantity,
                price,
            )
            for price, quantity in items
        ]
        total_invoice(ctx, invoice, lines)
        emit(ctx, "invoice.created", invoice)
        ctx.set(quote, {"invoice": invoice["id"]})
    enter(ctx, quote, "quote", "accepted")
    emit_rule(ctx, rule, [quote])
    ctx.emitted.insert(first, ctx.emitted.pop())  # quote.accepted before what it made
    return quote


# --- credit notes ----------------------------------------------------------------------------------


@action("credit_note", "create")
def create_credit_note(ctx: ActionContext, _: Obj | None) -> Obj:
    invoice = ctx.require(ctx.params.get("invoice"), "invoice", "invoice")
    rule = rule_of("credit_note", "create")
    if invoice.get("status") not in CREDITABLE_INVOICE_STATES:
        assert rule.error is not None
        message = rule.error.format(id=invoice["id"], status=invoice.get("status"))
        raise ActionError(400, bodies.error("invalid_request_error", message, param="invoice"))
    lines = ctx.params.get("lines")
    entries = (
        lines.values() if isinstance(lines, Mapping) else lines if isinstance(lines, list) else []
    )
    amount = whole(ctx.params.get("amount"))
    if amount is None:
        amount = sum(
            whole(line.get("amount"))
            or (whole(line.get("unit_amount")) or 0) * (whole(line.get("quantity")) or 1)
            for line in entries
            if isinstance(line, Mapping)
        )
    note = ctx.generic()
    ctx.set(
        note,
        {
            "invoice": invoice["id"],
            "customer": id_of(invoice.get("customer")),
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
    enter(ctx, note, "credit_note", "issued")
    emit_rule(ctx, rule, [note])
    return note


@action("credit_note", "void")
def void_credit_note(ctx: ActionContext, note: Obj | None) -> Obj:
    assert note is not None
    rule = rule_of("credit_note", "void")
    refuse_unless(rule, note)
    enter(ctx, note, "credit_note", "void")
    ctx.set(note, {"voided_at": ctx.request.now})
    emit_rule(ctx, rule, [note])
    return note
