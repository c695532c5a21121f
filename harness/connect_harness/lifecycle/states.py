"""Each object type's states and the fields each state implies, as tables checked against Stripe's docs.

A state is a name (usually the object's ``status`` value) and the fields that go with it: a succeeded
payment intent has received its amount and names its charge, a failed payout says why, a canceled
subscription has ended. :func:`apply_state` writes a state into an object; the event builder uses it
for the object an event carries (:mod:`connect_harness.lifecycle.event_states`), and the fake API can
use it for its transitions.

Rules of the tables:

* A field is written only when the object has it (shapes differ by API version: an invoice of
  2023-08-16 has ``paid`` and ``payment_intent``, a newer one ``payments``), and a dotted path only
  when its parent is a hash.
* Values are plain JSON, or one of the markers below: :class:`At` (a time relative to the
  transition), :class:`Link` (the id of another object of the same owner and mode, which the caller
  names), :class:`Copy` (another field's value), :class:`Part` (a part of an amount, for partial
  refunds and reversals).
* Every state names its source: the API reference's object page or the guide that states the rule.
  Where Stripe documents a status but not what goes with it, the state sets the status alone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "AGE",
    "OFFSETS",
    "At",
    "Copy",
    "Keep",
    "Link",
    "Part",
    "State",
    "StateError",
    "apply_state",
    "before",
    "known_states",
    "link_types",
    "state_objects",
    "state_of",
]


class StateError(KeyError):
    """An object type or state the tables do not know."""


@dataclass(frozen=True)
class At:
    """A unix time ``seconds`` before the transition (negative: after it)."""

    seconds: int = 0


@dataclass(frozen=True)
class Link:
    """The id of the object of ``object_type`` that this one names (same owner, same mode)."""

    object_type: str


@dataclass(frozen=True)
class Copy:
    """The value of another top-level field of the same object (``amount_received`` = ``amount``)."""

    field: str
    plus: int = 0


@dataclass(frozen=True)
class Keep:
    """``value`` for an object without a history of its own; an object with one keeps its non-null
    value (an invoice paid now was finalized whenever it was, a subscription started when it did).

    Events built from a contract example have no history (:func:`apply_state` ``fresh=True``); the
    fake API's objects do.
    """

    value: Any


@dataclass(frozen=True)
class Part:
    """Part of an amount that stays above 0 and below the whole: ``amount // 2`` (1 for 2 or less).

    A partial refund or reversal; an amount below 2 cannot be split and is taken whole.
    """

    field: str


#: How long before the event that changed it an object was made (one hour).
AGE: Final = 3600
#: Every offset an :class:`At` of the tables uses, with :data:`AGE` and 0 (templates cut at them).
OFFSETS: Final = (0, 60, AGE, -259_200)


def before(at: int, seconds: int) -> int:
    """``at - seconds``, never below 0 (an event at ``created=0`` has no earlier second)."""
    return max(at - seconds, 0)


@dataclass(frozen=True)
class State:
    """One state of one object type: its status value and the fields that go with it."""

    status: str | None
    fields: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""


_PI: Final = "https://docs.stripe.com/payments/paymentintents/lifecycle"
_PI_OBJ: Final = "https://docs.stripe.com/api/payment_intents/object"
_CHARGE: Final = "https://docs.stripe.com/api/charges/object"
_DECLINE: Final = (
    "https://docs.stripe.com/testing#declined-payments (4000000000000002: card_declined)"
)
_PAYOUT: Final = "https://docs.stripe.com/api/payouts/object; failure codes: https://docs.stripe.com/api/payouts/failures"
_INVOICE: Final = (
    "https://docs.stripe.com/invoicing/overview#invoice-statuses; "
    "https://docs.stripe.com/api/invoices/object (effective_at: 'the same as finalized_at unless "
    "overwritten')"
)
_SUB: Final = "https://docs.stripe.com/billing/subscriptions/overview#subscription-statuses; https://docs.stripe.com/api/subscriptions/object"
_DISPUTE: Final = "https://docs.stripe.com/disputes/how-disputes-work; https://docs.stripe.com/api/disputes/object"
_SETI: Final = "https://docs.stripe.com/payments/setupintents/lifecycle; https://docs.stripe.com/api/setup_intents/object"

_CARD_DECLINED: Final = {
    "type": "card_error",
    "code": "card_declined",
    "decline_code": "generic_decline",
    "message": "Your card was declined.",
}
_NOT_CANCELED: Final = {"canceled_at": None, "cancellation_reason": None}
_NO_ACTION: Final = {"next_action": None, "last_payment_error": None}

_PI_OPEN: Final = {
    "amount_received": 0,
    "amount_capturable": 0,
    **_NOT_CANCELED,
}

_INVOICE_UNPAID: Final = {"paid": False, "amount_paid": 0, "amount_remaining": Copy("amount_due")}
_INVOICE_PAID: Final = {
    "paid": True,
    "attempted": True,
    "attempt_count": 1,
    "amount_paid": Copy("amount_due"),
    "amount_remaining": 0,
    "amount_overpaid": 0,
    "effective_at": Keep(At(60)),
    "status_transitions.finalized_at": Keep(At(60)),
    "status_transitions.paid_at": At(0),
    "status_transitions.voided_at": None,
    "status_transitions.marked_uncollectible_at": None,
    "payment_intent": Link("payment_intent"),
    "charge": Link("charge"),
}
_SUB_LIVE: Final = {
    "canceled_at": None,
    "ended_at": None,
    "cancel_at": None,
    "cancel_at_period_end": False,
    "cancellation_details.reason": None,
    "cancellation_details.feedback": None,
    "cancellation_details.comment": None,
}

# start_date: 'Date when the subscription was first created. The date might differ from the created
# date due to backdating' (API reference); the billing cycle starts then unless a trial defers it.
_SUB_TIMES: Final = {
    "start_date": Keep(Copy("created")),
    "billing_cycle_anchor": Keep(Copy("created")),
}
_NO_TRIAL: Final = {"trial_start": Keep(None), "trial_end": Keep(None)}
_TRIALING: Final = {
    **_SUB_LIVE,
    "start_date": Keep(Copy("created")),
    "trial_start": Keep(Copy("created")),
    "trial_end": Keep(At(-259_200)),
    "billing_cycle_anchor": Keep(At(-259_200)),
}

# object type -> state name -> State. The status field is "status" unless _STATUS_FIELD says.
_TABLES: Final[dict[str, dict[str, State]]] = {
    "payment_intent": {
        "requires_payment_method": State(
            "requires_payment_method", {**_PI_OPEN, **_NO_ACTION, "latest_charge": None}, _PI
        ),
        "payment_failed": State(
            "requires_payment_method",
            {
                **_PI_OPEN,
                "next_action": None,
                "latest_charge": Link("charge"),
                "last_payment_error": _CARD_DECLINED,
            },
            f"{_PI} (a failed attempt returns it to requires_payment_method); {_DECLINE}",
        ),
        "requires_confirmation": State("requires_confirmation", {**_PI_OPEN, **_NO_ACTION}, _PI),
        "requires_action": State(
            "requires_action",
            {
                **_PI_OPEN,
                "last_payment_error": None,
                "next_action": {
                    "type": "redirect_to_url",
                    "redirect_to_url": {
                        "return_url": "https://example.com/return",
                        "url": "https://hooks.stripe.com/3d_secure_2/hosted",
                    },
                },
            },
            f"{_PI} (requires_action: next_action says what the customer must do)",
        ),
        "processing": State("processing", {**_PI_OPEN, **_NO_ACTION}, _PI),
        "requires_capture": State(
            "requires_capture",
            {
                **_NOT_CANCELED,
                **_NO_ACTION,
                "capture_method": "manual",
                "amount_received": 0,
                "amount_capturable": Copy("amount"),
                "latest_charge": Link("charge"),
            },
            f"{_PI}; https://docs.stripe.com/payments/place-a-hold-on-a-payment-method",
        ),
        "succeeded": State(
            "succeeded",
            {
                **_NOT_CANCELED,
                **_NO_ACTION,
                "amount_received": Copy("amount"),
                "amount_capturable": 0,
                "latest_charge": Link("charge"),
            },
            f"{_PI}; {_PI_OBJ} (amount_received, latest_charge)",
        ),
        "canceled": State(
            "canceled",
            {
                "canceled_at": At(0),
                "cancellation_reason": "requested_by_customer",
                "amount_capturable": 0,
                "amount_received": 0,
                **_NO_ACTION,
            },
            f"{_PI}; {_PI_OBJ} (canceled_at, cancellation_reason)",
        ),
    },
    "charge": {
        "succeeded": State(
            "succeeded",
            {
                "paid": True,
                "captured": True,
                "amount_captured": Copy("amount"),
                "amount_refunded": 0,
                "refunded": False,
                "failure_code": None,
                "failure_message": None,
                "customer": Link("customer"),
                "payment_intent": Link("payment_intent"),
            },
            _CHARGE,
        ),
        "uncaptured": State(
            "succeeded",
            {
                "paid": True,
                "captured": False,
                "amount_captured": 0,
                "amount_refunded": 0,
                "refunded": False,
                "failure_code": None,
                "failure_message": None,
                "customer": Link("customer"),
                "payment_intent": Link("payment_intent"),
            },
            f"{_CHARGE} (captured: false until captured); charge.expired: 'an uncaptured charge expires'",
        ),
        "pending": State(
            "pending",
            {
                "paid": False,
                "amount_refunded": 0,
                "refunded": False,
                "failure_code": None,
                "failure_message": None,
                "customer": Link("customer"),
                "payment_intent": Link("payment_intent"),
            },
            _CHARGE,
        ),
        "failed": State(
            "failed",
            {
                "paid": False,
                "captured": False,
                "amount_captured": 0,
                "amount_refunded": 0,
                "refunded": False,
                "failure_code": "card_declined",
                "failure_message": "Your card was declined.",
                "customer": Link("customer"),
                "payment_intent": Link("payment_intent"),
            },
            f"{_CHARGE} (failure_code, failure_message); {_DECLINE}",
        ),
        "refunded": State(
            "succeeded",
            {
                "paid": True,
                "captured": True,
                "amount_captured": Copy("amount"),
                "amount_refunded": Copy("amount"),
                "refunded": True,
                "failure_code": None,
                "failure_message": None,
                "customer": Link("customer"),
                "payment_intent": Link("payment_intent"),
            },
            f"{_CHARGE} (refunded: true when fully refunded)",
        ),
        "partially_refunded": State(
            "succeeded",
            {
                "paid": True,
                "captured": True,
                "amount_captured": Copy("amount"),
                "amount_refunded": Part("amount"),
                "refunded": False,
                "failure_code": None,
                "failure_message": None,
                "customer": Link("customer"),
                "payment_intent": Link("payment_intent"),
            },
            f"{_CHARGE} (refunded stays false on a partial refund); charge.refunded: "
            "'including partial refunds'",
        ),
    },
    "refund": {
        "failed": State(
            "failed",
            {"failure_reason": "expired_or_canceled_card"},
            "https://docs.stripe.com/api/refunds/object (failure_reason); "
            "https://docs.stripe.com/refunds#failed-refunds",
        ),
    },
    "payout": {
        "pending": State(
            "pending",
            {"failure_code": None, "failure_message": None},
            _PAYOUT,
        ),
        "in_transit": State("in_transit", {"failure_code": None, "failure_message": None}, _PAYOUT),
        "paid": State("paid", {"failure_code": None, "failure_message": None}, _PAYOUT),
        "reconciled": State(
            "paid",
            {
                "failure_code": None,
                "failure_message": None,
                "automatic": True,
                "reconciliation_status": "completed",
            },
            f"{_PAYOUT}; payout.reconciliation_completed: 'balance transactions paid out in an "
            "automatic payout can be queried'",
        ),
        "failed": State(
            "failed",
            {
                "failure_code": "account_closed",
                "failure_message": "The bank account has been closed.",
            },
            _PAYOUT,
        ),
        "canceled": State("canceled", {"failure_code": None, "failure_message": None}, _PAYOUT),
    },
    "invoice": {
        "draft": State(
            "draft",
            {
                **_INVOICE_UNPAID,
                "attempted": False,
                "attempt_count": 0,
                "amount_overpaid": 0,
                "effective_at": None,
                "status_transitions.finalized_at": None,
                "status_transitions.paid_at": None,
                "status_transitions.voided_at": None,
                "status_transitions.marked_uncollectible_at": None,
            },
            _INVOICE,
        ),
        "open": State(
            "open",
            {
                **_INVOICE_UNPAID,
                "amount_overpaid": 0,
                "effective_at": Keep(At(60)),
                "status_transitions.finalized_at": Keep(At(60)),
                "status_transitions.paid_at": None,
                "status_transitions.voided_at": None,
                "status_transitions.marked_uncollectible_at": None,
            },
            _INVOICE,
        ),
        "finalized": State(
            "open",
            {
                **_INVOICE_UNPAID,
                "amount_overpaid": 0,
                "effective_at": At(0),
                "status_transitions.finalized_at": At(0),
                "status_transitions.paid_at": None,
                "status_transitions.voided_at": None,
                "status_transitions.marked_uncollectible_at": None,
            },
            f"{_INVOICE}; invoice.finalized: 'a draft invoice is finalized and updated to be an "
            "open invoice' (finalized now)",
        ),
        "payment_failed": State(
            "open",
            {
                **_INVOICE_UNPAID,
                "attempted": True,
                "attempt_count": 1,
                "amount_overpaid": 0,
                "effective_at": Keep(At(60)),
                "status_transitions.finalized_at": Keep(At(60)),
                "status_transitions.paid_at": None,
                "status_transitions.voided_at": None,
                "status_transitions.marked_uncollectible_at": None,
            },
            f"{_INVOICE} (a failed attempt leaves it open)",
        ),
        "paid": State("paid", _INVOICE_PAID, _INVOICE),
        "overpaid": State(
            "paid",
            {**_INVOICE_PAID, "amount_paid": Copy("amount_due", plus=100), "amount_overpaid": 100},
            f"{_INVOICE}; invoice.overpaid: 'transitions to paid with a non-zero amount_overpaid'",
        ),
        "uncollectible": State(
            "uncollectible",
            {
                **_INVOICE_UNPAID,
                "effective_at": Keep(At(60)),
                "status_transitions.finalized_at": Keep(At(60)),
                "status_transitions.paid_at": None,
                "status_transitions.voided_at": None,
                "status_transitions.marked_uncollectible_at": At(0),
            },
            _INVOICE,
        ),
        "void": State(
            "void",
            {
                "paid": False,
                "amount_paid": 0,
                "effective_at": Keep(At(60)),
                "status_transitions.finalized_at": Keep(At(60)),
                "status_transitions.paid_at": None,
                "status_transitions.voided_at": At(0),
                "status_transitions.marked_uncollectible_at": None,
            },
            _INVOICE,
        ),
    },
    "subscription": {
        "active": State("active", {**_SUB_LIVE, **_SUB_TIMES, **_NO_TRIAL}, _SUB),
        "trial_ended": State(
            "active",
            {
                **_SUB_LIVE,
                "start_date": Keep(Copy("created")),
                "trial_start": Keep(Copy("created")),
                "trial_end": At(0),
                "billing_cycle_anchor": At(0),
            },
            f"{_SUB}; customer.subscription.updated: 'changing the status from trial to active' "
            "(the billing cycle is anchored at the trial's end: "
            "https://docs.stripe.com/billing/subscriptions/trials)",
        ),
        "trialing": State("trialing", _TRIALING, _SUB),
        "trial_ending": State(
            "trialing",
            _TRIALING,
            f"{_SUB}; customer.subscription.trial_will_end: 'three days before a subscription's "
            "trial period is scheduled to end'",
        ),
        "paused": State(
            "paused",
            {
                **_SUB_LIVE,
                "start_date": Keep(Copy("created")),
                "trial_start": Keep(Copy("created")),
                "trial_end": At(0),
            },
            f"{_SUB}; https://docs.stripe.com/billing/subscriptions/trials: a trial that ends "
            "without a payment method pauses the subscription",
        ),
        "past_due": State("past_due", {**_SUB_LIVE, **_SUB_TIMES, **_NO_TRIAL}, _SUB),
        "update_settled": State(
            "active",
            {**_SUB_LIVE, **_SUB_TIMES, **_NO_TRIAL, "pending_update": None},
            f"{_SUB}; https://docs.stripe.com/billing/subscriptions/pending-updates "
            "(pending_update is null once applied or expired)",
        ),
        "canceled": State(
            "canceled",
            {
                **_SUB_TIMES,
                **_NO_TRIAL,
                "canceled_at": At(0),
                "ended_at": At(0),
                "cancel_at": None,
                "cancel_at_period_end": False,
                "cancellation_details.reason": "cancellation_requested",
            },
            f"{_SUB} (canceled_at, ended_at, cancellation_details.reason)",
        ),
    },
    "dispute": {
        "needs_response": State(
            "needs_response",
            {"evidence_details.has_evidence": False, "evidence_details.submission_count": 0},
            _DISPUTE,
        ),
        "lost": State(
            "lost",
            {
                "is_charge_refundable": False,
                "evidence_details.has_evidence": Keep(True),
                "evidence_details.submission_count": Keep(1),
            },
            f"{_DISPUTE}; charge.dispute.closed: status 'lost, warning_closed, or won'",
        ),
        "won": State(
            "won",
            {
                "is_charge_refundable": False,
                "evidence_details.has_evidence": Keep(True),
                "evidence_details.submission_count": Keep(1),
            },
            f"{_DISPUTE}; charge.dispute.funds_reinstated: after a dispute is closed",
        ),
    },
    "setup_intent": {
        "requires_payment_method": State(
            "requires_payment_method",
            {"next_action": None, "last_setup_error": None, "cancellation_reason": None},
            _SETI,
        ),
        "setup_failed": State(
            "requires_payment_method",
            {"next_action": None, "last_setup_error": _CARD_DECLINED, "cancellation_reason": None},
            f"{_SETI}; {_DECLINE}",
        ),
        "requires_action": State(
            "requires_action",
            {
                "last_setup_error": None,
                "cancellation_reason": None,
                "next_action": {
                    "type": "redirect_to_url",
                    "redirect_to_url": {
                        "return_url": "https://example.com/return",
                        "url": "https://hooks.stripe.com/3d_secure_2/hosted",
                    },
                },
            },
            _SETI,
        ),
        "succeeded": State(
            "succeeded",
            {
                "next_action": None,
                "last_setup_error": None,
                "cancellation_reason": None,
                "payment_method": Link("payment_method"),
            },
            _SETI,
        ),
        "canceled": State(
            "canceled",
            {"next_action": None, "cancellation_reason": "requested_by_customer"},
            _SETI,
        ),
    },
    "checkout.session": {
        "complete": State(
            "complete",
            {"payment_status": "paid"},
            "https://docs.stripe.com/api/checkout/sessions/object (status, payment_status)",
        ),
        "complete_unpaid": State(
            "complete",
            {"payment_status": "unpaid"},
            "https://docs.stripe.com/checkout/fulfillment#delayed-notification: a delayed "
            "payment method completes unpaid, then async_payment_failed",
        ),
        "expired": State(
            "expired",
            {"payment_status": "unpaid"},
            "https://docs.stripe.com/api/checkout/sessions/object",
        ),
    },
    "transfer": {
        "reversed": State(
            None,
            {"reversed": True, "amount_reversed": Copy("amount")},
            "https://docs.stripe.com/api/transfers/object (reversed: fully reversed)",
        ),
        "partially_reversed": State(
            None,
            {"reversed": False, "amount_reversed": Part("amount")},
            "https://docs.stripe.com/api/transfers/object; transfer.reversed: 'including partial "
            "reversals'",
        ),
    },
    "application_fee": {
        "refunded": State(
            None,
            {"refunded": True, "amount_refunded": Copy("amount")},
            "https://docs.stripe.com/api/application_fees/object (refunded: fully refunded)",
        ),
        "partially_refunded": State(
            None,
            {"refunded": False, "amount_refunded": Part("amount")},
            "https://docs.stripe.com/api/application_fees/object; application_fee.refunded "
            "covers refunds of part of a fee",
        ),
    },
    "review": {
        "opened": State(
            None,
            {"open": True, "closed_reason": None},
            "https://docs.stripe.com/api/radar/reviews/object (open, closed_reason)",
        ),
        "closed": State(
            None,
            {"open": False, "closed_reason": "approved"},
            "https://docs.stripe.com/api/radar/reviews/object; review.closed: reason 'approved', ...",
        ),
    },
    "quote": {
        "draft": State(
            "draft",
            {"status_transitions.finalized_at": None},
            "https://docs.stripe.com/api/quotes/object",
        ),
        "open": State(
            "open",
            {"status_transitions.finalized_at": At(0)},
            "https://docs.stripe.com/api/quotes/object (status_transitions)",
        ),
        "accepted": State(
            "accepted",
            {
                "status_transitions.finalized_at": Keep(At(60)),
                "status_transitions.accepted_at": At(0),
            },
            "https://docs.stripe.com/api/quotes/object (status_transitions)",
        ),
        "canceled": State(
            "canceled",
            {"status_transitions.canceled_at": At(0)},
            "https://docs.stripe.com/api/quotes/object (status_transitions)",
        ),
    },
    "subscription_schedule": {
        "not_started": State(
            "not_started",
            {"canceled_at": None, "completed_at": None, "released_at": None},
            "https://docs.stripe.com/api/subscription_schedules/object (each *_at is null until then)",
        ),
        "canceled": State(
            "canceled",
            {"canceled_at": At(0), "completed_at": None, "released_at": None},
            "https://docs.stripe.com/api/subscription_schedules/object (canceled_at)",
        ),
        "completed": State(
            "completed",
            {"completed_at": At(0), "canceled_at": None, "released_at": None},
            "https://docs.stripe.com/api/subscription_schedules/object (completed_at)",
        ),
        "released": State(
            "released",
            {"released_at": At(0), "canceled_at": None, "completed_at": None},
            "https://docs.stripe.com/api/subscription_schedules/object (released_at)",
        ),
        "active": State(
            "active",
            {"canceled_at": None, "completed_at": None, "released_at": None},
            "https://docs.stripe.com/api/subscription_schedules/object",
        ),
    },
    "credit_note": {
        "issued": State(
            "issued",
            {"voided_at": None, "effective_at": Keep(Copy("created"))},
            "https://docs.stripe.com/api/credit_notes/object (effective_at: 'same as created unless overwritten')",
        ),
        "void": State(
            "void",
            {"voided_at": At(0), "effective_at": Keep(Copy("created"))},
            "https://docs.stripe.com/api/credit_notes/object (voided_at)",
        ),
    },
    "billing.meter": {
        "inactive": State(
            "inactive",
            {"status_transitions.deactivated_at": At(0)},
            "https://docs.stripe.com/api/billing/meter/object (status_transitions.deactivated_at)",
        ),
        "active": State(
            "active",
            {"status_transitions.deactivated_at": None},
            "https://docs.stripe.com/api/billing/meter/object",
        ),
    },
    "climate.order": {
        "open": State(
            "open",
            {
                "canceled_at": None,
                "confirmed_at": None,
                "delayed_at": None,
                "delivered_at": None,
                "product_substituted_at": None,
            },
            "https://docs.stripe.com/api/climate/order/object (each *_at is null until then)",
        ),
        "delayed": State(
            None,
            {
                "delayed_at": At(0),
                "canceled_at": None,
                "confirmed_at": None,
                "delivered_at": None,
                "product_substituted_at": None,
            },
            "https://docs.stripe.com/api/climate/order/object (delayed_at); climate.order.delayed",
        ),
        "product_substituted": State(
            None,
            {
                "product_substituted_at": At(0),
                "canceled_at": None,
                "confirmed_at": None,
                "delayed_at": None,
                "delivered_at": None,
            },
            "https://docs.stripe.com/api/climate/order/object (product_substituted_at)",
        ),
        "canceled": State(
            "canceled",
            {
                "canceled_at": At(0),
                "confirmed_at": None,
                "delayed_at": None,
                "delivered_at": None,
                "product_substituted_at": None,
            },
            "https://docs.stripe.com/api/climate/order/object (canceled_at)",
        ),
        "delivered": State(
            "delivered",
            {
                "delivered_at": At(0),
                "confirmed_at": Keep(At(60)),
                "canceled_at": None,
                "delayed_at": None,
                "product_substituted_at": None,
            },
            "https://docs.stripe.com/api/climate/order/object (delivered_at)",
        ),
    },
    "reserve.release": {
        "released": State(
            None,
            {"released_at": At(0)},
            "docs silent on released_at's relation to created: the release's time is the event's, "
            "so times stay ordered",
        ),
    },
    "topup": {
        "succeeded": State(
            "succeeded",
            {"failure_code": None, "failure_message": None},
            "https://docs.stripe.com/api/topups/object",
        ),
        "pending": State(
            "pending",
            {"failure_code": None, "failure_message": None},
            "https://docs.stripe.com/api/topups/object",
        ),
    },
}

# Object types whose state lives in another field than ``status``.
_STATUS_FIELD: Final = {
    "transfer": None,
    "application_fee": None,
    "review": None,
    "reserve.release": None,
}


def state_objects() -> tuple[str, ...]:
    """The object types the tables describe, in the tables' order."""
    return tuple(_TABLES)


