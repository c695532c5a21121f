"""Calls made after the answer are tied to the right delivery, or to none: never to whichever
delivery happened to be under way when they arrived."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest
import stripe

from connect_harness.checks.api_calls import check_separates_livemode
from connect_harness.checks.attribution import attribute
from connect_harness.checks.findings import CheckResult
from connect_harness.checks.run import ContractRun, VerifyConfig
from connect_harness.stripe_api.calls import ApiCall
from endpoints import flask_endpoint
from endpoints.core import LIVE_KEY, TEST_KEY

SECRET = "whsec_test_secret"
ACCOUNT = "acct_1HarnessAttribute"


@dataclass(frozen=True)
class _Request:
    body: bytes


@dataclass(frozen=True)
class _Record:
    label: str
    started: float
    finished: float
    account: str | None
    request: _Request


def _record(label: str, at: float, event_id: str, *names: str) -> _Record:
    body = json.dumps({"id": event_id, "account": ACCOUNT, "data": {"object": list(names)}})
    return _Record(label, at, at + 0.01, ACCOUNT, _Request(body.encode()))


def _call(label: str, at: float, path: str, *, key: str | None = None) -> ApiCall:
    return ApiCall(
        method="POST" if key else "GET",
        path=path,
        query={},
        stripe_account=ACCOUNT,
        idempotency_key=key,
        key_mode="test",
        object_id=None,
        object_type=None,
        object_owner=None,
        object_livemode=None,
        status=200,
        delivery=label,
        mutating=bool(key),
        at=at,
        stripe_account_header=ACCOUNT,
    )


A = _record("a#1", 1.0, "evt_1AaaaaaaaaaaA", "pi_1Shared000000", "ch_1OnlyInA00000")
B = _record("b#2", 2.0, "evt_1BbbbbbbbbbbB", "pi_1Shared000000", "cus_1OnlyInB0000")
A_AGAIN = _record("a#3", 3.0, "evt_1AaaaaaaaaaaA", "pi_1Shared000000", "ch_1OnlyInA00000")


def test_an_endpoint_that_works_before_answering_keeps_its_labels() -> None:
    calls = [_call("a#1", 1.005, "/v1/customers/cus_1OnlyInB0000")]
    found = attribute([A, B], calls)
    assert not found.after_answering
    assert found.by_label == {"a#1": tuple(calls)}  # timing is the truth: no content guessing


def test_late_calls_are_tied_by_what_they_name_or_to_none() -> None:
    own = _call("b#2", 2.005, "/v1/charges/ch_1OnlyInA00000")  # A's work, landing during B
    keyed = _call("b#2", 2.006, "/v1/payment_intents/pi_1Shared000000", key="evt_1AaaaaaaaaaaA:x")
    shared = _call("b#2", 2.5, "/v1/payment_intents/pi_1Shared000000")  # A's or B's: unknown
    nothing = _call("b#2", 2.6, "/v1/balance")
    found = attribute([A, B], [own, keyed, shared, nothing])
    assert found.after_answering
    assert found.by_label == {"a#1": (own, keyed)}
    assert found.ambiguous == (shared, nothing)


def test_late_work_landing_only_inside_later_deliveries_is_still_seen_as_late() -> None:
    """No call falls between two deliveries (a loaded machine, back-to-back deliveries): a call
    during B naming only what answered A named is A's late work, and not B's."""
    own = _call("b#2", 2.005, "/v1/charges/ch_1OnlyInA00000")
    theirs = _call("b#2", 2.006, "/v1/customers/cus_1OnlyInB0000")
    found = attribute([A, B], [own, theirs])
    assert found.after_answering
    assert found.by_label == {"a#1": (own,), "b#2": (theirs,)}


def test_a_call_naming_its_own_delivery_and_an_earlier_one_keeps_its_label() -> None:
    both = _call("b#2", 2.005, "/v1/customers/cus_1OnlyInB0000?charge=ch_1OnlyInA00000")
    found = attribute([A, B], [both])
    assert not found.after_answering
    assert found.by_label == {"b#2": (both,)}


def test_a_call_cannot_serve_a_delivery_that_had_not_started() -> None:
    # cus_1OnlyInB0000 is B's, but the call came before B was sent: tied to none.
    early = _call("a#1", 1.5, "/v1/customers/cus_1OnlyInB0000")
    assert attribute([A, B], [early]).ambiguous == (early,)


def test_copies_of_one_event_give_their_calls_to_the_first_copy() -> None:
    late = _call("a#3", 3.5, "/v1/charges/ch_1OnlyInA00000", key="evt_1AaaaaaaaaaaA:x")
    found = attribute([A, B, A_AGAIN], [late])
    assert found.by_label == {"a#1": (late,)}


def test_a_worker_lagging_into_the_next_delivery_is_tied_to_its_own_event() -> None:
    """The endpoint answers, then works 0.3 s later: its calls land while the next event is sent."""
    app = flask_endpoint.create_app(SECRET, defer=0.3)
    config = VerifyConfig(secret=SECRET, seed=3)
    with ContractRun(app, config) as run, run.fake_api.patch_stripe():
        intent = run.event("payment_intent.succeeded", ACCOUNT, False, 3)
        first = run.send_event("probe", intent, seed=3)
        others = []
        # Keep delivering other events until the worker's two calls arrived (0.3 s on).
        deadline = time.monotonic() + 10
        while len(run.fake_api.calls) < 2 and time.monotonic() < deadline:
            event = run.event("customer.created", ACCOUNT, False, len(others) + 4)
            others.append(run.send_event("probe", event, seed=len(others) + 4))
            time.sleep(0.02)
        records = {record.label: record for record in run.judged_records()}
        labels_at_call_time = {call.delivery for call in run.fake_api.calls}
    assert labels_at_call_time - {first.label}, "the calls did not land during a later delivery"
    paths = [call.path for call in records[first.label].calls]
    assert paths == [f"/v1/payment_intents/{intent.object_id}"] * 2
    assert all(not records[other.label].calls for other in others)


@pytest.mark.parametrize(
    ("bug", "status", "words"),
    [
        (None, "pass", "could not be tied to one delivery"),
        ("platform-auth", "fail", "nothing ties it to one delivery"),
    ],
)
def test_calls_tied_to_no_delivery_are_judged_by_their_object_and_said_so(
    bug: str | None, status: str, words: str
) -> None:
    """The endpoint answers every event of the scenarios first and works only once all were
    answered (no later delivery under way, so timing cannot mislead): it fetches a payment intent that three delivered events name, so which delivery the
    call served is unknown, and the account check judges it by the object it touches only."""
    app = flask_endpoint.create_app(SECRET, bug=bug, defer=0.0)
    gate = app.extensions["webhook_core"].gate = threading.Event()
    config = VerifyConfig(secret=SECRET, seed=5, events=("customer.created",))
    with ContractRun(app, config) as run:
        run.result("order-independent")
        with run.fake_api.patch_stripe():
            gate.set()  # the work starts now, between two deliveries: after every answer
            deadline = time.monotonic() + 10
            while not run.fake_api.calls and time.monotonic() < deadline:
                time.sleep(0.01)
            run.settle()
        result = run.result("uses-connected-account-context")
        ambiguous = run.ambiguous_calls()
    assert any(call.path.startswith("/v1/payment_intents/") for call in ambiguous)
    assert result.status == status
    assert any(words in finding.reason for finding in result.findings), result.findings


class _OneLateCall:
    """Answers every event at once. A live event's one API call (naming nothing of any event) is
    made late, while the next event is being handled: timing alone ties it to the wrong delivery.
    With ``bug``, it is a real mistake instead: a live key for a test event's own object, at once."""

    def __init__(self, *, bug: bool = False) -> None:
        self.bug = bug
        self.pending: dict[str, object] | None = None

    def __call__(self, environ: dict[str, object], start_response: object) -> list[bytes]:
        stream = environ["wsgi.input"]
        length = int(str(environ.get("CONTENT_LENGTH") or 0))
        event = json.loads(stream.read(length))  # type: ignore[attr-defined]
        if self.pending is not None:
            options, self.pending = self.pending, None
            worker = threading.Thread(target=_retrieve, args=("cus_doesnotexist", options))
            worker.start()
            worker.join()
        account = event.get("account")
        if event["livemode"] and not self.bug:
            self.pending = {"api_key": LIVE_KEY, "stripe_account": account}
        if self.bug and not event["livemode"]:
            _retrieve(
                event["data"]["object"]["id"], {"api_key": LIVE_KEY, "stripe_account": account}
            )
        start_response("200 OK", [("Content-Type", "application/json")])  # type: ignore[operator]
        return [b"{}"]


