"""``trigger`` and ``resend``: hand events to the running ``listen`` session, or deliver them directly.

``trigger TYPE`` builds an event with a fresh id and hands it to the session (see :mod:`.listen`),
which signs it with the session secret, registers its objects with the session's fake Stripe API and
forwards it. ``resend EVT_ID`` delivers an event the session sent again. ``trigger --forward-to URL
--secret S`` delivers directly, no session.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from typing import Any

from connect_harness.cli.listen import PROG, _control, _loopback_url
from connect_harness.cli.session import (
    SEED_HEADER,
    Delivered,
    SessionInfo,
    deliver_signed,
    head_of,
    read_session,
)
from connect_harness.errors import UsageError
from connect_harness.events.build import Event, build_event, parse_assignment, render_body
from connect_harness.settings import parse_seconds

__all__ = ["add_trigger_commands"]


def add_trigger_commands(commands: Any) -> None:
    """Add ``trigger`` and ``resend`` to the CLI's subparsers."""
    trigger = commands.add_parser(
        "trigger",
        help="send an event to the running listen session (or --forward-to a URL)",
        description="Build an event with a fresh id and hand it to the running 'connect-harness "
        "listen' (found through its session file), or deliver it to --forward-to signed with "
        "--secret. Exit 0 when the endpoint answered 2xx, 1 otherwise, 2 on bad usage.",
    )
    trigger.add_argument("type", metavar="TYPE")
    trigger.add_argument(
        "--stripe-account", metavar="ACCT", help="a Connect event about this connected account"
    )
    trigger.add_argument("--live", action="store_true", help="a live-mode event")
    trigger.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="set an existing value by dotted path; VALUE is JSON if it parses (repeatable)",
    )
    trigger.add_argument(
        "--add",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="add a value by dotted path, creating keys (repeatable)",
    )
    trigger.add_argument(
        "--remove", action="append", default=[], metavar="PATH", help="remove a key (repeatable)"
    )
    trigger.add_argument("--api-version", metavar="V", help="the event's API version")
    trigger.add_argument(
        "--forward-to", metavar="URL", help="deliver directly here instead of to a session"
    )
    trigger.add_argument("--secret", metavar="S", help="the secret for --forward-to")
    trigger.add_argument(
        "--timeout", type=parse_seconds, default=30.0, metavar="N", help="default 30"
    )
    trigger.set_defaults(run=_cmd_trigger)

    resend = commands.add_parser(
        "resend", help="deliver an event the listen session sent again, signed anew"
    )
    resend.add_argument("event_id", metavar="EVT_ID")
    resend.set_defaults(run=_cmd_resend)


# --- trigger and resend ---------------------------------------------------------------------------


def _set_nested(target: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    if any(not part for part in parts):
        raise UsageError(f"--add path {path!r} has an empty part; use e.g. data.object.metadata.x")
    node = target
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise UsageError(f"--add path {path!r} goes through a value that is not a hash")
    node[parts[-1]] = value


def _remove(payload: dict[str, Any], path: str) -> None:
    parts = path.split(".")
    node: Any = payload
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict) or parts[-1] not in node:
        raise UsageError(f"--remove {path!r}: the event has no such key; e.g. data.object.metadata")
    del node[parts[-1]]


def _trigger_event(args: argparse.Namespace, seed: int) -> Event:
    overrides = dict(parse_assignment(item) for item in args.override)
    merge: dict[str, Any] = {}
    for item in args.add:
        path, value = parse_assignment(item)
        _set_nested(merge, path, value)
    event = build_event(
        args.type,
        account=args.stripe_account,
        livemode=args.live,
        api_version=args.api_version,
        overrides=overrides,
        merge=merge or None,
        seed=seed,
        created=int(time.time()),
    )
    if args.remove:
        payload = json.loads(event.body)
        for path in args.remove:
            _remove(payload, path)
        event = Event(event.type, payload, render_body(payload), event.seed)
    return event


def _print_result(sent: Delivered) -> int:
    where = f"connect {sent.account}" if sent.account else "platform"
    mode = "live" if sent.livemode else "test"
    if sent.status == 0:
        print(f"{sent.type} [{sent.id}] ({where}, {mode}) -> {sent.url}: no answer: {sent.error}")
        return 1
    print(
        f"{sent.type} [{sent.id}] ({where}, {mode}) -> {sent.url}: {sent.status} "
        f"in {sent.elapsed * 1000:.0f} ms, {sent.size} bytes"
    )
    for line in sent.head.splitlines():
        print(f"  {line}")
    return 0 if 200 <= sent.status < 300 else 1


def _cmd_trigger(args: argparse.Namespace) -> int:
    seed = secrets.randbelow(2**31)  # a fresh id every time, as on Stripe
    if args.forward_to is not None:
        if not args.secret:
            raise UsageError(
                "trigger --forward-to needs --secret whsec_... (the endpoint's signing secret)"
            )
        url = _loopback_url(args.forward_to, "--forward-to")
        event = _trigger_event(args, seed)
        response, _ = deliver_signed(
            event.body, secret=args.secret, livemode=event.livemode, url=url, timeout=args.timeout
        )
        return _print_result(
            Delivered(
                id=event.id,
                type=event.type,
                account=event.account,
                livemode=event.livemode,
                url=url,
                status=response.status,
                error=response.error,
                elapsed=response.elapsed,
                size=len(response.body),
                head=head_of(response.body),
            )
        )
    if args.secret is not None:
        raise UsageError("--secret goes with --forward-to; a listen session signs with its own")
    info = _session_or_error()
    event = _trigger_event(args, seed)
    answer = _control(
        info,
        "POST",
        "/events",
        body=event.body,
        headers={SEED_HEADER: str(seed), "Content-Type": "application/json"},
        timeout=args.timeout + 10,
    )
    if "skipped" in answer:
        print(f"{PROG}: note: {answer['skipped']}", file=sys.stderr)
        return 0
    return _print_result(Delivered.from_json(answer))


def _session_or_error() -> SessionInfo:
    info = read_session()
    if info is None:
        raise UsageError(
            "no listen session is running; start 'connect-harness listen --forward-to URL' in "
            "another terminal, or pass --forward-to URL --secret S"
        )
    return info


def _cmd_resend(args: argparse.Namespace) -> int:
    info = _session_or_error()
    answer = _control(info, "POST", "/resend", body=json.dumps({"id": args.event_id}).encode())
    return _print_result(Delivered.from_json(answer))
