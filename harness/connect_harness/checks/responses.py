"""Checks judged over every delivery of the run: no redirects, no server errors, answers in time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from connect_harness.checks.common import describe_response, short
from connect_harness.checks.findings import (
    Finding,
)
from connect_harness.checks.stopping import sent

if TYPE_CHECKING:
    from connect_harness.checks.interface import CheckRun
    from connect_harness.checks.records import DeliveryRecord


def _over_all_deliveries(
    check: str,
    bad: Callable[[DeliveryRecord], str | None],
    expected: str,
    summary: str,
) -> Callable[[CheckRun], Iterator[Finding]]:
    def run_check(run: CheckRun) -> Iterator[Finding]:
        records = sent(run.records)  # a stopped run's unsent deliveries were not made
        failing = 0
        for record in records:
            reason = bad(record)
            if reason is None:
                continue
            failing += 1
            yield Finding(
                check=check,
                status="fail",
                reason=f"{reason} (delivered by {record.check})",
                event_type=record.event_type,
                permutation=record.permutation,
                variant=record.variant,
                expected=expected,
                actual=describe_response(record.response)
                + f" after {record.response.elapsed:.3f} s",
                reproduce=record.reproduce,
            )
        if not records:
            yield Finding(check=check, status="skip", reason="no deliveries were made")
        elif failing == 0:
            yield Finding(
                check=check,
                status="pass",
                reason=summary.format(n=len(records)),
                expected=expected,
                actual="as expected",
            )

    run_check.__name__ = f"check_{check.replace('-', '_')}"
    return run_check


def _redirected(record: DeliveryRecord) -> str | None:
    status = record.response.status
    if 300 <= status < 400:
        location = record.response.header("Location")
        where = f" to {location}" if location else ""
        return (
            f"answered {status}{where}; Stripe never follows redirects, so every such delivery "
            "fails: serve the exact URL registered with Stripe"
        )
    return None


def _server_error(record: DeliveryRecord) -> str | None:
    if record.response.status >= 500:
        return (
            f"answered {record.response.status}; a 5xx makes Stripe retry for days and then "
            "disable the endpoint"
        )
    return None


def _too_slow(limit: float) -> Callable[[DeliveryRecord], str | None]:
    def judge(record: DeliveryRecord) -> str | None:
        response = record.response
        if response.status == 0 and (response.error or "").startswith("timed out"):
            return f"did not answer before the {response.error}; return 2xx before slow work"
        if response.elapsed > limit:
            return (
                f"took {response.elapsed:.3f} s, more than {limit:g} s; acknowledge first and do "
                "slow work afterwards, or Stripe times out and delivers again"
            )
        return None

    return judge


def check_no_redirects(run: CheckRun) -> Iterator[Finding]:
    return _over_all_deliveries(
        "no-redirects", _redirected, "no 3xx", "none of {n} deliveries was redirected"
    )(run)


def check_no_server_errors(run: CheckRun) -> Iterator[Finding]:
    """Each distinct failure (status and error) once, with how many deliveries got it.

    A 5xx while the fake Stripe API failed on purpose (survives-api-errors' event and probe, the
    failing attempts of retries) is the right answer: Stripe retries it, so it is not counted.
    """
    check = "no-server-errors"
    records = [r for r in sent(run.records) if not under_api_fault(r)]
    groups: dict[tuple[int, str], list[DeliveryRecord]] = {}
    for record in records:
        if _server_error(record) is not None:
            key = (record.response.status, short(record.response.error or "", 120))
            groups.setdefault(key, []).append(record)
    for group in groups.values():
        first = group[0]
        count = f"{len(group)} deliveries" if len(group) > 1 else "1 delivery"
        yield Finding(
            check=check,
            status="fail",
            reason=f"{_server_error(first)} ({count}; first delivered by {first.check})",
            event_type=first.event_type,
            permutation=first.permutation,
            variant=first.variant,
            expected="no 5xx",
            actual=describe_response(first.response) + f" after {first.response.elapsed:.3f} s",
            reproduce=first.reproduce,
        )
    if not records:
        yield Finding(check=check, status="skip", reason="no deliveries were made")
    elif not groups:
        yield Finding(
            check=check,
            status="pass",
            reason=f"none of {len(records)} deliveries got a 5xx",
            expected="no 5xx",
            actual="as expected",
        )


def under_api_fault(record: DeliveryRecord) -> bool:
    variant = record.variant or ""
    faulting = record.check in {"survives-api-errors", "retries"}
    return faulting and variant.startswith(("during ", "probe after "))


def check_responds_in_time(run: CheckRun) -> Iterator[Finding]:
    limit = run.config.max_response_time
    return _over_all_deliveries(
        "responds-in-time",
        _too_slow(limit),
        f"an answer within {limit:g} s",
        f"all {{n}} deliveries were answered within {limit:g} s",
    )(run)
