"""no-server-errors lists each distinct failure once, with how many deliveries got it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from connect_harness.checks.run import ContractRun, VerifyConfig

SECRET = "whsec_test_secret"


def _app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """500 to every customer.created, 502 to every payment_intent.succeeded, else 200."""
    size = int(environ.get("CONTENT_LENGTH") or 0)
    try:
        event_type = json.loads(environ["wsgi.input"].read(size)).get("type")
    except ValueError:
        event_type = None
    status = {"customer.created": "500 Internal Server Error"}.get(event_type, "200 OK")
    if event_type == "payment_intent.succeeded":
        status = "502 Bad Gateway"
    start_response(status, [("Content-Type", "text/plain")])
    return [b"x"]


def test_each_distinct_failure_once_with_its_count() -> None:
    config = VerifyConfig(
        secret=SECRET, seed=1, events=("customer.created", "payment_intent.succeeded")
    )
    with ContractRun(_app, config) as run:
        run.result("accepts-valid-events")
        result = run.result("no-server-errors")
        got = {
            status: sum(1 for r in run.records if r.response.status == status)
            for status in (500, 502)
        }
    failures = result.failures()
    assert sorted(f.reason.split(";")[0] for f in failures) == ["answered 500", "answered 502"]
    for finding in failures:
        status = int(finding.reason.split()[1].rstrip(";"))
        assert got[status] > 1
        assert (
            f"({got[status]} deliveries; first delivered by accepts-valid-events)" in finding.reason
        )
