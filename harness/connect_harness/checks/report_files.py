"""Report files (``--report``, ``--junitxml``): checked before the first delivery, written whole or not
at all, and never lost.

A report is written to a temporary file beside its path and renamed onto it, so a run killed while
writing leaves the previous file or the complete new one, never a half-written one. The folder is
tried before the run (an empty path, a folder that does not exist or cannot be written, two flags
naming one file: exit 2 at once). A path that is not a regular file (``/dev/stdout``, a pipe) is
written in place. When writing fails after the run (a full disk), the report is saved in the
system's temporary folder instead and the error line says where.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from connect_harness.errors import UsageError

__all__ = ["ReportFile", "ReportLost", "check_distinct"]


class ReportLost(UsageError):
    """Writing a report failed after the run; the message says where it was saved instead."""


class ReportFile:
    """One report path, checked at once; :meth:`write` puts the whole text there."""

    def __init__(self, path: str, flag: str, *, suffix: str = ".json") -> None:
        self.path = path
        self.flag = flag
        self._suffix = suffix
        if not path.strip():
            raise UsageError(f"{flag} is empty; give a file path such as report.json")
        target = Path(path)
        self._in_place = target.exists() and not target.is_file() and not target.is_dir()
        if target.is_dir():
            raise UsageError(f"cannot write {flag} {path!r}: it is a folder; give a file path")
        if self._in_place:
            self._try_open(lambda: open(path, "a", encoding="utf-8").close())
        else:
            self._try_open(lambda: os.unlink(self._temporary()))

    def write(self, text: str) -> None:
        """Write ``text`` as the whole report (raises :class:`ReportLost` naming a saved copy)."""

        def writer(temporary: str) -> None:
            Path(temporary).write_text(text, encoding="utf-8")

        self.write_with(writer)

    def write_with(self, writer: Callable[[str], None]) -> None:
        """Have ``writer(path)`` write the report to a path, then put it in place."""
        try:
            if self._in_place:
                writer(self.path)
                return
            temporary = self._temporary()
            try:
                writer(temporary)
                with open(temporary, "rb") as written:
                    os.fsync(written.fileno())
                os.chmod(temporary, _mode_for(self.path))
                os.replace(temporary, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError as err:
            raise ReportLost(self._saved_elsewhere(writer, err)) from err

    def _temporary(self) -> str:
        target = Path(self.path)
        handle, temporary = tempfile.mkstemp(
            dir=target.parent if str(target.parent) else ".",
            prefix=f".{target.name}.",
            suffix=".tmp",
        )
        os.close(handle)
        return temporary

    def _try_open(self, attempt: Callable[[], object]) -> None:
        try:
            attempt()
        except (OSError, ValueError) as err:
            reason = getattr(err, "strerror", None) or str(err)
            raise UsageError(
                f"cannot write {self.flag} {self.path!r}: {reason}; give a writable path"
            ) from err

    def _saved_elsewhere(self, writer: Callable[[str], None], err: OSError) -> str:
        what = f"cannot write {self.flag} {self.path!r}: {err.strerror or err}"
        try:
            handle, fallback = tempfile.mkstemp(
                prefix="connect-harness-report-", suffix=self._suffix
            )
            os.close(handle)
            writer(fallback)
        except OSError:
            return f"{what}; the report could not be saved anywhere (the table above has it)"
        return f"{what}; the report is saved at {fallback} instead"


def _mode_for(path: str) -> int:
    """The existing file's permissions, or what a new file gets under the umask (mkstemp's are
    owner-only)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def check_distinct(files: Sequence[ReportFile | None]) -> None:
    """Two report flags naming one file would overwrite each other: refuse before the run."""
    seen: dict[str, str] = {}
    for report in files:
        if report is None:
            continue
        key = os.path.realpath(report.path)
        with contextlib.suppress(OSError):
            if stat.S_ISCHR(os.stat(key).st_mode):
                continue  # /dev/stdout for both is a choice, not a clash
        if key in seen:
            raise UsageError(
                f"{seen[key]} and {report.flag} both name {report.path!r}: one would overwrite the "
                "other; give each its own file"
            )
        seen[key] = report.flag
