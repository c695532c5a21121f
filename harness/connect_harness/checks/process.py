"""Checks of the endpoint's server: it stays alive (a launched endpoint, ``verify --serve``, is
watched; one at a URL is judged by its connections), and a launched endpoint's output never holds a
secret it was given."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from connect_harness.checks.common import finding_for, short
from connect_harness.checks.findings import Finding
from connect_harness.checks.stopping import gone, sent
from connect_harness.delivery import UrlTarget

if TYPE_CHECKING:
    from connect_harness.checks.interface import CheckRun

_ONLY_SERVED = (
    'only a launched endpoint can be watched: run verify --serve "CMD" URL '
    "(pytest: --connect-serve)"
)


#: Seconds a launched process gets, after the last delivery, to show it is ending.
FINAL_EXIT_GRACE = 0.5


def check_stays_alive(run: CheckRun) -> Iterator[Finding]:
    check = "stays-alive"
    process = run.process
    if process is None and isinstance(run.target, UrlTarget):
        yield from _judge_url_target(run)
        return
    if process is None:
        yield Finding(check=check, status="skip", reason=_ONLY_SERVED)
        return
    run.settle()
    # Settles cost nothing when no call can be in flight, so a process that ends itself right
    # after its last answer may still be going: it gets a moment to go (once per run).
    if run.died_after is None and run.records and process.exits_within(FINAL_EXIT_GRACE):
        run.died_after = run.last_answered()
    died = run.died_after
    code = process.exit_code  # None when the server outlived its launcher: not ours to reap
    exited = "exited" if code is None else f"exited (code {code})"
    if died is None:
        yield Finding(
            check=check,
            status="pass",
            reason=f"the process ran through all {len(sent(run.records))} deliveries made",
        )
        return
    yield finding_for(
        died,
        check=check,
        status="fail",
        reason=f"the endpoint's process {exited} after delivery "
        f"{died.label} ({died.event_type or died.variant or 'a request'}), so every later delivery "
        "got no answer; a handler's error (an unhandled rejection, an exception in a worker) must "
        f"never end the process. Its last output: {short(process.last_lines(5), 400) or '(none)'}",
        expected="the process keeps running",
        actual="exited" if code is None else f"exited with code {code}",
    )


def _judge_url_target(run: CheckRun) -> Iterator[Finding]:
    """An endpoint the run did not launch: alive while it answers; dead once its connections are
    refused or reset for good after it had answered (:meth:`CheckRun.silent_after`)."""
    silent = run.silent_after()
    if silent is None:
        made = sent(run.records)
        answered = sum(1 for record in made if record.response.status != 0)
        yield Finding(
            check="stays-alive",
            status="pass",
            reason=f"the endpoint's server answered until the end ({answered} of "
            f"{len(made)} deliveries made answered; no connection refused or reset after that)",
        )
        return
    later = [r for r in run.records if r.sequence > silent.sequence and gone(r.response)]
    yield finding_for(
        silent,
        check="stays-alive",
        status="fail",
        reason=f"the endpoint stopped answering after delivery {silent.label} "
        f"({silent.event_type or silent.variant or 'a request'}): {len(later)} later "
        f"deliveries had their connection refused or reset (the first: "
        f"{short(later[0].response.error or '', 160)}), as when its server died; a handler's "
        "error (an unhandled rejection, an exception in a worker) must never end the server",
        expected="the server keeps answering",
        actual=f"refused or reset from {later[0].label} on",
    )


def check_never_logs_secrets(run: CheckRun) -> Iterator[Finding]:
    check = "never-logs-secrets"
    process = run.process
    if process is None:
        yield Finding(check=check, status="skip", reason=_ONLY_SERVED)
        return
    run.settle()
    output = process.output()
    leaked = False
    for what, value in process.secrets.named():
        if not value or value not in output:
            continue
        leaked = True
        line = next(line for line in output.splitlines() if value in line)
        yield Finding(
            check=check,
            status="fail",
            reason=f"the endpoint printed {what} to its output ({output.count(value)} time(s)); "
            "logs are read by many and kept long: log that verification failed, never the secret",
            expected="no secret in stdout/stderr",
            actual=short(line.replace(value, f"<{what}>"), 300),
        )
    if not leaked:
        yield Finding(
            check=check,
            status="pass",
            reason=f"none of the 3 secrets it was given appears in its {len(output)} characters of output",
        )
