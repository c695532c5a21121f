"""``--serve`` follows the server, not the launcher (issue 21): a launcher that backgrounds its server
and exits is followed to the server, a server that daemonizes is still stopped at the end, and a
server known gone stops the run at once. Real processes on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connect_harness.checks.process import check_stays_alive
from connect_harness.checks.run import ContractRun, VerifyConfig
from connect_harness.cli import main
from connect_harness.delivery import process as process_module
from connect_harness.delivery.process import MARK, ServedProcess, ServeSecrets
from connect_harness.errors import HarnessError
from connect_harness.stripe_api.fake import FakeStripeAPI
from endpoints.serving import free_port

SECRET = "whsec_serve_process_secret"
TESTS = Path(__file__).resolve().parent
PYTHON = shlex.quote(sys.executable)
IN_TESTS = f"cd {shlex.quote(str(TESTS))} &&"

#: fork, setsid, fork, then the endpoint: a server that leaves the launcher's session and group.
DAEMONIZE = (
    "import os, sys\n"
    "if os.fork(): os._exit(0)\n"
    "os.setsid()\n"
    "if os.fork(): os._exit(0)\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'endpoints.served'])\n"
)

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="finding a daemonized server needs /proc (Linux)"
)


def backgrounding(port: int) -> str:
    """A launcher that starts the server in the background and exits 0 at once."""
    return f"{IN_TESTS} PORT={port} {PYTHON} -m endpoints.served & exit 0"


def with_nohup(port: int) -> str:
    return f"{IN_TESTS} PORT={port} nohup {PYTHON} -m endpoints.served >/dev/null 2>&1 &"


def daemonizing(port: int, *, ignoring_sigterm: bool = False) -> str:
    # An ignored signal stays ignored across exec: the server then dies only by SIGKILL.
    ignore = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    program = (ignore if ignoring_sigterm else "") + DAEMONIZE
    return f"{IN_TESTS} PORT={port} exec {PYTHON} -c {shlex.quote(program)}"


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def left_running(mark: str) -> set[int]:
    """Processes still running with a launch's mark (Linux; empty elsewhere)."""
    marked = process_module._marked_pids(f"{MARK}={mark}")
    return {pid for pid in marked if process_module._running(pid)}


def served(
    command: str, port: int, checks: list[str], events: tuple[str, ...]
) -> tuple[ContractRun, ServedProcess, dict[str, str]]:
    url = f"http://127.0.0.1:{port}/webhook"
    with FakeStripeAPI() as fake:
        process = ServedProcess(command, url, api_base=fake.url, given=ServeSecrets.fresh(SECRET))
        with process:
            config = VerifyConfig(secret=SECRET, events=events, seed=21, examples=1)
            with ContractRun(url, config, fake_api=fake, process=process) as run:
                statuses = {r.id: r.status for r in run.run(checks)}
                assert process.alive or run.died_after is not None
    return run, process, statuses


@pytest.mark.parametrize("launcher", [backgrounding, with_nohup], ids=["and-exit-0", "nohup"])
def test_a_launcher_that_backgrounds_the_server_is_followed_to_it(launcher: object) -> None:
    # Before: "the --serve command exited with code 0 before listening" (or, once listening, the
    # false headline "process exited after #N: every later delivery got no answer").
    port = free_port()
    assert callable(launcher)
    run, process, statuses = served(
        launcher(port), port, ["accepts-valid-events"], ("customer.created", "payout.failed")
    )

    assert process.returncode == 0  # the launcher is long gone ...
    assert statuses == {"accepts-valid-events": "pass"}  # ... the server answered every delivery
    assert run.died_after is None and run.breaker.stopped is None
    assert [cause.text for cause in run.headlines()] == []
    assert not listening(port)  # and it was stopped at the end
    assert left_running(process._mark) == set()


@linux_only
def test_verify_follows_a_daemonized_server_stops_it_and_writes_a_whole_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: the daemon outlived the run (and report.json was left at 0 bytes).
    port = free_port()
    report = tmp_path / "report.json"

    code = main(
        ["verify", "--serve", daemonizing(port), f"http://127.0.0.1:{port}/webhook",
         "--secret", SECRET, "--events", "customer.created", "--examples", "1",
         "--check", "accepts-valid-events", "--check", "rejects-wrong-secret",
         "--report", str(report)]
    )  # fmt: skip

    out = capsys.readouterr().out
    assert code == 0, out
    assert "process exited" not in out
    assert not listening(port)
    summary = json.loads(report.read_text())["summary"]
    assert (summary["passed"], summary["stopped"]) == (2, None)
    assert left_running_with_port(port) == set()


def left_running_with_port(port: int) -> set[int]:
    return process_module._listening_pids(port)


@linux_only
def test_a_second_ctrl_c_kills_a_daemonized_server_at_once() -> None:
    # verify's second Ctrl-C exits at once (os._exit): it calls stop_every_started first.
    port = free_port()
    with FakeStripeAPI() as fake:
        process = ServedProcess(
            daemonizing(port),
            f"http://127.0.0.1:{port}/webhook",
            api_base=fake.url,
            given=ServeSecrets.fresh(SECRET),
        )
        process.start()
        try:
            assert process.alive and left_running(process._mark)
            process_module.stop_every_started()
            assert _gone_soon(process)
        finally:
            process.stop()
    assert not listening(port)


