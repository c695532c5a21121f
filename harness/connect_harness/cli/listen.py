"""``listen``: the session of the Stripe CLI's hand-testing loop, offline (``trigger``, ``resend``:
:mod:`.trigger`).

``listen --forward-to URL [--forward-connect-to URL]`` holds a session (see :mod:`.session`);
``trigger NAME`` runs Stripe's flow against the session's fake Stripe API, whose sink hands every event
it emits (for the flow's calls and the app's own) to the session, which signs it with the session
secret and forwards it; ``trigger TYPE`` (no flow) builds one event and hands it over: platform
events to ``--forward-to``, Connect events to ``--forward-connect-to``, thin notifications to
``--forward-thin-to`` (both default to ``--forward-to``). ``resend EVT_ID`` delivers an
event the session sent again. ``trigger --forward-to URL --secret S`` delivers directly, no session.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connect_harness.cli.flows import FlowOptions, run_flow
from connect_harness.cli.history import History
from connect_harness.cli.session import (
    TOKEN_HEADER,
    Delivered,
    ListenSession,
    SessionInfo,
    history_file,
    read_session,
    session_file,
    session_secret,
)
from connect_harness.delivery import target_from
from connect_harness.errors import UsageError
from connect_harness.lifecycle.fixtures import FixtureFile, StepResult
from connect_harness.settings import parse_port, parse_seconds
from connect_harness.spec import contracts
from connect_harness.wire.signing import secret_warning

__all__ = ["add_listen_commands"]

PROG = "connect-harness"


def add_listen_commands(commands: Any) -> None:
    """Add ``listen`` to the CLI's subparsers (``trigger`` and ``resend``: :mod:`.trigger`)."""
    listen = commands.add_parser(
        "listen",
        help="forward events you trigger to your local endpoint, as 'stripe listen' does",
        description="Hold a session: a signing secret, a fake Stripe API for your app to call, and "
        "a local event bus that 'connect-harness trigger' and 'resend' hand events to; the events "
        "the fake emits, for your app's calls and for 'trigger NAME' flows, go out too. Platform "
        "events go to --forward-to, Connect events to --forward-connect-to, thin notifications "
        "to --forward-thin-to. Loopback only.",
    )
    listen.add_argument("--forward-to", metavar="URL", help="where platform events go")
    listen.add_argument(
        "--forward-connect-to",
        metavar="URL",
        help="where Connect events (with 'account') go (default: --forward-to)",
    )
    listen.add_argument(
        "--forward-thin-to",
        metavar="URL",
        help="where thin notifications ('trigger --thin', an event destination's) go, platform "
        "and Connect (default: --forward-to)",
    )
    listen.add_argument(
        "--events",
        action="append",
        default=[],
        metavar="T1,T2",
        help="forward only these snapshot event types (default: all; thin notifications always go)",
    )
    secret = listen.add_mutually_exclusive_group()
    secret.add_argument(
        "--secret", metavar="S", help="sign with this secret (default: your session secret)"
    )
    secret.add_argument(
        "--print-secret", action="store_true", help="print the session secret and exit"
    )
    listen.add_argument(
        "--stripe-api-port",
        type=parse_port,
        default=0,
        metavar="P",
        help="serve the fake Stripe API on this loopback port (default: a free port)",
    )
    listen.add_argument(
        "--timeout",
        type=parse_seconds,
        default=30.0,
        metavar="N",
        help="seconds a delivery may take (default 30)",
    )
    listen.set_defaults(run=_cmd_listen)


# --- listen -------------------------------------------------------------------------------------


def _stamp() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S")


def _print_event(payload: Mapping[str, Any]) -> None:
    connect = "connect " if payload.get("account") or payload.get("context") else ""
    print(f"{_stamp()}   --> {connect}{payload.get('type')} [{payload.get('id')}]", flush=True)


def _print_delivery(payload: Mapping[str, Any], sent: Delivered) -> None:
    status = f"[{sent.status}]" if sent.status else f"[ERR] ({sent.error})"
    print(f"{_stamp()}  <--  {status} POST {sent.url} [{sent.id}]", flush=True)


def _loopback_url(url: str, flag: str) -> str:
    target_from(url, allow_remote=False)  # a UsageError for a bad or remote URL
    if not url.startswith(("http://", "https://")):
        raise UsageError(
            f"{flag} {url!r} is not an http(s) URL; e.g. http://127.0.0.1:4242/webhook"
        )
    return url


def _event_filter(values: list[str]) -> frozenset[str] | None:
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    if values and not names:
        raise UsageError("--events names no event type; give e.g. --events payout.failed")
    for name in names:
        contracts.event_info(name)  # a UsageError with the closest matches
    return frozenset(names) if names else None


