"""Issue 19: documented plugin features as a new team meets them on first use.

Each test goes through the door a user uses (pytester runs of ``pytest -p connect_harness``) and
fails on the tree before the fix it names.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest
import stripe  # noqa: F401  (imported once here: pytester drops modules first imported in an inline run)

from connect_harness.checks.findings import CATALOGUE
from connect_harness.checks.thin import THIN_CATALOGUE
from connect_harness.spec.contracts import api_version
from endpoints.serving import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_first_use_secret"


def test_connect_serve_starts_the_endpoint_before_its_url_is_checked(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    # Before: 23 errors "nothing answers at ... start the endpoint's server first", because the URL
    # was checked before the command was launched.
    port = free_port()
    command = (
        f"cd {shlex.quote(str(ROOT))} && SAMPLE_APP_DB={shlex.quote(str(tmp_path / 'db.sqlite3'))} "
        f"exec {shlex.quote(sys.executable)} -m sample_app --port {port}"
    )
    result = pytester.runpytest_subprocess(
        "-p", "connect_harness", "--pyargs", "connect_harness.suite",
        "--connect-serve", command, "--connect-url", f"http://127.0.0.1:{port}/webhook",
        "--connect-secret", SECRET, "--connect-events", "customer.created",
        "-k", "rejects-missing-signature or stays-alive",
    )  # fmt: skip
    result.assert_outcomes(passed=2, deselected=len(CATALOGUE) + len(THIN_CATALOGUE) - 2)


def test_an_option_on_the_command_line_wins_over_the_other_endpoint_in_the_ini(
    pytester: pytest.Pytester,
) -> None:
    # Before: "give --connect-url or --connect-app, not both" for a --connect-url given on the
    # command line of a project whose ini names connect_app.
    pytester.makeini("[pytest]\nconnect_app = nowhere_app:app\n")
    pytester.makepyfile(
        test_x="def test_x(connect_settings):\n    assert connect_settings['app'] is None\n"
    )
    result = pytester.runpytest("-p", "connect_harness", "--connect-url", "http://127.0.0.1:9/hook")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["connect_harness: url=http://127.0.0.1:9/hook (--connect-url)*"])
    assert "app=" not in result.stdout.str()


def test_the_same_level_still_asks_for_one_endpoint(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(connect_target):\n    pass\n")
    result = pytester.runpytest(
        "-p", "connect_harness", "--connect-url", "http://127.0.0.1:9/hook",
        "--connect-app", "nowhere_app:app",
    )  # fmt: skip
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*give --connect-url or --connect-app, not both*"])


BROKEN_APP = """
def app(environ, start_response):
    environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b"{}"]
"""


def test_a_failed_check_prints_its_findings_once(pytester: pytest.Pytester) -> None:
    # Before: every failed check printed its findings twice, joined by "During handling of the
    # above exception, another exception occurred".
    pytester.makepyfile(accepts_all=BROKEN_APP)
    pytester.syspathinsert()
    result = pytester.runpytest(
        "-p", "connect_harness", "--pyargs", "connect_harness.suite",
        "--connect-app", "accepts_all:app", "--connect-secret", SECRET,
        "--connect-events", "customer.created", "-k", "rejects-missing-signature",
    )  # fmt: skip
    result.assert_outcomes(failed=1, deselected=len(CATALOGUE) + len(THIN_CATALOGUE) - 1)
    text = result.stdout.str()
    assert "During handling of the above exception" not in text
    # Under CI=true pytest prints the whole failure message in the short summary as well; the
    # report of the failure itself is what must say it once.
    report = text.split("short test summary info")[0]
    assert report.count("accepted a request without a Stripe-Signature header") == 1, text


REFUSES_ALL = """
def app(environ, start_response):
    environ["wsgi.input"].read()
    start_response("400 Bad Request", [("Content-Type", "application/json")])
    return [b'{"error": "bad signature"}']
