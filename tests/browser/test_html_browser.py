"""The HTML report in a real browser (Debian's Chromium under Selenium): it opens without console
errors, its matrix has a cell per event type x permutation x check, a filter hides what it should,
and a finding's copy button puts on the clipboard exactly the command the text report printed.

Skips when Chromium, its driver or selenium is absent; in CI (``CI=true``) that is a failure, since
.ci/run installs them.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from browser.chromium import chromium, missing
from connect_harness.cli import main
from endpoints.core import TEST_SECRET

BROKEN = "endpoints.flask_endpoint:create_app(bug='first-v1-only')"
EVENTS = "payment_intent.succeeded,account.updated"

pytestmark = pytest.mark.exhaustive  # the same page on every Python: once, on py311


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    why = missing()
    if why:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must test the HTML report in a browser, but {why}")
        pytest.skip(why)
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A verify run of an endpoint with one bug, with --html: the page and the text report."""
    path = tmp_path_factory.mktemp("html") / "report.html"
    argv = [
        "verify", "--app", BROKEN, "--secret", TEST_SECRET, "--events", EVENTS, "--seed", "4",
        "--html", str(path),
    ]  # fmt: skip
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 1
    return path, out.getvalue()


def opened(driver: Any, path: Path) -> Any:
    driver.get(path.as_uri())
    assert driver.execute_script("return document.body.getAttribute('data-ready')")
    return driver


def visible(driver: Any, css: str) -> list[Any]:
    return [node for node in driver.find_elements("css selector", css) if node.is_displayed()]


def test_the_page_opens_without_console_errors(driver: Any, page: tuple[Path, str]) -> None:
    opened(driver, page[0])
    assert driver.get_log("browser") == []
    assert driver.find_element("id", "overall").text == "FAIL"


def test_the_matrix_has_a_cell_per_type_permutation_and_check(
    driver: Any, page: tuple[Path, str]
) -> None:
    opened(driver, page[0])
    data = driver.execute_script(
        "return JSON.parse(document.getElementById('report-data').textContent)"
    )
    rows, columns = data["matrix"]["rows"], data["matrix"]["columns"]
    assert len(columns) == 23 and rows
    cells = driver.find_elements("css selector", "#matrix tbody td.cell")
    assert len(cells) == len(rows) * len(columns)
    # Each observed (type, permutation, check) is coloured by its findings; the rest say "none".
    outcomes = [cell.get_attribute("data-outcome") for cell in cells]
    assert outcomes.count("fail") == 1
    assert {"pass", "none"} <= set(outcomes)


def test_filters_hide_what_they_should(driver: Any, page: tuple[Path, str]) -> None:
    from selenium.webdriver.support.ui import Select

    opened(driver, page[0])
    everything = visible(driver, "#findings .finding")
    Select(driver.find_element("id", "filter-outcome")).select_by_value("fail")
    failing = visible(driver, "#findings .finding")
    assert len(failing) == 1 < len(everything)
    assert failing[0].get_attribute("data-check") == "accepts-rotated-secret"
    # Matrix rows with no failing cell are hidden too.
    rows = visible(driver, "#matrix tbody tr")
    assert len(rows) == 1 and rows[0].get_attribute("data-type") == "customer.created"
    Select(driver.find_element("id", "filter-outcome")).select_by_value("")
    assert visible(driver, "#findings .finding")[0].get_attribute("data-status") == "fail"
    Select(driver.find_element("id", "filter-check")).select_by_value("no-redirects")
    shown = visible(driver, "#findings .finding")
    assert shown and {node.get_attribute("data-check") for node in shown} == {"no-redirects"}
    assert [th.text for th in visible(driver, "#matrix thead th[data-check]")] == ["no-redirects"]
    driver.find_element("id", "filter-clear").click()
    assert len(visible(driver, "#findings .finding")) == len(everything)


