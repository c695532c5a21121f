"""A session-long home for property tests: one target, one fake Stripe API, a fresh client per example.

Hypothesis runs a ``@given`` test body many times inside one pytest test, so function-scoped fixtures
would be shared by every example (and Hypothesis refuses them). :class:`ConnectWorld` is built once
per session; :meth:`ConnectWorld.example` empties the fake Stripe API and hands out a client for one
example, and every event it builds gets an id no earlier example used.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from connect_harness.client import EventFactory, WebhookClient
from connect_harness.delivery import Target

if TYPE_CHECKING:
    from connect_harness.stripe_api.fake import FakeStripeAPI

__all__ = ["ConnectWorld"]


class ConnectWorld:
    """The target, secret and fake Stripe API of a session, for tests that run many examples."""

    def __init__(
        self,
        target: Target,
        *,
        secret: str | Sequence[str],
        stripe_api: FakeStripeAPI,
        url: str,
        timeout: float,
        seed: int,
        api_version: str | None = None,
    ) -> None:
        self.target = target
        self.stripe_api = stripe_api
        self._secret = secret
        self._url = url
        self._timeout = timeout
        #: One factory for the whole session: its counter keeps ids unique across examples.
        self.events = EventFactory(seed, api_version=api_version, scope="connect_world")
        self.examples = 0

    def __repr__(self) -> str:  # never the secret
        return f"ConnectWorld(target={self.target.describe()!r}, examples={self.examples})"

    @contextlib.contextmanager
    def example(self) -> Iterator[WebhookClient]:
        """A client for one example, with the fake Stripe API emptied before and after it."""
        self.examples += 1
        self.stripe_api.reset()
        try:
            with self.stripe_api.patch_stripe():
                yield WebhookClient(
                    self.target,
                    secret=self._secret,
                    stripe_api=self.stripe_api,
                    url=self._url,
                    timeout=self._timeout,
                    events=self.events,
                )
        finally:
            self.stripe_api.reset()
