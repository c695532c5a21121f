"""Test clocks on the fake: what is attached to a clock lives at the clock's time, and advancing
the clock carries it through what Stripe does as that time passes (docs.stripe.com/billing/testing/
test-clocks: "advance the clock's time ... Stripe ... triggers the events" of the objects on it).

A customer created with ``test_clock`` is on that clock; the subscriptions and schedules created
for it take the clock's ``frozen_time`` as their now. Advancing the clock from ``old`` to ``new``
carries out, in time order, each milestone of those objects that falls in ``(old, new]``:

* a schedule that cancels its subscription at its end (``end_behavior`` ``cancel``), 7 days
  before that end: ``subscription_schedule.expiring``;
* a schedule's end: ``completed`` (its subscription released, or canceled when ``end_behavior``
  is ``cancel``);
* a trial 3 days before its end: ``customer.subscription.trial_will_end``; its end: active, with
  the first paid period's invoice;
* an active or past_due subscription's period end: the next period and its invoice, paid with the
  customer's payment method (``past_due`` and ``invoice.payment_failed`` without one or when the
  card declines).

The rules (events and their order) are ``lifecycle/tools.py``'s ``advance_*`` rows. Bounded: at
most :data:`MAX_STEPS` milestones per advance; a schedule's later phases are not entered (its end
is its last phase's), and ``invoice.upcoming`` (sent "X days" before renewal, X being an account
setting) is not sent.
"""

from __future__ import annotations

import calendar
import contextlib
import copy
import dataclasses
import datetime
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from connect_harness.stripe_api.actions import ActionContext
from connect_harness.stripe_api.actions.cards import card_of
from connect_harness.stripe_api.actions.invoices import UNPAID, mark_paid, new_payment
from connect_harness.stripe_api.actions.rules import (
    Obj,
    changes,
    emit_rule,
    enter,
    id_of,
    keep,
    rule_of,
    visible,
    whole,
)

__all__ = [
    "MAX_STEPS",
    "add_interval",
    "advance_attached",
    "clock_time",
    "period_end",
]

#: Milestones one advance carries out at most (Stripe refuses an advance beyond two intervals of
#: the clock's shortest subscription; the fake does not refuse, it stops here).
MAX_STEPS = 100

_DAY = 86400

#: A subscription's period fields older versions render at its top level (rules.keep): an event's
#: previous_attributes must not name a field its object lacks in the newest shape.
_KEPT_PERIOD = ("current_period_start", "current_period_end")


def add_interval(start: int, interval: str, count: int = 1) -> int:
    """``start`` moved by ``count`` billing intervals: calendar months and years (the same day,
    or the month's last when it has fewer days), days and weeks."""
    if interval in ("day", "week"):
        return start + count * _DAY * (7 if interval == "week" else 1)
    moment = datetime.datetime.fromtimestamp(start, tz=datetime.timezone.utc)
    months = count * (12 if interval == "year" else 1)
    year, month = divmod(moment.month - 1 + months, 12)
    year += moment.year
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return int(moment.replace(year=year, month=month + 1, day=day).timestamp())


def _recurring(price: Mapping[str, Any]) -> tuple[str, int]:
    recurring = price.get("recurring")
    if isinstance(recurring, Mapping) and recurring.get("interval"):
        return str(recurring["interval"]), whole(recurring.get("interval_count")) or 1
    return "month", 1


def period_end(start: int, prices: Sequence[Mapping[str, Any]], periods: int = 1) -> int:
    """The end of ``periods`` billing periods from ``start`` (the first price's interval)."""
    interval, count = _recurring(prices[0]) if prices else ("month", 1)
    return add_interval(start, interval, count * periods)


def clock_of(ctx: ActionContext, customer: Mapping[str, Any]) -> Obj | None:
    return ctx.find(id_of(customer.get("test_clock")), "test_helpers.test_clock")


