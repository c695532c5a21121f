"""Delivery over real HTTP/1.1 to a URL, never following redirects; loopback unless allowed."""

from __future__ import annotations

import contextlib
import heapq
import http.client
import ipaddress
import itertools
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from connect_harness.delivery.base import (
    DeliveryRequestLike,
    KeptBody,
    Response,
    _has_header,
    _header_bytes,
    _timed_out,
)
from connect_harness.errors import UsageError
from connect_harness.redaction import redact_credentials
from connect_harness.wire.request import check_host
from connect_harness.wire.text_safety import refuse_unsafe_url


@dataclass(frozen=True)
class UrlTarget:
    """An endpoint reachable over HTTP; validate user input with :func:`target_from` first."""

    url: str

    def describe(self) -> str:
        """A one-line description for reports (credentials in the URL masked)."""
        return redact_credentials(self.url)

    def close(self) -> None:
        """Nothing to release: every delivery opens and closes its own connection."""


def _check_url(url: str, *, allow_remote: bool) -> SplitResult:
    refuse_unsafe_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise UsageError(f"cannot deliver to {url!r}: it is not a valid URL ({err})") from err
    if parts.scheme not in ("http", "https"):
        raise UsageError(
            f"cannot deliver to {url!r}: expected an http:// or https:// URL such as "
            "'http://127.0.0.1:8000/webhook'; to call an app in this process, pass the app "
            "object or load it with 'module:attribute'"
        )
    host = parts.hostname
    if not host:
        raise UsageError(
            f"cannot deliver to {url!r}: the URL has no host; write it like "
            "'http://127.0.0.1:8000/webhook'"
        )
    del port
    if host.lower() != "localhost":
        check_host(host, url)
    if not allow_remote and not _is_loopback(host):
        raise UsageError(
            f"refusing to deliver forged events to {url!r}: it is not a loopback address; "
            "pass --allow-remote if you really mean it"
        )
    return parts


def _is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class _Watchdog:
    """One daemon thread that cuts deliveries off at their deadlines.

    A ``threading.Timer`` per delivery started a thread for each (about a third of a millisecond,
    a tenth of a loopback delivery's cost); one thread with a heap of deadlines does the same.
    """

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._heap: list[tuple[float, int, list[Callable[[], None] | None]]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: float, cut: Callable[[], None]) -> Callable[[], None]:
        """Call ``cut`` at ``deadline`` (``time.perf_counter()``) unless the returned function is
        called first."""
        slot: list[Callable[[], None] | None] = [cut]
        with self._wake:
            heapq.heappush(self._heap, (deadline, next(self._order), slot))
            if self._thread is None or not self._thread.is_alive():  # or after a fork
                self._thread = threading.Thread(
                    target=self._serve, name="connect-harness-deadlines", daemon=True
                )
                self._thread.start()
            self._wake.notify()

        def cancel() -> None:
            with self._wake:
                slot[0] = None

        return cancel

    def _serve(self) -> None:
        with self._wake:
            while True:
                while self._heap and self._heap[0][2][0] is None:
                    heapq.heappop(self._heap)  # cancelled: the delivery ended in time
                if not self._heap:
                    self._wake.wait()
                    continue
                wait = self._heap[0][0] - time.perf_counter()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                _, _, slot = heapq.heappop(self._heap)
                cut, slot[0] = slot[0], None
                if cut is not None:
                    self._wake.release()
                    try:
                        cut()
                    finally:
                        self._wake.acquire()


_WATCHDOG = _Watchdog()


def _deliver_url(request: DeliveryRequestLike, url: str, timeout: float) -> Response:
    """One delivery over HTTP, bounded by ``timeout`` from connecting to the last byte.

    Each socket operation waits at most what is left of the deadline, and a watchdog shuts the
    socket at the deadline, so an endpoint that drips its answer a byte at a time is cut off too.
    The body is kept up to :data:`~connect_harness.delivery.base.KEEP_BYTES` and counted beyond.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            host, parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    headers = list(request.headers)
    started = time.perf_counter()
    deadline = started + timeout
    expired = threading.Event()

    def left() -> float:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            raise TimeoutError
        return remaining

    opened: list[socket.socket] = []

    def cut() -> None:
        expired.set()
        for sock in opened:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    cancel = _WATCHDOG.watch(deadline, cut)
    kept = KeptBody()
    try:
        connection.putrequest(
            request.method,
            path,
            skip_host=_has_header(headers, "host"),
            skip_accept_encoding=True,
        )
        for name, value in headers:
            connection.putheader(name, _header_bytes(value))
        if not _has_header(headers, "content-length"):
            connection.putheader("Content-Length", str(len(request.body)))
        connection.connect()
        sock = connection.sock
        assert sock is not None
        opened.append(sock)
        if expired.is_set():
            raise TimeoutError
        connection.endheaders(request.body)
        sock.settimeout(left())
        answer = connection.getresponse()
        try:
            while True:
                # Python 3.13's http.client closes the connection's socket object once a response
                # that ends the connection has begun (the reads go through the response's own file),
                # so settimeout may find it closed; the watchdog still bounds the whole delivery.
                with contextlib.suppress(OSError):
                    sock.settimeout(left())
                chunk = answer.read1(_CHUNK)
                if not chunk:
                    break
                kept.append(chunk)
        finally:
            answer.close()
        if expired.is_set():
            raise TimeoutError
        elapsed = time.perf_counter() - started
        return Response(
            answer.status, tuple(answer.getheaders()), kept.body, elapsed, size=kept.size
        )
    except TimeoutError:  # socket.timeout is an alias since 3.10
        return Response(0, (), b"", time.perf_counter() - started, _timed_out(timeout))
    except ConnectionRefusedError as err:
        return Response(
            0, (), b"", time.perf_counter() - started, f"connection refused by {url}: {err}"
        )
    except (OSError, http.client.HTTPException) as err:
        if expired.is_set():
            return Response(0, (), b"", time.perf_counter() - started, _timed_out(timeout))
        return Response(
            0,
            (),
            b"",
            time.perf_counter() - started,
            f"no HTTP response from {url}: {type(err).__name__}: {err}",
        )
    finally:
        cancel()
        connection.close()


_CHUNK = 64 * 1024


def check_reachable(url: str) -> None:
    """Refuse to start when nothing listens at ``url``: hundreds of identical connection errors help nobody."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=5):
            pass
    except OSError as err:
        raise UsageError(
            f"nothing answers at {url} ({err.strerror or err}); start the endpoint's server first, "
            "or check the host and port"
        ) from err
