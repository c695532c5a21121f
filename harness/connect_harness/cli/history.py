"""``listen``'s history on disk: every event a session sent, so ``resend`` works after a restart.

A session kept what it sent in memory only: after ``listen`` was stopped (or killed) and started
again, ``resend evt_...`` of anything sent before failed. Each sent event is now appended as one
JSON line (its exact bytes, its seed) to ``listen-history.jsonl`` beside the session file, and
fsynced before the delivery, so a kill -9 loses at most the line being written; a torn last line is
skipped when the history is read. The file keeps the latest :data:`KEEP` events: when it holds twice
that many it is rewritten (to a temporary file, then renamed) with the latest ones.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["KEEP", "History", "SentEvent"]

KEEP = 1000
"""Events the history keeps (the Stripe CLI's resend reaches back 30 days; ours, 1000 events)."""


@dataclass(frozen=True)
class SentEvent:
    """One event as it was sent: its payload, exact bytes, seed, and whether it was thin."""

    payload: Mapping[str, Any]
    body: bytes
    seed: int
    thin: bool = False


class History:
    """An append-only, fsynced file of sent events, read back on :meth:`load`."""

    def __init__(self, path: Path, *, keep: int = KEEP) -> None:
        self.path = path
        self._keep = keep
        self._lock = threading.Lock()
        self._lines = 0

    def load(self) -> dict[str, SentEvent]:
        """Every event the file holds, by id, oldest first (a torn or foreign line is skipped)."""
        events: dict[str, SentEvent] = {}
        try:
            text = self.path.read_bytes().decode("utf-8", "replace")
        except OSError:
            return events
        for line in text.splitlines():
            sent = _parse(line)
            if sent is not None:
                events.pop(str(sent.payload["id"]), None)
                events[str(sent.payload["id"])] = sent
        self._lines = len(text.splitlines())
        if self._lines > 2 * self._keep:
            latest = list(events.values())[-self._keep :]
            self._rewrite(latest)
            events = {str(sent.payload["id"]): sent for sent in latest}
        return events

    def append(self, sent: SentEvent) -> None:
        """Add one event; on disk (fsynced) when this returns. A write error is not fatal: the
        session still has the event in memory."""
        line = _line(sent)
        with self._lock, contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(descriptor, (line + "\n").encode("ascii"))
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            self._lines += 1

    def _rewrite(self, events: list[SentEvent]) -> None:
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with contextlib.suppress(OSError):
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.writelines(_line(sent) + "\n" for sent in events)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
            self._lines = len(events)


def _line(sent: SentEvent) -> str:
    body = base64.b64encode(sent.body).decode("ascii")
    record = {"id": sent.payload["id"], "seed": sent.seed, "thin": sent.thin, "body": body}
    return json.dumps(record)


def _parse(line: str) -> SentEvent | None:
    try:
        record = json.loads(line)
        body = base64.b64decode(record["body"], validate=True)
        payload = json.loads(body)
        seed = record["seed"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("id"), str):
        return None
    if isinstance(seed, bool) or not isinstance(seed, int):
        return None
    return SentEvent(payload, body, seed, record.get("thin") is True)
