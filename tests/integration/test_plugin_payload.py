"""``--connect-payload snapshot|thin|both``: the shipped suite runs the catalogue the endpoint's
payload selects, as ``verify --payload`` does, and deselects the other."""

from __future__ import annotations

import pytest
import stripe  # noqa: F401  (imported once here: pytester drops modules first imported in an inline run)

from connect_harness.checks.findings import CATALOGUE
from connect_harness.checks.thin import THIN_CATALOGUE
from endpoints.serving import free_port
from endpoints.thin import TEST_SECRET


def suite(pytester: pytest.Pytester, *args: str, bug: str | None = None) -> pytest.RunResult:
    port = free_port()
    app = f"endpoints.thin:thin_app('http://127.0.0.1:{port}', bug={bug!r})"
    return pytester.runpytest(
        "-p", "connect_harness", "--pyargs", "connect_harness.suite", "--connect-app", app,
        "--connect-secret", TEST_SECRET, "--connect-fake-stripe-port", str(port),
        "--connect-seed", "5", *args,
    )  # fmt: skip


def test_payload_thin_runs_the_thin_checks_against_a_thin_destination(
    pytester: pytest.Pytester,
) -> None:
    result = suite(pytester, "--connect-payload", "thin")
    assert result.parseoutcomes() == {
        "passed": len(THIN_CATALOGUE),
        "deselected": len(CATALOGUE),
    }, result.stdout.str()
    result.stdout.fnmatch_lines(["connect_harness: *payload=thin (--connect-payload)*"])


def test_payload_thin_fails_a_destination_that_fetches_without_context(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECT_HARNESS_PAYLOAD", "thin")
    result = suite(pytester, "-k", "thin-fetches-with-context", bug="platform-context")
    result.assert_outcomes(failed=1, deselected=len(CATALOGUE) + len(THIN_CATALOGUE) - 1)
    result.stdout.fnmatch_lines(["*1 contract check(s) failed: thin-fetches-with-context*"])


@pytest.mark.parametrize(
    ("payload", "snapshot", "thin"),
    [(None, len(CATALOGUE), 0), ("both", len(CATALOGUE), len(THIN_CATALOGUE))],
)
def test_the_payload_selects_the_catalogue(
    pytester: pytest.Pytester, payload: str | None, snapshot: int, thin: int
) -> None:
    args = ["--collect-only", "-q"] + (["--connect-payload", payload] if payload else [])
    lines = suite(pytester, *args).stdout.lines
    assert sum("::test_contract[" in line for line in lines) == snapshot
    assert sum("::test_thin_contract[" in line for line in lines) == thin
    # the default suite looks as it did before thin checks existed: nothing reported deselected
    assert not any("deselected" in line for line in lines), lines[-3:]


def test_a_bad_payload_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = suite(pytester, "--connect-payload", "thick")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*payload 'thick' is not one of snapshot, thin, both*"])


def test_payload_both_runs_the_selected_checks_of_each(pytester: pytest.Pytester) -> None:
    only = "rejects-missing-signature or thin-acknowledges-unknown-types"
    result = suite(pytester, "--connect-payload", "both", "-k", only, "-v")
    result.assert_outcomes(passed=2, deselected=len(CATALOGUE) + len(THIN_CATALOGUE) - 2)
    result.stdout.fnmatch_lines(
        ["*test_contract?rejects-missing-signature? PASSED*",
         "*test_thin_contract?thin-acknowledges-unknown-types? PASSED*"]
    )  # fmt: skip
