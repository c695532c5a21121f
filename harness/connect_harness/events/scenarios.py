"""Scenarios: named flows of events as Stripe sends them over time, with one consistent set of objects.

A scenario is a flow: the API calls a platform makes (our own fixture steps, in the Stripe CLI's
format: :mod:`connect_harness.lifecycle.fixtures`), run against a fake Stripe API of its own, and the
events that fake emits for them (:func:`connect_harness.build_scenario`, in
:mod:`connect_harness.checks.scenario_flows`, which may start a fake). Its :class:`Step` list names
the event types the endpoint receives, in Stripe's order: the flow's events of other types are the
ones an endpoint not subscribed to them never sees. Its objects end in the state Stripe would
serve: delivered in any order, a fetch sees the latest.

A scenario Stripe's API cannot act out (an OAuth authorization, onboarding that a hosted form
completes) says why in ``built_because`` and is built from the contracts instead
(:func:`built_scenario`): every step with the same seed, account and mode, so the ids the events carry
agree (:mod:`connect_harness.events.world`). References the world cannot know are a step's
``links``: paths set to another step's values, each only where the API version in use has that
path. It gives each step its own event id and a ``created`` one minute after the previous step (an
object's own ``created`` is the first step's that carries it, and each step's object is in the state
its type names: :mod:`connect_harness.lifecycle.event_states`). :func:`reorder` returns the events in
the order asked for: Stripe's, reversed, shuffled (a local RNG seeded by ``seed``) or with every
event duplicated. Pure: no clock, no global RNG.
"""

from __future__ import annotations

import difflib
import json
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
from connect_harness.lifecycle.fixtures import FixtureFile, load_fixture
from connect_harness.spec import contracts

__all__ = [
    "ORDERS",
    "SCENARIOS",
    "Scenario",
    "Step",
    "built_scenario",
    "check_scenario_arguments",
    "event_id",
    "reorder",
    "scenario",
]

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
    #: The flow's API calls (fixture steps in the Stripe CLI's format), made as the connected
    #: account when any step is ``connect``, else as the platform; empty: no flow, see below.
    flow: tuple[Mapping[str, Any], ...] = ()
    #: Why the scenario is built from the contracts rather than run as a flow (no flow: required).
    built_because: str = ""

    def __post_init__(self) -> None:
        if not self.flow and not self.built_because:
            raise ValueError(f"scenario {self.name!r} needs a flow or a reason it has none")

    @property
    def fixture(self) -> FixtureFile | None:
        """The flow as a checked fixture file (None for a scenario built from the contracts)."""
        return _fixture(self.name, self.flow) if self.flow else None

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

_BY_US = "(created by connect-harness)"


def _call(step: str, path: str, **params: Any) -> dict[str, Any]:
    """A POST step of a scenario's flow (the Stripe CLI's fixture format), named ``step``."""
    return {"name": step, "method": "post", "path": path, "params": params}


def _get(step: str, path: str) -> dict[str, Any]:
    return {"name": step, "method": "get", "path": path}


