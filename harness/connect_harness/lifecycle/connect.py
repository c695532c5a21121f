"""Connect lifecycles as data: accounts, persons, external accounts, transfers, payouts, fees, top-ups.

The same :class:`~connect_harness.lifecycle.billing.Rule` shape as the billing table, with the same
sources (``catalogue``: the event type's "Occurs whenever..." text; ``api: METHOD /path``: the
endpoint's description text; a docs.stripe.com page by its path), plus Stripe's test bank accounts
whose payouts fail, from docs.stripe.com/connect/testing ("Testing payouts", "Bank numbers").
"""

from __future__ import annotations

from dataclasses import dataclass

from connect_harness.lifecycle.billing import Rule, emissions, rules_by_key, transitions

__all__ = [
    "CAPABILITY_STATUS",
    "CONNECT_RULES",
    "EMISSIONS",
    "FAILING_BANK_ACCOUNTS",
    "REJECT_REASONS",
    "TEST_ROUTING_NUMBER",
    "TRANSITIONS",
    "PayoutTestAccount",
    "payout_failure",
    "rule_for",
]

_PENDING = frozenset({"pending"})

# fmt: off
CONNECT_RULES: tuple[Rule, ...] = (
    # --- accounts -----------------------------------------------------------------------------------
    Rule("account", "create", None, None, (), None,
         "api: POST /v1/accounts; the catalogue has no account.created: creating an account "
         "emits nothing (the docs are silent on any other event)"),
    Rule("account", "update", None, None, ("account.updated",), None,
         "catalogue account.updated: 'Occurs whenever an account status or property has "
         "changed.'"),
    Rule("account", "reject", None, None, ("account.updated",), None,
         "api: POST /v1/accounts/{account}/reject ('Test-mode accounts can be rejected at any "
         "time'); the account object's requirements.disabled_reason rejected.<reason>, "
         "charges_enabled and payouts_enabled false"),
    Rule("account", "delete", None, None, ("account.application.deauthorized",), None,
         "api: DELETE /v1/accounts/{account} ('Test-mode accounts can be deleted at any time'); "
         "the Stripe CLI's account.application.deauthorized fixture deletes an account to cause "
         "that event; afterwards the platform has no access to it"),
    Rule("capability", "update", None, None, ("capability.updated", "account.updated"), None,
         "api: POST /v1/accounts/{account}/capabilities/{capability} ('Request or remove a "
         "capability by updating its requested parameter'); catalogue capability.updated: "
         "'Occurs whenever a capability has new requirements or a new status.'"),
    # --- persons ------------------------------------------------------------------------------------
    Rule("person", "create", None, None, ("person.created",), None, "catalogue person.created"),
    Rule("person", "update", None, None, ("person.updated",), None, "catalogue person.updated"),
    Rule("person", "delete", None, None, ("person.deleted",), None,
         "catalogue person.deleted; api: DELETE /v1/accounts/{account}/persons/{person}"),
    # --- external accounts --------------------------------------------------------------------------
    Rule("external_account", "create", None, None, ("account.external_account.created",), None,
         "catalogue account.external_account.created"),
    Rule("external_account", "update", None, None, ("account.external_account.updated",), None,
         "catalogue account.external_account.updated"),
    Rule("external_account", "delete", None, None, ("account.external_account.deleted",), None,
         "catalogue account.external_account.deleted"),
    # --- transfers ----------------------------------------------------------------------------------
    Rule("transfer", "create", None, None, ("transfer.created",), None,
         "catalogue transfer.created; api: POST /v1/transfers"),
    Rule("transfer", "update", None, None, ("transfer.updated",), None,
         "catalogue transfer.updated: 'Occurs whenever a transfer's description or metadata is "
         "updated.'"),
    Rule("transfer", "reverse", None, None, ("transfer.reversed",),
         "Transfer {id} is already fully reversed.",
         "api: POST /v1/transfers/{id}/reversals: 'Once entirely reversed, a transfer can't be "
         "reversed again ... an error ... when trying to reverse more money than is left'; "
         "catalogue transfer.reversed: 'including partial reversals'"),
    # --- payouts -------------------------------------------------------------------------------------
    Rule("payout", "create", None, "pending", ("payout.created",), None,
         "catalogue payout.created; api: POST /v1/payouts; when a test payout is paid is not "
         "documented: it stays pending"),
    Rule("payout", "fail", _PENDING, "failed",
         ("payout.created", "payout.failed"), None,
         "docs.stripe.com/connect/testing (Testing payouts: 'Payout fails with a no_account "
         "code' ...); catalogue payout.failed: 'Occurs whenever a payout attempt fails.'",
         outcome_of="create"),
    Rule("payout", "update", None, None, ("payout.updated",), None,
         "catalogue payout.updated; api: POST /v1/payouts/{payout} (metadata only)"),
    Rule("payout", "cancel", _PENDING, "canceled", ("payout.canceled",),
         "Payout {id} is {status}; only a pending payout can be canceled.",
         "api: POST /v1/payouts/{payout}/cancel: 'You can cancel a previously created payout if "
         "its status is pending.'; catalogue payout.canceled"),
    # --- application fees ------------------------------------------------------------------------------
    Rule("application_fee", "refund", None, None, ("application_fee.refunded",),
         "Application fee {id} has already been fully refunded.",
         "api: POST /v1/application_fees/{id}/refunds: 'Once entirely refunded, an application "
         "fee can't be refunded again ... an error ... when trying to refund more money than is "
         "left'; catalogue application_fee.refunded: 'This includes partial refunds.'"),
    # --- top-ups -------------------------------------------------------------------------------------
    Rule("topup", "create", None, "pending", ("topup.created",), None,
         "catalogue topup.created; when a test top-up succeeds is not documented: it stays "
         "pending"),
    Rule("topup", "update", None, None, (), None,
         "api: POST /v1/topups/{topup} (metadata only); the catalogue has no topup.updated"),
    Rule("topup", "cancel", _PENDING, "canceled", ("topup.canceled",),
         "Top-up {id} is {status}; only a pending top-up can be canceled.",
         "api: POST /v1/topups/{topup}/cancel: 'Only pending top-ups can be canceled.'; "
         "catalogue topup.canceled"),
)
# fmt: on

