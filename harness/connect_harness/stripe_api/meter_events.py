"""Billing meter events on the fake's v2 side: the meter event session, the stream it authenticates,
and the thin events Stripe sends when it cannot take a meter event.

What each part follows (Stripe's v2 description, ``../shared/stripe-spec/openapi.v2.preview.*``):

- ``POST /v2/billing/meter_event_session`` "Creates a meter event session to send usage on the
  high-throughput meter event stream. Authentication tokens are only valid for 15 minutes": the
  answer is a ``v2.billing.meter_event_session`` (``id``, ``authentication_token``, ``created``,
  ``expires_at`` = ``created`` + 15 minutes, ``livemode``), made with a secret key and bound to the
  account it acts as (``Stripe-Account``/``Stripe-Context``) and the key's mode.
- ``POST /v2/billing/meter_event_stream`` (stripe-python's ``meter_events`` base address, Stripe's
  ``https://meter-events.stripe.com``) takes ``{"events": [...]}`` as JSON with the session's token
  as the bearer key. "Events are processed asynchronously, including validation": the answer is
  ``{}`` and what the meters cannot take is reported by thin events. A token the fake never issued
  is a 401; an expired one is the description's ``billing_meter_event_session_expired`` 401 (type
  ``temporary_session_expired``).
- ``POST /v2/billing/meter_events`` "Events are validated synchronously": the description's error
  codes (``no_meter``, ``archived_meter``, ``payload_no_customer_defined``,
  ``payload_no_value_defined``, ``payload_invalid_value``, ``duplicate_meter_event``) as 400s;
  a customer id no customer has is not among them and is reported asynchronously, as on the stream.

The asynchronous reports: an event whose ``event_name`` no active-or-inactive meter has is
``no_meter`` in ``v1.billing.meter.no_meter_found`` ("Occurs when a Meter's id is missing or
invalid in async usage events", no related object); an event a meter cannot take is reported in
``v1.billing.meter.error_report_triggered`` ("Occurs when a Meter has invalid async usage events")
whose related object is the meter, one per meter. Each reason's ``code`` is one of the description's
``error_types[].code`` values, each sample error's ``request.identifier`` the event's
``identifier``. The description does not order the two events: the fake sends ``no_meter_found``
first, then one report per meter in the order their first bad event came.
"""

from __future__ import annotations

import datetime
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connect_harness.events.build import render_body
from connect_harness.events.ids import stripe_id
from connect_harness.events.thin import ThinEvent, build_thin_event, iso_created
from connect_harness.lifecycle.emissions import emission
from connect_harness.stripe_api.dispatch import Answer
from connect_harness.stripe_api.scoping import Context
from connect_harness.stripe_api.store import Store

__all__ = [
    "SESSION_PATH",
    "SESSION_SECONDS",
    "STREAM_PATH",
    "SYNC_PATH",
    "MeterEvents",
    "Session",
]

SESSION_PATH = "/v2/billing/meter_event_session"
STREAM_PATH = "/v2/billing/meter_event_stream"
SYNC_PATH = "/v2/billing/meter_events"
#: "Authentication tokens are only valid for 15 minutes" (the session create's description).
SESSION_SECONDS = 15 * 60
#: "Must be within the past 35 calendar days or up to 5 minutes in the future" (``timestamp``).
_PAST_SECONDS = 35 * 24 * 3600
_FUTURE_SECONDS = 5 * 60

# The description's v2 error schemas for the synchronous create (code -> what it says).
_SYNC_CODES = {
    "no_meter": "A meter must exist to submit events.",
    "archived_meter": "The meter must be Active to submit events.",
    "payload_no_customer_defined": "The payload must contain the meter's customer key",
    "payload_no_value_defined": "The payload must contain the meter's value key",
    "payload_invalid_value": "The meter event's value must be a number",
    "duplicate_meter_event": "A meter event with a duplicate identifier has already been submitted.",
}
# The same problems as the asynchronous reports name them (error_types[].code).
_ASYNC_CODES = {
    "no_meter": "no_meter",
    "archived_meter": "archived_meter",
    "payload_no_customer_defined": "meter_event_no_customer_defined",
    "payload_no_value_defined": "meter_event_invalid_value",
    "payload_invalid_value": "meter_event_invalid_value",
}


@dataclass(frozen=True)
class Session:
    """A meter event session: the account it acts as, its mode and when its token expires."""

    id: str
    token: str
    owner: str | None
    livemode: bool
    expires_at: int


