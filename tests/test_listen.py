"""``listen`` + ``trigger`` + ``resend`` as subprocesses against a URL endpoint, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import stripe

HARNESS = str(Path(__file__).resolve().parents[1] / "harness")


def cli_env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["XDG_CACHE_HOME"] = str(cache)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [HARNESS, env.get("PYTHONPATH")]))
    return env


def cli(cache: Path, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "connect_harness", *argv],
        env=cli_env(cache),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Endpoint:
    """A webhook endpoint over HTTP that verifies with stripe-python and calls the fake API."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.received: list[dict[str, Any]] = []
        self.fetched: list[int] = []
        self.stripe_api: str | None = None
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            seen: ClassVar[list[str]] = []

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path.endswith("/thin"):
                    self._thin(body)
                    return
                try:
                    event = stripe.Webhook.construct_event(
                        body, self.headers["Stripe-Signature"], endpoint.secret
                    )
                except (ValueError, stripe.SignatureVerificationError):
                    self.send_response(400)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                payload = json.loads(body)
                endpoint.received.append({"path": self.path, "payload": payload})
                if endpoint.stripe_api:  # fetch the event back, as a careful handler does
                    key = "sk_live_listen" if payload["livemode"] else "sk_test_listen"
                    headers = {"Authorization": f"Bearer {key}"}
                    if payload.get("account"):
                        headers["Stripe-Account"] = payload["account"]
                    request = urllib.request.Request(
                        f"{endpoint.stripe_api}/v1/events/{event['id']}", headers=headers
                    )
                    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
                    with opener.open(request, timeout=10) as answer:
                        answer.read()
                self._ok()

            def _ok(self) -> None:
                out = b'{"received": true}\nsecond line\n'
                self.send_response(200)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def _thin(self, body: bytes) -> None:
                """An event destination: parse the notification as stripe-python does, then fetch
                its related object from the session's fake with the notification's context."""
                client = stripe.StripeClient(
                    "sk_test_listen", base_addresses={"api": endpoint.stripe_api or ""}
                )
                try:
                    client.parse_event_notification(
                        body, self.headers["Stripe-Signature"], endpoint.secret
                    )
                except (ValueError, stripe.SignatureVerificationError):
                    self.send_response(400)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                payload = json.loads(body)
                endpoint.received.append({"path": self.path, "payload": payload})
                related = payload.get("related_object")
                if endpoint.stripe_api and related:
                    got = client.raw_request(
                        "get", related["url"], stripe_context=payload.get("context")
                    )
                    endpoint.fetched.append(got.code)
                self._ok()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _ended(listen: subprocess.Popen[str]) -> str:
    """The output of a listen process told to stop; killed (and the test failed) if it has not
    ended within a minute, so it never outlives its test."""
    try:
        out, _ = listen.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        listen.kill()
        listen.communicate()
        raise
    return out


@pytest.fixture
def session(tmp_path: Path) -> Iterator[tuple[Path, Endpoint, subprocess.Popen[str]]]:
    cache = tmp_path / "cache"
    secret = cli(cache, "listen", "--print-secret").stdout.strip()
    assert secret.startswith("whsec_")
    assert cli(cache, "listen", "--print-secret").stdout.strip() == secret  # stable, as Stripe's
    endpoint = Endpoint(secret)
    listen = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "connect_harness",
            "listen",
            "--forward-to",
            f"{endpoint.url}/webhook",
            "--forward-connect-to",
            f"{endpoint.url}/connect",
            "--forward-thin-to",
            f"{endpoint.url}/thin",
        ],
        env=cli_env(cache),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert listen.stdout is not None
    ready = listen.stdout.readline()
    assert ready.startswith("> Ready! Your webhook signing secret is " + secret), ready
    api_line = listen.stdout.readline()
    endpoint.stripe_api = api_line.split("Fake Stripe API: ", 1)[1].split()[0]
    path = cache / "connect-harness" / "listen.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert (cache / "connect-harness" / "secret").stat().st_mode & 0o777 == 0o600
    session_file = json.loads(path.read_text())
    assert session_file["stripe_api_url"] == endpoint.stripe_api
    try:
        yield cache, endpoint, listen
    finally:
        if listen.returncode is None:
            listen.terminate()
            _ended(listen)
        endpoint.close()
    assert listen.returncode == 0
    assert not (cache / "connect-harness" / "listen.json").exists()


