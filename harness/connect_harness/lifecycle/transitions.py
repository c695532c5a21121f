"""How an API action moves an object between states, and Stripe's error when its state forbids it.

One row per (object type, action): the states the action is allowed from, the state it leaves the
object in (None: the action's handler decides, e.g. a confirm ends in ``succeeded``,
``requires_capture`` or ``requires_action`` depending on the payment method), and the error Stripe
answers for any other state: HTTP status, ``code`` and message. ``{id}``, ``{status}`` and
``{allowed}`` in a message are filled in with the object's id, its current status and the allowed
states. Each row names the page of Stripe's documentation it comes from; ``note`` says where the
page is silent (then the fake keeps the generic behaviour rather than refuse a correct call).

The field a row reads is ``status`` unless ``field`` names another (a charge's ``captured``, a
dispute's ``status``); for boolean fields the states are ``"true"``/``"false"``.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass

from connect_harness.errors import HarnessError

__all__ = ["TRANSITIONS", "Transition", "all_rows", "transition"]

_PI_STATE_ERROR = "https://docs.stripe.com/error-codes/payment-intent-unexpected-state"
_SI_STATE_ERROR = "https://docs.stripe.com/error-codes/setup-intent-unexpected-state"


@dataclass(frozen=True)
class Transition:
    """One action on one object type: where it may start, where it ends, what Stripe refuses with."""

    object_type: str
    action: str
    allowed: tuple[str, ...]
    result: str | None
    status: int
    code: str | None
    message: str
    source: str
    field: str = "status"
    note: str = ""

    def allows(self, state: str) -> bool:
        return state in self.allowed

    def refusal(self, *, object_id: str, state: str) -> str:
        """Stripe's message for this action from ``state``."""
        return self.message.format(id=object_id, status=state, allowed=", ".join(self.allowed))


