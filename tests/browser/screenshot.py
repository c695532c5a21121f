"""The screenshot in docs/report.md: a verify run of an endpoint with one bug, its HTML report in
headless Chromium (the browser test's own driver), saved as a PNG.

    PYTHONPATH=tests python -m browser.screenshot docs/report.png
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from pathlib import Path

from browser.chromium import chromium, missing
from connect_harness.cli import main as cli
from endpoints.core import TEST_SECRET

#: 500 on platform events: a red column in the matrix, and a finding with its request and answer.
APP = "endpoints.flask_endpoint:create_app(bug='crash-platform-events')"
EVENTS = "payment_intent.succeeded,account.updated,payout.failed,customer.subscription.updated"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("png", type=Path)
    args = parser.parse_args()
    why = missing()
    if why:
        print(f"no screenshot: {why}", file=sys.stderr)
        return 1
    page = Path(tempfile.mkdtemp()) / "report.html"
    argv = ["verify", "--app", APP, "--secret", TEST_SECRET, "--events", EVENTS, "--seed", "4"]
    with contextlib.redirect_stdout(io.StringIO()):
        cli([*argv, "--html", str(page)])
    with chromium(1100, 1150) as driver:
        driver.get(page.as_uri())
        # The target and fake API port differ per run and machine; the picture need not show them.
        driver.execute_script(
            "document.querySelectorAll('[data-key=fake_stripe_api],[data-key=duration_s],"
            "[data-key=slowest_answer_s],[data-key=python]')"
            ".forEach(function (n) { n.parentNode.remove(); });"
        )
        # Show what failed: the outcome filter on "fail" (rows without a red cell hide).
        driver.execute_script(
            "var s = document.getElementById('filter-outcome'); s.value = 'fail';"
            "s.dispatchEvent(new Event('change'));"
        )
        driver.save_screenshot(str(args.png))
        errors = driver.get_log("browser")
    print(f"wrote {args.png} ({args.png.stat().st_size:,} bytes); console errors: {len(errors)}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
