"""connect_harness.wire.request: the request Stripe sends, and its JSON / curl / raw HTTP renderings."""

from __future__ import annotations

import base64
import http.server
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import stripe

from connect_harness.errors import UsageError
from connect_harness.wire.request import (
    DEFAULT_URL,
    DeliveryRequest,
    delivery_request,
    request_for_event,
)
from connect_harness.wire.signing import parse_signature_header, sign_payload

SECRET = "whsec_test_secret"


def body_of(data: dict[str, Any], *, ascii_only: bool = True) -> bytes:
    return json.dumps(data, indent=2, ensure_ascii=ascii_only).encode()


BODY = body_of({"id": "evt_1", "object": "event", "created": 1700000000, "livemode": False})


def now() -> int:
    return int(time.time())


# --- the request Stripe sends ---------------------------------------------------------------------


def test_stripe_header_set_in_order() -> None:
    request = delivery_request(BODY, secrets=SECRET, timestamp=1700000000, livemode=True)
    assert request.method == "POST"
    assert request.url == DEFAULT_URL == "http://127.0.0.1:4242/webhook"
    assert request.body is not None and request.body == BODY
    assert request.headers == (
        ("Content-Type", "application/json; charset=utf-8"),
        ("Cache-Control", "no-cache"),
        ("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)"),
        ("Accept", "*/*; q=0.5, application/xml"),
        ("Stripe-Signature", sign_payload(BODY, SECRET, timestamp=1700000000)),
    )


def test_test_mode_carries_v0_and_live_mode_does_not() -> None:
    live = delivery_request(BODY, secrets=SECRET, timestamp=1700000000, livemode=True)
    test = delivery_request(BODY, secrets=SECRET, timestamp=1700000000, livemode=False)
    assert parse_signature_header(live.header("Stripe-Signature")).v0 == ()
    assert len(parse_signature_header(test.header("Stripe-Signature")).v0) == 1
    assert parse_signature_header(test.header("stripe-signature")).v1 == (
        parse_signature_header(live.header("STRIPE-SIGNATURE")).v1
    )


@pytest.mark.parametrize("livemode", [True, False], ids=["live", "test"])
@pytest.mark.parametrize(
    "secrets",
    [["whsec_only"], ["whsec_new", "whsec_old"], ["whsec_a", "whsec_b", "whsec_c"]],
    ids=["one-secret", "two-secrets", "three-secrets"],
)
def test_stripe_python_constructs_every_delivery(livemode: bool, secrets: list[str]) -> None:
    body = body_of({"id": "evt_1", "object": "event", "livemode": livemode, "data": {}})
    request = delivery_request(body, secrets=secrets, timestamp=now(), livemode=livemode)
    for secret in secrets:
        event = stripe.Webhook.construct_event(
            request.body, request.header("Stripe-Signature"), secret, tolerance=300
        )
        assert event.livemode is livemode


@dataclass
class FakeEvent:
    body: bytes
    payload: dict[str, Any] = field(default_factory=dict)


def test_request_for_event_follows_the_events_livemode() -> None:
    for livemode in (True, False):
        body = body_of({"id": "evt_1", "livemode": livemode})
        event = FakeEvent(body, json.loads(body))
        request = request_for_event(event, secrets=SECRET, timestamp=1700000000, url=DEFAULT_URL)
        assert request == delivery_request(
            body, secrets=SECRET, timestamp=1700000000, livemode=livemode
        )


def test_request_for_event_without_livemode_is_a_usage_error() -> None:
    with pytest.raises(
        UsageError, match=r"livemode None, not true or false; .*payload\['livemode'\]"
    ):
        request_for_event(FakeEvent(b"{}", {}), secrets=SECRET, timestamp=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "127.0.0.1:4242/webhook"}, "is not an http\\(s\\) URL with a host"),
        ({"url": "ftp://example.test/x"}, "is not an http\\(s\\) URL with a host"),
        ({"livemode": "false"}, "livemode must be True or False, not 'false'"),
        ({"secrets": []}, "no signing secret was given"),
    ],
)
def test_delivery_request_rejects_bad_input(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"secrets": SECRET, "timestamp": 1, "livemode": True} | kwargs
    with pytest.raises(UsageError, match=message):
        delivery_request(BODY, **arguments)


