"""``connect-harness verify`` through ``cli.main``: exit codes, the printed report, JSON and JUnit files."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe

from connect_harness.checks.findings import CATALOGUE
from connect_harness.cli import main
from endpoints import flask_endpoint
from endpoints.core import TEST_SECRET
from endpoints.serving import free_port, served

SECRET = TEST_SECRET
APP = "endpoints.flask_endpoint:create_app()"
EVENTS = "payment_intent.succeeded,account.updated"


def broken_app(bug: str) -> str:
    return f"endpoints.flask_endpoint:create_app(bug={bug!r})"


def verify(*args: str) -> list[str]:
    return ["verify", *args]


def test_passing_endpoint_exits_0_with_header_table_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    argv = verify(
        "--app", APP, "--secret", SECRET, "--events", EVENTS, "--seed", "4",
        "--report", str(report), "--junitxml", str(junit),
    )  # fmt: skip
    assert main(argv) == 0
    out, err = capsys.readouterr()
    header = out.splitlines()[0]
    assert header.startswith(
        "connect-harness verify: WSGI app endpoints.flask_endpoint:create_app("
    )
    assert "| endpoint type both | mode production | 2 event types | seed 4 |" in header
    assert re.search(r"\| fake Stripe API http://127\.0\.0\.1:\d+$", header)
    assert "23 checks: 21 passed, 0 failed, 2 skipped" in out
    # stays-alive and never-logs-secrets need --serve.
    assert "All checks that ran passed (seed 4); 2 skipped, listed above" in out
    assert SECRET not in out + err + report.read_text() + junit.read_text()

    data = json.loads(report.read_text())
    summary = data["summary"]
    assert summary["status"] == "pass"
    assert (summary["checks"], summary["passed"], summary["failed"], summary["skipped"]) == (
        23,
        21,
        0,
        2,
    )
    assert summary["seed"] == 4
    assert summary["endpoint_type"] == "both"
    assert summary["mode"] == "production"
    assert summary["deliveries"] > 40
    assert summary["target"].startswith("WSGI app endpoints.flask_endpoint:create_app(")
    assert [check["id"] for check in data["checks"]] == [spec.id for spec in CATALOGUE]
    assert all(set(check) >= {"id", "title", "status", "findings"} for check in data["checks"])

    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert suite.attrib["tests"] == "23"
    assert suite.attrib["failures"] == "0"


def test_failing_endpoint_exits_1_with_an_example_and_its_reproduction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    argv = verify(
        "--app", broken_app("format-only"), "--secret", SECRET, "--events", EVENTS, "--seed", "9",
        "--report", str(report), "--junitxml", str(junit),
    )  # fmt: skip
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert "23 checks: 19 passed, 2 failed, 2 skipped" in out
    assert "FAIL rejects-wrong-secret: Rejects the wrong secret" in out
    assert "FAIL rejects-tampered-body: Rejects a tampered body" in out
    reproductions = [line for line in out.splitlines() if line.startswith("  reproduce: ")]
    assert reproductions[0] == (
        "  reproduce: connect-harness sign customer.created --account acct_1HarnessConnect0 "
        "--seed 582 --secret whsec_not_this_endpoints_secret --url http://127.0.0.1:4242/webhook "
        "--format curl"
    )
    assert SECRET not in out + err + report.read_text() + junit.read_text()

    data = json.loads(report.read_text())
    assert data["summary"]["status"] == "fail"
    assert data["summary"]["failed"] == 2
    wrong = next(check for check in data["checks"] if check["id"] == "rejects-wrong-secret")
    assert wrong["status"] == "fail"
    assert wrong["findings"][0]["variant"] == "wrong-secret"
    assert wrong["findings"][0]["actual"] == "200"

    cases = {case.attrib["name"]: case for case in ET.parse(junit).getroot().iter("testcase")}
    failure = cases["rejects-wrong-secret"].find("failure")
    assert failure is not None
    assert (
        "accepted an event signed with a secret that is not the endpoint's"
        in failure.attrib["message"]
    )
    assert cases["accepts-valid-events"].find("failure") is None


def test_check_option_runs_only_those_checks(capsys: pytest.CaptureFixture[str]) -> None:
    argv = verify(
        "--app", APP, "--secret", SECRET, "--check", "rejects-v0-only", "--check", "rejects-invalid-json",
    )  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "2 checks: 2 passed, 0 failed, 0 skipped" in out
    assert "accepts-valid-events" not in out


def test_seed_is_random_and_printed_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    argv = verify("--app", APP, "--secret", SECRET, "--check", "rejects-v0-only")
    assert main(argv) == 0
    first = re.search(r"\| seed (\d+) \|", capsys.readouterr().out)
    assert main(argv) == 0
    second = re.search(r"\| seed (\d+) \|", capsys.readouterr().out)
    assert first and second
    assert (first.group(1), second.group(1)) != ("0", "0")


def test_secret_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    assert main(verify("--app", APP, "--check", "rejects-wrong-secret")) == 0
    assert SECRET not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "verify needs either a URL or --app MODULE:ATTR, not both or neither"),
        (("http://127.0.0.1:1/webhook", "--app", APP), "not both or neither"),
        (("--app", APP, "--events", "acount.updated"), "did you mean 'account.updated'"),
        (("--app", APP, "--events", " , "), "--events names no event type"),
        (
            ("--app", APP, "--check", "rejects-v0"),
            "unknown check 'rejects-v0'; did you mean 'rejects-v0-only'",
        ),
        (("https://example.com/webhook",), "refusing to deliver forged events"),
        (("--app", APP, "--max-response-time", "0"), "'0' must be more than 0 seconds"),
        (("--app", APP, "--timeout", "nan"), "'nan' must be more than 0 seconds"),
        (("--app", APP, "--api-version", "v2"), "API version 'v2' is not like 2024-06-20"),
        (("http://127.0.0.1:9/webhook",), "nothing answers at http://127.0.0.1:9/webhook"),
        (("--app", APP, "--endpoint-type", "platform"), "invalid choice: 'platform'"),
        (("--app", APP, "--seed", "-3"), "seed '-3' is negative"),
        (("--app", APP, "--examples", "0"), "examples '0' is outside 1-100"),
        (("--app", APP, "--examples", "three"), "examples 'three' is not a whole number"),
        (("--app", APP, "--fake-stripe-port", "70000"), "port 70000 is outside 0-65535"),
        (("--app", "endpoints.nowhere:app"), "there is no module named 'endpoints.nowhere'"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    args: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(verify(*args, "--secret", SECRET)) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("connect-harness: error: ")
    assert message in err
    assert SECRET not in err


def test_missing_secret_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    assert main(verify("--app", APP)) == 2
    assert "no --secret and $STRIPE_WEBHOOK_SECRET is unset" in capsys.readouterr().err


@pytest.fixture
def served_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int]]:
    """A correct endpoint over real HTTP whose Stripe API base is a fixed port, as a user would set it."""
    port = free_port()
    monkeypatch.setattr(stripe, "api_base", f"http://127.0.0.1:{port}")
    with served(flask_endpoint.create_app(SECRET)) as url:
        yield url, port


def test_url_target_with_a_fixed_fake_stripe_port(
    served_endpoint: tuple[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    url, port = served_endpoint
    argv = verify(
        url, "--secret", SECRET, "--events", EVENTS, "--fake-stripe-port", str(port), "--seed", "2"
    )
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(f"connect-harness verify: {url} |")
    assert f"| fake Stripe API http://127.0.0.1:{port}" in out
    # At a URL stays-alive judges the server's connections; never-logs-secrets needs --serve.
    assert "23 checks: 22 passed, 0 failed, 1 skipped" in out


def test_api_version_is_stamped_on_events_and_reproductions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.json"
    code = main(
        verify(
            "--app", broken_app("v0-accepted"), "--secret", SECRET, "--api-version", "2024-06-20",
            "--check", "rejects-v0-only", "--report", str(report),
        )
    )  # fmt: skip
    assert code == 1
    data = json.loads(report.read_text())
    assert data["summary"]["api_version"] == "2024-06-20"
    [finding] = [f for c in data["checks"] for f in c["findings"] if f["status"] == "fail"]
    assert "--api-version 2024-06-20" in finding["reproduce"]


def test_verify_runs_the_shipped_suite_unaffected_by_the_projects_pytest_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """verify runs connect_harness.suite in its own pytest session: a hostile project setup is ignored."""
    import connect_harness.checks.suite_runner as suite_runner

    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --this-option-does-not-exist\n")
    (tmp_path / "conftest.py").write_text("raise RuntimeError('a project conftest was imported')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTEST_ADDOPTS", "--also-not-an-option")
    sessions: list[int] = []
    real_main = suite_runner.pytest.main

    def counting_main(*args: object, **kwargs: object) -> object:
        sessions.append(1)
        return real_main(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(suite_runner.pytest, "main", counting_main)
    code = main(
        verify(
            "--app",
            APP,
            "--secret",
            SECRET,
            "--events",
            EVENTS,
            "--check",
            "rejects-v0-only",
            "--check",
            "no-server-errors",
        )
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert sessions == [1]
    assert "2 checks: 2 passed, 0 failed, 0 skipped" in out


def test_a_wrong_secret_is_one_root_cause_in_the_table_and_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.json"
    argv = verify(
        "--app", APP, "--secret", "whsec_not_the_endpoints", "--events", EVENTS, "--seed", "4",
        "--report", str(report),
    )  # fmt: skip
    assert main(argv) == 1
    out = capsys.readouterr().out
    headline = (
        "ROOT CAUSE: every correctly signed delivery got 400: the secret given is probably not "
        "the endpoint's"
    )
    assert headline in out
    assert "FAIL accepts-rotated-secret" not in out
    data = json.loads(report.read_text())
    assert [h["cause"] for h in data["summary"]["headlines"]] == ["wrong-secret"]


def quiet_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Verifies the signature and acknowledges; never calls the Stripe API (nothing to observe)."""
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    try:
        stripe.Webhook.construct_event(body, environ.get("HTTP_STRIPE_SIGNATURE", ""), SECRET)
    except (ValueError, stripe.SignatureVerificationError):
        start_response("400 Bad Request", [("Content-Type", "application/json")])
        return [b"{}"]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b"{}"]


