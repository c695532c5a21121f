"""Stripe's test payment methods and card tokens, and what each does when a payment uses it.

Source of every row: Stripe's Testing page, https://docs.stripe.com/testing (cards by brand,
"Declined payments", "Fraud prevention", "Disputes", "Refunds", "3D Secure authentication"). The
``pm_card_*`` payment methods and ``tok_*`` tokens stand for the same test cards; a payment method
or token not listed here is an ordinary card that succeeds, as the fake cannot tell more.

``outcome`` is what a payment with the card does:

* ``succeeded``: the charge succeeds;
* ``declined``: the charge fails with a ``card_error`` (``code``, ``decline_code``, ``message``);
  ``attach_declined`` cards fail so already when attached to a customer;
* ``requires_action``: the payment needs 3D Secure authentication first (``requires_action``);
* ``dispute``: the charge succeeds, then is disputed (``dispute_reason``; an inquiry starts in
  ``warning_needs_response``);
* ``refund_fail``: the charge succeeds; a refund of it starts ``succeeded`` and fails later
  (asynchronously: not in answer to the refund's request).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TEST_CARDS", "TEST_DEBITS", "TestCard", "TestDebit", "card_for", "debit_for"]

TESTING = "https://docs.stripe.com/testing"


@dataclass(frozen=True)
class TestCard:
    """One of Stripe's test cards, by its payment method and token names."""

    __test__ = False  # not a pytest class

    payment_method: str
    token: str
    brand: str
    last4: str
    funding: str = "credit"
    outcome: str = "succeeded"
    code: str | None = None
    decline_code: str | None = None
    message: str | None = None
    dispute_reason: str | None = None
    dispute_status: str = "needs_response"
    #: Declined already when attached to a customer (the card is checked then), not only when
    #: charged; the page's 4000000000000341 is the card that attaches and declines only charges.
    attach_declined: bool = False
    #: The charge's funds are available at once (no pending period): balance.available follows.
    available_at_once: bool = False
    source: str = TESTING


_DECLINED = "Your card was declined."

