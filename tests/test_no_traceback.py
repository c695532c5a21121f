"""No traceback, ever: every careless or hostile input found so far is one line on stderr and exit 2
(or a correct result), and a fuzz over argv finds no traceback and no exit 1 (the "a check failed"
code) on bad usage. The Python API's wrong-type calls: tests/test_api_usage_errors.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connect_harness.cli import main

HARNESS = str(Path(__file__).resolve().parents[1] / "harness")
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)


def _cases(tmp: Path) -> dict[str, tuple[list[str], str]]:
    nested = tmp / "nested.json"
    nested.write_text(DEEP)
    body = tmp / "body.json"
    body.write_text('{"id": "evt_1", "livemode": false}')
    return {
        "deep --set": (
            ["event", "payout.failed", "--set", f"data.object.metadata.x={DEEP}"],
            "the JSON is nested too deeply",
        ),
        "deep --merge": (["event", "payout.failed", "--merge", DEEP], "nested too deeply"),
        "contracts build --spec": (["contracts", "build", "--spec", str(nested)], "--spec-dir"),
        "non-UTF-8 --set": (
            ["event", "payout.failed", "--set", "data.object.metadata.x=\udcff"],
            "is not UTF-8 text",
        ),
        "non-UTF-8 --secret": (
            ["sign", "payout.failed", "--secret", "whsec_\udcff"],
            "is not UTF-8 text",
        ),
        "bracketed IPv4": (
            ["sign", "payout.failed", "--secret", "whsec_x", "--url", "http://[127.0.0.1]/x"],
            "is not a valid URL",
        ),
        "empty DNS label": (
            ["verify", "http://localhost..:9/x", "--secret", "whsec_x"],
            "is not a valid host name",
        ),
        "64-character label": (
            ["verify", f"http://{'a' * 64}.example.com/x", "--secret", "whsec_x", "--allow-remote"],
            "is not a valid host name",
        ),
        "--timeout 1e10": (
            ["verify", "http://127.0.0.1:9/x", "--secret", "whsec_x", "--timeout", "1e10"],
            "more than a day",
        ),
        "contracts build --out /proc/x": (
            ["contracts", "build", "--spec-dir", str(tmp / "missing"), "--out", "/proc/x"],
            "",
        ),
        "--body-file /dev/zero": (
            ["sign", "--body-file", "/dev/zero", "--secret", "whsec_x"],
            "is more than 16 MiB",
        ),
        "account with a newline": (
            ["event", "payout.failed", "--account", "acct_x\n"],
            "is not a connected account id",
        ),
        "NaN via --set": (
            ["event", "payout.failed", "--set", "data.object.amount=NaN"],
            "--set data.object.amount: NaN is not a JSON number",
        ),
        "Infinity via --set": (
            ["event", "payout.failed", "--set", "data.object.amount=-Infinity"],
            "is not a JSON number",
        ),
        "port 99999": (
            ["sign", "payout.failed", "--secret", "whsec_x", "--url", "http://127.0.0.1:99999/x"],
            "Port out of range",
        ),
        "--body-file with event options": (
            [
                "sign",
                "--body-file",
                str(body),
                "--secret",
                "whsec_x",
                "--set",
                "a=1",
                "--seed",
                "3",
            ],
            "--set, --seed shape a built event",
        ),
        "lone surrogate in --merge": (
            ["event", "payout.failed", "--merge", '{"\\ud800": 1}'],
            "half of a surrogate pair",
        ),
        "1e99999 in --merge": (
            ["event", "payout.failed", "--merge", '{"a": {"b": [1e99999]}}'],
            "a.b[0] is inf, which JSON cannot hold",
        ),
        "CRLF in the verify URL": (
            ["verify", "http://127.0.0.1:9/hook\r\nX-Evil: 1", "--secret", "whsec_x"],
            "contains '\\r'; a URL has no spaces or control characters",
        ),
        "CRLF in sign --url": (
            ["sign", "payout.failed", "--secret", "whsec_x", "--url", "http://127.0.0.1/a\nb"],
            "contains '\\n'; a URL has no spaces or control characters",
        ),
        "trigger --remove id": (
            [
                "trigger",
                "payout.failed",
                "--remove",
                "id",
                "--forward-to",
                "http://127.0.0.1:9/x",
                "--secret",
                "whsec_x",
            ],
            "--remove id: an event cannot be sent without its id",
        ),
        "stripe-api --api-version bad": (
            ["stripe-api", "--port", "0", "--api-version", "bad"],
            "'bad' is not a Stripe API version",
        ),
    }


CASE_NAMES = [
    "deep --set", "deep --merge", "contracts build --spec", "non-UTF-8 --set",
    "non-UTF-8 --secret", "bracketed IPv4", "empty DNS label", "64-character label",
    "--timeout 1e10", "contracts build --out /proc/x", "--body-file /dev/zero",
    "account with a newline", "NaN via --set", "Infinity via --set", "port 99999",
    "--body-file with event options", "lone surrogate in --merge", "1e99999 in --merge",
    "CRLF in the verify URL", "CRLF in sign --url", "trigger --remove id",
    "stripe-api --api-version bad",
]  # fmt: skip


@pytest.mark.parametrize("name", CASE_NAMES)
def test_each_known_bad_input_is_one_line_and_exit_2(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, message = _cases(tmp_path)[name]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    assert err.startswith("connect-harness: error: ") and err.count("\n") == 1, err
    assert message in err


def test_the_case_list_is_complete(tmp_path: Path) -> None:
    assert list(_cases(tmp_path)) == CASE_NAMES


def test_a_deeply_nested_body_file_is_signed_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nested = tmp_path / "nested.json"
    nested.write_text(DEEP)
    assert (
        main(["sign", "--body-file", str(nested), "--secret", "whsec_x", "--format", "headers"])
        == 0
    )
    assert "Stripe-Signature: t=" in capsys.readouterr().out


def test_real_non_utf8_bytes_in_argv_are_one_line() -> None:
    env = dict(os.environ, PYTHONPATH=HARNESS, LC_ALL="C.UTF-8")
    result = subprocess.run(
        [sys.executable, "-m", "connect_harness", "sign", "payout.failed", "--secret", b"whsec_\xff"],  # type: ignore[list-item]
        env=env, capture_output=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and result.stdout == b""
    assert result.stderr.count(b"\n") == 1 and b"is not UTF-8 text" in result.stderr


# --- the fuzz -------------------------------------------------------------------------------------

COMMANDS = ["event", "sign", "schema", "events", "verify", "trigger", "resend", "nope", "--help"]
FLAGS = [
    "--account", "--platform", "--live", "--api-version", "--set", "--merge", "--seed", "--created",
    "--object-type", "--ascii", "--body-file", "--secret", "--timestamp", "--url", "--format",
    "--json", "--annotated", "--timeout", "--max-response-time", "--events", "--endpoint-type",
    "--mode", "--check", "--stop-after", "--report", "--stripe-account", "--override", "--add",
    "--remove", "--fake-stripe-port", "--seed=-1", "--",
]  # fmt: skip
VALUES = [
    "payout.failed", "account.updated", "acct_1", "acct_x\n", "whsec_x", "NaN", "1e10", "-1",
    "0", "99999", "http://127.0.0.1:9/x", "http://[127.0.0.1]/x", "http://localhost..:9/x",
    "http://127.0.0.1:99999/x", "ftp://x", "data.object.amount=1", "data.object.nope=1",
    "a=NaN", "{}", "[]", '{"a": 1}', "/dev/null", "/proc/x", "\udcff", "\x00", "", " ",
    "2024-06-20", "not-a-version", "curl", "json", "connect", "both", "production",
    "x" * 300, "[" * 2000,
]  # fmt: skip
TOKENS = st.one_of(st.sampled_from(FLAGS), st.sampled_from(VALUES), st.text(max_size=12))


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(command=st.sampled_from(COMMANDS), rest=st.lists(TOKENS, max_size=6))
def test_fuzzed_argv_never_tracebacks_and_never_exits_1(
    command: str, rest: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([command, *rest])
    _, err = capsys.readouterr()
    assert code in (0, 2), (command, rest, err)
    assert "Traceback" not in err
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("connect-harness: error: "), err


def test_signing_the_same_type_twice_gives_two_ids(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    ids = []
    for _ in range(2):
        assert main(["sign", "payout.failed", "--secret", "whsec_x", "--format", "json"]) == 0
        ids.append(json.loads(json.loads(capsys.readouterr().out)["body"])["id"])
    assert ids[0] != ids[1]  # a repeat is not {"duplicate": true} at the endpoint
    assert (
        main(["sign", "payout.failed", "--secret", "whsec_x", "--seed", "4", "--format", "json"])
        == 0
    )


def test_ctrl_c_in_any_command_is_one_line_and_exit_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import connect_harness.cli as cli

    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_cmd_events", interrupted)
    assert main(["events"]) == 130
    out, err = capsys.readouterr()
    assert out == "" and err == "connect-harness: interrupted\n"
