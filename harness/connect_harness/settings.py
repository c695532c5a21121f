"""Where a run's settings come from: command-line option, then environment, then ini file, then default.

The pytest plugin and its report header use this; each resolved value remembers its source so the header
can say "secret from env CONNECT_HARNESS_SECRET" without ever printing the secret itself.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connect_harness import arguments
from connect_harness.checks.budget import DEFAULT_MAX_RUN_TIME
from connect_harness.errors import UsageError
from connect_harness.events.examples import DEFAULT_EXAMPLES, MAX_EXAMPLES
from connect_harness.spec import contracts

__all__ = [
    "SETTINGS",
    "Secret",
    "SettingSpec",
    "Settings",
    "resolve_settings",
    "session_api_version",
    "set_session_api_version",
]


class Secret(str):
    """A signing secret: an ordinary ``str`` whose ``repr`` never shows it.

    ``pytest -l`` prints the locals of failing frames, JUnit keeps them, and dataclass reprs nest
    their fields' reprs; all of them call ``repr``, so the secret is masked wherever it travels.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "'whsec_****'" if self.startswith("whsec_") else "'****'"


def parse_secret(text: str) -> Secret:
    """A webhook signing secret (``whsec_...``), masked in every repr."""
    return Secret(parse_text(text))


def parse_endpoint_type(text: str) -> str:
    """``connect``, ``account`` or ``both``."""
    return _choice(text, ("connect", "account", "both"), "endpoint type")


def parse_payload(text: str) -> str:
    """``snapshot``, ``thin`` or ``both``: what the endpoint receives (as ``verify --payload``)."""
    return _choice(text, ("snapshot", "thin", "both"), "payload")


def parse_mode(text: str) -> str:
    """``development`` (test events only) or ``production`` (live and test events)."""
    return _choice(text, ("development", "production"), "mode")


#: The longest time any option takes: a day (longer ones overflow the socket layer).
MAX_SECONDS = 86_400.0


def parse_seconds(text: str) -> float:
    """A positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0 seconds")
    if value > MAX_SECONDS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is more than a day; give at most {MAX_SECONDS:g}"
        )
    return value


def parse_port(text: str) -> int:
    """A TCP port, 0 to 65535 (0 picks a free one)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is outside 0-65535")
    return value


def parse_whole_number(text: str) -> int:
    """A whole number >= 0 (a seed, a unix time)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative; give 0 or more")
    return value


def parse_seed(text: str) -> int:
    """A whole number >= 0 that fixes every generated id."""
    try:
        return parse_whole_number(text)
    except argparse.ArgumentTypeError as err:
        raise argparse.ArgumentTypeError(f"seed {err}") from None


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N``: this machine delivers shard K of N (1 <= K <= N), e.g. ``2/3``."""
    k, slash, n = text.strip().partition("/")
    if not slash or not k.strip().isdigit() or not n.strip().isdigit():
        raise argparse.ArgumentTypeError(
            f"shard {text!r} is not K/N; give this machine's shard and the number of shards, "
            "e.g. 2/3"
        )
    index, count = int(k), int(n)
    if count < 1:
        raise argparse.ArgumentTypeError(
            f"shard {text!r} splits the run into {count} shards; give 1 or more, e.g. 1/3"
        )
    if not 1 <= index <= count:
        raise argparse.ArgumentTypeError(
            f"shard {text!r}: K must be from 1 to {count} (shards are counted from 1), e.g. 1/{count}"
        )
    return index, count


