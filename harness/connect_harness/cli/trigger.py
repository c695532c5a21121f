"""``trigger`` and ``resend``: hand events to the running ``listen`` session, or deliver them directly.

``trigger TYPE`` builds an event with a fresh id and hands it to the session (see :mod:`.listen`),
which signs it with the session secret, registers its objects with the session's fake Stripe API and
forwards it. ``trigger --scenario NAME`` (instead of TYPE) sends a named scenario's events one after
another, in Stripe's order unless ``--order`` says otherwise, with one fresh seed (so its events
name one world of objects) and the last one ``created`` now. ``trigger --thin TYPE`` sends a thin
notification, which the session routes to its ``--forward-thin-to``. ``resend EVT_ID`` delivers an
event the session sent again. ``trigger --forward-to URL --secret S`` delivers directly, no session.
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
    THIN_PATH,
    Delivered,
    SessionInfo,
    deliver_signed,
    head_of,
    read_session,
)
from connect_harness.errors import UsageError
from connect_harness.events.build import (
    DEFAULT_CREATED,
    Event,
    build_event,
    parse_assignment,
    render_body,
)
from connect_harness.events.scenarios import ORDERS, STEP_SECONDS, build_scenario, scenario
from connect_harness.events.thin import ThinEvent, build_thin_event
from connect_harness.settings import parse_seconds

__all__ = ["add_trigger_commands"]


def add_trigger_commands(commands: Any) -> None:
    """Add ``trigger`` and ``resend`` to the CLI's subparsers."""
    trigger = commands.add_parser(
        "trigger",
        help="send an event to the running listen session (or --forward-to a URL)",
        description="Build an event (TYPE), a thin notification (--thin TYPE) or a scenario's "
        "events (--scenario NAME) with fresh ids and hand them to the running 'connect-harness "
        "listen' (found through its session file), or deliver them to --forward-to signed with "
        "--secret. Exit 0 when the endpoint answered 2xx to each, 1 otherwise, 2 on bad usage.",
    )
    trigger.add_argument(
        "type",
        metavar="TYPE",
        nargs="?",
        help="the event type (or, with --thin, the thin notification type); or give --scenario",
    )
    trigger.add_argument(
        "--scenario",
        metavar="NAME",
        help="send a named scenario's events one after another, in Stripe's order (instead of "
        "TYPE; 'connect-harness scenarios' lists them)",
    )
    trigger.add_argument(
        "--order",
        choices=ORDERS,
        help="with --scenario: the order to send its events in (default stripe)",
    )
    trigger.add_argument(
        "--thin",
        action="store_true",
        help="a thin notification (event destinations): TYPE as the SDKs name it "
        "(v2.core.account.updated, v1.account.updated; a plain v1 type means its v1. notification); "
        "the session forwards it to its --forward-thin-to",
    )
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
    if path.strip() == "id":
        raise UsageError(
            "--remove id: an event cannot be sent without its id (deliveries, the session and "
            "resend name it); remove a key inside it instead, e.g. data.object.metadata"
        )
    parts = path.split(".")
    node: Any = payload
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict) or parts[-1] not in node:
        raise UsageError(f"--remove {path!r}: the event has no such key; e.g. data.object.metadata")
    del node[parts[-1]]


def _trigger_event(args: argparse.Namespace, seed: int, now: int) -> Event:
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
        created=now,
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


def _check_trigger_args(args: argparse.Namespace) -> None:
    """TYPE or --scenario, and which options go with which; one UsageError naming the clash."""
    if (args.type is None) == (args.scenario is None):
        raise UsageError(
            "trigger takes an event TYPE or --scenario NAME, not both or neither; e.g. "
            "'trigger payout.failed' or 'trigger --scenario subscription'"
        )
    if args.order is not None and args.scenario is None:
        raise UsageError("--order goes with --scenario NAME; drop it to trigger one event")
    shaping = [
        flag
        for flag, given in (
            ("--override", args.override),
            ("--add", args.add),
            ("--remove", args.remove),
        )
        if given
    ]
    if args.scenario is not None and (args.thin or shaping):
        flag = "--thin" if args.thin else shaping[0]
        raise UsageError(
            f"{flag} shapes one event; a scenario's events are built as the flow says, so drop "
            f"{flag} (or trigger the event alone)"
        )
    if args.thin and shaping:
        raise UsageError(
            f"{shaping[0]} changes a snapshot event's object; a thin notification carries none, "
            f"so drop {shaping[0]} (or --thin)"
        )


def _scenario_events(args: argparse.Namespace, seed: int, now: int) -> tuple[Event, ...]:
    """The scenario's events with a fresh seed, the last one ``created`` now."""
    flow = scenario(args.scenario)
    if args.stripe_account is None and "account" not in flow.receivers:
        raise UsageError(
            f"scenario {args.scenario!r} has events only a connected account receives; add "
            "--stripe-account acct_... (e.g. --stripe-account acct_1PgafTB7WZ01zgkW)"
        )
    events = build_scenario(
        args.scenario,
        account=args.stripe_account,
        livemode=args.live,
        seed=seed,
        order=args.order or "stripe",
        api_version=args.api_version,
    )
    shift = now - DEFAULT_CREATED - STEP_SECONDS * (len(flow.steps) - 1)
    dated = []
    for event in events:
        payload = json.loads(event.body)
        payload["created"] += shift
        dated.append(Event(event.type, payload, render_body(payload), event.seed))
    return tuple(dated)


def _thin_event(args: argparse.Namespace, seed: int, now: int) -> ThinEvent:
    return build_thin_event(
        args.type,
        account=args.stripe_account,
        livemode=args.live,
        seed=seed,
        created=now,
        api_version=args.api_version,
    )


def _cmd_trigger(args: argparse.Namespace) -> int:
    _check_trigger_args(args)
    seed = secrets.randbelow(2**31)  # a fresh id every time, as on Stripe
    now = int(time.time())
    if args.forward_to is not None:
        if not args.secret:
            raise UsageError(
                "trigger --forward-to needs --secret whsec_... (the endpoint's signing secret)"
            )
        url = _loopback_url(args.forward_to, "--forward-to")
        events = _events(args, seed, now)
        return _worst([_deliver_directly(event, args, url) for event in events])
    if args.secret is not None:
        raise UsageError("--secret goes with --forward-to; a listen session signs with its own")
    info = _session_or_error()
    if args.thin:
        thin = _thin_event(args, seed, now)
        spec = {
            "type": thin.type,
            "account": thin.account,
            "livemode": thin.livemode,
            "seed": seed,
            "created": now,
            "api_version": args.api_version,
        }
        answer = _control(
            info, "POST", THIN_PATH, body=json.dumps(spec).encode(), timeout=args.timeout + 10
        )
        return _print_result(Delivered.from_json(answer))
    codes = []
    for event in _events(args, seed, now):
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
            codes.append(0)
        else:
            codes.append(_print_result(Delivered.from_json(answer)))
    return _worst(codes)


def _events(args: argparse.Namespace, seed: int, now: int) -> tuple[Event | ThinEvent, ...]:
    if args.scenario is not None:
        return _scenario_events(args, seed, now)
    if args.thin:
        return (_thin_event(args, seed, now),)
    return (_trigger_event(args, seed, now),)


def _worst(codes: list[int]) -> int:
    return max(codes, default=0)


def _deliver_directly(event: Event | ThinEvent, args: argparse.Namespace, url: str) -> int:
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