def known_states(object_type: str) -> tuple[str, ...]:
    """The named states of ``object_type`` in the tables (statuses alone are states too)."""
    return tuple(_TABLES.get(object_type, {}))


def state_of(object_type: str, state: str) -> State:
    """The table's :class:`State`; a bare status value of a type with a ``status`` is one too."""
    found = _TABLES.get(object_type, {}).get(state)
    if found is not None:
        return found
    if _STATUS_FIELD.get(object_type, "status") is None:
        raise StateError(
            f"{object_type} has no state {state!r}; known: {known_states(object_type)}"
        )
    return State(state, {}, "the status value alone (the docs list it, not what goes with it)")


@functools.cache
def link_types() -> tuple[str, ...]:
    """Every object type a state links to, in a stable order (templates index them)."""
    seen: dict[str, None] = {}
    for table in _TABLES.values():
        for state in table.values():
            for value in state.fields.values():
                if isinstance(value, Link):
                    seen[value.object_type] = None
    # A fresh refunded charge's refund (reversal_lists) is named through ``link`` too.
    from connect_harness.lifecycle.reversal_lists import REVERSAL_LISTS

    for _, _, item_type, _ in REVERSAL_LISTS.values():
        seen[item_type] = None
    return tuple(sorted(seen))


def apply_state(
    obj: dict[str, Any],
    object_type: str,
    state: str,
    *,
    at: int,
    link: Callable[[str], str | None] | None = None,
    fresh: bool = False,
    shapes: str | None = None,
) -> dict[str, Any]:
    """Put ``obj`` (an ``object_type`` object) in ``state`` as of the unix time ``at``; return it.

    Writes the status and every field the state implies that ``obj`` has. ``link(object_type)``
    names the objects the state refers to (a succeeded payment intent's ``latest_charge``); without
    it such fields keep their value. Fields of its history (:class:`Keep`: when it was finalized,
    started, its trial) are written only where ``obj`` has none, or always when ``fresh`` (an
    object made up from an example, whose values are no history). A ``fresh`` object's complete
    list of refunds (reversals) is made to add up to what the state says was refunded
    (:mod:`connect_harness.lifecycle.reversal_lists`; ``shapes``: the contract set of its items).
    Raises :class:`StateError` for a state the tables do not know on a type without a ``status``.
    """
    rule = state_of(object_type, state)
    status_field = _STATUS_FIELD.get(object_type, "status")
    if rule.status is not None and status_field is not None and status_field in obj:
        obj[status_field] = rule.status
    for path, value in rule.fields.items():
        parent, _, key = path.rpartition(".")
        holder = obj.get(parent) if parent else obj
        if not isinstance(holder, dict) or key not in holder:
            continue
        if isinstance(value, Keep):
            if not fresh and holder[key] is not None:
                continue
            value = value.value
        if isinstance(value, Link):
            if link is None:
                continue
            value = link(value.object_type)
            if value is None:
                continue
        holder[key] = _resolve(value, obj, at)
    if fresh:
        from connect_harness.lifecycle.reversal_lists import fill_reversals

        fill_reversals(obj, object_type, at=at, shapes=shapes, link=link)
    return obj


def _resolve(value: Any, obj: Mapping[str, Any], at: int) -> Any:
    if isinstance(value, At):
        return before(at, value.seconds)
    if isinstance(value, Copy):
        found = obj.get(value.field)
        return found + value.plus if isinstance(found, int) else found
    if isinstance(value, Part):
        whole = obj.get(value.field)
        if not isinstance(whole, int):
            return whole
        return whole // 2 if whole >= 2 else whole
    if isinstance(value, dict):
        return {key: _resolve(item, obj, at) for key, item in value.items()}
    return value
