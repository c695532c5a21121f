"""Hypothesis strategies for Stripe webhook events: ``from connect_harness.strategies import events``.

:func:`events` draws events as Stripe renders them, each valid against its contract and accepted by
Stripe's SDKs, whose field values vary (enum values, null or set, optional fields left out,
amounts, currencies, unicode metadata, booleans) while ids, owners and modes stay those of
:func:`connect_harness.build_event`. This module is the whole public surface of the strategies.

Inside a pytest run with the plugin, ``api_version`` left out is the run's
``--connect-api-version`` (or ``CONNECT_HARNESS_API_VERSION``, or the ini ``connect_api_version``),
as it is for every other event the plugin builds; outside one, the newest contract set.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import EllipsisType
from typing import TYPE_CHECKING

from connect_harness.events import strategies as _strategies
from connect_harness.settings import session_api_version

if TYPE_CHECKING:
    from hypothesis import strategies as st

    from connect_harness.events.build import Event

__all__ = ["events"]


def events(
    types: str | Sequence[str] | None = None,
    *,
    account: str | st.SearchStrategy[str | None] | EllipsisType | None = ...,
    livemode: bool | st.SearchStrategy[bool] | EllipsisType = ...,
    api_version: str | EllipsisType | None = ...,
) -> st.SearchStrategy[Event]:
    """A Hypothesis strategy for webhook events as Stripe renders them, with varied field values.

    ``types``: one event type, a list of them, or None for every supported type. ``account``: a
    connected account id (Connect events), None (platform events) or a strategy of those; left out,
    each type is drawn for the endpoints that receive it. ``livemode``: a boolean or a strategy of
    booleans; left out, both modes are drawn. ``api_version``: the version the events are rendered
    at, as ``build_event`` takes it; left out, the plugin's ``--connect-api-version`` inside a
    pytest run (None: the newest contract set). Examples shrink towards ``build_event``'s
    canonical event.
    """
    version = session_api_version() if api_version is ... else api_version
    return _strategies.events(types, account=account, livemode=livemode, api_version=version)
