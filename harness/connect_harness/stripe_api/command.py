"""``connect-harness stripe-api``: the fake Stripe API on its own, for manual testing of a running app.

Serves on 127.0.0.1 (never another interface) until Ctrl-C and prints one line per call: method,
path, ``Stripe-Account``, key mode and status, then one indented line per event the call emitted
(type, id, account). Objects exist when the app creates them (nothing is
registered up front), so a retrieve of an id the fake never saw answers 404 as Stripe would.
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import IO, Any

from connect_harness.errors import UsageError

__all__ = ["add_stripe_api_command", "call_line", "event_line", "parse_fault"]

DEFAULT_PORT = 12111


def add_stripe_api_command(commands: Any) -> None:
    """Add the ``stripe-api`` subcommand to the CLI's subparsers."""
    parser = commands.add_parser(
        "stripe-api", help="serve the fake Stripe API on 127.0.0.1 until Ctrl-C"
    )
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT} (0: any free)"
    )
    parser.add_argument(
        "--api-version", metavar="V", help="API version served when a request names none"
    )
    parser.add_argument("--log", metavar="FILE", help="also append each call's line to FILE")
    parser.add_argument(
        "--fail",
        action="append",
        default=[],
        type=parse_fault,
        metavar="PATTERN=STATUS",
        help="answer matching requests with STATUS (or 'reset'), e.g. 'GET /v1/customers/*=429'",
    )
    parser.set_defaults(run=run_stripe_api)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port; pass a number from 0 to 65535")
    return port


def parse_fault(text: str) -> tuple[str, int | None, bool]:
    """``'GET /v1/customers/*=429'`` -> (pattern, status, reset)."""
    pattern, sep, outcome = text.rpartition("=")
    if not sep or not pattern.strip():
        raise argparse.ArgumentTypeError(
            f"--fail {text!r} needs PATTERN=STATUS, e.g. 'GET /v1/customers/*=429' or '*=reset'"
        )
    if outcome == "reset":
        return pattern.strip(), None, True
    if not outcome.isdigit() or not 400 <= int(outcome) <= 599:
        raise argparse.ArgumentTypeError(
            f"--fail {text!r}: {outcome!r} is not a 4xx/5xx status or 'reset'; e.g. '*=500'"
        )
    return pattern.strip(), int(outcome), False


def event_line(event: Any) -> str:
    """One printed line per emitted event, under its call's: type, id, account."""
    return f"  event {event.type} {event.id} account={event.account or '-'}"


def call_line(call: Any) -> str:
    """One printed line per call: method, path, Stripe-Account, key mode, status."""
    account = call.stripe_account_header or "-"
    mode = call.key_mode or "no-key"
    status = "reset" if call.status == 0 else str(call.status)
    extra = " (not served by the fake)" if call.unserved else ""
    if call.fault:
        extra += f" (fault {call.fault})"
    return f"{call.method} {call.path} Stripe-Account={account} key={mode} {status}{extra}"


def run_stripe_api(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C; 0 on Ctrl-C, 2 when the port cannot be bound."""
    from connect_harness.stripe_api.server import FakeStripeAPI

    log: IO[str] | None = None
    if args.log:
        try:
            log = open(args.log, "a", encoding="utf-8")  # noqa: SIM115 - closed in finally
        except OSError as err:
            raise UsageError(
                f"cannot open --log {args.log!r}: {err.strerror}; give a writable path"
            ) from err
    lock = threading.Lock()
    # A call's events are handed over in the thread serving it, before the call is recorded:
    # they wait there to be printed under their call's line.
    waiting = threading.local()

    def held(event: Any) -> None:
        waiting.events = [*getattr(waiting, "events", []), event]

    def printed(call: Any) -> None:
        lines = [call_line(call)] + [event_line(e) for e in getattr(waiting, "events", [])]
        waiting.events = []
        with lock:
            for line in lines:
                print(line, flush=True)
                if log is not None:
                    log.write(line + "\n")
                    log.flush()

    fake = FakeStripeAPI(
        port=args.port, api_version=args.api_version, on_call=printed, on_event=held
    )
    try:
        for pattern, status, reset in args.fail:
            fake.fail(pattern, status=status if status else 500, times=None, reset=reset)
        with fake:
            print(
                f"fake Stripe API serving {fake.url} (API version {fake.api_version}; platform "
                f"account {fake.platform_account}); Ctrl-C stops it",
                flush=True,
            )
            stop = threading.Event()
            try:
                while not stop.wait(3600):
                    pass
            except KeyboardInterrupt:
                print("stopped", file=sys.stderr)
        return 0
    finally:
        if log is not None:
            log.close()