TEST_CARDS: tuple[TestCard, ...] = (
    TestCard("pm_card_visa", "tok_visa", "visa", "4242"),
    TestCard("pm_card_visa_debit", "tok_visa_debit", "visa", "5556", "debit"),
    TestCard("pm_card_mastercard", "tok_mastercard", "mastercard", "4444"),
    TestCard("pm_card_mastercard_debit", "tok_mastercard_debit", "mastercard", "8210", "debit"),
    TestCard(
        "pm_card_mastercard_prepaid", "tok_mastercard_prepaid", "mastercard", "5100", "prepaid"
    ),
    TestCard("pm_card_amex", "tok_amex", "amex", "8431"),
    TestCard("pm_card_discover", "tok_discover", "discover", "1117"),
    TestCard("pm_card_diners", "tok_diners", "diners", "0004"),
    TestCard("pm_card_jcb", "tok_jcb", "jcb", "0505"),
    TestCard("pm_card_unionpay", "tok_unionpay", "unionpay", "0005"),
    # "Declined payments"
    TestCard(
        "pm_card_chargeDeclined",
        "tok_chargeDeclined",
        "visa",
        "0002",
        outcome="declined",
        code="card_declined",
        decline_code="generic_decline",
        message=_DECLINED,
        attach_declined=True,
        source=TESTING + "#declined-payments",
    ),
    TestCard(
        "pm_card_visa_chargeDeclined",
        "tok_visa_chargeDeclined",
        "visa",
        "0002",
        outcome="declined",
        code="card_declined",
        decline_code="generic_decline",
        message=_DECLINED,
        attach_declined=True,
        source=TESTING + "#declined-payments (the Stripe CLI's charge.failed fixture uses it)",
    ),
    TestCard(
        "pm_card_chargeDeclinedInsufficientFunds",
        "tok_chargeDeclinedInsufficientFunds",
        "visa",
        "9995",
        outcome="declined",
        code="card_declined",
        decline_code="insufficient_funds",
        message="Your card has insufficient funds.",
        attach_declined=True,
        source=TESTING + "#declined-payments",
    ),
    TestCard(
        "pm_card_chargeDeclinedLostCard",
        "tok_chargeDeclinedLostCard",
        "visa",
        "9987",
        outcome="declined",
        code="card_declined",
        decline_code="lost_card",
        message=_DECLINED,
        source=TESTING + "#declined-payments",
    ),
    TestCard(
        "pm_card_chargeDeclinedStolenCard",
        "tok_chargeDeclinedStolenCard",
        "visa",
        "9979",
        outcome="declined",
        code="card_declined",
        decline_code="stolen_card",
        message=_DECLINED,
        source=TESTING + "#declined-payments",
    ),
    TestCard(
        "pm_card_chargeDeclinedExpiredCard",
        "tok_chargeDeclinedExpiredCard",
        "visa",
        "0069",
        outcome="declined",
        code="expired_card",
        decline_code="expired_card",
        message="Your card has expired.",
        attach_declined=True,
        source=TESTING + "#declined-payments",
    ),
    TestCard(
        "pm_card_chargeDeclinedIncorrectCvc",
        "tok_chargeDeclinedIncorrectCvc",
        "visa",
        "0127",
        outcome="declined",
        code="incorrect_cvc",
        decline_code="incorrect_cvc",
        message="Your card's security code is incorrect.",
        attach_declined=True,
        source=TESTING + "#declined-payments",
    ),
    TestCard(
        "pm_card_chargeDeclinedProcessingError",
        "tok_chargeDeclinedProcessingError",
        "visa",
        "0119",
        outcome="declined",
        code="processing_error",
        decline_code="processing_error",
        message="An error occurred while processing your card. Try again in a little bit.",
        attach_declined=True,
        source=TESTING + "#declined-payments",
    ),
    TestCard(
        "pm_card_chargeDeclinedFraudulent",
        "tok_chargeDeclinedFraudulent",
        "visa",
        "0019",
        outcome="declined",
        code="card_declined",
        decline_code="fraudulent",
        message=_DECLINED,
        source=TESTING + "#fraud-prevention",
    ),
    TestCard(
        "pm_card_chargeCustomerFail",
        "tok_chargeCustomerFail",
        "visa",
        "0341",
        outcome="declined",
        code="card_declined",
        decline_code="generic_decline",
        message=_DECLINED,
        source=TESTING + " (4000000000000341: attaching it to a customer succeeds, charging it "
        "fails)",
    ),
    TestCard(
        "pm_card_chargeDeclinedVelocityLimitExceeded",
        "tok_chargeDeclinedVelocityLimitExceeded",
        "visa",
        "6975",
        outcome="declined",
        code="card_declined",
        decline_code="card_velocity_exceeded",
        message=_DECLINED,
        source=TESTING + "#declined-payments",
    ),
    # "3D Secure authentication": this card requires authentication on every payment.
    TestCard(
        "pm_card_authenticationRequired",
        "tok_authenticationRequired",
        "visa",
        "3184",
        outcome="requires_action",
        source=TESTING + " (3D Secure authentication: 4000002760003184 always authenticates)",
    ),
    TestCard(
        "pm_card_threeDSecure2Required",
        "tok_threeDSecure2Required",
        "visa",
        "3220",
        outcome="requires_action",
        source=TESTING + " (3D Secure authentication: 4000000000003220 requires 3D Secure 2)",
    ),
    # "Disputes"
    TestCard(
        "pm_card_createDispute",
        "tok_createDispute",
        "visa",
        "0259",
        outcome="dispute",
        dispute_reason="fraudulent",
        source=TESTING + "#disputes (4000000000000259: disputed as fraudulent)",
    ),
    TestCard(
        "pm_card_createDisputeProductNotReceived",
        "tok_createDisputeProductNotReceived",
        "visa",
        "2685",
        outcome="dispute",
        dispute_reason="product_not_received",
        source=TESTING + "#disputes (4000000000002685: disputed as product not received)",
    ),
    TestCard(
        "pm_card_createDisputeInquiry",
        "tok_createDisputeInquiry",
        "visa",
        "1976",
        outcome="dispute",
        dispute_reason="fraudulent",
        dispute_status="warning_needs_response",
        source=TESTING + "#disputes (4000000000001976: disputed as an inquiry)",
    ),
    # "Available balance"
    TestCard(
        "pm_card_bypassPending",
        "tok_bypassPending",
        "visa",
        "0077",
        available_at_once=True,
        source=TESTING + "#available-balance (4000000000000077: the charge succeeds and its funds "
        "go to the available balance at once, bypassing the pending balance)",
    ),
    # "Refunds"
    TestCard(
        "pm_card_refundFail",
        "tok_refundFail",
        "visa",
        "5126",
        outcome="refund_fail",
        source=TESTING + "#refunds (4000000000005126: the refund succeeds, then fails "
        "asynchronously)",
    ),
)

