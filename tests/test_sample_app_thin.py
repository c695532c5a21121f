"""sample_app's thin destination (/webhook/thin) passes every thin check against the fake API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from connect_harness.checks.thin import ThinConfig, run_thin_checks, thin_check_ids
from connect_harness.delivery import WsgiTarget, deliver
from connect_harness.events.build import DEFAULT_CONNECTED_ACCOUNT, build_event
from connect_harness.events.thin import build_thin_event
from connect_harness.stripe_api.fake import FakeStripeAPI
from connect_harness.wire.request import request_for_event
from sample_app import create_app

SECRET = "whsec_sample_thin"
THIN_URL = "http://127.0.0.1:4242/webhook/thin"


@pytest.fixture
def fake() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as api:
        yield api


@pytest.fixture
def app(fake: FakeStripeAPI, tmp_path: Path) -> object:
    return create_app(
        webhook_secret=SECRET,
        db_path=tmp_path / "thin.sqlite3",
        secret_key_live="sk_live_sample",
        secret_key_test="sk_test_sample",
        api_base=fake.url,
    )


def test_sample_app_thin_destination_passes_every_thin_check(
    fake: FakeStripeAPI, app: object
) -> None:
    results = run_thin_checks(WsgiTarget(app), fake, ThinConfig(secret=SECRET, url=THIN_URL))
    assert {r.id: r.status for r in results} == dict.fromkeys(thin_check_ids(), "pass"), [
        f.reason for r in results for f in r.failures()
    ]


def _send(app: object, event: object, url: str) -> tuple[int, dict[str, object]]:
    request = request_for_event(event, secrets=[SECRET], timestamp=int(time.time()), url=url)  # type: ignore[arg-type]
    response = deliver(request, WsgiTarget(app))
    return response.status, json.loads(response.body)


def test_closed_account_is_forgotten_after_fetching_it(fake: FakeStripeAPI, app: object) -> None:
    event = build_thin_event("v2.core.account.closed", account=DEFAULT_CONNECTED_ACCOUNT)
    fake.register_event(event)
    status, body = _send(app, event, THIN_URL)
    assert status == 200 and body["note"] == "account closed: forgotten"
    fetches = [c for c in fake.calls if c.path == f"/v2/core/accounts/{DEFAULT_CONNECTED_ACCOUNT}"]
    assert [c.stripe_account for c in fetches] == [DEFAULT_CONNECTED_ACCOUNT]
    status, body = _send(app, event, THIN_URL)
    assert status == 200 and body["duplicate"] is True


def test_snapshot_and_thin_bodies_go_to_their_own_routes(fake: FakeStripeAPI, app: object) -> None:
    thin = build_thin_event("v2.core.account.updated", account=DEFAULT_CONNECTED_ACCOUNT)
    status, body = _send(app, thin, "http://127.0.0.1:4242/webhook")
    assert status == 400 and "thin event notification" in str(body["error"])
    snapshot = build_event("account.updated", account=DEFAULT_CONNECTED_ACCOUNT)
    status, body = _send(app, snapshot, THIN_URL)
    assert status == 400 and "snapshot events go to /webhook" in str(body["error"])
