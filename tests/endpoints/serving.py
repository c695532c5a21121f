"""Serving a WSGI app over real HTTP on loopback for the tests that need a URL target."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
from collections.abc import Iterator
from typing import Any

from werkzeug.serving import make_server


def free_port() -> int:
    """A loopback port that was free a moment ago (for servers that need a port up front).

    Drawn below the kernel's ephemeral range (32768 and up on Linux), where the system never hands
    ports out by itself: a port from bind(0) could be given to any other socket before the server
    binds it, which a CI runner busy with several test processes did."""
    chooser = random.Random()
    for _ in range(200):
        port = chooser.randrange(20000, 32000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:  # that whole range busy: whatever the system gives
        sock.bind(("127.0.0.1", 0))
        found: int = sock.getsockname()[1]
        return found


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
