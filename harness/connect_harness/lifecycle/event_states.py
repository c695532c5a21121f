"""For each event type, the state its ``data.object`` is in, and what ``previous_attributes`` says.

Three sources, in this order:

1. :data:`EVENT_STATES`, one reviewed table: each row names the state of
   :mod:`connect_harness.lifecycle.states` the event puts its object in and why (the event's "Occurs
   when..." text in Stripe's API description, or a docs page).
2. Derived: where the type's last word is one of the values the object's ``status`` lists
   (``payment_intent.processing``, ``treasury.outbound_payment.posted``), the object has that status.
3. The docs are silent (``customer.subscription.created``, ``refund.updated``...): the object keeps
   the status of its canonical example, and gets the fields the tables say go with that status.

Timestamps are ordered: the object was made :data:`~connect_harness.lifecycle.states.AGE` before the
event that changed it (at the event's ``created`` for ``*.created`` events), and a transition's time
is the event's. :func:`apply_event_state` is what event builders call; :func:`state_table` is the
table docs/states.md shows.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from connect_harness.errors import HarnessError
from connect_harness.lifecycle import reversal_lists, states
from connect_harness.spec import contracts

__all__ = [
    "EVENT_STATES",
    "EventState",
    "alternatives",
    "apply_event_state",
    "event_state",
    "markdown_tables",
    "pinned_fields",
    "previous_attributes",
    "state_table",
]

_EVENT_TEXT: Final = "the event's description in Stripe's API description"

#: event type -> (state of its object, why). ``None``: the docs say nothing of the state.
EVENT_STATES: Final[Mapping[str, tuple[str | None, str]]] = {
    # Payments: https://docs.stripe.com/payments/paymentintents/lifecycle
    "payment_intent.created": (
        "requires_payment_method",
        "PaymentIntent lifecycle: a new one requires a payment method",
    ),
    "payment_intent.amount_capturable_updated": (
        "requires_capture",
        "'has funds to be captured' (lifecycle: requires_capture)",
    ),
    "payment_intent.payment_failed": (
        "payment_failed",
        "lifecycle: a failed attempt returns to requires_payment_method with last_payment_error",
    ),
    "payment_intent.canceled": ("canceled", _EVENT_TEXT),
    "payment_intent.partially_funded": (
        None,
        "docs silent on the status of a partially funded customer_balance PaymentIntent",
    ),
    "charge.succeeded": ("succeeded", _EVENT_TEXT),
    "charge.failed": ("failed", _EVENT_TEXT),
    "charge.pending": ("pending", _EVENT_TEXT),
    "charge.captured": ("succeeded", "'a previously uncaptured charge is captured'"),
    "charge.expired": (
        "uncaptured",
        "'an uncaptured charge expires'; docs silent on its refund fields",
    ),
    "charge.refunded": (
        "refunded",
        "'whenever a charge is refunded, including partial refunds' (examples send the partial refund too)",
    ),
    "charge.updated": (None, "docs silent: the example's status"),
    "charge.dispute.created": (
        "needs_response",
        "https://docs.stripe.com/disputes/how-disputes-work: a new dispute needs a response",
    ),
    "charge.dispute.closed": (
        "lost",
        "'the dispute status changes to lost, warning_closed, or won': lost (examples never change a status)",
    ),
    "charge.dispute.funds_reinstated": (
        "won",
        "'funds are reinstated ... after a dispute is closed'",
    ),
    "charge.dispute.funds_withdrawn": (
        "needs_response",
        "https://docs.stripe.com/disputes/how-disputes-work: funds are withdrawn when the dispute opens",
    ),
    "charge.dispute.updated": (None, "docs silent: 'usually with evidence', status not said"),
    "refund.failed": ("failed", _EVENT_TEXT),
    "refund.created": (None, "docs silent: a refund may be pending or succeeded when created"),
    "setup_intent.created": (
        "requires_payment_method",
        "https://docs.stripe.com/payments/setupintents/lifecycle",
    ),
    "setup_intent.setup_failed": (
        "setup_failed",
        "SetupIntent lifecycle: a failed attempt returns to requires_payment_method",
    ),
    "checkout.session.completed": (
        "complete",
        "https://docs.stripe.com/api/checkout/sessions/object",
    ),
    "checkout.session.async_payment_succeeded": (
        "complete",
        "'a delayed payment method finally succeeds'",
    ),
    "checkout.session.async_payment_failed": (
        "complete_unpaid",
        "'a delayed payment method fails'",
    ),
    "checkout.session.expired": ("expired", _EVENT_TEXT),
    "transfer.reversed": (
        "reversed",
        "'including partial reversals' (examples send the partial reversal too)",
    ),
    "application_fee.refunded": (
        "refunded",
        "'whenever an application fee is refunded' (examples send the partial refund too)",
    ),
    "review.opened": ("opened", _EVENT_TEXT),
    "review.closed": ("closed", "'The review's reason field indicates why'"),
    # Payouts: https://docs.stripe.com/api/payouts/object (status is an open string: not derived)
    "payout.created": (
        "pending",
        "https://docs.stripe.com/payouts#payout-statuses: a new payout is pending",
    ),
    "payout.paid": ("paid", _EVENT_TEXT),
    "payout.failed": ("failed", _EVENT_TEXT),
    "payout.canceled": ("canceled", _EVENT_TEXT),
    "payout.reconciliation_completed": (
        "reconciled",
        "'balance transactions paid out in an automatic payout can be queried'",
    ),
    "topup.created": ("pending", "https://docs.stripe.com/api/topups/object"),
    # Billing: https://docs.stripe.com/invoicing/overview#invoice-statuses
    "invoice.created": (
        "draft",
        "https://docs.stripe.com/billing/subscriptions/webhooks: invoices are created as drafts",
    ),
    "invoice.deleted": ("draft", "'whenever a draft invoice is deleted'"),
    "invoice.finalization_failed": ("draft", "'a draft invoice cannot be finalized'"),
    "invoice.finalized": (
        "finalized",
        "'a draft invoice is finalized and updated to be an open invoice'",
    ),
    "invoice.marked_uncollectible": ("uncollectible", _EVENT_TEXT),
    "invoice.overdue": ("open", "'X number of days after an invoice becomes due': still open"),
    "invoice.will_be_due": ("open", "'X number of days before an invoice becomes due': open"),
    "invoice.overpaid": ("overpaid", "'transitions to paid with a non-zero amount_overpaid'"),
    "invoice.paid": ("paid", _EVENT_TEXT),
    "invoice.payment_succeeded": ("paid", _EVENT_TEXT),
    "invoice.payment_failed": (
        "payment_failed",
        "'an invoice payment attempt fails': the invoice stays open",
    ),
    "invoice.payment_action_required": ("open", "'requires further user action': open"),
    "invoice.payment_attempt_required": ("open", "'requires a payment': open"),
    "invoice.sent": (
        "open",
        "https://docs.stripe.com/invoicing/overview: only finalized invoices are sent",
    ),
    "invoice.upcoming": (
        "draft",
        "https://docs.stripe.com/api/invoices/create_preview: a preview is a draft",
    ),
    "invoice.voided": ("void", _EVENT_TEXT),
    "invoice.updated": (None, "docs silent: the example's status"),
    "customer.subscription.deleted": ("canceled", "'whenever a customer's subscription ends'"),
    "customer.subscription.paused": ("paused", "'subscriptions enter status=paused'"),
    "customer.subscription.resumed": ("active", "'no longer paused'"),
    "customer.subscription.trial_will_end": (
        "trial_ending",
        "'three days before a subscription's trial period is scheduled to end'",
    ),
    "customer.subscription.pending_update_applied": (
        "update_settled",
        "https://docs.stripe.com/billing/subscriptions/pending-updates",
    ),
    "customer.subscription.pending_update_expired": (
        "update_settled",
        "https://docs.stripe.com/billing/subscriptions/pending-updates",
    ),
    "customer.subscription.updated": (
        "trial_ended",
        "'changing the status from trial to active' (previous_attributes: trialing)",
    ),
    "customer.subscription.created": (
        None,
        "docs silent: a new subscription may be incomplete, trialing or active",
    ),
    "subscription_schedule.aborted": (
        "canceled",
        "'canceled due to the underlying subscription being canceled'",
    ),
    "subscription_schedule.expiring": (
        "active",
        "'7 days before a subscription schedule will expire': still active",
    ),
    "credit_note.created": ("issued", "https://docs.stripe.com/api/credit_notes/object"),
    "credit_note.voided": ("void", _EVENT_TEXT),
    "quote.created": ("draft", "https://docs.stripe.com/quotes/overview: quotes start as drafts"),
    "quote.finalized": (
        "open",
        "https://docs.stripe.com/quotes/overview: finalizing opens a quote",
    ),
    "billing.meter.created": ("active", "https://docs.stripe.com/api/billing/meter/object"),
    "billing.meter.deactivated": ("inactive", _EVENT_TEXT),
    "billing.meter.reactivated": ("active", _EVENT_TEXT),
    # Everything else whose word is not the status value
    "identity.verification_session.created": (
        "requires_input",
        "https://docs.stripe.com/identity/how-sessions-work",
    ),
    "three_d_secure.authentication.errored": ("error", "'status transitions to error'"),
    "financial_connections.account.deactivated": ("inactive", "'from active to inactive'"),
    "financial_connections.account.reactivated": ("active", "'from inactive to active'"),
    "treasury.debit_reversal.completed": (
        "succeeded",
        "https://docs.stripe.com/api/treasury/debit_reversals/object: completed is succeeded",
    ),
    "issuing_personalization_design.activated": ("active", _EVENT_TEXT),
    "issuing_personalization_design.deactivated": ("inactive", _EVENT_TEXT),
    "issuing_dispute.created": (
        "unsubmitted",
        "https://docs.stripe.com/issuing/purchases/disputes",
    ),
    "issuing_dispute.closed": ("won", "'whenever a dispute is won, lost or expired'"),
    "source.canceled": ("canceled", _EVENT_TEXT),
    "source.chargeable": ("chargeable", _EVENT_TEXT),
    "source.failed": ("failed", _EVENT_TEXT),
    "reporting.report_run.failed": ("failed", _EVENT_TEXT),
    "reporting.report_run.succeeded": ("succeeded", _EVENT_TEXT),
    "climate.order.delayed": (
        "delayed",
        "'a Climate order is delayed': delayed_at, the status unchanged",
    ),
    "climate.order.product_substituted": (
        "product_substituted",
        "'a Climate order's product is substituted': product_substituted_at",
    ),
    "reserve.release.created": ("released", "'Occurs when a reserve release is created'"),
    "mandate.updated": (
        None,
        "docs silent: the example's status (previous_attributes: pending, https://docs.stripe.com/api/mandates/object)",
    ),
}

#: States an event may also carry with the same status, which examples 2, 3... send in turn after
#: the canonical one (a partial refund is as much a charge.refunded as a full one).
_ALTERNATIVES: Final[Mapping[str, tuple[str, ...]]] = {
    "charge.refunded": ("partially_refunded",),
    "transfer.reversed": ("partially_reversed",),
    "application_fee.refunded": ("partially_refunded",),
}

#: previous_attributes the docs name for a type: the field's value before the change.
_PREVIOUS: Final[Mapping[str, Mapping[str, Any]]] = {
    # 'changing the status from trial to active'
    "customer.subscription.updated": {"status": "trialing"},
    # https://docs.stripe.com/api/mandates/object: a mandate is pending until accepted
    "mandate.updated": {"status": "pending"},
    # https://docs.stripe.com/tax/settings-api: settings are pending until complete
    "tax.settings.updated": {"status": "pending"},
    # https://docs.stripe.com/api/issuing/tokens/object: a token is requested, then active
    "issuing_token.updated": {"status": "requested"},
    # https://docs.stripe.com/api/sources/object: a transaction is pending until it succeeds
    "source.transaction.updated": {"status": "pending"},
    # https://docs.stripe.com/api/tax_ids/object: verification goes from pending to a result
    "customer.tax_id.updated": {"verification": {"status": "pending"}},
}

# 'Occurs whenever a charge description or metadata is updated' (and a transfer's).
_METADATA_FIRST: Final = frozenset({"charge.updated", "transfer.updated"})


@dataclass(frozen=True)
class EventState:
    """The state one event type puts one object type in."""

    type: str
    object_type: str
    #: A state of :mod:`connect_harness.lifecycle.states`; None: the example's status is kept.
    state: str | None
    #: "table", "derived", "silent" (the docs do not say) or "none" (the object has no status).
    how: str
    source: str
    #: The object was made by this event (its ``created`` is the event's).
    born: bool


def _status_values(object_type: str, shapes: str) -> tuple[str, ...]:
    try:
        schema = contracts.object_schema(object_type, version=shapes)
    except HarnessError:  # a type without a schema of its own: nothing to derive
        return ()
    node = schema.get("properties", {}).get("status")
    if not isinstance(node, Mapping):
        return ()
    listed = node.get("enum") or node.get("examples")  # an open enum lists its values as examples
    return (
        tuple(value for value in listed if isinstance(value, str))
        if isinstance(listed, list)
        else ()
    )


@functools.cache
def event_state(event_type: str, object_type: str, shapes: str | None = None) -> EventState:
    """The state ``event_type`` puts its ``object_type`` object in (``shapes``: a contract set)."""
    born = event_type.endswith(".created")
    row = EVENT_STATES.get(event_type)
    if row is not None:
        state, source = row
        return EventState(
            event_type, object_type, state, "table" if state else "silent", source, born
        )
    word = event_type.rsplit(".", 1)[-1]
    if word in _status_values(object_type, contracts.resolve_version(shapes).shapes):
        source = f"the type's last word is a listed {object_type} status"
        return EventState(event_type, object_type, word, "derived", source, born)
    if not states.known_states(object_type) and not _status_values(
        object_type, contracts.resolve_version(shapes).shapes
    ):
        return EventState(event_type, object_type, None, "none", "the object has no status", born)
    source = "docs silent: the example's status, with the fields the tables give it"
    return EventState(event_type, object_type, None, "silent", source, born)


def alternatives(event_type: str) -> tuple[str, ...]:
    """Other states the type's object may be in (a partial refund): examples send them in turn."""
    return _ALTERNATIVES.get(event_type, ())


