"""Endpoints that never answer, drip, send 100 MB, die mid-run or reset: every delivery is bounded.

``--timeout`` is a deadline for the whole delivery, from connecting to the last byte; answers are kept
up to 64 KiB (their size noted); verify stops after K consecutive deliveries get no answer.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from connect_harness.delivery import UrlTarget, deliver
from connect_harness.delivery.base import KEEP_BYTES, KeptBody
from connect_harness.errors import UsageError
from connect_harness.wire.request import delivery_request

Handler = Callable[[socket.socket], None]
HARNESS = str(Path(__file__).resolve().parents[1] / "harness")


class RawServer:
    """A TCP server on 127.0.0.1 whose every connection is handled by ``handler``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/webhook"
        self.connections = 0
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            _read_request(conn)
            self.handler(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._stop = True
        self.sock.close()


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += conn.recv(65536)


def never_answers(conn: socket.socket) -> None:
    time.sleep(30)


def drips(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(1000):
        conn.sendall(b"x")
        time.sleep(0.1)  # each byte well inside any per-read timeout


def huge(conn: socket.socket) -> None:
    size = 100 * 1024 * 1024
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
    block = b"y" * (1024 * 1024)
    for _ in range(100):
        conn.sendall(block)


def resets(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def ok(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], RawServer]]:
    servers: list[RawServer] = []

    def start(handler: Handler) -> RawServer:
        server = RawServer(handler)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def _request(url: str) -> object:
    return delivery_request(b"{}", secrets="whsec_x", timestamp=1, livemode=False, url=url)


def test_a_dripping_endpoint_is_cut_off_at_the_deadline(
    serve: Callable[[Handler], RawServer],
) -> None:
    server = serve(drips)
    started = time.monotonic()
    response = deliver(_request(server.url), UrlTarget(server.url), timeout=1.0)  # type: ignore[arg-type]
    took = time.monotonic() - started
    assert response.status == 0 and response.error == "timed out after 1 s"
    assert took < 3.0  # per-read timeouts alone would take 100 s


def test_an_endpoint_that_never_answers_times_out(serve: Callable[[Handler], RawServer]) -> None:
    server = serve(never_answers)
    response = deliver(_request(server.url), UrlTarget(server.url), timeout=0.5)  # type: ignore[arg-type]
    assert response.status == 0 and response.error == "timed out after 0.5 s"


def test_a_100_mb_answer_is_kept_to_64_kib_and_its_size_noted(
    serve: Callable[[Handler], RawServer],
) -> None:
    server = serve(huge)
    response = deliver(_request(server.url), UrlTarget(server.url), timeout=60)  # type: ignore[arg-type]
    assert response.status == 200
    assert len(response.body) == KEEP_BYTES == 64 * 1024
    assert response.size == 100 * 1024 * 1024 and response.truncated


def test_a_reset_is_a_failed_delivery(serve: Callable[[Handler], RawServer]) -> None:
    server = serve(resets)
    response = deliver(_request(server.url), UrlTarget(server.url), timeout=5)  # type: ignore[arg-type]
    assert response.status == 0 and response.error is not None
    assert "no HTTP response" in response.error


def test_kept_body_counts_everything_and_keeps_the_start() -> None:
    kept = KeptBody(limit=5)
    for chunk in (b"abc", b"defg", b"", b"hij"):
        kept.append(chunk)
    assert kept.body == b"abcde" and kept.size == 10


@pytest.mark.parametrize("timeout", [0, -1, 1e10, float("nan"), "30", True, None])
def test_deliver_refuses_a_timeout_that_is_not_a_sane_number(timeout: object) -> None:
    with pytest.raises(UsageError, match="timeout"):
        deliver(
            _request("http://127.0.0.1:9/x"), UrlTarget("http://127.0.0.1:9/x"), timeout=timeout
        )  # type: ignore[arg-type]


# --- verify against hostile endpoints -------------------------------------------------------------


def _verify(url: str, tmp_path: Path, *extra: str) -> tuple[int, str, str, float]:
    import subprocess
    import sys

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [HARNESS, env.get("PYTHONPATH")]))
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "connect_harness", "verify", url, "--secret", "whsec_x",
         "--events", "account.updated", "--seed", "1", *extra],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return result.returncode, result.stdout, result.stderr, time.monotonic() - started


