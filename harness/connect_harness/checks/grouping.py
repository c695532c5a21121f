"""Findings grouped by root cause: one headline when a whole class of deliveries fails alike.

When one cause fails many checks (the secret given is not the endpoint's, every delivery is redirected,
the endpoint refuses one event type), each check would otherwise give its own wrong advice (rotation,
raw body, redelivery). A :class:`Headline` names the cause once; every check whose premise that cause
broke reports the affected findings as not judged (``skip``), with the headline as the reason. The
checks that observe the cause itself (:data:`ROOT_CHECKS`) keep their findings.

Rules, most general first (a run gets at most one of the first two):

* every delivery got the same redirect (3xx to one ``Location``): register the exact URL;
* every correctly signed delivery got the same 4xx: the secret is probably not the endpoint's;
* a launched endpoint's process exited: findings about deliveries that got no answer are not judged;
* every delivery of an event type in ``accepts-valid-events`` got a 4xx: findings about that type in
  other checks are not judged.

Below the headlines, :func:`point_upstream`: a failing finding of another check about an event type
and permutation that ``accepts-valid-events`` already fails (a 500 to the plain event, say) is not
judged there, and points to that finding, instead of giving its own check's advice for what is
not its cause.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from connect_harness.checks.findings import CheckResult, Finding
from connect_harness.checks.sdk_parsing import MARK as SDK_MARK
from connect_harness.wire.text_safety import safe_text

if TYPE_CHECKING:
    from connect_harness.checks.records import DeliveryRecord

__all__ = ["ROOT_CHECKS", "Headline", "headlines", "point_upstream", "regroup"]

#: Checks that observe a root cause themselves: their findings are never rewritten.
ROOT_CHECKS = frozenset(
    {"accepts-valid-events", "no-redirects", "no-server-errors", "responds-in-time", "stays-alive"}
)

#: Checks whose deliveries are all correctly signed events (rotated secrets included).
SIGNED_CHECKS = frozenset(
    {
        "accepts-valid-events",
        "accepts-rotated-secret",
        "verifies-raw-body",
        "acknowledges-unknown-events",
        "idempotent-redelivery",
        "order-independent",
        "after-deauthorization",
        "survives-api-errors",
        "retries",
    }
)

#: Fewest deliveries a run-wide headline is drawn from.
MIN_DELIVERIES = 3


@dataclass(frozen=True)
class Headline:
    """One root cause: ``cause`` (``redirect``, ``wrong-secret``, ``refused-type``), the sentence
    that names it and what to do, and the event type it is about (refused types only)."""

    cause: str
    text: str
    event_type: str | None = None

    def __post_init__(self) -> None:
        # The text may quote the endpoint (a Location): shown escaped, never obeyed.
        object.__setattr__(self, "text", safe_text(self.text))

    def to_json(self) -> dict[str, str | None]:
        return {"cause": self.cause, "text": self.text, "event_type": self.event_type}


def headlines(
    records: Sequence[DeliveryRecord],
    accepts: CheckResult | None = None,
    *,
    died_after: DeliveryRecord | None = None,
    silent_after: DeliveryRecord | None = None,
) -> list[Headline]:
    """The root causes the deliveries so far (and ``accepts-valid-events``' result) show.

    ``died_after``: the delivery after which a launched endpoint's process exited; every later
    delivery got no answer, and findings about those are not judged. ``silent_after``: the same
    for an endpoint not launched by the run, whose connections were refused or reset from then on.
    """
    if died_after is not None:
        return [
            Headline(
                "process-exited",
                f"the endpoint's process exited after delivery {died_after.label}: every later "
                "delivery got no answer (see stays-alive)",
            )
        ]
    if silent_after is not None:
        return [
            Headline(
                "stopped-answering",
                f"the endpoint stopped answering after delivery {silent_after.label}: every later "
                "delivery was refused or reset, as when its server died (see stays-alive); "
                "the checks after that were not judged",
            )
        ]
    if len(records) >= MIN_DELIVERIES:
        answers = {(r.response.status, r.response.header("Location")) for r in records}
        if len(answers) == 1:
            status, location = next(iter(answers))
            if 300 <= status < 400:
                return [
                    Headline(
                        "redirect",
                        f"every delivery got {status} to {location}: register the exact URL the "
                        "endpoint serves (Stripe does not follow redirects)",
                    )
                ]
        signed = [r for r in records if r.check in SIGNED_CHECKS]
        statuses = {r.response.status for r in signed}
        if len(signed) >= MIN_DELIVERIES and len(statuses) == 1:
            status = next(iter(statuses))
            if 400 <= status < 500:
                return [
                    Headline(
                        "wrong-secret",
                        f"every correctly signed delivery got {status}: the secret given is "
                        "probably not the endpoint's; pass the signing secret of this endpoint "
                        "(Dashboard > Webhooks > the endpoint > Signing secret)",
                    )
                ]
    return _refused_types(accepts)


def _refused_types(accepts: CheckResult | None) -> list[Headline]:
    if accepts is None:
        return []
    by_type: dict[str, list[Finding]] = {}
    for finding in accepts.findings:
        if finding.event_type:
            by_type.setdefault(finding.event_type, []).append(finding)
    out = []
    for event_type, findings in by_type.items():
        actual = {f.actual for f in findings}
        if all(f.status == "fail" for f in findings) and len(actual) == 1:
            status = next(iter(actual)) or ""
            sdk = next((f.reason for f in findings if f"{SDK_MARK} " in f.reason), None)
            if status[:1] == "4" and sdk is not None:
                out.append(
                    Headline(
                        "refused-type",
                        f"every delivery of {event_type} got {status}, and "
                        f"{sdk[sdk.index(SDK_MARK) :]}",
                        event_type,
                    )
                )
            elif status[:1] == "4":
                out.append(
                    Headline(
                        "refused-type",
                        f"every delivery of {event_type} got {status}: the endpoint refuses this "
                        "type; answer 2xx to every event it receives, even one it does not handle",
                        event_type,
                    )
                )
    return out


def _unanswered_not_judged(findings: Iterable[Finding], cause: Headline) -> Iterable[Finding]:
    for finding in findings:
        if (finding.actual or "").startswith("no HTTP answer"):
            yield Finding(
                check=finding.check,
                status="skip",
                reason=f"not judged: {cause.text}",
                event_type=finding.event_type,
                permutation=finding.permutation,
                variant=finding.variant,
            )
        else:
            yield finding


def regroup(result: CheckResult, causes: Iterable[Headline]) -> CheckResult:
    """``result`` with the findings whose premise a cause broke turned into not-judged skips."""
    if result.id in ROOT_CHECKS:
        return result
    causes = list(causes)
    for cause in causes:
        if cause.cause in ("process-exited", "stopped-answering"):
            return replace(result, findings=tuple(_unanswered_not_judged(result.findings, cause)))
        if cause.cause in ("redirect", "wrong-secret"):
            return replace(
                result,
                findings=(
                    Finding(check=result.id, status="skip", reason=f"not judged: {cause.text}"),
                ),
            )
    refused = {cause.event_type: cause for cause in causes if cause.event_type}
    if not refused:
        return result
    findings = tuple(
        Finding(
            check=f.check,
            status="skip",
            reason=f"not judged: {f.event_type} is not accepted (see accepts-valid-events)",
            event_type=f.event_type,
            permutation=f.permutation,
            variant=f.variant,
        )
        if f.event_type in refused
        else f
        for f in result.findings
    )
    return replace(result, findings=findings)


def point_upstream(result: CheckResult, accepts: CheckResult | None) -> CheckResult:
    """``result`` with each failing finding about an event type and permutation that already fails
    in ``accepts-valid-events`` turned into a not-judged skip pointing to that finding."""
    if accepts is None or result.id in ROOT_CHECKS:
        return result
    upstream: dict[tuple[str | None, str | None], Finding] = {
        (f.event_type, f.permutation): f
        for f in accepts.findings
        # The canonical event's failure only: an example failing on its own values says nothing
        # about the other checks' deliveries of that type.
        if f.status == "fail" and f.event_type and f.permutation and f.variant is None
    }
    if not upstream:
        return result
    findings = []
    for finding in result.findings:
        cause = upstream.get((finding.event_type, finding.permutation))
        if finding.status != "fail" or cause is None:
            findings.append(finding)
            continue
        findings.append(
            Finding(
                check=finding.check,
                status="skip",
                reason=f"not judged: a correctly signed {finding.event_type} "
                f"({finding.permutation}) already fails in accepts-valid-events (got "
                f"{cause.actual}); fix that first, this finding follows from it (here: "
                f"{finding.actual})",
                event_type=finding.event_type,
                permutation=finding.permutation,
                variant=finding.variant,
                expected=finding.expected,
                actual=finding.actual,
            )
        )
    return replace(result, findings=tuple(findings))
