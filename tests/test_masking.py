"""Secrets stay out of reprs, findings and reports."""

from __future__ import annotations

from connect_harness.checks.findings import Finding
from connect_harness.checks.masking import mask_secrets
from connect_harness.checks.run import VerifyConfig
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
