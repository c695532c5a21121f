"""A launched endpoint: start the team's server as a process, wait for its port, capture its output.

``verify --serve "CMD" URL`` (plugin: ``--connect-serve``) runs ``CMD`` through the shell in a process
group of its own, with the environment pointing at the fake Stripe API (:func:`serve_environment`):
``STRIPE_API_BASE``, ``STRIPE_WEBHOOK_SECRET``, ``STRIPE_SECRET_KEY_TEST`` and ``STRIPE_SECRET_KEY_LIVE``
(made-up keys, fresh per run, so finding them in the output proves the endpoint printed them). Its
stdout and stderr are read by two threads into one bounded buffer (the last :data:`OUTPUT_LIMIT`
characters).

The run follows the server, not the launcher (issue 21): a command that backgrounds its server and
exits (``sh -c 'python server.py & exit 0'``, ``nohup ... &``) is alive while anything it started
runs or its port accepts connections. What it started is found three ways: its process group; on
Linux, every process whose environment carries the run's mark (:data:`MARK`, which children inherit,
so a server that daemonizes with fork, setsid, fork is still found); and, on Linux, whatever listens
on the URL's port. :meth:`ServedProcess.stop` ends all of them (SIGTERM, then SIGKILL after 5 s). On
other systems (no ``/proc``) only the process group is ended: a server that left its group (setsid)
is then left running, and its port is what tells the run it lives.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import IO
from urllib.parse import urlsplit

from connect_harness.errors import HarnessError, UsageError

__all__ = [
    "MARK",
    "OUTPUT_LIMIT",
    "ServeSecrets",
    "ServedProcess",
    "serve_environment",
    "stop_every_started",
]

#: Characters of the process's output kept (the newest).
OUTPUT_LIMIT = 256 * 1024

#: The environment variable, fresh per launch, by which the run knows every process it started.
MARK = "CONNECT_HARNESS_SERVED"

#: Seconds a stop waits after SIGTERM before SIGKILL.
TERM_GRACE = 5.0

_PROC = "/proc"

#: Launched processes not stopped yet, for :func:`stop_every_started` (a second Ctrl-C).
_STARTED: set[ServedProcess] = set()


@dataclass(frozen=True)
class ServeSecrets:
    """What the launched endpoint is given and must never print."""

    webhook_secret: str
    key_test: str
    key_live: str

    @classmethod
    def fresh(cls, webhook_secret: str) -> ServeSecrets:
        """Made-up keys unique to this run (``sk_test_harness...``), with the run's signing secret."""
        tail = secrets.token_hex(12)
        return cls(webhook_secret, f"sk_test_harness{tail}", f"sk_live_harness{tail}")

    def named(self) -> tuple[tuple[str, str], ...]:
        """(what, value) for each secret."""
        return (
            ("the webhook signing secret", self.webhook_secret),
            ("the test-mode API key", self.key_test),
            ("the live-mode API key", self.key_live),
        )


def serve_environment(api_base: str, given: ServeSecrets) -> dict[str, str]:
    """The variables a launched endpoint gets on top of the current environment."""
    return {
        "STRIPE_API_BASE": api_base,
        "STRIPE_WEBHOOK_SECRET": given.webhook_secret,
        "STRIPE_SECRET_KEY_TEST": given.key_test,
        "STRIPE_SECRET_KEY_LIVE": given.key_live,
    }


