"""sample_app's store: pooled connections, each serving one request at a time, durability kept."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from sample_app.store import Store


def _raw(db: object) -> sqlite3.Connection:
    conn = db._conn  # type: ignore[attr-defined]
    assert isinstance(conn, sqlite3.Connection)
    return conn


def test_a_connection_is_reused_by_the_next_request_with_synchronous_full(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    store.initialise()
    with store.connect() as db:
        first = _raw(db)
    with store.connect() as db:
        assert _raw(db) is first
        # FULL (2): a 2xx follows only a commit that survives a power cut.
        assert _raw(db).execute("PRAGMA synchronous").fetchone()[0] == 2
        assert _raw(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_concurrent_requests_get_their_own_connections_from_any_thread(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3", pool_size=2)
    store.initialise()
    with store.connect() as a, store.connect() as b:
        assert _raw(a) is not _raw(b)
    seen: list[sqlite3.Connection] = []

    def request() -> None:
        with store.connect() as db:
            db.event("evt_missing")  # a query on a connection another thread opened
            seen.append(_raw(db))

    for _ in range(3):
        worker = threading.Thread(target=request)
        worker.start()
        worker.join()
    assert len({id(conn) for conn in seen}) == 1
    assert len(store._idle) == 2  # the pool keeps at most pool_size idle connections
    store.close()
    assert store._idle == []


def test_a_connection_left_in_a_transaction_is_closed_not_reused(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    store.initialise()
    with store.connect() as db:
        leaked = _raw(db)
        leaked.execute("BEGIN IMMEDIATE")
    with store.connect() as db:
        assert _raw(db) is not leaked
        # The write lock went with the closed connection: this one can write.
        with db.transaction():
            db.release_event("evt_x", error="none")
    store.close()
