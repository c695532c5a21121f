"""Render check results for people and machines: a text table, a JSON report and JUnit XML.

All three render the same :class:`~connect_harness.checks.findings.CheckResult` records. Findings never hold the
signing secret (reproductions say ``"$STRIPE_WEBHOOK_SECRET"``), so nothing here can print it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from os import PathLike
from typing import Any

from connect_harness.checks.findings import CheckResult, Finding, Status
from connect_harness.checks.grouping import Headline

__all__ = ["overall_status", "render_table", "summary_counts", "to_json", "write_junit"]


def overall_status(results: Sequence[CheckResult]) -> Status:
    """``fail`` if any check failed, ``pass`` if any passed (skips allowed), else ``skip``."""
    statuses = {result.status for result in results}
    if "fail" in statuses:
        return "fail"
    return "pass" if "pass" in statuses else "skip"


def summary_counts(results: Sequence[CheckResult]) -> dict[str, int]:
    """``{"checks", "passed", "failed", "skipped"}``: how many checks ended each way."""
    return {
        "checks": len(results),
        "passed": sum(1 for r in results if r.status == "pass"),
        "failed": sum(1 for r in results if r.status == "fail"),
        "skipped": sum(1 for r in results if r.status == "skip"),
    }


def render_table(results: Sequence[CheckResult], *, headlines: Sequence[Headline] = ()) -> str:
    """A table of checks (status and pass/fail/skip finding counts), then one example per failing check.

    ``headlines`` (root causes, :mod:`connect_harness.checks.grouping`) come first, one line each.

    Skipped checks are followed by their reason, failing ones by their first failing finding: the event,
    its permutation and variant, expected vs actual, the reason and the command that replays it.
    """
    width = max([len("check"), *(len(result.id) for result in results)])
    lines = [f"ROOT CAUSE: {headline.text}" for headline in headlines]
    if lines:
        lines.append("")
    lines += [f"{'check':<{width}}  {'status':<6}  {'pass':>5}  {'fail':>5}  {'skip':>5}"]
    for result in results:
        counts = result.counts()
        lines.append(
            f"{result.id:<{width}}  {result.status.upper():<6}  "
            f"{counts['pass']:>5}  {counts['fail']:>5}  {counts['skip']:>5}"
        )
    totals = summary_counts(results)
    lines.append("")
    lines.append(
        f"{totals['checks']} checks: {totals['passed']} passed, {totals['failed']} failed, "
        f"{totals['skipped']} skipped"
    )
    for result in results:
        if result.status == "skip":
            lines.append(f"SKIP {result.id}: {result.skip_reason}")
    for result in results:
        failures = result.failures()
        if not failures:
            continue
        lines.append("")
        more = f" ({len(failures)} failing findings; first shown)" if len(failures) > 1 else ""
        lines.append(f"FAIL {result.id}: {result.title}{more}")
        lines.extend(f"  {line}" for line in _finding_lines(failures[0]))
    return "\n".join(lines) + "\n"


def _finding_lines(finding: Finding) -> list[str]:
    lines: list[str] = []
    if finding.event_type:
        what = finding.event_type
        if finding.permutation:
            what += f" ({finding.permutation})"
        lines.append(f"event:     {what}")
    if finding.variant:
        lines.append(f"variant:   {finding.variant}")
    if finding.expected is not None:
        lines.append(f"expected:  {finding.expected}")
    if finding.actual is not None:
        lines.append(f"actual:    {finding.actual}")
    lines.append(f"reason:    {finding.reason}")
    if finding.reproduce:
        lines.append(f"reproduce: {finding.reproduce}")
    return lines


def to_json(
    results: Sequence[CheckResult], *, meta: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON report: ``{"summary": {...}, "checks": [{"id", "title", "status", "findings"}...]}``.

    ``summary`` holds the overall ``status``, the check counts (``checks``, ``passed``, ``failed``,
    ``skipped``) and every key of ``meta`` (``deliveries``, ``seed``, ``target``, ``endpoint_type``,
    ``mode``... as the caller knows them).
    """
    summary: dict[str, Any] = {"status": overall_status(results), **summary_counts(results)}
    for key, value in (meta or {}).items():
        summary.setdefault(key, value)
    return {"summary": summary, "checks": [result.to_json() for result in results]}


def write_junit(
    results: Sequence[CheckResult],
    path: str | PathLike[str],
    *,
    suite_name: str = "connect_harness",
) -> None:
    """Write JUnit XML: one testcase per check, failing with its first failing finding, or skipped."""
    totals = summary_counts(results)
    suite = ET.Element(
        "testsuite",
        {
            "name": suite_name,
            "tests": str(totals["checks"]),
            "failures": str(totals["failed"]),
            "errors": "0",
            "skipped": str(totals["skipped"]),
        },
    )
    for result in results:
        case = ET.SubElement(
            suite, "testcase", {"classname": f"{suite_name}.checks", "name": result.id}
        )
        failures = result.failures()
        if failures:
            first = failures[0]
            failure = ET.SubElement(
                case,
                "failure",
                {"message": first.reason, "type": "connect_harness.ContractFailure"},
            )
            details = _finding_lines(first)
            if len(failures) > 1:
                details.append(f"({len(failures) - 1} more failing findings)")
            failure.text = "\n".join(details)
        elif result.status == "skip":
            ET.SubElement(case, "skipped", {"message": result.skip_reason or "skipped"})
    root = ET.Element("testsuites")
    root.append(suite)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
