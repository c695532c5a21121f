"""The connect-harness CLI, through main([...]) and once as a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import stripe

from connect_harness.cli import main
from connect_harness.spec import contracts

SECRET = "whsec_cli_test_secret"
SHARED_SPEC = Path(
    os.environ.get("CONNECT_HARNESS_STRIPE_SPEC")
    or Path(__file__).resolve().parents[1].parent / "shared" / "stripe-spec"
)
NEWEST = "2026-11-18.endive"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_events_lists_every_supported_type_with_its_connect_note(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "events")
    assert code == 0 and err == ""
    lines = out.splitlines()
    listed = [line.split()[0] for line in lines if line and not line[0].isdigit()]
    assert listed == list(contracts.supported_event_types())
    payout_failed = next(line for line in lines if line.startswith("payout.failed "))
    assert "payout" in payout_failed and "connect + account" in payout_failed
    assert out.endswith(
        "\n275 supported event types (contracts of Stripe API 2026-11-18.endive).\n"
    )


def test_events_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "events", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["api_version"] == contracts.api_version() == NEWEST
    assert data["contract_versions"] == list(contracts.contract_versions())
    assert data["contract_versions"][0] == "2023-08-16" and data["contract_versions"][-1] == NEWEST
    assert data["unsupported"] == {}
    rows = {row["type"]: row for row in data["events"]}
    assert len(rows) == 275
    assert rows["account.external_account.updated"]["receivable_by"] == ["connect"]
    assert rows["payout.failed"]["guide"]


def test_schema_prints_the_standalone_contract(capsys: pytest.CaptureFixture[str]) -> None:
    from connect_harness.spec.export import standalone_schema

    code, out, err = run(capsys, "schema", "payout.failed")
    assert code == 0 and err == ""
    assert json.loads(out) == standalone_schema("payout.failed")
    assert "$id" not in out and "x-id-of" not in out and "unix-time" not in out
    code, out, err = run(capsys, "schema", "payout.failed", "--annotated")
    assert code == 0 and err == ""
    assert json.loads(out) == standalone_schema("payout.failed", annotated=True)
    assert "x-id-of" in out and "unix-time" in out


NOTE_2024 = (
    "connect-harness: note: API version 2024-06-20: events use the shapes of 2023-08-16 (the "
    "newest contract set not newer than 2024-06-20), stamped 2024-06-20\n"
)


def test_events_with_api_version_lists_that_sets_types_and_notes_the_stand_in(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "events", "--api-version", "2024-06-20")
    assert code == 0 and err == NOTE_2024
    assert out.endswith(
        "\n232 supported event types (contracts of Stripe API 2023-08-16); 43 more are known but "
        "unsupported at this version (--json).\n"
    )
    code, out, err = run(capsys, "events", "--json", "--api-version", "2026-05-27.dahlia")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["api_version"] == "2026-05-27.dahlia" and len(data["events"]) == 263
    assert len(data["unsupported"]) == 12


def test_schema_with_api_version_uses_that_sets_shapes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "schema", "invoice.paid", "--api-version", "2024-06-20")
    assert code == 0 and err == NOTE_2024
    old = json.loads(out)
    assert "subscription" in old["$defs"]["invoice"]["properties"]
    assert "2023-08-16" in old["title"]
    code, out, err = run(capsys, "schema", "invoice.paid")
    assert code == 0 and err == ""
    new = json.loads(out)["$defs"]["invoice"]["properties"]
    assert "parent" in new and "subscription" not in new
    code, out, err = run(capsys, "schema", "reserve.hold.created", "--api-version", "2023-08-16")
    assert code == 2 and out == ""
    assert err.startswith(
        "connect-harness: error: event type 'reserve.hold.created' has no contract at API version "
        "2023-08-16"
    )


def test_event_and_sign_with_api_version_build_those_shapes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "event", "invoice.paid", "--api-version", "2024-06-20")
    assert code == 0 and err == NOTE_2024
    payload = json.loads(out)
    assert payload["api_version"] == "2024-06-20"
    assert "subscription" in payload["data"]["object"] and "parent" not in payload["data"]["object"]
    code, out, err = run(capsys, "event", "invoice.paid", "--api-version", NEWEST)
    assert code == 0 and err == ""
    assert "parent" in json.loads(out)["data"]["object"]
    code, out, err = run(
        capsys, "sign", "invoice.paid", "--secret", SECRET, "--format", "json",
        "--api-version", "2019-02-19",
    )  # fmt: skip
    assert code == 0
    assert err == (
        "connect-harness: note: API version 2019-02-19: events use the shapes of 2023-08-16 (the "
        "oldest contract set: 2019-02-19 is older than every set), stamped 2019-02-19\n"
    )
    body = json.loads(json.loads(out)["body"])
    assert body["api_version"] == "2019-02-19" and "subscription" in body["data"]["object"]


@pytest.mark.parametrize(
    "argv",
    [
        ["events", "--api-version", "v2"],
        ["schema", "invoice.paid", "--api-version", "2024-6-20"],
        ["event", "invoice.paid", "--api-version", "2024-02-30"],
        ["sign", "invoice.paid", "--secret", SECRET, "--api-version", "latest"],
    ],
)
def test_malformed_api_version_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    value = argv[argv.index("--api-version") + 1]
    assert err == (
        f"connect-harness: error: API version {value!r} is not a Stripe API version; give one "
        "like 2024-06-20 or 2026-10-28.endive\n"
    )


def test_sign_body_file_refuses_api_version(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    body = tmp_path / "body.json"
    body.write_bytes(b"{}")
    code, out, err = run(
        capsys, "sign", "--body-file", str(body), "--secret", SECRET, "--api-version", NEWEST
    )
    assert code == 2 and out == ""
    assert err.startswith("connect-harness: error: --api-version picks the shapes of a built event")


def test_event_prints_exactly_the_body_that_would_be_sent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from connect_harness.events.build import build_event

    code, out, err = run(
        capsys, "event", "account.updated", "--account", "acct_1PgafTB7WZ01zgkW", "--live",
        "--set", "data.object.charges_enabled=false", "--seed", "3",
    )  # fmt: skip
    assert code == 0 and err == ""
    expected = build_event(
        "account.updated",
        account="acct_1PgafTB7WZ01zgkW",
        livemode=True,
        overrides={"data.object.charges_enabled": False},
        seed=3,
    )
    assert out.encode() == expected.body + b"\n"


def test_event_platform_has_no_account_and_merge_adds_keys(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(
        capsys,
        "event",
        "customer.created",
        "--platform",
        "--merge",
        '{"data": {"object": {"x": 1}}}',
    )
    assert code == 0
    payload = json.loads(out)
    assert "account" not in payload
    assert payload["data"]["object"]["x"] == 1


def test_event_warns_when_an_override_breaks_the_contract(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "event", "account.updated", "--set", 'livemode="yes"')
    assert code == 0
    assert json.loads(out)["livemode"] == "yes"
    assert err.startswith(
        "connect-harness: warning: this account.updated event does not satisfy its contract"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["event", "acount.updated"],
            "connect-harness: error: unknown event type 'acount.updated'; did you mean 'account.updated'?",
        ),
        (
            ["event", "account.updated", "--set", "data.object.charges_enabld=true"],
            "connect-harness: error: override path 'data.object.charges_enabld': data.object has no key "
            "'charges_enabld'; did you mean 'charges_enabled'?",
        ),
        (["event", "account.updated", "--set", "oops"], "connect-harness: error: --set 'oops' is not PATH=VALUE"),
        (["event", "account.updated", "--seed", "x"], "connect-harness: error: argument --seed: 'x' is not a whole number"),
        (["event", "account.updated", "--merge", "[1]"], "connect-harness: error: argument --merge: '[1]' is not a JSON object"),
        (["event", "account.updated", "--account", "cus_1"], "connect-harness: error: account 'cus_1' is not a connected account id"),
        (["sign", "account.updated"], "connect-harness: error: sign needs --secret whsec_..."),
        (["sign", "--secret", SECRET], "connect-harness: error: sign takes either an event TYPE or --body-file FILE"),
        (["sign", "--secret", SECRET, "--body-file", "/nonexistent/body.json"], "connect-harness: error: cannot read --body-file '/nonexistent/body.json'"),
        (["sign", "account.updated", "--secret", SECRET, "--format", "xml"], "connect-harness: error: argument --format: invalid choice: 'xml'"),
        (["schema", "nope.nothing"], "connect-harness: error: unknown event type 'nope.nothing'"),
        (["frobnicate"], "connect-harness: error: argument COMMAND: invalid choice: 'frobnicate'"),
        ([], "connect-harness: error: the following arguments are required: COMMAND"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith(message), err
    assert err.count("\n") == 1


def test_sign_json_holds_the_exact_body_and_headers(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "sign", "payout.failed", "--secret", SECRET, "--secret", "whsec_older",
        "--timestamp", "1700000000", "--format", "json", "--url", "http://127.0.0.1:9/hook",
    )  # fmt: skip
    assert code == 0
    data = json.loads(out)
    assert data["method"] == "POST" and data["url"] == "http://127.0.0.1:9/hook"
    signature = data["headers"]["Stripe-Signature"]
    assert (
        signature.startswith("t=1700000000,v1=")
        and signature.count("v1=") == 2
        and ",v0=" in signature
    )
    assert data["headers"]["User-Agent"] == "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
    stripe.WebhookSignature.verify_header(data["body"], signature, SECRET, tolerance=None)
    stripe.WebhookSignature.verify_header(data["body"], signature, "whsec_older", tolerance=None)


def test_sign_live_event_has_no_v0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "sign", "payout.failed", "--live", "--secret", SECRET, "--format", "headers"
    )
    assert code == 0
    signature = next(line for line in out.splitlines() if line.startswith("Stripe-Signature: "))
    assert "v0=" not in signature


def test_sign_body_file_signs_the_exact_bytes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    body = b'{"id": "evt_x", "livemode": true}\n'
    path = tmp_path / "body.json"
    path.write_bytes(body)
    code, out, _ = run(
        capsys, "sign", "--body-file", str(path), "--secret", SECRET, "--format", "json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["body"].encode() == body
    assert ",v0=" not in data["headers"]["Stripe-Signature"]  # livemode read from the body
    stripe.WebhookSignature.verify_header(body, data["headers"]["Stripe-Signature"], SECRET)


def test_sign_warns_about_an_api_key_used_as_secret(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys, "sign", "customer.created", "--secret", "sk_test_oops", "--format", "headers"
    )
    assert code == 0
    assert err.startswith(
        "connect-harness: warning: the secret starts with 'sk_': that is an API key"
    )


class _VerifyingHandler(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[int, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            stripe.Webhook.construct_event(body, self.headers.get("Stripe-Signature"), SECRET)
            status = 200
        except (stripe.SignatureVerificationError, ValueError):
            status = 400
        self.received.append((status, body))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def verifying_server() -> Iterator[str]:
    _VerifyingHandler.received = []
    server = HTTPServer(("127.0.0.1", 0), _VerifyingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/webhook"
    server.shutdown()
    server.server_close()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_printed_curl_command_delivers_a_verifiable_event(
    capsys: pytest.CaptureFixture[str], verifying_server: str
) -> None:
    code, out, _ = run(
        capsys, "sign", "customer.created", "--secret", SECRET, "--url", verifying_server,
        "--set", "data.object.description=O'Brien — Zürich", "--timestamp", str(int(time.time())),
    )  # fmt: skip
    assert code == 0
    result = subprocess.run(["sh", "-c", out], capture_output=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert b"HTTP/1.1 200" in result.stdout or b"HTTP/1.0 200" in result.stdout
    [(status, body)] = _VerifyingHandler.received
    assert status == 200
    assert json.loads(body)["data"]["object"]["description"] == "O'Brien — Zürich"


def test_real_subprocess_run() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "connect_harness", "event", "payout.failed", "--live"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["type"] == "payout.failed" and payload["livemode"] is True
    bad = subprocess.run(
        [sys.executable, "-m", "connect_harness", "event", "payout.faild"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr.strip().splitlines() == [
        "connect-harness: error: unknown event type 'payout.faild'; did you mean 'payout.failed'? "
        "(connect-harness events lists all 275)"
    ]


@pytest.mark.skipif(
    not SHARED_SPEC.is_dir(), reason=f"Stripe's data is not at {SHARED_SPEC}: cannot rebuild"
)
def test_contracts_build_reproduces_the_committed_contracts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_dir = tmp_path / "contracts"
    code, out, err = run(
        capsys, "contracts", "build", "--spec-dir", str(SHARED_SPEC), "--out", str(out_dir)
    )
    assert code == 0, err
    assert out == (
        # what the nine sets do not share, each set's api/routes.json and api/objects.json for
        # the fake API, thin.json and README.md
        f"wrote 548 files to {out_dir} (event contracts per API version: 2023-08-16: 232, "
        "2024-09-30.acacia: 254, 2025-03-31.basil: 255, 2025-09-30.clover: 256, "
        "2026-03-25.dahlia: 263, 2026-05-27.dahlia: 263, 2026-09-30.endive: 275, "
        "2026-10-28.endive: 275, 2026-11-18.endive: 275)\n"
    )
    committed = contracts.contracts_dir()
    built = sorted(p.relative_to(out_dir) for p in out_dir.rglob("*") if p.is_file())
    assert built == sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
    for relative in built:
        assert (out_dir / relative).read_bytes() == (committed / relative).read_bytes(), relative


def test_contracts_build_with_a_missing_spec_dir_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_dir = tmp_path / "contracts"
    code, out, err = run(
        capsys, "contracts", "build", "--spec-dir", str(tmp_path / "nope"), "--out", str(out_dir)
    )
    assert code == 2 and out == ""
    assert err.startswith("connect-harness: error: spec folder ") and err.count("\n") == 1
    assert "nope" in err
    assert not out_dir.exists()


def test_contracts_build_single_spec_form_says_what_to_use_instead(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "contracts", "build", "--spec", "spec3.json", "--out", "x")
    assert code == 2 and out == ""
    assert err == (
        "connect-harness: error: contracts build now builds one contract set per API version "
        "from a folder of Stripe's data files: replace --spec/--fixtures/--event-types with "
        "--spec-dir ../shared/stripe-spec\n"
    )
