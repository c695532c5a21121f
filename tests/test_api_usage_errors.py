"""The public Python API refuses wrong types and values with a UsageError naming the argument.

One table: every public callable (``connect_harness.__all__``, ``strategies.events``,
``build_thin_event``, the fake's and the client's methods, ``VerifyConfig``, ``Settings``...) called
the wrong way, and the argument its message must name. A raw TypeError or AttributeError from deep
inside (what these calls raised before) fails the row: ``UsageError`` is not one of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import connect_harness as ch
from connect_harness import strategies
from connect_harness.client import EventFactory
from connect_harness.errors import UsageError
from connect_harness.events.thin import build_thin_event
from connect_harness.settings import Settings

ACCT = "acct_1PgafTB7WZ01zgkW"
SECRET = "whsec_api_usage"


def _app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b"{}"]


@pytest.fixture(scope="module")
def fake() -> Iterator[ch.FakeStripeAPI]:
    with ch.FakeStripeAPI() as api:
        yield api


@pytest.fixture(scope="module")
def event() -> ch.Event:
    return ch.build_event("payout.failed", account=ACCT)


def client() -> ch.WebhookClient:
    return ch.WebhookClient(ch.target_from(_app), secret=SECRET)


def config() -> ch.VerifyConfig:
    return ch.VerifyConfig(secret=SECRET)


# (case id, the call given the fake and an event, the argument the message must name)
CASES: list[tuple[str, Callable[[Any, Any], object], str]] = [
    ("build_event event_type", lambda f, e: ch.build_event(7), "event_type"),
    ("build_event seed", lambda f, e: ch.build_event("payout.failed", seed=-1), "seed"),
    ("build_event created", lambda f, e: ch.build_event("payout.failed", created="now"), "created"),
    ("build_event ascii_only", lambda f, e: ch.build_event("payout.failed", ascii_only=1), "ascii_only"),
    ("FakeStripeAPI port range", lambda f, e: ch.FakeStripeAPI(port=70000), "port"),
    ("FakeStripeAPI port type", lambda f, e: ch.FakeStripeAPI(port="80"), "port"),
    ("build_event livemode", lambda f, e: ch.build_event("payout.failed", livemode="yes"), "livemode"),
    ("build_event account", lambda f, e: ch.build_event("payout.failed", account=5), "account"),
    ("build_event overrides", lambda f, e: ch.build_event("payout.failed", overrides=["a"]), "overrides"),
    ("build_event merge", lambda f, e: ch.build_event("payout.failed", merge="x"), "merge"),
    ("build_event id", lambda f, e: ch.build_event("payout.failed", id=3), "id"),
    ("event_matrix types", lambda f, e: ch.event_matrix(5), "types"),
    ("event_matrix account", lambda f, e: ch.event_matrix("payout.failed", account=4), "account"),
    ("build_scenario account", lambda f, e: ch.build_scenario("subscription", account=5), "account"),
    ("build_scenario seed", lambda f, e: ch.build_scenario("subscription", seed=-1), "seed"),
    ("build_scenario name", lambda f, e: ch.build_scenario(5), "name"),
    ("build_thin_event type", lambda f, e: build_thin_event(5), "event_type"),
    ("build_thin_event account", lambda f, e: build_thin_event("v2.core.account.updated", account=5), "account"),
    ("build_thin_event livemode", lambda f, e: build_thin_event("v2.core.account.updated", livemode="yes"), "livemode"),
    ("build_thin_event created", lambda f, e: build_thin_event("v2.core.account.updated", created="x"), "created"),
    ("build_thin_event ascii_only", lambda f, e: build_thin_event("v2.core.account.updated", ascii_only=1), "ascii_only"),
    ("build_thin_event id", lambda f, e: build_thin_event("v2.core.account.updated", id=5), "id"),
    ("sign_payload secrets", lambda f, e: ch.sign_payload(b"x", 5, timestamp=1), "secrets"),
    ("sign_payload v0", lambda f, e: ch.sign_payload(b"x", SECRET, timestamp=1, v0="y"), "v0"),
    ("delivery_request secrets", lambda f, e: ch.delivery_request(b"x", secrets=5, timestamp=1, livemode=False), "secrets"),
    ("DeliveryRequest method", lambda f, e: ch.DeliveryRequest(method=5, url="http://127.0.0.1/", headers=(), body=b""), "method"),
    ("DeliveryRequest headers", lambda f, e: ch.DeliveryRequest(method="POST", url="http://127.0.0.1/", headers=(("a", 1),), body=b""), "headers"),
    ("bad_variants now", lambda f, e: ch.bad_variants(e.body, secret=SECRET, timestamp=10**9, livemode=False, now="x"), "now"),
    ("deliver request", lambda f, e: ch.deliver("x", ch.target_from(_app)), "request"),
    ("target_from allow_remote", lambda f, e: ch.target_from("http://127.0.0.1:9/", allow_remote="yes"), "allow_remote"),
    ("load_app spec", lambda f, e: ch.load_app(5), "spec"),
    ("FakeStripeAPI api_version", lambda f, e: ch.FakeStripeAPI(api_version=5), "api_version"),
    ("FakeStripeAPI on_call", lambda f, e: ch.FakeStripeAPI(on_call=5), "on_call"),
    ("fake.fail route_pattern", lambda f, e: f.fail(5), "route_pattern"),
    ("fake.fail status", lambda f, e: f.fail("GET /v1/customers/*", status="x"), "status"),
    ("fake.fail times", lambda f, e: f.fail("GET /v1/customers/*", times="x"), "times"),
    ("fake.fail delay", lambda f, e: f.fail("*", delay="x"), "delay"),
    ("fake.register_event", lambda f, e: f.register_event("x"), "event"),
    ("fake.register_object", lambda f, e: f.register_object("x"), "obj"),
    ("fake.wait_idle", lambda f, e: f.wait_idle(quiet="x"), "quiet"),
    ("fake.calls_for", lambda f, e: f.calls_for(5), "label"),
    ("WebhookClient target", lambda f, e: ch.WebhookClient("x", secret=SECRET), "target"),
    ("WebhookClient secret", lambda f, e: ch.WebhookClient(ch.target_from(_app), secret=5), "secret"),
    ("WebhookClient timeout", lambda f, e: ch.WebhookClient(ch.target_from(_app), secret=SECRET, timeout="x"), "timeout"),
    ("WebhookClient url", lambda f, e: ch.WebhookClient(ch.target_from(_app), secret=SECRET, url=5), "url"),
    ("client.send event", lambda f, e: client().send(5), "event"),
    ("client.send built event with build arguments", lambda f, e: client().send(e, livemode=True), "livemode"),
    ("client.send_concurrently event", lambda f, e: client().send_concurrently(5), "event"),
    ("client.request_for event", lambda f, e: client().request_for("x"), "event"),
    ("client.deliver request", lambda f, e: client().deliver("x"), "request"),
    ("run_checks config", lambda f, e: ch.run_checks(ch.target_from(_app), "x"), "config"),
    ("run_checks only", lambda f, e: ch.run_checks(ch.target_from(_app), config(), only=5), "only"),
    ("ContractRun config", lambda f, e: ch.ContractRun(ch.target_from(_app), "x"), "config"),
    ("VerifyConfig events", lambda f, e: ch.VerifyConfig(secret=SECRET, events=5), "events"),
    ("VerifyConfig max_response_time", lambda f, e: ch.VerifyConfig(secret=SECRET, max_response_time="x"), "max_response_time"),
    ("VerifyConfig timeout", lambda f, e: ch.VerifyConfig(secret=SECRET, timeout="x"), "timeout"),
    ("VerifyConfig api_version", lambda f, e: ch.VerifyConfig(secret=SECRET, api_version=5), "api_version"),
    ("assert_passes results", lambda f, e: ch.assert_passes(5), "results"),
    ("assert_passes items", lambda f, e: ch.assert_passes([5]), "results"),
    ("strategies.events livemode", lambda f, e: strategies.events(livemode="x"), "livemode"),
    ("EventFactory seed", lambda f, e: EventFactory(-1), "seed"),
    ("EventFactory thin", lambda f, e: EventFactory(0)("payout.failed", thin="x"), "thin"),
    ("Settings values", lambda f, e: Settings(values=5), "values"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "argument"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_wrong_type_is_a_usage_error_naming_the_argument(
    call: Callable[[Any, Any], object], argument: str, fake: ch.FakeStripeAPI, event: ch.Event
) -> None:
    with pytest.raises(UsageError) as caught:
        call(fake, event)
    message = str(caught.value)
    assert (
        message.startswith(f"{argument} ")
        or f" {argument} " in message
        or (f"{argument}=" in message)
    ), message
    assert "\n" not in message


def test_the_message_says_what_was_given_and_what_to_pass() -> None:
    with pytest.raises(UsageError) as caught:
        build_thin_event("v2.core.account.updated", livemode="yes")
    assert str(caught.value) == "livemode must be True or False, not 'yes'"
    with pytest.raises(UsageError) as caught:
        ch.build_event("payout.failed", account=5)
    assert str(caught.value) == (
        "account must be a string like 'acct_1HarnessConnect0' or None, not 5"
    )


def test_right_types_still_work(event: ch.Event) -> None:
    assert ch.event_matrix(("payout.failed",), account=ACCT, endpoint_type="connect")
    assert ch.assert_passes([]) is None
    assert (
        ch.DeliveryRequest(method="POST", url="http://127.0.0.1/", headers=[], body=b"").headers
        == ()
    )
    assert client().send(event).status == 200