@contextlib.contextmanager
def clock_time(ctx: ActionContext, customer: Mapping[str, Any]) -> Iterator[int]:
    """Objects made inside take the customer's clock's time as their now (the request's time when
    it has no clock); the events emitted inside keep the request's own time."""
    clock = clock_of(ctx, customer)
    frozen = whole(clock.get("frozen_time")) if clock is not None else None
    with at_time(ctx, frozen if frozen is not None else ctx.request.now):
        yield ctx.request.now


@contextlib.contextmanager
def at_time(ctx: ActionContext, when: int) -> Iterator[None]:
    original = ctx.request
    start = len(ctx.emitted)
    ctx.request = dataclasses.replace(original, now=when)
    try:
        yield
    finally:
        ctx.request = original
        for pending in ctx.emitted[start:]:
            pending.request = dataclasses.replace(pending.request, now=original.now)


# --- advancing ------------------------------------------------------------------------------------


def advance_attached(ctx: ActionContext, clock: Obj, old: int, new: int) -> None:
    """Carry what is on ``clock`` from ``old`` to ``new``, milestone by milestone."""
    customers = {
        str(customer["id"]): customer
        for customer in visible(ctx, "customer")
        if id_of(customer.get("test_clock")) == clock.get("id")
    }
    if not customers:
        return
    for _ in range(MAX_STEPS):
        found = _next_milestone(ctx, customers, old, new)
        if found is None:
            return
        when, step = found
        with at_time(ctx, when):
            step()


def _next_milestone(
    ctx: ActionContext, customers: Mapping[str, Obj], old: int, new: int
) -> tuple[int, Any] | None:
    candidates: list[tuple[int, int, Any]] = []
    for schedule in visible(ctx, "subscription_schedule"):
        if id_of(schedule.get("customer")) in customers and schedule.get("status") == "active":
            candidates.extend(_schedule_milestones(ctx, schedule, old))
    for subscription in visible(ctx, "subscription"):
        customer = customers.get(str(id_of(subscription.get("customer"))))
        if customer is not None:
            candidates.extend(_subscription_milestones(ctx, subscription, customer, old))
    due = [candidate for candidate in candidates if candidate[0] <= new]
    if not due:
        return None
    when, _, step = min(due, key=lambda candidate: candidate[:2])
    return when, step


def _schedule_end(schedule: Mapping[str, Any]) -> int | None:
    phases = schedule.get("phases")
    if not isinstance(phases, list) or not phases or not isinstance(phases[-1], Mapping):
        return None
    return whole(phases[-1].get("end_date"))


def _schedule_milestones(ctx: ActionContext, schedule: Obj, old: int) -> list[tuple[int, int, Any]]:
    end = _schedule_end(schedule)
    if end is None or schedule.get("end_behavior") not in ("release", "cancel"):
        return []
    found: list[tuple[int, int, Any]] = []
    warn = end - 7 * _DAY
    created = whole(schedule.get("created")) or 0
    expires = schedule.get("end_behavior") == "cancel"  # the subscription ends with it
    if expires and warn > max(old, created) and not ctx.noted(schedule, "expiring sent"):
        found.append((warn, 0, lambda: _expiring(ctx, schedule)))
    if end > created:
        found.append((end, 1, lambda: _complete(ctx, schedule)))
    return found


def _expiring(ctx: ActionContext, schedule: Obj) -> None:
    ctx.note(schedule, "expiring sent")
    emit_rule(ctx, rule_of("subscription_schedule", "advance_expiring"), [schedule])


