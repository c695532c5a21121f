"""The fake Stripe API driven by the stripe npm package 23.1.0 (``tests/node/api.js``)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from connect_harness.events.build import build_event
from connect_harness.stripe_api.fake import FakeStripeAPI

NODE_DIR = Path(__file__).parent / "node"
ACCOUNT = "acct_1ConnectedAcct01"


def run_node(fake: FakeStripeAPI, calls: list[list[Any]]) -> dict[str, dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; install Node.js 20+ to run the stripe-node tests")
    if not (NODE_DIR / "node_modules" / "stripe" / "package.json").is_file():
        pytest.skip("the stripe npm package is not installed; run `npm ci --prefix tests/node`")
    job = {"url": fake.url, "key": "sk_test_fake", "calls": calls}
    completed = subprocess.run(
        [node, str(NODE_DIR / "api.js")],
        input=json.dumps(job).encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    return {result["name"]: result for result in json.loads(completed.stdout)}


def test_stripe_node_end_to_end() -> None:
    with FakeStripeAPI() as fake:
        event = build_event("invoice.paid", account=ACCOUNT)
        fake.register_event(event)
        invoice = event.data_object
        as_account = {"stripeAccount": ACCOUNT}
        results = run_node(
            fake,
            [
                ["options third", "invoices.retrieve", invoice["id"], {}, as_account],
                ["options as params", "invoices.retrieve", invoice["id"], as_account],
                [
                    "expand",
                    "invoices.retrieve",
                    invoice["id"],
                    {"expand": ["customer"]},
                    as_account,
                ],
                ["list", "invoices.list", {"limit": 3}, as_account],
                ["update", "invoices.update", invoice["id"], {"metadata": {"a": "1"}}, as_account],
                ["unknown id", "customers.retrieve", "cus_1Nobody", {}, as_account],
            ],
        )
        calls = fake.calls

    assert results["options third"]["ok"] is True
    assert results["options third"]["value"]["id"] == invoice["id"]
    assert {
        key: results["options as params"][key] for key in ("type", "status", "code", "message")
    } == {
        "type": "StripeInvalidRequestError",
        "status": 400,
        "code": "parameter_unknown",
        "message": "Received unknown parameter: stripeAccount",
    }
    # passed second, the options also leave the request without Stripe-Account
    assert (calls[1].query, calls[1].stripe_account) == ({"stripeAccount": ACCOUNT}, None)
    assert results["expand"]["value"]["customer"]["id"] == invoice["customer"]
    assert [item["id"] for item in results["list"]["value"]["data"]] == [invoice["id"]]
    assert results["update"]["value"]["metadata"]["a"] == "1"
    assert (results["unknown id"]["status"], results["unknown id"]["code"]) == (
        404,
        "resource_missing",
    )


def test_stripe_node_sees_faults_as_its_error_classes() -> None:
    with FakeStripeAPI() as fake:
        event = build_event("customer.created")
        fake.register_event(event)
        customer = event.data_object["id"]
        fake.fail("GET /v1/customers/*", status=429, times=1)
        fake.fail("POST /v1/customers/*", status=500, times=1)
        fake.fail("DELETE /v1/customers/*", reset=True, times=None)
        results = run_node(
            fake,
            [
                ["429", "customers.retrieve", customer],
                ["500", "customers.update", customer, {"metadata": {"a": "1"}}],
                ["reset", "customers.del", customer],
                ["after", "customers.retrieve", customer],
            ],
        )

    assert (results["429"]["type"], results["429"]["status"]) == ("StripeRateLimitError", 429)
    assert (results["500"]["type"], results["500"]["status"]) == ("StripeAPIError", 500)
    assert results["reset"]["type"] == "StripeConnectionError"
    assert results["after"]["ok"] is True
