"""A webhook client for tests: sign an event now, deliver it to the target, return what came back.

This is the piece behind the ``connect_client`` fixture: it is where signing (pure) meets the clock and
the network. Every send gets a fresh timestamp and signature, as every Stripe delivery attempt does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from connect_harness.delivery import Response, Target, deliver
from connect_harness.events.build import Event, build_event
from connect_harness.events.thin import ThinEvent
from connect_harness.wire.request import DEFAULT_URL, DeliveryRequest, request_for_event

if TYPE_CHECKING:
    from connect_harness.stripe_api.fake import FakeStripeAPI

__all__ = ["WebhookClient"]


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
    ) -> None:
        self.target = target
        self.secrets = [secret] if isinstance(secret, str) else list(secret)
        self.stripe_api = stripe_api
        self.url = url
        self.timeout = timeout
        self._clock = clock
        self.history: list[tuple[DeliveryRequest, Response]] = []

    def request_for(
        self,
        event: Event | ThinEvent,
        *,
        timestamp: int | None = None,
        secrets: Sequence[str] | None = None,
    ) -> DeliveryRequest:
        """The delivery request Stripe would send for ``event`` now (or at ``timestamp``)."""
        return request_for_event(
            event,
            secrets=list(secrets) if secrets is not None else self.secrets,
            timestamp=int(self._clock()) if timestamp is None else timestamp,
            url=self.url,
        )

    def send(self, event: Event | ThinEvent | str, /, **build: Any) -> Response:
        """Sign ``event`` (or build one of that type with ``build`` arguments) now and deliver it.

        A :class:`~connect_harness.events.thin.ThinEvent` is registered with the fake API (its full
        event and related object) and delivered the same way.
        """
        if isinstance(event, str):
            event = build_event(event, **build)
        elif build:
            raise TypeError("build arguments go with an event type, not with a built Event")
        if self.stripe_api is not None:
            self.stripe_api.register_event(event)
        return self.deliver(self.request_for(event), label=f"{event.type} {event.id}")

    def deliver(self, request: DeliveryRequest, *, label: str | None = None) -> Response:
        """Deliver a prepared (possibly deliberately broken) request as it is."""
        if self.stripe_api is not None:
            with self.stripe_api.delivery(label or "delivery"):
                response = deliver(request, self.target, timeout=self.timeout)
        else:
            response = deliver(request, self.target, timeout=self.timeout)
        self.history.append((request, response))
        return response
