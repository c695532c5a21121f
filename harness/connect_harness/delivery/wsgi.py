"""Delivery to a WSGI app called in this process, with the environ a real server builds."""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

from connect_harness.delivery.base import (
    _CLIENT_PORT,
    _LOOPBACK,
    DeliveryRequestLike,
    KeptBody,
    Response,
    _app_name,
    _header_bytes,
    _split_request_url,
    _wire_headers,
)


@dataclass(frozen=True)
class WsgiTarget:
    """A WSGI app (Flask, Django's ``WSGIHandler``, a bare function) called in this process."""

    app: Any
    name: str | None = field(default=None, compare=False)

    def describe(self) -> str:
        """A one-line description for reports."""
        return f"WSGI app {self.name or _app_name(self.app)} (in process)"

    def close(self) -> None:
        """Nothing to release: WSGI apps have no lifecycle."""


def _wsgi_environ(request: DeliveryRequestLike) -> dict[str, Any]:
    parts, scheme, netloc, port = _split_request_url(request)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(parts.path or "/").decode("latin-1"),
        "QUERY_STRING": parts.query,
        "SERVER_NAME": _LOOPBACK,
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": _LOOPBACK,
        "REMOTE_PORT": str(_CLIENT_PORT),
        "CONTENT_TYPE": "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(request.body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in _wire_headers(request, netloc):
        text = _header_bytes(value).decode("latin-1")
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = text
            continue
        key = f"HTTP_{key}"
        environ[key] = f"{environ[key]},{text}" if key in environ else text
    return environ


def _deliver_wsgi(request: DeliveryRequestLike, app: Any) -> Response:
    environ = _wsgi_environ(request)
    status: list[str] = []
    headers: list[tuple[str, str]] = []
    chunks = KeptBody()

    def start_response(
        status_line: str, response_headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if status and exc_info is None:
            raise AssertionError("start_response was called twice without exc_info (PEP 3333)")
        status[:] = [status_line]
        headers[:] = list(response_headers)
        return chunks.append

    started = time.perf_counter()
    result: Iterable[bytes] | None = None
    error: str | None = None
    try:
        result = app(environ, start_response)
        for chunk in result:
            chunks.append(chunk)
    except Exception as exc:
        error = repr(exc)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            try:
                close()
            except Exception as exc:
                error = error or repr(exc)
    elapsed = time.perf_counter() - started
    body = chunks.body
    if error is not None and (not status or not body):
        return Response(500, (), b"", elapsed, error)
    if not status:
        return Response(
            500, (), b"", elapsed, "the WSGI app returned without calling start_response"
        )
    return Response(_status_code(status[0]), tuple(headers), body, elapsed, error, size=chunks.size)


def _status_code(status_line: str) -> int:
    try:
        return int(status_line.split(None, 1)[0])
    except (ValueError, IndexError):
        return 500
