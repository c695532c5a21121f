"""Who holds an event's claim, and whether that worker is still alive.

A worker killed mid-event (kill -9, OOM, a deploy) leaves its event 'processing'. Waiting out a
fixed lease made every retry of that event answer 409 for ten minutes, although Stripe retries
sooner (https://docs.stripe.com/webhooks#retries: "with an exponential back off" for up to three
days in live mode). So each claim names its worker - host, process id and the process's start time -
and a claim whose worker is known dead on this host is taken over at once. A claim from another
host, or from a worker whose liveness cannot be read, still waits out the lease.
"""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path

__all__ = ["owner_is_dead", "worker_token"]

_PROC = Path("/proc")


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), '' where unknown.

    With the pid it identifies one process: a pid reused by a later process has a later start.
    """
    try:
        stat = (_PROC / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return ""
    fields = stat.rpartition(")")[2].split()
    # After the command name: state is the 1st field (3rd of the line), starttime the 20th (22nd).
    return fields[19] if len(fields) > 19 else ""


def _is_zombie(pid: int) -> bool:
    try:
        stat = (_PROC / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    fields = stat.rpartition(")")[2].split()
    return bool(fields) and fields[0] in ("Z", "X")


@functools.cache
def _host() -> str:
    return socket.gethostname()


def worker_token() -> str:
    """``host/pid/start``: this process, as a claim names it (computed per call: a fork differs)."""
    pid = os.getpid()
    return f"{_host()}/{pid}/{_start_time(pid)}"


def owner_is_dead(token: str | None) -> bool:
    """True only when the worker ``token`` names is known not to be running any more."""
    if not token:
        return False  # a claim from before owners were recorded: the lease decides
    host, _, rest = token.partition("/")
    pid_text, _, start = rest.partition("/")
    if host != _host() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return start != _start_time(pid)  # this pid, but an earlier process that had it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # running, as another user
        pass
    except OSError:
        return False
    if _is_zombie(pid):  # killed, not yet reaped by its parent
        return True
    return bool(start) and _start_time(pid) not in ("", start)
