"""``trigger``, ``fixtures`` and ``resend``: run Stripe's flows against the fake, or hand events to the
running ``listen`` session, or deliver them directly.

``trigger NAME`` runs our flow for a ``stripe trigger`` name (``lifecycle/flows/``): the API requests
the Stripe CLI makes, against the session's fake Stripe API, whose sink delivers the events the fake
emits to the session's ``--forward-to``, signed, in order. ``trigger --fixture FILE`` and
``fixtures FILE`` run a user's fixture file the same way. ``trigger NAME --forward-to URL --secret S``
starts a fake of its own for the flow and delivers what it emits directly. ``trigger TYPE`` for an
event type no flow is named after builds one event with a fresh id and hands it to the session.
``trigger --scenario NAME`` sends a named scenario's events one after another, in Stripe's order
unless ``--order`` says otherwise, with one fresh seed and the last one ``created`` now.
``trigger --thin TYPE`` sends a thin notification, which the session routes to its
``--forward-thin-to``. ``resend EVT_ID`` delivers an event the session sent again.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from connect_harness.checks.scenario_flows import build_scenario
from connect_harness.cli.flows import FlowOptions, run_flow, step_from_json
from connect_harness.cli.listen import PROG, _control, _loopback_url
from connect_harness.cli.session import (
    FLOW_PATH,
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
    Event,
    build_event,
    parse_assignment,
    render_body,
)
from connect_harness.events.scenarios import ORDERS, scenario
from connect_harness.events.thin import ThinEvent, build_thin_event
from connect_harness.lifecycle.fixtures import (
    FixtureFile,
    FlowRefused,
    StepResult,
    apply_changes,
    fixture_document,
    flow_names,
    load_fixture,
    load_flow,
    parse_change,
)
from connect_harness.settings import parse_seconds

__all__ = ["add_trigger_commands"]


def add_trigger_commands(commands: Any) -> None:
    """Add ``trigger``, ``fixtures`` and ``resend`` to the CLI's subparsers."""
    trigger = commands.add_parser(
        "trigger",
        help="run Stripe's flow for a trigger name against the fake, delivering what it emits",
        description="Run the API requests 'stripe trigger NAME' makes against the running "
        "'connect-harness listen' session's fake Stripe API, which delivers the events they cause "
        "to the session's --forward-to (or, with --forward-to URL --secret S, against a fake of "
        "its own, delivering directly). An event TYPE no flow is named after sends one built "
        "event; --thin TYPE a thin notification; --scenario NAME a scenario's events. Exit 0 when "
        "the endpoint answered 2xx to each, 1 otherwise, 2 on bad usage or a refused request.",
    )
    trigger.add_argument(
        "type",
        metavar="NAME",
        nargs="?",
        help="a 'stripe trigger' name (--list lists them), or an event type with no flow (one "
        "built event), or with --thin a thin notification type",
    )
    trigger.add_argument(
        "--list", action="store_true", help="list the trigger names we have flows for and exit"
    )
    trigger.add_argument(
        "--fixture",
        metavar="FILE",
        help="run this fixture file (the Stripe CLI's format) instead of a named flow",
    )
    trigger.add_argument(
        "--scenario",
        metavar="NAME",
        help="send a named scenario's events one after another, in Stripe's order (instead of "
        "NAME; 'connect-harness scenarios' lists them)",
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
    _add_flow_options(trigger)
    trigger.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="STEP",
        help="leave out the flow's step of this name (repeatable)",
    )
    trigger.set_defaults(run=_cmd_trigger, command="trigger")

    fixtures = commands.add_parser(
        "fixtures",
        help="run a fixture file's requests against the fake, as 'stripe fixtures FILE' does",
        description="Run a fixture file (the Stripe CLI's format: _meta and fixtures, references "
        "like ${customer:id}) against the listen session's fake Stripe API, or with --forward-to "
        "URL --secret S against a fake of its own; the events the fake emits are delivered.",
    )
    fixtures.add_argument("file", metavar="FILE", help="the fixture file (JSON)")
    _add_flow_options(fixtures)
    fixtures.add_argument(
        "--skip", action="append", default=[], metavar="STEP", help="leave out this step"
    )
    fixtures.set_defaults(run=_cmd_fixtures, command="fixtures")

    resend = commands.add_parser(
        "resend", help="deliver an event the listen session sent again, signed anew"
    )
    resend.add_argument("event_id", metavar="EVT_ID")
    resend.set_defaults(run=_cmd_resend)


