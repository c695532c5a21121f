"""Which events an API action emits, in which order: one row per (object type, action, outcome).

The outcome names what the action did when one action can end several ways (a confirm that
succeeds, waits for capture, needs authentication, or is declined); ``"ok"`` is the only outcome of
an action that ends one way. The events are the ones Stripe sends in answer to that request. What
Stripe does later on its own after some requests (a delayed debit's outcome, dispute funds, a refund
failing) has rows of its own (actions ``settle``, ``withdraw``, ``reinstate``, ``fail``), which the
fake carries out right after the request (``stripe_api/actions/later.py``); others
(``balance.available`` when funds settle, ``charge.updated`` when the balance transaction is
attached after the fact) are not modelled and not listed. Each row
names its source: the page of Stripe's documentation, or an event's own description in Stripe's API
description ("Occurs when ..."); ``note`` says what the documentation leaves open (the order of two
events it names without ordering them).

Each event carries the object of its type's ``data.object`` (a ``charge.*`` event the charge, a
``payment_intent.*`` event the payment intent): the action hands over the objects it touched.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass

from connect_harness.errors import HarnessError

__all__ = ["EMISSIONS", "Emission", "all_rows", "emission"]

_PI_EVENTS = "https://docs.stripe.com/payments/payment-intents/verifying-status"
_PI_LIFECYCLE = "https://docs.stripe.com/payments/paymentintents/lifecycle"
_HOLD = "https://docs.stripe.com/payments/place-a-hold-on-a-payment-method"
_CATALOGUE = "https://docs.stripe.com/api/events/types"
_DEBITS = (
    "https://docs.stripe.com/payments/sepa-debit/accept-a-payment and "
    "https://docs.stripe.com/payments/ach-debit/accept-a-payment (test accounts; "
    "lifecycle/test_values.py TEST_DEBITS)"
)
_LATER = (
    "Stripe's own doing, later: the fake emits it right after the request's own events, with "
    "request.id null"
)
_BANK_TRANSFERS = "https://docs.stripe.com/payments/bank-transfers/accept-a-payment"
_CASH_BALANCE = (
    "https://docs.stripe.com/payments/customer-balance/reconciliation (by default Stripe "
    "reconciles a cash balance automatically: new funds pay the customer's open "
    "customer_balance PaymentIntents)"
)
_METER_STREAM = (
    "POST /v2/billing/meter_event_stream, stripe-python 16.1.0 MeterEventStreamService.create "
    "('Creates meter events. Events are processed asynchronously, including validation'); the v2 "
    "description's meter event payload 'must contain the fields "
    "corresponding to a meter's customer_mapping.event_payload_key (default is stripe_customer_id) "
    "and value_settings.event_payload_key (default is value)'"
)
_PARTIAL = (
    "a partial capture releases the rest (the capture endpoint's final_capture: 'release the "
    "remaining uncaptured funds'); the reference does not say which field shows the released "
    "amount: the fake changes only amount_captured (amount_refunded counts refunds of captured "
    "money), with no refund object or event"
)


@dataclass(frozen=True)
class Emission:
    """What one outcome of one action sends, in order."""

    object_type: str
    action: str
    outcome: str
    events: tuple[str, ...]
    source: str
    note: str = ""


EMISSIONS: tuple[Emission, ...] = (
    Emission(
        "payment_intent",
        "create",
        "ok",
        ("payment_intent.created",),
        _CATALOGUE + " (payment_intent.created: 'Occurs when a new PaymentIntent is created')",
    ),
    Emission(
        "payment_intent",
        "confirm",
        "succeeded",
        ("charge.succeeded", "payment_intent.succeeded"),
        _PI_EVENTS + " (a PaymentIntent creates its charge; charge.succeeded, "
        "payment_intent.succeeded)",
        "charge.updated follows when the balance transaction is attached: asynchronous, not "
        "emitted by the call",
    ),
    Emission(
        "payment_intent",
        "confirm",
        "available",
        ("charge.succeeded", "payment_intent.succeeded", "balance.available"),
        "https://docs.stripe.com/testing#available-balance (pm_card_bypassPending: the funds go "
        "to the available balance at once); " + _CATALOGUE + " (balance.available: 'Occurs "
        "whenever your Stripe balance has been updated (e.g., when a charge is available to be "
        "paid out)')",
    ),
    Emission(
        "payment_intent",
        "confirm",
        "requires_capture",
        ("charge.succeeded", "payment_intent.amount_capturable_updated"),
        _HOLD + " (an authorized, uncaptured charge; the PaymentIntent has amount_capturable)",
    ),
    Emission(
        "payment_intent",
        "confirm",
        "requires_action",
        ("payment_intent.requires_action",),
        _PI_LIFECYCLE + " (requires_action: the customer must authenticate; no charge yet)",
    ),
    Emission(
        "payment_intent",
        "confirm",
        "processing",
        ("charge.pending", "payment_intent.processing"),
        "https://docs.stripe.com/payments/sepa-debit/accept-a-payment (a debit is processing "
        "until it succeeds or fails days later); charge.pending: 'Occurs whenever a pending "
        "charge is created'",
        "the outcome follows later (the payment_intent settle rows)",
    ),
    Emission(
        "payment_intent",
        "confirm",
        "declined",
        ("charge.failed", "payment_intent.payment_failed"),
        _PI_EVENTS + " (payment_intent.payment_failed; the failed attempt is a charge: "
        "charge.failed 'Occurs whenever a failed charge attempt occurs')",
    ),
    Emission(
        "payment_intent",
        "confirm",
        "disputed",
        ("charge.succeeded", "payment_intent.succeeded", "charge.dispute.created"),
        "https://docs.stripe.com/testing#disputes (the charge succeeds, then is disputed); "
        "the Stripe CLI's charge.dispute.created fixture is this one request",
        "charge.dispute.funds_withdrawn follows later (the dispute withdraw row)",
    ),
    Emission(
        "payment_intent",
        "confirm",
        "inquiry",
        ("charge.succeeded", "payment_intent.succeeded", "charge.dispute.created"),
        "https://docs.stripe.com/testing#disputes (4000000000001976: disputed as an inquiry, "
        "status warning_needs_response; no funds are withdrawn for an inquiry)",
    ),
    Emission(
        "payment_intent",
        "settle",
        "succeeded",
        ("charge.succeeded", "payment_intent.succeeded"),
        _DEBITS + " ('The PaymentIntent status transitions from processing to succeeded'; "
        "ACH: 'The payment succeeds')",
        _LATER,
    ),
    Emission(
        "payment_intent",
        "settle",
        "failed",
        ("charge.failed", "payment_intent.payment_failed"),
        _DEBITS + " ('The PaymentIntent status transitions from processing to "
        "requires_payment_method'; ACH: 'The payment fails because ...'); charge.failed: "
        "'Occurs whenever a failed charge attempt occurs'",
        _LATER + "; the pages name no failure_code for a SEPA debit that fails: the fake sends "
        "none (an ACH account's is the error code its page names)",
    ),
    Emission(
        "payment_intent",
        "settle",
        "disputed",
        ("charge.succeeded", "payment_intent.succeeded", "charge.dispute.created"),
        _DEBITS + " ('transitions from processing to succeeded, but a dispute is immediately "
        "created'; ACH: 'The payment triggers a dispute')",
        _LATER + "; charge.dispute.funds_withdrawn follows (the dispute withdraw row)",
    ),
    Emission(
        "dispute",
        "withdraw",
        "ok",
        ("charge.dispute.funds_withdrawn",),
        "https://docs.stripe.com/testing#disputes (a disputed payment's funds are withdrawn); "
        "charge.dispute.funds_withdrawn: 'Occurs when funds are removed from your account due to "
        "a dispute'; the dispute's balance_transactions: 'funds withdrawn and reinstated'",
        _LATER + ", after the request that made the dispute; an inquiry "
        "(warning_needs_response) withdraws nothing",
    ),
    Emission(
        "dispute",
        "reinstate",
        "ok",
        ("charge.dispute.funds_reinstated",),
        "charge.dispute.funds_reinstated: 'Occurs when funds are reinstated to your account "
        "after a dispute is closed'; https://docs.stripe.com/testing#disputes "
        "(winning_evidence: the dispute is won)",
        _LATER + ", after a won dispute's charge.dispute.closed",
    ),
    Emission(
        "refund",
        "fail",
        "ok",
        ("charge.refund.updated", "refund.updated", "refund.failed"),
        "https://docs.stripe.com/testing#refunds (4000000000005126: the refund starts "
        "succeeded, then fails); refund.failed: 'Occurs whenever a refund has failed'; "
        "refund.updated: 'Occurs whenever a refund is updated'",
        _LATER + "; the docs do not order the three events; the charge's amount_refunded is "
        "left as it was (the docs do not say whether a failed refund changes it)",
    ),
    Emission(
        "payment_intent",
        "capture",
        "ok",
        ("charge.captured", "payment_intent.succeeded"),
        _HOLD + " (capturing the held funds; charge.captured 'Occurs whenever a previously "
        "uncaptured charge is captured')",
        _PARTIAL,
    ),
    Emission(
        "payment_intent",
        "cancel",
        "ok",
        ("payment_intent.canceled",),
        _CATALOGUE + " (payment_intent.canceled: 'Occurs when a PaymentIntent is canceled')",
    ),
    Emission(
        "payment_intent",
        "cancel",
        "released",
        ("charge.refunded", "payment_intent.canceled"),
        "https://docs.stripe.com/api/payment_intents/cancel ('For PaymentIntents with a status "
        "of requires_capture, the remaining amount_capturable is automatically refunded'); "
        "https://docs.stripe.com/api/charges/capture (uncaptured payments that expire 'are marked "
        "as refunded'); charge.refunded: 'Occurs whenever a charge is refunded'",
        "the docs do not order the two events or say whether a refund object is made; none is",
    ),
    Emission(
        "payment_intent",
        "update",
        "ok",
        (),
        _CATALOGUE + " (Stripe has no payment_intent.updated event type)",
    ),
    Emission(
        "payment_intent",
        "confirm",
        "awaiting_transfer",
        ("payment_intent.requires_action",),
        _BANK_TRANSFERS + " (a customer_balance PaymentIntent waits for the customer's transfer: "
        "requires_action, next_action display_bank_transfer_instructions with amount_remaining)",
    ),
    Emission(
        "payment_intent",
        "apply_funds",
        "partially_funded",
        ("payment_intent.partially_funded",),
        _CASH_BALANCE + "; payment_intent.partially_funded: 'Occurs when funds are applied to a "
        "customer_balance PaymentIntent and the 'amount_remaining' changes'",
        "the funds are applied in the same request as the fund_cash_balance test helper that "
        "brings them; whether Stripe also announces an applied_to_payment transaction is not "
        "documented: the fake makes none",
    ),
    Emission(
        "payment_intent",
        "apply_funds",
        "funded",
        ("charge.succeeded", "payment_intent.succeeded"),
        _CASH_BALANCE + "; " + _PI_EVENTS + " (payment_intent.succeeded with its charge)",
        "the docs do not list the events of a wholly funded customer_balance PaymentIntent; "
        "the fake emits a succeeded payment's",
    ),
    Emission(
        "customer_cash_balance_transaction",
        "create",
        "ok",
        ("customer_cash_balance_transaction.created",),
        "api: POST /v1/test_helpers/customers/{customer}/fund_cash_balance ('Create an incoming "
        "testmode bank transfer'); customer_cash_balance_transaction.created: 'Occurs whenever a "
        "new customer cash balance transactions is created'",
        "every transferred amount went to waiting PaymentIntents (the payment_intent "
        "apply_funds rows, emitted after this one)",
    ),
    Emission(
        "customer_cash_balance_transaction",
        "create",
        "funds_left",
        ("customer_cash_balance_transaction.created", "cash_balance.funds_available"),
        "api: POST /v1/test_helpers/customers/{customer}/fund_cash_balance; "
        "cash_balance.funds_available: 'Occurs whenever there is a positive remaining cash "
        "balance after Stripe automatically reconciles new funds into the cash balance'",
        "the payment_intent apply_funds rows come between the two events",
    ),
    Emission(
        "issuing.authorization",
        "create",
        "ok",
        ("issuing_authorization.request", "issuing_authorization.created"),
        "api: POST /v1/test_helpers/issuing/authorizations ('Create a test-mode authorization'); "
        "https://docs.stripe.com/issuing/purchases/authorizations (Stripe asks the platform's "
        "endpoint to approve or decline with issuing_authorization.request: 'Represents a "
        "synchronous request for authorization', then issuing_authorization.created: 'Occurs "
        "whenever an authorization is created')",
        "the fake approves every test authorization (status pending) and does not wait for the "
        "endpoint's answer to the request; the Stripe CLI's older route POST "
        "/v1/issuing/cards/{card}/test/authorizations is served as this one",
    ),
    Emission(
        "customer",
        "create",
        "ok",
        ("customer.created",),
        _CATALOGUE + " (customer.created: 'Occurs whenever a new customer is created')",
    ),
    Emission(
        "customer",
        "update",
        "ok",
        ("customer.updated",),
        _CATALOGUE + " (customer.updated: 'Occurs whenever any property of a customer changes')",
        "nothing is emitted when the update changes nothing",
    ),
    Emission(
        "customer",
        "delete",
        "ok",
        ("customer.deleted",),
        _CATALOGUE + " (customer.deleted: 'Occurs whenever a customer is deleted')",
    ),
    Emission(
        "payment_method",
        "create",
        "ok",
        (),
        _CATALOGUE + " (Stripe has no payment_method.created event type)",
    ),
    Emission(
        "payment_method",
        "attach",
        "ok",
        ("payment_method.attached",),
        _CATALOGUE + " (payment_method.attached: 'Occurs whenever a new payment method is "
        "attached to a customer')",
    ),
    Emission(
        "payment_method",
        "detach",
        "ok",
        ("payment_method.detached",),
        _CATALOGUE + " (payment_method.detached: 'Occurs whenever a payment method is detached "
        "from a customer')",
    ),
    Emission(
        "payment_method",
        "update",
        "ok",
        ("payment_method.updated",),
        _CATALOGUE + " (payment_method.updated: 'Occurs whenever a payment method is updated "
        "via the PaymentMethod update API')",
        "nothing is emitted when the update changes nothing",
    ),
    Emission(
        "card",
        "create",
        "ok",
        ("customer.source.created",),
        _CATALOGUE + " (customer.source.created: 'Occurs whenever a new source is created for a "
        "customer')",
        "the customer already had a default_source, which stays (the card becomes the default "
        "only when the customer had none: the next row)",
    ),
    Emission(
        "card",
        "create",
        "default",
        ("customer.source.created", "customer.updated"),
        "api: POST /v1/customers/{customer}/sources: 'If the card's owner has no default card, "
        "then the new card will become the default'; " + _CATALOGUE + " (customer.updated: "
        "'Occurs whenever any property of a customer changes': its default_source)",
    ),
    Emission(
        "card",
        "update",
        "ok",
        ("customer.source.updated",),
        _CATALOGUE + " (customer.source.updated: 'Occurs whenever a source's details are changed')",
    ),
    Emission(
        "card",
        "delete",
        "ok",
        ("customer.source.deleted",),
        _CATALOGUE + " (customer.source.deleted: 'Occurs whenever a source is removed from a "
        "customer')",
        "the customer's default_source is cleared when it named the card; whether Stripe "
        "picks another source as default is not documented",
    ),
    Emission(
        "charge",
        "create",
        "succeeded",
        ("charge.succeeded",),
        _CATALOGUE + " (charge.succeeded: 'Occurs whenever a charge is successful'; an "
        "uncaptured charge (capture=false) succeeds too)",
    ),
    Emission(
        "charge",
        "create",
        "declined",
        ("charge.failed",),
        _CATALOGUE + " (charge.failed: 'Occurs whenever a failed charge attempt occurs'); "
        "https://docs.stripe.com/testing#declined-payments",
    ),
    Emission(
        "charge",
        "capture",
        "ok",
        ("charge.captured",),
        _CATALOGUE + " (charge.captured: 'Occurs whenever a previously uncaptured charge is "
        "captured')",
        _PARTIAL,
    ),
    Emission(
        "charge",
        "update",
        "ok",
        ("charge.updated",),
        _CATALOGUE + " (charge.updated: 'Occurs whenever a charge description or metadata is "
        "updated')",
        "nothing is emitted when the update changes nothing",
    ),
    Emission(
        "refund",
        "create",
        "ok",
        ("charge.refunded", "refund.created"),
        _CATALOGUE + " (charge.refunded: 'Occurs whenever a charge is refunded, including "
        "partial refunds. Listen to refund.created for information about the refund')",
        "the docs name both events without ordering them",
    ),
    Emission(
        "refund",
        "update",
        "ok",
        ("charge.refund.updated", "refund.updated"),
        _CATALOGUE + " (refund.updated: 'Occurs whenever a refund is updated'); the Stripe "
        "CLI's charge.refund.updated fixture updates a card refund's metadata",
        "the docs name both events without ordering them",
    ),
    Emission(
        "refund",
        "cancel",
        "ok",
        ("charge.refund.updated", "refund.updated"),
        _CATALOGUE + " (refund.updated: 'Occurs whenever a refund is updated')",
        "the docs name both events without ordering them",
    ),
    Emission(
        "dispute",
        "update",
        "ok",
        ("charge.dispute.updated",),
        _CATALOGUE + " (charge.dispute.updated: 'Occurs when the dispute is updated (usually "
        "with evidence)')",
    ),
    Emission(
        "dispute",
        "test_evidence",
        "won",
        ("charge.dispute.closed",),
        "https://docs.stripe.com/testing#disputes (evidence 'winning_evidence' closes the "
        "dispute as won); charge.dispute.closed: 'status changes to lost, warning_closed, or won'",
        "follows the update's charge.dispute.updated; charge.dispute.funds_reinstated follows "
        "later (the dispute reinstate row)",
    ),
    Emission(
        "dispute",
        "test_evidence",
        "lost",
        ("charge.dispute.closed",),
        "https://docs.stripe.com/testing#disputes (evidence 'losing_evidence' closes the "
        "dispute as lost)",
        "follows the update's charge.dispute.updated",
    ),
    Emission(
        "dispute",
        "close",
        "ok",
        ("charge.dispute.closed",),
        "https://docs.stripe.com/api/disputes/close; charge.dispute.closed: 'Occurs when a "
        "dispute is closed and the dispute status changes to lost, warning_closed, or won'",
    ),
    Emission(
        "setup_intent",
        "create",
        "ok",
        ("setup_intent.created",),
        _CATALOGUE + " (setup_intent.created: 'Occurs when a new SetupIntent is created')",
    ),
    Emission(
        "setup_intent",
        "confirm",
        "succeeded",
        ("setup_intent.succeeded",),
        _CATALOGUE + " (setup_intent.succeeded: 'Occurs when a SetupIntent has successfully "
        "setup a payment method')",
    ),
    Emission(
        "setup_intent",
        "confirm",
        "attached",
        ("payment_method.attached", "setup_intent.succeeded"),
        "https://docs.stripe.com/payments/save-and-reuse (a SetupIntent with a customer "
        "attaches the payment method to it); payment_method.attached",
        "the docs name both events without ordering them",
    ),
    Emission(
        "setup_intent",
        "confirm",
        "requires_action",
        ("setup_intent.requires_action",),
        _CATALOGUE + " (setup_intent.requires_action: 'Occurs when a SetupIntent is in "
        "requires_action state')",
    ),
    Emission(
        "setup_intent",
        "confirm",
        "declined",
        ("setup_intent.setup_failed",),
        _CATALOGUE + " (setup_intent.setup_failed: 'Occurs when a SetupIntent has failed the "
        "attempt to setup a payment method'); https://docs.stripe.com/testing#declined-payments",
    ),
    Emission(
        "setup_intent",
        "cancel",
        "ok",
        ("setup_intent.canceled",),
        _CATALOGUE + " (setup_intent.canceled: 'Occurs when a SetupIntent is canceled')",
    ),
    Emission(
        "checkout.session",
        "create",
        "ok",
        (),
        _CATALOGUE + " (Stripe has no checkout.session.created event type)",
    ),
    Emission(
        "checkout.session",
        "expire",
        "ok",
        ("checkout.session.expired",),
        _CATALOGUE + " (checkout.session.expired: 'Occurs when a Checkout Session is expired')",
    ),
    Emission(
        "checkout.session",
        "save_method",
        "ok",
        ("customer.created", "payment_method.attached"),
        "api: POST /v1/payment_intents, setup_future_usage ('attach the payment method to the "
        "Customer after the PaymentIntent is confirmed'); a session with "
        "payment_intent_data.setup_future_usage and no customer saves the method on a new one "
        "(the Stripe CLI's checkout.session.async_payment_* fixtures); customer.created: 'Occurs "
        "whenever a new customer is created', payment_method.attached: 'Occurs whenever a new "
        "payment method is attached to a customer'",
        "the docs do not order these before the payment's events; the fake sends them first, "
        "when the page is confirmed",
    ),
    Emission(
        "checkout.session",
        "save_method",
        "existing",
        ("payment_method.attached",),
        "as the row above, for a session that names its customer",
    ),
    Emission(
        "checkout.session",
        "settle",
        "succeeded",
        ("checkout.session.async_payment_succeeded",),
        "checkout.session.async_payment_succeeded: 'Occurs when a payment intent using a delayed "
        "payment method finally succeeds'; https://docs.stripe.com/checkout/fulfillment "
        "(payment_status becomes paid)",
        _LATER + ", after the payment_intent settle row's events",
    ),
    Emission(
        "checkout.session",
        "settle",
        "failed",
        ("checkout.session.async_payment_failed",),
        "checkout.session.async_payment_failed: 'Occurs when a payment intent using a delayed "
        "payment method fails'",
        _LATER + ", after the payment_intent settle row's events; payment_status stays unpaid",
    ),
    Emission(
        "checkout.session",
        "payment_page_confirm",
        "ok",
        ("checkout.session.completed",),
        _CATALOGUE + " (checkout.session.completed: 'Occurs when a Checkout Session has been "
        "successfully completed'); https://docs.stripe.com/checkout/fulfillment (a delayed "
        "method completes the session with payment_status unpaid)",
        note="the payment's own events (payment_intent.created, then the confirm's) come first; "
        "Stripe delivers checkout.session.completed and payment_intent.succeeded in either "
        "order; the page's answers are not documented: the fake answers the session",
    ),
    Emission(
        "billing.meter_event",
        "stream",
        "ok",
        (),
        _METER_STREAM,
        note="the events are recorded; the fake keeps no usage summaries",
    ),
    Emission(
        "billing.meter_event",
        "stream",
        "no_meter",
        ("v1.billing.meter.no_meter_found",),
        _METER_STREAM + "; v1.billing.meter.no_meter_found (thin): 'Occurs when a Meter's id is "
        "missing or invalid in async usage events' (error_types[].code no_meter)",
        note="no related object (the description gives the type none); one report per request",
    ),
    Emission(
        "billing.meter_event",
        "stream",
        "invalid",
        ("v1.billing.meter.error_report_triggered",),
        _METER_STREAM + "; v1.billing.meter.error_report_triggered (thin): 'Occurs when a Meter "
        "has invalid async usage events' (related_object billing.meter; error_types[].code: "
        "meter_event_no_customer_defined, meter_event_invalid_value, "
        "meter_event_customer_not_found, archived_meter, timestamp_in_future, "
        "timestamp_too_far_in_past)",
        note="one report per meter, after any no_meter_found of the same request (the docs do "
        "not order them); POST /v2/billing/meter_events answers the same problems with its "
        "synchronous 400s and reports only a customer no customer has this way",
    ),
)


def emission(object_type: str, action: str, outcome: str = "ok") -> Emission:
    """The row for ``outcome`` of ``action`` on ``object_type``; a missing row is a harness bug."""
    row = _index().get((object_type, action, outcome))
    if row is None:
        raise HarnessError(
            f"lifecycle/emissions.py has no row for {object_type} {action} {outcome}; add one "
            "(with its Stripe docs source) before an action emits it"
        )
    return row


# The lifecycles' other tables (billing, Connect) live beside this one, each a module with its
# own ``EMISSIONS``: they join this table, so a row is found wherever it is kept.
_OTHER_TABLES = ("billing", "connect", "tools")


def all_rows() -> tuple[Emission, ...]:
    """This module's rows, then those of :data:`_OTHER_TABLES` that exist."""
    rows = list(EMISSIONS)
    for module_name in _OTHER_TABLES:
        try:
            module = importlib.import_module(f"connect_harness.lifecycle.{module_name}")
        except ModuleNotFoundError as err:
            if err.name != f"connect_harness.lifecycle.{module_name}":
                raise
            continue
        rows.extend(getattr(module, "EMISSIONS", ()))
    return tuple(rows)


@functools.cache
def _index() -> dict[tuple[str, str, str], Emission]:
    found: dict[tuple[str, str, str], Emission] = {}
    for row in all_rows():
        key = (row.object_type, row.action, row.outcome)
        if key in found:
            raise HarnessError(f"the lifecycle tables list {key} twice")
        found[key] = row
    return found
