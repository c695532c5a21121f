"""Scenarios: named flows of events as Stripe sends them over time, with one consistent set of objects.

A scenario is a list of steps (an event type, whether the connected account or the platform receives
it, and what its object looks like at that point). :func:`build_scenario` builds every step with the
same seed, account and mode, so the ids the events carry agree (the customer of
``customer.subscription.created`` is the one ``customer.created`` created: see
:mod:`connect_harness.events.world`). References the world cannot know (an invoice's subscription, a
charge's payment intent, a transfer's source charge) are a step's ``links``: paths set to another
step's values, each only where the API version in use has that path (an invoice names its
subscription at ``subscription`` up to 2025-03-31 and at ``parent.subscription_details`` since). It
gives each step its own event id and a ``created`` one minute
after the previous step (an object's own ``created`` is the first step's that carries it, and each
step's object is in the state its type names: :mod:`connect_harness.lifecycle.event_states`), and returns the events in the order asked for: Stripe's, reversed, shuffled
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
    #: Dotted paths inside ``data.object`` set to a value, each only when this API version's object
    #: has the path (its last key may hold null); a string ``"{event_type:path}"`` anywhere in a
    #: value is that step's ``data.object`` value at ``path`` (the first step of that type).
    links: Mapping[str, Any] = field(default_factory=dict)


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


def _ref(event_type: str, path: str = "id") -> str:
    """A link value: the ``data.object`` value at ``path`` of the scenario's ``event_type`` step."""
    return f"{{{event_type}:{path}}}"


_DUE = ["individual.verification.document", "external_account"]

#: One amount for a scenario's payment intent, charge, refund and dispute (cents).
_AMOUNT = 2000

_PAID = {"amount": _AMOUNT, "amount_captured": _AMOUNT}
_INTENT_SUCCEEDED = {"status": "succeeded", "amount": _AMOUNT, "amount_received": _AMOUNT}

_SUBSCRIPTION = _ref("customer.subscription.created")
#: An invoice's subscription, where each API version puts it, and its first line's.
_INVOICE_LINKS: dict[str, Any] = {
    "subscription": _SUBSCRIPTION,
    "parent": {
        "type": "subscription_details",
        "quote_details": None,
        "subscription_details": {"metadata": {}, "subscription": _SUBSCRIPTION},
    },
    "lines.data.0.subscription": _SUBSCRIPTION,
    "lines.data.0.subscription_item": _ref("customer.subscription.created", "items.data.0.id"),
    "lines.data.0.parent": {
        "type": "subscription_item_details",
        "invoice_item_details": None,
        "subscription_item_details": {
            "invoice_item": None,
            "proration": False,
            "proration_details": {"credited_items": None},
            "subscription": _SUBSCRIPTION,
            "subscription_item": _ref("customer.subscription.created", "items.data.0.id"),
        },
    },
    "lines.data.0.invoice": _ref("invoice.created"),
}


