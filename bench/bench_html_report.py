"""The HTML report on a large run: its size and how long Chromium takes to open and draw it.

Builds the page of the synthetic run of 5,000 deliveries the size test uses
(tests/test_html_report.py: 125 event types x 4 permutations x 10 checks, one finding and one
delivery each, every 7th failing, 3 KB bodies), writes it, and opens it
``--rounds`` times in headless Chromium (tests/browser/chromium.py; Debian's chromium and
chromium-driver, selenium). The open time is the page's own ``performance.now()`` when its script has
drawn everything (``data-ready``), so it counts parsing, the script and the first layout, not the
driver's overhead. The target is under 5 MB and under 2 s; tests/test_html_report.py asserts the size,
never the time.

    PYTHONPATH=tests python bench/bench_html_report.py [--rounds 5] [--out FILE]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from connect_harness.checks.html_report import write_html


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, help="keep the page here (default: a temporary file)")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from browser.chromium import chromium, missing
    from test_html_report import five_thousand

    results, records = five_thousand()
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
