"""What the endpoint checks produce: findings as plain data, and the catalogue of checks.

A :class:`Finding` is one observation about one delivery (or about the whole run): a status, a one-line
reason, what was expected and what happened, and the command that replays it. A :class:`CheckResult`
groups the findings of one check. The pytest plugin, the ``verify`` table and the JSON/JUnit reports all
render these same records; nothing here does I/O.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from connect_harness.checks.masking import mask_secrets
from connect_harness.errors import UsageError
from connect_harness.redaction import redact_userinfo
from connect_harness.wire.text_safety import safe_lines, safe_text

__all__ = [
    "CATALOGUE",
    "CheckResult",
    "CheckSpec",
    "Finding",
    "Status",
    "check_ids",
    "check_spec",
    "validate_check_ids",
]

Status = Literal["pass", "fail", "skip"]
STATUSES: tuple[Status, ...] = ("pass", "fail", "skip")


@dataclass(frozen=True)
class Finding:
    """One observation of one check: what was sent, what was expected, what happened, and why it matters.

    ``permutation`` names the event's flavour (``connect-live``, ``platform-test``...), ``variant`` the
    kind of request (``missing-signature``, ``rotated-new-first``...). ``reproduce`` is a one-line
    ``connect-harness sign ... --format curl`` command that rebuilds the delivery; it never contains the
    secret.
    """

    check: str
    status: Status
    reason: str
    event_type: str | None = None
    permutation: str | None = None
    variant: str | None = None
    expected: str | None = None
    actual: str | None = None
    reproduce: str | None = None

    def __post_init__(self) -> None:
        # Reason and actual quote the endpoint's own answers, which may echo its keys and hold
        # control characters (ESC, BEL) that a terminal would obey and XML cannot hold.
        for name in ("reason", "actual", "expected"):
            text = getattr(self, name)
            if isinstance(text, str):
                shown = safe_text(text) if name == "reason" else safe_lines(text)
                object.__setattr__(self, name, mask_secrets(shown))
        if self.reproduce is not None:  # a URL's user:password@ stays out of the command
            object.__setattr__(self, "reproduce", redact_userinfo(self.reproduce))

    def to_json(self) -> dict[str, Any]:
        """Every field, by name (absent values as null), ready for ``json.dumps``."""
        return {
            "check": self.check,
            "status": self.status,
            "reason": self.reason,
            "event_type": self.event_type,
            "permutation": self.permutation,
            "variant": self.variant,
            "expected": self.expected,
            "actual": self.actual,
            "reproduce": self.reproduce,
        }


@dataclass(frozen=True)
class CheckResult:
    """The findings of one check. It fails if any finding fails, else passes if any passes, else skips."""

    id: str
    title: str
    findings: tuple[Finding, ...]

    @property
    def status(self) -> Status:
        """``fail`` if any finding failed, else ``pass`` if any passed, else ``skip``."""
        statuses = {finding.status for finding in self.findings}
        if "fail" in statuses:
            return "fail"
        if "pass" in statuses:
            return "pass"
        return "skip"

    def counts(self) -> dict[Status, int]:
        """How many findings of each status: ``{"pass": n, "fail": n, "skip": n}``."""
        counts: dict[Status, int] = dict.fromkeys(STATUSES, 0)
        for finding in self.findings:
            counts[finding.status] += 1
        return counts

    def failures(self) -> tuple[Finding, ...]:
        """The failing findings, in the order they were observed."""
        return tuple(finding for finding in self.findings if finding.status == "fail")

    @property
    def skip_reason(self) -> str | None:
        """Why the check was skipped (the first skip finding's reason), or None if it was not."""
        if self.status != "skip":
            return None
        return next((finding.reason for finding in self.findings), "no findings")

    def to_json(self) -> dict[str, Any]:
        """``{"id", "title", "status", "counts", "findings": [...]}``."""
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "counts": dict(self.counts()),
            "findings": [finding.to_json() for finding in self.findings],
        }


@dataclass(frozen=True)
class CheckSpec:
    """One check of the catalogue: its stable id, a short title and what must hold."""

    id: str
    title: str
    description: str


