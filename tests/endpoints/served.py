"""`python -m endpoints.served`: the Flask endpoint as its own process, configured like a real app from
STRIPE_WEBHOOK_SECRET and STRIPE_API_BASE, on $PORT; for ``verify --serve``.

``--bug logs-secret`` prints the signing secret with every rejected request, as two sample apps did.
``--bug exits-after-answering`` ends the process (as an unhandled error in a worker would) right after
answering its first customer.created event.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading

import stripe
from werkzeug.serving import make_server

from endpoints import flask_endpoint

BUGS = ("logs-secret", "exits-after-answering")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m endpoints.served")
    parser.add_argument("--bug", choices=BUGS)
    args = parser.parse_args()
    secret = os.environ["STRIPE_WEBHOOK_SECRET"]
    stripe.api_base = os.environ["STRIPE_API_BASE"]
    app = flask_endpoint.create_app(secret)
    core = app.extensions["webhook_core"]
    handle = core.handle

    def handle_with_bug(body: bytes, signature: str | None) -> tuple[int, dict[str, object]]:
        status, answer = handle(body, signature)
        if args.bug == "logs-secret" and status == 400:
            print(f"signature check failed with secret {secret}", flush=True)
        if args.bug == "exits-after-answering" and b'"customer.created"' in body and status == 200:
            print("worker crashed: KeyError 'subscription'", file=sys.stderr, flush=True)
            threading.Timer(0.01, os._exit, args=(3,)).start()
        return status, answer

    core.handle = handle_with_bug  # type: ignore[method-assign]
    server = make_server("127.0.0.1", int(os.environ["PORT"]), app, threaded=True)
    print(f"listening on {server.server_port}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
