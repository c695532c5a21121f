"""URL delivery's deadlines: one watchdog thread for every delivery, not a thread each."""

from __future__ import annotations

import threading
import time

import pytest

from connect_harness.delivery import deliver, target_from
from connect_harness.delivery import url as url_delivery
from connect_harness.events.build import build_event
from connect_harness.wire.request import delivery_request
from endpoints import flask_endpoint
from endpoints.core import TEST_SECRET
from endpoints.serving import served


def test_a_deadline_cuts_once_and_a_cancelled_one_never() -> None:
    watchdog = url_delivery._Watchdog()
    cut = threading.Event()
    kept: list[str] = []
    watchdog.watch(time.perf_counter() + 0.05, cut.set)
    cancel = watchdog.watch(time.perf_counter() + 0.01, lambda: kept.append("cut"))
    cancel()
    assert cut.wait(5)
    time.sleep(0.05)
    assert kept == []


def test_deliveries_start_no_timer_thread_each(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_timer(*args: object, **kwargs: object) -> None:
        raise AssertionError("a Timer thread was started for one delivery")

    event = build_event("customer.created", account="acct_1PgafTB7WZ01zgkW", seed=3)
    with served(flask_endpoint.create_app(TEST_SECRET)) as url:
        target = target_from(url)
        monkeypatch.setattr(url_delivery.threading, "Timer", no_timer)
        for _ in range(3):
            request = delivery_request(
                event.body, secrets=[TEST_SECRET], timestamp=int(time.time()), livemode=False
            )
            assert deliver(request, target, timeout=5).status == 200
