"""Identity, test clocks, Issuing receipts and reporting as data: which state each API action needs, what it leaves,
what it emits.

The same :class:`~connect_harness.lifecycle.billing.Rule` shape and sources as the billing table
(``catalogue``: the event type's "Occurs whenever..." text; ``api: METHOD /path``: the endpoint's
description text in Stripe's API description). Their creates, updates and deletes that emit what
the catalogue's text says are the catalogue's rule (``stripe_api/actions/catalogue.py``); the rows
here are the actions that rule does not read.

Three of these finish at once what Stripe finishes later (a redaction, a clock's advance, a report
run): the fake has no clock of its own to finish them by, and the Stripe CLI's fixture for each
event makes only the request that starts it, so the event follows that request.
"""

from __future__ import annotations

from connect_harness.lifecycle.billing import Rule, emissions, rules_by_key, transitions

__all__ = ["EMISSIONS", "TOOLS_RULES", "TRANSITIONS", "rule_for"]

# fmt: off
TOOLS_RULES: tuple[Rule, ...] = (
    # --- Identity -----------------------------------------------------------------------------------
    Rule("identity.verification_session", "create", None, "requires_input",
         ("identity.verification_session.created",), None,
         "catalogue identity.verification_session.created; docs.stripe.com/identity/"
         "how-sessions-work (a new session waits for the user's input: requires_input, with no "
         "verification report, outputs or redaction yet)"),
    Rule("identity.verification_session", "cancel", frozenset({"requires_input"}), "canceled",
         ("identity.verification_session.canceled",),
         "VerificationSession {id} has a status of {status}: only a session in requires_input "
         "can be canceled.",
         "api: POST /v1/identity/verification_sessions/{session}/cancel ('A VerificationSession "
         "object can be canceled when it is in requires_input status'); catalogue "
         "identity.verification_session.canceled"),
    Rule("identity.verification_session", "redact", frozenset({"requires_input", "verified"}),
         None, ("identity.verification_session.redacted",),
         "VerificationSession {id} has a status of {status}: only a session in requires_input "
         "or verified can be redacted.",
         "api: POST /v1/identity/verification_sessions/{session}/redact ('can be redacted when it "
         "is in requires_input or verified status'; when the redaction is finished "
         "redaction.status is redacted 'and an identity.verification_session.redacted event will "
         "be emitted'; 'The metadata field will also be erased'); Stripe takes up to four days, "
         "the fake finishes at once"),
    # --- test clocks --------------------------------------------------------------------------------
    Rule("test_helpers.test_clock", "advance", frozenset({"ready"}), "ready",
         ("test_helpers.test_clock.advancing", "test_helpers.test_clock.ready"),
         "Test clock {id} has a status of {status}: only a ready clock can be advanced.",
         "api: POST /v1/test_helpers/test_clocks/{test_clock}/advance ('Starts advancing a test "
         "clock to a specified time in the future. Advancement is done when status changes to "
         "Ready'); catalogue test_helpers.test_clock.advancing, test_helpers.test_clock.ready; "
         "the fake advances at once: the objects on the clock move between the two events (the "
         "advance rows)"),
    Rule("subscription_schedule", "advance_expiring", None, None,
         ("subscription_schedule.expiring",), None,
         "catalogue subscription_schedule.expiring: 'Occurs 7 days before a subscription "
         "schedule will expire'; sent when a clock's advance passes that moment, for a schedule "
         "with end_behavior cancel (the docs do not say whether one that releases its "
         "subscription 'expires': the fake reads expire as the subscription ending, as in the "
         "Stripe CLI's expiring fixture)",
         outcome_of="advance"),
    Rule("subscription_schedule", "advance_completed", None, "completed",
         ("subscription_schedule.completed",), None,
         "api: the schedule's end_behavior ('release will end the subscription schedule and keep "
         "the underlying subscription running'); catalogue subscription_schedule.completed "
         "('Occurs whenever a new subscription schedule is completed'), when a clock's advance "
         "passes the last phase's end_date", outcome_of="advance"),
    Rule("subscription_schedule", "advance_completed_cancel", None, "completed",
         ("customer.subscription.deleted", "subscription_schedule.completed"), None,
         "api: the schedule's end_behavior ('cancel will end the subscription schedule and "
         "cancel the underlying subscription'); catalogue customer.subscription.deleted, "
         "subscription_schedule.completed; the docs do not order the two: the subscription "
         "ends first, as when a schedule is canceled", outcome_of="advance"),
    Rule("subscription", "advance_trial_will_end", None, None,
         ("customer.subscription.trial_will_end",), None,
         "catalogue customer.subscription.trial_will_end ('Occurs three days before a "
         "subscription's trial period is scheduled to end'), when a clock's advance passes "
         "that moment", outcome_of="advance"),
    Rule("subscription", "advance_trial_ended", None, "active",
         ("customer.subscription.updated", "invoice.created", "invoice.finalized",
          "payment_intent.created", "charge.succeeded", "payment_intent.succeeded",
          "invoice.paid", "invoice.payment_succeeded"), None,
         "docs.stripe.com/billing/subscriptions/trials (when the trial ends, the first paid "
         "period's invoice is charged); catalogue customer.subscription.updated ('changing the "
         "status from trial to active'); the events of a paid invoice as for POST "
         "/v1/subscriptions; the docs do not order updated before the invoice's events",
         outcome_of="advance"),
    Rule("subscription", "advance_renewed", None, "active",
         ("customer.subscription.updated", "invoice.created", "invoice.finalized",
          "payment_intent.created", "charge.succeeded", "payment_intent.succeeded",
          "invoice.paid", "invoice.payment_succeeded"), None,
         "docs.stripe.com/billing/subscriptions/overview (each period's invoice is created and "
         "charged at renewal); catalogue customer.subscription.updated (the new "
         "current_period), invoice.*; Stripe finalizes about an hour after invoice.created, "
         "the fake at once; the docs do not order updated before the invoice's events",
         outcome_of="advance"),
    Rule("subscription", "advance_unpaid", None, "past_due",
         ("customer.subscription.updated", "invoice.created", "invoice.finalized",
          "payment_intent.created", "charge.failed", "payment_intent.payment_failed",
          "invoice.payment_failed"), None,
         "docs.stripe.com/billing/subscriptions/overview (a renewal payment that fails makes "
         "the subscription past_due); catalogue invoice.payment_failed ('due to either a "
         "declined payment ... or to the lack of a stored payment method'); without a payment "
         "method no intent or charge is made", outcome_of="advance"),
    # --- Issuing ------------------------------------------------------------------------------------
    Rule("issuing.transaction", "create_with_receipt", None, None,
         ("issuing_transaction.created", "issuing_transaction.purchase_details_receipt_updated"),
         None,
         "catalogue issuing_transaction.created, issuing_transaction.purchase_details_receipt_"
         "updated ('Occurs whenever an issuing transaction is updated with receipt data'); the "
         "Stripe CLI's fixture for that event is a test transaction created with "
         "purchase_details.receipt; whether Stripe emits it for a receipt given at creation: "
         "the docs are silent",
         outcome_of="create"),
    # --- billing meters -----------------------------------------------------------------------------
    Rule("billing.meter", "deactivate", None, "inactive", ("billing.meter.deactivated",), None,
         "api: POST /v1/billing/meters/{id}/deactivate ('When a meter is deactivated, no more "
         "meter events will be accepted for this meter'); catalogue billing.meter.deactivated "
         "('Occurs when a meter is deactivated'); the meter's status enum (active, inactive); "
         "the docs do not say whether deactivating an inactive meter is refused: the fake "
         "does not refuse it"),
    Rule("billing.meter", "reactivate", None, "active", ("billing.meter.reactivated",), None,
         "api: POST /v1/billing/meters/{id}/reactivate ('When a meter is reactivated, events for "
         "this meter can be accepted'); catalogue billing.meter.reactivated ('Occurs when a "
         "meter is reactivated'); the docs do not say whether reactivating an active meter is "
         "refused: the fake does not refuse it"),
    # --- reporting ----------------------------------------------------------------------------------
    Rule("reporting.report_run", "create", None, "succeeded",
         ("reporting.report_run.succeeded",), None,
         "api: POST /v1/reporting/report_runs ('Creates a new object and begin running the "
         "report'); the report_run object's status ('pending when the run is initially created. "
         "When the run finishes, this will be set to succeeded'); catalogue "
         "reporting.report_run.succeeded (no report run created event exists); the fake finishes "
         "the run at once, with no result file"),
)
# fmt: on

_BY_KEY = rules_by_key(TOOLS_RULES)

#: The rows that join the payments tables (``transitions.all_rows``, ``emissions.all_rows``).
TRANSITIONS = transitions(TOOLS_RULES)
EMISSIONS = emissions(TOOLS_RULES)


def rule_for(object_type: str, action: str) -> Rule | None:
    """The rule for ``action`` on ``object_type``, if Stripe's docs give one."""
    return _BY_KEY.get((object_type, action))
