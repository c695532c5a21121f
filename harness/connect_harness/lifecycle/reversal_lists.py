"""A refunded charge's refunds, a refunded fee's refunds, a reversed transfer's reversals: the list
the object embeds agrees with the amount it says was refunded or reversed.

Stripe's object pages say so: a charge's ``amount_refunded`` is "amount in cents refunded (can be
less than the amount attribute on the charge if a partial refund was issued)" and its ``refunds``
"a list of refunds that have been applied to the charge"; an application fee's ``amount_refunded``
and ``refunds``, a transfer's ``amount_reversed`` and ``reversals`` read the same
(https://docs.stripe.com/api/charges/object, /api/application_fees/object, /api/transfers/object).
A list whose ``has_more`` is false holds all of them, so their amounts add up to that amount. An
event built from an example has an empty list whatever its state says; :func:`fill_reversals`
gives it the one refund (reversal) of the whole refunded amount, and :func:`reversal_contradictions`
is the referee's rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from connect_harness.errors import HarnessError
from connect_harness.spec import contracts

__all__ = ["REVERSAL_LISTS", "fill_reversals", "reversal_contradictions"]

#: object type -> (its list field, its amount field, the items' object type, the item's field
#: naming the object).
REVERSAL_LISTS: Final[Mapping[str, tuple[str, str, str, str]]] = {
    "charge": ("refunds", "amount_refunded", "refund", "charge"),
    "application_fee": ("refunds", "amount_refunded", "fee_refund", "fee"),
    "transfer": ("reversals", "amount_reversed", "transfer_reversal", "transfer"),
}


def _complete_list(obj: Mapping[str, Any], key: str) -> list[Any] | None:
    found = obj.get(key)
    if isinstance(found, Mapping) and found.get("has_more") is False:
        data = found.get("data")
        return data if isinstance(data, list) else None
    return None


def _amount(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def reversal_contradictions(obj: Mapping[str, Any]) -> list[str]:
    """Where ``obj``'s complete list of refunds (reversals) does not add up to its amount field."""
    rule = REVERSAL_LISTS.get(str(obj.get("object")))
    if rule is None:
        return []
    key, amount_key, _, _ = rule
    items, total = _complete_list(obj, key), _amount(obj.get(amount_key))
    if items is None or total is None:
        return []
    listed = sum(_amount(item.get("amount")) or 0 for item in items if isinstance(item, Mapping))
    if listed == total:
        return []
    return [f"{key} lists {listed} in all (has_more false) but {amount_key} is {total}"]


def fill_reversals(
    obj: dict[str, Any],
    object_type: str,
    *,
    at: int,
    shapes: str | None = None,
    link: Callable[[str], str | None] | None = None,
) -> dict[str, Any]:
    """Make ``obj``'s complete list of refunds (reversals) add up to its amount field: empty for 0,
    else one item of the whole amount (the list's first item, or one made ``at`` whose id
    ``link(item type)`` names). Returns ``obj``; a list that adds up already, or one that says it
    has more, is left as it is."""
    rule = REVERSAL_LISTS.get(object_type)
    if rule is None or not reversal_contradictions(obj):
        return obj
    key, amount_key, item_type, parent_key = rule
    total = obj[amount_key]
    listing = obj[key]
    first = listing["data"][0] if listing["data"] else None
    if total == 0:
        listing["data"] = []
    elif isinstance(first, dict):
        first["amount"] = total
        listing["data"] = [first]
    else:
        item = _item(obj, item_type, parent_key, total, at, shapes)
        named = link(item_type) if link is not None else None
        if named:
            item["id"] = named
        listing["data"] = [item]
    if "total_count" in listing:
        listing["total_count"] = len(listing["data"])
    return obj


def _item(
    parent: Mapping[str, Any],
    item_type: str,
    parent_key: str,
    amount: int,
    at: int,
    shapes: str | None,
) -> dict[str, Any]:
    """One refund (reversal) of ``parent``: the contracts' example where there is one, else every
    field the schema lets be null as null; its id is the parent's with the item's prefix."""
    try:
        item = contracts.object_example(item_type, version=shapes)
    except HarnessError:
        properties = contracts.object_schema(item_type, version=shapes).get("properties", {})
        item = {name: _empty(schema) for name, schema in properties.items()}
    parent_id = str(parent.get("id", ""))
    prefix = contracts.id_prefix(item_type, version=shapes) or f"{item_type}_"
    item.update(
        {
            "id": prefix + parent_id.partition("_")[2],
            "object": item_type,
            "amount": amount,
            "created": at,
            "currency": parent.get("currency", item.get("currency")),
            parent_key: parent_id,
        }
    )
    if "metadata" in item:
        item["metadata"] = {}
    if item_type == "refund":  # one that went through: Stripe's refunds/object page
        changes = {"status": "succeeded", "failure_reason": None}
        changes["payment_intent"] = parent.get("payment_intent")
        item.update({name: value for name, value in changes.items() if name in item})
    return item


def _empty(schema: Mapping[str, Any]) -> Any:
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "null" in kinds:
        return None
    if "object" in kinds:
        return {}
    enum = schema.get("enum")
    return enum[0] if isinstance(enum, list) and enum else None
