"""Debian's Chromium under Selenium, offline: the browser the HTML report is tested (and its docs
screenshot taken, and its open time measured) in.

CI installs ``chromium`` and ``chromium-driver`` with apt-get (.ci/run) and selenium with the ``test``
extra. Selenium is given both binaries' paths, so it never looks for (or downloads) a browser.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def binaries() -> tuple[str, str]:
    """The browser and its driver: where Debian's packages put them, unless
    ``CONNECT_HARNESS_CHROMIUM`` / ``CONNECT_HARNESS_CHROMEDRIVER`` say otherwise."""
    return (
        os.environ.get("CONNECT_HARNESS_CHROMIUM", "/usr/bin/chromium"),
        os.environ.get("CONNECT_HARNESS_CHROMEDRIVER", "/usr/bin/chromedriver"),
    )


#: Flags that keep a headless Chromium off the network and out of the user's profile.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def missing() -> str | None:
    """Why the browser cannot run here (a sentence naming what to install), or None if it can."""
    absent = [path for path in binaries() if not os.access(path, os.X_OK)]
    if absent:
        return (
            f"{' and '.join(absent)} not found: install Debian's chromium and chromium-driver "
            "(apt-get install -y chromium chromium-driver)"
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -e '.[test]'"
    return None


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A headless Chromium driven by Selenium, with a fresh empty profile, its browser console
    log kept (``driver.get_log("browser")``); quit and its profile removed on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = binaries()
    profile = tempfile.mkdtemp(prefix="connect-harness-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
