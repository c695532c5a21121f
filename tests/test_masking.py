"""Secrets stay out of reprs, findings and reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from connect_harness import WebhookClient, target_from
from connect_harness.checks.findings import Finding
from connect_harness.checks.masking import mask_secrets
from connect_harness.checks.run import VerifyConfig
from connect_harness.cli import main
from connect_harness.errors import UsageError
from connect_harness.redaction import redact_credentials
from connect_harness.settings import Secret, Settings, parse_secret

SECRET = "whsec_masking_unit_secret"


def test_mask_secrets_keeps_only_the_kind_of_credential() -> None:
    text = (
        "Invalid API Key provided: sk_live_aB1 (or rk_test_x1, pk_test_y2); "
        f"secret {SECRET}; sk_other stays"
    )
    assert mask_secrets(text) == (
        "Invalid API Key provided: sk_live_**** (or rk_test_****, pk_test_****); "
        "secret whsec_****; sk_other stays"
    )


def test_findings_mask_what_the_endpoint_wrote() -> None:
    finding = Finding(
        check="no-server-errors",
        status="fail",
        reason="500: stripe.AuthenticationError sk_test_LEAKED1",
        actual=f'500 {{"error": "bad secret {SECRET}"}}',
    )
    assert "LEAKED1" not in finding.reason and "sk_test_****" in finding.reason
    assert SECRET not in str(finding.to_json()) and "whsec_****" in (finding.actual or "")


def test_settings_and_verify_config_reprs_hide_the_secret() -> None:
    secret = parse_secret(SECRET)
    assert isinstance(secret, Secret) and secret == SECRET and repr(secret) == "'whsec_****'"
    settings = Settings(
        values={"secret": SECRET, "seed": 3}, sources={"secret": "--connect-secret"}
    )
    assert SECRET not in repr(settings) and "'seed': 3" in repr(settings)
    config = VerifyConfig(secret=SECRET)
    assert SECRET not in repr(config) and "endpoint_type='both'" in repr(config)


def test_redact_credentials_masks_keys_secrets_with_stray_bytes_and_url_userinfo() -> None:
    text = (
        "secret 'whsec_abc\\udcffdef' key sk_test_aB1, url http://user:pa55@127.0.0.1:8000/hook"
        " and https://token@example.test/x; advice 'whsec_...' stays"
    )
    assert redact_credentials(text) == (
        "secret 'whsec_****' key sk_test_****, url http://****@127.0.0.1:8000/hook"
        " and https://****@example.test/x; advice 'whsec_...' stays"
    )


def test_a_usage_error_never_echoes_the_secret_it_refuses() -> None:
    target = target_from("http://user:pa55word@127.0.0.1:9/hook")
    with pytest.raises(UsageError) as info:
        WebhookClient(target, secret=[SECRET, 5])  # type: ignore[list-item]

    assert SECRET not in str(info.value)
    assert "whsec_****" in str(info.value)
    with pytest.raises(UsageError) as info:
        WebhookClient("http://user:pa55word@127.0.0.1:9/hook", secret=SECRET)  # type: ignore[arg-type]

    assert "pa55word" not in str(info.value)


def test_the_cli_never_prints_a_secret_with_stray_bytes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sign", "payout.failed", "--secret", "whsec_topsecret\udcffrest"]) == 2

    err = capsys.readouterr().err
    assert "topsecret" not in err and "rest" not in err
    assert "whsec_****" in err


def test_url_credentials_reach_neither_stdout_nor_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_hostile_endpoints import RawServer, ok

    server = RawServer(ok)
    try:
        url = server.url.replace("http://", "http://user:pa55word@")
        report = tmp_path / "r.json"
        main(
            ["verify", url, "--secret", "whsec_x", "--events", "account.updated", "--seed", "1",
             "--timeout", "2", "--report", str(report)]
        )  # fmt: skip
    finally:
        server.close()
    out, err = capsys.readouterr()

    for text in (out, err, report.read_text(encoding="utf-8")):
        assert "pa55word" not in text
    assert "http://****@127.0.0.1" in out


def test_a_non_utf8_secret_from_the_environment_is_refused_before_the_run_without_showing_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_topsecret\udcffrest")

    code = main(["verify", "http://127.0.0.1:9/hook", "--events", "account.updated"])

    out, err = capsys.readouterr()
    assert code == 2
    assert err == (
        "connect-harness: error: $STRIPE_WEBHOOK_SECRET holds bytes that are not UTF-8 text; copy "
        "the secret again from the Dashboard (it starts with 'whsec_')\n"
    )
    assert "topsecret" not in out + err
