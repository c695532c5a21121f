"""Subscriptions and subscription schedules on the fake: created active, incomplete or trialing
with a first invoice, updated, paused at a trial's end, resumed, canceled; schedules started,
updated, canceled and released, each as ``lifecycle/billing.py`` says."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from connect_harness.stripe_api import bodies
from connect_harness.stripe_api.actions import ActionContext, ActionError, action
from connect_harness.stripe_api.actions.cards import card_of, payment_method
from connect_harness.stripe_api.actions.clocks import clock_time, period_end
from connect_harness.stripe_api.actions.invoices import (
    UNPAID,
    Line,
    customers_own,
    finalize,
    mark_paid,
    new_invoice,
    new_payment,
    total_invoice,
)
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
    set_state,
    whole,
)

__all__ = [
    "amount_of",
    "inline_price",
    "price_items",
    "start_subscription",
    "subscription_invoice",
    "subscription_payment_method",
    "subscription_prices",
]

_MONTH = 30 * 86400


# --- subscriptions ------------------------------------------------------------------------------------


def price_items(ctx: ActionContext, raw: Any) -> list[tuple[Obj, int]]:
    """(price, quantity) of each of a request's ``items`` (or a schedule phase's)."""
    entries = raw.values() if isinstance(raw, Mapping) else raw if isinstance(raw, list) else []
    found = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            continue
        price_id = entry.get("price") or entry.get("plan")
        inline = entry.get("price_data")
        if price_id is None and isinstance(inline, Mapping):
            price = inline_price(ctx, inline, f"items[{index}][price_data]")
        elif price_id is None:
            raise ActionError(400, bodies.missing_parameter(f"items[{index}][price]"))
        else:
            price = ctx.require(price_id, "price", f"items[{index}][price]")
        found.append((price, whole(entry.get("quantity")) or 1))
    return found


def inline_price(ctx: ActionContext, data: Mapping[str, Any], param: str) -> Obj:
    """The price a ``price_data`` makes (api: POST /v1/subscriptions, items[].price_data, and
    POST /v1/invoiceitems, price_data: 'Data used to generate a new Price object inline'): its
    currency, product, unit amount and, when given, recurring interval (else one-time). The docs
    do not say that an inline price is announced, so the fake emits no price.created for it."""
    product = data.get("product")
    if isinstance(product, str):
        ctx.require(product, "product", f"{param}[product]")
    amount = whole(data.get("unit_amount"))
    if amount is None and isinstance(data.get("unit_amount_decimal"), str):
        amount = whole(str(data["unit_amount_decimal"]).split(".", 1)[0])
    asked = data.get("recurring")
    recurring: Mapping[str, Any] = asked if isinstance(asked, Mapping) else {}
    price = ctx.create(
        "price",
        {
            "created": ctx.request.now,
            "currency": data.get("currency"),
            "product": product,
            "unit_amount": amount,
            "unit_amount_decimal": None if amount is None else str(amount),
            "type": "recurring" if asked is not None else "one_time",
            "lookup_key": None,
            "nickname": None,
            "metadata": {},
        },
    )
    if asked is None and "recurring" in price:
        price["recurring"] = None
    elif isinstance(price.get("recurring"), dict):
        price["recurring"] = {
            **price["recurring"],
            "interval": recurring.get("interval") or "month",
            "interval_count": whole(recurring.get("interval_count")) or 1,
        }
    return price


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


def amount_of(items: list[tuple[Obj, int]]) -> int:
    return sum((whole(price.get("unit_amount")) or 0) * quantity for price, quantity in items)


def subscription_payment_method(ctx: ActionContext, customer: Obj, named: Any) -> Obj | None:
    if isinstance(named, str):
        return payment_method(ctx, named, "default_payment_method")
    settings = customer.get("invoice_settings")
    for candidate in (
        settings.get("default_payment_method") if isinstance(settings, Mapping) else None,
        customer.get("default_source"),
    ):
        if isinstance(candidate, str):
            found = customers_own(ctx, candidate, customer)
            if found is not None:
                return found
            if candidate.startswith(("pm_card_", "tok_")):
                return payment_method(ctx, candidate, "default_payment_method")
    return None


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
    pm = subscription_payment_method(ctx, customer, params.get("default_payment_method"))
    ctx.set(
        subscription,
        {
            "customer": customer.get("id"),
            "created": now,
            "start_date": now,
            "billing_cycle_anchor": trial_end or now,
            "default_payment_method": pm.get("id")
            if pm and str(pm.get("id", "")).startswith("pm_")
            else None,
            "collection_method": params.get("collection_method") or "charge_automatically",
            "trial_start": now if trial_end else None,
            "trial_end": trial_end,
            "schedule": None,
            "test_clock": id_of(customer.get("test_clock")),
            "pending_update": None,
            "discounts": [],
            "currency": items[0][0].get("currency") if items else subscription.get("currency"),
            "metadata": dict(params["metadata"])
            if isinstance(params.get("metadata"), Mapping)
            else subscription.get("metadata") or {},
        },
    )
    # Before 2025-03-31.basil the period was the subscription's, since then its items'.
    keep(
        subscription,
        {
            "current_period_start": now,
            "current_period_end": trial_end or period_end(now, [price for price, _ in items]),
        },
    )
    _apply_cancel_fields(subscription, params)
    _subscription_items(subscription, items, now)
    amount = 0 if trial_end else amount_of(items)
    invoice = new_invoice(
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
    total_invoice(ctx, invoice, _lines(ctx, subscription, items, 0 if trial_end else None))
    subscription["latest_invoice"] = invoice["id"]
    snapshots: dict[str, Obj] = {"invoice.created": copy.deepcopy(invoice)}
    _finalize_quietly(ctx, invoice)
    snapshots["invoice.finalized"] = copy.deepcopy(invoice)
    if trial_end:
        rule = rule_of("subscription", "create_trialing")
        _enter_new(ctx, subscription, params, "trialing")
        subscription["trial_end"], subscription["trial_start"] = trial_end, now
        mark_paid(ctx, invoice, None, None)
        emit_rule(ctx, rule, [subscription, invoice], snapshots=snapshots)
        if trial_end - now <= 3 * 86400:
            emit(ctx, "customer.subscription.trial_will_end", subscription)
        return subscription
    if amount and subscription.get("collection_method") == "send_invoice":
        # "Subscriptions with collection_method=send_invoice are automatically activated
        # regardless of the first Invoice status": the customer pays the open invoice later.
        _enter_new(ctx, subscription, params, "active")
        rule = rule_of("subscription", "create_send_invoice")
        emit_rule(ctx, rule, [subscription, invoice], snapshots=snapshots)
        return subscription
    if amount and params.get("payment_behavior") == "default_incomplete":
        # No payment is tried: the first invoice's intent waits for the customer to confirm it.
        _enter_new(ctx, subscription, params, "incomplete")
        pi = _unconfirmed_intent(ctx, invoice, customer, amount)
        snapshots["payment_intent.created"] = copy.deepcopy(pi)
        rule = rule_of("subscription", "create_default_incomplete")
        emit_rule(ctx, rule, [subscription, invoice, pi], snapshots=snapshots)
        return subscription
    card = card_of(pm) if pm is not None else None
    if amount == 0 or (card is not None and card.outcome not in UNPAID):
        objects: list[Mapping[str, Any]] = [subscription, invoice]
        if amount and pm is not None and card is not None:
            pi, charge = new_payment(ctx, invoice, pm, card, amount, snapshots)
            mark_paid(ctx, invoice, pi, charge)
            objects += [pi, *([charge] if charge else [])]
        else:
            mark_paid(ctx, invoice, None, None)
        _enter_new(ctx, subscription, params, "active")
        emit_rule(ctx, rule_of("subscription", "create"), objects, snapshots=snapshots)
        return subscription
    if pm is not None and card is not None:
        # A declined or unauthenticated first payment: incomplete, the invoice open and attempted.
        pi, charge = new_payment(ctx, invoice, pm, card, amount, snapshots)
        _enter_new(ctx, subscription, params, "incomplete")
        ctx.set(invoice, {"attempted": True, "attempt_count": 1})
        verb = "create_declined" if card.outcome == "declined" else "create_requires_action"
        paid = [subscription, invoice, pi, *([charge] if charge else [])]
        emit_rule(ctx, rule_of("subscription", verb), paid, snapshots=snapshots)
        return subscription
    _enter_new(ctx, subscription, params, "incomplete")
    pi = _unconfirmed_intent(ctx, invoice, customer, amount)
    ctx.set(invoice, {"attempted": True, "attempt_count": 1})
    snapshots["payment_intent.created"] = copy.deepcopy(pi)
    emit_rule(
        ctx,
        rule_of("subscription", "create_incomplete"),
        [subscription, invoice, pi],
        snapshots=snapshots,
    )
    return subscription


def subscription_prices(subscription: Mapping[str, Any]) -> list[Obj]:
    """The prices of the subscription's items, in order."""
    listed = subscription.get("items")
    data = listed.get("data", []) if isinstance(listed, Mapping) else []
    return [
        item["price"]
        for item in data
        if isinstance(item, Mapping) and isinstance(item.get("price"), dict)
    ]


