"""SQLite persistence: the event ledger (what makes handling exactly-once) and the handlers' state.

One `Store` per app; one `StoreConnection` per request, on a connection from a small pool: opening
and closing one per request cost more than the queries (each close of the last connection also
checkpoints the WAL). A pooled connection serves one request at a time, whichever thread runs it.
"""

from __future__ import annotations

import enum
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from sample_app.liveness import owner_is_dead

PLATFORM = "platform"
"""The accounts row of the platform itself (events without a top-level `account`)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id           TEXT NOT NULL PRIMARY KEY,  -- the event id: unique, the deduplication key
    type         TEXT NOT NULL,
    account      TEXT,                       -- connected account, NULL for platform events
    livemode     INTEGER NOT NULL,
    created      INTEGER,
    payload      TEXT NOT NULL,              -- the verified body, for audit and replay
    status       TEXT NOT NULL CHECK (status IN ('processing', 'failed', 'done')),
    attempts     INTEGER NOT NULL DEFAULT 1,
    claimed_at   REAL NOT NULL,
    owner        TEXT,                       -- the worker processing it (sample_app/liveness.py)
    processed_at REAL,
    note         TEXT,                       -- why an event was recorded without acting
    error        TEXT                        -- why the last attempt failed
);
CREATE TABLE IF NOT EXISTS accounts (
    id                     TEXT NOT NULL,  -- acct_... or 'platform'
    livemode               INTEGER NOT NULL,
    charges_enabled        INTEGER,
    payouts_enabled        INTEGER,
    requirements           TEXT,           -- JSON
    payouts_blocked        INTEGER NOT NULL DEFAULT 0,
    payouts_blocked_reason TEXT,
    deauthorized           INTEGER NOT NULL DEFAULT 0,
    state_created          INTEGER,        -- `created` of the event the state came from
    updated_by_event       TEXT,
    PRIMARY KEY (id, livemode)             -- test and live data of one account never mix
);
CREATE TABLE IF NOT EXISTS payments (
    payment_intent TEXT NOT NULL PRIMARY KEY,
    account        TEXT,                   -- NULL for the platform's own payments
    amount         INTEGER,
    currency       TEXT,
    status         TEXT,
    livemode       INTEGER NOT NULL,
    event_id       TEXT NOT NULL,          -- the event that recorded it and owns its fulfilment
    fulfilled      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS payments_by_account ON payments (account, livemode);
"""


class Claim(enum.Enum):
    """What `claim_event` found."""

    CLAIMED = "claimed"  # this request owns the event now and must process it
    DONE = "done"  # processed before: a redelivery, answer 2xx and do nothing
    IN_FLIGHT = "in_flight"  # another request is processing it right now


