"""pytest-xdist with the plugin: a team's suite (the shipped catalogue plus its own tests) against a
slow endpoint, with ``-n 0`` and ``-n 2``.

The endpoint sleeps ``--delay`` seconds per delivery (a database round trip) and logs each delivery,
so the script also proves the catalogue is delivered once per run, not once per worker. The catalogue
itself runs on one worker (its checks share one run); the speedup comes from the team's own tests
running beside it.

    python bench/bench_xdist.py [--delay 0.01] [--team-tests 60] [--events 12]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[1] / "harness"
SECRET = "whsec_bench_xdist"
GOAL = 1.6

APP_TEMPLATE = """
import json
import os
import time

import stripe

DELAY = float(os.environ["BENCH_DELAY"])


def app(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    try:
        stripe.Webhook.construct_event(body, environ.get("HTTP_STRIPE_SIGNATURE", ""), "SECRET")
        event_id = json.loads(body)["id"]
    except Exception:
        start_response("400 Bad Request", [("Content-Type", "application/json")])
        return [b"{}"]
    time.sleep(DELAY)
    with open(os.environ["BENCH_LOG"], "a") as log:
        log.write(event_id + "\\n")
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b"{}"]
"""
APP = APP_TEMPLATE.replace("SECRET", SECRET)

TEAM_TESTS = """
import pytest


@pytest.mark.parametrize("n", range({count}))
def test_team_flow(connect_client, n):
    for event_type in ("payment_intent.succeeded", "payout.failed", "account.updated"):
        assert connect_client.send(event_type).status == 200
"""


def run(folder: Path, workers: str, events: str) -> tuple[float, int, str]:
    log = folder / f"deliveries-{workers}.log"
    env = dict(
        os.environ, BENCH_LOG=str(log), PYTHONPATH=os.pathsep.join([str(HARNESS), str(folder)])
    )
    args = [
        sys.executable, "-m", "pytest", "-p", "connect_harness", "-p", "no:cacheprovider", "-q",
        "--connect-app", "slow_app:app", "--connect-secret", SECRET, "--connect-seed", "5",
        "--connect-events", events, "-n", workers,
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(args, cwd=folder, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
    if done.returncode != 0:
        raise SystemExit(f"pytest -n {workers} failed: {summary}")
    return elapsed, len(log.read_text().splitlines()), summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.01, help="seconds per delivery")
    parser.add_argument("--team-tests", type=int, default=60, help="the team's own tests")
    parser.add_argument("--events", type=int, default=12, help="event types the catalogue sends")
    args = parser.parse_args()
    sys.path.insert(0, str(HARNESS))
    from connect_harness.spec import contracts

    events = ",".join(contracts.supported_event_types()[: args.events])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "slow_app.py").write_text(APP)
        (folder / "test_contract_suite.py").write_text("from connect_harness.suite import *\n")
        (folder / "test_team.py").write_text(TEAM_TESTS.format(count=args.team_tests))
        (folder / "pytest.ini").write_text("[pytest]\n")
        os.environ["BENCH_DELAY"] = str(args.delay)
        one, one_count, one_summary = run(folder, "0", events)
        two, two_count, two_summary = run(folder, "2", events)
    print(f"-n 0: {one:.1f} s, {one_count} deliveries ({one_summary})")
    print(f"-n 2: {two:.1f} s, {two_count} deliveries ({two_summary})")
    ratio = one / two
    print(f"speedup {ratio:.2f}x (goal >= {GOAL}x); deliveries equal: {one_count == two_count}")
    return 0 if ratio >= GOAL and one_count == two_count else 1


if __name__ == "__main__":
    raise SystemExit(main())
