"""Serving a WSGI app over real HTTP on loopback for the tests that need a URL target."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

from werkzeug.serving import make_server


def free_port() -> int:
    """A loopback port that was free a moment ago (for servers that need a port up front)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def served(app: Any, path: str = "/webhook") -> Iterator[str]:
    """Serve ``app`` (threaded) on 127.0.0.1 and yield the URL of ``path``; stop it afterwards."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}{path}"
    finally:
        server.shutdown()
        thread.join()
