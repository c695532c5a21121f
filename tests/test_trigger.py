"""``trigger --scenario`` and ``trigger --thin`` delivering directly (``--forward-to URL --secret S``),
and which options go together, in process: no listen session is needed for these."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connect_harness.cli import main
from connect_harness.events.scenarios import scenario
from test_listen import Endpoint

SECRET = "whsec_trigger_direct"


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Endpoint]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    served = Endpoint(SECRET)
    yield served
    served.close()


def test_a_scenario_is_delivered_directly_in_stripes_order(
    endpoint: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["trigger", "--scenario", "direct-charge", "--stripe-account", "acct_1Direct",
            "--forward-to", f"{endpoint.url}/hook", "--secret", SECRET]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    steps = [step.event_type for step in scenario("direct-charge").steps]
    assert [item["payload"]["type"] for item in endpoint.received] == steps
    status = [line for line in out.splitlines() if not line.startswith("  ")]
    assert len(status) == len(steps) and all(": 200 in " in line for line in status)
    assert {item["payload"]["account"] for item in endpoint.received} == {"acct_1Direct"}


def test_a_platform_scenario_needs_no_account_and_shuffles_on_request(
    endpoint: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["trigger", "--scenario", "subscription", "--order", "duplicated",
            "--forward-to", f"{endpoint.url}/hook", "--secret", SECRET]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    payloads = [item["payload"] for item in endpoint.received]
    assert len(payloads) == 2 * len(scenario("subscription").steps)
    assert payloads[0]["id"] == payloads[1]["id"] and "account" not in payloads[0]


def test_a_thin_notification_is_delivered_directly(
    endpoint: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["trigger", "--thin", "v2.core.account.closed", "--stripe-account", "acct_1Direct",
            "--live", "--forward-to", f"{endpoint.url}/thin", "--secret", SECRET]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "v2.core.account.closed [evt_" in out and "(connect acct_1Direct, live)" in out
    (item,) = endpoint.received
    assert item["payload"]["context"] == "acct_1Direct" and item["payload"]["livemode"] is True


def test_a_failing_delivery_in_a_scenario_is_exit_1(
    endpoint: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["trigger", "--scenario", "failed-payout", "--stripe-account", "acct_1Direct",
            "--forward-to", f"{endpoint.url}/hook", "--secret", "whsec_wrong"]  # fmt: skip
    assert main(argv) == 1
    assert capsys.readouterr().out.count(": 400 in ") == len(scenario("failed-payout").steps)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["trigger"], "trigger takes a NAME, --fixture FILE or --scenario NAME, not both or neither"),
        (["trigger", "payout.failed", "--scenario", "subscription"], "not both or neither"),
        (["trigger", "payout.failed", "--order", "reversed"], "--order goes with --scenario"),
        (["trigger", "--scenario", "subscription", "--thin"], "--thin shapes one event"),
        (["trigger", "--scenario", "subscription", "--add", "a.b=1"], "--add shapes one event"),
        (["trigger", "--thin", "v2.core.account.closed", "--override", "a=1"],
         "a thin notification carries none"),
        (["trigger", "--scenario", "onboarding", "--forward-to", "http://127.0.0.1:9/x",
          "--secret", SECRET], "add --stripe-account acct_"),
        (["trigger", "--scenario", "subscriptoin", "--forward-to", "http://127.0.0.1:9/x",
          "--secret", SECRET], "did you mean 'subscription'"),
        (["trigger", "--thin", "v2.core.acount.closed", "--forward-to", "http://127.0.0.1:9/x",
          "--secret", SECRET], "is not a thin event type"),
        (["trigger", "--scenario", "subscription", "--order", "sideways"], "invalid choice"),
    ],
)  # fmt: skip
def test_options_that_do_not_go_together_are_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err, err