TRANSITIONS: tuple[Transition, ...] = (
    # PaymentIntents: https://docs.stripe.com/payments/paymentintents/lifecycle lists the states;
    # each action's page lists the states it accepts.
    Transition(
        "payment_intent",
        "confirm",
        ("requires_payment_method", "requires_confirmation", "requires_action"),
        None,
        400,
        "payment_intent_unexpected_state",
        "You cannot confirm this PaymentIntent because it has a status of {status}. Only a "
        "PaymentIntent with one of the following statuses may be confirmed: {allowed}.",
        "https://docs.stripe.com/api/payment_intents/confirm; " + _PI_STATE_ERROR,
    ),
    Transition(
        "payment_intent",
        "capture",
        ("requires_capture",),
        "succeeded",
        400,
        "payment_intent_unexpected_state",
        "This PaymentIntent could not be captured because it has a status of {status}. Only a "
        "PaymentIntent with one of the following statuses may be captured: {allowed}.",
        "https://docs.stripe.com/api/payment_intents/capture ('Capture the funds of an existing "
        "uncaptured PaymentIntent when its status is requires_capture'); " + _PI_STATE_ERROR,
    ),
    Transition(
        "payment_intent",
        "cancel",
        (
            "requires_payment_method",
            "requires_capture",
            "requires_confirmation",
            "requires_action",
            "processing",
        ),
        "canceled",
        400,
        "payment_intent_unexpected_state",
        "You cannot cancel this PaymentIntent because it has a status of {status}. Only a "
        "PaymentIntent with one of the following statuses may be canceled: {allowed}.",
        "https://docs.stripe.com/api/payment_intents/cancel ('You can cancel a PaymentIntent "
        "object when it's in one of these statuses: requires_payment_method, requires_capture, "
        "requires_confirmation, requires_action or, in rare cases, processing'); "
        + _PI_STATE_ERROR,
    ),
    Transition(
        "payment_intent",
        "update_amount",
        ("requires_payment_method", "requires_confirmation", "requires_action"),
        None,
        400,
        "payment_intent_unexpected_state",
        "This PaymentIntent's amount could not be updated because it has a status of {status}. "
        "You may only update the amount of a PaymentIntent with one of the following statuses: "
        "{allowed}.",
        "https://docs.stripe.com/api/payment_intents/update ('Depending on which properties you "
        "update, you might need to confirm the PaymentIntent again'); " + _PI_STATE_ERROR,
        note="the page does not list the states that allow a new amount; these are the states "
        "before a payment is attempted (https://docs.stripe.com/payments/paymentintents/lifecycle)",
    ),
    # SetupIntents: https://docs.stripe.com/payments/setupintents/lifecycle
    Transition(
        "setup_intent",
        "confirm",
        ("requires_payment_method", "requires_confirmation", "requires_action"),
        None,
        400,
        "setup_intent_unexpected_state",
        "You cannot confirm this SetupIntent because it has a status of {status}. Only a "
        "SetupIntent with one of the following statuses may be confirmed: {allowed}.",
        "https://docs.stripe.com/api/setup_intents/confirm; " + _SI_STATE_ERROR,
    ),
    Transition(
        "setup_intent",
        "cancel",
        ("requires_payment_method", "requires_confirmation", "requires_action"),
        "canceled",
        400,
        "setup_intent_unexpected_state",
        "You cannot cancel this SetupIntent because it has a status of {status}. Only a "
        "SetupIntent with one of the following statuses may be canceled: {allowed}.",
        "https://docs.stripe.com/api/setup_intents/cancel ('You can cancel a SetupIntent object "
        "when it's in one of these statuses: requires_payment_method, requires_confirmation, or "
        "requires_action'); " + _SI_STATE_ERROR,
    ),
    # PaymentMethods: attached to a customer, or not.
    Transition(
        "payment_method",
        "reuse",
        ("unattached", "attached"),
        None,
        400,
        None,
        "This PaymentMethod was previously used without being attached to a Customer or was "
        "detached from a Customer, and may not be used again.",
        "https://docs.stripe.com/api/payment_methods/detach ('After a PaymentMethod is "
        "detached, it can no longer be used for a payment or re-attached to a Customer')",
        field="customer",
        note="checked when a payment method is attached or named for a payment; the page gives "
        "neither the error's code nor its wording; a payment method used once without a "
        "customer is not refused (the page does not say so)",
    ),
    Transition(
        "payment_method",
        "attach",
        ("unattached",),
        "attached",
        400,
        None,
        "The payment method you provided has already been attached to a customer.",
        "https://docs.stripe.com/api/payment_methods/attach",
        field="customer",
        note="the page does not give the error's code or wording; the fake sends no code",
    ),
    Transition(
        "payment_method",
        "detach",
        ("attached",),
        "detached",
        400,
        None,
        "The payment method you provided is not attached to a customer so detachment is "
        "impossible.",
        "https://docs.stripe.com/api/payment_methods/detach ('Detaches a PaymentMethod object "
        "from a Customer')",
        field="customer",
        note="the page does not give the error's code; the fake sends no code",
    ),
    # Charges: https://docs.stripe.com/api/charges/capture, /api/refunds/create
    Transition(
        "charge",
        "capture",
        ("false",),
        "true",
        400,
        "charge_already_captured",
        "Charge {id} has already been captured.",
        "https://docs.stripe.com/api/charges/capture ('Capture the payment of an existing, "
        "uncaptured charge'); https://docs.stripe.com/error-codes/charge-already-captured",
        field="captured",
    ),
    Transition(
        "charge",
        "refund",
        ("refundable",),
        None,
        400,
        "charge_already_refunded",
        "Charge {id} has already been refunded.",
        "https://docs.stripe.com/error-codes/charge-already-refunded ('The charge you're "
        "attempting to refund has already been refunded')",
        field="refunded",
    ),
    Transition(
        "refund",
        "cancel",
        ("requires_action",),
        "canceled",
        400,
        None,
        "You can only cancel a refund with a status of requires_action; refund {id} has a "
        "status of {status}.",
        "https://docs.stripe.com/api/refunds/cancel ('You can't cancel refunds in other states. "
        "Only refunds for payment methods that require customer action can be canceled', status "
        "requires_action)",
        note="the page gives neither the error's code nor its wording; the fake sends no code",
    ),
    # Disputes: https://docs.stripe.com/api/disputes/close
    Transition(
        "dispute",
        "close",
        ("needs_response", "warning_needs_response", "under_review", "warning_under_review"),
        None,
        400,
        None,
        "Dispute {id} has a status of {status}: it is closed, and closing is irreversible.",
        "https://docs.stripe.com/api/disputes/close ('The status of the dispute will change "
        "from needs_response to lost. Closing a dispute is irreversible'); an inquiry "
        "(warning_needs_response) closes as warning_closed (charge.dispute.closed: 'lost, "
        "warning_closed, or won')",
        note="closing an already closed dispute is refused; the page gives neither the "
        "error's code nor its wording",
    ),
    # Checkout Sessions: https://docs.stripe.com/api/checkout/sessions/expire
    Transition(
        "checkout.session",
        "expire",
        ("open",),
        "expired",
        400,
        None,
        "Only Checkout Sessions with a status of open can be expired; session {id} has a status "
        "of {status}.",
        "https://docs.stripe.com/api/checkout/sessions/expire ('A Checkout Session can be "
        "expired when it is in one of these statuses: open')",
        note="the page gives neither the error's code nor its wording; the fake sends no code",
    ),
    Transition(
        "checkout.session",
        "payment_page_confirm",
        ("open",),
        "complete",
        400,
        None,
        "Only Checkout Sessions with a status of open can be paid; session {id} has a status "
        "of {status}.",
        "https://docs.stripe.com/api/checkout/sessions/object (status: 'open: The checkout "
        "session is still in progress. Payment processing has not started'; 'complete: The "
        "checkout session is complete. Payment processing may still be in progress')",
        note="the /v1/payment_pages API is Stripe's private one (not in its API description): "
        "its refusals are not documented; the wording and the missing code are ours",
    ),
)


def transition(object_type: str, action: str) -> Transition | None:
    """The row for ``action`` on ``object_type``, or None when the fake keeps no rule for it."""
    return _index().get((object_type, action))


# The lifecycles' other tables (billing, Connect) live beside this one, each a module with its
# own ``TRANSITIONS``: they join this table, so a row is found wherever it is kept.
_OTHER_TABLES = ("billing", "connect", "tools")


def all_rows() -> tuple[Transition, ...]:
    """This module's rows, then those of :data:`_OTHER_TABLES` that exist."""
    rows = list(TRANSITIONS)
    for module_name in _OTHER_TABLES:
        try:
            module = importlib.import_module(f"connect_harness.lifecycle.{module_name}")
        except ModuleNotFoundError as err:
            if err.name != f"connect_harness.lifecycle.{module_name}":
                raise
            continue
        rows.extend(getattr(module, "TRANSITIONS", ()))
    return tuple(rows)


@functools.cache
def _index() -> dict[tuple[str, str], Transition]:
    found: dict[tuple[str, str], Transition] = {}
    for row in all_rows():
        key = (row.object_type, row.action)
        if key in found:
            raise HarnessError(f"the lifecycle tables list {key} twice")
        found[key] = row
    return found
