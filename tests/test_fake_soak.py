"""The fake Stripe API serves 100,000 requests and holds no more than 50 MB more than it did after
its first thousand (issue 21: it grew ~5.6 KB a request, 404s included, 864 MB by the end of a
probe). Configured as ``connect-harness stripe-api`` runs it (``max_calls=KEPT_CALLS``).

Slow (minutes), and its answer does not depend on the Python, so it runs once in CI, on py311, as
the exhaustive tests do. Memory is the process's resident size from /proc (Linux, where CI runs).
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest

from connect_harness.stripe_api.command import KEPT_CALLS
from connect_harness.stripe_api.fake import FakeStripeAPI

REQUESTS = 100_000
WARM_UP = 1_000
BUDGET_MB = 50
KEY = {"Authorization": "Bearer sk_test_soak"}
FORM = {**KEY, "Content-Type": "application/x-www-form-urlencoded"}
STATM = Path("/proc/self/statm")


def _resident_mb() -> float:
    pages = int(STATM.read_text(encoding="ascii").split()[1])
    return pages * 4096 / 1e6


@pytest.mark.exhaustive
@pytest.mark.skipif(not STATM.exists(), reason="reads resident memory from /proc (Linux)")
def test_the_fake_serves_100000_requests_within_50_mb() -> None:
    with FakeStripeAPI(max_calls=KEPT_CALLS) as api:
        host, port = api.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.request("POST", "/v1/customers", body="name=soak", headers=FORM)
        customer = json.loads(connection.getresponse().read())["id"]
        statuses: dict[int, int] = {}
        start = 0.0
        for index in range(REQUESTS):
            kind = index % 8
            if kind == 0:  # an update with its own idempotency key, as stripe-python sends
                headers = {**FORM, "Idempotency-Key": f"soak-{index}"}
                connection.request(
                    "POST", f"/v1/customers/{customer}", body=f"name=n{index}", headers=headers
                )
            elif kind in (1, 2):
                connection.request("GET", "/v1/no_such_route", headers=KEY)
            elif kind == 3:
                connection.request("GET", "/v1/customers?limit=3", headers=KEY)
            elif kind == 4:
                connection.request("GET", "/v1/customers/cus_missing", headers=KEY)
            else:
                connection.request("GET", f"/v1/customers/{customer}", headers=KEY)
            answer = connection.getresponse()
            answer.read()
            statuses[answer.status] = statuses.get(answer.status, 0) + 1
            if index == WARM_UP:
                start = _resident_mb()
        connection.close()
        grown = _resident_mb() - start

    assert set(statuses) == {200, 404}, statuses
    assert len(api.calls) == KEPT_CALLS
    assert grown < BUDGET_MB, f"resident memory grew {grown:.1f} MB over {REQUESTS} requests"
