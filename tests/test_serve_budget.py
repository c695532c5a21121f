"""``verify --serve`` after the run stopped: deliveries it no longer sends cost nothing (issue 21: a
1 s grace per unsent delivery made a run against a hung server last 27 minutes)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from connect_harness.checks.run import ContractRun
from connect_harness.checks.stopping import Breaker
from connect_harness.delivery import Response


class _HungProcess:
    """A launched process that is alive and never exits; counts how often the run waits on it."""

    alive = True

    def __init__(self) -> None:
        self.waits = 0

    def exits_within(self, seconds: float) -> bool:
        self.waits += 1
        return False


def _died(response: Response, process: _HungProcess) -> bool:
    run: Any = SimpleNamespace(process=process, breaker=Breaker())
    record: Any = SimpleNamespace(response=response)
    return ContractRun._process_died(run, record)


def test_an_unsent_delivery_does_not_wait_for_the_process() -> None:
    process = _HungProcess()

    for _ in range(950):
        assert _died(Breaker.NOT_SENT, process) is False

    assert process.waits == 0


def test_a_sent_delivery_without_an_answer_still_gives_a_dying_process_its_grace() -> None:
    process = _HungProcess()

    assert _died(Response(0, (), b"", 0.1, "connection refused"), process) is False

    assert process.waits == 1
