"""The default ``connect-harness verify`` against sample_app in-process, and the per-delivery overhead.

Overhead: delivering pre-signed requests with ``connect_harness.deliver`` to the WSGI app, as a ratio
to posting the same kind of pre-signed bytes with Flask's test client, in the same run, interleaved,
best of several rounds. Every delivery carries a new event, so the app does the same work (verify,
ledger insert) on both sides.

    python bench/bench_verify.py [--rounds 5] [--number 200]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # sample_app lives at the repository root

from connect_harness import cli  # noqa: E402
from connect_harness.delivery import deliver, target_from  # noqa: E402
from connect_harness.events.build import build_event  # noqa: E402
from connect_harness.wire.request import delivery_request  # noqa: E402
from sample_app import create_app  # noqa: E402

SECRET = "whsec_bench_secret"
ACCOUNT = "acct_1PgafTB7WZ01zgkW"
GOAL_SECONDS = 30.0
GOAL_RATIO = 2.0


def make_app(folder: str, name: str) -> object:
    return create_app(
        webhook_secret=SECRET,
        secret_key_test="sk_test_bench",
        secret_key_live="sk_live_bench",
        db_path=str(Path(folder) / f"{name}.sqlite3"),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--number", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        os.environ.update(
            STRIPE_WEBHOOK_SECRET=SECRET,
            STRIPE_SECRET_KEY_TEST="sk_test_bench",
            STRIPE_SECRET_KEY_LIVE="sk_live_bench",
            SAMPLE_APP_DB=str(Path(folder) / "verify.sqlite3"),
        )
        report = Path(folder) / "report.json"
        argv = [
            "verify",
            "--app",
            "sample_app:create_app()",
            "--secret",
            SECRET,
            "--report",
            str(report),
        ]
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            code = cli.main(argv)
        full = time.perf_counter() - start
        summary = json.loads(report.read_text())["summary"]
        print(
            f"default verify against sample_app in-process: {full:.1f} s, {summary['deliveries']} "
            f"deliveries, exit {code} ({summary['passed']} passed, {summary['failed']} failed); "
            f"goal under {GOAL_SECONDS:.0f} s"
        )

        app = make_app(folder, "overhead")
        target = target_from(app)
        client = app.test_client()  # type: ignore[attr-defined]
        now = int(time.time())
        seed = 0

        def fresh_requests() -> list:
            nonlocal seed
            batch = []
            for _ in range(args.number):
                seed += 1
                event = build_event("customer.created", account=ACCOUNT, seed=seed)
                batch.append(
                    delivery_request(event.body, secrets=[SECRET], timestamp=now, livemode=False)
                )
            return batch

        ours = theirs = float("inf")
        for _ in range(args.rounds):
            batch = fresh_requests()
            begin = time.perf_counter()
            for request in batch:
                assert deliver(request, target).status == 200
            ours = min(ours, (time.perf_counter() - begin) / args.number)

            batch = fresh_requests()
            begin = time.perf_counter()
            for request in batch:
                response = client.post("/webhook", data=request.body, headers=list(request.headers))
                assert response.status_code == 200
            theirs = min(theirs, (time.perf_counter() - begin) / args.number)
        ratio = ours / theirs
        print(
            f"per delivery: deliver() {ours * 1e3:.2f} ms, Flask test client {theirs * 1e3:.2f} ms: "
            f"{ratio:.2f}x ({'within' if ratio <= GOAL_RATIO else 'OVER'} the {GOAL_RATIO:.0f}x goal)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
