"""When a run may judge the fake API's calls: after the endpoint went quiet, and not later.

An endpoint that does its work before answering (an in-process WSGI app, most servers) has made
every call by the time its last answer arrived: waiting only for calls still in flight is enough.
One that answers first and works later (as Stripe advises) makes calls after its answers; once such
a call was seen, every settle waits for the endpoint to go quiet, as long as it keeps calling, up to
a bound.

Which of the two the endpoint is, the run learns once, not per check (:class:`Settler`): the first
settle after the first answered (2xx) delivery of an event type (a Connect or a platform event, in
a mode) waits one quiet period after the last answer, so a worker that starts a little after the 200 is neither missed nor blamed on a later
delivery (in a default run that settle comes after ``accepts-valid-events`` delivered every type).
Once the endpoint made a call and none came late, or every type delivered was followed by such a
window, settles cost nothing but the wait for calls in flight. (A type the endpoint ignored says
nothing of the others, so types are learned one by one until its first call; the events of an
account that disconnected, which a correct endpoint ignores, teach nothing.) A thread an in-process WSGI app started while handling a delivery
that is still alive (work the app handed to a thread of its own) is waited for, up to the bound,
then a full window; and one full window is waited before the checks judged over the whole run.

A server at a URL is opaque: a job queue may run a delivery's work later than any window. Such a
late call is still tied to its delivery by what it names (:mod:`connect_harness.checks.attribution`),
whenever it arrives; if it arrives after a short settle, the run falls back to full windows for the
rest of the run and says which checks were judged before it (:attr:`Settler.fell_back`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from typing import Protocol

from connect_harness.checks.common import ACCOUNT_ENDING_EVENTS

__all__ = ["Settler", "calls_after_answering", "settle"]


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


class _Answer(Protocol):
    @property
    def status(self) -> int: ...


class _Delivery(_Record, Protocol):
    @property
    def event_type(self) -> str | None: ...
    @property
    def account(self) -> str | None: ...
    @property
    def livemode(self) -> bool | None: ...
    @property
    def response(self) -> _Answer: ...


def calls_after_answering(records: Iterable[_Record], calls: Iterable[_Call]) -> bool:
    """True if some call reached the fake API after the delivery it belongs to was answered."""
    answered: dict[str, float] = {}
    for record in records:
        answered[record.label] = max(answered.get(record.label, 0.0), record.finished)
    return any(
        call.delivery in answered and call.at > answered[call.delivery] for call in list(calls)
    )


def settle(
    fake: _Fake,
    records: Sequence[_Record],
    *,
    quiet: float,
    first: bool,
    bound: float,
    late: bool = False,
) -> bool:
    """Wait as long as the endpoint may still call the fake API for ``records``; see the module.

    ``quiet``: how long without a call means quiet; ``first``: wait one quiet period after the
    last answer to find out whether calls come late; ``bound``: the longest wait for calls in
    flight or a busy endpoint; ``late``: the endpoint is already known to call after answering.
    Returns whether the endpoint is known to work after answering.
    """
    fake.wait_idle(quiet=0.0, timeout=bound)  # calls in flight finish first
    late = late or calls_after_answering(records, fake.calls)
    if not (late or first):
        return False
    last_answer = max((record.finished for record in records), default=0.0)
    time.sleep(max(0.0, last_answer + quiet - time.monotonic()))
    if late or calls_after_answering(records, fake.calls):
        fake.wait_idle(quiet=quiet, timeout=bound)
        return True
    return False


#: How long a settle gives a thread an in-process delivery started to end on its own (the fake's
#: own request threads end a moment after the app's call returned).
THREAD_END_GRACE = 0.02


class Settler:
    """One run's knowledge of when its endpoint calls the fake API; see the module.

    ``quiet`` and ``bound`` are :func:`settle`'s. Call :meth:`watch` around each in-process
    delivery (threads the app starts), then :meth:`settle` before judging calls, and
    :meth:`mark_late` when attribution saw a late call that timing alone could not (one that
    landed inside a later delivery).
    """

    def __init__(self, *, quiet: float, bound: float) -> None:
        self.quiet = quiet
        self.bound = bound
        #: Some call came after its delivery's answer: every settle waits for quiet.
        self.late = False
        #: (event type, Connect event, livemode) of answered deliveries followed by a full window
        #: with no call late.
        self.learned: set[tuple[str | None, bool, bool | None]] = set()
        self._ended: set[str | None] = set()  # accounts that disconnected
        #: The endpoint made calls, and a window after them saw none come late.
        self.called = False
        #: Settles that waited only for calls in flight, and full windows waited.
        self.short = 0
        self.windows = 0
        #: A late call came after a short settle: the run waits full windows from then on.
        self.fell_back = False
        self._seen = 0
        self._final = False
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def watch_start(self) -> frozenset[threading.Thread]:
        """The threads alive before an in-process delivery (give them to :meth:`watch_end`)."""
        return frozenset(threading.enumerate())

    def watch_end(self, before: frozenset[threading.Thread]) -> None:
        """Keep the threads started during the delivery that are still alive."""
        started = [
            thread
            for thread in threading.enumerate()
            if thread not in before and not thread.name.startswith("connect-harness")
        ]
        if started:
            with self._lock:
                self._threads.extend(started)

    def _working_threads(self) -> bool:
        """Wait (up to the bound) for the threads deliveries started since the last settle to
        end; True if any was alive after a short grace (the fake's own request threads end a
        moment after the app's call returned). A thread that outlives the bound (a pool the app
        keeps) is waited for once."""
        with self._lock:
            threads, self._threads = self._threads, []
        grace = time.monotonic() + THREAD_END_GRACE
        working = False
        for thread in threads:
            thread.join(max(0.0, grace - time.monotonic()))
            working = working or thread.is_alive()
        if working:
            deadline = time.monotonic() + self.bound
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
        return working

    def mark_late(self) -> None:
        """Attribution saw a call made after its delivery's answer: see :attr:`late`."""
        if not self.late and self.short:
            self.fell_back = True
        self.late = True

    def settle(self, fake: _Fake, records: Sequence[_Delivery], *, final: bool = False) -> bool:
        """Wait as long as the endpoint may still call for ``records``; returns :attr:`late`.

        ``final``: the run is about to judge all its deliveries at once; the first such settle
        waits a full window whatever was learned.
        """
        new = records[self._seen :]
        self._seen = len(records)
        # A disconnected account's events make a correct endpoint do nothing: they teach nothing.
        self._ended |= {
            r.account for r in new if r.event_type in ACCOUNT_ENDING_EVENTS and r.account
        }
        answered = {
            (record.event_type, record.account is not None, record.livemode)
            for record in new
            if 200 <= record.response.status < 300 and record.account not in self._ended
        }
        # Once the endpoint called the API and no call came late, it works while answering. Until
        # then, a type it ignored says nothing of the others.
        unknown = bool(answered - self.learned) and not self.called
        threads = self._working_threads()
        window = unknown or threads or (final and not self._final)
        self._final = self._final or final
        was_late = self.late
        late = settle(
            fake, records, quiet=self.quiet, first=window, bound=self.bound, late=self.late
        )
        if late:
            self.mark_late()
        if late or window:
            self.windows += 1
        else:
            self.short += 1
        if window and not late and not threads:
            self.learned |= answered
            # Calls came, and a window after them found none late: it works while answering.
            self.called = self.called or any(call.delivery is not None for call in fake.calls)
        return late or was_late