def test_skipped_checks_are_named_and_strict_fails_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = verify(
        "--app", "test_verify_cli:quiet_app", "--secret", SECRET, "--events", "payout.failed", "--seed", "3",
        "--check", "rejects-wrong-secret", "--check", "uses-connected-account-context",
    )  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "2 checks: 1 passed, 0 failed, 1 skipped" in out
    assert "SKIP uses-connected-account-context: " in out
    assert "All checks that ran passed (seed 3); 1 skipped, listed above" in out
    assert "All checks passed" not in out
    assert main([*argv, "--strict"]) == 1
    out = capsys.readouterr().out
    assert "--strict: 1 skipped check(s) count as failed: uses-connected-account-context" in out


SEES_ENVIRONMENT = """
import os

SEEN = {name: os.environ.get(name) for name in
        ("STRIPE_WEBHOOK_SECRET", "STRIPE_SECRET_KEY_TEST", "STRIPE_SECRET_KEY_LIVE")}


def app(environ, start_response):
    environ["wsgi.input"].read()
    SEEN.update({name: os.environ.get(name) for name in SEEN})
    start_response("400 Bad Request", [("Content-Type", "application/json")])
    return [b"{}"]
"""


def test_verify_app_gives_the_app_no_secret_and_no_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # As the README and docs/reference/verify.md say: --app imports the app as it is; unlike
    # --serve, nothing is put in its environment, so the team sets what the app reads.
    import importlib

    (tmp_path / "sees_environment.py").write_text(SEES_ENVIRONMENT, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("STRIPE_WEBHOOK_SECRET", "STRIPE_SECRET_KEY_TEST", "STRIPE_SECRET_KEY_LIVE"):
        monkeypatch.delenv(name, raising=False)
    argv = ["verify", "--app", "sees_environment:app", "--secret", "whsec_not_given_to_the_app"]
    main([*argv, "--events", "customer.created", "--check", "rejects-missing-signature"])
    capsys.readouterr()
    seen = importlib.import_module("sees_environment").SEEN
    assert seen == dict.fromkeys(seen)
