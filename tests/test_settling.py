"""Settles that cost nothing when nothing can be in flight, learned once per run, and the fallback
when an endpoint calls the API later than the run waited (connect_harness.checks.settling)."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
import stripe

from connect_harness.checks import run as run_module
from connect_harness.checks import settling
from connect_harness.checks.findings import Finding
from connect_harness.checks.run import ContractRun, VerifyConfig
from connect_harness.cli import main
from connect_harness.stripe_api.fake import FakeStripeAPI
from endpoints import flask_endpoint
from endpoints.core import TEST_KEY, TEST_SECRET
from endpoints.serving import served

ACCOUNT = "acct_1PgafTB7WZ01zgkW"


def _verified(environ: dict[str, Any]) -> dict[str, Any] | None:
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    try:
        stripe.Webhook.construct_event(body, environ.get("HTTP_STRIPE_SIGNATURE", ""), TEST_SECRET)
    except (ValueError, stripe.SignatureVerificationError):
        return None
    event: dict[str, Any] = json.loads(body)
    return event


def answers_only(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Verifies the signature and answers: it never calls the Stripe API."""
    if _verified(environ) is None:
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [b"bad"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


class _Queued:
    """Answers at once. A ``now_types`` event's customer it retrieves while answering; a
    ``late_types`` event it hands to a worker thread it started before the run (as a job queue
    would), which retrieves the customer ``delay`` seconds later. No thread is started while a
    delivery is handled, so only the API calls show the late work."""

    def __init__(self, now_types: set[str], late_types: set[str], delay: float = 0.2) -> None:
        self.now_types = now_types
        self.late_types = late_types
        self.delay = delay
        self.jobs: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.worker = threading.Thread(target=self._work, daemon=True)
        self.worker.start()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        event = _verified(environ)
        if event is None:
            start_response("400 Bad Request", [])
            return [b"bad"]
        if event["type"] in self.now_types:
            self._retrieve(event)
        if event["type"] in self.late_types:
            self.jobs.put(event)
        start_response("200 OK", [])
        return [b"ok"]

    @staticmethod
    def _retrieve(event: dict[str, Any]) -> None:
        stripe.Customer.retrieve(
            event["data"]["object"]["id"], api_key=TEST_KEY, stripe_account=event["account"]
        )

    def _work(self) -> None:
        while (event := self.jobs.get()) is not None:
            time.sleep(self.delay)
            # A job run after the test's fake stopped (a failing test) fails quietly.
            with contextlib.suppress(stripe.StripeError):
                self._retrieve(event)

    def stop(self) -> None:
        self.jobs.put(None)
        self.worker.join()


@pytest.fixture
def settlers(monkeypatch: pytest.MonkeyPatch) -> list[settling.Settler]:
    """Every Settler the runs make, to read how many full quiet windows they waited."""
    made: list[settling.Settler] = []

    class Recording(settling.Settler):
        def __init__(self, **kwargs: float) -> None:
            super().__init__(**kwargs)
            made.append(self)

    monkeypatch.setattr(settling, "Settler", Recording)
    return made


@pytest.mark.parametrize(
    "app", ["test_settling:answers_only", "endpoints.flask_endpoint:create_app()"]
)
def test_an_endpoint_that_never_works_after_answering_waits_two_windows_a_run(
    app: str, settlers: list[settling.Settler], capsys: pytest.CaptureFixture[str]
) -> None:
    """A window to learn each event type (until the endpoint's first call, after which the first
    window is enough), one before the checks judged over the whole run; every other settle waits
    only for calls in flight. The first app never calls the API, the second calls it while
    answering."""
    argv = ["verify", "--app", app, "--secret", TEST_SECRET, "--events", "customer.created"]
    assert main(argv) == 0, capsys.readouterr().out
    (settler,) = settlers
    assert ("customer.created", True, False) in settler.learned
    assert not settler.late and not settler.fell_back
    if settler.called:
        assert settler.windows == 2
    else:
        assert settler.windows <= len(settler.learned) + 1
    assert settler.short >= 10  # the settles of the run's other checks


def test_an_app_working_in_a_thread_it_started_is_waited_for_and_judged_on_its_calls(
    settlers: list[settling.Settler],
) -> None:
    """An in-process app that answers first and acts 0.3 s later in a thread of its own: the
    settles see the thread alive and wait, and its calls are tied to their deliveries."""
    app = flask_endpoint.create_app(TEST_SECRET, bug="no-idempotency", defer=0.3)
    config = VerifyConfig(
        secret=TEST_SECRET, seed=7, events=("payment_intent.succeeded",), examples=1
    )
    with ContractRun(app, config) as run:
        (result,) = run.run(["idempotent-redelivery"])
        records = run.judged_records()
        ambiguous = run.ambiguous_calls()
    (settler,) = settlers
    assert settler.late and settler.windows >= 2
    assert result.status == "fail"  # the bug, seen in the late calls (main skipped: none seen)
    # Every call is tied to its delivery, or (naming what several events name) to none, saying so;
    # none came after its check was judged.
    assert sum(len(record.calls) for record in records) + len(ambiguous) == len(
        run.observed_calls()
    )
    assert not any("after this check was judged" in f.reason for f in result.findings)


def test_a_late_call_after_a_short_settle_is_tied_to_its_delivery_and_ends_short_settles(
    settlers: list[settling.Settler], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The endpoint called the API while answering customer.created (a settle's window saw nothing
    late), then a type its worker acts on later is judged after a short settle: the call that
    comes after the judgement is still tied to its delivery, the check's result says it was
    judged without it, and the run waits full windows from then on."""
    app = _Queued({"customer.created"}, {"customer.updated"})
    config = VerifyConfig(secret=TEST_SECRET, seed=9)

    late_object = ""

    def judged_early(run: Any) -> list[Finding]:
        nonlocal late_object
        event = run.event("customer.updated", ACCOUNT, False, 90)
        late_object = event.object_id
        run.send_event("idempotent-redelivery", event, seed=90)
        calls = [
            c for r in run.judged_records() if r.check == "idempotent-redelivery" for c in r.calls
        ]
        return [Finding(check="idempotent-redelivery", status="pass", reason=f"{len(calls)}")]

    monkeypatch.setitem(run_module.CHECKS, "idempotent-redelivery", judged_early)
    try:
        with ContractRun(app, config) as run, run.fake_api.patch_stripe():
            created = run.event("customer.created", ACCOUNT, False, 91)
            probe_object = created.object_id
            probe = run.send_event("probe", created, seed=91)
            run.settle()
            (settler,) = settlers
            assert settler.learned == {("customer.created", True, False)}
            assert settler.windows == 1
            assert settler.called
            result = run.result("idempotent-redelivery")
            assert result.findings[0].reason == "0"  # judged before the worker's call
            assert settler.short == 1
            deadline = time.monotonic() + 10
            while len(run.fake_api.calls) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            run.settle()
            records = {record.label: record for record in run.judged_records()}
            noted = run.result("idempotent-redelivery")
    finally:
        app.stop()
    assert settler.late and settler.fell_back
    (late,) = [r for r in records.values() if r.check == "idempotent-redelivery"]
    assert [call.path for call in late.calls] == [f"/v1/customers/{late_object}"]
    assert [call.path for call in records[probe.label].calls] == [f"/v1/customers/{probe_object}"]
    assert noted.status == "pass"
    (note,) = [f for f in noted.findings if f.status == "skip"]
    assert f"for delivery {late.label} (GET /v1/customers/" in note.reason
    assert "after this check was judged" in note.reason
    assert settler.short == 1 and settler.windows >= 2  # full windows from then on


@dataclass
class _Answer:
    status: int = 200


@dataclass
class _Record:
    label: str
    finished: float
    response: _Answer = field(default_factory=_Answer)
    event_type: str | None = "customer.created"
    account: str | None = ACCOUNT
    livemode: bool | None = False


@dataclass
class _Call:
    delivery: str | None
    at: float


@dataclass
class _Fake:
    calls: list[Any] = field(default_factory=list)

    def wait_idle(self, *, quiet: float = 0.05, timeout: float = 2.0) -> bool:
        return True


def test_a_window_is_learned_from_answered_deliveries_only(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(settling.time, "sleep", slept.append)
    settler, fake = settling.Settler(quiet=0.5, bound=2.0), _Fake()
    rejected = [_Record("a", time.monotonic(), _Answer(400))]
    settler.settle(fake, rejected)
    assert not settler.learned and settler.windows == 0  # a 400 teaches nothing
    records = [*rejected, _Record("b", time.monotonic())]
    settler.settle(fake, records)
    assert settler.learned == {("customer.created", True, False)} and settler.windows == 1
    records.append(_Record("c", time.monotonic()))
    settler.settle(fake, records)
    settler.settle(fake, records, final=True)
    settler.settle(fake, records, final=True)
    assert (settler.windows, settler.short) == (2, 3)
    records.append(_Record("d", time.monotonic(), event_type="payout.paid"))
    settler.settle(fake, records)  # a new type: its own window, until the endpoint's first call
    assert settler.windows == 3
    fake.calls.append(_Call("d", records[-1].finished - 0.01))
    records.append(_Record("e", time.monotonic(), event_type="charge.succeeded"))
    settler.settle(fake, records)  # a window after its first call saw none late ...
    assert settler.windows == 4 and settler.called
    records.append(_Record("f", time.monotonic(), event_type="invoice.paid"))
    settler.settle(fake, records)  # ... so it works while answering: new types cost nothing
    assert (settler.windows, settler.short) == (4, 4)
    assert len(slept) == 4


async def _asgi_app(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI app (never called here)."""


@pytest.mark.parametrize(
    ("target", "quiet"),
    [(answers_only, 0.05), ("http://127.0.0.1:4242/webhook", 0.5), (_asgi_app, 0.5)],
    ids=["wsgi", "url", "asgi"],
)
def test_the_quiet_period_is_short_only_for_a_wsgi_app_in_this_process(
    target: object, quiet: float, settlers: list[settling.Settler]
) -> None:
    """As the performance page says: 0.05 s for a WSGI app in this process, 0.5 s otherwise;
    threads and calls in flight are waited for up to 2 s."""
    with ContractRun(target, VerifyConfig(secret=TEST_SECRET)):
        pass
    (settler,) = settlers
    assert (settler.quiet, settler.bound) == (quiet, 2.0)


def test_a_thread_that_outlives_the_bound_is_waited_for_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pool thread the app started lazily lives on idle: the settle that first sees it waits
    for it up to the bound, and no later settle waits for it again."""
    joins: list[float | None] = []

    class Recorded(threading.Thread):
        def join(self, timeout: float | None = None) -> None:
            joins.append(timeout)
            super().join(timeout)

    monkeypatch.setattr(settling.time, "sleep", lambda seconds: None)
    stop = threading.Event()
    settler, fake = settling.Settler(quiet=0.01, bound=0.1), _Fake()
    before = settler.watch_start()
    pool = Recorded(target=stop.wait, daemon=True)
    pool.start()
    settler.watch_end(before)
    try:
        records = [_Record("a", time.monotonic())]
        settler.settle(fake, records)
        assert pool.is_alive() and settler.windows == 1 and not settler.learned
        assert joins and all(t is not None and t <= 0.1 for t in joins)
        count = len(joins)
        settler.settle(fake, [*records, _Record("b", time.monotonic())])
        assert len(joins) == count and settler.learned  # not waited for again
    finally:
        stop.set()
        pool.join()


def test_types_the_endpoint_ignored_teach_nothing_about_the_types_it_works_on() -> None:
    """after-deauthorization's events (for an account that disconnected) make a correct endpoint do
    nothing, so their quiet window says nothing of payment_intent.succeeded, which the endpoint
    works on after answering: the first settle after that type waits its own window, and the
    work is seen (a settle short after the first type skipped survives-api-errors)."""
    app = flask_endpoint.create_app(TEST_SECRET, defer=0.0)
    config = VerifyConfig(secret=TEST_SECRET, seed=11, events=("customer.created",))
    with (
        served(app) as url,
        FakeStripeAPI() as fake,
        fake.patch_stripe(),
        ContractRun(url, config, fake_api=fake) as run,
    ):
        results = {r.id: r for r in run.run(["after-deauthorization", "survives-api-errors"])}
    assert results["after-deauthorization"].status == "pass"
    assert results["survives-api-errors"].status == "pass", results["survives-api-errors"]
