"""``--thin`` on the CLI: ``event``, ``sign`` and ``events`` build and list thin notifications."""

from __future__ import annotations

import json

import pytest
import stripe

from connect_harness.cli import main
from connect_harness.events.thin import build_thin_event, thin_event_types


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_event_thin_prints_the_notification_body(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "event", "--thin", "v2.core.account[requirements].updated")
    assert code == 0 and err == ""
    expected = build_thin_event(
        "v2.core.account[requirements].updated", account="acct_1HarnessConnect0"
    )
    assert out.encode() == expected.body + b"\n"


def test_a_plain_v1_type_with_thin_is_its_v1_notification(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "event", "--thin", "account.updated", "--platform", "--live")
    body = json.loads(out)
    assert code == 0
    assert body["type"] == "v1.account.updated"
    assert body["livemode"] is True
    assert "context" not in body


def test_sign_thin_is_accepted_by_parse_event_notification(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(
        capsys,
        "sign",
        "--thin",
        "v2.core.account.closed",
        "--secret",
        "whsec_cli_thin",
        "--format",
        "json",
    )
    assert code == 0
    request = json.loads(out)
    body = request["body"].encode() if isinstance(request.get("body"), str) else None
    header = (
        dict(request["headers"])["Stripe-Signature"]
        if isinstance(request["headers"], list)
        else request["headers"]["Stripe-Signature"]
    )
    assert body is not None
    notification = stripe.StripeClient("sk_test_x").parse_event_notification(
        body, header, "whsec_cli_thin"
    )
    assert type(notification).__name__ == "V2CoreAccountClosedEventNotification"


def test_events_thin_lists_every_thin_type(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "events", "--thin", "--json")
    assert code == 0
    rows = json.loads(out)["thin_events"]
    assert [row["type"] for row in rows] == list(thin_event_types())
    code, out, _ = run(capsys, "events", "--thin")
    assert "v2.core.account.updated" in out and out.rstrip().endswith("(71 v2, 328 v1).")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["event", "--thin", "v2.core.acount.updated"], "did you mean v2.core.account.updated"),
        (["event", "--thin", "account.updated", "--set", "a=1"], "drop --set"),
        (["event", "--thin", "account.updated", "--merge", "{}"], "drop --merge"),
        (["sign", "--thin", "--body-file", "-", "--secret", "whsec_x"], "drop --thin"),
    ],
)
def test_bad_thin_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1