# --- DeliveryRequest ------------------------------------------------------------------------------


def plain_request() -> DeliveryRequest:
    return delivery_request(BODY, secrets=SECRET, timestamp=1700000000, livemode=True)


def test_header_lookup_ignores_case_and_misses_are_none() -> None:
    request = plain_request()
    assert request.header("content-type") == "application/json; charset=utf-8"
    assert request.header("X-Nope") is None


def test_without_header_drops_every_copy_in_any_case() -> None:
    request = (
        plain_request()
        .with_header("X-A", "1")
        .replace(headers=[*plain_request().headers, ("x-a", "2")])
    )
    stripped = request.without_header("X-A")
    assert stripped.header("x-a") is None
    assert stripped.headers == plain_request().headers


def test_with_header_replaces_in_place_or_appends() -> None:
    request = plain_request().with_header("stripe-signature", "t=1,v1=x")
    assert request.headers[-1] == ("Stripe-Signature", "t=1,v1=x")
    assert len(request.headers) == 5
    appended = request.with_header("X-Extra", "yes")
    assert appended.headers[-1] == ("X-Extra", "yes")


def test_replace_keeps_what_is_not_named() -> None:
    request = plain_request()
    changed = request.replace(body=b"{}", url="http://127.0.0.1:1/x")
    assert (changed.method, changed.headers) == (request.method, request.headers)
    assert (changed.body, changed.url) == (b"{}", "http://127.0.0.1:1/x")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"headers": [("X-A", "1\r\nX-Injected: 1")]}, "contains a line break or NUL"),
        ({"headers": [("X A", "1")]}, "is not a valid HTTP header name"),
        ({"headers": [("", "1")]}, "is not a valid HTTP header name"),
        ({"method": "PO ST"}, "is not a method name"),
        ({"body": "text"}, "the request body is a str, not bytes"),
    ],
)
def test_a_request_that_cannot_go_on_the_wire_is_refused(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        plain_request().replace(**change)


def test_to_json_has_the_exact_body_text() -> None:
    rendered = plain_request().to_json()
    assert rendered == {
        "method": "POST",
        "url": DEFAULT_URL,
        "headers": dict(plain_request().headers),
        "body": BODY.decode(),
    }
    assert json.loads(json.dumps(rendered)) == rendered


def test_to_json_falls_back_to_base64_for_bytes_that_are_not_utf8() -> None:
    rendered = plain_request().replace(body=b"\xff\xfe{}").to_json()
    assert "body" not in rendered
    assert base64.b64decode(rendered["body_base64"]) == b"\xff\xfe{}"


def test_to_json_joins_a_repeated_header() -> None:
    request = plain_request().replace(headers=[("X-A", "1"), ("X-A", "2")])
    assert request.to_json()["headers"] == {"X-A": "1, 2"}


def test_to_http_is_the_raw_request() -> None:
    request = DeliveryRequest(
        method="POST",
        url="http://user@localhost:8000/hooks/stripe?x=1",
        headers=(("Stripe-Signature", "t=1,v1=ab"),),
        body='{"a": "é"}'.encode(),
    )
    assert request.to_http() == (
        "POST /hooks/stripe?x=1 HTTP/1.1\r\n"
        "Host: localhost:8000\r\n"
        "Stripe-Signature: t=1,v1=ab\r\n"
        "Content-Length: 11\r\n"
        "\r\n"
        '{"a": "é"}'
    )
    bare = request.replace(url="https://example.test", body=b"\xff")
    assert bare.to_http().startswith("POST / HTTP/1.1\r\nHost: example.test\r\n")
    assert bare.to_http().endswith("Content-Length: 1\r\n\r\n\\xff")


# --- to_curl, run for real against a loopback server that verifies like an app would --------------


@dataclass
class Received:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    verdict: str | None


class RecordingEndpoint(http.server.BaseHTTPRequestHandler):
    """Answers 200 if stripe-python verifies the delivery, else 400; records what arrived."""

    protocol_version = "HTTP/1.1"
    received: list[Received]
    secret: str

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            stripe.WebhookSignature.verify_header(
                body, self.headers.get("Stripe-Signature"), self.secret, tolerance=300
            )
            verdict = None
        except Exception as err:
            verdict = f"{type(err).__name__}: {err}"
        self.received.append(
            Received(self.command, self.path, list(self.headers.items()), body, verdict)
        )
        status = 200 if verdict is None else 400
        reply = b"ok" if verdict is None else b"bad signature"
        self.send_response(status)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[tuple[str, list[Received]]]:
    received: list[Received] = []
    handler = type("Handler", (RecordingEndpoint,), {"received": received, "secret": SECRET})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/webhook", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def run_printed(command: str) -> str:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed, so the printed curl command cannot be run")
    # A proxy from the environment must not carry a loopback test anywhere else.
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    result = subprocess.run(
        ["sh", "-c", command], capture_output=True, timeout=30, check=False, env=env
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout.decode(errors="replace")


AWKWARD = body_of(
    {
        "id": "evt_1",
        "object": "event",
        "data": {
            "object": {
                "name": "O'Brien's café — naïve 😀 '\\''",
                "shell": '$HOME `id` $(id) %s %b \\n \\ " !',
            }
        },
    },
    ascii_only=False,
)


@pytest.mark.parametrize(
    "body",
    [AWKWARD, AWKWARD + b"\n\n", b"line one\r\nline 'two'\n\ttabbed\n", b"-"],
    ids=["quotes-unicode-newlines", "trailing-newlines", "crlf-text", "dash"],
)
def test_printed_curl_delivers_exactly_these_bytes_and_headers(
    endpoint: tuple[str, list[Received]], body: bytes
) -> None:
    url, received = endpoint
    request = delivery_request(body, secrets=SECRET, timestamp=now(), livemode=False, url=url)
    output = run_printed(request.to_curl())
    assert output.startswith("HTTP/1.1 200"), output
    [got] = received
    assert got.verdict is None
    assert (got.method, got.path, got.body) == ("POST", "/webhook", body)
    host = url.removeprefix("http://").removesuffix("/webhook")
    assert sorted(got.headers) == sorted(
        [*request.headers, ("Host", host), ("Content-Length", str(len(body)))]
    )


def test_printed_curl_sends_no_header_of_its_own(endpoint: tuple[str, list[Received]]) -> None:
    url, received = endpoint
    request = (
        delivery_request(BODY, secrets=SECRET, timestamp=now(), livemode=True, url=url)
        .without_header("User-Agent")
        .without_header("Accept")
        .without_header("Content-Type")
        .with_header("X-Empty", "")
    )
    assert run_printed(request.to_curl()).startswith("HTTP/1.1 200")
    names = {name.lower(): value for name, value in received[0].headers}
    assert "user-agent" not in names
    assert "accept" not in names
    assert "content-type" not in names
    assert "expect" not in names
    assert names["x-empty"] == ""


def test_printed_curl_pipes_non_utf8_bodies_through_base64(
    endpoint: tuple[str, list[Received]],
) -> None:
    if shutil.which("base64") is None:
        pytest.skip("base64 is not installed; the printed command needs it for non-UTF-8 bodies")
    url, received = endpoint
    body = b'{"a": "\xff\x00\xfe"}\n'
    request = delivery_request(body, secrets=SECRET, timestamp=now(), livemode=True, url=url)
    assert "base64 -d" in request.to_curl()
    output = run_printed(request.to_curl())
    # stripe-python cannot decode the body, so the endpoint says 400; what matters is the bytes.
    assert output.startswith("HTTP/1.1 400"), output
    assert received[0].body == body
    assert received[0].verdict is not None and "UnicodeDecodeError" in received[0].verdict


def test_printed_curl_shape() -> None:
    command = plain_request().to_curl()
    assert command.startswith('printf \'%s\' \'{\n  "id": "evt_1",')
    assert " | curl -sS -i --http1.1 -X 'POST' 'http://127.0.0.1:4242/webhook' -H " in command
    assert command.endswith(" -H 'Expect:' --data-binary @-")
    assert "--data " not in command