def test_trigger_routes_platform_and_connect_events_and_resend_redelivers(
    session: tuple[Path, Endpoint, subprocess.Popen[str]],
) -> None:
    cache, endpoint, listen = session
    platform = cli(cache, "trigger", "payout.paid")
    assert platform.returncode == 0, platform.stderr
    first_line, *head = platform.stdout.splitlines()
    assert "(platform, test)" in first_line and "/webhook: 200" in first_line
    assert head == ['  {"received": true}', "  second line"]
    again = cli(cache, "trigger", "payout.paid")
    connect = cli(
        cache,
        "trigger",
        "payout.paid",
        "--stripe-account",
        "acct_1ListenTest",
        "--live",
        "--override",
        "data.object.amount=777",
        "--add",
        "data.object.metadata.order=A-1",
        "--remove",
        "data.object.description",
    )
    assert connect.returncode == 0, connect.stderr
    assert (
        "(connect acct_1ListenTest, live)" in connect.stdout and "/connect: 200" in connect.stdout
    )
    assert [item["path"] for item in endpoint.received] == ["/webhook", "/webhook", "/connect"]
    ids = [item["payload"]["id"] for item in endpoint.received]
    assert len(set(ids)) == 3  # a fresh id every time
    live = endpoint.received[2]["payload"]
    assert live["account"] == "acct_1ListenTest" and live["livemode"] is True
    assert live["data"]["object"]["amount"] == 777
    assert live["data"]["object"]["metadata"]["order"] == "A-1"
    assert "description" not in live["data"]["object"]
    assert "account" not in endpoint.received[0]["payload"]

    resent = cli(cache, "resend", ids[2])
    assert resent.returncode == 0, resent.stderr
    assert endpoint.received[3]["payload"] == live and endpoint.received[3]["path"] == "/connect"
    unknown = cli(cache, "resend", "evt_never_sent")
    assert unknown.returncode == 2 and "has not sent 'evt_never_sent'" in unknown.stderr

    # the app's API calls reached the session's fake, as the platform or as the connected account
    from connect_harness.cli.session import TOKEN_HEADER

    info = json.loads((cache / "connect-harness" / "listen.json").read_text())
    request = urllib.request.Request(
        info["control_url"] + "/calls", headers={TOKEN_HEADER: info["token"]}
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as answer:
        calls = json.loads(answer.read())["calls"]
    assert [(c["path"], c["stripe_account"], c["status"]) for c in calls] == [
        (f"/v1/events/{ids[0]}", None, 200),
        (f"/v1/events/{ids[1]}", None, 200),
        (f"/v1/events/{ids[2]}", "acct_1ListenTest", 200),
        (f"/v1/events/{ids[2]}", "acct_1ListenTest", 200),
    ]
    listen.terminate()
    out = _ended(listen)
    stamped = [line.split(None, 2)[2] for line in out.splitlines() if line[:2].isdigit()]
    lines = [line for line in stamped if not line.startswith("api  ")]
    api = [line for line in stamped if line.startswith("api  ")]
    assert api[2] == (
        f"api  GET /v1/events/{ids[2]} Stripe-Account=acct_1ListenTest key=live 200"
    ), api
    assert lines[0] == f"--> payout.paid [{ids[0]}]"
    assert lines[1] == f"<--  [200] POST {endpoint.url}/webhook [{ids[0]}]"
    assert lines[4] == f"--> connect payout.paid [{ids[2]}]"
    assert len(lines) == 8
    del again


def test_trigger_name_runs_stripes_flow_against_the_session_fake_which_delivers_what_it_emits(
    session: tuple[Path, Endpoint, subprocess.Popen[str]],
) -> None:
    cache, endpoint, _ = session
    platform = cli(cache, "trigger", "payment_intent.succeeded")
    assert platform.returncode == 0, platform.stderr
    steps = [line for line in platform.stdout.splitlines() if line.startswith("> ")]
    assert len(steps) == 1 and steps[0].startswith(
        "> payment_intent: POST /v1/payment_intents -> 200 pi_"
    )
    status = [line for line in platform.stdout.splitlines() if line[:1] not in (">", " ")]
    flow = ["payment_intent.created", "charge.succeeded", "payment_intent.succeeded"]
    assert [line.split()[0] for line in status] == flow  # one status line per delivered event
    assert all("(platform, test)" in line and "/webhook: 200" in line for line in status)
    assert [item["payload"]["type"] for item in endpoint.received] == flow
    created = endpoint.received[0]["payload"]["data"]["object"]
    assert created["amount"] == 2000 and created["payment_method_types"] == ["card"]

    connect = cli(
        cache, "trigger", "payment_intent.succeeded", "--stripe-account", "acct_1FlowTest",
        "--live", "--override", "payment_intent:amount=777",
    )  # fmt: skip
    assert connect.returncode == 0, connect.stderr
    tail = [item for item in endpoint.received[len(flow) :]]
    assert [item["path"] for item in tail] == ["/connect"] * len(flow)
    assert all(item["payload"]["account"] == "acct_1FlowTest" for item in tail)
    assert all(item["payload"]["livemode"] is True for item in tail)
    assert tail[-1]["payload"]["data"]["object"]["amount"] == 777
    # each 200 above means the endpoint fetched the event back from the session's fake (a 404
    # raises in its handler): the fake serves what it emitted, as the connected account, live
    assert connect.stdout.count("/connect: 200") == len(flow)
    resent = cli(cache, "resend", tail[0]["payload"]["id"])  # an emitted event resends too
    assert resent.returncode == 0, resent.stderr
    assert endpoint.received[-1] == tail[0]

    # the app's own calls to the session's fake emit events, which the session delivers too
    request = urllib.request.Request(
        f"{endpoint.stripe_api}/v1/customers",
        data=b"email=app%40example.com",
        headers={"Authorization": "Bearer sk_test_listen"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as answer:
        customer = json.loads(answer.read())["id"]
    deadline = time.monotonic() + 30
    while endpoint.received[-1]["payload"]["type"] != "customer.created":
        assert time.monotonic() < deadline, "the session never delivered the app's event"
        time.sleep(0.05)
    assert endpoint.received[-1]["payload"]["data"]["object"]["id"] == customer

    refused = cli(cache, "trigger", "payment_intent.succeeded", "--add",
                  "payment_intent:colour=blue")  # fmt: skip
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1
    assert (
        "step 'payment_intent' (POST /v1/payment_intents) was refused: invalid_request_error: "
        "Received unknown parameter: colour" in refused.stderr
    )


def test_trigger_thin_goes_to_the_thin_destination_which_fetches_from_the_session(
    session: tuple[Path, Endpoint, subprocess.Popen[str]],
) -> None:
    cache, endpoint, _ = session
    connect = cli(
        cache, "trigger", "--thin", "v2.core.account.updated", "--stripe-account", "acct_1Thin"
    )
    assert connect.returncode == 0, connect.stderr
    assert "v2.core.account.updated [evt_test_" in connect.stdout
    assert "(connect acct_1Thin, test)" in connect.stdout and "/thin: 200" in connect.stdout
    platform = cli(cache, "trigger", "--thin", "account.updated", "--live")
    assert platform.returncode == 0, platform.stderr
    assert [item["path"] for item in endpoint.received] == ["/thin", "/thin"]
    first, second = (item["payload"] for item in endpoint.received)
    assert first["object"] == "v2.core.event" and first["context"] == "acct_1Thin"
    assert second["type"] == "v1.account.updated" and "context" not in second
    assert second["livemode"] is True
    # the session registered each notification: its related object is served under its context
    assert endpoint.fetched == [200, 200]

    resent = cli(cache, "resend", first["id"])
    assert resent.returncode == 0, resent.stderr
    assert endpoint.received[2] == {"path": "/thin", "payload": first}


def test_trigger_scenario_sends_its_events_in_order_through_the_session(
    session: tuple[Path, Endpoint, subprocess.Popen[str]],
) -> None:
    from connect_harness.events.scenarios import scenario

    cache, endpoint, _ = session
    before = int(time.time())
    sent = cli(cache, "trigger", "--scenario", "subscription", "--stripe-account", "acct_1Flow")
    assert sent.returncode == 0, sent.stderr
    steps = [step.event_type for step in scenario("subscription").steps]
    lines = [line for line in sent.stdout.splitlines() if not line.startswith("  ")]
    assert [line.split()[0] for line in lines] == steps  # one status line per delivery
    assert all("(connect acct_1Flow, test)" in line and "/connect: 200" in line for line in lines)
    payloads = [item["payload"] for item in endpoint.received]
    assert [p["type"] for p in payloads] == steps
    assert len({p["id"] for p in payloads}) == len(steps)
    created = [p["created"] for p in payloads]
    assert created == sorted(created) and before <= created[-1] <= int(time.time())
    customer = payloads[0]["data"]["object"]["id"]
    assert payloads[1]["data"]["object"]["customer"] == customer  # one world

    reversed_ = cli(
        cache, "trigger", "--scenario", "failed-payout", "--order", "reversed",
        "--stripe-account", "acct_1Flow", "--live",
    )  # fmt: skip
    assert reversed_.returncode == 0, reversed_.stderr
    tail = [item["payload"] for item in endpoint.received[len(steps) :]]
    assert [p["type"] for p in tail] == [
        "account.external_account.updated", "payout.failed", "payout.created",
    ]  # fmt: skip
    assert all(p["livemode"] is True and p["account"] == "acct_1Flow" for p in tail)


def test_control_server_refuses_a_wrong_token(
    session: tuple[Path, Endpoint, subprocess.Popen[str]],
) -> None:
    cache, endpoint, _ = session
    info = json.loads((cache / "connect-harness" / "listen.json").read_text())
    request = urllib.request.Request(
        info["control_url"] + "/events", data=b"{}", headers={"X-Connect-Harness-Token": "x"}
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as caught:
        opener.open(request, timeout=10)
    assert caught.value.code == 403
    caught.value.close()
    assert endpoint.received == []


def test_trigger_without_a_session_says_how_to_start_one(tmp_path: Path) -> None:
    result = cli(tmp_path, "trigger", "payout.failed")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "no listen session is running" in result.stderr
    stale = tmp_path / "connect-harness"
    stale.mkdir()
    (stale / "listen.json").write_text(
        json.dumps(
            {"pid": 1, "control_url": "http://127.0.0.1:9", "token": "t", "stripe_api_url": "x"}
        )
    )
    result = cli(tmp_path, "trigger", "payout.failed")
    assert result.returncode == 2 and "does not answer" in result.stderr
    assert result.stderr.count("\n") == 1


def test_trigger_forward_to_delivers_directly_signed_with_the_secret(tmp_path: Path) -> None:
    endpoint = Endpoint("whsec_direct_secret")
    try:
        ok = cli(
            tmp_path,
            "trigger",
            "payout.paid",
            "--stripe-account",
            "acct_1Direct",
            "--forward-to",
            f"{endpoint.url}/hook",
            "--secret",
            "whsec_direct_secret",
        )
        assert ok.returncode == 0, ok.stderr
        wrong = cli(
            tmp_path,
            "trigger",
            "payout.paid",
            "--forward-to",
            f"{endpoint.url}/hook",
            "--secret",
            "whsec_other",
        )
        assert wrong.returncode == 1 and ": 400 in" in wrong.stdout
        remote = cli(
            tmp_path, "trigger", "payout.paid", "--forward-to", "http://example.com/x",
            "--secret", "whsec_x",
        )  # fmt: skip
        assert remote.returncode == 2 and "not a loopback address" in remote.stderr
    finally:
        endpoint.close()
    assert [item["payload"]["account"] for item in endpoint.received] == ["acct_1Direct"]
    assert not (tmp_path / "connect-harness" / "listen.json").exists()


def test_listen_events_filter_skips_other_types(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    endpoint = Endpoint(cli(cache, "listen", "--print-secret").stdout.strip())
    listen = subprocess.Popen(
        [sys.executable, "-m", "connect_harness", "listen", "--forward-to",
         f"{endpoint.url}/webhook", "--events", "payout.failed"],
        env=cli_env(cache), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert listen.stdout is not None
        listen.stdout.readline()
        skipped = cli(cache, "trigger", "payment_intent.succeeded")
        assert skipped.returncode == 0 and "forwards only --events payout.failed" in skipped.stderr
        assert cli(cache, "trigger", "payout.failed").returncode == 0
        # not a snapshot type, yet forwarded: with no --forward-thin-to it goes to --forward-to,
        # whose snapshot parser (construct_event) refuses a thin body, as stripe-python does
        thin = cli(cache, "trigger", "--thin", "v2.core.account.closed")
        assert thin.returncode == 1, thin.stderr
        assert f"(platform, test) -> {endpoint.url}/webhook: 400" in thin.stdout
    finally:
        listen.terminate()
        _ended(listen)
        endpoint.close()
    assert [item["payload"]["type"] for item in endpoint.received] == ["payout.failed"]
