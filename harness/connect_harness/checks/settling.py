"""When a run may judge the fake API's calls: after the endpoint went quiet, and not later.

An endpoint that does its work before answering (an in-process WSGI app, most servers) has made
every call by the time its last answer arrived: waiting only for calls still in flight is enough.
One that answers first and works later (as Stripe advises) makes calls after its answers; once such
a call was seen, every settle waits for the endpoint to go quiet, as long as it keeps calling, up to
a bound. Until the endpoint made any call, each settle waits one quiet period after the last answer
to find out, so a worker that starts a little after the 200 is neither missed nor blamed on a later
delivery; once its calls all came while it answered, settles cost nothing more.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Protocol

__all__ = ["calls_after_answering", "settle"]


class _Record(Protocol):
    @property
    def label(self) -> str: ...
    @property
    def finished(self) -> float: ...


class _Call(Protocol):
    @property
    def delivery(self) -> str | None: ...
    @property
    def at(self) -> float: ...


class _Fake(Protocol):
    @property
    def calls(self) -> Sequence[_Call]: ...
    def wait_idle(self, *, quiet: float = ..., timeout: float = ...) -> bool: ...


def calls_after_answering(records: Iterable[_Record], calls: Iterable[_Call]) -> bool:
    """True if some call reached the fake API after the delivery it belongs to was answered."""
    answered: dict[str, float] = {}
    for record in records:
        answered[record.label] = max(answered.get(record.label, 0.0), record.finished)
    return any(
        call.delivery in answered and call.at > answered[call.delivery] for call in list(calls)
    )


def settle(
    fake: _Fake, records: Sequence[_Record], *, quiet: float, first: bool, bound: float
) -> bool:
    """Wait as long as the endpoint may still call the fake API for ``records``; see the module.

    ``quiet``: how long without a call means quiet; ``first``: the endpoint made no call yet;
    ``bound``: the longest wait for calls in flight or a busy endpoint. Returns whether the endpoint
    is known to work after answering.
    """
    fake.wait_idle(quiet=0.0, timeout=bound)  # calls in flight finish first
    late = calls_after_answering(records, fake.calls)
    if not (late or first):
        return False
    last_answer = max((record.finished for record in records), default=0.0)
    time.sleep(max(0.0, last_answer + quiet - time.monotonic()))
    if late or calls_after_answering(records, fake.calls):
        fake.wait_idle(quiet=quiet, timeout=bound)
        return True
    return False
