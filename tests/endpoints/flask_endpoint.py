"""The Flask endpoint: ``request.get_data()`` (the raw bytes), never ``request.json``, before verifying."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, redirect, request
from flask.typing import ResponseReturnValue

from endpoints.core import TEST_SECRET, WebhookCore


def create_app(
    secret: str = TEST_SECRET,
    *,
    bug: str | None = None,
    defer: float | None = None,
    follow: str | None = None,
    **options: Any,
) -> Flask:
    """A Flask app serving POST /webhook with :class:`WebhookCore` (``bug``: one of ``core.BUGS``;
    ``defer``: answer first, act that many seconds later; ``follow``: fetch every object an event
    names, ``"sdk"`` or ``"http"``; ``options``: other :class:`WebhookCore` fields, e.g.
    ``reads_only=True``)."""
    core = WebhookCore(secret, bug=bug, defer=defer, follow=follow, **options)
    app = Flask(f"endpoint_{bug or 'correct'}")
    app.extensions["webhook_core"] = core

    def receive() -> ResponseReturnValue:
        if bug == "reserialized" and request.get_json(silent=True) is None:
            return jsonify({"error": "not JSON"}), 400
        status, body = core.handle(request.get_data(), request.headers.get("Stripe-Signature"))
        return jsonify(body), status

    if bug == "redirect":
        app.add_url_rule("/webhook/", "webhook", receive, methods=["POST"])
        app.add_url_rule(
            "/webhook", "webhook_redirect", lambda: redirect("/webhook/", 301), methods=["POST"]
        )
    else:
        app.add_url_rule("/webhook", "webhook", receive, methods=["POST"])
    return app
