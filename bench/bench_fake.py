"""The fake Stripe API's costs as ratios measured in one run.

* requests per second of the fake vs localstripe (when ``pip install localstripe`` has put it on
  PATH or in this interpreter), both driven by stripe-python the way an endpoint calls Stripe: the
  same sequence (create a customer, retrieve it, list customers with ``limit=3``) against each
  server in turn, alternating rounds, best round each;
* a trigger flow vs delivering its events alone (when the ``trigger`` flows are installed): the
  ``payment_intent.succeeded`` flow's API calls run against the fake, which emits and delivers its
  events to a local endpoint, vs building, signing and delivering the same event types.

    python bench/bench_fake.py [--rounds 5] [--number 200]

Absolute figures are printed for context only; the ratios are what the README quotes.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import importlib.util
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import stripe

from connect_harness import cli
from connect_harness.delivery import deliver, target_from
from connect_harness.events.build import build_event
from connect_harness.stripe_api.server import FakeStripeAPI
from connect_harness.wire.request import delivery_request

KEY = "sk_test_bench"
SECRET = "whsec_bench_secret"
FLOW = "payment_intent.succeeded"
#: What Stripe emits for the flow (tests/data/trigger_events.json), delivered alone for the baseline.
FLOW_EVENTS = ("payment_intent.created", "charge.succeeded", "payment_intent.succeeded")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _requests(base: str, number: int) -> Callable[[], float]:
    """A round of ``number`` stripe-python calls against ``base``; returns requests per second."""
    client = stripe.StripeClient(KEY, base_addresses={"api": base}, max_network_retries=0)

    def round_() -> float:
        started = time.perf_counter()
        for _ in range(number // 3):
            customer = client.v1.customers.create(params={"email": "bench@example.com"})
            client.v1.customers.retrieve(customer.id)
            client.v1.customers.list(params={"limit": 3})
        return (number // 3 * 3) / (time.perf_counter() - started)

    return round_


@contextlib.contextmanager
def _localstripe() -> Iterator[str | None]:
    command: list[str] | None = None
    if shutil.which("localstripe"):
        command = ["localstripe"]
    elif importlib.util.find_spec("localstripe") is not None:
        command = [sys.executable, "-m", "localstripe"]
    if command is None:
        yield None
        return
    port = _free_port()
    process = subprocess.Popen(
        [*command, "--port", str(port), "--from-scratch"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.1)
        else:
            yield None
            return
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def requests_per_second(rounds: int, number: int) -> None:
    with FakeStripeAPI() as fake, _localstripe() as other:
        ours = _requests(fake.url, number)
        theirs = _requests(other, number) if other else None
        ours()  # warm-up: the route table and the contracts load on first use
        if theirs is not None:
            theirs()
        mine: list[float] = []
        rivals: list[float] = []
        for _ in range(rounds):
            mine.append(ours())
            if theirs is not None:
                rivals.append(theirs())
    print(
        f"fake Stripe API: {max(mine):.0f} requests/s best round "
        f"(median {statistics.median(mine):.0f}) over {number // 3 * 3} stripe-python calls"
    )
    if not rivals:
        print("vs localstripe: skipped, localstripe is not installed (pip install localstripe)")
        return
    print(
        f"vs localstripe: {max(rivals):.0f} requests/s best round; "
        f"ratio fake/localstripe {max(mine) / max(rivals):.2f}x "
        f"(rounds {min(a / b for a, b in zip(mine, rivals, strict=True)):.2f}-"
        f"{max(a / b for a, b in zip(mine, rivals, strict=True)):.2f}x)"
    )


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def _endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/webhook"
    finally:
        server.shutdown()
        server.server_close()


def flow_vs_events(rounds: int, number: int) -> None:
    """``trigger FLOW --forward-to URL`` (its own fake, the flow's API calls, the emitted events
    signed and delivered) vs building, signing and delivering the same event types alone."""
    with _endpoint() as url:
        target = target_from(url)

        def flows() -> float:
            started = time.perf_counter()
            for _ in range(number):
                with contextlib.redirect_stdout(io.StringIO()):
                    code = cli.main(["trigger", FLOW, "--forward-to", url, "--secret", SECRET])
                assert code == 0, code
            return (time.perf_counter() - started) / number

        seeds = iter(range(1, 10**9))

        def alone() -> float:
            started = time.perf_counter()
            for _ in range(number):
                seed = next(seeds)
                for event_type in FLOW_EVENTS:
                    event = build_event(event_type, seed=seed)
                    request = delivery_request(
                        event.body, secrets=SECRET, timestamp=int(time.time()), livemode=False
                    )
                    deliver(request, target)
            return (time.perf_counter() - started) / number

        flows()
        alone()
        pairs = [(flows(), alone()) for _ in range(rounds)]
    best_flow = min(a for a, _ in pairs)
    best_alone = min(b for _, b in pairs)
    print(
        f"trigger {FLOW} (flow against a fake, {len(FLOW_EVENTS)} events delivered): "
        f"{best_flow * 1000:.1f} ms vs the same events built, signed and delivered alone "
        f"{best_alone * 1000:.1f} ms: {best_flow / best_alone:.1f}x "
        f"(rounds {min(a / b for a, b in pairs):.1f}-{max(a / b for a, b in pairs):.1f}x)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--number", type=int, default=200)
    args = parser.parse_args(argv)
    os.environ.setdefault("NO_PROXY", "127.0.0.1")
    requests_per_second(args.rounds, args.number)
    flow_vs_events(args.rounds, max(args.number // 20, 3))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