def _invoice(status: str, **extra: Any) -> Step:
    """An invoice step of the subscription's first invoice (``billing_reason=subscription_create``)."""
    fields = {"billing_reason": "subscription_create", "status": status}
    return Step(
        f"invoice.{extra.pop('event')}", merge=_object(**fields), links=_INVOICE_LINKS | extra
    )


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        current = out.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            out[key] = _merged(current, value)
        else:
            out[key] = value
    return out


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
                merge=_merged(
                    _object(
                        charges_enabled=True,
                        payouts_enabled=True,
                        requirements={"currently_due": [], "eventually_due": []},
                    ),
                    # What changed: the previous values, not the ones the account has now.
                    {
                        "data": {
                            "previous_attributes": {
                                "charges_enabled": False,
                                "payouts_enabled": False,
                                "requirements": {"currently_due": _DUE, "eventually_due": _DUE},
                            }
                        }
                    },
                ),
            ),
        ),
    ),
    Scenario(
        "direct-charge",
        "a direct charge on the connected account: payment intent created, charge, intent succeeded",
        (
            Step(
                "payment_intent.created",
                merge=_object(status="requires_payment_method", amount=_AMOUNT),
            ),
            Step(
                "charge.succeeded",
                merge=_object(**_PAID),
                links={"payment_intent": _ref("payment_intent.created")},
            ),
            Step(
                "payment_intent.succeeded",
                merge=_object(**_INTENT_SUCCEEDED),
                links={"latest_charge": _ref("charge.succeeded")},
            ),
        ),
    ),
    Scenario(
        "destination-charge",
        "a destination charge on the platform with its transfer to the connected account",
        (
            Step(
                "payment_intent.created",
                connect=False,
                merge=_object(status="requires_payment_method", amount=_AMOUNT),
                links={"transfer_data": {"destination": _ref("transfer.created", "destination")}},
            ),
            Step(
                "charge.succeeded",
                connect=False,
                merge=_object(**_PAID),
                links={
                    "payment_intent": _ref("payment_intent.created"),
                    "transfer": _ref("transfer.created"),
                    "transfer_data": {
                        "amount": None,
                        "destination": _ref("transfer.created", "destination"),
                    },
                },
            ),
            Step(
                "payment_intent.succeeded",
                connect=False,
                merge=_object(**_INTENT_SUCCEEDED),
                links={
                    "latest_charge": _ref("charge.succeeded"),
                    "transfer_data": {"destination": _ref("transfer.created", "destination")},
                },
            ),
            Step(
                "transfer.created",
                connect=False,
                merge=_object(amount=_AMOUNT),
                links={"source_transaction": _ref("charge.succeeded")},
            ),
        ),
    ),
    Scenario(
        "refund-dispute",
        "a charge, then a refund and a dispute of it",
        (
            Step("charge.succeeded", merge=_object(**_PAID)),
            Step(
                "charge.refunded",
                merge=_object(refunded=True, amount_refunded=_AMOUNT, **_PAID),
            ),
            Step("refund.created", merge=_object(amount=_AMOUNT)),
            Step("charge.dispute.created", merge=_object(amount=_AMOUNT)),
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
            Step(
                "customer.subscription.created",
                merge=_object(status="active"),
                links={"latest_invoice": _ref("invoice.created")},
            ),
            _invoice("draft", event="created"),
            _invoice("open", event="finalized"),
            _invoice("paid", event="paid", paid=True),
            _invoice("paid", event="payment_succeeded", paid=True),
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
    # An object keeps one `created` through the flow: the time of the first step that carries it
    # (each event alone would date it an hour before itself, and a charge before its intent).
    born: dict[str, int] = {}
    for event in events:
        if event.object_id is not None:
            born.setdefault(event.object_id, event.payload["created"])
    # A step's links name other steps' values (ids do not depend on links): a second pass.
    for index, step in enumerate(flow.steps):
        overrides, added = _resolved_links(step, flow, events, api_version)
        own = events[index]
        first = born.get(own.object_id or "")
        if first is not None and own.data_object.get("created") not in (None, first):
            overrides["data.object.created"] = first
        if overrides or added:
            merge = dict(step.merge)
            if added:
                merge = _merged(merge, _object(**added))
            events[index] = build_event(
                step.event_type,
                account=events[index].account,
                livemode=livemode,
                seed=seed,
                created=DEFAULT_CREATED + STEP_SECONDS * index,
                merge=merge or None,
                overrides={"id": events[index].id, **overrides},
                api_version=api_version,
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


def _resolved_links(
    step: Step, flow: Scenario, events: list[Event], api_version: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``step``'s links: overrides (``data.object.<path>``: value) for the paths its event has, and
    top-level keys to add that the object's schema has but the event leaves out when empty (a
    charge's ``transfer``)."""
    own = events[[s.event_type for s in flow.steps].index(step.event_type)].data_object
    properties = contracts.object_schema(str(own.get("object")), version=api_version).get(
        "properties", {}
    )
    overrides: dict[str, Any] = {}
    added: dict[str, Any] = {}
    for path, value in step.links.items():
        parts = path.split(".")
        if _has_path(own, parts):
            overrides[f"data.object.{path}"] = _fill(value, flow, events)
        elif len(parts) == 1 and path in properties:
            added[path] = _fill(value, flow, events)
    return overrides, added


def _has_path(node: Any, parts: list[str]) -> bool:
    for part in parts:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False
    return True


def _fill(value: Any, flow: Scenario, events: list[Event]) -> Any:
    if isinstance(value, Mapping):
        return {key: _fill(item, flow, events) for key, item in value.items()}
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        event_type, _, path = value[1:-1].partition(":")
        node: Any = events[[s.event_type for s in flow.steps].index(event_type)].data_object
        for part in path.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node
    return value
