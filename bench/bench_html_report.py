"""The HTML report on a large run: its size and how long Chromium takes to open and draw it.

Builds the page of a synthetic run of 5,000 deliveries (125 event types x 4 permutations x 10
checks, one finding and one delivery each, every 7th failing, 3 KB bodies), writes it, and opens it
``--rounds`` times in headless Chromium (tests/browser/chromium.py; Debian's chromium and
chromium-driver, selenium). The open time is the page's own ``performance.now()`` when its script has
drawn everything (``data-ready``), so it counts parsing, the script and the first layout, not the
driver's overhead. The target is under 5 MB and under 2 s; tests/test_html_report.py asserts the size,
never the time.

    PYTHONPATH=tests python bench/bench_html_report.py [--rounds 5] [--deliveries 5000] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from connect_harness.checks.findings import CheckResult, Finding
from connect_harness.checks.html_report import write_html
from connect_harness.checks.records import DeliveryRecord
from connect_harness.delivery import Response
from connect_harness.wire.request import DeliveryRequest

PERMUTATIONS = ("connect-live", "connect-test", "platform-live", "platform-test")


def synthetic_run(deliveries: int) -> tuple[list[CheckResult], list[DeliveryRecord]]:
    """``deliveries`` deliveries over 10 checks, each with its finding (every 7th failing)."""
    checks = [f"check-{n}" for n in range(10)]
    per_check = deliveries // len(checks)
    body = json.dumps({"id": "evt_x", "data": {"object": {"k": "v" * 3000}}}).encode()
    results, records = [], []
    for c, check in enumerate(checks):
        findings = []
        for n in range(per_check):
            k = c * per_check + n
            event_type = f"type{n % 125}.updated"
            permutation = PERMUTATIONS[(n // 125) % 4]
            command = f"connect-harness sign {event_type} --seed {k} --format curl"
            failed = n % 7 == 0
            findings.append(
                Finding(
                    check=check,
                    status="fail" if failed else "pass",
                    reason=f"answered {500 if failed else 200} to {event_type}",
                    event_type=event_type,
                    permutation=permutation,
                    expected="2xx",
                    actual="500" if failed else "200",
                    reproduce=command,
                )
            )
            records.append(
                DeliveryRecord(
                    check=check,
                    label=f"{check}#{k}",
                    request=DeliveryRequest(
                        method="POST",
                        url="http://127.0.0.1:4242/webhook",
                        headers=(("Stripe-Signature", f"t=1,v1={k:064x}"),),
                        body=body,
                    ),
                    response=Response(
                        status=500 if failed else 200, headers=(), body=body, elapsed=0.01
                    ),
                    event_type=event_type,
                    permutation=permutation,
                    variant=None,
                    account=None,
                    livemode=permutation.endswith("live"),
                    reproduce=command,
                    sequence=k,
                    started=float(k),
                    finished=k + 0.01,
                )
            )
        results.append(CheckResult(check, check, tuple(findings)))
    return results, records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--out", type=Path, help="keep the page here (default: a temporary file)")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from browser.chromium import chromium, missing

    results, records = synthetic_run(args.deliveries)
    out = args.out or Path(tempfile.mkdtemp()) / "report.html"
    write_html(out, results, records=records, meta={"seed": 0})
    size = out.stat().st_size
    print(f"{len(records)} deliveries: {size:,} bytes ({size / 1e6:.2f} MB; target < 5 MB)")
    why = missing()
    if why:
        print(f"open time not measured: {why}")
        return 1
    times: list[int] = []
    walls: list[float] = []
    with chromium() as driver:
        for _ in range(args.rounds):
            driver.get("about:blank")
            started = time.perf_counter()
            driver.get(out.as_uri())  # returns after the load event: parsed, script run
            walls.append((time.perf_counter() - started) * 1000)
            times.append(int(driver.execute_script("return document.body.dataset.ready")))
        errors = driver.get_log("browser")
    print(
        f"opened and drawn in {min(times)} ms best, {statistics.median(times):.0f} ms median "
        f"of {args.rounds} (target < 2000 ms); console errors: {len(errors)}"
    )
    print(
        f"driver.get() to the load event, driver overhead included: {min(walls):.0f} ms best, "
        f"{statistics.median(walls):.0f} ms median"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
