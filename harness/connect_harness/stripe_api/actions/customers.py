"""Customers, their payment methods and legacy card sources, and setup intents on the fake.

The tables the actions follow: :mod:`connect_harness.lifecycle.transitions` (allowed states, Stripe's
errors), :mod:`connect_harness.lifecycle.emissions` (the events of each outcome).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from connect_harness.lifecycle.states import apply_state
from connect_harness.lifecycle.test_values import TestCard, card_for
from connect_harness.stripe_api.actions import (
    ActionContext,
    ActionError,
    action,
    previous_attributes,
    update_emitting_changes,
)
from connect_harness.stripe_api.actions.cards import (
    attachment,
    brand_name,
    card_error,
    card_of,
    card_payment_method,
    check_reuse,
    link_ids,
    method_to_confirm,
    missing_payment_method,
    payment_method,
    refuse_declined_attach,
    truthy,
)
from connect_harness.stripe_api.actions.later import remember_account
from connect_harness.stripe_api.actions.rules import emit_rule, rule_of, whole

# --- customers ----------------------------------------------------------------------------------


@action("customer", "create")
def create_customer(ctx: ActionContext, _: dict[str, Any] | None) -> dict[str, Any]:
    """Create; a ``payment_method`` is attached to the new customer (its own event follows)."""
    pm = None
    if ctx.params.get("payment_method") not in (None, ""):
        pm = payment_method(ctx, ctx.params["payment_method"], "payment_method")
        refuse_declined_attach(card_of(pm), pm)
    token = ctx.params.get("source")
    source_card = card_for(token) if isinstance(token, str) else None
    if source_card is not None:
        refuse_declined_attach(source_card)
    coupon = _coupon(ctx)
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
            "test_clock": _test_clock(ctx),
            # api: POST /v1/customers, balance: 'An integer amount in cents ... that represents
            # the customer's current balance'
            "balance": whole(ctx.params.get("balance")) or 0,
            "delinquent": False,
            "discount": None,
        },
    )
    for name in ("email", "name", "description", "phone"):
        if name in customer:
            customer[name] = ctx.params.get(name) or None
    _apply_nested(ctx, customer)
    # docs.stripe.com/api/customers/create, source: it becomes the customer's default source
    source = _new_card(ctx, customer, source_card) if source_card is not None else None
    if source is not None:
        customer["default_source"] = source["id"]
    discount = _new_discount(ctx, customer, coupon) if coupon is not None else None
    ctx.emit_outcome("ok", customer)
    if source is not None:
        ctx.emit_outcome("ok", source, object_type="card", verb="create")
    if discount is not None:
        emit_rule(ctx, rule_of("customer", "discount_created"), [discount])
    if pm is not None:
        pm["customer"] = customer["id"]
        ctx.emit_outcome("ok", pm, object_type="payment_method", verb="attach")
    return customer


def _test_clock(ctx: ActionContext) -> str | None:
    """The clock ``test_clock`` names (Stripe's 404 when there is none): the customer is on it."""
    named = ctx.params.get("test_clock")
    if named in (None, ""):
        return None
    return str(ctx.require(named, "test_helpers.test_clock", "test_clock")["id"])


def _apply_nested(ctx: ActionContext, customer: dict[str, Any]) -> None:
    """``invoice_settings[default_payment_method]`` names a payment method of the customer."""
    settings = ctx.params.get("invoice_settings")
    if isinstance(settings, Mapping) and "default_payment_method" in settings:
        value = settings["default_payment_method"] or None
        holder = customer.get("invoice_settings")
        if isinstance(holder, dict):
            holder["default_payment_method"] = value


def _coupon(ctx: ActionContext) -> dict[str, Any] | None:
    """The coupon ``coupon`` names (API versions before 2025-09-30 take it), or Stripe's 404.

    The parameter is taken off the request: the customer's ``discount`` is ours to set.
    """
    named = ctx.params.pop("coupon", None)
    if not named:
        return None
    return ctx.require(named, "coupon", "coupon")


def _new_discount(
    ctx: ActionContext, customer: dict[str, Any], coupon: Mapping[str, Any]
) -> dict[str, Any]:
    """The customer's discount from ``coupon``, set as its ``discount``."""
    discount = ctx.create(
        "discount",
        {
            "source": {"coupon": coupon.get("id"), "type": "coupon"},
            "customer": customer.get("id"),
            "start": ctx.request.now,
            "end": None,
            "subscription": None,
            "invoice": None,
            "invoice_item": None,
            "promotion_code": None,
            "checkout_session": None,
        },
    )
    # The coupon itself before 2025-09-30 (source.coupon, its id, since): each version's renders.
    discount["coupon"] = copy.deepcopy(dict(coupon))
    customer["discount"] = discount
    return discount


@action("customer", "update")
def update_customer(ctx: ActionContext, customer: dict[str, Any] | None) -> dict[str, Any]:
    """An update; ``coupon`` (older API versions) attaches, switches or ("") removes the discount.

    The catalogue's customer.discount.created, .updated ('switched from one coupon to another')
    and .deleted ('a coupon is removed from a customer'), then customer.updated for the changed
    ``discount`` ('Occurs whenever any property of a customer changes').
    """
    assert customer is not None
    before = copy.deepcopy(customer)
    unset = ctx.params.get("coupon") == ""
    coupon = _coupon(ctx)
    updated = ctx.generic()
    old = before.get("discount") if isinstance(before.get("discount"), dict) else None
    discount_events: list[tuple[str, dict[str, Any]]] = []
    if coupon is not None:
        verb = "discount_updated" if old is not None else "discount_created"
        discount_events.append((verb, _new_discount(ctx, updated, coupon)))
    elif unset and old is not None:
        updated["discount"] = None
        discount_events.append(("discount_deleted", old))
    for verb, discount in discount_events:
        switched = {  # the discount's fields the switch changed, as they were
            key: value
            for key, value in (old or {}).items()
            if verb == "discount_updated" and discount.get(key) != value
        }
        emit_rule(ctx, rule_of("customer", verb), [discount], previous=switched)
    previous = previous_attributes(before, updated)
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


# --- payment methods ------------------------------------------------------------------------------


@action("payment_method", "name")
def payment_method_by_name(ctx: ActionContext, _: dict[str, Any] | None) -> dict[str, Any]:
    """``/v1/payment_methods/pm_card_visa/...``: a test card's name makes a new payment method."""
    card = card_for(str(ctx.params.get("name")))
    if card is None or not str(ctx.params.get("name")).startswith("pm_"):
        return {}
    return card_payment_method(ctx, card)


@action("payment_method", "create")
def create_payment_method(ctx: ActionContext, _: dict[str, Any] | None) -> dict[str, Any]:
    """Create; ``card[token]=tok_visa`` renders that test card (no event: Stripe has no
    ``payment_method.created``)."""
    details = ctx.params.get("card")
    token = details.get("token") if isinstance(details, Mapping) else None
    card = card_for(token) if isinstance(token, str) else None
    if card is not None:
        pm = card_payment_method(ctx, card)
        _set_billing_details(ctx, pm)
    else:
        pm = ctx.generic()
        pm["created"] = ctx.request.now
        pm["customer"] = None
        remember_account(ctx, pm, ctx.params)
    ctx.emit_outcome("ok", pm)
    return pm


def _set_billing_details(ctx: ActionContext, pm: dict[str, Any]) -> None:
    given = ctx.params.get("billing_details")
    holder = pm.get("billing_details")
    if not isinstance(given, Mapping) or not isinstance(holder, dict):
        return
    for name, value in given.items():
        if name == "address" and isinstance(value, Mapping):
            address = holder.get("address")
            if isinstance(address, dict):
                for key, part in value.items():
                    if key in address:
                        address[key] = part
        elif name in holder and isinstance(value, str):
            holder[name] = value


@action("payment_method", "attach")
def attach_payment_method(ctx: ActionContext, pm: dict[str, Any] | None) -> dict[str, Any]:
    assert pm is not None
    check_reuse(ctx, pm)
    ctx.check_state(pm, state=attachment(ctx, pm))
    customer = ctx.require(ctx.params.get("customer"), "customer", "customer")
    refuse_declined_attach(card_of(pm), pm)
    pm["customer"] = customer["id"]
    ctx.emit_outcome("ok", pm)
    return pm


@action("payment_method", "detach")
def detach_payment_method(ctx: ActionContext, pm: dict[str, Any] | None) -> dict[str, Any]:
    assert pm is not None
    ctx.check_state(pm, state=attachment(ctx, pm))
    pm["customer"] = None
    ctx.note(pm, "detached")
    ctx.emit_outcome("ok", pm)
    return pm


@action("payment_method", "update")
def update_payment_method(ctx: ActionContext, pm: dict[str, Any] | None) -> dict[str, Any]:
    assert pm is not None
    return update_emitting_changes(ctx, pm)


# --- customer sources (legacy cards) ---------------------------------------------------------------


@action("card", "create")
def create_source(ctx: ActionContext, _: dict[str, Any] | None) -> dict[str, Any]:
    """``POST /v1/customers/{customer}/sources`` with a ``tok_*``: the card joins the customer."""
    customer_id = ctx.path_values.get("customer")
    source = ctx.params.get("source")
    card = card_for(source) if isinstance(source, str) else None
    if customer_id is None or card is None:
        return ctx.generic()
    customer = ctx.require(customer_id, "customer", "customer")
    refuse_declined_attach(card)
    obj = _new_card(ctx, customer, card)
    if customer.get("default_source") is None and "default_source" in customer:
        customer["default_source"] = obj["id"]
        ctx.emit_outcome("default", obj, customer, previous_attributes={"default_source": None})
        return obj
    ctx.emit_outcome("ok", obj)
    return obj


def _new_card(ctx: ActionContext, customer: Mapping[str, Any], card: TestCard) -> dict[str, Any]:
    """A card source of ``customer`` made from a test token."""
    obj = ctx.create(
        "card",
        {"brand": brand_name(card.brand), "last4": card.last4, "funding": card.funding},
    )
    obj["customer"] = customer["id"]
    if "account" in obj:
        obj["account"] = None
    return obj


@action("card", "delete")
def delete_source(ctx: ActionContext, card: dict[str, Any] | None) -> dict[str, Any]:
    """A customer's card removed: the customer's default source no longer names it."""
    assert card is not None
    snapshot = copy.deepcopy(card)
    answer = ctx.generic()
    customer = ctx.find(snapshot.get("customer"), "customer")
    if customer is None:
        return answer
    if customer.get("default_source") == snapshot.get("id"):
        customer["default_source"] = None
    ctx.emit_outcome("ok", snapshot)
    return answer


@action("card", "update")
def update_source(ctx: ActionContext, card: dict[str, Any] | None) -> dict[str, Any]:
    assert card is not None
    before = copy.deepcopy(card)
    updated = ctx.generic()
    previous = previous_attributes(before, updated)
    if previous and updated.get("customer"):
        ctx.emit_outcome("ok", updated, previous_attributes=previous)
    return updated


# --- setup intents ------------------------------------------------------------------------------


@action("setup_intent", "create")
def create_setup_intent(ctx: ActionContext, _: dict[str, Any] | None) -> dict[str, Any]:
    params = ctx.params
    pm = None
    if params.get("payment_method") not in (None, ""):
        pm = payment_method(ctx, params["payment_method"], "payment_method")
    if params.get("customer") not in (None, ""):
        ctx.require(params["customer"], "customer", "customer")
    seti = ctx.generic()
    seti["created"] = ctx.request.now
    ctx.set(
        seti,
        {
            "customer": params.get("customer") or None,
            "description": params.get("description") or None,
            "payment_method": pm["id"] if pm is not None else None,
            "latest_attempt": None,
            "mandate": None,
            "single_use_mandate": None,
            "on_behalf_of": params.get("on_behalf_of") or None,
            "application": None,
            "usage": params.get("usage") or "off_session",
            "last_setup_error": None,
            "next_action": None,
            "cancellation_reason": None,
        },
    )
    types = params.get("payment_method_types")
    if isinstance(types, list) and "payment_method_types" in seti:
        seti["payment_method_types"] = [str(item) for item in types]
    state = "requires_payment_method" if pm is None else "requires_confirmation"
    apply_state(seti, "setup_intent", state, at=ctx.request.now, link=link_ids())
    ctx.emit_outcome("ok", seti)
    if truthy(params.get("confirm")):
        _confirm_setup(ctx, seti, pm)
    return seti


@action("setup_intent", "confirm")
def confirm_setup_intent(ctx: ActionContext, seti: dict[str, Any] | None) -> dict[str, Any]:
    assert seti is not None
    ctx.check_state(seti)
    _confirm_setup(ctx, seti, method_to_confirm(ctx, seti))
    return seti


def _confirm_setup(ctx: ActionContext, seti: dict[str, Any], pm: dict[str, Any] | None) -> None:
    if pm is None:
        raise missing_payment_method(seti, kind="setup_intent", name="SetupIntent")
    card = card_of(pm)
    now = ctx.request.now
    if card.outcome == "requires_action" and seti.get("status") != "requires_action":
        apply_state(seti, "setup_intent", "requires_action", at=now, link=link_ids())
        ctx.emit_outcome("requires_action", seti, object_type="setup_intent", verb="confirm")
        return
    if card.outcome == "declined":
        apply_state(seti, "setup_intent", "setup_failed", at=now, link=link_ids())
        error = card_error(card, charge=None, pm=pm)
        seti["last_setup_error"] = error
        seti["payment_method"] = None
        ctx.emit_outcome("declined", seti, object_type="setup_intent", verb="confirm")
        body = {"error": {**error, "setup_intent": copy.deepcopy(seti)}}
        body["error"] = dict(sorted(body["error"].items()))
        raise ActionError(402, body)
    apply_state(seti, "setup_intent", "succeeded", at=now, link=link_ids(payment_method=pm["id"]))
    customer = seti.get("customer")
    if isinstance(customer, str) and pm.get("customer") != customer:
        pm["customer"] = customer
        ctx.emit_outcome("attached", pm, seti, object_type="setup_intent", verb="confirm")
        return
    ctx.emit_outcome("succeeded", seti, object_type="setup_intent", verb="confirm")


@action("setup_intent", "cancel")
def cancel_setup_intent(ctx: ActionContext, seti: dict[str, Any] | None) -> dict[str, Any]:
    assert seti is not None
    ctx.check_state(seti)
    apply_state(seti, "setup_intent", "canceled", at=ctx.request.now, link=link_ids())
    seti["cancellation_reason"] = ctx.params.get("cancellation_reason") or None
    ctx.emit_outcome("ok", seti)
    return seti
