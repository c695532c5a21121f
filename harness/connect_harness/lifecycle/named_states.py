"""The state of an object another object names, as the namer's state implies it (one reviewed table).

An event names objects besides its own: a succeeded payment intent its ``latest_charge``, a paid
invoice its ``payment_intent``, a refund its ``charge``. On Stripe those are in a state that agrees
with the namer: the charge of a succeeded intent succeeded and was captured for the amount the intent
received, the intent of a paid invoice succeeded. :data:`RULES` says, for each such pair, which state
(:mod:`connect_harness.lifecycle.states`) the named object is in, which of its fields copy the
namer's, and which field names the namer back; each row cites the Stripe page that states it.

The fake API uses :func:`implied` and :func:`apply_named` to build an object that an event named in
that state (instead of the contracts' example state); :func:`pair_contradictions` is the referee
for one (namer, named) pair. Where the docs do not say what a named object's state is (a setup
intent's payment method, a subscription's latest invoice, which may be unpaid or not yet attempted),
there is no row: the named object keeps its example state.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from connect_harness.lifecycle import states
from connect_harness.lifecycle.reversal_lists import fill_reversals

__all__ = [
    "RULES",
    "NamedState",
    "apply_named",
    "holder_state",
    "implied",
    "markdown_table",
    "pair_contradictions",
]


@dataclass(frozen=True)
class NamedState:
    """The object at ``path`` of a ``holder`` in one of ``holder_states`` is a ``named`` in ``state``."""

    holder: str
    holder_states: frozenset[str]
    path: str
    named: str
    state: str
    #: The named object's field -> the holder's field whose value it has.
    copies: Mapping[str, str] = field(default_factory=dict)
    #: The named object's field that holds the holder's id.
    back: str | None = None
    #: Further values the named object has in this pair (a disputed charge's ``disputed``).
    fields: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""


_PI_LIFECYCLE: Final = "https://docs.stripe.com/payments/paymentintents/lifecycle"
_PI_OBJECT: Final = (
    "https://docs.stripe.com/api/payment_intents/object (latest_charge: 'the latest charge created "
    "by this PaymentIntent'; amount_received)"
)
_CHARGE_OBJECT: Final = "https://docs.stripe.com/api/charges/object (payment_intent, captured)"
_INVOICE: Final = (
    "https://docs.stripe.com/invoicing/overview#invoice-statuses ('paid': 'This invoice was paid'); "
    "https://docs.stripe.com/api/invoices/object (payment_intent, charge, amount_paid)"
)

RULES: Final[tuple[NamedState, ...]] = (
    NamedState(
        "payment_intent",
        frozenset({"succeeded"}),
        "latest_charge",
        "charge",
        "succeeded",
        {"amount": "amount_received", "currency": "currency"},
        "payment_intent",
        source=f"{_PI_LIFECYCLE} (succeeded: the payment is complete); {_PI_OBJECT}",
    ),
    NamedState(
        "payment_intent",
        frozenset({"requires_capture"}),
        "latest_charge",
        "charge",
        "uncaptured",
        {"amount": "amount_capturable", "currency": "currency"},
        "payment_intent",
        source="https://docs.stripe.com/payments/place-a-hold-on-a-payment-method (the charge is "
        f"authorized, not captured); {_PI_OBJECT}",
    ),
    NamedState(
        "payment_intent",
        frozenset({"payment_failed"}),
        "latest_charge",
        "charge",
        "failed",
        {"amount": "amount", "currency": "currency"},
        "payment_intent",
        source=f"{_PI_LIFECYCLE} (a failed attempt returns to requires_payment_method); "
        f"{_PI_OBJECT}",
    ),
    NamedState(
        "charge",
        frozenset({"succeeded", "refunded", "partially_refunded"}),
        "payment_intent",
        "payment_intent",
        "succeeded",
        {"amount": "amount", "currency": "currency"},
        "latest_charge",
        source=f"{_CHARGE_OBJECT}; {_PI_LIFECYCLE} (the intent succeeds with its captured charge)",
    ),
    NamedState(
        "charge",
        frozenset({"uncaptured"}),
        "payment_intent",
        "payment_intent",
        "requires_capture",
        {"amount": "amount", "amount_capturable": "amount", "currency": "currency"},
        "latest_charge",
        source=f"{_CHARGE_OBJECT}; https://docs.stripe.com/payments/place-a-hold-on-a-payment-method",
    ),
    NamedState(
        "invoice",
        frozenset({"paid"}),
        "payment_intent",
        "payment_intent",
        "succeeded",
        {"amount": "amount_paid", "currency": "currency"},
        source=f"{_INVOICE}",
    ),
    NamedState(
        "invoice",
        frozenset({"paid"}),
        "charge",
        "charge",
        "succeeded",
        {"amount": "amount_paid", "currency": "currency"},
        "invoice",
        source=f"{_INVOICE}",
    ),
    NamedState(
        "refund",
        frozenset({"succeeded", "pending"}),
        "charge",
        "charge",
        "refunded",
        {"amount": "amount", "currency": "currency"},
        source="https://docs.stripe.com/api/refunds/object (charge: 'the charge that was refunded'); "
        "https://docs.stripe.com/api/charges/object (amount_refunded, refunded: 'whether the "
        "charge has been fully refunded'): a charge refunded by this refund alone, in full",
    ),
    NamedState(
        "dispute",
        frozenset({"*"}),
        "charge",
        "charge",
        "succeeded",
        {"amount": "amount", "currency": "currency"},
        fields={"disputed": True},
        source="https://docs.stripe.com/api/disputes/object (charge: 'the charge that was "
        "disputed'); https://docs.stripe.com/api/charges/object (disputed: 'whether the charge "
        "has been disputed'); a dispute is of a captured payment: "
        "https://docs.stripe.com/disputes/how-disputes-work",
    ),
)


def holder_state(obj: Mapping[str, Any]) -> str | None:
    """The state name of ``obj`` that :data:`RULES` match on (its status, refined where a status
    stands for several states: a refunded or uncaptured charge, a failed payment attempt)."""
    status = obj.get("status")
    kind = obj.get("object")
    if kind == "charge" and status == "succeeded":
        if obj.get("refunded") is True:
            return "refunded"
        refunded = obj.get("amount_refunded")
        if isinstance(refunded, int) and refunded > 0:
            return "partially_refunded"
        if obj.get("captured") is False:
            return "uncaptured"
    if (
        kind == "payment_intent"
        and status == "requires_payment_method"
        and obj.get("last_payment_error") is not None
        and isinstance(obj.get("latest_charge"), str)
    ):
        return "payment_failed"
    return status if isinstance(status, str) else None


def implied(obj: Mapping[str, Any]) -> Iterator[tuple[str, NamedState]]:
    """(id, rule) for each object ``obj`` names whose state its own state implies."""
    kind = obj.get("object")
    state = holder_state(obj)
    for rule in RULES:
        if rule.holder != kind or not ("*" in rule.holder_states or state in rule.holder_states):
            continue
        named = obj.get(rule.path)
        if isinstance(named, str) and named:
            yield named, rule


def apply_named(
    named: dict[str, Any], rule: NamedState, holder: Mapping[str, Any], *, at: int
) -> dict[str, Any]:
    """Put ``named`` in the state ``rule`` gives it as ``holder``'s; return it."""

    def link(object_type: str) -> str | None:
        if object_type == rule.holder:
            return _text(holder.get("id"))
        return _text(holder.get(object_type))  # the holder's customer is its charge's too

    states.apply_state(named, rule.named, rule.state, at=at, link=link)
    for key, source in rule.copies.items():
        if key in named and source in holder:
            named[key] = holder[source]
    if rule.state in ("succeeded", "refunded") and "amount_captured" in named:
        named["amount_captured"] = named.get("amount")
    if rule.state == "refunded" and "amount_refunded" in named:
        named["amount_refunded"] = named.get("amount")
    if rule.named == "payment_intent" and rule.state == "succeeded":
        named["amount_received"] = named.get("amount")
    for key, value in rule.fields.items():
        if key in named:
            named[key] = value
    if rule.back is not None and rule.back in named:
        named[rule.back] = holder.get("id")
    # A refunded charge lists the refund that named it (lifecycle.reversal_lists).
    return fill_reversals(named, rule.named, at=at, link=link)