def _complete(ctx: ActionContext, schedule: Obj) -> None:
    subscription = ctx.find(id_of(schedule.get("subscription")), "subscription")
    enter(ctx, schedule, "subscription_schedule", "completed")
    ctx.set(schedule, {"completed_at": ctx.request.now, "current_phase": None})
    cancels = schedule.get("end_behavior") == "cancel"
    if cancels and subscription is not None and subscription.get("status") != "canceled":
        enter(ctx, subscription, "subscription", "canceled")
        now = ctx.request.now
        ctx.set(subscription, {"canceled_at": now, "ended_at": now, "schedule": None})
        rule = rule_of("subscription_schedule", "advance_completed_cancel")
        emit_rule(ctx, rule, [subscription, schedule])
        return
    if subscription is not None:
        subscription["schedule"] = None
    emit_rule(ctx, rule_of("subscription_schedule", "advance_completed"), [schedule])


def _subscription_milestones(
    ctx: ActionContext, subscription: Obj, customer: Obj, old: int
) -> list[tuple[int, int, Any]]:
    status = subscription.get("status")
    start = whole(subscription.get("start_date")) or 0
    found: list[tuple[int, int, Any]] = []
    if status == "trialing":
        trial_end = whole(subscription.get("trial_end"))
        if trial_end is None:
            return []
        warn = trial_end - 3 * _DAY
        if warn > max(old, start) and not ctx.noted(subscription, "trial_will_end sent"):
            found.append((warn, 2, lambda: _trial_will_end(ctx, subscription)))
        found.append((trial_end, 3, lambda: _renew(ctx, subscription, customer, "trial_ended")))
    elif status in ("active", "past_due"):
        end = whole(subscription.get("current_period_end"))
        if end is not None and end > start:
            found.append((end, 3, lambda: _renew(ctx, subscription, customer, "renewed")))
    return found


def _trial_will_end(ctx: ActionContext, subscription: Obj) -> None:
    ctx.note(subscription, "trial_will_end sent")
    emit_rule(ctx, rule_of("subscription", "advance_trial_will_end"), [subscription])


def _renew(ctx: ActionContext, subscription: Obj, customer: Obj, why: str) -> None:
    """A new period from now and its invoice, paid with the customer's payment method."""
    from connect_harness.stripe_api.actions.subscriptions import (  # it imports this module
        subscription_invoice,
        subscription_payment_method,
        subscription_prices,
    )

    before = copy.deepcopy(subscription)
    now = ctx.request.now
    prices = subscription_prices(subscription)
    end = period_end(now, prices)
    _move_period(subscription, now, end)
    invoice, snapshots = subscription_invoice(ctx, subscription, customer, "subscription_cycle")
    amount = whole(invoice.get("amount_due")) or 0
    pm = subscription_payment_method(ctx, customer, subscription.get("default_payment_method"))
    card = card_of(pm) if pm is not None else None
    objects: list[Mapping[str, Any]] = [subscription, invoice]
    if amount == 0 or (pm is not None and card is not None and card.outcome not in UNPAID):
        if amount and pm is not None and card is not None:
            pi, charge = new_payment(ctx, invoice, pm, card, amount, snapshots)
            mark_paid(ctx, invoice, pi, charge)
            objects += [pi, *([charge] if charge else [])]
        else:
            mark_paid(ctx, invoice, None, None)
        enter(ctx, subscription, "subscription", "active")
        rule = rule_of("subscription", f"advance_{why}")
    else:
        ctx.set(invoice, {"attempted": True, "attempt_count": 1})
        enter(ctx, subscription, "subscription", "past_due")
        rule = rule_of("subscription", "advance_unpaid")
    previous = changes(before, subscription)
    for name in _KEPT_PERIOD:  # kept for older versions' shape only: the items say it (newest)
        previous.pop(name, None)
    emit_rule(ctx, rule, objects, previous=previous, snapshots=snapshots)


def _move_period(subscription: Obj, start: int, end: int) -> None:
    keep(subscription, {"current_period_start": start, "current_period_end": end})
    items = subscription.get("items")
    for item in items.get("data", []) if isinstance(items, Mapping) else []:
        if isinstance(item, dict):
            for name, value in (("current_period_start", start), ("current_period_end", end)):
                if name in item:
                    item[name] = value
