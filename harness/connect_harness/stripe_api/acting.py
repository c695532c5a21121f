"""The dispatcher's side of :mod:`connect_harness.stripe_api.actions`: which handler acts on a
request, the context it runs in, what it answers, and the events the request's actions emitted.

One :class:`Acting` per fake, used under the fake's lock: :meth:`Acting.begin` names the request
being served (its id, idempotency key, the version events are rendered in, its time), the
dispatcher runs handlers through :meth:`Acting.run`, and the server takes the request's emitted
events with :meth:`Acting.take_emitted` once the answer is computed. Without a request begun (a
dispatcher used on its own), no handler runs and the dispatcher keeps its generic behaviour.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connect_harness.stripe_api.actions import (
    ActionContext,
    ActionError,
    Handler,
    Pending,
    Request,
    handler_for,
)
from connect_harness.stripe_api.actions.catalogue import catalogue_handler
from connect_harness.stripe_api.store import Store

if TYPE_CHECKING:
    from connect_harness.stripe_api.dispatch import Answer

__all__ = ["Acting", "Target"]


@dataclass(frozen=True)
class Target:
    """What a handler acts on: the type and verb, the object (None for a create), who owns it."""

    object_type: str
    verb: str
    obj: dict[str, Any] | None
    owner: str | None
    live: bool


class Acting:
    """Runs the handlers of one fake's requests and keeps what they emit."""

    def __init__(self, store: Store, platform: str) -> None:
        self._store = store
        self._platform = platform
        self._request: Request | None = None
        self._emitted: list[Pending] = []

    def begin(self, request: Request) -> None:
        """The request the next dispatch serves (its id, idempotency key, version, time)."""
        self._request = request
        self._emitted = []

    def take_emitted(self) -> list[Pending]:
        """The events the request's actions emitted, in order, and forget them."""
        emitted, self._emitted = self._emitted, []
        return emitted

    def handler(self, object_type: str, verb: str) -> Handler | None:
        """The handler of ``verb`` on ``object_type`` (None: none, or no request begun); a type
        without one of its own emits what the catalogue's text says the verb causes
        (:mod:`connect_harness.stripe_api.actions.catalogue`)."""
        if self._request is None:
            return None
        return handler_for(object_type, verb) or catalogue_handler(object_type, verb)

    def named(
        self,
        types: frozenset[str],
        name: str,
        values: Mapping[str, str],
        owner: str | None,
        live: bool,
    ) -> str | None:
        """The id of the object a test name in a path makes (by a type's ``name`` handler)."""
        from connect_harness.stripe_api.dispatch import Answer

        for object_type in sorted(types):
            handler = self.handler(object_type, "name")
            if handler is None:
                continue
            answer = self.run(
                handler,
                Target(object_type, "name", None, owner, live),
                Answer(404, {}),
                {"name": name},
                values,
                lambda: Answer(404, {}),
            )
            found = answer.body.get("id") if answer.status == 200 else None
            if isinstance(found, str):
                return found
        return None

    def run(
        self,
        handler: Handler,
        target: Target,
        answer: Answer,
        params: dict[str, Any],
        values: Mapping[str, str],
        generic: Callable[[], Answer],
    ) -> Answer:
        """Run ``handler`` on ``target``; ``answer`` (what the dispatcher found) becomes its
        answer: the object it returns, or the error it raised. ``generic`` is the dispatcher's
        own behaviour for the request, which the handler may run (:meth:`ActionContext.generic`)."""
        assert self._request is not None
        ran: list[Answer] = []

        def run_generic() -> dict[str, Any]:
            done = generic()
            ran.append(done)
            if done.status != 200:
                raise ActionError(done.status, done.body)
            return done.body

        context = ActionContext(
            store=self._store,
            platform=self._platform,
            owner=target.owner,
            live=target.live,
            object_type=target.object_type,
            verb=target.verb,
            params=params,
            path_values=values,
            request=self._request,
            generic=run_generic,
            emitted=self._emitted,
        )
        try:
            obj = handler(context, target.obj)
        except ActionError as err:
            answer.status, answer.body, answer.stored = err.status, err.body, None
            return answer
        if ran and ran[-1].body is obj:
            return ran[-1]
        stored = self._store.objects.get(str(obj.get("id"))) if obj.get("id") else None
        answer.status, answer.body, answer.stored = 200, obj, stored
        answer.object_type = str(obj.get("object", target.object_type))
        if stored is not None:
            answer.object_id, answer.object_owner = stored.object_id, stored.owner
            answer.object_livemode = stored.livemode
        return answer
