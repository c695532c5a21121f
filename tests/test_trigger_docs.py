"""docs/trigger.md's claims, each through the door a user uses: the names it lists are our flows, its
options are the commands', its examples run, and a flow's requests go out as it says (form-encoded,
a test or live key, Stripe-Account, Stripe-Version, JSON where the step's headers say so)."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from connect_harness.cli import _build_parser, main
from connect_harness.cli.flows import LIVE_KEY, TEST_KEY, FlowOptions, run_flow
from connect_harness.lifecycle.fixtures import flow_names, load_fixture
from test_listen import Endpoint

DOC = (Path(__file__).resolve().parents[1] / "docs" / "trigger.md").read_text(encoding="utf-8")
SECRET = "whsec_trigger_docs"


def test_the_names_table_is_every_flow_and_the_count_is_right() -> None:
    table = DOC.split("| object | trigger names |", 1)[1].split("\n\n", 1)[0]
    listed = re.findall(r"`([a-z0-9_.]+)`", table)
    assert sorted(listed) == sorted(flow_names())
    assert len(listed) == 123 and "Every name the Stripe CLI's `trigger` knows, 123" in DOC


def test_every_option_the_doc_names_is_taken_by_trigger_fixtures_or_listen() -> None:
    parser = _build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    choices: Any = commands.choices
    flags = {
        flag
        for name in ("trigger", "fixtures", "listen")
        for action in choices[name]._actions
        for flag in action.option_strings
    }
    named = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", DOC))
    assert named and named <= flags | {"--edit"}, named - flags
    assert "--edit" not in flags  # the doc says it is not offered


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Endpoint]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    served = Endpoint(SECRET)
    yield served
    served.close()


def doc_examples() -> list[list[str]]:
    block = DOC.split("```sh\n", 1)[1].split("```", 1)[0]
    return [
        shlex.split(line)[1:]
        for line in block.splitlines()
        if line.startswith("connect-harness ") and " listen " not in f" {line} "
    ]


@pytest.mark.parametrize("argv", doc_examples(), ids=lambda argv: " ".join(argv)[:50])
def test_the_docs_examples_run(
    argv: list[str], endpoint: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each example, delivering to a local endpoint instead of a session (test_listen runs the
    session's side)."""
    argv = [arg for arg in argv if arg not in ("whsec_...",)]
    if "--forward-to" in argv:
        argv = argv[: argv.index("--forward-to")]
    if argv[0] == "fixtures":
        Path(argv[1]).write_text(
            json.dumps(
                {
                    "_meta": {"template_version": 0},
                    "fixtures": [{"name": "customer", "path": "/v1/customers", "method": "post"}],
                }
            )
        )
    argv += ["--forward-to", f"{endpoint.url}/hook", "--secret", SECRET]
    assert main(argv) == 0, capsys.readouterr().err
    assert endpoint.received
    if "customer:name=Zoë" in argv:
        assert endpoint.received[0]["payload"]["data"]["object"]["name"] == "Zoë"


class Recording:
    """A stand-in API that records each request as it arrives and answers with an object."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        recording = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                recording.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length).decode(),
                    }
                )
                out = json.dumps({"id": f"obj_{len(recording.requests)}"}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_DELETE = _record

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_flows_requests_go_out_as_the_doc_says() -> None:
    fixture = load_fixture(
        json.dumps(
            {
                "_meta": {"template_version": 0},
                "fixtures": [
                    {"name": "pi", "path": "/v1/payment_intents", "method": "post",
                     "params": {"amount": 5, "confirm": True, "types": ["card"],
                                "shipping": {"name": "J R"}}},
                    {"name": "list", "path": "/v1/disputes", "method": "get",
                     "params": {"payment_intent": "${pi:id}", "limit": 3}},
                    {"name": "gone", "path": "/v1/customers/${pi:id}", "method": "delete"},
                    {"name": "json", "path": "/v2/things", "method": "post",
                     "headers": {"Content-Type": "application/json"},
                     "params": {"events": [{"n": "${list:id}"}]},
                     "api_base": "https://meter-events.stripe.com"},
                ],
            }
        ),
        "wire",
    )  # fmt: skip
    api = Recording()
    try:
        run_flow(fixture, api.url, FlowOptions())
        run_flow(
            fixture, api.url, FlowOptions(live=True, account="acct_1W", api_version="2023-08-16")
        )
    finally:
        api.close()
    post, get, delete, as_json = api.requests[:4]
    assert post["method"] == "POST" and post["path"] == "/v1/payment_intents"
    assert post["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert post["body"] == ("amount=5&confirm=true&types%5B0%5D=card&shipping%5Bname%5D=J+R")
    assert post["headers"]["Authorization"] == f"Bearer {TEST_KEY}"
    assert "Stripe-Account" not in post["headers"] and "Stripe-Version" not in post["headers"]
    assert (get["method"], get["path"], get["body"]) == (
        "GET", "/v1/disputes?payment_intent=obj_1&limit=3", "",
    )  # fmt: skip
    assert (delete["method"], delete["path"]) == ("DELETE", "/v1/customers/obj_1")
    assert as_json["path"] == "/v2/things"  # api_base is not followed: the fake answers
    assert json.loads(as_json["body"]) == {"events": [{"n": "obj_2"}]}
    live = api.requests[4]
    assert live["headers"]["Authorization"] == f"Bearer {LIVE_KEY}"
    assert live["headers"]["Stripe-Account"] == "acct_1W"
    assert live["headers"]["Stripe-Version"] == "2023-08-16"
    assert TEST_KEY.startswith("sk_test_") and LIVE_KEY.startswith("sk_live_")


def test_the_meter_flows_run_the_v2_stream_on_the_fake_and_deliver_its_thin_report(
    endpoint: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    """ "The v1.billing.meter.* flows run the v2 meter event session and stream on the fake (its
    api_base ... maps to the fake, offline); what the meter cannot take comes back as the thin
    notification Stripe sends ... delivered signed ... (or --forward-to URL)"."""
    argv = ["--forward-to", f"{endpoint.url}/thin", "--secret", SECRET]
    assert main(["trigger", "v1.billing.meter.no_meter_found", *argv]) == 0
    out, err = capsys.readouterr()
    assert "> create_billing_meter_event_stream: POST /v2/billing/meter_event_stream -> 200" in out
    assert err == ""
    # the endpoint parsed it with stripe-python's parse_event_notification (signature checked)
    (received,) = [item["payload"] for item in endpoint.received]
    assert received["type"] == "v1.billing.meter.no_meter_found"
    assert received["object"] == "v2.core.event" and "related_object" not in received


@pytest.mark.parametrize(
    ("name", "last", "automatic"),
    [
        ("checkout.session.async_payment_succeeded", "checkout.session.async_payment_succeeded", 3),
        ("payment_intent.processing", "payment_intent.processing", 0),
    ],
)
def test_what_stripe_does_later_follows_the_request_and_a_delayed_debit_stays_processing(
    name: str,
    last: str,
    automatic: int,
    endpoint: Endpoint,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """ "What Stripe does later on its own follows right after the request that starts it, with
    request.id null ... the debits Stripe settles 'after at least three minutes' ... stay
    processing"."""
    argv = ["trigger", name, "--forward-to", f"{endpoint.url}/hook", "--secret", SECRET]
    assert main(argv) == 0, capsys.readouterr().err
    received = [event["payload"] for event in endpoint.received]
    assert received[-1]["type"] == last
    assert sum(event["request"]["id"] is None for event in received) == automatic