CATALOGUE: tuple[CheckSpec, ...] = (
    CheckSpec(
        "accepts-valid-events",
        "Accepts valid events",
        "every event type x permutation, correctly signed, gets 2xx",
    ),
    CheckSpec(
        "rejects-missing-signature",
        "Rejects a missing signature",
        "no Stripe-Signature header: 4xx (400 expected; other 4xx noted)",
    ),
    CheckSpec(
        "rejects-malformed-signature",
        "Rejects a malformed signature",
        "a garbage header, one without t=, one with a non-numeric t: 4xx",
    ),
    CheckSpec(
        "rejects-wrong-secret",
        "Rejects the wrong secret",
        "signed with another secret: 4xx",
    ),
    CheckSpec(
        "rejects-tampered-body",
        "Rejects a tampered body",
        "body changed after signing: 4xx",
    ),
    CheckSpec(
        "rejects-stale-timestamp",
        "Rejects a stale timestamp",
        "t older than the 300 s tolerance: 4xx",
    ),
    CheckSpec(
        "rejects-v0-only",
        "Rejects a v0-only signature",
        "only a v0 signature (made with the right secret): 4xx",
    ),
    CheckSpec(
        "accepts-rotated-secret",
        "Accepts a rotated secret",
        "two v1 values, one from an unknown old secret, in either order: 2xx",
    ),
    CheckSpec(
        "verifies-raw-body",
        "Verifies the raw body",
        "bodies that any re-serialization would change (literal non-ASCII, escaped slashes, "
        "float forms, large integers) still get 2xx",
    ),
    CheckSpec(
        "rejects-invalid-json",
        "Rejects invalid JSON",
        "a correctly signed body that is not JSON: 4xx",
    ),
    CheckSpec(
        "acknowledges-unknown-events",
        "Acknowledges unknown events",
        "a correctly signed event of a type the endpoint cannot know: 2xx",
    ),
    CheckSpec(
        "idempotent-redelivery",
        "Idempotent on redelivery",
        "the same event delivered again with a fresh signature: 2xx, and no mutating API call "
        "repeated unless it carries the same Idempotency-Key as before",
    ),
    CheckSpec(
        "order-independent",
        "Independent of delivery order",
        "scenarios delivered reversed, shuffled, with every event twice and concurrently: no 5xx, "
        "and no mutating API call made more often than in Stripe's order",
    ),
    CheckSpec(
        "after-deauthorization",
        "Stops after deauthorization",
        "events arriving after account.application.deauthorized get 2xx (a call for them that "
        "gets Stripe's 403 may be handled), and no API call as the disconnected account succeeds",
    ),
    CheckSpec(
        "survives-api-errors",
        "Survives API errors",
        "with its Stripe calls failing (429, 500, a dropped connection) it keeps answering, never "
        "acknowledges an event whose calls all failed without making them again, and after "
        "Stripe's retry does the work (a read, for an endpoint that only reads) exactly once",
    ),
    CheckSpec(
        "retries",
        "Recovers on Stripe's retries",
        "a delivery that failed while its Stripe calls failed is retried on Stripe's schedule "
        "(compressed): a retry gets 2xx once the API answers again, and the work is done exactly "
        "once",
    ),
    CheckSpec(
        "uses-connected-account-context",
        "Uses the connected account's context",
        "API calls for a Connect event's objects carry Stripe-Account: <event.account>; no call "
        "acts as a different connected account",
    ),
    CheckSpec(
        "separates-livemode",
        "Separates live and test mode",
        "API calls made while handling an event use a key of the event's mode",
    ),
    CheckSpec("no-redirects", "No redirects", "no 3xx answers"),
    CheckSpec(
        "no-server-errors", "No server errors", "no 5xx answers to any delivery of any check"
    ),
    CheckSpec(
        "responds-in-time",
        "Responds in time",
        "every answer within --max-response-time seconds (default 10)",
    ),
    CheckSpec(
        "stays-alive",
        "Stays alive",
        "the endpoint keeps answering: with --serve its process never exits; at a URL its "
        "connections are never refused or reset for good after it answered",
    ),
    CheckSpec(
        "never-logs-secrets",
        "Never logs secrets",
        "with --serve: neither the signing secret nor an API key appears in its output",
    ),
)


def check_ids() -> tuple[str, ...]:
    """The ids of the catalogue, in its order."""
    return tuple(spec.id for spec in CATALOGUE)


def check_spec(check_id: str) -> CheckSpec:
    """The catalogue entry for ``check_id``; a UsageError naming the closest ids if there is none."""
    for spec in CATALOGUE:
        if spec.id == check_id:
            return spec
    raise UsageError(_unknown_check_message(check_id))


def validate_check_ids(check_ids_: Iterable[str]) -> tuple[str, ...]:
    """Return ``check_ids_`` in catalogue order without repeats; UsageError on an unknown id."""
    wanted = list(check_ids_)
    for check_id in wanted:
        check_spec(check_id)
    return tuple(spec.id for spec in CATALOGUE if spec.id in wanted)


def _unknown_check_message(check_id: str) -> str:
    ids = check_ids()
    close = difflib.get_close_matches(check_id, ids, n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    listing = ", ".join(ids)
    prefix = f"unknown check {check_id!r}; "
    return prefix + (
        f"{hint} (the checks are: {listing})" if hint else f"the checks are: {listing}"
    )
