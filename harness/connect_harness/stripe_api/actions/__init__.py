"""What the fake Stripe API *does* when asked: handlers per (object type, verb) that move objects
through Stripe's lifecycles, refuse with Stripe's errors and emit Stripe's events.

A handler is registered with :func:`action` for an object type and a verb (``create``, ``update``,
``delete`` or an action's name: ``confirm``, ``capture``, ``cancel`` ...). The dispatcher consults
it before its generic behaviour (which the handler may still run, :meth:`ActionContext.generic`).
It receives an :class:`ActionContext` (the store as the asking context sees it, the request's
params, id, idempotency key and API version) and the object it acts on (None for ``create``),
and returns the object to answer with, or raises :class:`ActionError` with Stripe's error body.

The data a handler follows lives in :mod:`connect_harness.lifecycle`: the allowed states and
Stripe's state errors in ``transitions.py``, which events each outcome emits in ``emissions.py``.

Handlers live in the modules of this package (``payments.py`` ...); every module in it is imported
once, on first use, so a new module registers itself by existing.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connect_harness.errors import HarnessError
from connect_harness.lifecycle.emissions import emission
from connect_harness.lifecycle.transitions import transition
from connect_harness.stripe_api import bodies
from connect_harness.stripe_api.store import Store, Stored

__all__ = [
    "ActionContext",
    "ActionError",
    "Handler",
    "Pending",
    "Request",
    "action",
    "handler_for",
    "previous_attributes",
    "state_error",
    "update_emitting_changes",
]

#: (context, the object acted on or None for create) -> the object to answer with.
Handler = Callable[["ActionContext", "dict[str, Any] | None"], "dict[str, Any]"]

_HANDLERS: dict[tuple[str, str], Handler] = {}
_LOADED = False


def action(object_type: str, verb: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of ``verb`` on ``object_type``.

    What the handler left for later (:meth:`ActionContext.later`) is carried out once it returns,
    after the request's own events; the request is answered with the object as the handler
    returned it, before that.
    """

    def register(handler: Handler) -> Handler:
        key = (object_type, verb)
        registered = _HANDLERS.get(key)
        if registered is not None and getattr(registered, "__wrapped__", None) is not handler:
            raise HarnessError(f"two handlers for {object_type} {verb}")
        _HANDLERS[key] = functools.wraps(handler)(_then_later(handler))
        return handler

    return register


def _then_later(handler: Handler) -> Handler:
    def run(ctx: ActionContext, obj: dict[str, Any] | None) -> dict[str, Any]:
        answer = handler(ctx, obj)
        if not ctx.afterwards:
            return answer
        answered = copy.deepcopy(answer)
        while ctx.afterwards:
            ctx.afterwards.pop(0)()
        return answered

    return run


def handler_for(object_type: str, verb: str) -> Handler | None:
    """The handler of ``verb`` on ``object_type``, or None (the dispatcher's generic behaviour)."""
    _load()
    return _HANDLERS.get((object_type, verb))


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


@dataclass(frozen=True)
class Request:
    """What the fake knows of the request being served, beyond its route and params."""

    #: None on what Stripe does later on its own: the event's ``request.id`` is then null ("If
    #: null, the event was automatic", the description's ``request.id``).
    request_id: str | None
    idempotency_key: str | None
    #: The version events are rendered in: the fake's ``api_version`` (the endpoint's).
    api_version: str
    #: The request's arrival, in seconds since the epoch (read by the server, the edge).
    now: int


@dataclass
class Pending:
    """An event an action emitted, not rendered yet: its type, a snapshot of its object, who owns it."""

    type: str
    obj: dict[str, Any]
    owner: str | None
    livemode: bool
    request: Request
    previous_attributes: dict[str, Any] | None = None


class ActionError(Exception):
    """Stripe refuses the request: ``status`` and the error ``body`` it answers with.

    Objects the action changed before refusing stay changed, and events it emitted are still sent
    (a declined confirm leaves a payment intent with ``last_payment_error`` and emits
    ``payment_intent.payment_failed``), as on Stripe.
    """

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(str(body.get("error", {}).get("message", "")))
        self.status = status
        self.body = body


def state_error(
    object_type: str, verb: str, obj: Mapping[str, Any], state: str | None = None
) -> ActionError | None:
    """Stripe's error for ``verb`` on ``obj`` in its current state (None: the state allows it).

    The allowed states, the status and the error code come from
    :data:`connect_harness.lifecycle.transitions.TRANSITIONS`; a verb without a row is allowed.
    ``state`` names the state where no one field holds it (a payment method is ``attached`` or
    ``detached``); else the row's field is read.
    """
    row = transition(object_type, verb)
    if row is None:
        return None
    if state is None:
        state = _state_text(obj.get(row.field))
    if row.allows(state):
        return None
    object_id = str(obj.get("id", ""))
    message = row.refusal(object_id=object_id, state=state)
    extra: dict[str, Any] = {}
    if row.code is not None:
        extra["code"] = row.code
        extra["doc_url"] = "https://stripe.com/docs/error-codes/" + row.code.replace("_", "-")
    body = bodies.error("invalid_request_error", message, **extra)
    if object_type in ("payment_intent", "setup_intent"):
        body["error"][object_type] = copy.deepcopy(dict(obj))
    return ActionError(row.status, body)


