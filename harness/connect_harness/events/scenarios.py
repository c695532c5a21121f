"""Scenarios: named flows of events as Stripe sends them over time, with one consistent set of objects.

A scenario is a list of steps (an event type, whether the connected account or the platform receives
it, and what its object looks like at that point). :func:`build_scenario` builds every step with the
same seed, account and mode, so the ids the events carry agree (the customer of
``customer.subscription.created`` is the one ``customer.created`` created: see
:mod:`connect_harness.events.world`), gives each step its own event id and a ``created`` one minute
after the previous step, and returns the events in the order asked for: Stripe's, reversed, shuffled
(a local RNG seeded by ``seed``) or with every event duplicated. Delivering a scenario concurrently is
the caller's choice of transport. Pure: no clock, no global RNG.
"""

from __future__ import annotations

import difflib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connect_harness import arguments
from connect_harness.errors import UsageError
from connect_harness.events.build import (
    DEFAULT_CONNECTED_ACCOUNT,
    DEFAULT_CREATED,
    Event,
    build_event,
)
from connect_harness.events.ids import stripe_id
from connect_harness.spec import contracts

__all__ = ["ORDERS", "SCENARIOS", "Scenario", "Step", "build_scenario", "scenario"]

#: The orders a scenario can be built in.
ORDERS = ("stripe", "reversed", "shuffled", "duplicated")

#: Seconds between two steps' ``created``.
STEP_SECONDS = 60


@dataclass(frozen=True)
class Step:
    """One event of a scenario: its type, who receives it, and what ``data.object`` holds then."""

    event_type: str
    #: True: the connected account's event when the scenario is built for one (else the platform's);
    #: False: always the platform's own (a destination charge happens on the platform).
    connect: bool = True
    #: Deep-merged into the event (``{"data": {"object": {...}}}``); may add keys.
    merge: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """A named flow: its steps in the order Stripe sends them."""

    name: str
    description: str
    steps: tuple[Step, ...]

    @property
    def receivers(self) -> frozenset[str]:
        """``connect`` and/or ``account``: the endpoint types it can be built for.

        ``account``: every step is one the platform receives (built with ``account=None``).
        """
        kinds = {"connect"} if any(step.connect for step in self.steps) else set()
        if all(
            not step.connect or "account" in contracts.event_info(step.event_type).receivable_by
            for step in self.steps
        ):
            kinds.add("account")
        return frozenset(kinds)


def _object(**fields: Any) -> dict[str, Any]:
    return {"data": {"object": fields}}


_DUE = ["individual.verification.document", "external_account"]

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "onboarding",
        "Connect onboarding: requirements due, capability and person updated, a bank account added, "
        "requirements met",
        (
            Step(
                "account.updated",
                merge=_object(
                    charges_enabled=False,
                    payouts_enabled=False,
                    requirements={"currently_due": _DUE, "eventually_due": _DUE},
                ),
            ),
            Step("capability.updated", merge=_object(status="pending")),
            Step("person.updated"),
            Step("account.external_account.created"),
            Step("capability.updated", merge=_object(status="active")),
            Step(
                "account.updated",
                merge=_object(
                    charges_enabled=True,
                    payouts_enabled=True,
                    requirements={"currently_due": [], "eventually_due": []},
                ),
            ),
        ),
    ),
    Scenario(
        "direct-charge",
        "a direct charge on the connected account: payment intent created, charge, intent succeeded",
        (
            Step("payment_intent.created", merge=_object(status="requires_payment_method")),
            Step("charge.succeeded"),
            Step("payment_intent.succeeded", merge=_object(status="succeeded")),
        ),
    ),
    Scenario(
        "destination-charge",
        "a destination charge on the platform with its transfer to the connected account",
        (
            Step("payment_intent.created", connect=False),
            Step("charge.succeeded", connect=False),
            Step("payment_intent.succeeded", connect=False),
            Step("transfer.created", connect=False),
        ),
    ),
    Scenario(
        "refund-dispute",
        "a charge, then a refund and a dispute of it",
        (
            Step("charge.succeeded"),
            Step("charge.refunded", merge=_object(refunded=True)),
            Step("refund.created"),
            Step("charge.dispute.created"),
        ),
    ),
    Scenario(
        "failed-payout",
        "a payout that fails, then the bank account is updated",
        (
            Step("payout.created", merge=_object(status="pending")),
            Step("payout.failed", merge=_object(status="failed", failure_code="account_closed")),
            Step("account.external_account.updated"),
        ),
    ),
    Scenario(
        "subscription",
        "a subscription for a connected account's customer, up to its first invoice paid",
        (
            Step("customer.created"),
            Step("customer.subscription.created"),
            Step("invoice.created", merge=_object(billing_reason="subscription_create")),
            Step("invoice.finalized", merge=_object(billing_reason="subscription_create")),
            Step("invoice.paid", merge=_object(billing_reason="subscription_create")),
            Step("invoice.payment_succeeded", merge=_object(billing_reason="subscription_create")),
        ),
    ),
    Scenario(
        "install-uninstall",
        "an app installed, used, uninstalled, then late events for the account after the uninstall",
        (
            Step("account.application.authorized"),
            Step("account.updated"),
            Step("account.application.deauthorized"),
            Step("payment_intent.succeeded"),
            Step("customer.created"),
        ),
    ),
)