def subscription_invoice(
    ctx: ActionContext, subscription: Obj, customer: Obj, reason: str
) -> tuple[Obj, dict[str, Obj]]:
    """A finalized invoice for the subscription's current period (``billing_reason`` ``reason``),
    and the snapshots ``invoice.created`` (a draft) and ``invoice.finalized`` show."""
    listed = subscription.get("items")
    data = listed.get("data", []) if isinstance(listed, Mapping) else []
    items = [
        (item["price"], whole(item.get("quantity")) or 1)
        for item in data
        if isinstance(item, Mapping) and isinstance(item.get("price"), dict)
    ]
    invoice = new_invoice(
        ctx,
        customer,
        {
            "subscription": subscription["id"],
            "billing_reason": reason,
            "currency": subscription.get("currency"),
            "collection_method": subscription.get("collection_method"),
        },
    )
    _subscription_parent(invoice, subscription)
    total_invoice(ctx, invoice, _lines(ctx, subscription, items, None))
    subscription["latest_invoice"] = invoice["id"]
    snapshots: dict[str, Obj] = {"invoice.created": copy.deepcopy(invoice)}
    _finalize_quietly(ctx, invoice)
    snapshots["invoice.finalized"] = copy.deepcopy(invoice)
    return invoice, snapshots


def _unconfirmed_intent(ctx: ActionContext, invoice: Obj, customer: Obj, amount: int) -> Obj:
    """The first invoice's payment intent, waiting for a payment method."""
    pi = ctx.create(
        "payment_intent",
        {
            "amount": amount,
            "currency": invoice.get("currency"),
            "customer": customer.get("id"),
            "created": ctx.request.now,
            "payment_method": None,
            "metadata": {},
        },
    )
    keep(pi, {"invoice": invoice.get("id")})  # before 2025-03-31.basil
    set_state(
        pi, "payment_intent", "requires_payment_method", ctx, {"customer": customer.get("id")}
    )
    keep(invoice, {"payment_intent": pi.get("id")})
    return pi