def _chosen(found: EventState, obj: Mapping[str, Any]) -> str | None:
    if found.state is not None:
        return found.state
    status = obj.get("status")
    if isinstance(status, str) and status in states.known_states(found.object_type):
        return status  # silent docs: the example's status, with what goes with it
    return None


def apply_event_state(
    obj: dict[str, Any],
    event_type: str,
    object_type: str,
    *,
    at: int,
    link: Callable[[str], str | None] | None = None,
    shapes: str | None = None,
    state: str | None = None,
) -> dict[str, Any]:
    """Put the object of an ``event_type`` event made at ``at`` in the state the type says.

    ``state`` picks one of :func:`alternatives` instead. Sets the object's ``created`` (before
    ``at`` unless the event made it) and the fields of the state; ``link`` names referenced objects.
    """
    found = event_state(event_type, object_type, shapes)
    chosen = state or _chosen(found, obj)
    if isinstance(obj.get("created"), int):
        obj["created"] = at if found.born else states.before(at, states.AGE)
    if chosen is not None:
        states.apply_state(obj, object_type, chosen, at=at, link=link, fresh=True, shapes=shapes)
    return reversal_lists.fill_reversals(obj, object_type, at=at, shapes=shapes, link=link)


@functools.cache
def pinned_fields(event_type: str, object_type: str, shapes: str | None = None) -> frozenset[str]:
    """The top-level fields the type's state decides (examples never vary them)."""
    found = event_state(event_type, object_type, shapes)
    names = {"status"}
    for chosen in (found.state, *alternatives(event_type)):
        if chosen is None:
            continue
        try:
            rule = states.state_of(object_type, chosen)
        except states.StateError:
            continue
        names.update(path.split(".", 1)[0] for path in rule.fields)
    if found.state is None:
        for chosen in states.known_states(object_type):
            names.update(
                path.split(".", 1)[0] for path in states.state_of(object_type, chosen).fields
            )
    return frozenset(names)