@pytest.mark.parametrize("handler", [never_answers, drips, resets], ids=lambda h: h.__name__)
def test_verify_stops_after_k_deliveries_without_an_answer(
    handler: Handler, serve: Callable[[Handler], RawServer], tmp_path: Path
) -> None:
    server = serve(handler)
    report = tmp_path / "r.json"
    code, out, err, took = _verify(
        server.url, tmp_path, "--timeout", "0.5", "--stop-after", "3", "--report", str(report)
    )
    assert code == 1, err
    headline = [line for line in out.splitlines() if "stopped answering" in line]
    assert headline == [headline[0]] and headline[0].startswith(
        "connect-harness: the endpoint stopped answering after delivery 0: 3 deliveries in a row "
        "got no answer"
    )
    assert server.connections == 1 + 3  # the reachability probe, then 3 deliveries: no more
    assert json.loads(report.read_text())["summary"]["stopped"].startswith("the endpoint stopped")
    assert took < 60  # bounded by K x timeout plus start-up, never ~950 x timeout
    assert "Traceback" not in err


def test_verify_stops_when_the_endpoint_dies_mid_run(
    serve: Callable[[Handler], RawServer], tmp_path: Path
) -> None:
    answered = 0

    def dies_after_four(conn: socket.socket) -> None:  # the reachability probe, then 3 answers
        nonlocal answered
        answered += 1
        if answered <= 4:
            ok(conn)
        else:
            time.sleep(30)

    server = serve(dies_after_four)
    code, out, _, _ = _verify(server.url, tmp_path, "--timeout", "0.5")
    assert code == 1
    assert "connect-harness: the endpoint stopped answering after delivery 3: 5 deliveries" in out
    assert server.connections == 1 + 3 + 5


def test_an_unwritable_report_is_exit_2_before_any_delivery(
    serve: Callable[[Handler], RawServer], tmp_path: Path
) -> None:
    server = serve(ok)
    for flag in ("--report", "--junitxml"):
        code, out, err, _ = _verify(server.url, tmp_path, flag, str(tmp_path / "no" / "r.json"))
        assert code == 2 and out == ""
        assert (
            err.startswith(f"connect-harness: error: cannot write {flag} ") and err.count("\n") == 1
        )
    assert server.connections == 2  # the reachability probes only: no delivery