def parse_examples(text: str) -> int:
    """How many payloads per event type: a whole number from 1 (the canonical event only) up."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"examples {text!r} is not a whole number; give how many payloads per type, e.g. 3"
        ) from None
    if not 1 <= value <= MAX_EXAMPLES:
        raise argparse.ArgumentTypeError(
            f"examples {text!r} is outside 1-{MAX_EXAMPLES}; 1 sends only the canonical event"
        )
    return value


def parse_concurrency(text: str) -> int:
    """How many independent deliveries may be in flight at once: a whole number from 1 up."""
    from connect_harness.delivery.concurrency import MAX_CONCURRENCY

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"concurrency {text!r} is not a whole number; give how many deliveries may be in "
            "flight at once, e.g. 4 (1 sends one at a time)"
        ) from None
    if not 1 <= value <= MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(
            f"concurrency {text!r} is outside 1-{MAX_CONCURRENCY}; 1 sends one delivery at a time"
        )
    return value


def parse_events(text: str) -> tuple[str, ...]:
    """Comma- or space-separated supported event types, each checked against the contracts."""
    names = tuple(part for part in text.replace(",", " ").split() if part)
    if not names:
        raise argparse.ArgumentTypeError(
            "no event types given; list them like account.updated,payout.failed"
        )
    for name in names:
        try:
            contracts.event_info(name)  # names the closest supported types
        except UsageError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return names


def parse_path(text: str) -> str:
    """A request path such as ``/webhook`` (it must start with ``/``)."""
    if not text.startswith("/"):
        raise argparse.ArgumentTypeError(f"{text!r} does not start with '/'; give e.g. /webhook")
    return text


def parse_api_version(text: str) -> str:
    """A Stripe API version such as ``2024-06-20`` or ``2026-10-28.endive`` (a real date)."""
    value = text.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}(\.[a-z]+)?", value):
        raise argparse.ArgumentTypeError(
            f"API version {text!r} is not like 2024-06-20 or 2026-10-28.endive"
        )
    try:
        contracts.resolve_version(value)
    except UsageError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return value


def parse_text(text: str) -> str:
    """Any non-empty text."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the value is empty")
    return text.strip()


def _choice(text: str, choices: tuple[str, ...], what: str) -> str:
    value = text.strip().lower()
    if value not in choices:
        raise argparse.ArgumentTypeError(f"{what} {text!r} is not one of {', '.join(choices)}")
    return value


@dataclass(frozen=True)
class SettingSpec:
    """One setting: its option, environment variable and ini key, and how to read its text."""

    name: str
    help: str
    parse: Callable[[str], Any]
    default: Any = None
    secret: bool = False
    #: A second environment variable read after the first (the one ``verify`` reads).
    also_env: str | None = None

    @property
    def option(self) -> str:
        return "--connect-" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "CONNECT_HARNESS_" + self.name.upper()

    @property
    def ini(self) -> str:
        return "connect_" + self.name


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "url", "URL of the webhook endpoint under test (loopback unless allow_remote)", parse_text
    ),
    SettingSpec("app", "MODULE:ATTR of a WSGI/ASGI app to test in-process", parse_text),
    SettingSpec(
        "path", "request path for in-process apps (default /webhook)", parse_text, "/webhook"
    ),
    SettingSpec(
        "secret",
        "the endpoint's webhook signing secret (whsec_...; also read from $STRIPE_WEBHOOK_SECRET)",
        parse_secret,
        secret=True,
        also_env="STRIPE_WEBHOOK_SECRET",
    ),
    SettingSpec("events", "event types to send (comma-separated; default all)", parse_events),
    SettingSpec(
        "endpoint_type", "connect, account or both (default both)", parse_endpoint_type, "both"
    ),
    SettingSpec("mode", "development or production (default production)", parse_mode, "production"),
    SettingSpec(
        "max_response_time", "seconds an answer may take (default 10)", parse_seconds, 10.0
    ),
    SettingSpec(
        "max_run_time",
        f"seconds the contract checks' run may take, from its first delivery (default "
        f"{DEFAULT_MAX_RUN_TIME:g}); it stops early when answers are too slow, and what it did not "
        "send is not judged",
        parse_seconds,
        DEFAULT_MAX_RUN_TIME,
    ),
    SettingSpec("fake_stripe_port", "fixed loopback port of the fake Stripe API", parse_port),
    SettingSpec(
        "seed", "seed for every generated id (default: random, shown in the header)", parse_seed
    ),
    SettingSpec(
        "api_version",
        "Stripe API version of the events: picks their shapes and is stamped on them "
        "(default: the newest contract set)",
        parse_api_version,
    ),
    SettingSpec(
        "examples",
        "payloads per event type: the canonical event, then ones with other field values "
        "(default 3; 1 sends only the canonical event)",
        parse_examples,
        DEFAULT_EXAMPLES,
    ),
    SettingSpec(
        "concurrency",
        "independent deliveries in flight at once (default 1: see the performance page)",
        parse_concurrency,
    ),
    SettingSpec(
        "serve",
        "shell command that starts the endpoint listening at --connect-url, with the fake's "
        "environment; it is watched and stopped at the end",
        parse_text,
    ),
    SettingSpec(
        "shard",
        "K/N: deliver only shard K of N of the catalogue (CI machines; the same seed on each), "
        "then join the --connect-report files with 'connect-harness report merge'",
        parse_shard,
    ),
    SettingSpec(
        "payload",
        "what the endpoint receives: snapshot events, thin notifications (the thin checks run) "
        "or both (default snapshot)",
        parse_payload,
        "snapshot",
    ),
)


