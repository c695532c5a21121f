"""Identity verification sessions, test clocks, Issuing test transactions, report runs and billing meters' (de)activation on the fake: the actions of
:mod:`connect_harness.lifecycle.tools` (their creates, updates and deletes are the catalogue's
rule, :mod:`connect_harness.stripe_api.actions.catalogue`)."""

from __future__ import annotations

from connect_harness.stripe_api import bodies
from connect_harness.stripe_api.actions import ActionContext, ActionError, action
from connect_harness.stripe_api.actions.clocks import advance_attached
from connect_harness.stripe_api.actions.rules import Obj, carry_out, refuse_unless, rule_of, whole

__all__: list[str] = []


@action("identity.verification_session", "create")
def create_verification_session(ctx: ActionContext, _: Obj | None) -> Obj:
    created = ctx.generic()
    fresh = {"last_error": None, "last_verification_report": None, "redaction": None}
    ctx.set(created, {**fresh, "verified_outputs": None, "created": ctx.request.now})
    return carry_out(ctx, created, rule_of("identity.verification_session", "create"))


@action("identity.verification_session", "cancel")
def cancel_verification_session(ctx: ActionContext, session: Obj | None) -> Obj:
    assert session is not None
    return carry_out(ctx, session, rule_of(ctx.object_type, "cancel"))


@action("identity.verification_session", "redact")
def redact_verification_session(ctx: ActionContext, session: Obj | None) -> Obj:
    assert session is not None
    rule = rule_of(ctx.object_type, "redact")
    refuse_unless(rule, session)
    ctx.set(session, {"redaction": {"status": "redacted"}, "metadata": {}})
    return carry_out(ctx, session, rule)


@action("test_helpers.test_clock", "advance")
def advance_test_clock(ctx: ActionContext, clock: Obj | None) -> Obj:
    assert clock is not None
    rule = rule_of(ctx.object_type, "advance")
    refuse_unless(rule, clock)
    old = whole(clock.get("frozen_time")) or 0
    frozen_time = whole(ctx.params.get("frozen_time"))
    if frozen_time is not None and frozen_time <= old:
        message = (
            f"frozen_time {frozen_time} is not after test clock {clock.get('id')}'s frozen_time "
            f"{old}: a clock only moves forward; pass a later time."
        )
        body = bodies.error("invalid_request_error", message, param="frozen_time")
        raise ActionError(400, body)
    advancing = ctx.generic()
    ctx.set(advancing, {"status": "advancing"})
    if frozen_time is not None:
        ctx.set(advancing, {"frozen_time": frozen_time})
    advancing_event, ready_event = rule.emits
    ctx.emit(advancing_event, advancing)
    advance_attached(ctx, advancing, old, frozen_time if frozen_time is not None else old)
    ctx.set(advancing, {"status": "ready"})
    ctx.emit(ready_event, advancing)
    return advancing


@action("issuing.transaction", "create")
def create_issuing_transaction(ctx: ActionContext, _: Obj | None) -> Obj:
    """A test transaction; one given ``purchase_details.receipt`` also emits the receipt event."""
    created = ctx.generic()
    ctx.set(created, {"created": ctx.request.now})
    details = ctx.params.get("purchase_details")
    if isinstance(details, dict) and details.get("receipt"):
        for event_type in rule_of("issuing.transaction", "create_with_receipt").emits:
            ctx.emit(event_type, created)
        return created
    ctx.emit("issuing_transaction.created", created)  # the catalogue's rule, as without a handler
    return created


@action("reporting.report_run", "create")
def create_report_run(ctx: ActionContext, _: Obj | None) -> Obj:
    run = ctx.generic()
    ctx.set(run, {"created": ctx.request.now, "succeeded_at": ctx.request.now})
    return carry_out(ctx, run, rule_of("reporting.report_run", "create"))


@action("billing.meter", "deactivate")
def deactivate_meter(ctx: ActionContext, meter: Obj | None) -> Obj:
    assert meter is not None
    # status_transitions.deactivated_at: 'The time the meter was deactivated, if any'.
    ctx.set(meter, {"status_transitions": {"deactivated_at": ctx.request.now}})
    return carry_out(ctx, meter, rule_of(ctx.object_type, "deactivate"))


@action("billing.meter", "reactivate")
def reactivate_meter(ctx: ActionContext, meter: Obj | None) -> Obj:
    assert meter is not None
    ctx.set(meter, {"status_transitions": {"deactivated_at": None}})
    return carry_out(ctx, meter, rule_of(ctx.object_type, "reactivate"))


@action("billing.meter_event", "create")
def create_meter_event(ctx: ActionContext, _: Obj | None) -> Obj:
    """``POST /v1/billing/meter_events``: the event as sent. ``identifier``: 'If not provided, one
    is generated'; ``timestamp``: 'Defaults to current timestamp if not specified' (the
    parameters' descriptions). Whether Stripe checks it against a meter now or later the docs do
    not say: the fake takes it as it is and emits nothing."""
    created = ctx.generic()
    payload = ctx.params.get("payload")
    timestamp = whole(ctx.params.get("timestamp"))
    identifier = ctx.params.get("identifier")
    ctx.set(
        created,
        {
            "payload": dict(payload) if isinstance(payload, dict) else {},
            "identifier": identifier
            if isinstance(identifier, str) and identifier
            else f"{ctx.request_id or 'req'}-meter-event",
            "created": ctx.request.now,
            "timestamp": ctx.request.now if timestamp is None else timestamp,
        },
    )
    return created