def _lines(
    ctx: ActionContext, subscription: Obj, items: list[tuple[Obj, int]], amount: int | None
) -> list[Line]:
    """A first invoice's lines: one per subscription item, for its period (``amount``: a trial's 0)."""
    listed = subscription.get("items")
    data = listed.get("data", []) if isinstance(listed, Mapping) else []
    start = ctx.request.now
    end = whole(subscription.get("current_period_end")) or start + _MONTH
    lines = []
    for index, (price, quantity) in enumerate(items):
        item_id = data[index].get("id") if index < len(data) else None
        charge = (whole(price.get("unit_amount")) or 0) * quantity if amount is None else amount
        label = price.get("nickname") or price.get("id")
        lines.append(
            Line(
                charge,
                price.get("currency"),
                f"{'Trial period for ' if amount == 0 else ''}{quantity} \N{MULTIPLICATION SIGN} {label}",
                quantity,
                price,
                subscription=str(subscription.get("id")),
                subscription_item=item_id,
                period=(start, end),
            )
        )
    return lines


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
    finalize(ctx, invoice)
    del ctx.emitted[emitted:]


def _trial_end(params: Mapping[str, Any], now: int) -> int | None:
    days = whole(params.get("trial_period_days"))
    if days:
        return now + days * 86400
    end = params.get("trial_end")
    if end == "now" or end is None:
        return None
    value = whole(end)
    return value if value and value > now else None


def _enter_new(
    ctx: ActionContext, subscription: Obj, params: Mapping[str, Any], state: str
) -> None:
    """A new subscription enters its first state, which keeps the cancellation it was created
    with (api: POST /v1/subscriptions, cancel_at: 'A timestamp at which the subscription should
    cancel', cancel_at_period_end: 'Indicate whether this subscription should cancel at the end of
    the current period')."""
    enter(ctx, subscription, "subscription", state)
    _apply_cancel_fields(subscription, params)


