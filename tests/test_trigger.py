"""``trigger NAME`` (Stripe's flow against a fake of its own), ``trigger --fixture``/``fixtures FILE``,
``trigger --scenario`` and ``trigger --thin`` delivering directly (``--forward-to URL --secret S``),
and which options go together, in process through ``main([...])``: no listen session is needed."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connect_harness.cli import main
from connect_harness.events.scenarios import scenario
from connect_harness.spec.contracts import api_version
from test_listen import Endpoint, cli

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


def test_forward_to_signs_with_stripe_webhook_secret_when_no_secret_is_given(
    endpoint: Endpoint, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # As verify does: the endpoint's secret from the environment, without repeating it.
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    argv = ["trigger", "payment_intent.succeeded", "--forward-to", f"{endpoint.url}/hook"]
    assert main(argv) == 0, capsys.readouterr().err
    assert "payment_intent.succeeded" in [item["payload"]["type"] for item in endpoint.received]


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


# --- trigger NAME: Stripe's flow against a fake of its own, delivering what the fake emits --------

FLOW = ["payment_intent.created", "charge.succeeded", "payment_intent.succeeded"]


def direct(endpoint: Endpoint, *argv: str) -> list[str]:
    return ["trigger", *argv, "--forward-to", f"{endpoint.url}/hook", "--secret", SECRET]


def status_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line[:1] not in (">", " ")]


def test_a_trigger_name_runs_its_flow_and_delivers_each_emitted_event(
    endpoint: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(direct(endpoint, "payment_intent.succeeded")) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert out.startswith("> payment_intent: POST /v1/payment_intents -> 200 pi_")
    lines = status_lines(out)
    assert [line.split()[0] for line in lines] == FLOW
    assert all("(platform, test)" in line and "/hook: 200 in " in line for line in lines)
    payloads = [item["payload"] for item in endpoint.received]
    assert [p["type"] for p in payloads] == FLOW
    intent = payloads[-1]["data"]["object"]
    assert intent["status"] == "succeeded" and intent["amount"] == 2000  # the flow's params
    assert (
        len({p["data"]["object"]["id"] for p in payloads if p["type"] != "charge.succeeded"}) == 1
    )


def test_stripe_account_and_live_shape_the_requests_and_so_the_events(
    endpoint: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = direct(
        endpoint, "payment_intent.succeeded", "--stripe-account", "acct_1Direct", "--live"
    )
    assert main(argv) == 0, capsys.readouterr().err
    assert "(connect acct_1Direct, live)" in capsys.readouterr().out
    payloads = [item["payload"] for item in endpoint.received]
    assert [p["type"] for p in payloads] == FLOW
    assert {(p["account"], p["livemode"]) for p in payloads} == {("acct_1Direct", True)}


def test_api_version_goes_out_as_stripe_version_and_events_keep_the_accounts_version(
    endpoint: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    """On Stripe an event is rendered in the endpoint's or account's version, not the request's."""
    assert main(direct(endpoint, "payment_intent.created", "--api-version", "2023-08-16")) == 0
    (item,) = endpoint.received
    assert item["payload"]["api_version"] == api_version()
    assert main(direct(endpoint, "payment_intent.created", "--api-version", "2023-13-45")) == 2
    err = capsys.readouterr().err
    assert "was refused: invalid_request_error: Invalid Stripe API version: 2023-13-45" in err