def scenario(name: str) -> Scenario:
    """The scenario called ``name``; a UsageError naming the closest names if there is none."""
    for candidate in SCENARIOS:
        if candidate.name == name:
            return candidate
    names = [candidate.name for candidate in SCENARIOS]
    close = difflib.get_close_matches(str(name), names, n=2, cutoff=0.5)
    hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
    raise UsageError(f"unknown scenario {name!r}; {hint}the scenarios are: {', '.join(names)}")


def build_scenario(
    name: str,
    *,
    account: str | None = DEFAULT_CONNECTED_ACCOUNT,
    livemode: bool = False,
    seed: int = 0,
    order: str = "stripe",
    api_version: str | None = None,
) -> tuple[Event, ...]:
    """The events of scenario ``name`` for connected account ``account``, in ``order``.

    Steps the platform receives are platform events whatever ``account`` is; with ``account=None``
    every step is a platform event (a scenario with Connect-only events, such as ``onboarding``,
    then is a UsageError). ``order``: one of
    :data:`ORDERS`. The same arguments always give the same bytes.
    """
    arguments.text("name", name, example="subscription")
    arguments.text("account", account, example=DEFAULT_CONNECTED_ACCOUNT, optional=True)
    arguments.boolean("livemode", livemode)
    if not isinstance(seed, str):  # a string seed is hashed, as build_event's
        arguments.whole_number("seed", seed)
    arguments.text("order", order, example="stripe")
    flow = scenario(name)
    if order not in ORDERS:
        raise UsageError(f"unknown order {order!r}; pick one of {', '.join(ORDERS)}")
    events = []
    for index, step in enumerate(flow.steps):
        owner = account if step.connect else None
        if owner is None and "account" not in contracts.event_info(step.event_type).receivable_by:
            raise UsageError(
                f"scenario {name!r} has Connect-only events ({step.event_type}); give a connected "
                "account id, e.g. account='acct_1PgafTB7WZ01zgkW'"
            )
        event_id = stripe_id("evt", seed, name, index, step.event_type, owner, livemode)
        events.append(
            build_event(
                step.event_type,
                account=owner,
                livemode=livemode,
                seed=seed,
                created=DEFAULT_CREATED + STEP_SECONDS * index,
                merge=step.merge or None,
                overrides={"id": event_id},
                api_version=api_version,
            )
        )
    if order == "reversed":
        events.reverse()
    elif order == "shuffled":
        shuffled = list(events)
        rng = random.Random(f"{name}:{seed}")
        while len(shuffled) > 1 and shuffled == events:
            rng.shuffle(shuffled)
        events = shuffled
    elif order == "duplicated":
        events = [copy for event in events for copy in (event, event)]
    return tuple(events)