def _apply_cancel_fields(subscription: Obj, params: Mapping[str, Any]) -> None:
    cancel_at = whole(params.get("cancel_at"))
    if cancel_at is not None and "cancel_at" in subscription:
        subscription["cancel_at"] = cancel_at
    if "cancel_at_period_end" in params:
        subscription["cancel_at_period_end"] = str(params["cancel_at_period_end"]) == "true"
        if subscription["cancel_at_period_end"] and "cancel_at" in subscription:
            subscription["cancel_at"] = subscription.get("current_period_end")
        elif "cancel_at" in subscription:
            subscription["cancel_at"] = None


@action("subscription", "create")
def create_subscription(ctx: ActionContext, _: Obj | None) -> Obj:
    customer = customer_of(ctx)
    items = price_items(ctx, ctx.params.get("items"))
    subscription = ctx.generic()
    with clock_time(ctx, customer):
        return start_subscription(ctx, customer, items, ctx.params, subscription)


@action("subscription", "update")
def update_subscription(ctx: ActionContext, subscription: Obj | None) -> Obj:
    assert subscription is not None
    rule = rule_of("subscription", "update")
    if not metadata_only(ctx.params):
        refuse_unless(rule, subscription)
    before = copy.deepcopy(subscription)
    trial_end = subscription.get("trial_end")
    subscription = ctx.generic()
    subscription["trial_end"] = trial_end
    _apply_cancel_fields(subscription, ctx.params)
    if "items" in ctx.params:
        _subscription_items(subscription, price_items(ctx, ctx.params["items"]), ctx.request.now)
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
    customer = ctx.find(id_of(subscription.get("customer")), "customer") or {}
    pm = (
        ctx.find(subscription.get("default_payment_method"))
        if subscription.get("default_payment_method")
        else subscription_payment_method(ctx, customer, None)
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
        enter(ctx, subscription, "subscription", "paused")
        subscription["trial_end"] = now
        rule = rule_of("subscription", "pause_at_trial_end")
        emit_rule(ctx, rule, [subscription], previous=changes(before, subscription))
        return subscription
    enter(ctx, subscription, "subscription", "active")
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
    rule = rule_of("subscription", "delete")
    refuse_unless(rule, subscription)
    enter(ctx, subscription, "subscription", "canceled")
    ctx.set(subscription, {"canceled_at": ctx.request.now, "ended_at": ctx.request.now})
    emit_rule(ctx, rule, [subscription])
    return subscription


@action("subscription", "resume")
def resume_subscription(ctx: ActionContext, subscription: Obj | None) -> Obj:
    assert subscription is not None
    return carry_out(ctx, subscription, rule_of("subscription", "resume"))


# --- subscription schedules --------------------------------------------------------------------------


@action("subscription_schedule", "create")
def create_subscription_schedule(ctx: ActionContext, _: Obj | None) -> Obj:
    customer = customer_of(ctx)
    with clock_time(ctx, customer):
        return _new_schedule(ctx, customer)


def _new_schedule(ctx: ActionContext, customer: Obj) -> Obj:
    phases = ctx.params.get("phases")
    listed = list(phases.values()) if isinstance(phases, Mapping) else phases or []
    given = [phase for phase in listed if isinstance(phase, Mapping)]
    resolved = [price_items(ctx, phase.get("items")) for phase in given]
    items = resolved[0] if resolved else []
    schedule = ctx.create("subscription_schedule", {"customer": customer.get("id")})
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
            "test_clock": id_of(customer.get("test_clock")),
            "end_behavior": ctx.params.get("end_behavior") or "release",
        },
    )
    start = ctx.params.get("start_date")
    begins = now if start in (None, "now") else whole(start) or now
    _schedule_phases(ctx, schedule, given, begins, resolved)
    if start == "now" or (whole(start) or now + 1) <= now:
        rule = rule_of("subscription_schedule", "create_active")
        enter(ctx, schedule, "subscription_schedule", "active")
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
    enter(ctx, schedule, "subscription_schedule", "not_started")
    schedule["subscription"] = None
    return carry_out(ctx, schedule, rule_of("subscription_schedule", "create"))


