"""sample_app after kill -9: an event whose worker died mid-work is taken over by Stripe's next
retry at once, not answered 409 until a ten-minute lease runs out (issue 21). A worker that is
alive keeps its claim."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sample_app import create_app
from sample_app.liveness import owner_is_dead, worker_token
from sample_app.store import Claim, Store
from test_sample_app import CUSTOMER_EVENT, SECRET, db_rows, post

EVENT = "evt_1NG8Du2eZvKYlo2CUI79vXWy"
REPO = Path(__file__).resolve().parents[1]

# A worker that claims the event, says so, then works until it is killed.
WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from sample_app.liveness import worker_token
    from sample_app.store import Store
    store = Store(Path(sys.argv[1]))
    with store.connect() as db:
        claim = db.claim_event(
            event_id=sys.argv[2], event_type="customer.created", account=None, livemode=False,
            created=None, payload="{}", now=time.time(), stale_before=0.0, owner=worker_token(),
        )
    print(claim.value, flush=True)
    time.sleep(60)
    """
)


def _claiming_worker(db_path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
    process = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(db_path), EVENT],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "claimed"
    return process


def _claim_now(store: Store) -> Claim:
    with store.connect() as db:
        now = time.time()
        return db.claim_event(
            event_id=EVENT,
            event_type="customer.created",
            account=None,
            livemode=False,
            created=None,
            payload="{}",
            now=now,
            stale_before=now - 600,
            owner=worker_token(),
        )


def test_this_process_is_alive_and_an_unknown_or_foreign_owner_is_not_called_dead() -> None:
    assert owner_is_dead(worker_token()) is False
    assert owner_is_dead(None) is False
    assert owner_is_dead("") is False
    assert owner_is_dead(f"another-host/{os.getpid()}/1") is False
    assert owner_is_dead("garbage") is False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads start times from /proc")
def test_a_reused_pid_is_not_the_worker_that_claimed() -> None:
    host, pid, start = worker_token().split("/")
    assert owner_is_dead(f"{host}/{pid}/{int(start) - 1}") is True


def test_a_claim_whose_worker_was_killed_is_taken_over_at_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    store.initialise()
    worker = _claiming_worker(store.path)
    try:
        assert _claim_now(store) is Claim.IN_FLIGHT  # alive: its claim stands
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)

        assert _claim_now(store) is Claim.CLAIMED
    finally:
        worker.kill()
        worker.wait(10)
        assert worker.stdout is not None
        worker.stdout.close()
        store.close()


def test_stripes_retry_after_a_worker_was_killed_is_processed_not_409(tmp_path: Path) -> None:
    app = create_app(webhook_secret=SECRET, db_path=tmp_path / "db", in_flight_wait=0, environ={})
    worker = _claiming_worker(app.extensions["sample_app"].store.path)
    try:
        assert post(app.test_client(), CUSTOMER_EVENT).status_code == 409
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)

        response = post(app.test_client(), CUSTOMER_EVENT)
    finally:
        worker.kill()
        worker.wait(10)
        assert worker.stdout is not None
        worker.stdout.close()

    assert response.status_code == 200
    assert db_rows(app, "SELECT status, attempts FROM events") == [
        {"status": "done", "attempts": 2}
    ]


def test_a_ledger_from_before_owners_gains_the_column(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE events (id TEXT NOT NULL PRIMARY KEY, type TEXT NOT NULL, account TEXT,"
            " livemode INTEGER NOT NULL, created INTEGER, payload TEXT NOT NULL, status TEXT"
            " NOT NULL, attempts INTEGER NOT NULL DEFAULT 1, claimed_at REAL NOT NULL,"
            " processed_at REAL, note TEXT, error TEXT)"
        )
    conn.close()
    store = Store(path)
    store.initialise()

    assert _claim_now(store) is Claim.CLAIMED
    store.close()
