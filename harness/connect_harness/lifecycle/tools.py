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
         "the fake moves frozen_time at once and advances no object on the clock"),
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
