"""Several independent deliveries at once, bounded by ``--concurrency N``.

A WSGI app is called in this process on the caller's thread: nothing says it is safe to call from
several threads (a module-level connection, a global), so its default is one delivery at a time.
A server at a URL, or an ASGI app (one event loop, its requests interleaved by design), takes
several at once, as Stripe sends them.

:func:`deliver_all` runs a batch of deliveries on up to N threads and returns their results in the
order given; which deliveries may share a batch, and who the API calls made meanwhile belong to,
is the contract run's business (:mod:`connect_harness.checks.run`).
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Sequence
from typing import TypeVar

from connect_harness.delivery.wsgi import WsgiTarget
from connect_harness.errors import UsageError

__all__ = ["MAX_CONCURRENCY", "check_concurrency", "default_concurrency", "deliver_all"]

T = TypeVar("T")

#: The most deliveries at once: more would only queue behind a small server's workers.
MAX_CONCURRENCY = 32

#: Deliveries at once by default for a server at a URL or an ASGI app.
DEFAULT_SERVER_CONCURRENCY = 1


def check_concurrency(value: object, *, name: str = "concurrency") -> int:
    """``value`` if it is a whole number from 1 to :data:`MAX_CONCURRENCY`, else one clear line."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONCURRENCY:
        raise UsageError(
            f"{name} {value!r} must be a whole number from 1 to {MAX_CONCURRENCY}: how many "
            "independent deliveries may be in flight at once (1 sends one at a time)"
        )
    return value


def default_concurrency(target: object) -> int:
    """One at a time for a WSGI app; :data:`DEFAULT_SERVER_CONCURRENCY` for the others."""
    return 1 if isinstance(target, WsgiTarget) else DEFAULT_SERVER_CONCURRENCY


def deliver_all(jobs: Sequence[Callable[[], T]], limit: int) -> list[T]:
    """Run ``jobs`` on up to ``limit`` threads; their results in the order of ``jobs``."""
    check_concurrency(limit)
    if limit == 1 or len(jobs) <= 1:
        return [job() for job in jobs]
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=min(limit, len(jobs)), thread_name_prefix="connect-harness-delivery"
    ) as pool:
        futures = [pool.submit(job) for job in jobs]
        return [future.result() for future in futures]
