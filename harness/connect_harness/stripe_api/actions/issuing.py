"""Issuing test authorizations on the fake: ``POST /v1/test_helpers/issuing/authorizations`` and
the older test route the Stripe CLI's ``issuing_authorization.request`` fixtures call,
``POST /v1/issuing/cards/{card}/test/authorizations`` (``held_amount``, ``held_currency``), which
Stripe's API description does not include: the fake serves it as the described test helper.

Row: :mod:`connect_harness.lifecycle.emissions` (``issuing.authorization`` ``create``).
"""

from __future__ import annotations

import re

from connect_harness.stripe_api.actions import ActionContext, action
from connect_harness.stripe_api.actions.cards import whole_amount
from connect_harness.stripe_api.actions.rules import Obj

__all__ = ["private_test_route"]

_CARD_TEST_AUTHORIZATIONS = re.compile(r"/v1/issuing/cards/(ic_\w+)/test/authorizations")
#: The older route's parameters, by the described test helper's names.
_RENAMED = {"held_amount": "amount", "held_currency": "currency"}


def private_test_route(
    method: str, path: str, form: list[tuple[str, str]]
) -> tuple[str, list[tuple[str, str]]] | None:
    """The described route and form a Stripe CLI test route stands for (None: not one)."""
    found = _CARD_TEST_AUTHORIZATIONS.fullmatch(path)
    if method != "POST" or found is None:
        return None
    renamed = [(_RENAMED.get(name, name), value) for name, value in form]
    return "/v1/test_helpers/issuing/authorizations", [("card", found.group(1)), *renamed]


@action("issuing.authorization", "create")
def create_test_authorization(ctx: ActionContext, _: Obj | None) -> Obj:
    """An approved, pending authorization on the card, announced as Stripe's authorization flow
    does: the synchronous request, then the created authorization."""
    card = ctx.require(ctx.params.get("card"), "issuing.card", "card")
    authorization = ctx.generic()
    amount = whole_amount(ctx.params.get("amount")) or 0
    currency = str(ctx.params.get("currency") or card.get("currency") or "usd")
    cardholder = card.get("cardholder")
    ctx.set(
        authorization,
        {
            "amount": amount,
            "currency": currency,
            "merchant_amount": amount,
            "merchant_currency": currency,
            "approved": True,
            "status": "pending",
            "pending_request": None,
            "card": card,
            "cardholder": cardholder.get("id") if isinstance(cardholder, dict) else cardholder,
            "created": ctx.request.now,
        },
    )
    ctx.emit_outcome("ok", authorization)
    return authorization
