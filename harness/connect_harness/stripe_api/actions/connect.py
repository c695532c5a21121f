"""Connect on the fake: accounts, capabilities, persons, external accounts, transfers and their
reversals, payouts, application fee refunds and top-ups move through Stripe's lifecycles and emit
Stripe's events.

The rules are data in :mod:`connect_harness.lifecycle.connect`. Events about a connected account's
own objects (the account, its capabilities, persons, external accounts, its payouts) carry the
account as ``account``; a platform's transfer, payout or top-up carries none.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any

from connect_harness.events.ids import stripe_id
from connect_harness.lifecycle.connect import (
    CAPABILITY_STATUS,
    REJECT_REASONS,
    payout_failure,
)
from connect_harness.lifecycle.states import apply_state
from connect_harness.stripe_api import bodies
from connect_harness.stripe_api.actions import ActionContext, ActionError, action, handler_for
from connect_harness.stripe_api.actions.rules import (
    Obj,
    carry_out,
    changes,
    emit,
    emit_rule,
    refuse_unless,
    rule_of,
    whole,
)
from connect_harness.stripe_api.store import Stored, capability_key

__all__: list[str] = []


def _refuse(message: str, *, param: str | None = None, code: str | None = None) -> ActionError:
    extra: dict[str, Any] = {}
    if code is not None:
        extra["code"] = code
        extra["doc_url"] = "https://stripe.com/docs/error-codes/" + code.replace("_", "-")
    if param is not None:
        extra["param"] = param
    return ActionError(400, bodies.error("invalid_request_error", message, **extra))


# --- accounts -------------------------------------------------------------------------------------


@action("account", "update")
def update_account(ctx: ActionContext, account: Obj | None) -> Obj:
    assert account is not None
    before = copy.deepcopy(account)
    after = ctx.generic()
    for name, wanted in _requested(ctx.params).items():
        capability, previous = _capability(ctx, after, name, wanted)
        if previous:
            emit(ctx, "capability.updated", capability, previous, owner=str(after.get("id")))
    emit_rule(ctx, rule_of("account", "update"), [after], previous=changes(before, after))
    return after


@action("account", "reject")
def reject_account(ctx: ActionContext, account: Obj | None) -> Obj:
    assert account is not None
    reason = ctx.params.get("reason")
    if reason not in REJECT_REASONS:
        raise _refuse(
            f"Invalid reason: must be one of {', '.join(REJECT_REASONS)}; got {reason!r}.",
            param="reason",
        )
    before = copy.deepcopy(account)
    ctx.set(account, {"charges_enabled": False, "payouts_enabled": False})
    requirements = account.get("requirements")
    if isinstance(requirements, dict):
        requirements["disabled_reason"] = REJECT_REASONS[str(reason)]
    emit_rule(ctx, rule_of("account", "reject"), [account], previous=changes(before, account))
    return account


@action("account", "delete")
def delete_account(ctx: ActionContext, account: Obj | None) -> Obj:
    assert account is not None
    account_id = str(account.get("id"))
    answer = ctx.generic()
    # The platform's access ends: later requests as the account get Stripe's 403.
    ctx.store.revoked.add(account_id)
    application = {
        "id": stripe_id("ca", "application", ctx.platform),
        "object": "application",
        "name": None,
    }
    emit_rule(ctx, rule_of("account", "delete"), [application], owner=account_id)
    return answer


def _requested(params: Mapping[str, Any]) -> dict[str, bool]:
    """``capabilities[<name>][requested]=true|false`` of an account create or update."""
    asked = params.get("capabilities")
    found: dict[str, bool] = {}
    if isinstance(asked, Mapping):
        for name, value in asked.items():
            if isinstance(value, Mapping) and value.get("requested") in ("true", "false"):
                found[str(name)] = value["requested"] == "true"
    return found


def _capability(
    ctx: ActionContext, account: Obj, name: str, wanted: bool
) -> tuple[Obj, dict[str, Any]]:
    """Request (or remove) capability ``name`` of ``account``: its object and the account's hash.

    The account's ``capabilities`` holds the requested ones with their status (``active``,
    ``inactive`` or ``pending``, the description's enum); one no longer requested leaves it and its
    own object says ``unrequested``. Returns the capability object and what changed in it.
    """
    account_id = str(account.get("id"))
    capabilities = account.get("capabilities")
    if isinstance(capabilities, dict):
        if not wanted:
            capabilities.pop(name, None)
        elif name not in capabilities:  # newly requested; a requested one keeps its status
            capabilities[name] = CAPABILITY_STATUS[True]
    key = capability_key(account_id, name)
    stored = ctx.store.objects.get(key)
    if stored is None:
        stored = ctx.store.objects[key] = Stored("capability", name, account_id, None)
    obj = ctx.store.materialize(stored)
    before = copy.deepcopy(obj)
    status = capabilities.get(name) if wanted and isinstance(capabilities, dict) else None
    ctx.set(
        obj,
        {
            "id": name,
            "account": account_id,
            "requested": wanted,
            "requested_at": (obj.get("requested_at") or ctx.request.now) if wanted else None,
            "status": status or CAPABILITY_STATUS[wanted],
        },
    )
    return obj, changes(before, obj)


@action("account", "create")
def create_account(ctx: ActionContext, _: Obj | None) -> Obj:
    if "customer" in ctx.path_values:
        return _customers_source(ctx, None, "create")
    account = ctx.generic()
    ctx.set(account, {"created": ctx.request.now})
    capabilities = account.get("capabilities")
    # A new account has requested nothing but what the request asks for.
    for name in list(capabilities) if isinstance(capabilities, dict) else []:
        _capability(ctx, account, name, False)
    for name, wanted in _requested(ctx.params).items():
        _capability(ctx, account, name, wanted)
    return account


@action("capability", "update")
def update_capability(ctx: ActionContext, capability: Obj | None) -> Obj:
    assert capability is not None
    account_id = str(capability.get("account") or ctx.owner)
    account = ctx.find(account_id, "account") or ctx.store.materialize(
        ctx.store.objects[account_id]
    )
    before_account = copy.deepcopy(account)
    before = copy.deepcopy(capability)
    after = ctx.generic()
    requested = ctx.params.get("requested")
    if requested in ("true", "false"):
        after = _capability(ctx, account, str(after.get("id")), requested == "true")[0]
    previous = changes(before, after)
    if previous:
        rule = rule_of("capability", "update")
        emit_rule(ctx, rule, [after], previous=previous, skip=("account.updated",))
        moved = changes(before_account, account)
        if moved:
            emit(ctx, "account.updated", account, moved, owner=account_id)
    return after


# --- persons and external accounts ----------------------------------------------------------------


def _owned(object_type: str, verbs: tuple[str, ...], rule_type: str | None = None) -> None:
    """Handlers for an account's own objects: generic create/update/delete, the rule's events."""
    for verb in verbs:

        def handler(ctx: ActionContext, obj: Obj | None, verb: str = verb) -> Obj:
            if "account" not in ctx.path_values:
                return _customers_source(ctx, obj, verb)
            rule = rule_of(rule_type or object_type, verb)
            if obj is None:
                created = ctx.generic()
                _external_account_details(ctx, created)
                emit_rule(ctx, rule, [created], owner=ctx.owner)
                return created
            before = copy.deepcopy(obj)
            answer = ctx.generic()
            carried = obj if verb == "delete" else answer
            emit_rule(ctx, rule, [carried], previous=changes(before, answer), owner=ctx.owner)
            return answer

        action(object_type, verb)(handler)


def _customers_source(ctx: ActionContext, obj: Obj | None, verb: str) -> Obj:
    """A customer's source is not an external account: the card handler's, else the generic.

    ``POST /v1/customers/{customer}/sources`` makes a bank account or a card, and the dispatcher
    gives it to the first of those types with a handler: a card token goes to the payments fake.
    """
    card = handler_for("card", verb) if verb == "create" else None
    if card is None:
        return ctx.generic()
    return card(dataclasses.replace(ctx, object_type="card"), obj)


_owned("person", ("create", "update", "delete"))
_owned("bank_account", ("create", "update", "delete"), "external_account")


def _external_account_details(ctx: ActionContext, obj: Obj) -> None:
    """The bank account a request describes: its routing number and the last four digits."""
    given = ctx.params.get("external_account") or ctx.params.get("bank_account")
    if not isinstance(given, Mapping):
        return
    number = given.get("account_number")
    ctx.set(
        obj,
        {
            "routing_number": given.get("routing_number", obj.get("routing_number")),
            "last4": str(number)[-4:] if isinstance(number, str) else obj.get("last4"),
            "country": given.get("country", obj.get("country")),
            "currency": given.get("currency", obj.get("currency")),
            "account": ctx.owner,
        },
    )


# --- transfers ------------------------------------------------------------------------------------


@action("transfer", "create")
def create_transfer(ctx: ActionContext, _: Obj | None) -> Obj:
    destination = ctx.params.get("destination")
    if not isinstance(destination, str) or not ctx.store.connected(destination):
        raise _refuse(
            f"No such destination: '{destination}'; pass the id of a connected account.",
            param="destination",
        )
    transfer = ctx.generic()
    amount = whole(ctx.params.get("amount")) or 0
    ctx.set(
        transfer,
        {
            "amount": amount,
            "amount_reversed": 0,
            "reversed": False,
            "created": ctx.request.now,
            "destination": destination,
            "source_transaction": ctx.params.get("source_transaction"),
        },
    )
    reversals = transfer.get("reversals")
    if isinstance(reversals, dict):
        reversals.update(
            {
                "data": [],
                "has_more": False,
                "total_count": 0,
                "url": f"/v1/transfers/{transfer['id']}/reversals",
            }
        )
    return carry_out(ctx, transfer, rule_of("transfer", "create"))


@action("transfer", "update")
def update_transfer(ctx: ActionContext, transfer: Obj | None) -> Obj:
    assert transfer is not None
    before = copy.deepcopy(transfer)
    after = ctx.generic()
    emit_rule(ctx, rule_of("transfer", "update"), [after], previous=changes(before, after))
    return after


@action("transfer_reversal", "create")
def reverse_transfer(ctx: ActionContext, _: Obj | None) -> Obj:
    transfer = ctx.require(ctx.path_values.get("id"), "transfer", "id")
    rule = rule_of("transfer", "reverse")
    total = whole(transfer.get("amount")) or 0
    done = whole(transfer.get("amount_reversed")) or 0
    if transfer.get("reversed") is True or done >= total:
        assert rule.error is not None
        raise _refuse(rule.error.format(id=transfer["id"]))
    amount = whole(ctx.params.get("amount"))
    amount = total - done if amount is None else amount
    if amount <= 0 or amount > total - done:
        raise _refuse(
            f"Reversal amount {amount} is more than the {total - done} left to reverse on "
            f"transfer {transfer['id']}.",
            param="amount",
        )
    reversal = ctx.create(
        "transfer_reversal",
        {
            "amount": amount,
            "currency": transfer.get("currency"),
            "created": ctx.request.now,
            "transfer": transfer["id"],
            "metadata": {},
        },
    )
    transfer["amount_reversed"] = done + amount
    transfer["reversed"] = done + amount == total
    reversals = transfer.get("reversals")
    if isinstance(reversals, dict) and isinstance(reversals.get("data"), list):
        reversals["data"].insert(0, copy.deepcopy(reversal))
        if "total_count" in reversals:
            reversals["total_count"] = len(reversals["data"])
    emit_rule(ctx, rule, [transfer])
    return reversal


# --- payouts --------------------------------------------------------------------------------------


@action("payout", "create")
def create_payout(ctx: ActionContext, _: Obj | None) -> Obj:
    named = ctx.params.get("destination")
    destination = _destination(ctx, named if isinstance(named, str) else None)
    payout = ctx.generic()
    ctx.set(
        payout,
        {
            "amount": whole(ctx.params.get("amount")) or payout.get("amount"),
            "created": ctx.request.now,
            "automatic": False,
            "destination": destination.get("id") if destination else payout.get("destination"),
            "failure_code": None,
            "failure_message": None,
            "failure_balance_transaction": None,
        },
    )
    failure = (
        payout_failure(destination.get("routing_number"), destination.get("last4"))
        if destination is not None
        else None
    )
    if failure is None:
        return carry_out(ctx, payout, rule_of("payout", "create"), owner=ctx.owner)
    apply_state(payout, "payout", "failed", at=ctx.request.now)
    ctx.set(payout, {"failure_code": failure[0], "failure_message": failure[1]})
    created = copy.deepcopy(payout)
    ctx.set(created, {"status": "pending", "failure_code": None, "failure_message": None})
    emit(ctx, "payout.created", created, owner=ctx.owner)
    emit(ctx, "payout.failed", payout, owner=ctx.owner)
    return payout


def _destination(ctx: ActionContext, named: str | None) -> Obj | None:
    """The external account a payout goes to: the one named, else the owner's first bank account."""
    if named is not None:
        return (
            ctx.require(named, "bank_account", "destination")
            if named.startswith("ba_")
            else (ctx.find(named))
        )
    for stored in ctx.store.visible(frozenset({"bank_account"}), ctx.owner, ctx.live):
        return ctx.store.materialize(stored)
    return None