_TEXT_FIELDS: Final = ("description", "display_name", "name", "nickname", "statement_descriptor")


def previous_attributes(
    event_type: str, obj: Mapping[str, Any], object_type: str, shapes: str | None = None
) -> dict[str, Any]:
    """What one field of ``obj`` was before the change an ``*.updated`` event reports.

    The docs' own transition where they name one (:data:`_PREVIOUS`); else a flag the state does not
    decide, flipped; else the metadata; else a text field's earlier wording; else another listed
    value of an enum. Always a value the field's schema allows, never the current value.
    """
    given = _PREVIOUS.get(event_type)
    if given is not None and all(_changes(obj.get(key), value) for key, value in given.items()):
        return copy.deepcopy(dict(given))
    if event_type in _METADATA_FIRST and isinstance(obj.get("metadata"), dict):
        return {"metadata": {**obj["metadata"], "previous": "true"}}
    pinned = pinned_fields(event_type, object_type, shapes)
    for key, value in obj.items():
        if isinstance(value, bool) and key != "livemode" and key not in pinned:
            return {key: not value}
    if isinstance(obj.get("metadata"), dict):
        return {"metadata": {**obj["metadata"], "previous": "true"}}
    for key in _TEXT_FIELDS:
        value = obj.get(key)
        if isinstance(value, str) and value:
            return {key: f"{value} (before)"}
    properties = _properties(object_type, shapes)
    for key, value in obj.items():
        node = properties.get(key)
        if key in pinned or not isinstance(node, Mapping) or "x-id-of" in node:
            continue
        other = _other_listed(node, value)
        if other is not None:
            return {key: other}
    for key, value in obj.items():
        node = properties.get(key)
        if key in pinned or not isinstance(node, Mapping) or "x-id-of" in node or value is None:
            continue
        if isinstance(value, dict) and value.get("object") == "list" and value.get("data"):
            return {key: {**value, "data": [], "has_more": False}}  # it had no items
        declared = node.get("type")
        if isinstance(declared, list) and "null" in declared and not isinstance(value, dict):
            return {key: None}
    for key, value in obj.items():
        if isinstance(value, dict) and key not in pinned:
            nested = _nested_listed(value, _resolve(properties.get(key), shapes), shapes, depth=2)
            if nested is not None:
                return {key: nested}
    return {}


