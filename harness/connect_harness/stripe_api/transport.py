"""The HTTP side of the fake Stripe API: a quiet threaded werkzeug server, and dropped connections."""

from __future__ import annotations

import contextlib
import functools
import socket
import struct
from typing import Any

__all__ = ["quiet_handler", "reset_connection", "server_class"]


@functools.cache
def server_class() -> type[Any]:
    from pytest_httpserver import HTTPServer

    class Server(HTTPServer):
        def application(self, request: Any) -> Any:
            # pytest-httpserver keeps every request and response it served in `self.log` and reads
            # each body first: a long-lived fake grew by kilobytes a request and held any body
            # whole. The fake records its own bounded call log and checks the length itself.
            from connect_harness.stripe_api.limits import MAX_BODY_BYTES

            request.max_content_length = MAX_BODY_BYTES
            return self.dispatch(request)

        def thread_target(self) -> None:
            # werkzeug polls for shutdown every 0.5 s by default: every stop() would cost that.
            assert self.server is not None
            self.server.serve_forever(poll_interval=0.02)

    return Server


def quiet_handler() -> type:
    from werkzeug.serving import WSGIRequestHandler

    class QuietHandler(WSGIRequestHandler):
        protocol_version = "HTTP/1.1"

        def log(self, type: str, message: str, *args: Any) -> None:
            return None

    return QuietHandler


def reset_connection(request: Any) -> None:
    """Drop the client's connection with a TCP reset, as a network fault does."""
    sock = request.environ.get("werkzeug.socket")
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
