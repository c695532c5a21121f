"""When a run stops delivering: after K consecutive deliveries got no answer, when its time budget
is spent (:mod:`connect_harness.checks.budget`), when a launched endpoint's server is known gone, or
on Ctrl-C.

A dead endpoint would otherwise cost ``timeout`` x every delivery (30 s x ~950, about 8 hours). Once
:class:`Breaker` trips, the run stops sending: later deliveries are recorded as not sent, at once, and
verify prints :attr:`Breaker.stopped` as its one headline.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from connect_harness.checks.budget import RunBudget
from connect_harness.checks.findings import Finding
from connect_harness.delivery import Response
from connect_harness.errors import UsageError

if TYPE_CHECKING:
    from connect_harness.checks.records import DeliveryRecord

__all__ = ["DEFAULT_STOP_AFTER", "Breaker", "gone", "sent", "unjudged"]

#: Consecutive deliveries without an answer (refused, reset, timed out) before a run stops.
DEFAULT_STOP_AFTER = 5


#: How a delivery's error reads when nothing listens any more, or the server dropped the connection
#: without an answer (:func:`connect_harness.delivery.url.deliver_url`'s wording).
_GONE = ("connection refused", "ConnectionResetError", "RemoteDisconnected", "BrokenPipeError")


def gone(response: Response) -> bool:
    """True if ``response`` is no answer because the endpoint's server refused or dropped the
    connection (not a timeout, and not a delivery the run did not send)."""
    error = response.error or ""
    return response.status == 0 and any(word in error for word in _GONE)


class Breaker:
    """Counts consecutive deliveries without an HTTP answer; trips at ``stop_after`` (0: never),
    or when ``budget`` (:class:`~connect_harness.checks.budget.RunBudget`) says the run is out of
    time."""

    #: What a delivery the run did not make is recorded as.
    NOT_SENT = Response(0, (), b"", 0.0, "not sent: the run had stopped (see its headline)")

    def __init__(
        self, stop_after: int = DEFAULT_STOP_AFTER, *, budget: RunBudget | None = None
    ) -> None:
        if isinstance(stop_after, bool) or not isinstance(stop_after, int) or stop_after < 0:
            raise UsageError(
                f"stop_after {stop_after!r} must be a whole number, 0 (never stop) or more; "
                f"e.g. stop_after={DEFAULT_STOP_AFTER}"
            )
        self._stop_after = stop_after
        #: The run's time budget, consulted before each delivery (None: none).
        self.budget = budget
        self._lock = threading.Lock()
        self._in_a_row = 0
        self._sent = 0
        self._last_answered = 0
        self.stopped: str | None = None
        #: Why it stopped: ``endpoint`` (no answers), ``budget`` (--max-run-time), ``gone`` (a
        #: launched server known dead) or ``interrupt`` (Ctrl-C); None while running.
        self.cause: str | None = None
        #: Why a check the stop left unsent is not judged (see :func:`unjudged`).
        self.not_judged: str | None = None
        #: True once the user stopped the run (Ctrl-C): what was not sent is theirs, not the endpoint's.
        self.interrupted = False

    @property
    def not_judging(self) -> bool:
        """True once the run stopped for a reason that says nothing about the checks it left
        unsent (the budget, Ctrl-C): their deliveries are not judged, never failed."""
        return self.interrupted or self.cause == "budget"

    def stop(self, headline: str, *, cause: str, not_judged: str | None = None) -> None:
        """Stop sending with ``headline`` (the first stop wins); ``not_judged`` is the reason a
        check the stop left unsent is skipped with (``budget`` stops)."""
        with self._lock:
            if self.stopped is None:
                self.stopped, self.cause, self.not_judged = headline, cause, not_judged

    def not_sent(self, check_id: str | None = None) -> Response | None:
        """The response to record instead of delivering once stopped; None while running.

        Given the delivering check, the time budget is asked first: out of time, the run stops.
        """
        if self.stopped is None and self.budget is not None and check_id is not None:
            headline = self.budget.admit(check_id)
            if headline is not None:
                self.stop(headline, cause="budget", not_judged=self.budget.not_judged)
        return None if self.stopped is None else self.NOT_SENT

    def record(self, response: Response) -> None:
        """Count one delivery's answer."""
        if self.budget is not None:
            self.budget.record(response)
        with self._lock:
            self._sent += 1
            if response.status != 0:
                self._in_a_row = 0
                self._last_answered = self._sent
                return
            self._in_a_row += 1
            if self.stopped is None and self._stop_after and self._in_a_row >= self._stop_after:
                self.cause = "endpoint"
                self.stopped = (
                    f"the endpoint stopped answering after delivery {self._last_answered}: "
                    f"{self._in_a_row} deliveries in a row got no answer "
                    f"(the last: {response.error})"
                )

    def interrupt(self) -> None:
        """Stop sending because the user asked (Ctrl-C)."""
        with self._lock:
            self.interrupted = True
            if self.stopped is None:
                self.stopped = f"interrupted after delivery {self._sent}"
                self.cause = "interrupt"


def unjudged(
    check_id: str,
    findings: tuple[Finding, ...],
    records: Sequence[DeliveryRecord],
    breaker: Breaker,
) -> tuple[Finding, ...]:
    """``findings`` of a check, or one not-judged skip when the user or the time budget stopped
    the run while it was delivering (``records``, its deliveries): what it could not send says
    nothing about the endpoint, so it is never failed."""
    if not breaker.not_judging or not any(r.response is breaker.NOT_SENT for r in records):
        return findings
    why = (
        f"interrupted by the user (Ctrl-C) while this check was delivering ({breaker.stopped}); "
        "not judged"
        if breaker.interrupted
        else breaker.not_judged or f"not judged: {breaker.stopped}"
    )
    return (Finding(check=check_id, status="skip", reason=why),)


def sent(records: Sequence[DeliveryRecord]) -> list[DeliveryRecord]:
    """The deliveries that were made: without those a stopped run recorded as not sent."""
    return [record for record in records if record.response is not Breaker.NOT_SENT]
