"""pytest-xdist with the plugin: a team's suite (the shipped catalogue plus its own tests) against a
slow endpoint, with ``-n 0`` and ``-n 2``.

The endpoint sleeps ``--delay`` seconds per delivery (a database round trip) and logs each delivery
with the worker that made it, so the script also proves each delivery happens once per run, not once
per worker, and that both workers delivered part of the catalogue: the workers split the catalogue's
deliveries (``accepts-valid-events`` by event type, every other check whole) and merge the results.

    python bench/bench_xdist.py [--delay 0.05] [--team-tests 20] [--events 0]  # 0: every type
"""

from __future__ import annotations

import argparse
import os
import re
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
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        log.write(f"{event_id} {worker} {time.monotonic()}\\n")
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


def run(folder: Path, workers: str, events: str) -> tuple[float, float, list[str], set[str], str]:
    log = folder / f"deliveries-{workers}.log"
    env = dict(
        os.environ, BENCH_LOG=str(log), PYTHONPATH=os.pathsep.join([str(HARNESS), str(folder)])
    )
    args = [
        sys.executable, "-m", "pytest", "-p", "connect_harness", "-p", "no:cacheprovider", "-q",
        "--connect-app", "slow_app:app", "--connect-secret", SECRET, "--connect-seed", "5",
        "-n", workers,
    ]  # fmt: skip
    if events:
        args += ["--connect-events", events]
    start = time.perf_counter()
    done = subprocess.run(args, cwd=folder, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
    if done.returncode not in (0, 1):  # 1: some checks failed (the SDK refuses a few types)
        raise SystemExit(f"pytest -n {workers} could not run: {summary}")
    lines = [line.split() for line in log.read_text().splitlines()]
    times = [float(line[2]) for line in lines]
    span = max(times) - min(times)  # first delivery to last: without pytest's start and end
    return elapsed, span, sorted(line[0] for line in lines), {line[1] for line in lines}, summary


def _outcomes(summary: str) -> dict[str, int]:
    """pytest's counts of a summary line without "deselected": -n 0 counts the thin tests it
    deselects, xdist's workers collect without them."""
    counts = {word: int(n) for n, word in re.findall(r"(\d+) ([a-z]+)", summary.split(" in ")[0])}
    counts.pop("deselected", None)
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.05, help="seconds per delivery")
    parser.add_argument("--team-tests", type=int, default=20, help="the team's own tests")
    parser.add_argument(
        "--events", type=int, default=0, help="event types the catalogue sends (0: every type)"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(HARNESS))
    from connect_harness.spec import contracts

    events = ",".join(contracts.supported_event_types()[: args.events]) if args.events else ""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "slow_app.py").write_text(APP)
        (folder / "test_contract_suite.py").write_text("from connect_harness.suite import *\n")
        (folder / "test_team.py").write_text(TEAM_TESTS.format(count=args.team_tests))
        (folder / "pytest.ini").write_text("[pytest]\n")
        os.environ["BENCH_DELAY"] = str(args.delay)
        before = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        one, one_span, one_ids, _, one_summary = run(folder, "0", events)
        two, two_span, two_ids, workers, two_summary = run(folder, "2", events)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"-n 0: {one:.1f} s, {len(one_ids)} deliveries ({one_summary})")
    print(f"-n 2: {two:.1f} s, {len(two_ids)} deliveries by {sorted(workers)} ({two_summary})")
    ratio = one / two
    same = one_ids == two_ids  # every delivery as often as in one process (redeliveries twice)
    outcomes = _outcomes(one_summary) == _outcomes(two_summary)
    print(
        f"speedup {ratio:.2f}x (goal >= {GOAL}x); the same deliveries: {same}; outcomes: {outcomes}"
    )
    print(
        f"first to last delivery: {one_span:.1f} s vs {two_span:.1f} s, "
        f"{one_span / two_span:.2f}x (the rest is pytest's and xdist's start and end)"
    )
    print(f"load average (1, 5, 15 min) before: {before}; after: {load}")
    return 0 if ratio >= GOAL and same and outcomes else 1


if __name__ == "__main__":
    raise SystemExit(main())
