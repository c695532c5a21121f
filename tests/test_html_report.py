"""The HTML report (``verify --html``, ``--connect-html``): one self-contained page built from the
same records as the JSON report, safe with whatever the endpoint sent, small on large runs.

The page in a real browser (console, matrix, filters, copying a reproduction) is tested in
tests/browser/test_html_browser.py."""

from __future__ import annotations

import html.parser
import json
import os
import re
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from connect_harness.checks.findings import CheckResult, Finding
from connect_harness.checks.grouping import Headline
from connect_harness.checks.html_report import (
    CELL_OUTCOMES,
    MAX_BODY,
    MAX_DETAILED,
    MAX_HEADERS,
    html_page,
    matrix,
    page_data,
    write_html,
)
from connect_harness.checks.records import DeliveryRecord
from connect_harness.cli import main
from connect_harness.delivery import Response
from connect_harness.errors import UsageError
from connect_harness.stripe_api.calls import ApiCall
from connect_harness.wire.request import DeliveryRequest
from endpoints.core import TEST_SECRET

ROOT = Path(__file__).resolve().parents[1]
BROKEN = "endpoints.flask_endpoint:create_app(bug='first-v1-only')"
EVENTS = "payment_intent.succeeded,account.updated"
HOSTILE = "</script><script>alert(1)</script><!-- \x00\x1b[31m & sk_test_abcdef123 \u2028"


def embedded(page: str) -> dict[str, Any]:
    """The data block of a page, as its script reads it."""
    match = re.search(
        r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S
    )
    assert match, "the page has its data block"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def findings_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    strings, fields = data["strings"], data["fields"]
    return [
        {name: (strings[row[k]] if row[k] >= 0 else None) for k, name in enumerate(fields)}
        | {"deliveries": row[len(fields) :]}
        for row in data["findings"]
    ]


def record(
    n: int, *, check: str = "accepts-valid-events", body: bytes = b"{}", answer: bytes = b"ok"
) -> DeliveryRecord:
    return DeliveryRecord(
        check=check,
        label=f"{check}#{n}",
        request=DeliveryRequest(
            method="POST",
            url="http://127.0.0.1:4242/webhook",
            headers=(("Stripe-Signature", f"t=1,v1={n:064x}"),),
            body=body,
        ),
        response=Response(status=500, headers=(("X-Echo", HOSTILE),), body=answer, elapsed=0.01),
        event_type="account.updated",
        permutation="connect-live",
        variant=None,
        account="acct_1HarnessConnect0",
        livemode=True,
        reproduce=f"connect-harness sign account.updated --seed {n} --format curl",
        calls=(
            ApiCall(
                method="GET",
                path="/v1/accounts/acct_1HarnessConnect0",
                query={},
                stripe_account="acct_1HarnessConnect0",
                idempotency_key=None,
                key_mode="live",
                object_id="acct_1HarnessConnect0",
                object_type="account",
                object_owner=None,
                object_livemode=None,
                status=200,
                delivery=f"{check}#{n}",
                mutating=False,
                at=0.0,
            ),
        ),
        sequence=n,
        started=float(n),
        finished=float(n) + 0.01,
    )


def finding(n: int, status: str = "fail", **fields: Any) -> Finding:
    values: dict[str, Any] = {
        "check": "accepts-valid-events",
        "status": status,
        "reason": "answered 500",
        "event_type": "account.updated",
        "permutation": "connect-live",
        "expected": "2xx",
        "actual": "500",
        "reproduce": f"connect-harness sign account.updated --seed {n} --format curl",
    }
    values.update(fields)
    return Finding(**values)


class Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_what_the_endpoint_sent_stays_data_in_the_page() -> None:
    result = CheckResult(
        "accepts-valid-events",
        "Accepts valid events",
        (finding(1, actual=HOSTILE, reason=HOSTILE),),
    )
    page = html_page(
        [result],
        meta={"seed": 7, "target": HOSTILE},
        headlines=[Headline("refused-type", HOSTILE, "account.updated")],
        records=[record(1, answer=HOSTILE.encode() * 3)],
    )
    # Two scripts (the data and the code) and nothing the endpoint sent became markup.
    parser = Tags()
    parser.feed(page)
    assert [tag for tag, _ in parser.tags].count("script") == 2
    assert page.count("</script>") == 2
    assert "<!--" not in page
    assert "sk_test_abcdef123" not in page  # an echoed key is masked, as in the JSON report
    assert "\x00" not in page and "\x1b" not in page and "\u2028" not in page
    # ... and it all reaches the script intact, control characters spelled out.
    data = embedded(page)
    [shown] = findings_of(data)
    assert shown["actual"].startswith("</script><script>alert(1)</script><!-- \\x00\\x1b[31m & ")
    assert "sk_test_****" in shown["actual"]
    assert data["headlines"][0]["text"].startswith("</script>")
    [delivery] = data["deliveries"]
    assert delivery["response"]["headers"][0][1].startswith("</script>")
    assert delivery["calls"][0]["path"] == "/v1/accounts/acct_1HarnessConnect0"


def test_no_network_resource_and_a_policy_that_forbids_one() -> None:
    page = html_page([CheckResult("no-redirects", "No redirects", (finding(1, status="pass"),))])
    parser = Tags()
    parser.feed(page)
    for tag, attrs in parser.tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            assert value is None or value.startswith("data:"), (tag, attrs)
    [policy] = [a for t, a in parser.tags if a.get("http-equiv") == "Content-Security-Policy"]
    assert "default-src 'none'" in (policy["content"] or "")
    assert "http://" not in page.split("<script")[0] and "https://" not in page


def test_the_reproduction_is_the_exact_string_even_with_a_made_up_secret() -> None:
    # accepts-rotated-secret's command names a made-up old secret: masking it would break the copy.
    command = (
        "connect-harness sign customer.created --seed 270 --secret whsec_rotated_out_old_secret "
        '--secret "$STRIPE_WEBHOOK_SECRET" --format curl'
    )
    result = CheckResult("accepts-rotated-secret", "t", (finding(1, reproduce=command),))
    [shown] = findings_of(page_data([result]))
    assert shown["reproduce"] == command


def test_findings_link_to_their_deliveries_and_bodies_are_cut() -> None:
    records = [record(1, body=b"x" * (MAX_BODY + 10)), record(2)]
    results = [
        CheckResult(
            "accepts-valid-events",
            "Accepts valid events",
            (finding(1), finding(2, status="pass"), finding(3, reproduce=None)),
        )
    ]
    # A run-wide check's finding shows the delivery another check made of its command.
    results.append(CheckResult("no-server-errors", "n", (finding(2, check="no-server-errors"),)))
    data = page_data(results, records=records)
    shown = findings_of(data)
    assert [len(f["deliveries"]) for f in shown] == [1, 1, 0, 1]
    assert shown[3]["deliveries"] == shown[1]["deliveries"]
    first = data["deliveries"][shown[0]["deliveries"][0]]
    assert first["label"] == "accepts-valid-events#1"
    assert first["request"]["body"] == {"text": "x" * MAX_BODY, "size": MAX_BODY + 10, "cut": True}
    assert first["response"]["status"] == 500
    assert data["matrix"] == {
        "rows": [["account.updated", "connect-live"]],
        "columns": ["accepts-valid-events", "no-server-errors"],
        "cells": ["FF"],
    }
    assert data["meta"]["duration_s"] == pytest.approx(1.01)


def test_matrix_cells_are_coloured_only_by_the_findings_about_them() -> None:
    sent = [
        replace(record(n, check=check), event_type=event_type, permutation=permutation)
        for n, (check, event_type, permutation) in enumerate(
            [
                ("accepts-valid-events", "account.updated", "connect-live"),
                ("accepts-valid-events", "account.updated", "platform-live"),
                ("accepts-valid-events", "payout.paid", "connect-live"),
                ("no-server-errors", "payout.paid", "connect-live"),
                ("idempotent-redelivery", "payout.paid", "connect-live"),
            ]
        )
    ]
    results = [
        # One finding per type, about all its permutations (as accepts-valid-events writes them).
        CheckResult(
            "accepts-valid-events",
            "a",
            (
                finding(1, event_type="account.updated", permutation=None),
                finding(2, status="pass", event_type="payout.paid", permutation=None),
            ),
        ),
        # A run-wide finding: the cells it judged are "sent", not pinned as failures.
        CheckResult("no-server-errors", "n", (finding(3, event_type=None, permutation=None),)),
        # A passing check with no finding about the cell: the cell passed with the check.
        CheckResult("idempotent-redelivery", "i", (finding(4, status="pass", event_type=None),)),
    ]
    rows, cells = matrix(results, sent)
    assert rows == [
        ("account.updated", "connect-live"),
        ("account.updated", "platform-live"),
        ("payout.paid", "connect-live"),
    ]
    assert cells == ["F--", "F--", "PsP"]
    assert CELL_OUTCOMES["s"] == "sent" and CELL_OUTCOMES["-"] == "none"


