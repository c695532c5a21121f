"""Assertions over check results, for tests: a failure reads like the ``verify`` report."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from connect_harness.checks.findings import CheckResult
from connect_harness.errors import ContractFailure, UsageError

__all__ = ["assert_passes"]

_SHOWN = 3


def assert_passes(results: CheckResult | Iterable[CheckResult]) -> None:
    """Raise :class:`ContractFailure` naming every failing check and up to three findings of each."""
    __tracebackhide__ = True
    if isinstance(results, CheckResult):
        results = [results]
    iterable = isinstance(results, Iterable) and not isinstance(results, (str, bytes, Mapping))
    items = list(results) if iterable else None
    if items is None or not all(isinstance(item, CheckResult) for item in items):
        raise UsageError(
            f"results must be a CheckResult or a list of them, not {results!r:.80}; pass what "
            "run_checks(...) or connect_contract.result(check_id) returned"
        )
    failing = [result for result in items if result.status == "fail"]
    if not failing:
        return
    lines = [
        f"connect_harness: {len(failing)} contract check(s) failed: {', '.join(r.id for r in failing)}"
    ]
    for result in failing:
        bad = [finding for finding in result.findings if finding.status == "fail"]
        lines.append(f"{result.id} ({result.title}): {len(bad)} failing finding(s)")
        for finding in bad[:_SHOWN]:
            where = " ".join(
                filter(None, (finding.event_type, finding.permutation, finding.variant))
            )
            lines.append(f"  - {where}: {finding.reason}")
            if finding.expected or finding.actual:
                lines.append(f"    expected {finding.expected}, got {finding.actual}")
            if finding.reproduce:
                lines.append(f"    reproduce: {finding.reproduce}")
        if len(bad) > _SHOWN:
            lines.append(f"  ... and {len(bad) - _SHOWN} more")
    raise ContractFailure("\n".join(lines))