def test_override_add_and_remove_change_the_flows_request(
    endpoint: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = direct(endpoint, "payment_intent.succeeded", "--override", "payment_intent:amount=5000",
                  "--add", "payment_intent:metadata.order=A-7",
                  "--remove", "payment_intent:shipping")  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    intent = endpoint.received[-1]["payload"]["data"]["object"]
    assert intent["amount"] == 5000 and intent["metadata"] == {"order": "A-7"}
    assert intent["shipping"] is None


def test_skip_leaves_a_step_out(endpoint: Endpoint, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(direct(endpoint, "charge.captured", "--skip", "capture")) == 0
    out = capsys.readouterr().out
    assert "> capture:" not in out
    assert [item["payload"]["type"] for item in endpoint.received] == [
        "payment_intent.created", "charge.succeeded", "payment_intent.amount_capturable_updated",
    ]  # fmt: skip


def write_fixture(path: Path, *steps: dict[str, Any]) -> str:
    path.write_text(json.dumps({"_meta": {"template_version": 0}, "fixtures": list(steps)}))
    return str(path)


CUSTOMER = {"name": "customer", "path": "/v1/customers", "method": "post",
            "params": {"email": "${.env:SHOP_EMAIL|jenny@example.com}"}}  # fmt: skip


@pytest.mark.parametrize("command", [["trigger", "--fixture"], ["fixtures"]])
def test_a_users_fixture_file_runs_with_trigger_fixture_or_fixtures(
    command: list[str], endpoint: Endpoint, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    name = write_fixture(tmp_path / "mine.json", CUSTOMER)
    argv = [*command, name, "--forward-to", f"{endpoint.url}/hook", "--secret", SECRET]
    assert main(argv) == 0, capsys.readouterr().err
    assert "> customer: POST /v1/customers -> 200 cus_" in capsys.readouterr().out
    (item,) = endpoint.received
    assert item["payload"]["type"] == "customer.created"
    assert item["payload"]["data"]["object"]["email"] == "jenny@example.com"


def test_list_names_every_trigger(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trigger", "--list"]) == 0
    names = capsys.readouterr().out.split()
    assert len(names) == 123 and "payment_intent.succeeded" in names
    assert "invoice.payment_succeeded" in names and "v1.billing.meter.no_meter_found" in names


def test_a_flow_whose_fake_emits_nothing_says_so(
    endpoint: Endpoint, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    read = {"name": "balance", "path": "/v1/balance", "method": "get"}
    assert main(direct(endpoint, "--fixture", write_fixture(tmp_path / "f.json", read))) == 0
    out, err = capsys.readouterr()
    assert out == "> balance: GET /v1/balance -> 200\n"
    assert (
        err
        == f"connect-harness: note: the fake emitted no event for fixture '{tmp_path / 'f.json'}'\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["trigger", "payment_intent.succeeded", "--fixture", "x.json"], "not both or neither"),
        (["trigger", "--list", "payment_intent.succeeded"], "--list lists the trigger names"),
        (["trigger", "--scenario", "subscription", "--skip", "x"], "--skip leaves out a flow's step"),
        (["trigger", "payout.failed", "--skip", "x"], "--skip leaves out a flow's step"),
        (["trigger", "payment_intent.succeeded", "--skip", "pi"],
         "no step named 'pi'; its steps are payment_intent"),
        (["trigger", "payment_intent.succeeded", "--override", "amount=1"],
         "--override 'amount=1' is not STEP:PATH=VALUE; e.g. --override customer:name=Jenny"),
        (["trigger", "payment_intent.succeeded", "--remove", "payment_intent:colour"],
         "--remove payment_intent:colour: flow 'payment_intent.succeeded' step 'payment_intent' "
         "has no param 'colour'"),
        (["trigger", "payment_intent.succeeded", "--remove", "payment_intent"],
         "--remove 'payment_intent' is not STEP:PATH"),
        (["trigger", "charge.refunded", "--skip", "payment_intent"],
         "names no step 'payment_intent'"),
        (["trigger", "--fixture", "missing.json"], "cannot read the fixture file 'missing.json'"),
        (["fixtures", "missing.json"], "cannot read the fixture file 'missing.json'"),
        (["trigger", "payment_intent.succeeded", "--forward-to", "http://127.0.0.1:9/x"],
         "trigger --forward-to needs the endpoint's signing secret: pass --secret"),
        (["fixtures", "missing.json", "--forward-to", "http://127.0.0.1:9/x"],
         "cannot read the fixture file"),
        (["trigger", "payment_intent.succeeded"], "no listen session is running"),
    ],
)  # fmt: skip
def test_bad_flow_usage_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{nope", "fixture 'f.json' is not JSON ("),
        ('{"_meta": {}}', "expected 'fixtures', a non-empty list of requests"),
        ('{"_meta": {"template_version": 2}, "fixtures": []}',
         "_meta.template_version 2 is not supported; expected 0"),
        (json.dumps({"fixtures": [{**CUSTOMER, "path": "/v1/customers/${later:id}"},
                                  {**CUSTOMER, "name": "later"}]}),
         "step 'customer', path: ${later:id} refers to step 'later', which runs later"),
        (json.dumps({"fixtures": [{**CUSTOMER, "params": {"x": "${cust:id}"}}]}),
         "step 'customer', params.x: ${cust:id} names no step 'cust'"),
        (json.dumps({"fixtures": [CUSTOMER, {**CUSTOMER, "name": "again",
                                             "path": "/v1/customers/${customer:nope}"}]}),
         "step 'again', path: ${customer:nope} does not resolve: step 'customer''s answer has "
         "no 'nope'"),
        (json.dumps({"fixtures": [{**CUSTOMER, "params": {"colour": "x"}}]}),
         "step 'customer' (POST /v1/customers) was refused: invalid_request_error: Received "
         "unknown parameter: colour"),
    ],
)  # fmt: skip
def test_a_bad_fixture_file_is_one_line_naming_it_and_exit_2(
    text: str, message: str, endpoint: Endpoint, capsys: pytest.CaptureFixture[str],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.json").write_text(text)
    assert (
        main(["fixtures", "f.json", "--forward-to", f"{endpoint.url}/h", "--secret", SECRET]) == 2
    )
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err, err
    assert endpoint.received == []


def test_trigger_runs_as_a_real_process_against_a_local_server(tmp_path: Path) -> None:
    served = Endpoint(SECRET)
    try:
        result = cli(tmp_path, "trigger", "payment_intent.succeeded",
                     "--forward-to", f"{served.url}/hook", "--secret", SECRET)  # fmt: skip
    finally:
        served.close()
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in status_lines(result.stdout)] == FLOW
    assert [item["payload"]["type"] for item in served.received] == FLOW


def test_a_flow_with_params_stripe_removed_says_which_version_takes_them(
    endpoint: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(direct(endpoint, "customer.discount.created")) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert "Received unknown parameter: coupon (some of the Stripe CLI's flows send params " in err
    assert "try --api-version 2023-08-16)" in err
    assert main(direct(endpoint, "customer.discount.created", "--api-version", "2023-08-16")) == 0
    assert [item["payload"]["type"] for item in endpoint.received][:2] == [
        "coupon.created", "customer.created",
    ]  # fmt: skip


def test_hostile_fixture_files_are_one_line(
    endpoint: Endpoint, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    deep = "[" * 100_000 + "]" * 100_000
    spaced = {**CUSTOMER, "path": "/v1/customers/a b"}
    resolved = {**CUSTOMER, "path": "/v1/customers/${.env:CUSTOMER_ID}", "params": {}}
    monkeypatch.setenv("CUSTOMER_ID", "cus é")
    cases = [
        (deep, "the JSON is nested too deeply to be a fixture file"),
        (json.dumps({"fixtures": [spaced]}), "(no spaces or control characters), not '/v1/cus"),
        (
            json.dumps({"fixtures": [resolved]}),
            "step 'customer': cannot send POST '/v1/customers/cus é'",
        ),
    ]
    for text, message in cases:
        (tmp_path / "f.json").write_text(text, encoding="utf-8")
        argv = ["fixtures", "f.json", "--forward-to", f"{endpoint.url}/h", "--secret", SECRET]
        assert main(argv) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and message in err, err
    assert endpoint.received == []


def test_timeout_bounds_each_delivery_of_a_flow(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An endpoint that takes the connection and never answers: each event is 'no answer' after
    --timeout, the flow still delivers the next, and the exit code is 1."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
    try:
        argv = ["trigger", "payment_intent.created", "--forward-to", url, "--secret", SECRET,
                "--timeout", "0.3"]  # fmt: skip
        assert main(argv) == 1
    finally:
        silent.close()
    (line,) = status_lines(capsys.readouterr().out)
    assert line.startswith("payment_intent.created [evt_") and ": no answer: " in line
    assert main(["trigger", "payment_intent.created", "--timeout", "soon"]) == 2
    assert "--timeout" in capsys.readouterr().err
