"""The pytest plugin: options, ini keys, a marker and fixtures. All real work is in the library.

Load it with ``pytest -p connect_harness`` (it is also registered under the ``pytest11`` entry point).
Every fixture can be overridden by defining one of the same name in a ``conftest.py``.
"""

from __future__ import annotations

import argparse
import os
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import pytest

from connect_harness.events.build import Event, EventCase, build_event, event_matrix
from connect_harness.settings import SETTINGS, Settings, resolve_settings
from connect_harness.spec import contracts
from connect_harness.wire.request import DEFAULT_URL

if TYPE_CHECKING:  # imported where used: an autoloaded plugin must not slow every pytest run
    from connect_harness.client import WebhookClient
    from connect_harness.delivery import Target
    from connect_harness.stripe_api.fake import FakeStripeAPI

_SETTINGS_KEY = pytest.StashKey[Settings]()
_MARKER = "connect_matrix"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Declare the ``--connect-*`` options and their ``connect_*`` ini keys."""
    group = parser.getgroup("connect_harness", "Stripe Connect webhook contract testing")
    for spec in SETTINGS:
        help_text = f"{spec.help} [env {spec.env}, ini {spec.ini}]"
        group.addoption(spec.option, dest=f"connect_{spec.name}", type=spec.parse, help=help_text)
        parser.addini(spec.ini, help=spec.help)
    group.addoption(
        "--connect-allow-remote",
        action="store_true",
        default=False,
        help="allow --connect-url to name a non-loopback host (forged events to a real endpoint!)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Resolve the settings once (option, then environment, then ini) and register the marker."""
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(types=None, *, endpoint_type='both', mode='production', account=None, "
        "api_version=None): "
        "run the test once per event type x permutation, with the event in the connect_event fixture",
    )
    try:
        settings = resolve_settings(
            option=lambda name: config.getoption(f"connect_{name}"),
            ini=lambda key: config.getini(key),
            environ=os.environ,
        )
    except argparse.ArgumentTypeError as err:
        raise pytest.UsageError(f"connect_harness: {err}") from err
    values = dict(settings.values)
    sources = dict(settings.sources)
    worker_seed = getattr(config, "workerinput", {}).get("connect_harness_seed")
    if worker_seed is not None:
        values["seed"], sources["seed"] = worker_seed, "xdist controller"
    elif values["seed"] is None:
        values["seed"], sources["seed"] = secrets.randbelow(1_000_000), "random"
    config.stash[_SETTINGS_KEY] = Settings(values=values, sources=sources)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Give every pytest-xdist worker the controller's seed, so all build the same events."""
    node.workerinput["connect_harness_seed"] = node.config.stash[_SETTINGS_KEY]["seed"]


def pytest_report_header(config: pytest.Config) -> str:
    """Say what the plugin will test and where each setting came from; never the secret itself."""
    settings = config.stash[_SETTINGS_KEY]
    header = f"connect_harness: {settings.describe()}"
    note = contracts.resolve_version(settings["api_version"]).note
    return f"{header}\nconnect_harness: {note}" if note else header


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize tests marked ``connect_matrix`` over :func:`connect_harness.event_matrix`."""
    marker = metafunc.definition.get_closest_marker(_MARKER)
    if marker is None:
        return
    if "connect_event" not in metafunc.fixturenames:
        raise pytest.UsageError(
            f"connect_harness: {metafunc.definition.nodeid} is marked {_MARKER} but does not take "
            "the connect_event fixture; add it to the test's arguments"
        )
    kwargs = dict(marker.kwargs)
    kwargs.setdefault("api_version", metafunc.config.stash[_SETTINGS_KEY]["api_version"])
    cases = event_matrix(*marker.args, **kwargs)
    metafunc.parametrize("connect_event", cases, ids=[case.id for case in cases], indirect=True)


@pytest.fixture(scope="session")
def connect_settings(pytestconfig: pytest.Config) -> Settings:
    """The resolved ``--connect-*`` settings, with the source of each."""
    return pytestconfig.stash[_SETTINGS_KEY]


@pytest.fixture(scope="session")
def connect_seed(connect_settings: Settings) -> int:
    """The seed every generated id derives from (random per run unless set; shown in the header)."""
    seed: int = connect_settings["seed"]
    return seed


@pytest.fixture(scope="session")
def connect_secret(connect_settings: Settings) -> str:
    """The endpoint's webhook signing secret. Override it in conftest.py to hard-wire a test secret."""
    secret: str | None = connect_settings["secret"]
    if not secret:
        pytest.fail(
            "connect_harness: no webhook signing secret; pass --connect-secret whsec_..., set "
            "CONNECT_HARNESS_SECRET or the connect_secret ini key, or override the connect_secret fixture",
            pytrace=False,
        )
    return secret