@action("payout", "update")
def update_payout(ctx: ActionContext, payout: Obj | None) -> Obj:
    assert payout is not None
    before = copy.deepcopy(payout)
    after = ctx.generic()
    emit_rule(ctx, rule_of("payout", "update"), [after], previous=changes(before, after))
    return after


@action("payout", "cancel")
def cancel_payout(ctx: ActionContext, payout: Obj | None) -> Obj:
    assert payout is not None
    rule = rule_of("payout", "cancel")
    refuse_unless(rule, payout)
    apply_state(payout, "payout", "canceled", at=ctx.request.now)
    emit_rule(ctx, rule, [payout])
    return payout


# --- application fees -----------------------------------------------------------------------------


def _refund_fee(ctx: ActionContext, fee: Obj) -> Obj:
    rule = rule_of("application_fee", "refund")
    total = whole(fee.get("amount")) or 0
    done = whole(fee.get("amount_refunded")) or 0
    if fee.get("refunded") is True or done >= total:
        assert rule.error is not None
        raise _refuse(rule.error.format(id=fee.get("id")))
    amount = whole(ctx.params.get("amount"))
    amount = total - done if amount is None else amount
    if amount <= 0 or amount > total - done:
        raise _refuse(
            f"Refund amount {amount} is more than the {total - done} left to refund on "
            f"application fee {fee.get('id')}.",
            param="amount",
        )
    refund = ctx.create(
        "fee_refund",
        {
            "amount": amount,
            "currency": fee.get("currency"),
            "created": ctx.request.now,
            "fee": fee.get("id"),
            "metadata": {},
        },
    )
    fee["amount_refunded"] = done + amount
    fee["refunded"] = done + amount == total
    refunds = fee.get("refunds")
    if isinstance(refunds, dict) and isinstance(refunds.get("data"), list):
        refunds["data"].insert(0, copy.deepcopy(refund))
        if "total_count" in refunds:
            refunds["total_count"] = len(refunds["data"])
    emit_rule(ctx, rule, [fee])
    return refund


@action("fee_refund", "create")
def create_fee_refund(ctx: ActionContext, _: Obj | None) -> Obj:
    fee = ctx.find(ctx.path_values.get("id"), "application_fee")
    if fee is None:
        raise ActionError(404, bodies.no_such("application fee", str(ctx.path_values.get("id"))))
    return _refund_fee(ctx, fee)


@action("application_fee", "refund")
def refund_application_fee(ctx: ActionContext, fee: Obj | None) -> Obj:
    assert fee is not None
    _refund_fee(ctx, fee)
    return fee


# --- top-ups --------------------------------------------------------------------------------------


@action("topup", "create")
def create_topup(ctx: ActionContext, _: Obj | None) -> Obj:
    topup = ctx.generic()
    ctx.set(
        topup,
        {
            "amount": whole(ctx.params.get("amount")) or topup.get("amount"),
            "created": ctx.request.now,
        },
    )
    apply_state(topup, "topup", "pending", at=ctx.request.now)
    return carry_out(ctx, topup, rule_of("topup", "create"))


@action("topup", "cancel")
def cancel_topup(ctx: ActionContext, topup: Obj | None) -> Obj:
    assert topup is not None
    return carry_out(ctx, topup, rule_of("topup", "cancel"))