_BY_NAME = {name: card for card in TEST_CARDS for name in (card.payment_method, card.token)}


def card_for(name: str) -> TestCard | None:
    """The test card a ``pm_card_*`` payment method or ``tok_*`` token names (None: not one)."""
    return _BY_NAME.get(name)


# --- bank debits ----------------------------------------------------------------------------------

_SEPA_TEST = (
    "https://docs.stripe.com/payments/sepa-debit/accept-a-payment (Test the integration, test "
    "IBANs: '{says}')"
)
_ACH_TEST = (
    "https://docs.stripe.com/payments/ach-debit/accept-a-payment (Test account numbers, routing "
    "number 110000000: '{says}'); the failure_code is the error code of that name "
    "(https://docs.stripe.com/error-codes)"
)


@dataclass(frozen=True)
class TestDebit:
    """One of Stripe's test bank accounts for a delayed debit (``sepa_debit``,
    ``us_bank_account``): what the ``processing`` payment does later, on Stripe's own."""

    __test__ = False  # not a pytest class

    account: str
    method: str
    #: ``succeeded``, ``failed`` (back to requires_payment_method), ``disputed`` (succeeds, and a
    #: dispute is created at once) or ``processing`` (stays processing: nothing follows).
    outcome: str
    #: The failed charge's ``failure_code`` where the page names one.
    failure_code: str | None = None
    source: str = ""
    #: Stripe settles it "after at least three minutes": the fake keeps no timer, so the payment
    #: stays ``processing`` (the accounts without a delay show the outcome at once).
    delayed: bool = False


def _sepa(account: str, outcome: str, says: str, code: str | None = None) -> TestDebit:
    delayed = says.endswith("after at least three minutes")
    return TestDebit(account, "sepa_debit", outcome, code, _SEPA_TEST.format(says=says), delayed)


def _ach(account: str, code: str | None, says: str, outcome: str = "") -> TestDebit:
    outcome = outcome or ("failed" if code else "succeeded")
    return TestDebit(account, "us_bank_account", outcome, code, _ACH_TEST.format(says=says))


_TO_SUCCEEDED = "The PaymentIntent status transitions from processing to succeeded"
_TO_FAILED = "The PaymentIntent status transitions from processing to requires_payment_method"
_DISPUTED = "transitions from processing to succeeded, but a dispute is immediately created"

TEST_DEBITS: tuple[TestDebit, ...] = (
    _sepa("AT611904300234573201", "succeeded", _TO_SUCCEEDED),
    _sepa("AT321904300235473204", "succeeded", _TO_SUCCEEDED + " after at least three minutes"),
    _sepa("AT861904300235473202", "failed", _TO_FAILED),
    _sepa("AT051904300235473205", "failed", _TO_FAILED + " after at least three minutes"),
    _sepa("AT591904300235473203", "disputed", _DISPUTED),
    _sepa(
        "AT981904300002222227",
        "failed",
        "The payment fails with an insufficient_funds failure code",
        "insufficient_funds",
    ),
    _sepa("DE89370400440532013000", "succeeded", _TO_SUCCEEDED),
    _sepa("DE62370400440532013001", "failed", _TO_FAILED),
    _sepa("DE35370400440532013002", "disputed", _DISPUTED),
    TestDebit(
        "IT60X0542811101000000123456",
        "sepa_debit",
        "failed",
        None,
        "the Stripe CLI's checkout.session.async_payment_failed fixture pays with this IBAN for "
        "a SEPA debit that fails (the page's tables do not list it)",
    ),
    _ach("000123456789", None, "The payment succeeds"),
    _ach("000111111113", "account_closed", "The payment fails because the account is closed"),
    _ach("000111111116", "no_account", "The payment fails because no account is found"),
    _ach("000222222227", "insufficient_funds", "The payment fails due to insufficient funds"),
    _ach(
        "000333333335",
        "debit_not_authorized",
        "The payment fails because debits aren't authorized",
    ),
    _ach("000444444440", "invalid_currency", "The payment fails due to invalid currency"),
    _ach("000555555559", None, "The payment triggers a dispute", "disputed"),
    _ach("000000000009", None, "The payment stays in processing indefinitely", "processing"),
)

_DEBITS = {(debit.method, debit.account): debit for debit in TEST_DEBITS}


def debit_for(method: str, account: str) -> TestDebit | None:
    """The test bank account ``account`` of a ``method`` payment method (None: not one; such a
    debit succeeds, as an unlisted card does)."""
    return _DEBITS.get((method, account.replace(" ", "").upper()))
