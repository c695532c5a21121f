"""``connect-harness verify``: run the endpoint contract checks against a URL or an app, and report.

The checks run as the shipped test module ``connect_harness.suite`` (see :mod:`.suite_runner`), so
``verify`` and ``pytest --pyargs connect_harness.suite`` are one catalogue.

Exit code 0 when every check passes (skips allowed), 1 when any check fails, 3 when no check failed
but the run stopped at its time budget (``--max-run-time``) before judging them all; bad usage raises
:class:`~connect_harness.errors.UsageError`, which the CLI turns into exit code 2. Nothing printed or
written ever contains the signing secret.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urljoin

from connect_harness.checks.budget import DEFAULT_MAX_RUN_TIME
from connect_harness.checks.findings import check_ids, validate_check_ids
from connect_harness.checks.report_files import ReportFile, ReportLost, check_distinct
from connect_harness.checks.stopping import DEFAULT_STOP_AFTER
from connect_harness.errors import UsageError
from connect_harness.events.examples import DEFAULT_EXAMPLES
from connect_harness.settings import (
    parse_api_version,
    parse_concurrency,
    parse_examples,
    parse_path,
    parse_port,
    parse_seconds,
    parse_seed,
    parse_shard,
    parse_whole_number,
)
from connect_harness.spec import contracts
from connect_harness.wire.request import DEFAULT_URL
from connect_harness.wire.signing import secret_warning

if TYPE_CHECKING:  # the checks, the fake API and pytest load only when verify runs
    from connect_harness.checks.findings import CheckResult
    from connect_harness.checks.sharding import ShardRun
    from connect_harness.delivery import Target
    from connect_harness.delivery.process import ServedProcess

__all__ = ["add_verify_command"]

SECRET_ENV = "STRIPE_WEBHOOK_SECRET"

#: Exit code of a run stopped by its time budget with no check failed: not a pass.
EXIT_STOPPED = 3


def add_verify_command(subparsers: Any) -> None:
    """Add the ``verify`` subcommand to the CLI's subparsers; its handler returns the exit code."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "verify",
        help="run the endpoint contract checks against a URL or an in-process app",
        description="Deliver everything Stripe can send to a webhook endpoint and check that it "
        "does the right thing with it. Exit 0: every check passed; 1: a check failed; 2: bad usage; "
        "3: the run stopped at --max-run-time before judging every check.",
    )
    parser.add_argument(
        "url", nargs="?", metavar="URL", help="the endpoint, e.g. http://127.0.0.1:4242/webhook"
    )
    parser.add_argument(
        "--app",
        metavar="MODULE:ATTR",
        help="a WSGI/ASGI app to call in process (the current directory is importable)",
    )
    parser.add_argument(
        "--path",
        default="/webhook",
        type=parse_path,
        help="the request path an --app is called with (default /webhook)",
    )
    parser.add_argument(
        "--secret",
        metavar="S",
        help=f"the endpoint's signing secret whsec_... (default: ${SECRET_ENV})",
    )
    parser.add_argument(
        "--endpoint-type",
        choices=("connect", "account", "both"),
        default="both",
        help="connect: events carry 'account'; account: platform events; both (default)",
    )
    parser.add_argument(
        "--mode",
        choices=("development", "production"),
        default="production",
        help="production (default) gets live and test events, development only test events",
    )
    parser.add_argument(
        "--events",
        action="append",
        default=[],
        metavar="T1,T2",
        help="only these event types for accepts-valid-events (comma-separated or repeated; "
        "default: all supported)",
    )
    parser.add_argument(
        "--max-response-time",
        type=parse_seconds,
        default=10.0,
        metavar="N",
        help="seconds an answer may take (default 10)",
    )
    parser.add_argument(
        "--timeout",
        type=parse_seconds,
        default=30.0,
        metavar="N",
        help="seconds before a delivery is given up (default 30, as the Stripe CLI)",
    )
    parser.add_argument(
        "--max-run-time",
        type=parse_seconds,
        default=DEFAULT_MAX_RUN_TIME,
        metavar="N",
        help=f"seconds the whole run may take, from its first delivery (default "
        f"{DEFAULT_MAX_RUN_TIME:g}); it stops early when answers are so slow it would take longer, "
        "and what it did not send is not judged (exit 3)",
    )
    parser.add_argument(
        "--fake-stripe-port",
        type=parse_port,
        metavar="P",
        help="serve the fake Stripe API on this loopback port (point your app's Stripe API base "
        "at it); default: a free port",
    )
    parser.add_argument(
        "--api-version",
        type=parse_api_version,
        metavar="V",
        help="API version of the events: picks their shapes (the newest contract set not newer "
        "than V) and is stamped on them (default: the newest set); set it to the version your "
        "endpoint or SDK is pinned to, e.g. stripe-go rejects other versions",
    )
    parser.add_argument(
        "--serve",
        metavar="CMD",
        help="start the endpoint with this shell command (STRIPE_API_BASE, STRIPE_WEBHOOK_SECRET, "
        "STRIPE_SECRET_KEY_TEST/LIVE point at the fake) and watch it; URL is where it listens",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="a check that was skipped (it had nothing to observe) counts as failed: exit 1",
    )
    parser.add_argument("--report", metavar="FILE.json", help="write the JSON report here")
    parser.add_argument("--junitxml", metavar="FILE", help="write JUnit XML here")
    parser.add_argument(
        "--html",
        metavar="FILE.html",
        help="write a self-contained HTML report here (a matrix of the results, every finding)",
    )
    parser.add_argument(
        "--seed",
        type=parse_seed,
        metavar="N",
        help="vary every event id by N (default: random, printed; give it to reproduce a run)",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback URL (forged events would reach a real endpoint)",
    )
    parser.add_argument(
        "--check",
        dest="checks",
        action="append",
        default=[],
        metavar="ID",
        help=f"run only this check (repeatable): {', '.join(check_ids())}; with --payload thin: "
        "thin-accepts-valid-notifications, thin-rejects-forgeries, thin-fetches-with-context, "
        "thin-survives-fetch-failure, thin-idempotent-redelivery, thin-acknowledges-unknown-types",
    )
    parser.add_argument(
        "--payload",
        choices=("snapshot", "thin", "both"),
        default="snapshot",
        help="what the destination receives: snapshot events (default), thin notifications "
        "(event destinations, Accounts v2), or both",
    )
    parser.add_argument(
        "--examples",
        type=parse_examples,
        default=DEFAULT_EXAMPLES,
        metavar="N",
        help=f"payloads per event type in accepts-valid-events and idempotent-redelivery: the "
        f"canonical event, then ones with other field values (default {DEFAULT_EXAMPLES}; 1 "
        "sends only the canonical event)",
    )
    parser.add_argument(
        "--concurrency",
        type=parse_concurrency,
        default=None,
        metavar="N",
        help="independent deliveries in flight at once (default 1; the checks that judge order "
        "always send one at a time)",
    )
    parser.add_argument(
        "--stop-after",
        type=parse_whole_number,
        default=DEFAULT_STOP_AFTER,
        metavar="K",
        help=f"stop after K deliveries in a row got no answer (default {DEFAULT_STOP_AFTER}; "
        "0 never stops)",
    )
    parser.add_argument(
        "--shard",
        type=parse_shard,
        metavar="K/N",
        help="deliver only shard K of N of the run (CI machines, each with the same --seed); "
        "join their --report files with 'connect-harness report merge'",
    )
    parser.set_defaults(run=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    """Run the checks as ``args`` say, print the header and the table, write reports; exit code.

    The report files are opened before the first delivery (a bad path is exit 2 at once). After
    ``--stop-after`` deliveries in a row got no answer, or on Ctrl-C, the run stops sending, reports
    what it has under one headline; Ctrl-C exits 130.
    """
    from connect_harness.checks.report import render_table, to_json, write_junit
    from connect_harness.checks.run import ContractRun, VerifyConfig
    from connect_harness.checks.suite_runner import run_suite
    from connect_harness.checks.thin import (
        THIN_TYPES,
        ThinConfig,
        run_thin_checks,
        thin_check_ids,
    )
    from connect_harness.delivery import UrlTarget
    from connect_harness.stripe_api.command import start_fake
    from connect_harness.stripe_api.fake import FakeStripeAPI

    secret = _secret(args.secret)
    target = _target(args)
    payload = getattr(args, "payload", "snapshot")
    thin_types = _thin_types(args.events) if payload == "thin" else None
    events = None if payload == "thin" else _events(args.events)
    thin_only = [c for c in args.checks if c in thin_check_ids()]
    if thin_only and payload == "snapshot":
        raise UsageError(
            f"--check {thin_only[0]} is a thin check; add --payload thin (or both) to run it"
        )
    snapshot_checks = [c for c in args.checks if c not in thin_check_ids()]
    if snapshot_checks and payload == "thin":
        validate_check_ids(snapshot_checks)
        raise UsageError(
            f"--check {snapshot_checks[0]} is a snapshot check; use --payload both to run it "
            "with the thin checks"
        )
    only = validate_check_ids(snapshot_checks) if snapshot_checks else None
    if args.checks and not snapshot_checks:
        only = ()
    shard = getattr(args, "shard", None)
    if shard is not None:
        _check_shard_options(payload)
    seed = args.seed if args.seed is not None else secrets.randbelow(1_000_000)
    config = VerifyConfig(
        secret=secret,
        endpoint_type=args.endpoint_type,
        mode=args.mode,
        events=events,
        max_response_time=args.max_response_time,
        seed=seed,
        timeout=args.timeout,
        api_version=args.api_version,
        stop_after=args.stop_after,
        examples=args.examples,
        max_run_time=args.max_run_time,
        concurrency=args.concurrency,
    )
    report = _open_for_writing(args.report, "--report")
    junit = _open_for_writing(args.junitxml, "--junitxml")
    check_distinct([report, junit])
    if args.html:
        from connect_harness.checks.html_report import check_writable

        check_writable(args.html)
    note = contracts.resolve_version(args.api_version).note
    if note:
        print(f"connect-harness: note: {note}", file=sys.stderr)
    warning = secret_warning(secret)
    if warning:
        print(f"connect-harness: warning: {warning}", file=sys.stderr)
    url = None if isinstance(target, UrlTarget) else urljoin(DEFAULT_URL, args.path)
    fake = FakeStripeAPI(port=args.fake_stripe_port or 0, api_version=args.api_version)
    with contextlib.ExitStack() as stack:
        start_fake(fake, args.fake_stripe_port or 0, "--fake-stripe-port")  # a clash in CLI words
        stack.enter_context(fake)
        process = _served(args, target, fake.url, secret)
        if process is not None:
            stack.enter_context(process)
        shard_run = None
        if shard is not None:
            from connect_harness.checks.sharding import ShardRun

            shard_run = ShardRun(
                target,
                config,
                shard=shard,
                plan=only or check_ids(),
                fake_api=fake,
                url=url,
                process=process,
            )
            run = stack.enter_context(shard_run)
        else:
            run = stack.enter_context(
                ContractRun(target, config, fake_api=fake, url=url, process=process)
            )
        fake_url = fake.url
        print(
            f"connect-harness verify: {target.describe()} | endpoint type {config.endpoint_type} "
            f"| mode {config.mode} | {len(config.event_types)} event types | seed {seed} "
            f"| fake Stripe API {fake_url}"
            + (f" | shard {shard[0]}/{shard[1]}" if shard is not None else "")
        )
        sys.stdout.flush()
        with (
            _interruptible(run.breaker.interrupt) as interrupted,
            _Progress(lambda: run.deliveries),
        ):
            if shard_run is not None:
                results = _run_shard(shard_run)
            else:
                results = (
                    [] if payload == "thin" or only == () else run_suite(run, only or check_ids())
                )
        deliveries = run.deliveries
        if run.sequential_since is not None:
            print(
                f"connect-harness: note: --concurrency {run.concurrency}: the rest of the run "
                f"sent one delivery at a time, because {run.sequential_since}",
                file=sys.stderr,
            )
        causes = run.headlines()
        stopped = run.breaker.stopped
        stopped_by = run.breaker.cause
        sent = sum(1 for record in run.records if record.response is not run.breaker.NOT_SENT)
        if payload != "snapshot" and (thin_only or not args.checks) and not stopped:
            thin_config = ThinConfig(
                secret=secret,
                url=url or str(getattr(target, "url", DEFAULT_URL)),
                endpoint_type=config.endpoint_type,
                mode=config.mode,
                seed=seed,
                timeout=args.timeout,
                types=thin_types or THIN_TYPES,
            )
            # an in-process app's stripe-python calls the fake, as under the plugin's thin payload
            if not isinstance(target, UrlTarget):
                stack.enter_context(fake.patch_stripe())
            results += run_thin_checks(target, fake, thin_config, only=thin_only or None)
    gaps = _gaps(fake.calls)
    if stopped:
        print(f"\nconnect-harness: {stopped}; the results below are what it has")
    print()
    print(render_table(results, headlines=causes), end="")
    if gaps:
        print(
            "\nThe fake Stripe API does not serve these calls the endpoint made; checks that met "
            "them were not judged (this may be our gap, not the endpoint's):"
        )
        for gap in gaps:
            print(f"  {gap}")
    skipped = [result.id for result in results if result.status == "skip"]
    failed = any(result.status == "fail" for result in results) or bool(args.strict and skipped)
    lost: list[str] = []
    records = run.records
    meta = {
        "deliveries": deliveries,
        "seed": seed,
        "target": target.describe(),
        "endpoint_type": config.endpoint_type,
        "mode": config.mode,
        "events": len(config.event_types),
        "max_response_time": config.max_response_time,
        "api_version": config.api_version or contracts.api_version(),
        "fake_stripe_api": fake_url,
        "headlines": [cause.to_json() for cause in causes],
        "fake_stripe_api_gaps": gaps,
        "stopped": stopped,
        "stopped_by": stopped_by,
        "max_run_time": config.max_run_time,
        "sent": sent,
    }
    written: dict[str, Any] = to_json(results, meta=meta)
    if shard is not None and shard_run is not None:
        meta["shard"] = f"{shard[0]}/{shard[1]}"
        written = to_json(results, meta=meta)
        written["shard"] = shard_run.shard_section()
        print(
            f"\nShard {shard[0]}/{shard[1]}: the checks above are this shard's; the checks over every "
            "delivery and the root causes are judged by 'connect-harness report merge' of all "
            f"{shard[1]} shards' --report files."
        )
    if report is not None:
        lost += _written(report, json.dumps(written, indent=2) + "\n")
    if args.html:
        from connect_harness.checks.html_report import write_html

        write_html(args.html, results, meta=meta, headlines=causes, records=records)
    if junit is not None:
        lost += _written(junit, lambda path: write_junit(results, path))
    for line in lost:
        print(f"connect-harness: error: {line}", file=sys.stderr)
    if interrupted.is_set():
        print(
            f"connect-harness: interrupted; reported the {sent} deliveries made",
            file=sys.stderr,
        )
        _name_html(args.html)
        return 130
    over_budget = stopped_by == "budget"
    if failed and args.strict and skipped:
        print(f"\n--strict: {len(skipped)} skipped check(s) count as failed: {', '.join(skipped)}")
    elif not failed and over_budget:
        print(
            f"\nNot a pass: the run stopped at its time budget after {sent} deliveries "
            f"(seed {seed}); the checks it could not finish were not judged (exit {EXIT_STOPPED})."
        )
    elif not failed and skipped:
        print(
            f"\nAll checks that ran passed (seed {seed}); {len(skipped)} skipped, listed above "
            "(--strict makes them fail)."
        )
    elif not failed:
        print(f"\nAll checks passed (seed {seed}).")
    _name_html(args.html)
    if lost:
        return 2
    if failed:
        return 1
    return EXIT_STOPPED if over_budget else 0


def _check_shard_options(payload: str) -> None:
    """--shard splits the snapshot catalogue's deliveries; what it cannot split is one line."""
    if payload != "snapshot":
        raise UsageError(
            f"--shard splits the snapshot checks, not --payload {payload}; run the thin checks "
            "on one machine (--payload thin, without --shard)"
        )


def _run_shard(run: ShardRun) -> list[CheckResult]:
    """This shard's delivering checks, through the shipped suite as every verify runs them."""
    from connect_harness.checks.suite_runner import run_suite

    mine = list(run.mine)
    if not mine:  # more shards than units: this one delivers nothing
        run.shard_section()
        return []
    return run_suite(run, mine)


def _name_html(path: str | None) -> None:
    """The text report's last line names the HTML report, when one was written."""
    if path:
        print(f"\nHTML report: {os.path.abspath(path)}")


def _open_for_writing(path: str | None, flag: str) -> ReportFile | None:
    """Check a report path now, so a bad one is found before the first delivery, not after."""
    suffix = ".xml" if flag == "--junitxml" else ".json"
    return None if path is None else ReportFile(path, flag, suffix=suffix)


def _written(report: ReportFile, content: str | Callable[[str], None]) -> list[str]:
    """Write a report; the error line (naming where it was saved instead) when that failed."""
    try:
        if isinstance(content, str):
            report.write(content)
        else:
            report.write_with(content)
    except ReportLost as err:
        return [str(err)]
    return []


@contextlib.contextmanager
def _interruptible(stop: Callable[[], None]) -> Iterator[threading.Event]:
    """The first Ctrl-C stops sending (the run then reports what it has); the second exits 130.

    After a first Ctrl-C the handler stays for the rest of the process (the report is written and
    the command exits 130 next): a second one during that shutdown is the same one line, not a
    KeyboardInterrupt traceback out of the report writing or the fake API's shutdown.
    """
    from connect_harness.delivery.process import stop_every_started

    interrupted = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return
    # The checks run in a pytest session that captures file descriptor 2: the line goes to a copy
    # of the real one, taken now.
    stderr = os.dup(2)

    def on_interrupt(signum: int, frame: Any) -> None:
        if interrupted.is_set():
            os.write(stderr, b"connect-harness: interrupted again; stopping without a report\n")
            stop_every_started()  # a --serve server must not outlive the run
            os._exit(130)
        interrupted.set()
        stop()

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield interrupted
    finally:
        if not interrupted.is_set():
            signal.signal(signal.SIGINT, previous)
            os.close(stderr)


class _Progress:
    """One progress line on stderr, rewritten in place, when stderr is a terminal and the run has
    taken more than :attr:`AFTER` seconds; erased when the run ends."""

    AFTER = 2.0
    EVERY = 0.5

    def __init__(self, count: Callable[[], int], stream: TextIO | None = None) -> None:
        self._count = count
        self._stream = stream if stream is not None else sys.stderr
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self.shown = False

    def __enter__(self) -> _Progress:
        isatty = getattr(self._stream, "isatty", None)
        if callable(isatty) and isatty():
            self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        if self.shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()

    def _loop(self) -> None:
        started = time.monotonic()
        if self._done.wait(self.AFTER):
            return
        while not self._done.is_set():
            elapsed = time.monotonic() - started
            self._stream.write(f"\r\x1b[K  {self._count()} deliveries, {elapsed:.0f} s")
            self._stream.flush()
            self.shown = True
            self._done.wait(self.EVERY)


def _gaps(calls: list[Any]) -> list[str]:
    """``GET /v1/x (3 calls)`` for each route the fake could not serve, most frequent first."""
    counts: dict[str, int] = {}
    for call in calls:
        if call.unserved:
            text = f"{call.method} {call.path}"
            counts[text] = counts.get(text, 0) + 1
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [f"{text} ({count} call{'s' if count > 1 else ''})" for text, count in ordered]


def _secret(given: str | None) -> str:
    secret = given if given is not None else os.environ.get(SECRET_ENV, "")
    if not secret.strip():
        where = (
            "--secret is empty" if given is not None else f"no --secret and ${SECRET_ENV} is unset"
        )
        raise UsageError(
            f'{where}; pass the endpoint\'s signing secret, e.g. --secret "${SECRET_ENV}" '
            "(it starts with 'whsec_')"
        )
    try:
        secret.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 in $STRIPE_WEBHOOK_SECRET: before the run
        source = "--secret" if given is not None else f"${SECRET_ENV}"
        raise UsageError(
            f"{source} holds bytes that are not UTF-8 text; copy the secret again from the "
            "Dashboard (it starts with 'whsec_')"
        ) from None
    return secret


def _target(args: argparse.Namespace) -> Target:
    from connect_harness.delivery import UrlTarget, load_app, target_from

    if (args.url is None) == (args.app is None):
        raise UsageError(
            "verify needs either a URL or --app MODULE:ATTR, not both or neither; e.g. "
            "'connect-harness verify http://127.0.0.1:4242/webhook' or "
            "'connect-harness verify --app sample_app:app'"
        )
    if args.app is not None:
        if args.serve:
            raise UsageError(
                "--serve starts a server and needs the URL it listens on, not --app; e.g. "
                "verify --serve 'python -m myapp' http://127.0.0.1:8000/webhook"
            )
        return load_app(args.app)
    target = target_from(args.url, allow_remote=args.allow_remote)
    if isinstance(target, UrlTarget) and not args.serve:
        from connect_harness.delivery.url import check_reachable

        check_reachable(target.url)
    return target


def _served(
    args: argparse.Namespace, target: Target, api_base: str, secret: str
) -> ServedProcess | None:
    """The launched endpoint for --serve (started when entered), or None."""
    from connect_harness.delivery import UrlTarget
    from connect_harness.delivery.process import ServedProcess, ServeSecrets

    if not args.serve:
        return None
    assert isinstance(target, UrlTarget)
    return ServedProcess(
        args.serve, target.url, api_base=api_base, given=ServeSecrets.fresh(secret)
    )


def _events(values: list[str]) -> tuple[str, ...] | None:
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    if values and not names:
        raise UsageError(
            "--events names no event type; give e.g. --events account.updated,payout.failed"
        )
    for name in names:
        contracts.event_info(name)  # a UsageError with the closest matches
    return tuple(dict.fromkeys(names)) if names else None


def _thin_types(values: list[str]) -> tuple[str, ...] | None:
    from connect_harness.events.thin import thin_event_info, thin_type_name

    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    for name in names:
        thin_event_info(name)  # a UsageError with the closest matches
    return tuple(dict.fromkeys(thin_type_name(n) for n in names)) if names else None