def test_clicking_a_cell_lists_its_findings(driver: Any, page: tuple[Path, str]) -> None:
    opened(driver, page[0])
    everything = len(visible(driver, "#findings .finding"))
    [cell] = driver.find_elements("css selector", "#matrix td[data-outcome=fail]")
    cell.click()
    shown = visible(driver, "#findings .finding")
    # Its two findings (rotated-old-first failed, rotated-new-first passed), the failure first.
    assert [(n.get_attribute("data-check"), n.get_attribute("data-status")) for n in shown] == [
        ("accepts-rotated-secret", "fail"),
        ("accepts-rotated-secret", "pass"),
    ]
    cell.click()  # again: everything
    assert len(visible(driver, "#findings .finding")) == everything


def test_a_5000_delivery_page_opens_and_lists_200_findings_at_a_time(
    driver: Any, tmp_path: Path
) -> None:
    from connect_harness.checks.html_report import write_html
    from test_html_report import five_thousand

    results, records = five_thousand()
    path = tmp_path / "large.html"
    write_html(path, results, records=records)
    opened(driver, path)
    assert driver.get_log("browser") == []
    assert len(driver.find_elements("css selector", "#findings .finding")) == 200
    assert len(driver.find_elements("css selector", "#matrix tbody td.cell")) == 500 * 10
    more = driver.find_element("id", "more")
    assert more.text == "show more (4800 left)"
    more.click()
    assert len(driver.find_elements("css selector", "#findings .finding")) == 400


def test_what_the_endpoint_sent_is_shown_as_text_and_never_runs(
    driver: Any, tmp_path: Path
) -> None:
    from connect_harness.checks.findings import CheckResult, Finding
    from connect_harness.checks.html_report import write_html
    from test_html_report import record

    attack = '</script><script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
    finding = Finding(
        check="no-server-errors",
        status="fail",
        reason="answered 500",
        event_type="account.updated",
        permutation="connect-live",
        actual=attack,
        reproduce=record(1).reproduce,
    )
    path = tmp_path / "hostile.html"
    write_html(
        path,
        [CheckResult("no-server-errors", "No server errors", (finding,))],
        records=[replace(record(1, answer=attack.encode()), check="no-server-errors")],
    )
    opened(driver, path)
    assert driver.execute_script("return window.pwned === undefined")
    assert driver.find_element("css selector", ".finding dd.actual").text == attack
    driver.find_element("css selector", ".finding details summary").click()
    assert attack in driver.find_element("css selector", ".finding pre.response").text
    assert driver.get_log("browser") == []


def test_copy_puts_the_text_reports_reproduction_on_the_clipboard(
    driver: Any, page: tuple[Path, str]
) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    path, text = page
    printed = re.search(r"^  reproduce: (.*)$", text, re.M)
    assert printed
    opened(driver, path)
    driver.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": "file://", "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    [button] = visible(driver, ".finding.fail button.copy")
    button.click()
    # The clipboard is written asynchronously; the button says so when it is done.
    WebDriverWait(driver, 10).until(lambda _: button.text == "copied")
    copied = driver.execute_async_script(
        "var done = arguments[0]; navigator.clipboard.readText().then(done, function (e) "
        "{ done('clipboard: ' + e); });"
    )
    assert copied == printed.group(1)
    assert driver.get_log("browser") == []


def test_without_chromium_it_skips_saying_why_but_fails_in_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECT_HARNESS_CHROMIUM", str(pytester.path / "no-chromium"))
    pytester.makepyfile(
        test_one="""
        from browser.test_html_browser import driver

        def test_it(driver):
            pass
        """
    )
    monkeypatch.delenv("CI", raising=False)
    local = pytester.runpytest_inprocess("-rs")
    local.assert_outcomes(skipped=1)
    local.stdout.fnmatch_lines(["*no-chromium not found: install Debian's chromium*"])
    monkeypatch.setenv("CI", "true")
    ci = pytester.runpytest_inprocess()
    ci.assert_outcomes(errors=1)
    ci.stdout.fnmatch_lines(["*CI must test the HTML report in a browser, but *no-chromium*"])
