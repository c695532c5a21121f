"""The call lines a long-lived fake prints, written by a thread of their own so that serving never waits
on them.

``connect-harness stripe-api`` prints one line per call. Printed from the request's thread, a full
stdout pipe that nobody reads blocked the request, and the fake stopped answering. Here a request
only puts its line on a bounded queue; a writer thread prints it and appends it to the ``--log``
file. When the queue is full (stdout not read) the line still reaches the log file (written by the
request's thread, a file never blocks as a pipe does) and the stdout copy is counted as dropped.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import IO

__all__ = ["CallPrinter"]

_QUEUE_LINES = 10_000


class CallPrinter:
    """Print lines from a writer thread; never block the caller of :meth:`put`."""

    def __init__(
        self,
        out: Callable[[str], None],
        log: IO[str] | None = None,
        *,
        queue_lines: int = _QUEUE_LINES,
    ) -> None:
        self._out = out
        self._log = log
        self._log_lock = threading.Lock()
        self._queue: queue.Queue[str | None] = queue.Queue(maxsize=queue_lines)
        self.dropped = 0
        self._thread = threading.Thread(target=self._write, name="stripe-api-lines", daemon=True)
        self._thread.start()

    def put(self, line: str) -> None:
        """Queue ``line`` for stdout and append it to the log file; returns at once."""
        if self._log is not None:
            with self._log_lock:
                self._log.write(line + "\n")
                self._log.flush()
        try:
            self._queue.put_nowait(line)
        except queue.Full:
            self.dropped += 1

    def close(self, timeout: float = 1.0) -> None:
        """Print what is queued (waiting at most ``timeout`` seconds) and stop the writer."""
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def _write(self) -> None:
        while (line := self._queue.get()) is not None:
            try:
                self._out(line)
            except (OSError, ValueError):  # stdout closed: the log file still has every line
                continue
