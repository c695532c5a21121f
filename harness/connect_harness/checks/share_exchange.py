"""Hand the shares of a split catalogue run from process to process: files in one private folder.

Processes running the same :class:`~connect_harness.checks.shards.ShardedRun` (pytest-xdist workers)
meet in a folder the caller made for them (the xdist controller makes it and removes it). A process
*claims* a share before it delivers it (an exclusive file: exactly one process wins each share, so each
delivery happens once), *publishes* what it observed, and *collects* every share once all are
published. A process that needs a share nobody claimed claims and delivers it itself, so a run never
waits for a process that is busy elsewhere or never asks.
"""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path
from typing import Any

from connect_harness.errors import HarnessError

__all__ = ["ShareExchange"]

#: Seconds between looks at the folder while another process delivers its share.
POLL = 0.02


class ShareExchange:
    """``count`` shares exchanged through ``directory`` (which must exist and be private to the run)."""

    def __init__(self, directory: str | os.PathLike[str], count: int) -> None:
        self.directory = Path(directory)
        self.count = count

    def _claim_path(self, share: int) -> Path:
        return self.directory / f"share-{share}.claim"

    def _data_path(self, share: int) -> Path:
        return self.directory / f"share-{share}.pickle"

    def claim(self, share: int) -> bool:
        """True if this process now owns ``share`` (False: another process claimed it first)."""
        try:
            handle = os.open(self._claim_path(share), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return False
        with os.fdopen(handle, "w") as out:
            out.write(str(os.getpid()))
        return True

    def publish(self, share: int, payload: Any) -> None:
        """Make ``payload`` (picklable) the share's result, all at once for readers."""
        path = self._data_path(share)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(partial, path)

    def collect(self, share: int) -> Any:
        """The published result of ``share``, waiting while its owner still delivers it. A result
        ``{"error": message}`` (its owner's work failed) raises :class:`HarnessError` here."""
        path = self._data_path(share)
        while not path.exists():
            owner = self._owner(share)
            if owner is not None and not _alive(owner):
                if path.exists():  # published just before it ended
                    break
                raise HarnessError(
                    f"the process {owner} that delivered share {share} of the contract checks ended "
                    "without its results; see that worker's error above and run again"
                )
            time.sleep(POLL)
        data: Any = pickle.loads(path.read_bytes())  # written by this run's own processes
        if isinstance(data, dict) and "error" in data:
            raise HarnessError(str(data["error"]))
        return data

    def _owner(self, share: int) -> int | None:
        try:
            text = self._claim_path(share).read_text()
        except FileNotFoundError:
            return None
        return int(text) if text.strip().isdigit() else None  # None: being written


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
