"""Findings as data and their three renderings: the text table, the JSON report and JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from connect_harness.checks.findings import (
    CATALOGUE,
    CheckResult,
    Finding,
    check_ids,
    check_spec,
    validate_check_ids,
)
from connect_harness.checks.report import overall_status, render_table, to_json, write_junit
from connect_harness.errors import UsageError

ISSUE_ORDER = [
    "accepts-valid-events",
    "rejects-missing-signature",
    "rejects-malformed-signature",
    "rejects-wrong-secret",
    "rejects-tampered-body",
    "rejects-stale-timestamp",
    "rejects-v0-only",
    "accepts-rotated-secret",
    "verifies-raw-body",
    "rejects-invalid-json",
    "acknowledges-unknown-events",
    "idempotent-redelivery",
    # issue 9: over time and under failure
    "order-independent",
    "after-deauthorization",
    "survives-api-errors",
    "retries",
    "uses-connected-account-context",
    "separates-livemode",
    "no-redirects",
    "no-server-errors",
    "responds-in-time",
    "stays-alive",
    "never-logs-secrets",
]

REPRO = (
    "connect-harness sign customer.created --account acct_1 --seed 7 "
    "--secret \"$STRIPE_WEBHOOK_SECRET\" --url 'http://127.0.0.1:4242/webhook' --format curl"
)


def _fail(
    check: str = "rejects-tampered-body", reason: str = "accepted a tampered body"
) -> Finding:
    return Finding(
        check=check,
        status="fail",
        reason=reason,
        event_type="customer.created",
        permutation="connect-test",
        variant="tampered-body",
        expected="400 (any 4xx passes)",
        actual="200",
        reproduce=REPRO,
    )


def _results() -> list[CheckResult]:
    return [
        CheckResult(
            "accepts-valid-events",
            "Accepts valid events",
            (Finding("accepts-valid-events", "pass", "ok", event_type="account.updated"),),
        ),
        CheckResult(
            "rejects-tampered-body",
            "Rejects a tampered body",
            (_fail(), _fail(reason="second"), Finding("rejects-tampered-body", "pass", "ok")),
        ),
        CheckResult(
            "idempotent-redelivery",
            "Idempotent on redelivery",
            (Finding("idempotent-redelivery", "skip", "no mutating API calls observed"),),
        ),
    ]


def test_catalogue_has_the_issue_ids_in_order() -> None:
    assert [spec.id for spec in CATALOGUE] == ISSUE_ORDER
    assert check_ids() == tuple(ISSUE_ORDER)
    assert all(spec.title and spec.description for spec in CATALOGUE)


def test_unknown_check_id_names_the_closest() -> None:
    with pytest.raises(
        UsageError, match="unknown check 'rejects-tampered'; did you mean 'rejects-tampered-body'"
    ):
        check_spec("rejects-tampered")
    with pytest.raises(UsageError, match="the checks are: accepts-valid-events, "):
        check_spec("zzz")


def test_validate_check_ids_keeps_catalogue_order_without_repeats() -> None:
    assert validate_check_ids(["no-redirects", "accepts-valid-events", "no-redirects"]) == (
        "accepts-valid-events",
        "no-redirects",
    )


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ((), "skip"),
        (("skip",), "skip"),
        (("pass", "skip"), "pass"),
        (("pass", "fail", "skip"), "fail"),
    ],
)
def test_check_result_status(statuses: tuple[str, ...], expected: str) -> None:
    findings = tuple(Finding("no-redirects", s, "r") for s in statuses)  # type: ignore[arg-type]
    result = CheckResult("no-redirects", "No redirects", findings)
    assert result.status == expected
    assert sum(result.counts().values()) == len(statuses)


def test_finding_to_json_has_every_field() -> None:
    assert _fail().to_json() == {
        "check": "rejects-tampered-body",
        "status": "fail",
        "reason": "accepted a tampered body",
        "event_type": "customer.created",
        "permutation": "connect-test",
        "variant": "tampered-body",
        "expected": "400 (any 4xx passes)",
        "actual": "200",
        "reproduce": REPRO,
    }


def test_table_lists_counts_and_one_example_per_failing_check() -> None:
    table = render_table(_results())
    lines = table.splitlines()
    assert lines[0].split() == ["check", "status", "pass", "fail", "skip"]
    assert lines[1].split() == ["accepts-valid-events", "PASS", "1", "0", "0"]
    assert lines[2].split() == ["rejects-tampered-body", "FAIL", "1", "2", "0"]
    assert lines[3].split() == ["idempotent-redelivery", "SKIP", "0", "0", "1"]
    assert "3 checks: 1 passed, 1 failed, 1 skipped" in table
    assert "SKIP idempotent-redelivery: no mutating API calls observed" in table
    assert (
        "FAIL rejects-tampered-body: Rejects a tampered body (2 failing findings; first shown)"
        in table
    )
    assert "  event:     customer.created (connect-test)" in table
    assert "  expected:  400 (any 4xx passes)" in table
    assert "  actual:    200" in table
    assert "  reason:    accepted a tampered body" in table
    assert f"  reproduce: {REPRO}" in table
    assert "second" not in table


def test_json_report_shape() -> None:
    report = to_json(
        _results(), meta={"deliveries": 12, "seed": 7, "target": "x", "status": "ignored"}
    )
    assert report["summary"] == {
        "status": "fail",
        "checks": 3,
        "passed": 1,
        "failed": 1,
        "skipped": 1,
        "deliveries": 12,
        "seed": 7,
        "target": "x",
    }
    assert [c["id"] for c in report["checks"]] == [
        "accepts-valid-events",
        "rejects-tampered-body",
        "idempotent-redelivery",
    ]
    tampered = report["checks"][1]
    assert tampered["status"] == "fail"
    assert tampered["title"] == "Rejects a tampered body"
    assert tampered["findings"][0]["reproduce"] == REPRO
    json.dumps(report)


def test_overall_status() -> None:
    assert overall_status(_results()) == "fail"
    assert overall_status(_results()[::2]) == "pass"
    assert overall_status(_results()[2:]) == "skip"


def test_junit_xml_has_one_testcase_per_check(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    write_junit(_results(), path)
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.attrib["tests"] == "3"
    assert suite.attrib["failures"] == "1"
    assert suite.attrib["skipped"] == "1"
    cases = {case.attrib["name"]: case for case in suite.findall("testcase")}
    assert list(cases) == ["accepts-valid-events", "rejects-tampered-body", "idempotent-redelivery"]
    assert list(cases["accepts-valid-events"]) == []
    failure = cases["rejects-tampered-body"].find("failure")
    assert failure is not None
    assert failure.attrib["message"] == "accepted a tampered body"
    assert failure.text is not None and REPRO in failure.text
    skipped = cases["idempotent-redelivery"].find("skipped")
    assert skipped is not None
    assert skipped.attrib["message"] == "no mutating API calls observed"