def _changes(current: Any, previous: Any) -> bool:
    """``previous`` (Stripe names only the changed sub-fields of a hash) differs from ``current``."""
    if isinstance(previous, Mapping):
        return isinstance(current, Mapping) and any(
            key in current and _changes(current[key], value) for key, value in previous.items()
        )
    return current is not None and current != previous


def _other_listed(node: Mapping[str, Any], value: Any) -> str | None:
    listed = node.get("enum") or node.get("examples")
    if isinstance(listed, list):
        for option in listed:
            if isinstance(option, str) and option != value:
                return option
    return None


def _resolve(node: Any, shapes: str | None) -> Mapping[str, Any]:
    for _ in range(4):
        if not isinstance(node, Mapping):
            return {}
        ref = node.get("$ref")
        if isinstance(ref, str) and "#/$defs/" in ref:
            node = _schema(ref.rsplit("/", 1)[-1], shapes)
            continue
        branches = [b for b in node.get("anyOf", ()) if b != {"type": "null"}]
        if len(branches) == 1:
            node = branches[0]
            continue
        return node
    return {}


def _nested_listed(
    value: Mapping[str, Any], node: Mapping[str, Any], shapes: str | None, *, depth: int
) -> dict[str, Any] | None:
    """``{field: another listed value}`` somewhere inside a hash (Stripe names only what changed)."""
    properties = node.get("properties")
    if not isinstance(properties, Mapping):
        return None
    for key, item in value.items():
        sub = _resolve(properties.get(key), shapes)
        if "x-id-of" in sub or key == "type":
            continue
        if isinstance(item, str):
            other = _other_listed(sub, item)
            if other is not None:
                return {key: other}
        elif isinstance(item, dict) and depth > 0:
            nested = _nested_listed(item, sub, shapes, depth=depth - 1)
            if nested is not None:
                return {key: nested}
    return None


