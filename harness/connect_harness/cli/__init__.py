"""The ``connect-harness`` command line: ``main(argv) -> int``.

Exit codes: 0 success, 1 contract failures (``verify``), 2 bad input. Bad input is reported as one line
on stderr that says what was wrong, which value, and what to do; nothing is written to stdout then.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from connect_harness import arguments
from connect_harness.cli.listen import add_listen_commands
from connect_harness.cli.trigger import add_trigger_commands
from connect_harness.errors import HarnessError, UsageError
from connect_harness.events.build import Event, build_event, loads_json, parse_assignment
from connect_harness.events.thin import ThinEvent
from connect_harness.redaction import redact_credentials
from connect_harness.settings import parse_whole_number
from connect_harness.spec import contracts
from connect_harness.wire.text_safety import safe_text

__all__ = ["main"]

PROG = "connect-harness"


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so every error is one line."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _add_event_options(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group()
    who.add_argument(
        "--account",
        metavar="ACCT",
        help="connected account the event is about (default: a fixed test account)",
    )
    who.add_argument(
        "--platform",
        action="store_true",
        help="a platform event for an account endpoint: no top-level 'account'",
    )
    parser.add_argument(
        "--live", action="store_true", help="a live-mode event (default: test mode)"
    )
    _add_api_version(parser)
    parser.add_argument(
        "--set",
        dest="overrides",
        metavar="PATH=VALUE",
        action="append",
        default=[],
        help="override a value by dotted path; VALUE is JSON if it parses (repeatable)",
    )
    parser.add_argument(
        "--merge",
        metavar="JSON",
        type=_json_object,
        help="deep-merge this JSON object into the event; may add keys --set refuses",
    )
    parser.add_argument("--seed", type=parse_whole_number, help="varies every id (default 0)")
    parser.add_argument(
        "--created", type=parse_whole_number, help="event 'created' unix time (default fixed)"
    )
    parser.add_argument("--object-type", help="object for polymorphic types, e.g. card")
    parser.add_argument(
        "--ascii", action="store_true", help="escape non-ASCII as \\uXXXX instead of literal UTF-8"
    )
    parser.add_argument(
        "--thin",
        action="store_true",
        help="a thin notification (event destinations): TYPE as the SDKs name it "
        "(v2.core.account.updated, v1.account.updated; a plain v1 type means its v1. notification)",
    )


def _add_api_version(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api-version",
        metavar="V",
        help="Stripe API version: picks the contract set (the newest not newer than V) and is "
        "stamped on events (default: the newest set)",
    )


def _version_note(requested: str | None) -> str:
    """The contract set for ``requested``; says on stderr, in one line, when it stands in for it."""
    choice = contracts.resolve_version(requested)
    if choice.note:
        print(f"{PROG}: note: {choice.note}", file=sys.stderr)
    return choice.shapes


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = loads_json(text, what="--merge")
    except UsageError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not JSON ({err})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a JSON object like '{{\"data\": {{...}}}}'"
        )
    try:
        return arguments.json_value("JSON", value)  # type: ignore[no-any-return]
    except UsageError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Build, sign and deliver Stripe Connect webhook events offline, "
        "and contract-test the endpoint that receives them.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    events = commands.add_parser("events", help="list every supported event type")
    events.add_argument("--json", action="store_true", help="machine-readable output")
    events.add_argument(
        "--thin", action="store_true", help="list the thin notification types instead"
    )
    _add_api_version(events)
    events.set_defaults(run=_cmd_events)

    schema = commands.add_parser(
        "schema", help="print one self-contained JSON Schema of an event type"
    )
    schema.add_argument("type", metavar="TYPE")
    _add_api_version(schema)
    schema.add_argument(
        "--annotated",
        action="store_true",
        help="keep our x-id-of annotations and Stripe's formats (unix-time, decimal, currency)",
    )
    schema.set_defaults(run=_cmd_schema)

    event = commands.add_parser("event", help="print an event body exactly as it would be sent")
    event.add_argument("type", metavar="TYPE")
    _add_event_options(event)
    event.set_defaults(run=_cmd_event)

    sign = commands.add_parser("sign", help="sign an event or a body file and print the delivery")
    sign.add_argument("type", metavar="TYPE", nargs="?")
    sign.add_argument("--body-file", metavar="FILE", help="sign these exact bytes ('-' for stdin)")
    _add_event_options(sign)
    sign.add_argument(
        "--secret",
        dest="secrets",
        action="append",
        default=[],
        metavar="S",
        help="webhook signing secret whsec_...; repeat for rotation (one v1 per secret)",
    )
    sign.add_argument("--timestamp", type=parse_whole_number, help="signature time (default now)")
    sign.add_argument(
        "--url", help="where the delivery goes (default http://127.0.0.1:4242/webhook)"
    )
    sign.add_argument(
        "--format", choices=("curl", "http", "json", "headers"), default="curl", help="default curl"
    )
    sign.set_defaults(run=_cmd_sign)

    contracts_cmd = commands.add_parser("contracts", help="build the contracts from Stripe's spec")
    contracts_sub = contracts_cmd.add_subparsers(
        dest="action", metavar="ACTION", parser_class=_Parser
    )
    contracts_sub.required = True
    build = contracts_sub.add_parser(
        "build", help="generate the JSON Schema contracts of every API version"
    )
    build.add_argument(
        "--spec-dir",
        metavar="DIR",
        help="folder of Stripe's data files (default ../shared/stripe-spec)",
    )
    build.add_argument("--spec", metavar="FILE", help=argparse.SUPPRESS)
    build.add_argument("--fixtures", metavar="FILE", help=argparse.SUPPRESS)
    build.add_argument("--event-types", metavar="FILE", help=argparse.SUPPRESS)
    build.add_argument("--out", default="contracts", metavar="DIR", help="default ./contracts")
    build.set_defaults(run=_cmd_contracts_build)

    _add_verify(commands)
    _add_report(commands)
    from connect_harness.stripe_api.command import add_stripe_api_command

    add_stripe_api_command(commands)
    add_listen_commands(commands)
    add_trigger_commands(commands)
    return parser


def _add_verify(commands: Any) -> None:
    from connect_harness.cli.scenarios import add_scenarios_command

    add_scenarios_command(commands)
    try:
        from connect_harness.verify import add_verify_command
    except ImportError:  # the endpoint checks are optional at this layer
        return
    add_verify_command(commands)


def _add_report(commands: Any) -> None:
    report = commands.add_parser("report", help="work with verify's JSON reports")
    actions = report.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    actions.required = True
    merge = actions.add_parser(
        "merge",
        help="join the reports of 'verify --shard K/N' into the report of the whole run",
        description="Join the --report files of every shard of one run (verify --shard K/N, "
        "pytest --connect-shard K/N) into the report one run would have written, printed as JSON. "
        "Exit 0: every check passed; 1: a check failed; 2: bad usage (not the shards of one run).",
    )
    merge.add_argument("reports", nargs="+", metavar="REPORT.json", help="every shard's report")
    merge.add_argument(
        "--output",
        metavar="FILE.json",
        help="write the merged JSON report here and print the text table instead",
    )
    merge.add_argument("--junitxml", metavar="FILE", help="also write JUnit XML here")
    merge.add_argument("--html", metavar="FILE.html", help="also write the HTML report here")
    merge.add_argument(
        "--strict",
        action="store_true",
        help="a check that was skipped counts as failed: exit 1 (as verify --strict)",
    )
    merge.set_defaults(run=_cmd_report_merge)


def _cmd_report_merge(args: argparse.Namespace) -> int:
    from connect_harness.checks.report import render_table, write_junit
    from connect_harness.checks.report_files import ReportFile, ReportLost, check_distinct
    from connect_harness.checks.report_merge import merge_reports, read_reports
    from connect_harness.verify import _gaps

    output = None if args.output is None else ReportFile(args.output, "--output")
    junit = (
        None if args.junitxml is None else ReportFile(args.junitxml, "--junitxml", suffix=".xml")
    )
    check_distinct([output, junit])
    if args.html:
        from connect_harness.checks.html_report import check_writable

        check_writable(args.html)
    merged = merge_reports(read_reports(args.reports), gaps=lambda calls: _gaps(list(calls)))
    text = json.dumps(merged.to_json(), indent=2) + "\n"
    lost = []
    if output is None:
        sys.stdout.write(text)
    else:
        print(render_table(merged.results, headlines=merged.headlines), end="")
    for report, write in ((output, text), (junit, None)):
        if report is None:
            continue
        try:
            if write is not None:
                report.write(write)
            else:
                report.write_with(lambda path: write_junit(merged.results, path))
        except ReportLost as err:
            lost.append(str(err))
    if args.html:
        from connect_harness.checks.html_report import write_html

        # the page's run time: the longest shard's (the machines' clocks are not comparable)
        longest = round(max(merged.durations, default=0.0), 3)
        write_html(
            args.html,
            merged.results,
            meta={**merged.meta, "duration_s": longest},
            headlines=merged.headlines,
            records=merged.records,
        )
    for line in lost:
        print(f"{PROG}: error: {line}", file=sys.stderr)
    summary = merged.to_json()["summary"]
    print(
        f"{PROG} report merge: {len(args.reports)} shard{'s' if len(args.reports) > 1 else ''}, {summary['deliveries']} deliveries: "
        f"{summary['checks']} checks, {summary['passed']} passed, {summary['failed']} failed, "
        f"{summary['skipped']} skipped",
        file=sys.stderr,
    )
    if lost:
        return 2
    failed = summary["failed"] > 0 or bool(args.strict and summary["skipped"])
    return 1 if failed else 0


def _cmd_events(args: argparse.Namespace) -> int:
    if args.thin:
        return _cmd_thin_events(args)
    shapes = _version_note(args.api_version)
    infos = [
        contracts.event_info(t, version=shapes)
        for t in contracts.supported_event_types(version=shapes)
    ]
    if args.json:
        rows = [
            {
                "type": info.type,
                "objects": list(info.objects),
                "receivable_by": list(info.receivable_by),
                "description": info.description,
                "guide": info.guide,
                "account_types": list(info.account_types) if info.account_types else None,
            }
            for info in infos
        ]
        document = {
            "api_version": contracts.api_version(version=shapes),
            "contract_versions": list(contracts.contract_versions()),
            "events": rows,
            "unsupported": contracts.unsupported_event_types(version=shapes),
        }
        print(json.dumps(document, indent=2))
        return 0
    width = max(len(info.type) for info in infos)
    objects_width = max(len(" | ".join(info.objects)) for info in infos)
    for info in infos:
        where = " + ".join(info.receivable_by)
        line = f"{info.type:<{width}}  {' | '.join(info.objects):<{objects_width}}  {where}"
        if info.guide:
            line += f"  -- {info.guide}"
        print(line.rstrip())
    unsupported = contracts.unsupported_event_types(version=shapes)
    summary = (
        f"\n{len(infos)} supported event types (contracts of Stripe API "
        f"{contracts.api_version(version=shapes)})"
    )
    if unsupported:
        summary += f"; {len(unsupported)} more are known but unsupported at this version (--json)"
    print(summary + ".")
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from connect_harness.spec.export import standalone_schema

    shapes = _version_note(args.api_version)
    schema = standalone_schema(args.type, version=shapes, annotated=args.annotated)
    print(json.dumps(schema, indent=2, ensure_ascii=False))
    return 0


def _cmd_thin_events(args: argparse.Namespace) -> int:
    from connect_harness.events.thin import thin_event_info, thin_event_types

    names = thin_event_types()
    if args.json:
        rows = [{"type": name, **thin_event_info(name)} for name in names]
        print(json.dumps({"thin_events": rows}, indent=2))
        return 0
    width = max(len(name) for name in names)
    for name in names:
        related = thin_event_info(name)["related_object"]
        shown = related if isinstance(related, str) else (related or {}).get("type", "-")
        print(f"{name:<{width}}  {shown}")
    v2 = sum(name.startswith("v2.") for name in names)
    print(f"\n{len(names)} thin notification types ({v2} v2, {len(names) - v2} v1).")
    return 0


def _thin_from_args(args: argparse.Namespace) -> ThinEvent:
    from connect_harness.events.build import DEFAULT_CONNECTED_ACCOUNT
    from connect_harness.events.thin import build_thin_event

    for flag, given in (
        ("--set", bool(args.overrides)),
        ("--merge", args.merge is not None),
        ("--object-type", args.object_type is not None),
    ):
        if given:
            raise UsageError(
                f"{flag} changes a snapshot event's object; a thin notification carries none, "
                f"so drop {flag} (or --thin)"
            )
    account = None if args.platform else (args.account or DEFAULT_CONNECTED_ACCOUNT)
    return build_thin_event(
        args.type,
        account=account,
        livemode=args.live,
        seed=args.seed or 0,
        created=args.created,
        api_version=args.api_version,
        ascii_only=args.ascii,
    )


def _event_from_args(args: argparse.Namespace) -> Event | ThinEvent:
    from connect_harness.events.build import DEFAULT_CONNECTED_ACCOUNT

    if args.thin:
        return _thin_from_args(args)
    overrides = dict(parse_assignment(item) for item in args.overrides)
    _version_note(args.api_version)
    account = None if args.platform else (args.account or DEFAULT_CONNECTED_ACCOUNT)
    return build_event(
        args.type,
        account=account,
        livemode=args.live,
        api_version=args.api_version,
        overrides=overrides,
        merge=args.merge,
        seed=args.seed or 0,
        created=args.created,
        object_type=args.object_type,
        ascii_only=args.ascii,
    )


def _warn_if_invalid(event: Event | ThinEvent) -> None:
    if not isinstance(event, Event):
        return
    problems = contracts.validate_event(event.payload)
    if problems:
        print(
            f"{PROG}: warning: this {event.type} event does not satisfy its contract: {problems[0]}",
            file=sys.stderr,
        )


def _cmd_event(args: argparse.Namespace) -> int:
    event = _event_from_args(args)
    _warn_if_invalid(event)
    sys.stdout.buffer.write(event.body + b"\n")
    sys.stdout.flush()
    return 0


#: The largest body ``sign --body-file`` reads (Stripe's events are far smaller).
MAX_BODY_BYTES = 16 * 1024 * 1024


def _read_body_file(name: str) -> bytes:
    try:
        if name == "-":
            body = sys.stdin.buffer.read(MAX_BODY_BYTES + 1)
        else:
            with Path(name).open("rb") as handle:
                body = handle.read(MAX_BODY_BYTES + 1)
    except OSError as err:
        raise UsageError(
            f"cannot read --body-file {name!r}: {err.strerror}; give the path of the exact body to sign"
        ) from err
    if len(body) > MAX_BODY_BYTES:
        raise UsageError(
            f"--body-file {name!r} is more than {MAX_BODY_BYTES // (1024 * 1024)} MiB; give the "
            "file of one event body"
        )
    return body


def _cmd_sign(args: argparse.Namespace) -> int:
    from connect_harness.wire.request import DEFAULT_URL, delivery_request
    from connect_harness.wire.signing import secret_warning

    if not args.secrets:
        raise UsageError("sign needs --secret whsec_... (the endpoint's signing secret)")
    if (args.type is None) == (args.body_file is None):
        raise UsageError("sign takes either an event TYPE or --body-file FILE, not both or neither")
    if args.body_file is not None:
        if args.thin:
            raise UsageError(
                "--thin builds a thin notification; with --body-file the body is signed as it "
                "is, so drop --thin"
            )
        if args.api_version is not None:
            raise UsageError(
                "--api-version picks the shapes of a built event; with --body-file the body is "
                "signed as it is, so drop --api-version"
            )
        given = [
            flag
            for flag, value in (
                ("--account", args.account),
                ("--platform", args.platform or None),
                ("--set", args.overrides or None),
                ("--merge", args.merge),
                ("--seed", args.seed),
                ("--created", args.created),
                ("--object-type", args.object_type),
                ("--ascii", args.ascii or None),
            )
            if value is not None
        ]
        if given:
            raise UsageError(
                f"{', '.join(given)} shape a built event; with --body-file the body is signed as "
                "it is, so drop them (or sign an event TYPE instead)"
            )
        body = _read_body_file(args.body_file)
        livemode = args.live or _body_livemode(body)
    else:
        if args.seed is None:  # a fresh id each time, as Stripe's: a repeat is not a redelivery
            args.seed = secrets.randbelow(2**31)
        event = _event_from_args(args)
        _warn_if_invalid(event)
        body, livemode = event.body, event.livemode
    for secret in args.secrets:
        warning = secret_warning(secret)
        if warning:
            print(f"{PROG}: warning: {warning}", file=sys.stderr)
    timestamp = args.timestamp if args.timestamp is not None else int(time.time())
    request = delivery_request(
        body,
        secrets=args.secrets,
        timestamp=timestamp,
        livemode=livemode,
        url=args.url or DEFAULT_URL,
    )
    if args.format == "curl":
        print(request.to_curl())
    elif args.format == "http":
        sys.stdout.write(request.to_http())
    elif args.format == "json":
        print(json.dumps(request.to_json(), indent=2, ensure_ascii=False))
    else:
        for name, value in request.headers:
            print(f"{name}: {value}")
    return 0


def _body_livemode(body: bytes) -> bool:
    try:
        payload = loads_json(body, what="--body-file")
    except UsageError:
        return False  # signed as it is: odd JSON is what such a body is for
    except ValueError:
        return False
    return isinstance(payload, dict) and payload.get("livemode") is True


def _cmd_contracts_build(args: argparse.Namespace) -> int:
    from connect_harness.spec.builder import build_from_spec_dir, write_contracts

    if args.spec or args.fixtures or args.event_types:
        raise UsageError(
            "contracts build now builds one contract set per API version from a folder of Stripe's "
            "data files: replace --spec/--fixtures/--event-types with --spec-dir "
            "../shared/stripe-spec"
        )
    files = build_from_spec_dir(Path(args.spec_dir or "../shared/stripe-spec"))
    out = Path(args.out)
    try:
        write_contracts(files, out)
    except OSError as err:
        raise UsageError(
            f"cannot write the contracts to --out {args.out!r}: {err.strerror or err}; give a "
            "writable folder"
        ) from err
    versions = sorted(name.split("/", 1)[0] for name in files if name.endswith("/manifest.json"))
    counts = ", ".join(
        f"{version}: {json.loads(files[f'{version}/manifest.json'])['counts']['supported']}"
        for version in versions
    )
    print(f"wrote {len(files)} files to {out} (event contracts per API version: {counts})")
    return 0


def _one_line(text: str) -> str:
    """An error is one line: line breaks and control characters a user typed into a value are shown
    escaped, and a secret or URL credential in it is masked."""
    return safe_text(redact_credentials(text))


def _check_text(argv: Sequence[str]) -> None:
    """Arguments are text: bytes that are not UTF-8 (surrogate escapes in argv) are bad usage."""
    for arg in argv:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "backslashreplace").decode("utf-8")
            raise UsageError(
                f"the argument {shown!r} is not UTF-8 text; retype it (or pass a file) without "
                "the stray bytes"
            ) from None
        if "\x00" in arg:
            raise UsageError(f"the argument {arg!r} contains a NUL byte; remove it")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    parser = _build_parser()
    try:
        _check_text(sys.argv[1:] if argv is None else argv)
        args = parser.parse_args(argv)
        run: Callable[[argparse.Namespace], int] = args.run
        return run(args)
    except UsageError as err:
        print(f"{PROG}: error: {_one_line(str(err))}", file=sys.stderr)
        return 2
    except HarnessError as err:
        print(f"{PROG}: error: {_one_line(str(err))}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:  # Ctrl-C where a command does not handle it itself: one line
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except SystemExit as exit_:  # --help and --version
        return exit_.code if isinstance(exit_.code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