@dataclass(frozen=True)
class Settings:
    """Resolved settings with the source of each (``--connect-secret``, ``env ...``, ``ini ...``)."""

    values: Mapping[str, Any]
    sources: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        arguments.mapping("values", self.values, example="{'secret': 'whsec_...'}", optional=False)
        arguments.mapping("sources", self.sources, example="{'secret': 'env X'}", optional=False)

    def __getitem__(self, name: str) -> Any:
        return self.values.get(name)

    def __repr__(self) -> str:
        secret_names = {spec.name for spec in SETTINGS if spec.secret}
        shown = {
            name: (Secret(value) if name in secret_names and value else value)
            for name, value in self.values.items()
        }
        return f"Settings(values={shown!r}, sources={dict(self.sources)!r})"

    def describe(self) -> str:
        """One line for a report header; the secret shows only where it came from."""
        parts = []
        for spec in SETTINGS:
            value = self.values.get(spec.name)
            if value is None:
                continue
            source = self.sources.get(spec.name, "default")
            if spec.secret:
                parts.append(f"secret from {source}")
            elif spec.name == "shard":
                parts.append(f"shard={value[0]}/{value[1]} ({source})")
            elif isinstance(value, tuple):
                parts.append(f"{spec.name}={len(value)} types ({source})")
            else:
                parts.append(f"{spec.name}={value} ({source})")
        return ", ".join(parts)


def resolve_settings(
    *,
    option: Callable[[str], Any],
    ini: Callable[[str], Any],
    environ: Mapping[str, str],
) -> Settings:
    """Resolve every setting: command-line option, then environment, then ini, then default.

    The endpoint is one setting given two ways (``url`` or ``app``): the one from the higher source
    wins, so ``--connect-url`` overrides an ini ``connect_app``.

    ``option(name)`` and ``ini(key)`` return the already-given value or None/empty. Option values are
    already parsed (argparse ran the validator); environment and ini text are parsed here, and a bad
    value raises ``argparse.ArgumentTypeError`` naming where it came from.
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for spec in SETTINGS:
        given = option(spec.name)
        if given is not None:
            values[spec.name], sources[spec.name] = given, spec.option
            continue
        candidates = [(f"env {spec.env}", environ.get(spec.env))]
        if spec.also_env:
            candidates.append((f"env {spec.also_env}", environ.get(spec.also_env)))
        candidates.append((f"ini {spec.ini}", ini(spec.ini)))
        for source, text in candidates:
            if text:
                try:
                    values[spec.name] = spec.parse(str(text))
                except argparse.ArgumentTypeError as err:
                    raise argparse.ArgumentTypeError(f"{source}: {err}") from err
                sources[spec.name] = source
                break
        else:
            values[spec.name] = spec.default
    _one_endpoint(values, sources)
    return Settings(values=values, sources=sources)


def _rank(source: str | None) -> int:
    """How a source ranks: an option before the environment before the ini file."""
    if source is None:
        return 3
    return 0 if source.startswith("--") else 1 if source.startswith("env ") else 2


def _one_endpoint(values: dict[str, Any], sources: dict[str, str]) -> None:
    """``url`` and ``app`` name the same thing, the endpoint, so the precedence holds between them
    too: ``--connect-url`` on the command line wins over ``connect_app`` in the ini file (and the
    ``serve`` command that belongs to the URL goes with it). Given at the same level, both stay, and
    the plugin says to give one."""
    url, app = sources.get("url"), sources.get("app")
    if url is None or app is None or _rank(url) == _rank(app):
        return
    loser = "app" if _rank(url) < _rank(app) else "url"
    values[loser] = None
    del sources[loser]
    if loser == "url" and values.get("serve") and _rank(sources.get("serve")) > _rank(app):
        values["serve"] = None
        del sources["serve"]


#: The API version of the pytest run the plugin configured (None: none, or the newest set).
_SESSION_API_VERSION: list[str | None] = [None]


def set_session_api_version(version: str | None) -> None:
    """Called by the plugin at configure (the resolved ``api_version``) and unconfigure (None)."""
    _SESSION_API_VERSION[0] = version


def session_api_version() -> str | None:
    """The running pytest session's ``--connect-api-version`` (None outside one, or when unset):
    what :func:`connect_harness.strategies.events` uses when it is given no ``api_version``."""
    return _SESSION_API_VERSION[0]
