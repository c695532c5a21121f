"""The deprecated ``plan`` Stripe renders beside ``price``, kept in agreement with the price.

Stripe renders, on subscription items, subscription schedule phase items and (before
2025-03-31.basil removed ``price`` from them) invoice line items and invoice items, a ``plan``
beside the ``price``: the Plan view of that price, with its id
(docs.stripe.com/billing/migration/migrating-prices maps ``amount`` to ``unit_amount``,
``interval`` to ``recurring[interval]``, ...). The contracts' examples carry it
(:mod:`connect_harness.spec.examples`); whatever changes an item's price afterwards (the fake's
actions, a drawn variation) calls :func:`agree_plans` so the plan follows.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from typing import Any

from connect_harness.errors import HarnessError
from connect_harness.spec.examples import PLAN_BESIDE_PRICE, PLAN_FROM_PRICE, plan_fields_of

__all__ = ["agree_plans"]


def agree_plans(value: Any, shapes: str) -> None:
    """Give every item that carries a ``price`` the ``plan`` Stripe renders beside it at
    ``shapes`` (the Plan view of that price: connect_harness.spec.examples.PLAN_BESIDE_PRICE),
    so the fake's subscription items, line items and schedule phase items agree with their price."""
    if isinstance(value, list):
        for item in value:
            agree_plans(item, shapes)
        return
    if not isinstance(value, dict):
        return
    kind = value.get("object")
    if kind in PLAN_BESIDE_PRICE and "price" in value and _renders_plan(kind, shapes):
        value["plan"] = _plan_of(value["price"], shapes)
    if kind == "subscription_schedule" and _phase_items_have_plan(shapes):
        for phase in value.get("phases") or ():
            for item in phase.get("items") or () if isinstance(phase, dict) else ():
                if isinstance(item, dict) and "price" in item:
                    price = item["price"]
                    item["plan"] = price.get("id") if isinstance(price, dict) else price
    for sub in value.values():
        if isinstance(sub, (dict, list)):
            agree_plans(sub, shapes)


def _plan_of(price: Any, shapes: str) -> Any:
    """The Plan view of ``price`` in ``shapes``: null for no price or a one-time one."""
    if not isinstance(price, dict):
        return price
    if not isinstance(price.get("recurring"), dict):
        return None
    base = _plan_example(shapes)
    mapped = plan_fields_of(price)
    # a field the price leaves out (an optional unit_amount drawn absent) is null on its plan
    return {
        name: copy.deepcopy(mapped[name])
        if name in mapped
        else (None if name in PLAN_FROM_PRICE else copy.deepcopy(base[name]))
        for name in base
    }


@functools.cache
def _plan_example(shapes: str) -> Mapping[str, Any]:
    from connect_harness.spec.contracts import object_example

    try:
        return object_example("plan", version=shapes)
    except HarnessError:
        return {}


#: Where the contracts' examples show each item type whose plan is rendered beside its price.
_ITEM_IN: Mapping[str, tuple[str, ...]] = {
    "subscription_item": ("subscription", "items", "data"),
    "line_item": ("invoice", "lines", "data"),
    "invoiceitem": ("invoiceitem",),
}


@functools.cache
def _renders_plan(kind: str, shapes: str) -> bool:
    """Whether ``shapes``' objects of ``kind`` carry ``plan`` (as the set's examples show)."""
    from connect_harness.spec.contracts import object_example

    where = _ITEM_IN.get(kind)
    if where is None:
        return False
    try:
        found: Any = object_example(where[0], version=shapes)
    except HarnessError:
        return False
    for part in where[1:]:
        found = found.get(part) if isinstance(found, dict) else None
    if isinstance(found, list):
        found = found[0] if found else None
    return isinstance(found, dict) and "plan" in found


@functools.cache
def _phase_items_have_plan(shapes: str) -> bool:
    from connect_harness.spec.contracts import object_example

    try:
        phases = object_example("subscription_schedule", version=shapes).get("phases") or []
    except HarnessError:
        return False
    items = phases[0].get("items") if phases and isinstance(phases[0], dict) else None
    if not isinstance(items, list) or not items:
        return False
    return isinstance(items[0], dict) and "plan" in items[0]