"""


def test_a_root_cause_run_says_each_skip_reason_once(pytester: pytest.Pytester) -> None:
    # Before: "SKIP <check>: not judged: <the headline>" once per check, 19 lines of one reason;
    # and 6 of 29 collected tests vanished from the summary with no deselected count.
    pytester.makepyfile(refuses_all=REFUSES_ALL)
    pytester.syspathinsert()
    result = pytester.runpytest(
        "-p", "connect_harness", "--pyargs", "connect_harness.suite",
        "--connect-app", "refuses_all:app", "--connect-secret", SECRET,
        "--connect-events", "customer.created", "--connect-examples", "1",
    )  # fmt: skip
    outcomes = result.parseoutcomes()
    assert outcomes["deselected"] == len(THIN_CATALOGUE)
    assert sum(outcomes.values()) - outcomes["deselected"] == len(CATALOGUE)
    skips = [line for line in result.stdout.lines if line.startswith("SKIP ")]
    reasons = [line.partition(": ")[2] for line in skips]
    assert len(reasons) == len(set(reasons)), skips
    assert any(" checks (" in line for line in skips), skips


def test_the_ini_api_version_reaches_the_strategies(pytester: pytest.Pytester) -> None:
    # Before: strategies.events() drew events of the newest set whatever the run's API version.
    pytester.makeini("[pytest]\nconnect_api_version = 2023-08-16\n")
    pytester.makepyfile(
        test_drawn="""
        from hypothesis import given, settings

        from connect_harness.strategies import events


        @settings(max_examples=3, deadline=None, database=None)
        @given(event=events("invoice.paid"))
        def test_drawn_at_the_runs_version(event):
            assert event.payload["api_version"] == "2023-08-16"
            assert "subscription" in event.payload["data"]["object"]  # the pre-basil shape


        @settings(max_examples=2, deadline=None, database=None)
        @given(event=events("invoice.paid", api_version=None))
        def test_none_is_still_the_newest_set(event):
            assert event.payload["api_version"] == "NEWEST"
        """.replace("NEWEST", api_version())
    )
    result = pytester.runpytest("-p", "connect_harness")
    result.assert_outcomes(passed=2)


def test_build_thin_event_is_public() -> None:
    import connect_harness

    assert "build_thin_event" in connect_harness.__all__
    event = connect_harness.build_thin_event("v2.core.account.closed", account="acct_1FirstUse00")
    assert isinstance(event, connect_harness.ThinEvent) and event.context == "acct_1FirstUse00"


def test_connect_serve_under_xdist_launches_one_endpoint_for_every_worker(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    # One worker claims the launch; the others wait for its URL and use it (a second launch at the
    # same port would be refused: "something already listens").
    port = free_port()
    command = (
        f"cd {shlex.quote(str(ROOT))} && SAMPLE_APP_DB={shlex.quote(str(tmp_path / 'db.sqlite3'))} "
        f"exec {shlex.quote(sys.executable)} -m sample_app --port {port}"
    )
    pytester.makepyfile(
        test_mine="""
        import pytest

        @pytest.mark.parametrize("n", range(4))
        def test_acknowledged(connect_client, n):
            assert connect_client.send("customer.created").status == 200
        """
    )
    pytester.makepyfile(test_suite="from connect_harness.suite import *\n")
    result = pytester.runpytest_subprocess(
        "-p", "connect_harness", "-n", "2", "-p", "no:cacheprovider",
        "--connect-serve", command, "--connect-url", f"http://127.0.0.1:{port}/webhook",
        "--connect-secret", SECRET, "--connect-events", "customer.created",
        "-k", "test_acknowledged or rejects-missing-signature",
    )  # fmt: skip
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 5 and "error" not in outcomes and "failed" not in outcomes, (
        result.stdout.str()[-3000:]
    )


@pytest.mark.parametrize(
    ("option", "environ", "ini", "kept"),
    [
        ({}, {"CONNECT_HARNESS_URL": "http://127.0.0.1:9/a"}, {"connect_app": "m:app"}, "url"),
        ({}, {"CONNECT_HARNESS_APP": "m:app"}, {"connect_url": "http://127.0.0.1:9/a"}, "app"),
        ({"app": "m:app"}, {"CONNECT_HARNESS_URL": "http://127.0.0.1:9/a"}, {}, "app"),
        ({}, {}, {"connect_app": "m:app", "connect_url": "http://127.0.0.1:9/a"}, "both"),
    ],
)
def test_the_endpoint_follows_the_option_environment_ini_order(
    option: dict[str, str], environ: dict[str, str], ini: dict[str, str], kept: str
) -> None:
    from connect_harness.settings import resolve_settings

    settings = resolve_settings(
        option=lambda name: option.get(name), ini=lambda key: ini.get(key, ""), environ=environ
    )
    got = {name for name in ("url", "app") if settings[name]}
    assert got == ({"url", "app"} if kept == "both" else {kept})


def test_a_served_url_from_the_ini_goes_with_it_when_an_app_is_given() -> None:
    from connect_harness.settings import resolve_settings

    ini = {"connect_url": "http://127.0.0.1:9/a", "connect_serve": "node server.js"}
    settings = resolve_settings(
        option=lambda name: "m:app" if name == "app" else None,
        ini=lambda key: ini.get(key, ""),
        environ={},
    )
    assert (settings["app"], settings["url"], settings["serve"]) == ("m:app", None, None)
