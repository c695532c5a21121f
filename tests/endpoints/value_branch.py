"""An endpoint correct in every way but one branch keyed on a field value the canonical event never
carries: the bug ``--examples`` exists to find (real endpoints branch on ``billing_reason``)."""

from __future__ import annotations

import json

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

from endpoints.core import TEST_SECRET, WebhookCore


def create_app(
    secret: str = TEST_SECRET,
    *,
    event_type: str = "invoice.paid",
    field: str = "billing_reason",
    value: object = "subscription_create",
) -> Flask:
    """The correct Flask endpoint, except that ``event_type`` events whose ``data.object.<field>``
    is ``value`` raise (500) after the event was verified."""
    core = WebhookCore(secret)
    app = Flask("endpoint_value_branch")

    def receive() -> ResponseReturnValue:
        body = request.get_data()
        status, answer = core.handle(body, request.headers.get("Stripe-Signature"))
        if 200 <= status < 300:
            event = json.loads(body)
            if event.get("type") == event_type and event["data"]["object"].get(field) == value:
                raise RuntimeError(f"no handler for {field}={value!r}")
        return jsonify(answer), status

    app.add_url_rule("/webhook", "webhook", receive, methods=["POST"])
    return app
