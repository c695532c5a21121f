"""``listen`` after kill -9: its history is on disk, so ``resend`` of an event sent before the
restart works; the history survives a torn last line; the session file is replaced whole (issue 21).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from connect_harness.cli.history import History, SentEvent
from test_listen import Endpoint, _ended, cli, cli_env


def _event(event_id: str) -> SentEvent:
    payload = {"id": event_id, "object": "event", "type": "payout.failed"}
    return SentEvent(payload, json.dumps(payload).encode(), seed=7)


def test_the_history_reads_back_what_was_appended_and_skips_a_torn_line(tmp_path: Path) -> None:
    history = History(tmp_path / "h.jsonl")
    history.append(_event("evt_1"))
    history.append(_event("evt_2"))
    with (tmp_path / "h.jsonl").open("a", encoding="ascii") as handle:
        handle.write('{"id": "evt_3", "seed": 7, "bo')  # killed mid-write

    events = History(tmp_path / "h.jsonl").load()

    assert list(events) == ["evt_1", "evt_2"]
    assert events["evt_2"].body == _event("evt_2").body and events["evt_2"].seed == 7
    assert (tmp_path / "h.jsonl").stat().st_mode & 0o777 == 0o600


def test_the_history_keeps_the_latest_events_when_it_grows(tmp_path: Path) -> None:
    history = History(tmp_path / "h.jsonl", keep=3)
    for index in range(7):
        history.append(_event(f"evt_{index}"))

    events = History(tmp_path / "h.jsonl", keep=3).load()

    assert list(events) == ["evt_4", "evt_5", "evt_6"]
    assert len((tmp_path / "h.jsonl").read_text(encoding="ascii").splitlines()) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["h.jsonl"]


def _listen(cache: Path, endpoint: Endpoint) -> subprocess.Popen[str]:
    listen = subprocess.Popen(
        [sys.executable, "-m", "connect_harness", "listen", "--forward-to", f"{endpoint.url}/hook"],
        env=cli_env(cache),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert listen.stdout is not None
    assert listen.stdout.readline().startswith("> Ready!")
    return listen


def test_resend_after_listen_was_killed_and_started_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    secret = cli(cache, "listen", "--print-secret").stdout.strip()
    endpoint = Endpoint(secret)
    first = _listen(cache, endpoint)
    try:
        sent = cli(cache, "trigger", "payout.failed")
        assert sent.returncode == 0, sent.stderr
        event_id = endpoint.received[0]["payload"]["id"]
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        second = _listen(cache, endpoint)
        try:
            resent = cli(cache, "resend", event_id)
        finally:
            second.terminate()
            _ended(second)
    finally:
        if first.returncode is None:
            first.kill()
        _ended(first)
        endpoint.close()

    assert resent.returncode == 0, resent.stderr
    assert [r["payload"]["id"] for r in endpoint.received] == [event_id, event_id]
    assert endpoint.received[1]["payload"] == endpoint.received[0]["payload"]


def test_listen_warns_that_an_api_key_is_not_a_signing_secret(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    endpoint = Endpoint("sk_test_notasecret")
    listen = subprocess.Popen(
        [sys.executable, "-m", "connect_harness", "listen", "--forward-to", f"{endpoint.url}/hook",
         "--secret", "sk_test_notasecret"],
        env=cli_env(cache), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert listen.stdout is not None and listen.stderr is not None
        assert listen.stdout.readline().startswith("> Ready!")
        warning = listen.stderr.readline()
    finally:
        listen.terminate()
        _ended(listen)
        endpoint.close()

    assert warning.startswith("connect-harness: warning: the secret starts with 'sk_'")
    assert "notasecret" not in warning