@dataclass(frozen=True)
class _Problem:
    code: str  # error_types[].code
    message: str
    identifier: str
    meter: Mapping[str, Any] | None


def v2_error(status: int, error_type: str, code: str, message: str) -> Answer:
    """Stripe's v2 error shape (``{"error": {"type", "code", "message"}}``)."""
    return Answer(status, {"error": {"type": error_type, "code": code, "message": message}})


class MeterEvents:
    """The sessions one fake issued and the meter events it took (identifiers, for duplicates)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._identifiers: set[tuple[str | None, bool, str]] = set()
        self._count = 0
        self._pending: list[ThinEvent] = []

    def reset(self) -> None:
        with self._lock:
            self._sessions.clear()
            self._identifiers.clear()
            self._count = 0
            self._pending.clear()

    @staticmethod
    def serves(method: str, path: str) -> bool:
        """Whether this answers the request (the three meter event writes)."""
        return method == "POST" and path in (SESSION_PATH, STREAM_PATH, SYNC_PATH)

    def answer(self, path: str, body: Any, context: Context, now: int, request_id: str) -> Answer:
        """Answer one of :meth:`serves`' requests as ``context``; the reports it makes wait for
        :meth:`take_reports`. The stream's ``context`` is its session's (the server checks the
        token with :meth:`session_for`)."""
        if path == SESSION_PATH:
            return self.create_session(context.account, context.live, now)
        if path == STREAM_PATH:
            with self._lock:
                session = self._sessions.get(context.key)
            if session is None:  # the server authenticates the stream by its token
                return v2_error(
                    401,
                    "invalid_request_error",
                    "authentication_failed",
                    "The meter event stream takes a meter event session's token",
                )
            answer, reports = self.stream(body, session, now, request_id)
        else:
            answer, reports = self.create(body, context.account, context.live, now, request_id)
        with self._lock:
            self._pending.extend(reports)
        return answer

    def take_reports(self) -> list[ThinEvent]:
        """The thin events the last requests made, in order, and forget them."""
        with self._lock:
            reports, self._pending = self._pending, []
        return reports

    def session_for(self, authorization: str | None, now: int) -> Session | Answer:
        """The session a stream request's ``Authorization: Bearer <token>`` names, or its 401."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        with self._lock:
            session = self._sessions.get(token.strip()) if scheme.lower() == "bearer" else None
        if session is None:
            return v2_error(
                401,
                "invalid_request_error",
                "authentication_failed" if token.strip() else "authentication_required",
                "The meter event stream takes a meter event session's authentication_token as its "
                "bearer key (POST /v2/billing/meter_event_session), not a secret key or another "
                "token",
            )
        if now >= session.expires_at:
            return v2_error(
                401,
                "temporary_session_expired",
                "billing_meter_event_session_expired",
                f"The meter event session {session.id} expired at "
                f"{iso_created(session.expires_at)}; create a new meter event session",
            )
        return session

    def create_session(self, owner: str | None, livemode: bool, now: int) -> Answer:
        """``POST /v2/billing/meter_event_session``: a session for ``owner`` in that mode."""
        with self._lock:
            self._count += 1
            mode = "" if livemode else "test_"
            # The docs' example ids are placeholders; these prefixes are the fake's own.
            session = Session(
                id=f"mes_{mode}{stripe_id('mes', 'session', self._count, owner)[4:]}",
                token=f"mest_{mode}{secrets.token_hex(16)}",
                owner=owner,
                livemode=livemode,
                expires_at=now + SESSION_SECONDS,
            )
            self._sessions[session.token] = session
        body = {
            "id": session.id,
            "object": "v2.billing.meter_event_session",
            "authentication_token": session.token,
            "created": iso_created(now),
            "expires_at": iso_created(session.expires_at),
            "livemode": livemode,
        }
        return Answer(200, body, object_id=session.id, object_type="v2.billing.meter_event_session")

    def stream(
        self, body: Any, session: Session, now: int, request_id: str
    ) -> tuple[Answer, list[ThinEvent]]:
        """``POST /v2/billing/meter_event_stream``: ``{}``, and the thin events reporting what the
        meters cannot take."""
        events = body.get("events") if isinstance(body, Mapping) else None
        if not isinstance(events, list) or not events:
            return _bad_body("events", "a non-empty array of meter events"), []
        problems: list[_Problem] = []
        for index, event in enumerate(events):
            shape = _shape_problem(event, f"events[{index}]")
            if shape is not None:
                return shape, []
        for index, event in enumerate(events):
            identifier = str(event.get("identifier") or f"{request_id}-{index}")
            problem = self._check(event, session.owner, session.livemode, now)
            if problem is None:
                continue
            code, message, meter = problem
            if code == "duplicate_meter_event":
                continue  # the stream drops a repeated identifier; the description reports none
            problems.append(_Problem(_ASYNC_CODES.get(code, code), message, identifier, meter))
        return Answer(200, {}), self._reports(problems, session.owner, session.livemode, now)

    def create(
        self, body: Any, owner: str | None, livemode: bool, now: int, request_id: str
    ) -> tuple[Answer, list[ThinEvent]]:
        """``POST /v2/billing/meter_events``: validated now, a customer's existence later."""
        if not isinstance(body, Mapping):
            return _bad_body("the body", "a JSON object"), []
        shape = _shape_problem(body, "the body")
        if shape is not None:
            return shape, []
        problem = self._check(body, owner, livemode, now)
        identifier = str(body.get("identifier") or request_id)
        if problem is not None and problem[0] in _SYNC_CODES:
            code, message, _ = problem
            return v2_error(400, "invalid_request_error", code, message), []
        timestamp = _timestamp(body.get("timestamp"), now)
        answer = Answer(
            200,
            {
                "object": "v2.billing.meter_event",
                "created": iso_created(now),
                "event_name": body["event_name"],
                "identifier": identifier,
                "livemode": livemode,
                "payload": dict(body["payload"]),
                "timestamp": iso_created(timestamp if timestamp is not None else now),
            },
            object_type="v2.billing.meter_event",
        )
        if problem is None:
            return answer, []
        code, message, meter = problem
        return answer, self._reports(
            [_Problem(code, message, identifier, meter)], owner, livemode, now
        )

    # --- validation ------------------------------------------------------------------------------

    def _check(
        self, event: Mapping[str, Any], owner: str | None, livemode: bool, now: int
    ) -> tuple[str, str, Mapping[str, Any] | None] | None:
        """(code, message, meter) for what the meter cannot take, else None (and the event is
        taken: its identifier is remembered)."""
        name = str(event["event_name"])
        payload: Mapping[str, Any] = event["payload"]
        meter = self._meter(name, owner, livemode)
        if meter is None:
            return "no_meter", f"No meter has the event_name '{name}'", None
        if meter.get("status") == "inactive":
            return "archived_meter", f"The meter {meter.get('id')} is inactive", meter
        customer_key = _key(meter, "customer_mapping", "stripe_customer_id")
        value_key = _key(meter, "value_settings", "value")
        if customer_key not in payload:
            return (
                "payload_no_customer_defined",
                f"The payload has no '{customer_key}' (the meter's customer_mapping."
                "event_payload_key)",
                meter,
            )
        formula = (meter.get("default_aggregation") or {}).get("formula")
        if formula != "count":
            if value_key not in payload:
                return (
                    "payload_no_value_defined",
                    f"The payload has no '{value_key}' (the meter's value_settings."
                    "event_payload_key)",
                    meter,
                )
            if not _number(payload[value_key]):
                return (
                    "payload_invalid_value",
                    f"The payload's '{value_key}' is {payload[value_key]!r}, not a number",
                    meter,
                )
        timestamp = _timestamp(event.get("timestamp"), now)
        if timestamp is not None and timestamp > now + _FUTURE_SECONDS:
            return "timestamp_in_future", "The timestamp is more than 5 minutes ahead", meter
        if timestamp is not None and timestamp < now - _PAST_SECONDS:
            return "timestamp_too_far_in_past", "The timestamp is older than 35 days", meter
        identifier = event.get("identifier")
        with self._lock:
            if isinstance(identifier, str):
                if (owner, livemode, identifier) in self._identifiers:
                    return "duplicate_meter_event", _SYNC_CODES["duplicate_meter_event"], meter
                self._identifiers.add((owner, livemode, identifier))
        customer = str(payload[customer_key])
        found = self._store.objects.get(customer)
        if found is None or found.deleted or found.type != "customer" or found.owner != owner:
            return (
                "meter_event_customer_not_found",
                f"No such customer: '{customer}'",
                meter,
            )
        return None

    def _meter(self, name: str, owner: str | None, livemode: bool) -> dict[str, Any] | None:
        for stored in self._store.visible(frozenset({"billing.meter"}), owner, livemode):
            meter = self._store.materialize(stored)
            if meter.get("event_name") == name:
                return meter
        return None

    # --- the reports ---------------------------------------------------------------------------

    def _reports(
        self, problems: list[_Problem], owner: str | None, livemode: bool, now: int
    ) -> list[ThinEvent]:
        no_meter = [problem for problem in problems if problem.meter is None]
        by_meter: dict[str, list[_Problem]] = {}
        for problem in problems:
            if problem.meter is not None:
                by_meter.setdefault(str(problem.meter.get("id")), []).append(problem)
        reports: list[ThinEvent] = []
        if no_meter:
            (event_type,) = emission("billing.meter_event", "stream", "no_meter").events
            reports.append(self._report(event_type, no_meter, None, owner, livemode, now))
        (event_type,) = emission("billing.meter_event", "stream", "invalid").events
        for meter_id, found in by_meter.items():
            related = {
                "id": meter_id,
                "type": "billing.meter",
                "url": f"/v1/billing/meters/{meter_id}",
            }
            reports.append(self._report(event_type, found, related, owner, livemode, now))
        return reports

    def _report(
        self,
        event_type: str,
        problems: list[_Problem],
        related: dict[str, Any] | None,
        owner: str | None,
        livemode: bool,
        now: int,
    ) -> ThinEvent:
        with self._lock:
            self._count += 1
            count = self._count
        event_id = stripe_id("evt", "meter-report", count, event_type, owner)
        base = build_thin_event(
            event_type, account=owner, livemode=livemode, created=now, id=event_id
        )
        payload = {key: value for key, value in base.payload.items() if key != "related_object"}
        if related is not None:
            payload["related_object"] = related
        codes: dict[str, list[_Problem]] = {}
        for problem in problems:
            codes.setdefault(problem.code, []).append(problem)
        reason = {
            "error_count": len(problems),
            "error_types": [
                {
                    "code": code,
                    "error_count": len(items),
                    "sample_errors": [
                        {"error_message": item.message, "request": {"identifier": item.identifier}}
                        for item in items[:5]
                    ],
                }
                for code, items in codes.items()
            ],
        }
        summary = "; ".join(f"{len(items)} x {code}" for code, items in codes.items())
        full_event = {
            **payload,
            # stripe-python's fetch_related_object reads ``context`` (None: the platform).
            "context": owner,
            "data": {
                "developer_message_summary": f"{len(problems)} invalid meter event(s): {summary}",
                "reason": reason,
                "validation_end": iso_created(now),
                "validation_start": iso_created(now),
            },
            "reason": None,
        }
        return ThinEvent(
            type=base.type,
            payload=payload,
            body=render_body(payload),
            full_event=full_event,
            seed=base.seed,
        )