class _Interrupted(Exception):
    pass


def _cmd_listen(args: argparse.Namespace) -> int:
    from connect_harness.stripe_api.command import call_line
    from connect_harness.stripe_api.server import FakeStripeAPI

    if args.print_secret:
        print(session_secret())
        return 0
    if not args.forward_to:
        raise UsageError(
            "listen needs --forward-to URL (where platform events go), e.g. "
            "--forward-to http://127.0.0.1:4242/webhook"
        )
    forward_to = _loopback_url(args.forward_to, "--forward-to")
    forward_connect_to = _loopback_url(
        args.forward_connect_to or forward_to, "--forward-connect-to"
    )
    forward_thin_to = _loopback_url(args.forward_thin_to or forward_to, "--forward-thin-to")
    events = _event_filter(args.events)
    secret = args.secret if args.secret is not None else session_secret()
    if not secret.strip():
        raise UsageError("--secret is empty; give the endpoint's secret whsec_... or leave it out")
    warning = secret_warning(secret)  # as sign and verify say it: an API key is not a secret
    if warning:
        print(f"connect-harness: warning: {warning}", file=sys.stderr)
    existing = _live_session()
    if existing is not None:
        raise UsageError(
            f"a listen session already runs (pid {existing.pid}); stop it first, or trigger "
            "events into it"
        )

    def print_call(
        call: Any,
    ) -> None:  # the app's calls, as 'connect-harness stripe-api' prints them
        print(f"{_stamp()}  api  {call_line(call)}", flush=True)

    fake = FakeStripeAPI(port=args.stripe_api_port, on_call=print_call)
    fake.start()

    def register(payload: Mapping[str, Any], seed: int) -> None:
        fake.register_event(_Registered(payload, seed))

    def calls() -> list[dict[str, Any]]:
        return [
            {
                "method": call.method,
                "path": call.path,
                "stripe_account": call.stripe_account,
                "status": call.status,
            }
            for call in fake.calls
        ]

    def flow(fixture: FixtureFile, options: FlowOptions) -> list[StepResult]:
        if options.account:  # the flow acts as a connected account: make it one
            fake.register_object(
                {"id": options.account, "object": "account"}, account=options.account
            )
        return run_flow(fixture, fake.url, options)

    session = ListenSession(
        secret=secret,
        forward_to=forward_to,
        forward_connect_to=forward_connect_to,
        register=register,
        calls=calls,
        stripe_api_url=fake.url,
        events=events,
        timeout=args.timeout,
        forward_thin_to=forward_thin_to,
        register_thin=fake.register_event,
        on_event=_print_event,
        on_delivery=_print_delivery,
        history=History(history_file()),
        run_flow=flow,
    )
    fake.on_event(session.emit)  # what the app's and trigger's calls emit goes out, in order
    path = None
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        control = session.serve()
        path = session.write_session_file(control)
        print(f"> Ready! Your webhook signing secret is {secret} (^C to quit)")
        print(f"> Fake Stripe API: {fake.url} (point your app's Stripe API base here)")
        print(f"> Forwarding platform events to {forward_to}")
        print(f"> Forwarding Connect events to {forward_connect_to}")
        print(f"> Forwarding thin notifications to {forward_thin_to}", flush=True)
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        session.close(path)
        fake.stop()
    return 0


@dataclass(frozen=True)
class _Registered:
    payload: Mapping[str, Any]
    seed: int


def _live_session() -> SessionInfo | None:
    """The session file's session if it answers; None when there is none or it is gone."""
    try:
        info = read_session()
    except UsageError:
        return None
    if info is None:
        return None
    try:
        _control(info, "GET", "/calls", timeout=2.0)
    except UsageError:
        return None
    return info


def _control(
    info: SessionInfo,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> dict[str, Any]:
    request = urllib.request.Request(
        info.control_url + path,
        data=body,
        method=method,
        headers={TOKEN_HEADER: info.token, **(headers or {})},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as answer:
            document: dict[str, Any] = json.loads(answer.read())
            return document
    except urllib.error.HTTPError as err:
        with err:
            try:
                message = json.loads(err.read()).get("error", str(err))
            except ValueError:
                message = str(err)
        raise UsageError(str(message)) from err
    except (OSError, ValueError) as err:
        raise UsageError(
            f"the listen session in {str(session_file())!r} (pid {info.pid}) does not answer "
            f"({err}); start 'connect-harness listen --forward-to URL' again"
        ) from err