def _add_flow_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stripe-account",
        metavar="ACCT",
        help="make the requests as this connected account (Stripe-Account); its events are "
        "Connect events",
    )
    parser.add_argument("--live", action="store_true", help="use a live-mode key (live events)")
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="STEP:PATH=VALUE",
        help="set a step's param, e.g. payment_intent:amount=5000 (dots for nested "
        "params); for one built event: PATH=VALUE into the event, VALUE JSON if it parses "
        "(repeatable)",
    )
    parser.add_argument(
        "--add",
        action="append",
        default=[],
        metavar="STEP:PATH=VALUE",
        help="add a param to a step, e.g. customer:metadata.plan=pro (one built event: "
        "PATH=VALUE) (repeatable)",
    )
    parser.add_argument(
        "--remove",
        action="append",
        default=[],
        metavar="STEP:PATH",
        help="remove a step's param, e.g. customer:description (one built event: PATH) "
        "(repeatable)",
    )
    parser.add_argument(
        "--api-version",
        metavar="V",
        help="a flow's requests carry Stripe-Version V (its events keep the account's version, "
        "as on Stripe); one built event is rendered in V",
    )
    parser.add_argument(
        "--forward-to",
        metavar="URL",
        help="no session: start a fake of its own and deliver directly here",
    )
    parser.add_argument("--secret", metavar="S", help="the secret for --forward-to")
    parser.add_argument(
        "--timeout", type=parse_seconds, default=30.0, metavar="N", help="default 30"
    )


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
    """NAME, --fixture or --scenario, and which options go with which; one UsageError naming the
    clash."""
    if args.list:
        if args.type or args.scenario or args.fixture:
            raise UsageError("--list lists the trigger names; drop NAME, --fixture and --scenario")
        return
    given = [
        what for what, value in (("NAME", args.type), ("--scenario", args.scenario),
                                 ("--fixture", args.fixture)) if value is not None
    ]  # fmt: skip
    if len(given) != 1:
        raise UsageError(
            "trigger takes a NAME, --fixture FILE or --scenario NAME, not both or neither; e.g. "
            "'trigger payment_intent.succeeded' or 'trigger --scenario subscription'"
        )
    if args.order is not None and args.scenario is None:
        raise UsageError("--order goes with --scenario NAME; drop it to trigger one event")
    if args.fixture is not None and args.thin:
        raise UsageError("--thin sends a thin notification TYPE; drop --fixture or --thin")
    if args.skip and _mode(args) != "flow":
        raise UsageError(
            "--skip leaves out a flow's step; it goes with a trigger NAME that has a flow or "
            "--fixture FILE ('connect-harness trigger --list')"
        )
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


def _mode(args: argparse.Namespace) -> str:
    """``flow`` (a trigger name or --fixture), ``scenario``, ``thin`` or ``event`` (one built)."""
    if args.scenario is not None:
        return "scenario"
    if args.thin:
        return "thin"
    if args.fixture is not None or args.type in flow_names():
        return "flow"
    return "event"


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
    shift = now - max(event.payload["created"] for event in events)  # the last one is now
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
    if args.list:
        _check_trigger_args(args)
        names = flow_names()
        for name in names:
            print(name)
        return 0
    _check_trigger_args(args)
    if _mode(args) == "flow":
        if args.fixture is not None:
            fixture = _read_fixture_file(args.fixture)
        else:
            fixture = load_flow(args.type)
        return _run_flow_command(args, fixture)
    seed = secrets.randbelow(2**31)  # a fresh id every time, as on Stripe
    now = int(time.time())
    if args.forward_to is not None:
        url, secret = _direct_target(args)
        events = _events(args, seed, now)
        return _worst([_deliver_directly(event, secret, url, args.timeout) for event in events])
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
        codes.append(_print_answer(answer))
    return _worst(codes)


def _cmd_fixtures(args: argparse.Namespace) -> int:
    return _run_flow_command(args, _read_fixture_file(args.file))


def _read_fixture_file(name: str) -> FixtureFile:
    try:
        text = Path(name).read_bytes()
    except OSError as err:
        raise UsageError(
            f"cannot read the fixture file {name!r}: {err.strerror}; give a JSON fixture file "
            "(the Stripe CLI's format)"
        ) from err
    return load_fixture(text, f"fixture {name!r}")


