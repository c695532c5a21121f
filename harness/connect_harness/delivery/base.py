"""What every kind of delivery shares: the request it reads, the :class:`Response` it records, and
the headers every HTTP/1.1 client adds."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import SplitResult, urlsplit

from connect_harness.wire.text_safety import safe_text

# The address in-process apps see as the server and as the client: Stripe's deliveries come from
# outside, but an in-process call has no peer, and loopback is the honest answer.
_LOOPBACK = "127.0.0.1"
_CLIENT_PORT = 52_000


class DeliveryRequestLike(Protocol):
    """What :func:`deliver` reads from a request: ``connect_harness.wire.request.DeliveryRequest`` fits."""

    @property
    def method(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def headers(self) -> Sequence[tuple[str, str]]: ...

    @property
    def body(self) -> bytes: ...


@dataclass(frozen=True)
class Response:
    """What the endpoint answered to one delivery.

    ``status`` is the HTTP status, or 0 when there was no HTTP answer at all (connection refused,
    TLS failure, timeout, an ASGI lifespan startup that failed); ``error`` then says why. An
    exception escaping an in-process app is what a server turns into a 500, so it is recorded as
    status 500 (or the status the app had already sent) with ``error`` holding the exception's
    ``repr``.
    ``elapsed`` is seconds from sending to the end of the response body.
    ``body`` keeps at most :data:`KEEP_BYTES` of what the endpoint sent, so a run's memory stays flat
    whatever the endpoint answers; ``size`` is how many bytes it sent (``len(body)`` unless cut).
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    elapsed: float
    error: str | None = None
    size: int = -1

    def __post_init__(self) -> None:
        if self.size < len(self.body):
            object.__setattr__(self, "size", len(self.body))
        if self.error is not None:
            # The error may quote the endpoint's bytes (a status line that is not HTTP): one line,
            # its control characters shown, never obeyed, wherever it is printed.
            object.__setattr__(self, "error", safe_text(self.error))

    @property
    def truncated(self) -> bool:
        """True when the endpoint sent more than the kept ``body``."""
        return self.size > len(self.body)

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None


#: How much of each response body is kept (the rest is counted, then dropped).
KEEP_BYTES = 64 * 1024


class KeptBody:
    """A response body kept up to ``limit`` bytes, counting everything it was handed."""

    def __init__(self, limit: int = KEEP_BYTES) -> None:
        self._limit = limit
        self._parts: list[bytes] = []
        self._kept = 0
        self.size = 0

    def append(self, chunk: bytes) -> None:
        """Take one chunk: keep what fits, count all of it."""
        self.size += len(chunk)
        room = self._limit - self._kept
        if room > 0 and chunk:
            part = bytes(chunk[:room])
            self._parts.append(part)
            self._kept += len(part)

    def __bool__(self) -> bool:
        return self.size > 0

    @property
    def body(self) -> bytes:
        """The kept bytes."""
        return b"".join(self._parts)


def _app_name(app: object) -> str:
    if inspect.isfunction(app) or inspect.ismethod(app):
        return f"{app.__module__}.{app.__qualname__}"
    kind = type(app)
    label = getattr(app, "name", None)
    suffix = f" {label!r}" if isinstance(label, str) else ""
    return f"{kind.__module__}.{kind.__qualname__}{suffix}"


def _header_bytes(value: str) -> bytes:
    """Header text as wire bytes: latin-1 where it fits (HTTP's own charset), else UTF-8."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def _has_header(headers: Sequence[tuple[str, str]], name: str) -> bool:
    return any(key.lower() == name for key, _ in headers)


def _wire_headers(request: DeliveryRequestLike, netloc: str) -> list[tuple[str, str]]:
    """The request's headers as an HTTP/1.1 client sends them: Host first, Content-Length last."""
    headers = list(request.headers)
    if not _has_header(headers, "host"):
        headers.insert(0, ("Host", netloc))
    if not _has_header(headers, "content-length"):
        headers.append(("Content-Length", str(len(request.body))))
    return headers


def _timed_out(timeout: float) -> str:
    return f"timed out after {timeout:g} s"


def _split_request_url(request: DeliveryRequestLike) -> tuple[SplitResult, str, str, int]:
    parts = urlsplit(request.url)
    scheme = parts.scheme if parts.scheme in ("http", "https") else "http"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 443 if scheme == "https" else 80
    netloc = parts.netloc or _LOOPBACK
    return parts, scheme, netloc, port
