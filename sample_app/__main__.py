"""`python -m sample_app`: serve the webhook endpoint with werkzeug's threaded server."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from werkzeug.serving import run_simple

from sample_app.config import ConfigurationError
from sample_app.webhook import create_app

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4242


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return port


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, build the app from the environment and serve it. Returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m sample_app",
        description="Serve the sample Stripe Connect webhook endpoint at /webhook.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="interface (default %(default)s)")
    parser.add_argument(
        "--port", type=_port, default=None, help=f"port (default $PORT, else {DEFAULT_PORT})"
    )
    args = parser.parse_args(argv)
    port: int = args.port
    if port is None:
        try:
            port = _port(os.environ.get("PORT", str(DEFAULT_PORT)))
        except argparse.ArgumentTypeError as err:
            print(f"sample_app: PORT={err}; unset it or pass --port.", file=sys.stderr)
            return 2
    try:
        app = create_app()
    except ConfigurationError as err:
        print(f"sample_app: {err}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_simple(args.host, port, app, threaded=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