def _gone_soon(process: ServedProcess) -> bool:
    return process.exits_within(10.0)


def test_a_server_known_gone_stops_the_run_at_once() -> None:
    # Before: after the server died, deliveries went on until --stop-after (5) in a row were refused.
    port = free_port()
    command = (
        f"{IN_TESTS} PORT={port} exec {PYTHON} -m endpoints.served --bug exits-after-answering"
    )
    events = ("customer.created", "account.updated", "payout.failed", "invoice.paid")

    run, _, _ = served(command, port, ["accepts-valid-events"], events)

    assert run.died_after is not None and run.breaker.cause == "gone"
    assert run.breaker.stopped == (
        f"the endpoint's process exited after delivery {run.died_after.label}: the run stopped sending"
    )
    later = run.records[run.died_after.sequence + 1 :]
    sent_later = [r for r in later if r.response is not run.breaker.NOT_SENT]
    # At most the refused one that showed it (the exit may be seen before it), then none.
    assert len(sent_later) <= 1 and len(later) > len(sent_later)
    assert [cause.cause for cause in run.headlines()] == ["process-exited"]


def test_a_launcher_that_starts_nothing_is_still_an_error_at_once() -> None:
    port = free_port()
    with FakeStripeAPI() as fake:
        process = ServedProcess(
            "echo no server here; exit 0",
            f"http://127.0.0.1:{port}/webhook",
            api_base=fake.url,
            given=ServeSecrets.fresh(SECRET),
            startup_timeout=20,
        )
        with pytest.raises(
            HarnessError, match=r"exited with code 0 before listening.*no server here"
        ):
            process.start()


def test_the_robustness_page_gives_the_codes_names_and_figures() -> None:
    page = (TESTS.parent / "docs" / "robustness.md").read_text()
    doc = " ".join(page.split())
    assert f"environment (`{MARK}`, fresh per launch)" in doc
    assert f"SIGTERM, then SIGKILL after {process_module.TERM_GRACE:.0f} s" in doc


@linux_only
@pytest.mark.parametrize("presses", [1, 2], ids=["ctrl-c", "ctrl-c-twice"])
def test_ctrl_c_stops_a_daemonized_server_too(presses: int, tmp_path: Path) -> None:
    # One Ctrl-C stops sending and reports; a second exits at once (os._exit): either way the
    # daemon the run started must not outlive it. It ignores SIGTERM, so the stop after one
    # Ctrl-C waits its 5 s before SIGKILL, and a second Ctrl-C lands in that wait at the latest.
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(TESTS.parent / "harness")}
    verify = subprocess.Popen(
        [sys.executable, "-m", "connect_harness", "verify", "--serve",
         daemonizing(port, ignoring_sigterm=True),
         f"http://127.0.0.1:{port}/webhook", "--secret", SECRET, "--seed", "5"],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not listening(port):
            assert verify.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.5)  # delivering by now
        verify.send_signal(signal.SIGINT)
        if presses == 2:
            time.sleep(1.5)
            verify.send_signal(signal.SIGINT)
        _, err = verify.communicate(timeout=60)
    finally:
        if verify.poll() is None:
            verify.kill()
    assert verify.returncode == 130, err
    if presses == 2:
        assert b"interrupted again; stopping without a report" in err
    deadline = time.monotonic() + 10
    while listening(port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not listening(port)


def test_verify_with_a_backgrounding_launcher_passes_stays_alive(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Before: exit 2, "the --serve command exited with code 0 before listening" (and, once it
    # listened, the false headline "process exited after #N: every later delivery got no answer").
    port = free_port()

    code = main(
        ["verify", "--serve", backgrounding(port), f"http://127.0.0.1:{port}/webhook",
         "--secret", SECRET, "--events", "customer.created", "--examples", "1",
         "--check", "stays-alive"]
    )  # fmt: skip

    out = capsys.readouterr().out
    assert code == 0, out
    assert re.search(r"^stays-alive +PASS ", out, re.MULTILINE), out
    assert "process exited" not in out and "ROOT CAUSE" not in out
    assert not listening(port)


def test_a_backgrounded_server_that_dies_is_named_without_its_launchers_exit_code() -> None:
    # The launcher exited 0 long before; its code is not the server's.
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhook"
    command = (
        f"{IN_TESTS} PORT={port} {PYTHON} -m endpoints.served --bug exits-after-answering & exit 0"
    )
    with FakeStripeAPI() as fake:
        process = ServedProcess(command, url, api_base=fake.url, given=ServeSecrets.fresh(SECRET))
        with process:
            config = VerifyConfig(secret=SECRET, events=("customer.created",), seed=21, examples=1)
            with ContractRun(url, config, fake_api=fake, process=process) as run:
                run.run(["accepts-valid-events"])
                (finding,) = check_stays_alive(run)

    assert finding.status == "fail"
    assert finding.reason.startswith("the endpoint's process exited after delivery ")
    assert (finding.actual, process.returncode, process.exit_code) == ("exited", 0, None)
