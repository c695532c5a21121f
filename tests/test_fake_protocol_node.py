"""Pagination, search, expand and API versions of ``connect-harness stripe-api``, driven by the
stripe npm package 23.1.0 (``tests/node/protocol.js``): a representative subset of the
stripe-python cases in tests/test_fake_protocol*.py."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

NODE_DIR = Path(__file__).parent / "node"


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """``connect-harness stripe-api`` in its own process; its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "connect_harness", "stripe-api", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert "serving " in banner, banner + (process.stderr.read() if process.stderr else "")
        yield banner.split("serving ", 1)[1].split(" ", 1)[0]
    finally:
        process.terminate()
        process.communicate(timeout=20)


@pytest.fixture(scope="module")
def results(served: str) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; install Node.js 20+ to run the stripe-node tests")
    if not (NODE_DIR / "node_modules" / "stripe" / "package.json").is_file():
        pytest.skip("the stripe npm package is not installed; run `npm ci --prefix tests/node`")
    completed = subprocess.run(
        [node, str(NODE_DIR / "protocol.js")],
        input=json.dumps({"url": served, "key": "sk_test_fake"}).encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    found: dict[str, Any] = json.loads(completed.stdout)
    return found


def test_auto_pagination_walks_every_customer_once(results: dict[str, Any]) -> None:
    assert results["autoPaged"] == results["made"][::-1]
    first = results["firstPage"]
    assert (first["object"], first["url"], first["has_more"]) == ("list", "/v1/customers", True)
    assert [item["id"] for item in first["data"]] == results["made"][::-1][:3]


def test_pagination_400s_reach_stripe_node_as_its_errors(results: dict[str, Any]) -> None:
    def seen(name: str) -> tuple[Any, ...]:
        found = results[name]
        return (found["ok"], found["type"], found["status"], found["code"], found["param"])

    assert seen("limitZero") == (
        False,
        "StripeInvalidRequestError",
        400,
        "parameter_invalid_integer",
        "limit",
    )
    assert results["limitZero"]["message"] == "Invalid limit: must be between 1 and 100"
    assert seen("bothCursors")[:3] == (False, "StripeInvalidRequestError", 400)
    assert seen("unknownCursor") == (
        False,
        "StripeInvalidRequestError",
        400,
        "resource_missing",
        "starting_after",
    )


def test_search_filters_pages_and_refuses(results: dict[str, Any]) -> None:
    searched = results["searched"]
    assert searched["object"] == "search_result"
    assert [item["metadata"]["index"] for item in searched["data"]] == ["3"]
    assert results["searchPaged"] == results["made"][::-1]
    for name in ("badQuery", "badField"):
        assert (results[name]["status"], results[name]["param"]) == (400, "query")
    assert "unsupported search field" in results["badField"]["message"]


def test_expand_includes_sources_and_refuses_what_is_not_expandable(
    results: dict[str, Any],
) -> None:
    customer = results["sources"]
    assert customer["sources"]["url"] == f"/v1/customers/{customer['id']}/sources"
    assert results["notExpandable"]["message"] == "This property cannot be expanded (metadata)."


def test_the_request_version_picks_the_shape(results: dict[str, Any]) -> None:
    old, new = results["oldInvoice"], results["newInvoice"]
    assert "subscription" in old and "parent" not in old
    assert "parent" in new and "subscription" not in new
    assert old["id"] == new["id"]