@pytest.fixture(scope="session")
def connect_target(connect_settings: Settings, pytestconfig: pytest.Config) -> Iterator[Target]:
    """The endpoint under test: ``--connect-url`` or ``--connect-app``. Override it to return your app."""
    from connect_harness.delivery import load_app, target_from

    url, app = connect_settings["url"], connect_settings["app"]
    if url and app:
        pytest.fail("connect_harness: give --connect-url or --connect-app, not both", pytrace=False)
    if not url and not app:
        pytest.fail(
            "connect_harness: no endpoint to test; pass --connect-url http://127.0.0.1:PORT/webhook or "
            "--connect-app module:app, or override the connect_target fixture",
            pytrace=False,
        )
    target = (
        target_from(url, allow_remote=pytestconfig.getoption("connect_allow_remote"))
        if url
        else load_app(app)
    )
    yield target
    target.close()


@pytest.fixture(scope="session")
def connect_url(connect_settings: Settings) -> str:
    """The request URL of deliveries: ``--connect-url``, or the default host with ``--connect-path``."""
    url: str | None = connect_settings["url"]
    if url:
        return url
    path: str = connect_settings["path"]
    return urljoin(DEFAULT_URL, path)


@pytest.fixture(scope="session")
def _connect_stripe_api_session(connect_settings: Settings) -> Iterator[FakeStripeAPI]:
    from connect_harness.stripe_api.fake import FakeStripeAPI

    api = FakeStripeAPI(
        port=connect_settings["fake_stripe_port"] or 0, api_version=connect_settings["api_version"]
    )
    with api:
        yield api


@pytest.fixture
def stripe_api(_connect_stripe_api_session: FakeStripeAPI) -> Iterator[FakeStripeAPI]:
    """The fake Stripe API, emptied for each test, with stripe-python pointed at it meanwhile."""
    api = _connect_stripe_api_session
    api.reset()
    with api.patch_stripe():
        yield api
    api.reset()


class EventFactory:
    """Builds events with the run's seed: ``connect_events("payout.failed", account="acct_...")``."""

    def __init__(self, seed: int, *, api_version: str | None = None) -> None:
        self.seed = seed
        self.api_version = api_version

    def __call__(self, event_type: str, **build: Any) -> Event:
        build.setdefault("seed", self.seed)
        build.setdefault("api_version", self.api_version)
        return build_event(event_type, **build)


@pytest.fixture
def connect_events(connect_seed: int, connect_settings: Settings) -> EventFactory:
    """A factory of events (``build_event`` with the run's seed and ``--connect-api-version``)."""
    return EventFactory(connect_seed, api_version=connect_settings["api_version"])


@pytest.fixture
def connect_client(
    connect_target: Target,
    connect_secret: str,
    stripe_api: FakeStripeAPI,
    connect_url: str,
    connect_settings: Settings,
) -> WebhookClient:
    """Signs and delivers events to the endpoint; ``send`` returns the recorded response."""
    from connect_harness.client import WebhookClient

    return WebhookClient(
        connect_target,
        secret=connect_secret,
        stripe_api=stripe_api,
        url=connect_url,
        timeout=max(30.0, connect_settings["max_response_time"]),
    )


@pytest.fixture
def connect_event(request: pytest.FixtureRequest, connect_events: EventFactory) -> Event:
    """The event of this ``connect_matrix`` case."""
    case = getattr(request, "param", None)
    if not isinstance(case, EventCase):
        pytest.fail(
            f"connect_harness: connect_event needs the @pytest.mark.{_MARKER}(...) marker on the test",
            pytrace=False,
        )
    return connect_events(case.type, account=case.account, livemode=case.livemode)


@pytest.fixture(scope="session")
def connect_contract(
    connect_target: Target,
    connect_secret: str,
    connect_settings: Settings,
    connect_url: str,
    _connect_stripe_api_session: FakeStripeAPI,
    request: pytest.FixtureRequest,
) -> Any:
    """One run of the whole check catalogue against the endpoint, shared by the session.

    ``connect_contract.result("rejects-wrong-secret")`` runs what that check needs and returns its
    :class:`~connect_harness.CheckResult`; ``connect_contract.run()`` runs them all.
    """
    from connect_harness.checks.run import ContractRun, VerifyConfig

    config = VerifyConfig(
        secret=connect_secret,
        endpoint_type=connect_settings["endpoint_type"],
        mode=connect_settings["mode"],
        events=connect_settings["events"],
        max_response_time=connect_settings["max_response_time"],
        seed=connect_settings["seed"],
        api_version=connect_settings["api_version"],
    )
    process = None
    if connect_settings["serve"]:
        from connect_harness.delivery.process import ServedProcess, ServeSecrets

        if not connect_settings["url"]:
            pytest.fail(
                "connect_harness: --connect-serve needs --connect-url, the URL the command listens at",
                pytrace=False,
            )
        process = ServedProcess(
            connect_settings["serve"],
            connect_url,
            api_base=_connect_stripe_api_session.url,
            given=ServeSecrets.fresh(connect_secret),
        )
        process.start()
        request.addfinalizer(process.stop)
    return ContractRun(
        connect_target,
        config,
        fake_api=_connect_stripe_api_session,
        url=connect_url,
        process=process,
    )
