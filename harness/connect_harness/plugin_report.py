"""What the pytest plugin says about the contract checks after a run: skipped checks and the JSON report.

The same records ``verify`` renders (:mod:`connect_harness.checks.report`), so a team reads one format
whether it ran the CLI or pytest.
"""

from __future__ import annotations

import json
from pathlib import Path

from connect_harness.checks.report import to_json
from connect_harness.checks.run import ContractRun
from connect_harness.errors import UsageError
from connect_harness.settings import Settings

__all__ = ["grouped", "skipped_lines", "write_html_report", "write_report"]


def skipped_lines(run: ContractRun) -> list[str]:
    """One line per check of ``run`` that was skipped: ``SKIP check-id: why``."""
    return [
        f"SKIP {result.id}: {result.skip_reason}"
        for result in run.completed()
        if result.status == "skip"
    ]


def grouped(lines: list[str]) -> list[str]:
    """The ``SKIP check-id: why`` lines (from every xdist worker) with one line per reason: checks
    skipped for one reason (a root cause skips most of the catalogue) share it,
    ``SKIP 19 checks (a, b, ...): why``."""
    by_reason: dict[str, list[str]] = {}
    for line in lines:
        check, _, reason = line.removeprefix("SKIP ").partition(": ")
        ids = by_reason.setdefault(reason, [])
        if check not in ids:
            ids.append(check)
    found = []
    for reason, ids in by_reason.items():
        which = ids[0] if len(ids) == 1 else f"{len(ids)} checks ({', '.join(ids)})"
        found.append(f"SKIP {which}: {reason}")
    return found


def write_report(run: ContractRun, path: str, *, settings: Settings) -> None:
    """Write the results of the checks ``run`` ran as ``verify --report`` does."""
    text = json.dumps(to_json(run.completed(), meta=_meta(run, settings)), indent=2) + "\n"
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as err:
        raise UsageError(
            f"cannot write --connect-report {path!r}: {err.strerror}; give a writable path"
        ) from err


def write_html_report(run: ContractRun, path: str, *, settings: Settings) -> None:
    """Write the results of the checks ``run`` ran as the page ``verify --html`` writes."""
    from connect_harness.checks.html_report import write_html

    write_html(
        path,
        run.completed(),
        meta=_meta(run, settings),
        headlines=run.headlines(),
        records=run.records,
        flag="--connect-html",
    )


def _meta(run: ContractRun, settings: Settings) -> dict[str, object]:
    config = run.config
    return {
        "deliveries": run.deliveries,
        "seed": config.seed,
        "target": run.target.describe(),
        "endpoint_type": config.endpoint_type,
        "mode": config.mode,
        "events": len(config.event_types),
        "max_response_time": config.max_response_time,
        "api_version": settings["api_version"],
        "stopped": run.breaker.stopped,
        "stopped_by": run.breaker.cause,
        "max_run_time": config.max_run_time,
    }