def _retrieve(object_id: str, options: dict[str, object]) -> None:
    with contextlib.suppress(stripe.StripeError):
        stripe.PaymentIntent.retrieve(object_id, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(("bug", "status"), [(False, "skip"), (True, "fail")])
def test_one_late_call_landing_in_the_next_delivery_is_not_blamed_on_it(
    bug: bool, status: str
) -> None:
    config = VerifyConfig(secret=SECRET, seed=8)
    with ContractRun(_OneLateCall(bug=bug), config) as run, run.fake_api.patch_stripe():
        for seed, livemode in ((8, True), (9, False)):
            event = run.event("payment_intent.succeeded", ACCOUNT, livemode, seed)
            run.send_event("probe", event, seed=seed)
        findings = list(check_separates_livemode(run))
        assert run.fake_api.calls  # one call (stripe-python may retry it on a busy machine)
        (record,) = [r for r in run.judged_records() if r.calls]
        assert record.livemode is False  # timing put the call(s) in the test-mode delivery
    assert {f.status for f in findings} == {status}, findings
    if bug:
        assert "used a live-mode key for a test-mode" in findings[0].reason


class _AnswersThenFetches:
    """Answers at once; a worker fetches the event's payment intent with stripe-python's
    module-level API once :meth:`work` lets it, remembering any fetch that never reached an API
    (connection refused)."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.workers: list[threading.Thread] = []
        self.unreachable: list[str] = []

    def __call__(self, environ: dict[str, object], start_response: object) -> list[bytes]:
        stream = environ["wsgi.input"]
        length = int(str(environ.get("CONTENT_LENGTH") or 0))
        event = json.loads(stream.read(length))  # type: ignore[attr-defined]
        if event.get("type") == "payment_intent.succeeded":
            options = {"api_key": LIVE_KEY if event["livemode"] else TEST_KEY}
            if event.get("account"):
                options["stripe_account"] = event["account"]
            worker = threading.Thread(target=self._fetch, args=(event, options))
            worker.start()
            self.workers.append(worker)
        start_response("200 OK", [("Content-Type", "application/json")])  # type: ignore[operator]
        return [b"{}"]

    def work(self) -> None:
        """Let the workers fetch, and wait until they did."""
        self.gate.set()
        for worker in self.workers:
            worker.join(timeout=30)

    def _fetch(self, event: dict[str, Any], options: dict[str, object]) -> None:
        self.gate.wait(timeout=30)
        try:
            stripe.PaymentIntent.retrieve(event["data"]["object"]["id"], **options)  # type: ignore[arg-type]
        except stripe.APIConnectionError:
            self.unreachable.append(event["id"])
        except stripe.StripeError:
            pass


def test_work_lagging_past_a_check_reaches_the_fake_during_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run's checks point stripe-python at the fake from the first to the last: an endpoint still
    working when one check ends (here: exactly between two checks) must not have its calls sent
    elsewhere (a closed port, standing for Stripe)."""
    monkeypatch.setattr(stripe, "api_base", "http://127.0.0.1:9")
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    app = _AnswersThenFetches()

    class BetweenChecks(ContractRun):
        def result(self, check_id: str) -> CheckResult:
            found = super().result(check_id)
            if check_id == "accepts-valid-events":
                app.work()  # after that check, before the next
            return found

    config = VerifyConfig(secret=SECRET, seed=4, events=("payment_intent.succeeded",))
    with BetweenChecks(app, config) as run:
        run.run(["accepts-valid-events", "rejects-missing-signature"])
        reached = [call for call in run.fake_api.calls if "/payment_intents/" in call.path]
    assert app.workers, "no payment intent was delivered: nothing was tested"
    assert app.unreachable == []
    assert len(reached) == len(app.workers)
