"""verify's fixed costs: the inner pytest session loads only what the suite needs; settling waits
only while the endpoint may still call the fake API."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

import pytest

from connect_harness.checks import settling, suite_runner
from connect_harness.cli import main
from endpoints.core import TEST_SECRET

APP = "endpoints.flask_endpoint:create_app()"


def test_the_inner_session_loads_no_installed_plugins_and_no_gc_plugin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    made: list[suite_runner._ProvideRun] = []

    class Recording(suite_runner._ProvideRun):
        def __init__(self, *args: object) -> None:
            super().__init__(*args)  # type: ignore[arg-type]
            made.append(self)

    monkeypatch.setattr(suite_runner, "_ProvideRun", Recording)
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    argv = ["verify", "--app", APP, "--secret", TEST_SECRET, "--events", "customer.created"]
    assert main([*argv, "--check", "no-server-errors"]) == 0, capsys.readouterr().out
    (plugin,) = made
    assert plugin.ran, "the session ran the check"
    # hypothesis, anyio, xdist and pytest-httpserver are installed here: none of them was loaded.
    assert plugin.distributions == []
    assert not {"unraisableexception", "threadexception", "cacheprovider"} & set(plugin.plugins)
    assert {"python", "runner", "fixtures"} <= set(plugin.plugins)
    # ... and the caller's environment is as it was.
    assert "PYTEST_DISABLE_PLUGIN_AUTOLOAD" not in os.environ


@dataclass
class Record:
    label: str
    finished: float


@dataclass
class Call:
    delivery: str | None
    at: float


@dataclass
class Fake:
    calls: list[Call] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)

    def wait_idle(self, *, quiet: float = 0.05, timeout: float = 2.0) -> bool:
        self.waits.append(quiet)
        return True


def test_calls_after_answering_are_told_from_calls_while_answering() -> None:
    records = [Record("a", 10.0), Record("b", 20.0)]
    assert not settling.calls_after_answering(records, [Call("a", 9.0), Call("b", 19.5)])
    assert settling.calls_after_answering(records, [Call("a", 9.0), Call("a", 10.5)])
    assert not settling.calls_after_answering(records, [Call(None, 99.0), Call("zzz", 99.0)])


def test_an_endpoint_that_never_called_late_costs_nothing_after_the_first_settle() -> None:
    fake = Fake([Call("a", time.monotonic())])
    records = [Record("a", time.monotonic() + 1.0)]
    start = time.monotonic()
    assert settling.settle(fake, records, quiet=0.5, first=False, bound=2.0) is False
    assert time.monotonic() - start < 1.0  # waiting a quiet period would take 1.5 s
    assert fake.waits == [0.0]  # only calls in flight were waited for


def test_the_first_settle_waits_one_quiet_period_after_the_last_answer() -> None:
    fake = Fake()
    records = [Record("a", time.monotonic())]
    start = time.monotonic()
    assert settling.settle(fake, records, quiet=0.3, first=True, bound=2.0) is False
    assert time.monotonic() - start >= 0.28


def test_a_worker_that_starts_after_the_answer_is_waited_for() -> None:
    fake = Fake()
    answered = time.monotonic()
    records = [Record("a", answered)]
    worker = threading.Timer(0.1, lambda: fake.calls.append(Call("a", time.monotonic())))
    worker.start()
    try:
        assert settling.settle(fake, records, quiet=0.3, first=True, bound=2.0) is True
    finally:
        worker.join()
    assert fake.waits == [0.0, 0.3]  # then waited for it to go quiet
    # Known late: later settles keep waiting for quiet even when not the first.
    assert settling.settle(fake, records, quiet=0.3, first=False, bound=2.0) is True


def test_registering_an_event_parses_its_bytes_instead_of_deep_copying(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from connect_harness.events.build import build_event
    from connect_harness.stripe_api import store as store_module
    from connect_harness.stripe_api.fake import FakeStripeAPI

    event = build_event("payment_intent.succeeded", account="acct_1PgafTB7WZ01zgkW", seed=5)

    def no_deepcopy(value: object, memo: object = None) -> object:
        raise AssertionError("deep-copied although the event's bytes were given")

    monkeypatch.setattr(store_module.copy, "deepcopy", no_deepcopy)
    fake = FakeStripeAPI()
    fake.register_event(event)
    store = fake._store
    stored_event = store.events[event.id].obj
    stored_object = store.objects[str(event.object_id)].obj
    assert stored_event is not None and stored_object is not None
    assert stored_event == event.payload and stored_object == event.data_object
    # Private copies: the store's object changes (an API update) leave the event's snapshot alone.
    assert stored_object is not stored_event["data"]["object"]
    assert stored_object is not event.data_object and stored_event is not event.payload