def _paid(step: str, payment_method: str) -> dict[str, Any]:
    """The customer's payment intent, confirmed at once with one of Stripe's test payment methods."""
    return _call(
        step,
        "/v1/payment_intents",
        amount=_AMOUNT,
        currency="usd",
        customer="${customer:id}",
        payment_method=payment_method,
        payment_method_types=["card"],
        confirm="true",
        description=_BY_US,
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
        built_because=(
            "no API call completes onboarding: Stripe's test mode meets requirements through "
            "its hosted onboarding or test identity values the fake does not act on, and the "
            "fake has no capability lifecycle to request one (its flow would stop at account.updated)"
        ),
    ),
    Scenario(
        "direct-charge",
        "a direct charge on the connected account for its customer: payment intent created, "
        "charge, intent succeeded",
        (
            Step("payment_intent.created"),
            Step("charge.succeeded"),
            Step("payment_intent.succeeded"),
        ),
        flow=(
            _call("customer", "/v1/customers", description=_BY_US),
            # Created, then confirmed with a payment method (as a page confirms it): Stripe's
            # payment_intent.created then carries requires_payment_method.
            _call(
                "payment_intent",
                "/v1/payment_intents",
                amount=_AMOUNT,
                currency="usd",
                customer="${customer:id}",
                payment_method_types=["card"],
                description=_BY_US,
            ),
            _call(
                "confirmed",
                "/v1/payment_intents/${payment_intent:id}/confirm",
                payment_method="pm_card_visa",
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
        built_because=(
            "the fake does not yet make the transfer of a payment intent with "
            "transfer_data.destination (its flow emits no transfer.created), so the transfer step "
            "would be missing"
        ),
    ),
    Scenario(
        "refund-dispute",
        "a charge refunded in full, then a second charge disputed (Stripe refuses to refund a "
        "disputed charge, and its test card disputes at payment)",
        (
            Step("charge.succeeded"),
            Step("charge.refunded"),
            Step("refund.created"),
            Step("charge.succeeded"),
            Step("charge.dispute.created"),
        ),
        flow=(
            _call("customer", "/v1/customers", description=_BY_US),
            _paid("refunded", "pm_card_visa"),
            _call("refund", "/v1/refunds", charge="${refunded:latest_charge}"),
            # docs.stripe.com/testing#disputes: this card's charge succeeds, then is disputed.
            _paid("disputed", "pm_card_createDispute"),
        ),
    ),
    Scenario(
        "failed-payout",
        "a payout to a bank account that fails, then the bank account is updated",
        (
            Step("payout.created"),
            Step("payout.failed"),
            Step("account.external_account.updated"),
        ),
        flow=(
            _get("account", "/v1/account"),
            # docs.stripe.com/connect/testing#payouts: this account number fails: account_closed.
            _call(
                "bank_account",
                "/v1/accounts/${account:id}/external_accounts",
                external_account={
                    "object": "bank_account",
                    "country": "US",
                    "currency": "usd",
                    "routing_number": "110000000",
                    "account_number": "000111111113",
                },
            ),
            _call(
                "payout",
                "/v1/payouts",
                amount=1100,
                currency="usd",
                destination="${bank_account:id}",
                description=_BY_US,
            ),
            _call(
                "bank_account_updated",
                "/v1/accounts/${account:id}/external_accounts/${bank_account:id}",
                account_holder_name="Jenny Rosen",
            ),
        ),
    ),
    Scenario(
        "subscription",
        "a subscription for a connected account's customer, up to its first invoice paid",
        (
            Step("customer.created"),
            Step("customer.subscription.created"),
            Step("invoice.created"),
            Step("invoice.finalized"),
            Step("invoice.paid"),
            Step("invoice.payment_succeeded"),
        ),
        flow=(
            _call(
                "customer",
                "/v1/customers",
                payment_method="pm_card_visa",
                invoice_settings={"default_payment_method": "pm_card_visa"},
                description=_BY_US,
            ),
            _call("product", "/v1/products", name="Harness plan", description=_BY_US),
            _call(
                "price",
                "/v1/prices",
                product="${product:id}",
                unit_amount=1500,
                currency="usd",
                recurring={"interval": "month"},
            ),
            _call(
                "subscription",
                "/v1/subscriptions",
                customer="${customer:id}",
                items=[{"price": "${price:id}"}],
            ),
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
        built_because=(
            "an application is authorized through Connect OAuth on connect.stripe.com (a "
            "person clicks Connect), not by a call to Stripe's API; and the late events after the "
            "deauthorization are Stripe's retries, which no API call makes"
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


def check_scenario_arguments(
    name: str, *, account: str | None, livemode: bool, seed: int, order: str
) -> Scenario:
    """The scenario called ``name``, once the arguments of a build are checked (UsageError if not).

    With ``account=None`` a scenario with events only a connected account receives (such as
    ``onboarding``) is a UsageError.
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
    for step in flow.steps:
        owner = account if step.connect else None
        if owner is None and "account" not in contracts.event_info(step.event_type).receivable_by:
            raise UsageError(
                f"scenario {name!r} has Connect-only events ({step.event_type}); give a connected "
                "account id, e.g. account='acct_1PgafTB7WZ01zgkW'"
            )
    return flow


def event_id(
    name: str, seed: int, index: int, event_type: str, owner: str | None, live: bool
) -> str:
    """The id of a scenario's ``index``-th event: its own for every scenario, seed, owner, mode."""
    return stripe_id("evt", seed, name, index, event_type, owner, live)


def built_scenario(
    name: str,
    *,
    account: str | None = DEFAULT_CONNECTED_ACCOUNT,
    livemode: bool = False,
    seed: int = 0,
    api_version: str | None = None,
) -> tuple[Event, ...]:
    """The events of scenario ``name`` built from the contracts, in Stripe's order (a scenario
    without a flow; see the module docstring). The same arguments always give the same bytes.
    """
    flow = check_scenario_arguments(
        name, account=account, livemode=livemode, seed=seed, order="stripe"
    )
    events = []
    for index, step in enumerate(flow.steps):
        owner = account if step.connect else None
        events.append(
            build_event(
                step.event_type,
                account=owner,
                livemode=livemode,
                seed=seed,
                created=DEFAULT_CREATED + STEP_SECONDS * index,
                merge=step.merge or None,
                overrides={"id": event_id(name, seed, index, step.event_type, owner, livemode)},
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
    return tuple(events)


def reorder(events: tuple[Event, ...], order: str, *, name: str, seed: int) -> tuple[Event, ...]:
    """``events`` (in Stripe's order) in ``order``: one of :data:`ORDERS`; ``shuffled`` is never
    Stripe's own order and depends only on ``name`` and ``seed``."""
    if order not in ORDERS:
        raise UsageError(f"unknown order {order!r}; pick one of {', '.join(ORDERS)}")
    out = list(events)
    if order == "reversed":
        out.reverse()
    elif order == "shuffled":
        rng = random.Random(f"{name}:{seed}")
        while len(out) > 1 and out == list(events):
            rng.shuffle(out)
    elif order == "duplicated":
        out = [copy for event in events for copy in (event, event)]
    return tuple(out)


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


_FIXTURES: dict[str, FixtureFile] = {}


def _fixture(name: str, flow: tuple[Mapping[str, Any], ...]) -> FixtureFile:
    found = _FIXTURES.get(name)
    if found is None:
        document = {"_meta": {"template_version": 0}, "fixtures": list(flow)}
        found = load_fixture(json.dumps(document), f"scenario {name!r}")
        _FIXTURES[name] = found
    return found
