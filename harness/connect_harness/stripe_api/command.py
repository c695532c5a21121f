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
from connect_harness.stripe_api.call_log import CallPrinter
from connect_harness.wire.text_safety import safe_text

__all__ = [
    "DEFAULT_PORT",
    "add_stripe_api_command",
    "call_line",
    "event_line",
    "parse_fault",
    "start_fake",
]

#: Not stripe-mock's 12111 (nor its HTTPS 12112): both can run side by side.
DEFAULT_PORT = 12121


def start_fake(fake: Any, port: int, option: str) -> None:
    """Start ``fake``; a port in use is a :class:`UsageError` in the words of the command line
    (``option`` is the flag that chose the port), not the Python API's ``port=0``."""
    try:
        fake.start()
    except UsageError as err:
        if "port=0" not in str(err):
            raise
        raise UsageError(
            f"cannot start the fake Stripe API on 127.0.0.1:{port}: the port is in use (or not "
            f"available here); give {option} another port, or {option} 0 for any free port"
        ) from None


KEPT_CALLS = 1000
"""Calls a ``stripe-api`` server keeps in memory; it reads none of them, its lines are the output."""


def add_stripe_api_command(commands: Any) -> None:
    """Add the ``stripe-api`` subcommand to the CLI's subparsers."""
    parser = commands.add_parser(
        "stripe-api", help="serve the fake Stripe API on 127.0.0.1 until Ctrl-C"
    )
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT} (0: any free)"
    )
    parser.add_argument(
        "--api-version",
        metavar="V",
        type=_api_version,
        help="API version served when a request names none",
    )
    parser.add_argument(
        "--log",
        metavar="FILE",
        help="also append each call's line to FILE (every call; memory keeps the latest "
        f"{KEPT_CALLS})",
    )
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


def _api_version(text: str) -> str:
    from connect_harness.stripe_api.scoping import check_api_version

    if check_api_version(text) is not None:
        raise argparse.ArgumentTypeError(
            f"{safe_text(text)!r} is not a Stripe API version; pass a date and release name "
            "such as 2026-10-28.endive"
        )
    return text


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
    line = f"{call.method} {call.path} Stripe-Account={account} key={mode} {status}{extra}"
    return safe_text(line)


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
    printer = CallPrinter(lambda line: print(line, flush=True), log)
    # A call's events are handed over in the thread serving it, before the call is recorded:
    # they wait there to be printed under their call's line.
    waiting = threading.local()

    def held(event: Any) -> None:
        waiting.events = [*getattr(waiting, "events", []), event]

    def printed(call: Any) -> None:
        for line in [call_line(call)] + [event_line(e) for e in getattr(waiting, "events", [])]:
            printer.put(line)
        waiting.events = []

    fake = FakeStripeAPI(
        port=args.port,
        api_version=args.api_version,
        on_call=printed,
        on_event=held,
        max_calls=KEPT_CALLS,
    )
    try:
        for pattern, status, reset in args.fail:
            fake.fail(pattern, status=status if status else 500, times=None, reset=reset)
        start_fake(fake, args.port, "--port")
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
        printer.close()
        if printer.dropped:
            print(
                f"{printer.dropped} call lines were not printed: stdout was not read fast enough"
                + (
                    f" ({args.log} has every call)"
                    if args.log
                    else " (--log FILE keeps every call)"
                ),
                file=sys.stderr,
            )
        if log is not None:
            log.close()