def test_ctrl_c_writes_the_partial_report_and_exits_130(
    serve: Callable[[Handler], RawServer], tmp_path: Path
) -> None:
    import subprocess
    import sys

    def slow_ok(conn: socket.socket) -> None:
        time.sleep(0.2)
        ok(conn)

    server = serve(slow_ok)
    report = tmp_path / "partial.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [HARNESS, env.get("PYTHONPATH")]))
    process = subprocess.Popen(
        [sys.executable, "-m", "connect_harness", "verify", server.url, "--secret", "whsec_x",
         "--seed", "1", "--report", str(report)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while server.connections < 1 + 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert err.splitlines()[-1].startswith("connect-harness: interrupted; reported the ")
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    summary = json.loads(report.read_text())["summary"]
    assert summary["stopped"].startswith("interrupted after delivery ")
    assert summary["sent"] >= 3 and summary["deliveries"] >= summary["sent"]


@pytest.mark.parametrize("gap", [0.05, 0.6])
def test_a_second_ctrl_c_during_shutdown_is_one_line_and_exit_130(
    serve: Callable[[Handler], RawServer], tmp_path: Path, gap: float
) -> None:
    """The second Ctrl-C lands while the run stops, reports or shuts the fake down (``gap`` after
    the first): whichever, one line on stderr (not lost to the check session's capture of file
    descriptor 2) and exit 130, never a KeyboardInterrupt traceback."""
    import subprocess
    import sys

    def slow_ok(conn: socket.socket) -> None:
        time.sleep(0.2)
        ok(conn)

    server = serve(slow_ok)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [HARNESS, env.get("PYTHONPATH")]))
    process = subprocess.Popen(
        [sys.executable, "-m", "connect_harness", "verify", server.url, "--secret", "whsec_x",
         "--seed", "1", "--report", str(tmp_path / "partial.json")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while server.connections < 1 + 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    time.sleep(gap)
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.count("\n") == 1 and err.startswith("connect-harness: interrupted"), err


def test_after_a_first_ctrl_c_the_handler_stays_for_the_shutdown() -> None:
    from connect_harness.verify import _interruptible

    stopped: list[bool] = []
    before = signal.getsignal(signal.SIGINT)
    try:
        with _interruptible(lambda: stopped.append(True)) as interrupted:
            handler = signal.getsignal(signal.SIGINT)
            assert callable(handler)
            handler(signal.SIGINT, None)  # the first Ctrl-C
        assert interrupted.is_set() and stopped == [True]
        assert signal.getsignal(signal.SIGINT) is handler  # a second one still meets it
        with _interruptible(lambda: None):
            pass
        assert signal.getsignal(signal.SIGINT) is handler  # no Ctrl-C: the previous one again
    finally:
        signal.signal(signal.SIGINT, before)


def test_progress_line_only_on_a_terminal_and_after_two_seconds() -> None:
    from connect_harness.verify import _Progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    _Progress.AFTER, saved = 0.05, _Progress.AFTER
    try:
        tty = Tty()
        with _Progress(lambda: 7, tty) as progress:
            time.sleep(0.3)
        assert progress.shown and "\r\x1b[K  7 deliveries, 0 s" in tty.getvalue()
        assert tty.getvalue().endswith("\r\x1b[K")
        pipe = io.StringIO()
        with _Progress(lambda: 7, pipe) as progress:
            time.sleep(0.3)
        assert not progress.shown and pipe.getvalue() == ""
    finally:
        _Progress.AFTER = saved
    with _Progress(lambda: 7, Tty()) as progress:  # a quick run shows nothing
        pass
    assert not progress.shown


# --- what the endpoint sends is shown, never obeyed -------------------------------------------------

HOSTILE_BODY = b"\x1b[2J\x1b[H\x07all checks passed\r\n\x1b]0;owned\x07 \x00\x0b\xc2\x9b"


def escape_sequences(conn: socket.socket) -> None:
    # A redirect (its Location is quoted in findings) with a hostile status line and body.
    conn.sendall(
        b"HTTP/1.1 302 \x1b[2JFound\x07\r\nLocation: http://127.0.0.1/\x1b[2J\x1b[Hall checks "
        b"passed\x07\r\nContent-Length: "
        + str(len(HOSTILE_BODY)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + HOSTILE_BODY
    )


def test_control_characters_from_the_endpoint_reach_no_output_raw(
    serve: Callable[[Handler], RawServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import xml.etree.ElementTree as ET

    from connect_harness.cli import main

    server = serve(escape_sequences)
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    code = main(
        ["verify", server.url, "--secret", "whsec_x", "--events", "account.updated", "--seed", "1",
         "--timeout", "2", "--junitxml", str(junit), "--report", str(report)]
    )  # fmt: skip
    out, err = capsys.readouterr()

    assert code == 1, err
    for text in (out, err, junit.read_text(encoding="utf-8"), report.read_text(encoding="utf-8")):
        assert not any(char in text for char in "\x1b\x07\x00\x0b\x9b")
    assert "\\x1b[2J\\x1b[Hall checks passed" in out  # the Location is shown, escaped
    ET.parse(junit)  # well-formed
    json.loads(report.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--report", ""], "--report is empty"),
        (["--report", "{tmp}/same", "--junitxml", "{tmp}/same"], "both name"),
    ],
)
def test_report_flags_that_cannot_work_are_exit_2_before_any_delivery(
    flags: list[str],
    message: str,
    serve: Callable[[Handler], RawServer],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from connect_harness.cli import main

    server = serve(ok)
    argv = ["verify", server.url, "--secret", "whsec_x", "--events", "account.updated"]
    code = main([*argv, *(flag.format(tmp=tmp_path) for flag in flags)])

    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and message in err
    assert server.connections <= 1  # the reachability probe at most: no delivery


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_report_lost_after_the_run_is_saved_elsewhere_and_the_junit_still_written(
    serve: Callable[[Handler], RawServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from connect_harness.cli import main

    server = serve(ok)
    junit = tmp_path / "junit.xml"
    code = main(
        ["verify", server.url, "--secret", "whsec_x", "--events", "account.updated", "--seed", "1",
         "--timeout", "2", "--report", "/dev/full", "--junitxml", str(junit)]
    )  # fmt: skip

    err = capsys.readouterr().err
    assert code == 2
    line = next(line for line in err.splitlines() if "--report" in line)
    assert "No space left on device; the report is saved at " in line
    saved = Path(line.rpartition("saved at ")[2].removesuffix(" instead"))
    try:
        assert "summary" in json.loads(saved.read_text(encoding="utf-8"))
    finally:
        saved.unlink()
    assert junit.read_text(encoding="utf-8").startswith("<?xml")
    assert "Traceback" not in err


def not_http(conn: socket.socket) -> None:
    conn.sendall(b"SSH-2.0-OpenSSH\x1b[2J\r\nmore garbage\x07\r\n\r\n")


def test_an_answer_that_is_not_http_is_one_escaped_line(
    serve: Callable[[Handler], RawServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from connect_harness.cli import main

    server = serve(not_http)
    code = main(
        ["verify", server.url, "--secret", "whsec_x", "--events", "account.updated", "--seed", "1",
         "--timeout", "2", "--stop-after", "2"]
    )  # fmt: skip
    out, err = capsys.readouterr()

    assert code == 1, err
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out
    headline = next(line for line in out.splitlines() if "stopped answering" in line)
    assert "SSH-2.0-OpenSSH\\x1b[2J" in headline
