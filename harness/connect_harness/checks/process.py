"""Checks only a launched endpoint allows (``verify --serve``): its process stays alive, and its output
never holds a secret it was given."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from connect_harness.checks.common import _finding_for, _short
from connect_harness.checks.findings import Finding

if TYPE_CHECKING:
    from connect_harness.checks.run import ContractRun

_ONLY_SERVED = (
    'only a launched endpoint can be watched: run verify --serve "CMD" URL '
    "(pytest: --connect-serve)"
)


def _check_stays_alive(run: ContractRun) -> Iterator[Finding]:
    check = "stays-alive"
    process = run.process
    if process is None:
        yield Finding(check=check, status="skip", reason=_ONLY_SERVED)
        return
    run.settle()
    if run.died_after is None and not process.alive and run.records:
        run.died_after = run._last_answered()
    died = run.died_after
    if died is None:
        yield Finding(
            check=check,
            status="pass",
            reason=f"the process ran through all {run.deliveries} deliveries",
        )
        return
    yield _finding_for(
        died,
        check=check,
        status="fail",
        reason=f"the endpoint's process exited (code {process.returncode}) after delivery "
        f"{died.label} ({died.event_type or died.variant or 'a request'}), so every later delivery "
        "got no answer; a handler's error (an unhandled rejection, an exception in a worker) must "
        f"never end the process. Its last output: {_short(process.last_lines(5), 400) or '(none)'}",
        expected="the process keeps running",
        actual=f"exited with code {process.returncode}",
    )


def _check_never_logs_secrets(run: ContractRun) -> Iterator[Finding]:
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
            actual=_short(line.replace(value, f"<{what}>"), 300),
        )
    if not leaked:
        yield Finding(
            check=check,
            status="pass",
            reason=f"none of the 3 secrets it was given appears in its {len(output)} characters of output",
        )
