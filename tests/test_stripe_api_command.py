"""``connect-harness stripe-api``: the fake on its own, until Ctrl-C."""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from connect_harness.cli import main
from connect_harness.stripe_api.command import call_line, parse_fault
from connect_harness.stripe_api.server import ApiCall


def _get(url: str, path: str, headers: dict[str, str]) -> int:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        answer = connection.getresponse()
        answer.read()
        return answer.status
    finally:
        connection.close()


def test_serves_prints_each_call_and_stops_quietly_on_ctrl_c(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "connect_harness", "stripe-api", "--port", "0", "--log", str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        url = banner.split("serving ", 1)[1].split(" ", 1)[0]
        assert url.startswith("http://127.0.0.1:")
        status = _get(url, "/v1/balance", {"Authorization": "Bearer sk_test_fake"})
        missing = _get(
            url,
            "/v1/customers/cus_1Nobody",
            {"Authorization": "Bearer sk_live_fake", "Stripe-Account": "acct_1Nobody"},
        )
        first, second = process.stdout.readline(), process.stdout.readline()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert (status, missing) == (200, 403)
    assert first == "GET /v1/balance Stripe-Account=- key=test 200\n"
    assert second == "GET /v1/customers/cus_1Nobody Stripe-Account=acct_1Nobody key=live 403\n"
    assert process.returncode == 0
    assert err.strip().splitlines() == ["stopped"]
    assert log.read_text().splitlines() == [first.strip(), second.strip()]


def test_a_port_in_use_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        code = main(["stripe-api", "--port", str(port)])

    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "cannot start the fake Stripe API" in err
    # the command line's words, not the Python API's (port=0)
    assert "give --port another port, or --port 0" in err and "port=0" not in err


def test_verify_says_a_fake_stripe_port_in_use_in_its_own_words(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = "endpoints.flask_endpoint:create_app()"
        argv = ["verify", "--app", app, "--secret", "whsec_clash", "--fake-stripe-port"]
        code = main([*argv, str(port), "--events", "customer.created"])

    err = capsys.readouterr().err
    assert code == 2
    assert "give --fake-stripe-port another port, or --fake-stripe-port 0" in err
    assert "port=0" not in err and "Traceback" not in err


def test_the_default_port_is_not_stripe_mocks() -> None:
    from connect_harness.cli import _build_parser

    args = _build_parser().parse_args(["stripe-api"])
    # stripe-mock serves HTTP on 12111 and HTTPS on 12112: the two must run side by side
    assert args.port not in {12111, 12112}


@pytest.mark.parametrize(
    "argv", [["--port", "99999"], ["--fail", "GET /v1/x=200"], ["--fail", "oops"]]
)
def test_bad_options_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stripe-api", *argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip()


def test_fault_option_parses_to_a_rule() -> None:
    assert parse_fault("GET /v1/customers/*=429") == ("GET /v1/customers/*", 429, False)
    assert parse_fault("*=reset") == ("*", None, True)


def test_call_line_names_gaps_and_faults() -> None:
    call = ApiCall(
        method="GET",
        path="/v2/core/events/evt_1",
        query={},
        stripe_account=None,
        idempotency_key=None,
        key_mode="test",
        object_id=None,
        object_type=None,
        object_owner=None,
        object_livemode=None,
        status=404,
        delivery=None,
        mutating=False,
        at=0.0,
        unserved=True,
        fault="* *",
    )

    assert call_line(call) == (
        "GET /v2/core/events/evt_1 Stripe-Account=- key=test 404 (not served by the fake) "
        "(fault * *)"
    )