class Store:
    """The database file; hands out per-request connections from a small pool."""

    def __init__(self, path: Path, *, busy_timeout: float = 10.0, pool_size: int = 4) -> None:
        self.path = path
        self._busy_timeout = busy_timeout
        self._pool_size = pool_size
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        # A store dropped without close() still closes its idle connections (Python 3.13's sqlite3
        # warns about a connection collected open). The list is only ever changed in place.
        weakref.finalize(self, _close_all, self._idle)

    def initialise(self) -> None:
        """Create the folder, the tables, and switch the file to WAL (a persistent setting)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=self._busy_timeout)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            # A ledger created before claims named their worker gains the column; old rows keep
            # NULL and the fixed lease.
            columns = {row[1] for row in conn.execute("PRAGMA table_info(events)")}
            if "owner" not in columns:
                conn.execute("ALTER TABLE events ADD COLUMN owner TEXT")

    @contextmanager
    def connect(self) -> Iterator[StoreConnection]:
        """A connection for one request, back to the pool afterwards (closed if the pool is full
        or a transaction was left open)."""
        conn = self._take()
        try:
            yield StoreConnection(conn)
        finally:
            self._give_back(conn)

    def close(self) -> None:
        """Close the idle connections (the store stays usable: new ones are opened on demand)."""
        with self._lock:
            idle = list(self._idle)
            self._idle.clear()
        _close_all(idle)

    def _take(self) -> sqlite3.Connection:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's connections are not ours to use
                self._idle.clear()
                self._pid = os.getpid()
            if self._idle:
                return self._idle.pop()
        # One request at a time uses a connection; the thread may differ from the one that opened it.
        conn = sqlite3.connect(
            self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.create_function("owner_is_dead", 1, owner_is_dead)
        # The 2xx is sent after COMMIT, so the commit must survive a power cut: FULL, not the
        # NORMAL that WAL would allow.
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def _give_back(self, conn: sqlite3.Connection) -> None:
        if not conn.in_transaction:
            with self._lock:
                if len(self._idle) < self._pool_size and self._pid == os.getpid():
                    self._idle.append(conn)
                    return
        conn.close()


def _close_all(connections: list[sqlite3.Connection]) -> None:
    for conn in list(connections):
        conn.close()
    connections.clear()


class StoreConnection:
    """Queries on one connection; methods marked "in a transaction" need `transaction()` around."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception.

        IMMEDIATE takes the write lock up front: two writers never deadlock upgrading a read lock.
        """
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # -- the event ledger --------------------------------------------------------------------

    def claim_event(
        self,
        *,
        event_id: str,
        event_type: str,
        account: str | None,
        livemode: bool,
        created: int | None,
        payload: str,
        now: float,
        stale_before: float,
        owner: str | None = None,
    ) -> Claim:
        """Insert the event as 'processing', or take over a failed or abandoned attempt.

        One statement, so it is atomic: of two concurrent deliveries of one event exactly one
        gets CLAIMED. A 'processing' row is taken over when its worker (`owner`, a
        :func:`sample_app.liveness.worker_token`) is known dead, or when its claim is older than
        `stale_before` (a worker on another host, or one whose liveness cannot be read).
        """
        cursor = self._conn.execute(
            """
            INSERT INTO events
                (id, type, account, livemode, created, payload, status, claimed_at, owner)
            VALUES (?, ?, ?, ?, ?, ?, 'processing', ?, ?)
            ON CONFLICT (id) DO UPDATE SET
                status = 'processing', claimed_at = excluded.claimed_at,
                owner = excluded.owner, attempts = events.attempts + 1
            WHERE events.status = 'failed'
               OR (events.status = 'processing'
                   AND (events.claimed_at < ? OR owner_is_dead(events.owner)))
            """,
            (
                event_id,
                event_type,
                account,
                int(livemode),
                created,
                payload,
                now,
                owner,
                stale_before,
            ),
        )
        if cursor.rowcount == 1:
            return Claim.CLAIMED
        status = self._conn.execute(
            "SELECT status FROM events WHERE id = ?", (event_id,)
        ).fetchone()
        if status is not None and status["status"] == "done":
            return Claim.DONE
        # 'processing' by someone else, or 'failed' just now: the caller waits and claims again.
        return Claim.IN_FLIGHT

    def complete_event(self, event_id: str, *, now: float, note: str | None) -> None:
        """Mark the event processed (in a transaction, together with the state it changed)."""
        self._conn.execute(
            "UPDATE events SET status = 'done', processed_at = ?, note = ?, error = NULL"
            " WHERE id = ?",
            (now, note, event_id),
        )

    def release_event(self, event_id: str, *, error: str) -> None:
        """Give up this attempt: the next delivery of the event processes it again."""
        self._conn.execute(
            "UPDATE events SET status = 'failed', error = ? WHERE id = ? AND status = 'processing'",
            (error, event_id),
        )

    def event(self, event_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM events WHERE id = ?", (event_id,))

    # -- accounts ----------------------------------------------------------------------------

    def account(self, account: str, livemode: bool) -> dict[str, Any] | None:
        return self._one(
            "SELECT * FROM accounts WHERE id = ? AND livemode = ?", (account, int(livemode))
        )

    def is_deauthorized(self, account: str, livemode: bool) -> bool:
        row = self.account(account, livemode)
        return row is not None and bool(row["deauthorized"])

    def apply_account_snapshot(
        self,
        *,
        account: str,
        livemode: bool,
        charges_enabled: bool | None,
        payouts_enabled: bool | None,
        requirements_json: str | None,
        created: int | None,
        event_id: str,
    ) -> bool:
        """Store an account.updated snapshot unless a newer one is stored (in a transaction).

        Events arrive in any order; `created` decides. A deauthorized account comes back only
        with a strictly newer snapshot. Returns whether the snapshot was applied.
        """
        cursor = self._conn.execute(
            """
            INSERT INTO accounts (id, livemode, charges_enabled, payouts_enabled, requirements,
                                  state_created, updated_by_event)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id, livemode) DO UPDATE SET
                charges_enabled = excluded.charges_enabled,
                payouts_enabled = excluded.payouts_enabled,
                requirements = excluded.requirements,
                deauthorized = 0,
                state_created = excluded.state_created,
                updated_by_event = excluded.updated_by_event
            WHERE accounts.state_created IS NULL OR excluded.state_created IS NULL
               OR excluded.state_created > accounts.state_created
               OR (excluded.state_created = accounts.state_created AND accounts.deauthorized = 0)
            """,
            (
                account,
                int(livemode),
                _flag(charges_enabled),
                _flag(payouts_enabled),
                requirements_json,
                created,
                event_id,
            ),
        )
        return cursor.rowcount == 1

    def block_payouts(self, *, account: str, livemode: bool, reason: str, event_id: str) -> None:
        """Record that payouts to this account stopped (in a transaction)."""
        self._conn.execute(
            """
            INSERT INTO accounts (id, livemode, payouts_blocked, payouts_blocked_reason,
                                  updated_by_event)
            VALUES (?, ?, 1, ?, ?)
            ON CONFLICT (id, livemode) DO UPDATE SET
                payouts_blocked = 1,
                payouts_blocked_reason = excluded.payouts_blocked_reason,
                updated_by_event = excluded.updated_by_event
            """,
            (account, int(livemode), reason, event_id),
        )

    def forget_account(
        self, *, account: str, livemode: bool, created: int | None, event_id: str
    ) -> None:
        """Delete what the platform knew about a disconnected account (in a transaction).

        A tombstone row (deauthorized=1, no state) remains so that a late, older account.updated
        or payment event does not bring the account back or trigger calls that would fail.
        """
        self._conn.execute(
            "DELETE FROM payments WHERE account = ? AND livemode = ?", (account, int(livemode))
        )
        self._conn.execute(
            "DELETE FROM accounts WHERE id = ? AND livemode = ?", (account, int(livemode))
        )
        self._conn.execute(
            """
            INSERT INTO accounts (id, livemode, deauthorized, state_created, updated_by_event)
            VALUES (?, ?, 1, ?, ?)
            """,
            (account, int(livemode), created, event_id),
        )

    # -- payments ----------------------------------------------------------------------------

    def payment(self, payment_intent: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM payments WHERE payment_intent = ?", (payment_intent,))

    def record_payment(
        self,
        *,
        payment_intent: str,
        account: str | None,
        amount: int | None,
        currency: str | None,
        status: str | None,
        livemode: bool,
        event_id: str,
    ) -> dict[str, Any]:
        """Insert the payment once (in a transaction) and return the stored row.

        The row's `event_id` says which event owns the fulfilment: two distinct events about one
        payment_intent fulfil it once.
        """
        self._conn.execute(
            """
            INSERT INTO payments (payment_intent, account, amount, currency, status, livemode,
                                  event_id)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (payment_intent) DO NOTHING
            """,
            (payment_intent, account, amount, currency, status, int(livemode), event_id),
        )
        row = self.payment(payment_intent)
        assert row is not None  # inserted or already there, inside this transaction
        return row

    def mark_fulfilled(self, payment_intent: str) -> None:
        """In a transaction."""
        self._conn.execute(
            "UPDATE payments SET fulfilled = 1 WHERE payment_intent = ?", (payment_intent,)
        )

    def payments_of(self, account: str | None, livemode: bool) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT * FROM payments WHERE account IS ? AND livemode = ? ORDER BY payment_intent",
            (account, int(livemode)),
        ).fetchall()
        return [dict(row) for row in rows]

    def _one(self, sql: str, params: tuple[object, ...]) -> dict[str, Any] | None:
        row = self._conn.execute(sql, params).fetchone()
        return None if row is None else dict(row)


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)
