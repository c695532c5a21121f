"""A webhook client for tests: sign an event now, deliver it to the target, return what came back.

This is the piece behind the ``connect_client`` fixture: it is where signing (pure) meets the clock and
the network. Every send gets a fresh timestamp and signature, as every Stripe delivery attempt does.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from connect_harness import arguments
from connect_harness.delivery import AsgiTarget, Response, Target, UrlTarget, WsgiTarget, deliver
from connect_harness.errors import UsageError
from connect_harness.events.build import DEFAULT_CONNECTED_ACCOUNT, Event, build_event
from connect_harness.events.ids import stripe_id
from connect_harness.events.thin import ThinEvent
from connect_harness.wire.request import DEFAULT_URL, DeliveryRequest, request_for_event

if TYPE_CHECKING:
    from connect_harness.stripe_api.fake import FakeStripeAPI

__all__ = ["EventFactory", "WebhookClient"]


class EventFactory:
    """Builds the events of one test: ``connect_events("payout.failed", account="acct_...")``.

    Every event gets its own ``evt_`` id (and request id), derived from the run's ``seed``, the
    ``scope`` (the test's node id) and a counter within that test, so two tests about the same type and
    account never send the same id, and ids do not depend on test order or on the xdist worker. The
    objects events name still come from one world per ``seed``: two events about one account share it.
    Pass ``seed=`` or ``id=`` to fix an event's id yourself (a deliberate redelivery). Events are
    Connect events on :data:`~connect_harness.events.build.DEFAULT_CONNECTED_ACCOUNT` unless given
    ``account=`` (``account=None`` is a platform event), like the ``event`` command.
    """

    def __init__(self, seed: int, *, api_version: str | None = None, scope: str = "") -> None:
        if not isinstance(seed, str):  # a string seed is hashed, as build_event's
            arguments.whole_number("seed", seed)
        arguments.text("api_version", api_version, example="2026-10-28.endive", optional=True)
        arguments.text("scope", scope, example="tests/test_x.py::test_y")
        self.seed = seed
        self.api_version = api_version
        self.scope = scope
        self._counter = itertools.count()

    @overload
    def __call__(self, event_type: str, *, thin: Literal[False] = ..., **build: Any) -> Event: ...

    @overload
    def __call__(self, event_type: str, *, thin: Literal[True], **build: Any) -> ThinEvent: ...

    def __call__(self, event_type: str, *, thin: bool = False, **build: Any) -> Event | ThinEvent:
        """Build an event; ``thin=True`` builds the thin notification (``build_thin_event``)."""
        arguments.boolean("thin", thin)
        if "seed" not in build and "id" not in build:
            build["id"] = stripe_id("evt", self.seed, self.scope, next(self._counter))
        build.setdefault("seed", self.seed)
        build.setdefault("api_version", self.api_version)
        build.setdefault("account", DEFAULT_CONNECTED_ACCOUNT)
        if thin:
            from connect_harness.events.thin import build_thin_event

            return build_thin_event(event_type, **build)
        return build_event(event_type, **build)


class WebhookClient:
    """Signs and delivers events to one endpoint, registering their objects with the fake Stripe API.

    ``url`` is the request URL; for an in-process app only its path and query matter.
    """

    def __init__(
        self,
        target: Target,
        *,
        secret: str | Sequence[str],
        stripe_api: FakeStripeAPI | None = None,
        url: str = DEFAULT_URL,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
        events: Callable[..., Event] | None = None,
    ) -> None:
        arguments.instance(
            "target",
            target,
            (UrlTarget, WsgiTarget, AsgiTarget),
            hint="make one with target_from(url_or_app)",
        )
        arguments.texts("secret", secret, example="whsec_...")
        if stripe_api is not None and not hasattr(stripe_api, "register_event"):
            raise UsageError(f"stripe_api must be a FakeStripeAPI or None, not {stripe_api!r:.80}")
        arguments.text("url", url, example=DEFAULT_URL)
        arguments.seconds("timeout", timeout)
        arguments.callable_or_none("clock", clock)
        arguments.callable_or_none("events", events)
        self.target = target
        self.secrets = [secret] if isinstance(secret, str) else list(secret)
        self.stripe_api = stripe_api
        self.url = url
        self.timeout = timeout
        self._clock = clock
        self.events: Callable[..., Event] = events or build_event
        self._history_lock = threading.Lock()
        self.history: list[tuple[DeliveryRequest, Response]] = []

    def request_for(
        self,
        event: Event | ThinEvent,
        *,
        timestamp: int | None = None,
        secrets: Sequence[str] | None = None,
    ) -> DeliveryRequest:
        """The delivery request Stripe would send for ``event`` now (or at ``timestamp``)."""
        _check_event(event)
        return request_for_event(
            event,
            secrets=list(secrets) if secrets is not None else self.secrets,
            timestamp=int(self._clock()) if timestamp is None else timestamp,
            url=self.url,
        )

    def send(self, event: Event | ThinEvent | str, /, **build: Any) -> Response:
        """Sign ``event`` now and deliver it; given a type, build a new event first.

        A :class:`~connect_harness.events.thin.ThinEvent` is registered with the fake API (its full
        event and related object) and delivered the same way.

        A type is built by ``events`` (in the plugin: the run's seed, a fresh id per event). Sending
        an :class:`Event` that was sent before is a redelivery: same id, new timestamp and signature.
        """
        event = self._event(event, build)
        if self.stripe_api is not None:
            self.stripe_api.register_event(event)
        return self.deliver(self.request_for(event), label=f"{event.type} {event.id}")

    def redeliver(self, event: Event | ThinEvent) -> Response:
        """Deliver ``event`` again, as Stripe retries: the same id, a fresh timestamp and signature."""
        if not isinstance(event, (Event, ThinEvent)):
            raise UsageError(
                f"redeliver takes an Event that was built before, not {type(event).__name__}; "
                "build one with connect_events(...) and send it first"
            )
        return self.send(event)

    def send_concurrently(
        self, event: Event | ThinEvent | str, /, *, copies: int = 2
    ) -> list[Response]:
        """Deliver ``copies`` signed copies of one event at once (Stripe may deliver an event twice).

        Returns the responses in the order the copies were started.
        """
        if isinstance(copies, bool) or not isinstance(copies, int) or copies < 1:
            raise UsageError(f"copies {copies!r} must be a whole number, 1 or more; e.g. copies=2")
        event = self._event(event, {})
        if self.stripe_api is not None:
            self.stripe_api.register_event(event)
        requests = [self.request_for(event) for _ in range(copies)]
        responses: list[Response | None] = [None] * copies
        errors: list[BaseException] = []
        start = threading.Barrier(copies)

        def send_copy(index: int) -> None:
            try:
                start.wait()
                responses[index] = deliver(requests[index], self.target, timeout=self.timeout)
            except BaseException as err:  # re-raised in the caller's thread below
                errors.append(err)

        threads = [threading.Thread(target=send_copy, args=(n,)) for n in range(copies)]
        label = f"{event.type} {event.id} x{copies}"
        with self._delivery_scope(label):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        if errors:
            raise errors[0]
        done = [response for response in responses if response is not None]
        with self._history_lock:
            self.history.extend(zip(requests, done, strict=True))
        return done

    def _event(self, event: Event | ThinEvent | str, build: dict[str, Any]) -> Event | ThinEvent:
        if isinstance(event, str):
            return self.events(event, **build)
        _check_event(event)
        if build:
            raise UsageError(
                f"{', '.join(sorted(build))} go with an event type, not with a built "
                f"{type(event).__name__}; pass the type, e.g. send('payout.failed', livemode=True)"
            )
        return event

    def _delivery_scope(self, label: str) -> Any:
        if self.stripe_api is not None:
            return self.stripe_api.delivery(label)
        return contextlib.nullcontext()

    def deliver(self, request: DeliveryRequest, *, label: str | None = None) -> Response:
        """Deliver a prepared (possibly deliberately broken) request as it is."""
        arguments.instance(
            "request", request, DeliveryRequest, hint="make one with client.request_for(event)"
        )
        if self.stripe_api is not None:
            with self.stripe_api.delivery(label or "delivery"):
                response = deliver(request, self.target, timeout=self.timeout)
        else:
            response = deliver(request, self.target, timeout=self.timeout)
        self.history.append((request, response))
        return response


def _check_event(event: object) -> None:
    arguments.instance(
        "event",
        event,
        (Event, ThinEvent),
        hint="pass an event type such as 'payout.failed' or an event built with connect_events(...)",
    )