def five_thousand() -> tuple[list[CheckResult], list[DeliveryRecord]]:
    """A run of 5,000 deliveries: 125 types x 4 permutations x 10 checks, every 7th failing."""
    types = [f"type{n}.updated" for n in range(125)]
    permutations = ["connect-live", "connect-test", "platform-live", "platform-test"]
    checks = [f"check-{n}" for n in range(10)]
    records: list[DeliveryRecord] = []
    results: list[CheckResult] = []
    body = json.dumps({"id": "evt_x", "data": {"object": {"k": "v" * 3000}}}).encode()
    for c, check in enumerate(checks):
        found = []
        for n in range(500):
            k = c * 500 + n
            event_type, permutation = types[n % 125], permutations[n // 125]
            found.append(
                finding(
                    k,
                    check=check,
                    status="fail" if n % 7 == 0 else "pass",
                    event_type=event_type,
                    permutation=permutation,
                    reason=f"answered 500 to {event_type}",
                )
            )
            records.append(
                replace(
                    record(k, check=check, body=body, answer=body),
                    event_type=event_type,
                    permutation=permutation,
                )
            )
        results.append(CheckResult(check, check, tuple(found)))
    return results, records


def test_5000_deliveries_stay_under_5_mb() -> None:
    results, records = five_thousand()
    assert len(records) == 5000
    page = html_page(results, records=records)
    assert len(page.encode()) < 5_000_000
    data = embedded(page)
    assert len(data["findings"]) == 5000
    assert len(data["matrix"]["rows"]) * len(data["matrix"]["columns"]) == 500 * 10


def test_write_is_atomic_and_an_unwritable_path_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text("old")
    write_html(path, [CheckResult("no-redirects", "No redirects", (finding(1),))])
    assert path.read_text().startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left
    with pytest.raises(UsageError, match=r"cannot write --html '.*missing/r\.html': .*writable"):
        write_html(tmp_path / "missing" / "r.html", [])


def test_verify_html_writes_the_page_and_names_it_last(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page, report = tmp_path / "report.html", tmp_path / "report.json"
    argv = [
        "verify", "--app", BROKEN, "--secret", TEST_SECRET, "--events", EVENTS, "--seed", "4",
        "--html", str(page), "--report", str(report),
    ]  # fmt: skip
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert out.rstrip("\n").splitlines()[-1] == f"HTML report: {page}"
    data = embedded(page.read_text())
    json_report = json.loads(report.read_text())
    # The page holds what the JSON report holds: every check, every finding, the run's meta.
    assert [c["id"] for c in data["checks"]] == [c["id"] for c in json_report["checks"]]
    assert [(f["check"], f["status"], f["reproduce"]) for f in findings_of(data)] == [
        (f["check"], f["status"], f["reproduce"])
        for check in json_report["checks"]
        for f in check["findings"]
    ]
    assert data["meta"]["seed"] == 4 and data["meta"]["api_version"]
    assert data["summary"]["failed"] == 1
    # The command the text report prints is the one the page's copy button holds.
    printed = re.search(r"^  reproduce: (.*)$", out, re.M)
    assert printed
    [failing] = [f for f in findings_of(data) if f["status"] == "fail"]
    assert failing["reproduce"] == printed.group(1)
    assert failing["deliveries"], "the failing finding shows its request and answer"
    delivery = data["deliveries"][failing["deliveries"][0]]
    assert delivery["request"]["method"] == "POST" and delivery["response"]["status"] == 400
    assert TEST_SECRET not in page.read_text()


def test_verify_html_to_a_bad_path_is_exit_2_before_any_delivery(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "nowhere" / "r.html"
    argv = ["verify", "--app", BROKEN, "--secret", TEST_SECRET, "--html", str(bad)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        f"connect-harness: error: cannot write --html '{bad}': '{bad.parent}' is not a writable "
        "directory; give a writable path"
    ]
    assert "connect-harness verify:" not in captured.out  # nothing was sent


APP = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b"{}"]
"""


def test_plugin_connect_html_writes_the_page_and_names_it(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytester.makepyfile(lax_app=APP)
    pytester.syspathinsert()
    pytester.makepyfile(test_contract_suite="from connect_harness.suite import *\n")
    page = tmp_path / "contract.html"
    result = pytester.runpytest(
        "-p", "connect_harness", "--connect-app", "lax_app:app", "--connect-secret", TEST_SECRET,
        "--connect-events", "payout.failed", "-k", "rejects-wrong or accepts-valid",
        f"--connect-html={page}",
    )  # fmt: skip
    # The app never verifies a signature: it accepts what it should refuse.
    result.assert_outcomes(
        passed=1, failed=1, deselected=27
    )  # 21 by -k, 6 thin tests by the snapshot payload
    result.stdout.fnmatch_lines([f"connect_harness: HTML report: {page}"])
    data = embedded(page.read_text())
    statuses = {c["id"]: c["status"] for c in data["checks"]}
    assert statuses == {"accepts-valid-events": "pass", "rejects-wrong-secret": "fail"}
    [failing] = [f for f in findings_of(data) if f["status"] == "fail"]
    assert failing["reproduce"] and "--format curl" in failing["reproduce"]
    assert failing["reproduce"] in result.stdout.str()
    assert data["deliveries"][failing["deliveries"][0]]["response"]["status"] == 200


def test_plugin_connect_html_under_xdist_is_the_whole_run_and_named_once(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(lax_app=APP)
    pytester.makepyfile(test_contract_suite="from connect_harness.suite import *\n")
    monkeypatch.setenv("PYTHONPATH", str(pytester.path), prepend=os.pathsep)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # when this suite runs under xdist
    page = tmp_path / "contract.html"
    result = pytester.runpytest_subprocess(
        "-p", "connect_harness", "--connect-app", "lax_app:app", "--connect-secret", TEST_SECRET,
        "--connect-events", "payout.failed", "-k", "rejects-wrong or accepts-valid", "-n", "2",
        f"--connect-html={page}",
    )  # fmt: skip
    result.assert_outcomes(passed=1, failed=1)
    assert result.stdout.str().count(f"connect_harness: HTML report: {page}") == 1
    statuses = {c["id"]: c["status"] for c in embedded(page.read_text())["checks"]}
    assert statuses == {"accepts-valid-events": "pass", "rejects-wrong-secret": "fail"}
    assert [p.name for p in tmp_path.iterdir()] == ["contract.html"]


@pytest.mark.exhaustive
def test_the_wheel_ships_the_page_template_style_and_script(tmp_path: Path) -> None:
    builders = pytest.importorskip("hatchling.builders.wheel", reason="hatchling builds the wheel")
    if not (ROOT / "pyproject.toml").is_file():
        pytest.skip("not run from a source checkout")
    [path] = builders.WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"])
    names = set(zipfile.ZipFile(path).namelist())
    assert {
        f"connect_harness/checks/html_assets/report.{ext}" for ext in ("html", "css", "js")
    } <= names


def test_the_docs_figures_are_the_codes() -> None:
    doc = ROOT / "docs" / "report.md"
    if not doc.is_file():
        pytest.skip("not run from a source checkout")
    text = " ".join(doc.read_text().split())
    assert f"the first {MAX_DETAILED} of them" in text
    assert f"cut to {MAX_BODY:,} characters" in text
    assert f"and {MAX_HEADERS} headers" in text
    script = (ROOT / "harness/connect_harness/checks/html_assets/report.js").read_text()
    [page] = re.findall(r"var PAGE = (\d+);", script)
    assert f"failing first, {page} at a time" in text
    assert (ROOT / "docs" / "report.png").stat().st_size < 300_000  # a small screenshot
