"""Honest blame: failures that may be the fake Stripe API's gap, not the endpoint's.

When the endpoint called a route the fake does not serve, what Stripe would have answered is
unknown, so a failure of that delivery is reported as not judged; when Stripe (the fake) refused one
of its calls, the failure says which call, which is usually why the endpoint failed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from connect_harness.checks.common import call_text
from connect_harness.checks.findings import Finding
from connect_harness.stripe_api.fake import ApiCall

if TYPE_CHECKING:
    from connect_harness.checks.interface import CheckRun


def unserved_text(call: ApiCall) -> str:
    """How a finding names a call the fake Stripe API could not serve."""
    return (
        f"the fake Stripe API does not serve {call.method} {call.path}: this answer may be our gap"
    )


def excuse_our_gaps(run: CheckRun, findings: tuple[Finding, ...]) -> tuple[Finding, ...]:
    """Failures of deliveries during which the endpoint met a route the fake does not serve are
    not judged: the endpoint may have failed only because our stand-in answered 'Unrecognized
    request URL' where Stripe would have answered. Other failures name the API call Stripe
    refused during that delivery, which is usually why the endpoint failed."""
    if not any(f.status == "fail" for f in findings) or not any(
        call.unserved or call.error for call in run.observed_calls()
    ):
        return findings
    # A failing finding carries its delivery's reproduction command: that names the delivery.
    gaps: dict[str, ApiCall] = {}
    refused: dict[str, ApiCall] = {}
    for record in run.judged_records():
        for call in record.calls:
            if call.unserved:
                gaps.setdefault(record.reproduce, call)
            elif call.error and 400 <= call.status < 500:
                refused.setdefault(record.reproduce, call)
    excused = []
    for finding in findings:
        gap = gaps.get(finding.reproduce or "")
        refusal = refused.get(finding.reproduce or "")
        if finding.status == "fail" and gap is not None:
            finding = replace(
                finding,
                status="skip",
                reason=f"{unserved_text(gap)} (not judged: {finding.reason})",
                reproduce=None,
            )
        elif (
            finding.status == "fail"
            and refusal is not None
            and call_text(refusal) not in finding.reason
        ):
            finding = replace(
                finding,
                reason=f"{finding.reason}; while handling it, {call_text(refusal)} was refused "
                f"by Stripe with {refusal.status}: {refusal.error}",
            )
        excused.append(finding)
    return tuple(excused)
