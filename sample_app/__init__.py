"""A reference Stripe Connect webhook endpoint (Flask), the Python counterpart of the Sinatra
server in Stripe's Connect webhook guide.

    create_app(...)      the app factory (reads the environment for anything not passed)
    app                  the app built from the environment, created on first access, so that
                         `flask --app sample_app:app run` works and `import sample_app` alone
                         never fails
    ConfigurationError   raised when the configuration cannot work (e.g. no signing secret)

`python -m sample_app` serves it on 127.0.0.1:4242, path /webhook. See README.md.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from sample_app.config import ConfigurationError
from sample_app.webhook import create_app

if TYPE_CHECKING:
    from flask import Flask

    app: Flask

__all__ = ["ConfigurationError", "app", "create_app"]

_lock = threading.Lock()


def __getattr__(name: str) -> object:
    # Module-level __getattr__ runs only while `app` is not yet a module global.
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _lock:
        built = globals().get("app")
        if built is None:
            built = create_app()  # ConfigurationError propagates, nothing is cached
            globals()["app"] = built
    return built