def pair_contradictions(holder: Mapping[str, Any], named: Mapping[str, Any]) -> list[str]:
    """Where ``named`` (an object ``holder`` names) disagrees with the state ``holder``'s implies."""
    found: list[str] = []
    for named_id, rule in implied(holder):
        if named.get("id") != named_id or named.get("object") != rule.named:
            continue
        where = f"{rule.holder} {holder.get('id')}'s {rule.path} {named_id}"
        want = states.state_of(rule.named, rule.state)
        if want.status is not None and "status" in named and named["status"] != want.status:
            found.append(f"{where}: status is {named['status']!r}, not {want.status!r}")
        actual_state = holder_state(named)
        # A charge's state is more than its status (captured, refunded): compare the state.
        if (
            rule.named == "charge"
            and actual_state != rule.state
            and not (rule.state == "succeeded" and actual_state is None)
        ):
            found.append(f"{where}: a {actual_state} charge, not {rule.state}")
        for key, source in rule.copies.items():
            if key in named and source in holder and named[key] != holder[source]:
                found.append(
                    f"{where}: {key} is {named[key]!r}, the {rule.holder}'s {source} "
                    f"{holder[source]!r}"
                )
        for key, value in rule.fields.items():
            if key in named and named[key] != value:
                found.append(f"{where}: {key} is {named[key]!r}, not {value!r}")
        if rule.back is not None and rule.back in named and named[rule.back] != holder.get("id"):
            found.append(f"{where}: {rule.back} is {named[rule.back]!r}, not {holder.get('id')!r}")
    return found


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def markdown_table() -> str:
    """:data:`RULES` as the Markdown table docs/states.md shows (a test keeps them equal)."""
    lines = [
        "| object | in state | names at | a | in state | copies | names it back at | source |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for rule in RULES:
        holder_states = ", ".join(sorted(rule.holder_states)).replace("*", "any")
        copies = ", ".join(f"`{key}` = `{source}`" for key, source in rule.copies.items())
        extra = ", ".join(f"`{key}` = `{value!r}`" for key, value in rule.fields.items())
        copies = "; ".join(part for part in (copies, extra) if part)
        back = f"`{rule.back}`" if rule.back else "-"
        source = rule.source.replace("|", "/")
        lines.append(
            f"| {rule.holder} | {holder_states} | `{rule.path}` | {rule.named} | {rule.state} "
            f"| {copies} | {back} | {source} |"
        )
    return "\n".join(lines)
