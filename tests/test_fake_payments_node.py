"""The payments lifecycles of ``connect-harness stripe-api``, driven by the stripe npm package
23.1.0 (``tests/node/lifecycle.js``): states, Stripe's errors as stripe-node's error classes, and
the emitted events served by the events API."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

NODE_DIR = Path(__file__).parent / "node"


@pytest.fixture
def served() -> Iterator[str]:
    """``connect-harness stripe-api --port 0`` in its own process; its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "connect_harness", "stripe-api", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        yield banner.split("serving ", 1)[1].split(" ", 1)[0]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def run_lifecycle(url: str, script: str = "lifecycle.js") -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; install Node.js 20+ to run the stripe-node tests")
    if not (NODE_DIR / "node_modules" / "stripe" / "package.json").is_file():
        pytest.skip("the stripe npm package is not installed; run `npm ci --prefix tests/node`")
    completed = subprocess.run(
        [node, str(NODE_DIR / script)],
        input=json.dumps({"url": url, "key": "sk_test_node"}).encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    results: dict[str, Any] = json.loads(completed.stdout)
    return results


def test_stripe_node_walks_the_payments_lifecycles(served: str) -> None:
    results = run_lifecycle(served)

    paid = results["paid"]
    assert (paid["status"], paid["amount_received"]) == ("succeeded", 2000)
    assert {key: results["capture_succeeded"][key] for key in ("ok", "type", "status", "code")} == {
        "ok": False,
        "type": "StripeInvalidRequestError",
        "status": 400,
        "code": "payment_intent_unexpected_state",
    }
    declined = results["declined"]
    assert (declined["type"], declined["status"], declined["code"]) == (
        "StripeCardError",
        402,
        "card_declined",
    )
    assert declined["decline_code"] == "insufficient_funds"
    assert declined["message"] == "Your card has insufficient funds."
    assert declined["payment_intent_status"] == "requires_payment_method"

    assert results["captured"] == {
        "held_status": "requires_capture",
        "status": "succeeded",
        "amount_received": 1200,
    }
    assert results["refund"] == {
        "status": "succeeded",
        "amount": 200,
        "amount_refunded": 200,  # the 800 released at the partial capture is not a refund
        "refunded": False,
    }
    assert results["setup"]["status"] == "succeeded"
    assert results["setup"]["attached_to"] == results["setup"]["customer"]
    assert results["detached_twice"]["ok"] is False
    assert results["detached_twice"]["status"] == 400

    events = results["events"]
    assert [event["type"] for event in events] == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "payment_intent.created",
        "charge.failed",
        "payment_intent.payment_failed",
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.amount_capturable_updated",
        "charge.captured",
        "payment_intent.succeeded",
        "charge.refunded",
        "refund.created",
        "customer.created",
        "setup_intent.created",
        "payment_method.attached",
        "setup_intent.succeeded",
        "payment_method.detached",
    ]
    assert events[0]["request"] == {"id": paid["request_id"], "idempotency_key": "node-order-1"}
    assert events[2]["object"] == events[0]["object"]


def test_stripe_node_sees_what_stripe_does_later_as_automatic_events(served: str) -> None:
    """docs/fake-api.md, "Later": the answer is the request's state, a later read the final one,
    and the follow-up's events carry no request (stripe-node's ``event.request.id`` null)."""
    results = run_lifecycle(served, "later.js")
    assert results["debit"] == {"answered": "processing", "now": "requires_payment_method"}
    assert results["refund"] == {"answered": "succeeded", "now": "failed"}
    automatic = [event["type"] for event in results["events"] if event["automatic"]]
    assert automatic == [
        "charge.failed",
        "payment_intent.payment_failed",
        "charge.refund.updated",
        "refund.updated",
        "refund.failed",
    ]