class ServedProcess:
    """``command`` run through the shell as a process group, answering at ``url`` once started.

    It gets :func:`serve_environment` (``api_base``, ``given``) on top of the current environment.
    """

    def __init__(
        self,
        command: str,
        url: str,
        *,
        api_base: str,
        given: ServeSecrets,
        startup_timeout: float = 30.0,
    ) -> None:
        if not command.strip():
            raise UsageError(
                'the --serve command is empty; pass the command that starts the endpoint, e.g. --serve "python app.py"'
            )
        parts = urlsplit(url)
        if parts.hostname is None:
            raise UsageError(
                f"cannot serve at {url!r}: give the URL the command listens on, e.g. http://127.0.0.1:8000/webhook"
            )
        self.command = command
        self.url = url
        self._address = (parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        self.secrets = given
        self._mark = secrets.token_hex(8)
        self._env = {**os.environ, **serve_environment(api_base, given), MARK: self._mark}
        #: Processes of this launch last seen running (Linux), checked before a full scan.
        self._known: set[int] = set()
        #: True once the server was seen running after the launcher exited.
        self._outlived_launcher = False
        self._startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._output: list[str] = []
        self._size = 0
        self._lock = threading.Lock()
        self._readers: list[threading.Thread] = []

    # --- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> ServedProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the command and wait until its port accepts connections (HarnessError if not)."""
        if self._proc is not None:
            return
        if self._port_open():
            raise UsageError(
                f"something already listens at {self._address[0]}:{self._address[1]}; stop it, or "
                "give --serve a URL with a free port"
            )
        self._proc = subprocess.Popen(
            self.command,
            shell=True,
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        _STARTED.add(self)
        for stream in (self._proc.stdout, self._proc.stderr):
            assert stream is not None
            reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
            reader.start()
            self._readers.append(reader)
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self._port_open():
                return
            # A launcher that backgrounds the server exits at once: wait on what it started.
            if self._proc.poll() is not None and not self._started_running():
                self.stop()
                raise HarnessError(
                    f"the --serve command exited with code {self._proc.returncode} before "
                    f"listening at {self.url}; its last output: {self.last_lines(5) or '(none)'}"
                )
            time.sleep(0.05)
        self.stop()
        raise HarnessError(
            f"the --serve command did not listen at {self.url} within {self._startup_timeout:g} s; "
            f"check the port; its last output: {self.last_lines(5) or '(none)'}"
        )

    def stop(self) -> None:
        """End everything the command started (its group, the processes marked as this launch's,
        what listens on its port): SIGTERM, then SIGKILL after :data:`TERM_GRACE`. Safe to call
        twice."""
        proc = self._proc
        if proc is None:
            return
        self._signal_all(signal.SIGTERM)
        deadline = time.monotonic() + TERM_GRACE
        while time.monotonic() < deadline and (proc.poll() is None or self._started_running()):
            time.sleep(0.05)
        self._signal_all(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        _STARTED.discard(self)
        self._join_readers()

    def kill(self) -> None:
        """SIGKILL everything the command started, at once (a second Ctrl-C: no time to wait)."""
        if self._proc is not None:
            self._signal_all(signal.SIGKILL)
            _STARTED.discard(self)

    def _signal_all(self, sig: signal.Signals) -> None:
        assert self._proc is not None
        _signal_group(self._proc.pid, sig)
        for pid in self._marked() | _listening_pids(self._address[1]):
            if pid != os.getpid():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)

    # --- observing -------------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """True while the server runs: the launcher, or anything it started (its process group, a
        process marked as this launch's), runs, or the port accepts connections. A launcher that
        backgrounded the server and exited is not the server's death."""
        if self._proc is None:
            return False
        if self._proc.poll() is None:
            return True
        running = self._started_running() or self._port_open()
        self._outlived_launcher = self._outlived_launcher or running
        return running

    def exits_within(self, seconds: float) -> bool:
        """True if the server is gone (see :attr:`alive`) or goes within ``seconds``.

        A dying process closes its listening socket a moment before it can be reaped, and on a busy
        machine that moment is long: a delivery refused in it would otherwise be blamed on a check.
        """
        if self._proc is None:
            return False
        deadline = time.monotonic() + seconds
        while self.alive:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    @property
    def returncode(self) -> int | None:
        """The launcher's exit code once it exited (negative: the signal that ended it)."""
        return None if self._proc is None else self._proc.poll()

    @property
    def exit_code(self) -> int | None:
        """The server's exit code, when the launcher was the server (it did not outlive it);
        None while it runs or when it was a process the launcher left behind (not ours to reap)."""
        return None if self._outlived_launcher else self.returncode

    def output(self) -> str:
        """Everything it printed (stdout and stderr interleaved), the newest OUTPUT_LIMIT characters."""
        with self._lock:
            return "".join(self._output)

    def last_lines(self, count: int) -> str:
        """Its last ``count`` non-empty output lines joined with `` | ``."""
        lines = [line.strip() for line in self.output().splitlines() if line.strip()]
        return " | ".join(lines[-count:])

    # --- internals -------------------------------------------------------------------------------

    def _started_running(self) -> bool:
        """True if a process the command started runs (its group, or one marked as this launch's)."""
        assert self._proc is not None
        if _group_exists(self._proc.pid):
            return True
        if any(_running(pid) for pid in self._known):
            return True
        return bool(self._marked())

    def _marked(self) -> set[int]:
        """Running processes whose environment carries this launch's mark (Linux; else none)."""
        self._known = {pid for pid in _marked_pids(f"{MARK}={self._mark}") if _running(pid)}
        return self._known

    def _port_open(self) -> bool:
        try:
            with socket.create_connection(self._address, timeout=0.2):
                return True
        except OSError:
            return False

    def _read(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            text = raw.decode("utf-8", "replace")
            with self._lock:
                self._output.append(text)
                self._size += len(text)
                while self._size > OUTPUT_LIMIT and len(self._output) > 1:
                    self._size -= len(self._output.pop(0))
        stream.close()

    def _join_readers(self) -> None:
        for reader in self._readers:
            reader.join(timeout=2)


def stop_every_started() -> None:
    """SIGKILL everything every launched, not yet stopped, command started (a second Ctrl-C exits
    at once: what the run started must not outlive it)."""
    for process in list(_STARTED):
        process.kill()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _group_exists(pgid: int) -> bool:
    """True if a process of group ``pgid`` runs. A zombie does not count: a server that died after
    its launcher exited waits, unreaped, for init (which may take its time in a container)."""
    pids = _pids()
    if pids:
        return any(_group_of(pid) == pgid and _running(pid) for pid in pids)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _group_of(pid: int) -> int | None:
    """The process group of ``pid`` (Linux, from /proc), or None when it cannot be read."""
    try:
        with open(f"{_PROC}/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[-1].split()
        return int(fields[2])
    except (OSError, IndexError, ValueError):
        return None


def _running(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie (on Linux: its state in /proc)."""
    try:
        with open(f"{_PROC}/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[-1].split()
    except OSError:
        return False
    return bool(fields) and fields[0] not in (b"Z", b"X")


def _pids() -> list[int]:
    if not sys.platform.startswith("linux"):
        return []
    try:
        return [int(name) for name in os.listdir(_PROC) if name.isdigit()]
    except OSError:
        return []


def _marked_pids(needle: str) -> set[int]:
    """Processes of this user whose environment holds ``needle`` (``NAME=value``)."""
    wanted = needle.encode()
    found = set()
    for pid in _pids():
        try:
            with open(f"{_PROC}/{pid}/environ", "rb") as environ:
                if wanted in environ.read().split(b"\0"):
                    found.add(pid)
        except OSError:
            continue
    return found


def _listening_pids(port: int) -> set[int]:
    """Processes of this user with a socket listening on ``port`` (Linux; else none)."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            with open(f"{_PROC}/net/{table}", encoding="ascii") as lines:
                next(lines, None)
                for line in lines:
                    fields = line.split()
                    local, state, inode = fields[1], fields[3], fields[9]
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                        inodes.add(f"socket:[{inode}]")
        except (OSError, IndexError, ValueError):
            continue
    if not inodes:
        return set()
    found = set()
    for pid in _pids():
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"{_PROC}/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"{_PROC}/{pid}/fd/{fd}") in inodes:
                        found.add(pid)
                        break
    return found
