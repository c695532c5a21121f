"""Hypothesis strategies for Stripe webhook events: ``from connect_harness.strategies import events``.

:func:`events` draws events as Stripe renders them, each valid against its contract and accepted by
Stripe's SDKs, whose field values vary (enum values, null or set, optional fields left out,
amounts, currencies, unicode metadata, booleans) while ids, owners and modes stay those of
:func:`connect_harness.build_event`. This module is the whole public surface of the strategies.
"""

from __future__ import annotations

from connect_harness.events.strategies import events

__all__ = ["events"]