@functools.cache
def _schema(name: str, shapes: str | None) -> Mapping[str, Any]:
    try:
        return contracts.object_schema(name, version=shapes)
    except HarnessError:
        return {}


@functools.cache  # object_schema copies the schema: once per type and set
def _properties(object_type: str, shapes: str | None) -> Mapping[str, Any]:
    try:
        schema = contracts.object_schema(object_type, version=shapes)
    except HarnessError:
        return {}
    found = schema.get("properties")
    return found if isinstance(found, Mapping) else {}


def state_table(shapes: str | None = None) -> list[tuple[str, str, str, str, str, str]]:
    """(event type, object type, state, status it sets, how, source) for every type of a set.

    ``how``: ``table`` (:data:`EVENT_STATES`), ``derived`` (the type's last word is a status),
    ``silent`` (the docs do not say: the example's status) or ``none`` (the object has no status).
    """
    rows = []
    for event_type in contracts.supported_event_types(version=shapes):
        info = contracts.event_info(event_type, version=shapes)
        for object_type in info.objects:
            found = event_state(event_type, object_type, shapes)
            status = ""
            if found.state is not None:
                try:
                    status = states.state_of(object_type, found.state).status or ""
                except states.StateError:
                    status = ""
            rows.append(
                (event_type, object_type, found.state or "", status, found.how, found.source)
            )
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _shown(value: Any) -> str:
    if isinstance(value, states.At):
        if value.seconds == 0:
            return "the event's time"
        if value.seconds < 0:
            return f"{-value.seconds} s after the event"
        return f"{value.seconds} s before the event"
    if isinstance(value, states.Link):
        return f"its {value.object_type}'s id"
    if isinstance(value, states.Keep):
        return f"{_shown(value.value)} (unless it has one)"
    if isinstance(value, states.Copy):
        return f"`{value.field}`" + (f" + {value.plus}" if value.plus else "")
    if isinstance(value, states.Part):
        return f"part of `{value.field}`"
    if isinstance(value, dict):
        return "a hash (" + ", ".join(f"{k}: {_shown(v)}" for k, v in value.items()) + ")"
    return f"`{json.dumps(value)}`"


def markdown_tables(shapes: str | None = None) -> tuple[str, str]:
    """docs/states.md's two tables, from the data: event type -> state, and each state's fields."""
    lines = [
        "| event type | object | state | status | how | source |",
        "|---|---|---|---|---|---|",
    ]
    for event_type, object_type, state, status, how, source in state_table(shapes):
        shown_state = f"`{state}`" if state else "-"
        shown_status = f"`{status}`" if status else "-"
        lines.append(
            f"| `{event_type}` | {object_type} | {shown_state} | {shown_status} | {how} "
            f"| {_cell(source)} |"
        )
    events = "\n".join(lines)
    lines = ["| object | state | status | fields | source |", "|---|---|---|---|---|"]
    for object_type in states.state_objects():
        for name in states.known_states(object_type):
            rule = states.state_of(object_type, name)
            fields = "; ".join(f"`{path}`: {_shown(value)}" for path, value in rule.fields.items())
            status = f"`{rule.status}`" if rule.status else "-"
            lines.append(
                f"| {object_type} | `{name}` | {status} | {_cell(fields) or '-'} | {_cell(rule.source)} |"
            )
    return events, "\n".join(lines)
