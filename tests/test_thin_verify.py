"""``verify --payload thin|both``: the thin checks from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from connect_harness.cli import main
from endpoints.serving import free_port
from endpoints.thin import TEST_SECRET


def thin_app(port: int, bug: str | None = None) -> str:
    return f"endpoints.thin:thin_app('http://127.0.0.1:{port}', bug={bug!r})"


def test_payload_thin_runs_the_thin_checks(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    argv = [
        "verify", "--app", thin_app(port), "--secret", TEST_SECRET, "--payload", "thin",
        "--fake-stripe-port", str(port), "--seed", "3",
        "--check", "thin-fetches-with-context", "--check", "thin-acknowledges-unknown-types",
    ]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "2 checks: 2 passed, 0 failed, 0 skipped" in out


def test_payload_thin_fails_the_context_bug(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    argv = [
        "verify", "--app", thin_app(port, "platform-context"), "--secret", TEST_SECRET,
        "--payload", "thin", "--fake-stripe-port", str(port),
        "--events", "v2.core.account.updated", "--check", "thin-fetches-with-context",
    ]  # fmt: skip
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "thin-fetches-with-context" in out and "Stripe-Context: acct_1HarnessConnect0" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--check", "thin-fetches-with-context"], "add --payload thin"),
        (["--payload", "thin", "--check", "rejects-v0-only"], "use --payload both"),
        (["--payload", "thin", "--events", "v2.core.acount.updated"], "did you mean"),
    ],
)
def test_payload_usage_errors(
    capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    argv = ["verify", "--app", thin_app(1), "--secret", TEST_SECRET, *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_payload_both_runs_snapshot_and_thin_checks(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    argv = [
        "verify", "--app", thin_app(port), "--secret", TEST_SECRET, "--payload", "both",
        "--fake-stripe-port", str(port), "--events", "account.updated",
        "--check", "rejects-v0-only", "--check", "thin-acknowledges-unknown-types",
    ]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "rejects-v0-only" in out and "thin-acknowledges-unknown-types" in out
    assert "2 checks: 2 passed, 0 failed, 0 skipped" in out


def test_sample_app_in_process_passes_the_thin_checks(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # In-process, the thin handler's Stripe calls go to the fake API, as under the plugin's
    # --connect-payload thin: verify points stripe.api_base at it while the thin checks run (it used
    # to stay https://api.stripe.com, and 6 findings were 503s for fetches that never came back).
    import stripe

    monkeypatch.chdir(Path(__file__).resolve().parents[1])  # sample_app lives at the root
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_thin_sample")
    monkeypatch.setenv("STRIPE_SECRET_KEY_TEST", "sk_test_thin_sample")
    monkeypatch.setenv("STRIPE_SECRET_KEY_LIVE", "sk_live_thin_sample")
    monkeypatch.setenv("SAMPLE_APP_DB", str(tmp_path / "ledger.sqlite3"))
    monkeypatch.delenv("STRIPE_API_BASE", raising=False)
    before = stripe.api_base
    argv = ["verify", "--app", "sample_app:app", "--path", "/webhook/thin", "--payload", "thin"]
    assert main([*argv, "--secret", "whsec_thin_sample", "--seed", "5"]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "6 checks: 6 passed, 0 failed, 0 skipped" in out
    assert stripe.api_base == before  # put back after the run
