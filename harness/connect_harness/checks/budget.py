"""A run's time budget: stop sending before a slow endpoint makes one run last hours (issue 21).

An endpoint answering every delivery in 11 s (under the per-delivery timeout) made a default run
last about 4.6 h. :class:`RunBudget` is consulted before every delivery, from the run's first one:

* once ``max_run_time`` seconds have passed, the run stops sending;
* once :data:`MIN_SAMPLE` deliveries were answered, it stops as soon as the pace so far says the
  deliveries known to remain cannot fit in what is left: a slow endpoint stops the run within its
  first few deliveries, not at the end of the budget.

The pace is the smaller of the run's seconds per delivery (wall time, so deliveries made side by
side count as such) and the median answer time (so one slow first answer, a server warming up, does
not stop a healthy run). Only deliveries the run knows it will make count as remaining (the
canonical deliveries of ``accepts-valid-events`` not sent yet, :meth:`RunBudget.remaining`): the
projection may stop a run late, never early. What the stop leaves unsent is not judged: those checks are skipped with the
headline as their reason, never failed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from connect_harness.delivery import Response
from connect_harness.errors import UsageError

__all__ = ["ACCEPTS", "DEFAULT_MAX_RUN_TIME", "MIN_SAMPLE", "RunBudget", "duration"]

#: Seconds a run may take by default: a default run against a healthy endpoint takes seconds to a
#: few minutes; 30 minutes leaves room for an endpoint answering in over a second each.
DEFAULT_MAX_RUN_TIME = 1800.0

#: Deliveries made before the pace is trusted to project the rest.
MIN_SAMPLE = 3


def _median(values: list[float]) -> float:
    # statistics.median, without importing statistics (the plugin's settings load this module)
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def duration(seconds: float) -> str:
    """``11.0 s``, ``12 min``, ``4.5 h``: a length of time as a person reads it."""
    if seconds < 100:
        return f"{seconds:.1f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


#: The check whose deliveries are known ahead: one canonical event per type and permutation.
ACCEPTS = "accepts-valid-events"


class RunBudget:
    """``max_run_time`` seconds for a run's deliveries, counted from the first one.

    ``planned_acceptance()`` says how many canonical deliveries ``accepts-valid-events`` makes
    (asked once, at its first delivery).
    """

    def __init__(
        self,
        max_run_time: float = DEFAULT_MAX_RUN_TIME,
        *,
        planned_acceptance: Callable[[], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if (
            isinstance(max_run_time, bool)
            or not isinstance(max_run_time, (int, float))
            or not 0 < max_run_time < float("inf")
        ):
            raise UsageError(
                f"max_run_time {max_run_time!r} must be a number of seconds more than 0; "
                f"e.g. max_run_time={DEFAULT_MAX_RUN_TIME:g}"
            )
        self.max_run_time = float(max_run_time)
        self._clock = clock
        self._lock = threading.Lock()
        self._started: float | None = None
        self._sent = 0
        self._answers: list[float] = []
        self._planned = planned_acceptance
        self._planned_count: int | None = None
        self._sent_by: dict[str, int] = {}

    @property
    def elapsed(self) -> float:
        """Seconds since the first delivery (0 before it)."""
        return 0.0 if self._started is None else self._clock() - self._started

    def remaining(self, check_id: str) -> int:
        """How many deliveries the run knows it still has to make, the next one included: while
        ``accepts-valid-events`` runs, its canonical deliveries not sent yet (its examples and every
        later check come on top, so this is a lower bound); else 1."""
        if check_id != ACCEPTS or self._planned is None:
            return 1
        if self._planned_count is None:
            self._planned_count = self._planned()
        return max(1, self._planned_count - self._sent_by.get(check_id, 0))

    def admit(self, check_id: str) -> str | None:
        """Before ``check_id``'s next delivery: None to send it (counted as sent), else the
        headline saying why the run stops (:class:`~connect_harness.checks.stopping.Breaker`
        stops it)."""
        headline = self.over(remaining=self.remaining(check_id))
        if headline is None:
            with self._lock:
                self._sent_by[check_id] = self._sent_by.get(check_id, 0) + 1
        return headline

    @property
    def not_judged(self) -> str:
        """The reason a check the budget left unsent is skipped with."""
        return (
            f"not judged: the run stopped at its time budget (--max-run-time "
            f"{self.max_run_time:g} s) before this check's deliveries were all sent (see the "
            "run's headline)"
        )

    def over(self, *, remaining: int) -> str | None:
        """Before a delivery: None to send it, else the one headline saying why the run stops.

        ``remaining`` is how many deliveries the run knows it still has to make, this one included.
        """
        with self._lock:
            if self._started is None:
                self._started = self._clock()
                return None
            elapsed = self._clock() - self._started
            sent = self._sent
            limit = f"--max-run-time {self.max_run_time:g} s"
            advice = (
                "raise --max-run-time (pytest: --connect-max-run-time), make the endpoint answer "
                "faster (Stripe expects an answer within seconds), or run fewer checks "
                "(verify --check ID; pytest: -k)"
            )
            if elapsed >= self.max_run_time:
                return (
                    f"the run stopped at its time budget ({limit}): {sent} deliveries took "
                    f"{duration(elapsed)}{self._answered()}; {advice}"
                )
            if len(self._answers) < MIN_SAMPLE:
                return None  # deliveries without an answer are the breaker's (--stop-after)
            if elapsed + elapsed / sent * max(remaining, 1) <= self.max_run_time:
                return None  # the pace is at most elapsed / sent: no need to sort the answers
            pace = min(elapsed / sent, _median(self._answers))
            needed = pace * max(remaining, 1)
            if elapsed + needed <= self.max_run_time:
                return None
            more = (
                f"the {remaining:,} deliveries still to make"
                if remaining > 1
                else "the next delivery"
            )
            return (
                f"the run stopped early, as it would exceed its time budget ({limit}): "
                f"{sent} deliveries took {duration(elapsed)}{self._answered()}, and at that pace "
                f"{more} would take {duration(needed)} more; {advice}"
            )

    def record(self, response: Response) -> None:
        """After a delivery that was sent: its answer (``elapsed``, how long it took). Only
        answers set the pace: an endpoint that gives none is stopped by ``--stop-after``, whose
        headline names that cause."""
        with self._lock:
            self._sent += 1
            if response.status != 0:
                self._answers.append(max(0.0, response.elapsed))

    def _answered(self) -> str:
        if not self._answers:
            return ""
        return f" (answers took {_median(self._answers):.1f} s each, the median)"
