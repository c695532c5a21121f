"""What Stripe does later, on its own, after a payment request: a delayed debit's outcome
(``processing``, then succeeded, failed or disputed, as the test bank account says), the funds a
dispute withdraws and a won dispute reinstates, a ``pm_card_refundFail`` refund failing.

The fake does each at once, right after the request's own events (:meth:`ActionContext.later`):
the request is answered with the object as it was (``processing``, a ``succeeded`` refund), and the
follow-up's events carry no request (``request.id`` null, as Stripe's automatic events do). Rows:
:mod:`connect_harness.lifecycle.emissions` (the ``settle``, ``withdraw``, ``reinstate`` and ``fail``
actions); test values: :data:`connect_harness.lifecycle.test_values.TEST_DEBITS`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from connect_harness.lifecycle.states import apply_state
from connect_harness.lifecycle.test_values import TestCard, card_for, debit_for
from connect_harness.stripe_api.actions import ActionContext
from connect_harness.stripe_api.actions.cards import balance_transaction, link_ids, whole_amount

__all__ = [
    "fail_refund_later",
    "reinstate_funds_later",
    "remember_account",
    "settle_debit_later",
    "withdraw_funds_later",
]

Obj = dict[str, Any]

#: The parameter holding a delayed method's account number, by payment method type.
_ACCOUNT_PARAM = {"sepa_debit": "iban", "us_bank_account": "account_number"}


def remember_account(ctx: ActionContext, pm: Obj, params: Mapping[str, Any]) -> None:
    """Keep the account number a bank debit payment method was created with (``params``: the
    create's, or a ``payment_method_data``; its object shows only ``last4``), so its payments do
    what that test account does."""
    kind = str(pm.get("type"))
    given = params.get(kind)
    param = _ACCOUNT_PARAM.get(kind)
    if param is None or not isinstance(given, Mapping) or not given.get(param):
        return
    account = str(given[param]).replace(" ", "").upper()
    ctx.note(pm, f"account {account}")
    details = pm.get(kind)
    if isinstance(details, dict):
        details["last4"] = account[-4:]
        if kind == "sepa_debit" and "country" in details:
            details["country"] = account[:2]


def _account(ctx: ActionContext, pm: Mapping[str, Any]) -> str:
    for fact in ctx.store.notes.get(str(pm.get("id")), set()):
        if fact.startswith("account "):
            return fact.removeprefix("account ")
    return ""


def settle_debit_later(
    ctx: ActionContext,
    pi: Obj,
    charge: Obj,
    pm: Mapping[str, Any],
    then: Callable[[str], None] | None = None,
) -> None:
    """The ``processing`` debit's outcome, later: the payment method's test account decides
    (an account the table does not list succeeds). ``then`` gets the outcome once its events
    are out (a Checkout Session's async event follows them)."""
    debit = debit_for(str(pm.get("type")), _account(ctx, pm))
    outcome = debit.outcome if debit is not None else "succeeded"
    if outcome == "processing" or (debit is not None and debit.delayed):
        return  # the account that never settles, or one Stripe settles minutes later

    def settle() -> None:
        now = ctx.request.now
        named = link_ids(charge=charge["id"])
        if outcome == "failed":
            code = debit.failure_code if debit is not None else None
            apply_state(charge, "charge", "failed", at=now, link=link_ids())
            ctx.set(charge, {"failure_code": code, "failure_message": None})
            apply_state(pi, "payment_intent", "payment_failed", at=now, link=named)
            error = pi.get("last_payment_error")
            if isinstance(error, dict):
                error.update({"code": code, "decline_code": None, "payment_method": dict(pm)})
            pi["payment_method"] = None
        else:
            apply_state(charge, "charge", "succeeded", at=now, link=link_ids())
            charge["customer"], charge["payment_intent"] = pi.get("customer"), pi["id"]
            if "balance_transaction" in charge:
                amount = whole_amount(charge.get("amount")) or 0
                charge["balance_transaction"] = balance_transaction(ctx, charge, amount)
            apply_state(pi, "payment_intent", "succeeded", at=now, link=named)
        _keep_listed(pi, charge)
        objects: list[Mapping[str, Any]] = [charge, pi]
        dispute = None
        if outcome == "disputed":
            disputing = card_for("pm_card_createDispute")
            assert disputing is not None
            dispute = _disputed(ctx, charge, disputing)
            objects.append(dispute)
        ctx.emit_outcome_later(outcome, *objects, object_type="payment_intent", verb="settle")
        if dispute is not None:
            withdraw_funds_later(ctx, dispute)
        if then is not None:
            then(outcome)

    ctx.later(settle)


def _keep_listed(pi: Obj, charge: Mapping[str, Any]) -> None:
    charges = pi.get("charges")
    if isinstance(charges, dict) and isinstance(charges.get("data"), list):
        charges["data"] = [copy.deepcopy(dict(charge))]


def _disputed(ctx: ActionContext, charge: Obj, card: TestCard) -> Obj:
    from connect_harness.stripe_api.actions.payments import new_dispute  # payments imports us

    return new_dispute(ctx, charge, card)


def withdraw_funds_later(ctx: ActionContext, dispute: Obj) -> None:
    """A dispute (not an inquiry) takes its amount from the balance, later:
    ``charge.dispute.funds_withdrawn`` with the withdrawal among ``balance_transactions``."""
    if str(dispute.get("status", "")).startswith("warning_"):
        return  # an inquiry withdraws nothing

    def withdraw() -> None:
        _move_funds(ctx, dispute, -(whole_amount(dispute.get("amount")) or 0), "withdrawal")
        ctx.emit_outcome_later("ok", dispute, object_type="dispute", verb="withdraw")

    ctx.later(withdraw)


def reinstate_funds_later(ctx: ActionContext, dispute: Obj) -> None:
    """A won dispute gives its withdrawn amount back, later: ``charge.dispute.funds_reinstated``."""

    def reinstate() -> None:
        _move_funds(ctx, dispute, whole_amount(dispute.get("amount")) or 0, "reinstatement")
        ctx.emit_outcome_later("ok", dispute, object_type="dispute", verb="reinstate")

    ctx.later(reinstate)


def _move_funds(ctx: ActionContext, dispute: Obj, amount: int, description: str) -> None:
    """One of the dispute's ``balance_transactions`` ("zero, one, or two balance transactions
    that show funds withdrawn and reinstated")."""
    listed = dispute.get("balance_transactions")
    if not isinstance(listed, list):
        return
    bt = ctx.create(
        "balance_transaction",
        {
            "amount": amount,
            "currency": dispute.get("currency"),
            "source": dispute.get("id"),
            "type": "adjustment",
            "reporting_category": "dispute" if amount < 0 else "dispute_reversal",
            "description": f"Chargeback {description} for {dispute.get('charge')}",
            "created": ctx.request.now,
            "fee": 0,
            "net": amount,
        },
    )
    listed.append(bt)


def fail_refund_later(ctx: ActionContext, refund: Obj, charge: Obj) -> None:
    """A refund of a ``pm_card_refundFail`` payment starts ``succeeded`` and fails later."""

    def fail() -> None:
        before = copy.deepcopy(refund)
        apply_state(refund, "refund", "failed", at=ctx.request.now, link=link_ids())
        refund["status"] = "failed"
        previous = {name: value for name, value in before.items() if refund.get(name) != value}
        ctx.emit_outcome_later(
            "ok", charge, refund, object_type="refund", verb="fail", previous_attributes=previous
        )

    ctx.later(fail)