def _key(meter: Mapping[str, Any], setting: str, default: str) -> str:
    value = (meter.get(setting) or {}).get("event_payload_key")
    return value if isinstance(value, str) and value else default


def _number(value: Any) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def _timestamp(value: Any, now: int) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return int(moment.timestamp())


def _bad_body(where: str, wanted: str) -> Answer:
    return v2_error(400, "invalid_request_error", "invalid_request", f"{where} must be {wanted}")


def _shape_problem(event: Any, where: str) -> Answer | None:
    """The 400 for a meter event that is not the description's shape (``event_name`` text,
    ``payload`` an object of text values, ``identifier``/``timestamp`` text), else None."""
    if not isinstance(event, Mapping):
        return _bad_body(where, "an object with event_name and payload")
    if not isinstance(event.get("event_name"), str) or not event["event_name"]:
        return _bad_body(f"{where}.event_name", "the meter's event_name (text)")
    payload = event.get("payload")
    if not isinstance(payload, Mapping) or not all(isinstance(v, str) for v in payload.values()):
        return _bad_body(f"{where}.payload", "an object of text values")
    for name in ("identifier", "timestamp"):
        if name in event and not isinstance(event[name], str):
            return _bad_body(f"{where}.{name}", "text")
    if "timestamp" in event and _timestamp(event["timestamp"], 0) is None:
        return _bad_body(f"{where}.timestamp", "an RFC 3339 date-time")
    return None
