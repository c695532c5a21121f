"""Configuration of the sample app: read once at app creation, validated, never logged."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SECRET_ENV = "STRIPE_WEBHOOK_SECRET"
LIVE_KEY_ENV = "STRIPE_SECRET_KEY_LIVE"
TEST_KEY_ENV = "STRIPE_SECRET_KEY_TEST"
DB_ENV = "SAMPLE_APP_DB"
API_BASE_ENV = "STRIPE_API_BASE"

_API_KEY_PREFIXES = ("sk_", "rk_", "pk_")


class ConfigurationError(RuntimeError):
    """The app cannot start with this configuration; the message names the setting and the fix."""


@dataclass(frozen=True)
class Settings:
    """Everything the app reads from its environment, checked for the classic mix-ups."""

    webhook_secrets: tuple[str, ...] = field(repr=False)
    secret_key_live: str | None = field(default=None, repr=False)
    secret_key_test: str | None = field(default=None, repr=False)
    db_path: Path | None = None
    api_base: str | None = None

    def api_key_for(self, livemode: bool) -> str | None:
        """The secret key of the event's mode: a test event never gets the live key."""
        return self.secret_key_live if livemode else self.secret_key_test

    @staticmethod
    def key_env_for(livemode: bool) -> str:
        return LIVE_KEY_ENV if livemode else TEST_KEY_ENV


def load_settings(
    *,
    webhook_secret: str | Sequence[str] | None,
    secret_key_live: str | None,
    secret_key_test: str | None,
    db_path: str | os.PathLike[str] | None,
    api_base: str | None,
    environ: Mapping[str, str],
) -> Settings:
    """Merge explicit arguments over the environment and validate the result.

    Raises ConfigurationError, whose message names the setting and the fix.
    """
    secrets = _webhook_secrets(
        webhook_secret if webhook_secret is not None else environ.get(SECRET_ENV)
    )
    live = _api_key(
        secret_key_live if secret_key_live is not None else environ.get(LIVE_KEY_ENV),
        name=LIVE_KEY_ENV,
        wrong_mode=("sk_test_", "rk_test_"),
    )
    test = _api_key(
        secret_key_test if secret_key_test is not None else environ.get(TEST_KEY_ENV),
        name=TEST_KEY_ENV,
        wrong_mode=("sk_live_", "rk_live_"),
    )
    return Settings(
        webhook_secrets=secrets,
        secret_key_live=live,
        secret_key_test=test,
        db_path=_db_path(db_path if db_path is not None else environ.get(DB_ENV)),
        api_base=_api_base(api_base if api_base is not None else environ.get(API_BASE_ENV)),
    )


def _webhook_secrets(value: str | Sequence[str] | None) -> tuple[str, ...]:
    # Several secrets (comma-separated in the environment) serve one URL that is registered both as
    # the account endpoint and as the Connect endpoint: each endpoint has its own secret.
    raw = value.split(",") if isinstance(value, str) else list(value or ())
    secrets = tuple(s.strip() for s in raw if s.strip())
    if not secrets:
        raise ConfigurationError(
            f"{SECRET_ENV} is not set or is empty; set it to the endpoint's signing secret "
            "(whsec_..., from the Dashboard's webhook endpoint page or from `stripe listen`), "
            "because without it this app cannot tell Stripe's events from forged ones."
        )
    for secret in secrets:
        if secret.startswith(_API_KEY_PREFIXES):
            raise ConfigurationError(
                f"{SECRET_ENV} holds an API key ({secret[:8]}...), not a webhook signing secret; "
                "use the endpoint's signing secret, which starts with whsec_."
            )
    return secrets


def _api_key(value: str | None, *, name: str, wrong_mode: tuple[str, ...]) -> str | None:
    key = (value or "").strip()
    if not key:
        return None
    if key.startswith("whsec_"):
        raise ConfigurationError(
            f"{name} holds a webhook signing secret (whsec_...), not an API key; "
            "set it to a secret key (sk_...) or a restricted key (rk_...)."
        )
    if key.startswith(wrong_mode):
        raise ConfigurationError(
            f"{name} holds a key of the other mode ({key[:8]}...); a live key must start with "
            "sk_live_/rk_live_ and a test key with sk_test_/rk_test_, so that test events are "
            "never acted on with the live key."
        )
    return key


def _db_path(value: str | os.PathLike[str] | None) -> Path | None:
    if value is None or str(value) == "":
        return None
    if str(value) == ":memory:" or str(value).startswith("file:"):
        raise ConfigurationError(
            f"{DB_ENV}={str(value)!r} is not a file path; the app opens one SQLite connection per "
            "request, so it needs a database file, e.g. SAMPLE_APP_DB=./sample_app.sqlite3."
        )
    return Path(value)


def _api_base(value: str | None) -> str | None:
    base = (value or "").strip()
    if not base:
        return None
    if not base.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"{API_BASE_ENV}={base!r} is not an http(s) URL; set it to the base URL of the Stripe "
            "API to use, e.g. http://127.0.0.1:12111, or unset it to use https://api.stripe.com."
        )
    return base.rstrip("/")