_BY_KEY = rules_by_key(CONNECT_RULES)

#: The Connect rows that join the payments tables (``transitions.all_rows``, ``emissions.all_rows``).
TRANSITIONS = transitions(CONNECT_RULES)
EMISSIONS = emissions(CONNECT_RULES)


def rule_for(object_type: str, action: str) -> Rule | None:
    """The Connect rule for ``action`` on ``object_type``, if Stripe's docs give one."""
    return _BY_KEY.get((object_type, action))


#: Stripe's US test routing number (docs.stripe.com/connect/testing, "Bank numbers").
TEST_ROUTING_NUMBER = "110000000"


@dataclass(frozen=True)
class PayoutTestAccount:
    account_number: str
    #: The payout's ``failure_code``; None: the payout succeeds.
    failure_code: str | None

    @property
    def last4(self) -> str:
        return self.account_number[-4:]


#: docs.stripe.com/connect/testing, "Testing payouts", US bank numbers (routing 110000000).
FAILING_BANK_ACCOUNTS: tuple[PayoutTestAccount, ...] = (
    PayoutTestAccount("000123456789", None),
    PayoutTestAccount("000111111116", "no_account"),
    PayoutTestAccount("000111111113", "account_closed"),
    PayoutTestAccount("000222222227", "insufficient_funds"),
    PayoutTestAccount("000333333335", "debit_not_authorized"),
    PayoutTestAccount("000444444440", "invalid_currency"),
)

_FAILURE_MESSAGES = {
    # The payout object's failure_message is free text; these sentences are ours.
    "no_account": "The bank account details on file are probably incorrect. No bank account "
    "could be located with those details.",
    "account_closed": "The bank account has been closed.",
    "insufficient_funds": "Your Stripe account has insufficient funds to cover the payout.",
    "debit_not_authorized": "Debit transactions are not approved on the bank account.",
    "invalid_currency": "The bank was unable to process this payout because of its currency.",
}


def payout_failure(routing_number: object, last4: object) -> tuple[str, str] | None:
    """(failure_code, failure_message) of a payout to a test bank account that fails, else None.

    A bank account object keeps only ``last4`` and ``routing_number``; with Stripe's test routing
    number the last four digits tell the test accounts apart.
    """
    if routing_number != TEST_ROUTING_NUMBER:
        return None
    for account in FAILING_BANK_ACCOUNTS:
        if account.last4 == last4 and account.failure_code is not None:
            return account.failure_code, _FAILURE_MESSAGES[account.failure_code]
    return None


#: POST /v1/accounts/{account}/reject ``reason`` -> requirements.disabled_reason (the account
#: object's disabled_reason enum: rejected.fraud, rejected.terms_of_service, rejected.other).
REJECT_REASONS = {
    "fraud": "rejected.fraud",
    "terms_of_service": "rejected.terms_of_service",
    "other": "rejected.other",
}

#: A capability's status after ``requested`` changes in test mode. Requested: ``inactive`` until
#: its requirements are met (the fake collects none), docs.stripe.com/connect/account-capabilities
#: ("Capability status"); not requested: ``unrequested``.
CAPABILITY_STATUS = {True: "inactive", False: "unrequested"}