def _schedule_phases(
    ctx: ActionContext,
    schedule: Obj,
    listed: list[Any],
    begins: int,
    resolved: list[list[tuple[Obj, int]]] | None = None,
) -> None:
    """Each phase's ``start_date`` and ``end_date``: its own ``end_date``, else ``iterations``
    (default 1) billing periods of its first price (api: POST /v1/subscription_schedules,
    phases[].iterations: 'Integer representing the multiplier applied to the price interval');
    ``current_phase`` is the one under way."""
    template = schedule.get("phases")
    shape = template[0] if isinstance(template, list) and template else None
    phases = []
    start = begins
    given_phases = [phase for phase in listed if isinstance(phase, Mapping)]
    if resolved is None:
        resolved = [price_items(ctx, phase.get("items")) for phase in given_phases]
    for given, items in zip(given_phases, resolved, strict=True):
        prices = [price for price, _ in items]
        end = whole(given.get("end_date")) or period_end(
            start, prices, whole(given.get("iterations")) or 1
        )
        phase = copy.deepcopy(shape) if isinstance(shape, dict) else {}
        phase.update({"start_date": start, "end_date": end})
        if "items" in phase and isinstance(given.get("items"), list):
            first_item = phase["items"][0] if phase["items"] else {}
            phase["items"] = [
                {**first_item, "price": price.get("id"), "quantity": quantity}
                for price, quantity in items
            ]
        phases.append(phase)
        start = end
    if phases and "phases" in schedule:
        schedule["phases"] = phases
    now = ctx.request.now
    current = next((p for p in phases if p["start_date"] <= now < p["end_date"]), None)
    if "current_phase" in schedule:
        schedule["current_phase"] = (
            {"end_date": current["end_date"], "start_date": current["start_date"]}
            if current
            else None
        )


@action("subscription_schedule", "update")
def update_subscription_schedule(ctx: ActionContext, schedule: Obj | None) -> Obj:
    assert schedule is not None
    rule = rule_of("subscription_schedule", "update")
    if not metadata_only(ctx.params):
        refuse_unless(rule, schedule)
    before = copy.deepcopy(schedule)
    after = ctx.generic()
    phases = ctx.params.get("phases")
    listed = list(phases.values()) if isinstance(phases, Mapping) else phases
    if isinstance(listed, list) and listed:
        # The request's phases replace the schedule's (api: POST /v1/subscription_schedules/{id},
        # phases: 'List representing phases of the subscription schedule'), with the prices asked
        # for, not the form's raw values or the example's.
        after["phases"] = copy.deepcopy(before.get("phases"))
        first = listed[0] if isinstance(listed[0], Mapping) else {}
        begun = before.get("phases")
        start = begun[0].get("start_date") if isinstance(begun, list) and begun else None
        begins = whole(first.get("start_date")) or whole(start) or ctx.request.now
        _schedule_phases(ctx, after, listed, begins)
    emit_rule(ctx, rule, [after], previous=changes(before, after))
    return after


@action("subscription_schedule", "cancel")
def cancel_subscription_schedule(ctx: ActionContext, schedule: Obj | None) -> Obj:
    assert schedule is not None
    rule = rule_of("subscription_schedule", "cancel")
    refuse_unless(rule, schedule)
    subscription = ctx.find(id_of(schedule.get("subscription")), "subscription")
    enter(ctx, schedule, "subscription_schedule", "canceled")
    ending = [schedule]
    if subscription is not None and subscription.get("status") != "canceled":
        enter(ctx, subscription, "subscription", "canceled")
        ctx.set(subscription, {"canceled_at": ctx.request.now, "ended_at": ctx.request.now})
        ending.append(subscription)
    emit_rule(ctx, rule, ending)
    return schedule


@action("subscription_schedule", "release")
def release_subscription_schedule(ctx: ActionContext, schedule: Obj | None) -> Obj:
    assert schedule is not None
    rule = rule_of("subscription_schedule", "release")
    refuse_unless(rule, schedule)
    subscription_id = id_of(schedule.get("subscription"))
    enter(ctx, schedule, "subscription_schedule", "released")
    ctx.set(schedule, {"released_subscription": subscription_id, "subscription": None})
    subscription = ctx.find(subscription_id, "subscription")
    if subscription is not None:
        subscription["schedule"] = None
    emit_rule(ctx, rule, [schedule])
    return schedule
