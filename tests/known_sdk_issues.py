"""Payloads Stripe renders that a pinned SDK cannot construct: the README's "Known SDK issues".

The interop tests expect every other event to be accepted and these to fail exactly as described,
so a fixed SDK (or a payload that no longer has the shape) makes a test say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: stripe-python 16.1.0: `AttributeError: 'NoneType' object has no attribute 'items'` constructing a
#: balance_settings event whose payouts.automatic_transfer_rules_by_currency is null, which is how
#: Stripe renders a balance settings object without transfer rules.
BALANCE_SETTINGS_NULL_RULES = "'NoneType' object has no attribute 'items'"

#: Event types whose canonical event stripe-python 16.1.0 cannot construct (see above).
SDK_CRASHES = frozenset({"balance_settings.updated"})


def stripe_python_chokes_on(payload: Mapping[str, Any]) -> bool:
    """True if stripe-python 16.1.0's construct_event raises on this (validly signed) event."""
    data = payload.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(obj, Mapping) or obj.get("object") != "balance_settings":
        return False
    payments = obj.get("payments")
    payouts = payments.get("payouts") if isinstance(payments, Mapping) else None
    return (
        isinstance(payouts, Mapping)
        and "automatic_transfer_rules_by_currency" in payouts
        and payouts["automatic_transfer_rules_by_currency"] is None
    )


def balance_settings_updated(
    *, event_id: str = "evt_1BalanceSettingsNullRules00", created: int = 1_767_225_600
) -> dict[str, Any]:
    """A balance_settings.updated event as Stripe renders it (its 2026-07-29 fixture's object)."""
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": created,
        "data": {
            "object": {
                "object": "balance_settings",
                "payments": {
                    "debit_negative_balances": None,
                    "payouts": {
                        "automatic_transfer_rules_by_currency": None,
                        "minimum_balance_by_currency": None,
                        "schedule": {"interval": None},
                        "statement_descriptor": None,
                        "status": "disabled",
                    },
                    "settlement_timing": {
                        "delay_days": 2,
                        "start_of_day": {"hour": 0, "minutes": 0, "timezone": "Etc/UTC"},
                    },
                },
            },
            "previous_attributes": {"payments": {"payouts": {"status": "enabled"}}},
        },
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "balance_settings.updated",
    }