def previous_attributes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """``previous_attributes``: each top-level field that changed, with its value before; a
    changed hash gives only its changed keys (a removed metadata key's previous value, an added
    one's ``null``), as Stripe's events do."""
    previous: dict[str, Any] = {}
    for name, value in before.items():
        now = after.get(name)
        if now == value:
            continue
        if isinstance(value, dict) and isinstance(now, dict):
            inner = {
                key: value.get(key) for key in {*value, *now} if value.get(key) != now.get(key)
            }
            previous[name] = dict(sorted(inner.items()))
        else:
            previous[name] = copy.deepcopy(value)
    return previous


def update_emitting_changes(ctx: ActionContext, obj: dict[str, Any]) -> dict[str, Any]:
    """The generic update of ``obj``, emitting its ``*.updated`` with ``previous_attributes`` when
    something changed (an update that changes nothing emits nothing)."""
    before = copy.deepcopy(obj)
    updated = ctx.generic()
    previous = previous_attributes(before, updated)
    if previous:
        ctx.emit_outcome("ok", updated, previous_attributes=previous)
    return updated


def _state_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@dataclass
class ActionContext:
    """What a handler sees and may do: the store as the asking context sees it, the request."""

    store: Store
    platform: str
    #: The connected account acting (None: the platform) and the key's mode.
    owner: str | None
    live: bool
    object_type: str
    verb: str
    params: dict[str, Any]
    #: The path's parameters (``{"customer": "cus_..."}`` for ``/v1/customers/{customer}/...``).
    path_values: Mapping[str, str]
    request: Request
    #: Runs the dispatcher's own behaviour for this request and returns its answer's body, or
    #: raises :class:`ActionError` with its error.
    generic: Callable[[], dict[str, Any]]
    emitted: list[Pending] = field(default_factory=list)
    #: What Stripe does later on its own, left by the handler (:meth:`later`); run in order once
    #: the handler returns.
    afterwards: list[Callable[[], None]] = field(default_factory=list)

    @property
    def request_id(self) -> str | None:
        return self.request.request_id

    @property
    def idempotency_key(self) -> str | None:
        return self.request.idempotency_key

    @property
    def api_version(self) -> str:
        return self.request.api_version

    # --- objects ---------------------------------------------------------------------------------

    def find(self, object_id: Any, object_type: str | None = None) -> dict[str, Any] | None:
        """The object ``object_id`` as the asking context sees it (None: Stripe would say no such)."""
        stored = self._visible(object_id, object_type)
        return None if stored is None else self.store.materialize(stored)

    def require(self, object_id: Any, object_type: str, param: str) -> dict[str, Any]:
        """:meth:`find`, or Stripe's 404 ``resource_missing`` naming ``param``."""
        found = self.find(object_id, object_type)
        if found is None:
            body = bodies.no_such(object_type.replace("_", " "), str(object_id))
            body["error"]["param"] = param
            raise ActionError(404, body)
        return found

    def _visible(self, object_id: Any, object_type: str | None) -> Stored | None:
        if not isinstance(object_id, str):
            return None
        stored = self.store.objects.get(object_id)
        if stored is None or stored.deleted:
            return None
        if object_type is not None and stored.type != object_type:
            return None
        if stored.owner != self.owner and not stored.shared:
            return None
        if stored.livemode is not None and stored.livemode != self.live:
            return None
        return stored

    def create(self, object_type: str, fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A new object of ``object_type`` owned by the asking context, with ``fields`` set.

        The object starts from the contracts' example of the type (every field present); only
        fields it has are set, so an object never grows a field Stripe does not render.
        """
        stored = self.store.create(object_type, self.owner, self.live)
        obj = self.store.materialize(stored)
        self.set(obj, fields or {})
        return obj

    @staticmethod
    def set(obj: dict[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
        """Set ``fields`` that ``obj`` has; returns the previous values of those that changed."""
        previous: dict[str, Any] = {}
        for name, value in fields.items():
            if name not in obj:
                continue
            if obj[name] != value:
                previous[name] = copy.deepcopy(obj[name])
            obj[name] = value
        return previous

    def note(self, obj: Mapping[str, Any], fact: str) -> None:
        """Remember ``fact`` of ``obj`` where no field of it shows it (``detached``)."""
        self.store.notes.setdefault(str(obj.get("id")), set()).add(fact)

    def noted(self, obj: Mapping[str, Any], fact: str) -> bool:
        return fact in self.store.notes.get(str(obj.get("id")), set())

    def forget(self, obj: Mapping[str, Any]) -> None:
        """Remove ``obj`` (a create that Stripe refuses leaves nothing behind)."""
        object_id = obj.get("id")
        if isinstance(object_id, str):
            self.store.objects.pop(object_id, None)

    # --- refusing --------------------------------------------------------------------------------

    def check_state(
        self,
        obj: Mapping[str, Any],
        verb: str | None = None,
        *,
        state: str | None = None,
        object_type: str | None = None,
    ) -> None:
        """Raise Stripe's state error when ``obj``'s state (or ``state``) does not allow the verb.

        ``verb`` and ``object_type`` default to the request's; a refund checks its charge's state
        with ``object_type="charge", verb="refund"``.
        """
        error = state_error(object_type or self.object_type, verb or self.verb, obj, state)
        if error is not None:
            raise error

    # --- emitting --------------------------------------------------------------------------------

    def emit(
        self,
        event_type: str,
        obj: Mapping[str, Any],
        previous_attributes: Mapping[str, Any] | None = None,
    ) -> None:
        """Emit ``event_type`` carrying a snapshot of ``obj`` as it is now."""
        self.emitted.append(
            Pending(
                event_type,
                copy.deepcopy(dict(obj)),
                self.owner,
                self.live,
                self.request,
                copy.deepcopy(dict(previous_attributes)) if previous_attributes else None,
            )
        )

    # --- later, on Stripe's own ------------------------------------------------------------------

    def later(self, step: Callable[[], None]) -> None:
        """Leave ``step`` for later: what Stripe does on its own after the request (a debit's
        outcome, a refund failing, dispute funds). The fake does it at once, after the request's
        own events and with the answer already taken; its events carry no request (``request.id``
        null, as Stripe's automatic events do)."""
        self.afterwards.append(step)

    def emit_later(
        self,
        event_type: str,
        obj: Mapping[str, Any],
        previous_attributes: Mapping[str, Any] | None = None,
    ) -> None:
        """Emit ``event_type`` as Stripe's own doing, not the request's (no ``request.id``)."""
        on_its_own = dataclasses.replace(self.request, request_id=None, idempotency_key=None)
        self.emitted.append(
            Pending(
                event_type,
                copy.deepcopy(dict(obj)),
                self.owner,
                self.live,
                on_its_own,
                copy.deepcopy(dict(previous_attributes)) if previous_attributes else None,
            )
        )

    def emit_outcome_later(
        self,
        outcome: str,
        *objects: Mapping[str, Any],
        verb: str,
        object_type: str | None = None,
        previous_attributes: Mapping[str, Any] | None = None,
    ) -> None:
        """:meth:`emit_outcome`, as Stripe's own doing (:meth:`emit_later`)."""
        row = emission(object_type or self.object_type, verb, outcome)
        for event_type in row.events:
            updated = event_type.endswith(".updated")
            self.emit_later(
                event_type,
                _object_for(event_type, objects),
                previous_attributes if updated else None,
            )

    def emit_outcome(
        self,
        outcome: str,
        *objects: Mapping[str, Any],
        verb: str | None = None,
        object_type: str | None = None,
        previous_attributes: Mapping[str, Any] | None = None,
    ) -> None:
        """Emit the events :mod:`connect_harness.lifecycle.emissions` lists for ``outcome``.

        Each event carries the one of ``objects`` whose ``object`` field is its type's object (a
        ``charge.*`` event the charge); ``previous_attributes`` goes with ``*.updated`` events.
        """
        row = emission(object_type or self.object_type, verb or self.verb, outcome)
        for event_type in row.events:
            obj = _object_for(event_type, objects)
            updated = event_type.endswith(".updated")
            self.emit(event_type, obj, previous_attributes if updated else None)


def _object_for(event_type: str, objects: tuple[Mapping[str, Any], ...]) -> Mapping[str, Any]:
    """The one of ``objects`` whose type the event type's ``data.object`` is (the description's
    event catalogue says which: ``charge.dispute.created`` carries a dispute)."""
    from connect_harness.spec import contracts

    try:
        wanted: tuple[str, ...] = contracts.event_info(event_type).objects
    except HarnessError:  # a type the newest contracts lack: its name's first part
        wanted = (event_type.rsplit(".", 1)[0],)
    for obj in objects:
        if obj.get("object") in wanted:
            return obj
    raise HarnessError(f"no {wanted} handed over to emit {event_type}")