def _direct_target(args: argparse.Namespace) -> tuple[str, str]:
    """Where to deliver and the secret to sign with: --secret, else $STRIPE_WEBHOOK_SECRET (as
    ``verify`` reads it)."""
    secret = args.secret or os.environ.get("STRIPE_WEBHOOK_SECRET", "")
    if not secret.strip():
        raise UsageError(
            f"{args.command} --forward-to needs the endpoint's signing secret: pass --secret "
            "whsec_... or set $STRIPE_WEBHOOK_SECRET"
        )
    return _loopback_url(args.forward_to, "--forward-to"), str(secret)


def _run_flow_command(args: argparse.Namespace, fixture: FixtureFile) -> int:
    """Change the fixture as asked, then run it against the session's fake or a fake of its own."""
    changes = [
        parse_change(flag, text)
        for flag, texts in (("--override", args.override), ("--add", args.add),
                            ("--remove", args.remove))
        for text in texts
    ]  # fmt: skip
    fixture = apply_changes(fixture, changes, args.skip)
    options = FlowOptions(
        live=args.live,
        account=args.stripe_account,
        api_version=args.api_version,
        timeout=args.timeout,
    )
    try:
        return _run_flow(args, fixture, options)
    except FlowRefused as err:
        if "Received unknown parameter" in str(err) and options.api_version is None:
            raise FlowRefused(
                f"{err} (some of the Stripe CLI's flows send params Stripe has since removed: "
                "try --api-version 2023-08-16)"
            ) from err
        raise


def _run_flow(args: argparse.Namespace, fixture: FixtureFile, options: FlowOptions) -> int:
    if args.forward_to is not None:
        url, secret = _direct_target(args)
        return _run_flow_directly(fixture, options, url, secret)
    if args.secret is not None:
        raise UsageError("--secret goes with --forward-to; a listen session signs with its own")
    info = _session_or_error()
    spec = {
        "fixture": fixture_document(fixture),
        "source": fixture.source,
        "options": options.to_json(),
    }
    answer = _control(
        info,
        "POST",
        FLOW_PATH,
        body=json.dumps(spec).encode("utf-8"),
        timeout=options.timeout * (len(fixture.steps) + 10),
    )
    if answer.get("refused"):
        raise FlowRefused(str(answer["refused"]))
    for step in answer.get("steps", []):
        _print_step(step_from_json(step))
    delivered = answer.get("delivered", [])
    if not delivered:
        _no_event_note(fixture)
    return _worst([_print_answer(item) for item in delivered])


def _run_flow_directly(fixture: FixtureFile, options: FlowOptions, url: str, secret: str) -> int:
    """A fake of our own for the flow; what it emits is delivered to ``url`` in order."""
    from connect_harness.stripe_api.server import FakeStripeAPI

    fake = FakeStripeAPI()
    emitted: list[Event | ThinEvent] = []
    fake.on_event(emitted.append)
    with fake:
        if options.account:
            fake.register_object(
                {"id": options.account, "object": "account"}, account=options.account
            )
        steps = run_flow(fixture, fake.url, options)
        for step in steps:
            _print_step(step)
        codes = []
        delivered = 0
        while delivered < len(emitted):  # the endpoint's own calls may emit more
            event = emitted[delivered]
            delivered += 1
            codes.append(_deliver_directly(event, secret, url, options.timeout))
    if not codes:
        _no_event_note(fixture)
    return _worst(codes)


def _no_event_note(fixture: FixtureFile) -> None:
    print(f"{PROG}: note: the fake emitted no event for {fixture.source}", file=sys.stderr)


def _print_step(step: StepResult) -> None:
    made = f" {step.object_id}" if step.object_id else ""
    print(f"> {step.step}: {step.method.upper()} {step.path} -> {step.status}{made}")


def _print_answer(answer: dict[str, Any]) -> int:
    if "skipped" in answer:
        print(f"{PROG}: note: {answer['skipped']}", file=sys.stderr)
        return 0
    return _print_result(Delivered.from_json(answer))


def _events(args: argparse.Namespace, seed: int, now: int) -> tuple[Event | ThinEvent, ...]:
    if args.scenario is not None:
        return _scenario_events(args, seed, now)
    if args.thin:
        return (_thin_event(args, seed, now),)
    return (_trigger_event(args, seed, now),)


def _worst(codes: list[int]) -> int:
    return max(codes, default=0)


def _deliver_directly(event: Event | ThinEvent, secret: str, url: str, timeout: float) -> int:
    response, _ = deliver_signed(
        event.body, secret=secret, livemode=event.livemode, url=url, timeout=timeout
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
