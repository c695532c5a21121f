"""Billing lifecycles as data: which state each API action needs, what it leaves, what it emits.

One :class:`Rule` per (object type, action): the states the action is allowed from (``None``: any),
the state it leaves the object in, the event types Stripe emits for it in the order it emits them,
the error Stripe answers when the object is in another state, and the page or description text the
rule comes from. Nothing here talks to the fake; :mod:`connect_harness.stripe_api.actions.billing`
carries the rules out.

Sources, cited by short name in each rule:

* ``catalogue``: the event type's "Occurs whenever..." text in Stripe's API description
  (``../shared/stripe-spec/event_catalogue.2026-10-28.json``);
* ``api: METHOD /path``: the endpoint's description text in Stripe's API description
  (``openapi.spec3.2026-05-27.json``);
* a docs.stripe.com page named by its path.

Stripe does not publish the wording of its state errors, and its error codes only where
``docs.stripe.com/error-codes`` lists them: the messages below are ours, the HTTP status and
``invalid_request_error`` type are Stripe's for every such refusal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from connect_harness.lifecycle.emissions import Emission
from connect_harness.lifecycle.transitions import Transition

__all__ = [
    "BILLING_RULES",
    "CREDITABLE_INVOICE_STATES",
    "EMISSIONS",
    "TRANSITIONS",
    "Rule",
    "emissions",
    "rule_for",
    "rules_by_key",
    "transitions",
]


@dataclass(frozen=True)
class Rule:
    """One API action on one object type, as Stripe documents it."""

    object_type: str
    action: str
    #: States the action is allowed from; None: any (or the object has no state).
    from_states: frozenset[str] | None
    #: The state the action leaves the object in; None: unchanged.
    to_state: str | None
    #: Event types Stripe emits, in its order; another object's events name it first
    #: (``payment_intent.created`` on ``invoice.pay``) and the handler says which object.
    emits: tuple[str, ...]
    #: Our message when the object's state is not in ``from_states``; ``{id}`` and ``{status}``
    #: are filled in.
    error: str | None
    #: Where the rule comes from.
    source: str
    #: Stripe's error code for the refusal, where docs.stripe.com/error-codes names one.
    error_code: str | None = None
    #: The field holding the state.
    state_field: str = "status"
    #: Set on an outcome of another action (a declined ``pay``, a ``create`` without a payment
    #: method): the action the request named. An outcome is chosen by the object's data, never
    #: refused by its state.
    outcome_of: str | None = None

    def allows(self, state: object) -> bool:
        return self.from_states is None or state in self.from_states

    @property
    def outcome(self) -> str:
        """The outcome's name among its action's (``ok`` for an action that ends one way)."""
        if self.outcome_of is None:
            return "ok"
        return self.action.removeprefix(f"{self.outcome_of}_")


def _states(*names: str) -> frozenset[str]:
    return frozenset(names)


# fmt: off
BILLING_RULES: tuple[Rule, ...] = (
    # --- products, prices, plans --------------------------------------------------------------
    Rule("product", "create", None, None, ("product.created",), None,
         "catalogue product.created: 'Occurs whenever a product is created.'"),
    Rule("product", "update", None, None, ("product.updated",), None,
         "catalogue product.updated; archiving is an update of active=false "
         "(docs.stripe.com/products-prices/manage-prices#archive-price)"),
    Rule("product", "delete", None, None, ("product.deleted",),
         "Product {id} cannot be deleted because it has one or more prices; archive it "
         "(active=false) instead.",
         "api: DELETE /v1/products/{id}: 'Deleting a product is only possible if it has no "
         "prices associated with it.'"),
    Rule("price", "create", None, None, ("price.created",), None,
         "catalogue price.created; api: POST /v1/prices"),
    Rule("price", "update", None, None, ("price.updated",), None,
         "catalogue price.updated; archiving is an update of active=false"),
    Rule("plan", "create", None, None, ("plan.created",), None, "catalogue plan.created"),
    Rule("plan", "create_with_product", None, None, ("product.created", "plan.created"), None,
         "api: POST /v1/plans, product: 'a dictionary containing fields used to create a service "
         "product'; catalogue product.created, plan.created", outcome_of="create"),
    Rule("plan", "update", None, None, ("plan.updated",), None, "catalogue plan.updated"),
    Rule("plan", "delete", None, None, ("plan.deleted",), None,
         "catalogue plan.deleted; api: DELETE /v1/plans/{plan}"),
    # --- coupons, promotion codes, customers' discounts ----------------------------------------
    Rule("coupon", "create", None, None, ("coupon.created",), None, "catalogue coupon.created"),
    Rule("coupon", "update", None, None, ("coupon.updated",), None,
         "catalogue coupon.updated; api: POST /v1/coupons/{coupon} (metadata and name only)"),
    Rule("coupon", "delete", None, None, ("coupon.deleted",), None,
         "catalogue coupon.deleted; api: DELETE /v1/coupons/{coupon}: customers who applied it "
         "keep it"),
    Rule("promotion_code", "create", None, None, ("promotion_code.created",), None,
         "catalogue promotion_code.created"),
    Rule("promotion_code", "update", None, None, ("promotion_code.updated",), None,
         "catalogue promotion_code.updated"),
    Rule("customer", "discount_created", None, None, ("customer.discount.created",), None,
         "catalogue customer.discount.created: 'Occurs whenever a coupon is attached to a "
         "customer.'"),
    Rule("customer", "discount_updated", None, None, ("customer.discount.updated",), None,
         "catalogue customer.discount.updated: 'Occurs whenever a customer is switched from one "
         "coupon to another.'"),
    Rule("customer", "discount_deleted", None, None, ("customer.discount.deleted",), None,
         "catalogue customer.discount.deleted: 'Occurs whenever a coupon is removed from a "
         "customer.'"),
    # --- invoice items -----------------------------------------------------------------------------
    Rule("invoiceitem", "create", None, None, ("invoiceitem.created",), None,
         "catalogue invoiceitem.created; api: POST /v1/invoiceitems"),
    Rule("invoiceitem", "update", None, None, (), None,
         "api: POST /v1/invoiceitems/{invoiceitem}; the catalogue has no invoiceitem.updated"),
    Rule("invoiceitem", "delete", None, None, ("invoiceitem.deleted",),
         "Invoice item {id} is on an invoice that is no longer a draft and cannot be deleted.",
         "api: DELETE /v1/invoiceitems/{invoiceitem}: 'only possible when they're not attached "
         "to invoices, or if it's attached to a draft invoice.'"),
    # --- invoices ----------------------------------------------------------------------------------
    Rule("invoice", "create", None, "draft", ("invoice.created",), None,
         "api: POST /v1/invoices: 'creates a draft invoice'; catalogue invoice.created"),
    Rule("invoice", "update", _states("draft", "open", "paid", "uncollectible", "void"), None,
         ("invoice.updated",), "Invoice {id} is deleted and cannot be updated.",
         "api: POST /v1/invoices/{invoice} (drafts fully editable, finalized ones partly); "
         "catalogue invoice.updated"),
    Rule("invoice", "delete", _states("draft"), None, ("invoice.deleted",),
         "You can only delete draft invoices; invoice {id} is {status}: void it instead.",
         "api: DELETE /v1/invoices/{invoice}: 'Attempts to delete invoices that are no longer "
         "in a draft state will fail'; catalogue invoice.deleted"),
    Rule("invoice", "finalize", _states("draft"), "open", ("invoice.finalized",),
         "Invoice {id} is already finalized ({status}); only a draft invoice can be finalized.",
         "catalogue invoice.finalized: 'Occurs whenever a draft invoice is finalized and updated "
         "to be an open invoice.'; docs.stripe.com/invoicing/overview (draft -> open)"),
    Rule("invoice", "pay", _states("draft", "open", "uncollectible"), "paid",
         ("payment_intent.created", "charge.succeeded", "payment_intent.succeeded",
          "invoice.paid", "invoice.payment_succeeded"),
         "Invoice {id} is {status} and cannot be paid.",
         "api: POST /v1/invoices/{invoice}/finalize: 'Stripe automatically finalizes drafts "
         "before sending and attempting payment' (a draft emits invoice.finalized first); "
         "catalogue invoice.paid, invoice.payment_succeeded: 'Occurs whenever an invoice payment "
         "attempt succeeds.'; docs.stripe.com/invoicing/overview (uncollectible can be paid); "
         "the invoice's PaymentIntent creates its charge first, as any PaymentIntent "
         "(docs.stripe.com/payments/payment-intents/verifying-status)"),
    Rule("invoice", "pay_failed", _states("draft", "open", "uncollectible"), None,
         ("payment_intent.created", "charge.failed", "payment_intent.payment_failed",
          "invoice.payment_failed"), None,
         "catalogue invoice.payment_failed: 'Occurs whenever an invoice payment attempt fails, "
         "due to either a declined payment ... or to the lack of a stored payment method.'; the "
         "charge fails before its PaymentIntent (docs.stripe.com/payments/payment-intents/"
         "verifying-status)",
         error_code="card_declined", outcome_of="pay"),
    Rule("invoice", "pay_requires_action", _states("draft", "open", "uncollectible"), None,
         ("payment_intent.created", "payment_intent.requires_action",
          "invoice.payment_action_required"), None,
         "catalogue invoice.payment_action_required: 'Occurs whenever an invoice payment attempt "
         "requires further user action to complete.'",
         error_code="invoice_payment_intent_requires_action", outcome_of="pay"),
    Rule("invoice", "void", _states("open", "uncollectible"), "void", ("invoice.voided",),
         "You can only void a finalized invoice that is open or uncollectible; invoice {id} is "
         "{status}.",
         "api: POST /v1/invoices/{invoice}/void: 'Mark a finalized invoice as void ... only "
         "applies to finalized invoices'; docs.stripe.com/invoicing/overview; "
         "catalogue invoice.voided"),
    Rule("invoice", "mark_uncollectible", _states("open"), "uncollectible",
         ("invoice.marked_uncollectible",),
         "Only an open invoice can be marked uncollectible; invoice {id} is {status}.",
         "docs.stripe.com/invoicing/overview (open -> uncollectible); "
         "catalogue invoice.marked_uncollectible"),
    Rule("invoice", "send", _states("draft", "open", "paid", "uncollectible"), None,
         ("invoice.sent",), "Invoice {id} is void and cannot be sent.",
         "api: POST /v1/invoices/{invoice}/send ('invoices that have already been paid' can be "
         "sent; test mode sends no email but emits invoice.sent); finalize's text: drafts are "
         "finalized before sending"),
    # --- subscriptions -------------------------------------------------------------------------------
    Rule("subscription", "create", None, "active",
         ("customer.subscription.created", "invoice.created", "invoice.finalized",
          "payment_intent.created", "charge.succeeded", "payment_intent.succeeded",
          "invoice.paid", "invoice.payment_succeeded"), None,
         "api: POST /v1/subscriptions: 'the first invoice is finalized as part of the request'; "
         "docs.stripe.com/billing/subscriptions/overview (first invoice paid -> active); "
         "catalogue customer.subscription.created, invoice.*"),
    Rule("subscription", "create_incomplete", None, "incomplete",
         ("customer.subscription.created", "invoice.created", "invoice.finalized",
          "payment_intent.created", "invoice.payment_failed"), None,
         "docs.stripe.com/billing/subscriptions/overview (payment_behavior allow_incomplete, "
         "the default: an unpaid first invoice leaves the subscription incomplete); catalogue "
         "invoice.payment_failed ('... or to the lack of a stored payment method')",
         outcome_of="create"),
    Rule("subscription", "create_send_invoice", None, "active",
         ("customer.subscription.created", "invoice.created", "invoice.finalized"), None,
         "api: POST /v1/subscriptions, payment_behavior: 'Subscriptions with "
         "collection_method=send_invoice are automatically activated regardless of the first "
         "Invoice status' (the invoice stays open for the customer to pay)",
         outcome_of="create"),
    Rule("subscription", "create_default_incomplete", None, "incomplete",
         ("customer.subscription.created", "invoice.created", "invoice.finalized",
          "payment_intent.created"), None,
         "docs.stripe.com/api/subscriptions/create (payment_behavior=default_incomplete: the "
         "subscription is incomplete when the first invoice requires payment, and no payment "
         "is attempted until its payment intent is confirmed)", outcome_of="create"),
    Rule("subscription", "create_declined", None, "incomplete",
         ("customer.subscription.created", "invoice.created", "invoice.finalized",
          "payment_intent.created", "charge.failed", "payment_intent.payment_failed",
          "invoice.payment_failed"), None,
         "docs.stripe.com/billing/subscriptions/overview (a first payment that fails leaves the "
         "subscription incomplete); catalogue invoice.payment_failed ('due to ... a declined "
         "payment')", outcome_of="create"),
    Rule("subscription", "create_requires_action", None, "incomplete",
         ("customer.subscription.created", "invoice.created", "invoice.finalized",
          "payment_intent.created", "payment_intent.requires_action",
          "invoice.payment_action_required"), None,
         "docs.stripe.com/billing/subscriptions/overview (a first payment that needs "
         "authentication leaves the subscription incomplete); catalogue "
         "invoice.payment_action_required", outcome_of="create"),
    Rule("subscription", "create_trialing", None, "trialing",
         ("customer.subscription.created", "invoice.created", "invoice.finalized",
          "invoice.paid", "invoice.payment_succeeded"), None,
         "docs.stripe.com/billing/subscriptions/trials (a trial starts trialing with a zero "
         "amount first invoice, paid at once)", outcome_of="create"),
    Rule("subscription", "update",
         _states("trialing", "active", "past_due", "unpaid", "incomplete", "paused"), None,
         ("customer.subscription.updated",),
         "Subscription {id} is {status}: a canceled subscription can only update its metadata "
         "and cancellation_details.",
         "catalogue customer.subscription.updated; api: DELETE /v1/subscriptions/{id}: 'After "
         "it's canceled, the subscription is largely immutable. You can still update its "
         "metadata and cancellation_details.'"),
    Rule("subscription", "end_trial",
         _states("trialing"), "active",
         ("customer.subscription.trial_will_end", "customer.subscription.updated"), None,
         "catalogue customer.subscription.trial_will_end: '... or immediately when a trial is "
         "ended early (for example, with trial_end=now ...)'; catalogue "
         "customer.subscription.updated ('changing the status from trial to active')",
         outcome_of="update"),
    Rule("subscription", "pause_at_trial_end",
         _states("trialing"), "paused",
         ("customer.subscription.trial_will_end", "customer.subscription.updated",
          "customer.subscription.paused"), None,
         "docs.stripe.com/billing/subscriptions/trials (trial_settings.end_behavior."
         "missing_payment_method=pause: a trial ending without a payment method pauses); "
         "catalogue customer.subscription.trial_will_end ('immediately when a trial is ended "
         "early (for example, with trial_end=now'), customer.subscription.updated, "
         "customer.subscription.paused; the docs do not order updated and paused: the fake "
         "sends the change, then the state it reached, as for end_trial", outcome_of="update"),
    Rule("subscription", "delete",
         _states("trialing", "active", "past_due", "unpaid", "incomplete", "paused"), "canceled",
         ("customer.subscription.deleted",),
         "Subscription {id} is already canceled.",
         "api: DELETE /v1/subscriptions/{id}: 'Cancels a customer's subscription immediately'; "
         "catalogue customer.subscription.deleted: 'Occurs whenever a customer's subscription "
         "ends.'"),
    Rule("subscription", "resume", _states("paused"), "active",
         ("customer.subscription.resumed", "customer.subscription.updated"),
         "Subscription {id} is {status}; only a paused subscription can be resumed.",
         "api: POST /v1/subscriptions/{subscription}/resume; catalogue "
         "customer.subscription.resumed: 'Only applies when a status=paused subscription is "
         "resumed'"),
    # --- subscription schedules -------------------------------------------------------------------
    Rule("subscription_schedule", "create", None, "not_started",
         ("subscription_schedule.created",), None,
         "catalogue subscription_schedule.created; a start_date in the future stays not_started"),
    Rule("subscription_schedule", "create_active", None, "active",
         ("subscription_schedule.created", "customer.subscription.created"), None,
         "docs.stripe.com/billing/subscriptions/subscription-schedules (start_date=now starts "
         "the first phase: the schedule is active and creates its subscription)",
         outcome_of="create"),
    Rule("subscription_schedule", "update", _states("not_started", "active"), None,
         ("subscription_schedule.updated",),
         "Subscription schedule {id} is {status} and can no longer be updated.",
         "catalogue subscription_schedule.updated; docs.stripe.com/billing/subscriptions/"
         "subscription-schedules (released, canceled and completed schedules are final)"),
    Rule("subscription_schedule", "cancel", _states("not_started", "active"), "canceled",
         ("customer.subscription.deleted", "subscription_schedule.canceled"),
         "Subscription schedule {id} is {status}; only a not_started or active schedule can be "
         "canceled.",
         "api: POST /v1/subscription_schedules/{schedule}/cancel: 'Cancels a subscription "
         "schedule and its associated subscription immediately ... can only be canceled if its "
         "status is not_started or active.'; catalogue customer.subscription.deleted (only when "
         "the schedule has a subscription not yet canceled); the docs do not order the two "
         "events: the fake ends the subscription first, then the schedule that held it"),
    Rule("subscription_schedule", "release", _states("not_started", "active"), "released",
         ("subscription_schedule.released",),
         "Subscription schedule {id} is {status}; only a not_started or active schedule can be "
         "released.",
         "api: POST /v1/subscription_schedules/{schedule}/release: '... leave any existing "
         "subscription in place ... set the subscription's ID to the released_subscription "
         "property.'"),
    # --- quotes ---------------------------------------------------------------------------------------
    Rule("quote", "create", None, "draft", ("quote.created",), None,
         "catalogue quote.created; docs.stripe.com/quotes/overview (a new quote is a draft)"),
    Rule("quote", "update", _states("draft"), None, (),
         "Quote {id} is {status}; only a draft quote can be updated.",
         "docs.stripe.com/quotes/overview (finalized quotes cannot be edited); the catalogue has "
         "no quote.updated"),
    Rule("quote", "finalize", _states("draft"), "open", ("quote.finalized",),
         "Quote {id} is {status}; only a draft quote can be finalized.",
         "catalogue quote.finalized; docs.stripe.com/quotes/overview (draft -> open)"),
    Rule("quote", "accept", _states("open"), "accepted", ("quote.accepted",),
         "Quote {id} is {status}; only an open (finalized) quote can be accepted.",
         "catalogue quote.accepted; docs.stripe.com/quotes/overview (open -> accepted; "
         "'Accepted quotes generate an invoice, subscription, or subscription schedule'); "
         "docs.stripe.com/api/quotes/accept. The new invoice's or subscription's own events "
         "follow (their rows); the docs give neither their order nor the invoice's status"),
    Rule("quote", "cancel", _states("draft", "open"), "canceled", ("quote.canceled",),
         "Quote {id} is {status}; only a draft or open quote can be canceled.",
         "catalogue quote.canceled; docs.stripe.com/quotes/overview"),
    # --- credit notes ---------------------------------------------------------------------------------
    Rule("credit_note", "create", None, "issued", ("credit_note.created",),
         "Invoice {id} is {status}; a credit note needs a finalized invoice (open or paid).",
         "api: POST /v1/credit_notes: 'Issue a credit note to adjust the amount of a finalized "
         "invoice.'; catalogue credit_note.created"),
    Rule("credit_note", "update", None, None, ("credit_note.updated",), None,
         "catalogue credit_note.updated"),
    Rule("credit_note", "void", _states("issued"), "void", ("credit_note.voided",),
         "Credit note {id} is already void.",
         "api: POST /v1/credit_notes/{id}/void; catalogue credit_note.voided"),
)
# fmt: on

#: The invoice states a credit note may be issued on ("a finalized invoice").
CREDITABLE_INVOICE_STATES = frozenset({"open", "paid"})


def rules_by_key(rules: Iterable[Rule]) -> dict[tuple[str, str], Rule]:
    table: dict[tuple[str, str], Rule] = {}
    for rule in rules:
        key = (rule.object_type, rule.action)
        if key in table:
            raise ValueError(f"two rules for {key}")
        table[key] = rule
    return table


_BY_KEY = rules_by_key(BILLING_RULES)


def transitions(rules: Iterable[Rule]) -> tuple[Transition, ...]:
    """The rules that refuse some states, as rows of :mod:`connect_harness.lifecycle.transitions`.

    Stripe answers such a refusal with HTTP 400 and ``invalid_request_error``.
    """
    return tuple(
        Transition(
            rule.object_type,
            rule.action,
            tuple(sorted(rule.from_states)),
            rule.to_state,
            400,
            rule.error_code,
            rule.error or "",
            rule.source,
            field=rule.state_field,
        )
        for rule in rules
        if rule.from_states is not None and rule.outcome_of is None and rule.error
    )


def emissions(rules: Iterable[Rule]) -> tuple[Emission, ...]:
    """Every rule's events, as rows of :mod:`connect_harness.lifecycle.emissions`."""
    return tuple(
        Emission(
            rule.object_type, rule.outcome_of or rule.action, rule.outcome, rule.emits, rule.source
        )
        for rule in rules
    )


#: The billing rows that join the payments tables (``transitions.all_rows``, ``emissions.all_rows``).
TRANSITIONS = transitions(BILLING_RULES)
EMISSIONS = emissions(BILLING_RULES)


def rule_for(object_type: str, action: str) -> Rule | None:
    """The billing rule for ``action`` on ``object_type``, if Stripe's docs give one."""
    return _BY_KEY.get((object_type, action))
