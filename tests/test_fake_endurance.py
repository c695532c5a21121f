"""The fake Stripe API as a long-lived server: it holds nothing per request beyond its bounded call
log, refuses bodies too large or malformed before reading them, and keeps serving when nobody reads
its printed lines (issue 21)."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from connect_harness.cli import main
from connect_harness.errors import UsageError
from connect_harness.stripe_api.call_log import CallPrinter
from connect_harness.stripe_api.fake import FakeStripeAPI
from connect_harness.stripe_api.limits import MAX_BODY_BYTES

KEY = "Bearer sk_test_fake"


@pytest.fixture
def fake() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as api:
        yield api


def _connection(fake: FakeStripeAPI) -> http.client.HTTPConnection:
    host, port = fake.url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=10)


def _post(
    fake: FakeStripeAPI, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, object]]:
    connection = _connection(fake)
    try:
        connection.putrequest("POST", "/v1/customers")
        sent = {
            "Authorization": KEY,
            "Content-Type": "application/x-www-form-urlencoded",
            "Content-Length": str(len(body)),
            **(headers or {}),
        }
        for name, value in sent.items():
            connection.putheader(name, value)
        connection.endheaders()
        connection.send(body)
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()


def test_a_form_body_that_is_not_utf8_gets_400_not_500(fake: FakeStripeAPI) -> None:
    status, body = _post(fake, b"name=caf\xe9")

    assert status == 400
    error = body["error"]
    assert isinstance(error, dict)
    assert error["type"] == "invalid_request_error"
    assert "not UTF-8" in error["message"]
    assert fake.calls[-1].status == 400


def test_a_utf8_form_body_is_still_served(fake: FakeStripeAPI) -> None:
    status, body = _post(fake, "name=café".encode())

    assert status == 200
    assert body["name"] == "café"


def test_a_content_length_that_is_not_a_number_gets_400(fake: FakeStripeAPI) -> None:
    status, body = _post(fake, b"name=x", {"Content-Length": "abc"})

    assert status == 400
    error = body["error"]
    assert isinstance(error, dict)
    assert "Content-Length" in error["message"]


def test_a_body_over_the_limit_is_refused_before_it_is_read(fake: FakeStripeAPI) -> None:
    # Only the header claims the size: the fake must answer without waiting for 16 MiB to arrive.
    connection = _connection(fake)
    try:
        connection.putrequest("POST", "/v1/customers")
        connection.putheader("Authorization", KEY)
        connection.putheader("Content-Type", "application/x-www-form-urlencoded")
        connection.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
        connection.endheaders()
        connection.send(b"name=x")
        answer = connection.getresponse()
        body = json.loads(answer.read())
    finally:
        connection.close()

    assert answer.status == 413
    assert str(MAX_BODY_BYTES) in body["error"]["message"]


def test_the_server_keeps_no_request_or_response_of_its_own(fake: FakeStripeAPI) -> None:
    connection = _connection(fake)
    try:
        for _ in range(20):
            connection.request("GET", "/v1/nothing_here", headers={"Authorization": KEY})
            connection.getresponse().read()
    finally:
        connection.close()

    assert fake._server.log == []  # pytest-httpserver's own log held every request and response
    assert len(fake.calls) == 20


def test_max_calls_keeps_only_the_latest_calls() -> None:
    with FakeStripeAPI(max_calls=3) as api:
        connection = _connection(api)
        try:
            for index in range(5):
                connection.request(
                    "GET", f"/v1/customers/cus_{index}", headers={"Authorization": KEY}
                )
                connection.getresponse().read()
        finally:
            connection.close()

        assert [call.path for call in api.calls] == [f"/v1/customers/cus_{i}" for i in (2, 3, 4)]


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "10"])
def test_max_calls_must_be_a_positive_count(bad: object) -> None:
    with pytest.raises(UsageError, match="max_calls must be a whole number, 1 or more"):
        FakeStripeAPI(max_calls=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["bad", "2026-13-01", ""])
def test_the_fake_refuses_a_malformed_api_version(bad: str) -> None:
    with pytest.raises(UsageError, match="is not a Stripe API version"):
        FakeStripeAPI(api_version=bad)


def test_stripe_api_refuses_a_malformed_api_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stripe-api", "--port", "0", "--api-version", "bad"]) == 2

    err = capsys.readouterr().err
    assert "'bad' is not a Stripe API version" in err
    assert "Traceback" not in err


def test_a_printer_whose_output_blocks_never_blocks_the_caller() -> None:
    release = threading.Event()
    printed: list[str] = []

    def stuck(line: str) -> None:  # a stdout pipe nobody reads
        release.wait(30)
        printed.append(line)

    printer = CallPrinter(stuck, queue_lines=2)
    for index in range(50):
        printer.put(f"line {index}")
    dropped_while_stuck = printer.dropped
    release.set()
    printer.close()

    # At most one line in the writer's hands and two queued; put() dropped the rest at once.
    assert dropped_while_stuck >= 47
    assert printed[0] == "line 0"
    assert len(printed) == 50 - printer.dropped


def test_a_printer_writes_every_line_to_its_log_even_when_it_drops_stdout(tmp_path: Path) -> None:
    release = threading.Event()
    with (tmp_path / "calls.log").open("w", encoding="utf-8") as log:
        printer = CallPrinter(lambda line: release.wait(30) and None, log, queue_lines=1)
        for index in range(10):
            printer.put(f"line {index}")
        release.set()
        printer.close()

    assert (tmp_path / "calls.log").read_text(encoding="utf-8").splitlines() == [
        f"line {index}" for index in range(10)
    ]
