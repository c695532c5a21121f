"""A launched endpoint: start the team's server as a process, wait for its port, capture its output.

``verify --serve "CMD" URL`` (plugin: ``--connect-serve``) runs ``CMD`` through the shell in a process
group of its own, with the environment pointing at the fake Stripe API (:func:`serve_environment`):
``STRIPE_API_BASE``, ``STRIPE_WEBHOOK_SECRET``, ``STRIPE_SECRET_KEY_TEST`` and ``STRIPE_SECRET_KEY_LIVE``
(made-up keys, fresh per run, so finding them in the output proves the endpoint printed them). Its
stdout and stderr are read by two threads into one bounded buffer (the last :data:`OUTPUT_LIMIT`
characters). :meth:`ServedProcess.stop` ends the whole group (SIGTERM, then SIGKILL), so a server that
forks workers leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import IO
from urllib.parse import urlsplit

from connect_harness.errors import HarnessError, UsageError

__all__ = ["OUTPUT_LIMIT", "ServeSecrets", "ServedProcess", "serve_environment"]

#: Characters of the process's output kept (the newest).
OUTPUT_LIMIT = 256 * 1024


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
        self._env = {**os.environ, **serve_environment(api_base, given)}
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
        for stream in (self._proc.stdout, self._proc.stderr):
            assert stream is not None
            reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
            reader.start()
            self._readers.append(reader)
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._join_readers()
                self.stop()
                raise HarnessError(
                    f"the --serve command exited with code {self._proc.returncode} before "
                    f"listening at {self.url}; its last output: {self.last_lines(5) or '(none)'}"
                )
            if self._port_open():
                return
            time.sleep(0.05)
        self.stop()
        raise HarnessError(
            f"the --serve command did not listen at {self.url} within {self._startup_timeout:g} s; "
            f"check the port; its last output: {self.last_lines(5) or '(none)'}"
        )

    def stop(self) -> None:
        """End the process group: SIGTERM, then SIGKILL after 5 s. Safe to call twice."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        else:
            _signal_group(proc.pid, signal.SIGKILL)  # workers it left behind
        self._join_readers()

    # --- observing -------------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self._proc is not None and self._proc.poll() is None

    def exits_within(self, seconds: float) -> bool:
        """True if the process has exited or exits within ``seconds``.

        A dying process closes its listening socket a moment before it can be reaped, and on a busy
        machine that moment is long: a delivery refused in it would otherwise be blamed on a check.
        """
        if self._proc is None:
            return False
        try:
            self._proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return False
        return True

    @property
    def returncode(self) -> int | None:
        """The exit code once it exited (negative: the signal that ended it)."""
        return None if self._proc is None else self._proc.poll()

    def output(self) -> str:
        """Everything it printed (stdout and stderr interleaved), the newest OUTPUT_LIMIT characters."""
        with self._lock:
            return "".join(self._output)

    def last_lines(self, count: int) -> str:
        """Its last ``count`` non-empty output lines joined with `` | ``."""
        lines = [line.strip() for line in self.output().splitlines() if line.strip()]
        return " | ".join(lines[-count:])

    # --- internals -------------------------------------------------------------------------------

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


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
