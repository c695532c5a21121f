"""The pytest plugin: options, ini keys, a marker and fixtures. All real work is in the library.

Load it with ``pytest -p connect_harness`` (it is also registered under the ``pytest11`` entry point).
Every fixture can be overridden by defining one of the same name in a ``conftest.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import secrets
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import pytest

from connect_harness.errors import HarnessError, UsageError
from connect_harness.events.build import Event, EventCase, event_matrix
from connect_harness.settings import (
    SETTINGS,
    Settings,
    resolve_settings,
    session_api_version,
    set_session_api_version,
)
from connect_harness.spec import contracts
from connect_harness.wire.request import DEFAULT_URL

if TYPE_CHECKING:  # imported where used: an autoloaded plugin must not slow every pytest run
    from connect_harness.checks.run import ContractRun
    from connect_harness.client import EventFactory, WebhookClient
    from connect_harness.connect_world import ConnectWorld
    from connect_harness.delivery import Target
    from connect_harness.stripe_api.fake import FakeStripeAPI

_SETTINGS_KEY = pytest.StashKey[Settings]()
_RUN_KEY: pytest.StashKey[ContractRun] = pytest.StashKey()
_SKIPPED_KEY = pytest.StashKey[list[str]]()
_STOPPED_KEY = pytest.StashKey[str]()
_HTML_KEY = pytest.StashKey[str]()
_SETUP_ERRORS_KEY = pytest.StashKey[set[str]]()
_OUTER_VERSION_KEY = pytest.StashKey[str | None]()
_SHARD_PLAN_KEY = pytest.StashKey[list[str]]()
_MARKER = "connect_matrix"
_MARKER_KWARGS = ("endpoint_type", "mode", "account", "api_version")
_HOW_TO_OVERRIDE = (
    "or override the {name} fixture in conftest.py (for the shipped suite, put "
    "'from connect_harness.suite import *' in one of your test modules so it sees your conftest)"
)


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
    group.addoption(
        "--connect-strict",
        action="store_true",
        default=False,
        help="a contract check that was skipped (nothing to observe) fails instead",
    )
    group.addoption(
        "--connect-report",
        metavar="FILE.json",
        default=None,
        help="write the contract checks' results as JSON, like verify --report",
    )
    group.addoption(
        "--connect-html",
        metavar="FILE.html",
        default=None,
        help="write the contract checks' results as one self-contained HTML page, like verify --html",
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
    # for strategies.events() given no api_version; the one before is put back at unconfigure
    config.stash[_OUTER_VERSION_KEY] = session_api_version()
    set_session_api_version(values["api_version"])


def _shard_problem(settings: Settings) -> str | None:
    """Why --connect-shard cannot split this session's checks, in one line, or None."""
    if settings["shard"] is None:
        return None
    if settings["payload"] != "snapshot":
        return (
            f"connect_harness: --connect-shard splits the snapshot checks, not --connect-payload "
            f"{settings['payload']}; run the thin checks on one machine, without --connect-shard"
        )
    return None


def pytest_unconfigure(config: pytest.Config) -> None:
    """Put back the API version of the session around this one (an in-process pytester run)."""
    if _OUTER_VERSION_KEY in config.stash:
        set_session_api_version(config.stash[_OUTER_VERSION_KEY])


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Give every pytest-xdist worker the controller's seed, so all build the same events, and the
    folder where they split the catalogue's deliveries (connect_harness.xdist_shares)."""
    from connect_harness.xdist_shares import SHARES_KEY, share_folder

    node.workerinput["connect_harness_seed"] = node.config.stash[_SETTINGS_KEY]["seed"]
    node.workerinput[SHARES_KEY] = share_folder(node.config)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With ``--connect-serve`` or a fixed fake Stripe port (load scheduling), run the catalogue on
    one worker; otherwise xdist's own scheduler (the workers split the deliveries)."""
    from connect_harness.xdist_shares import splits

    if config.getvalue("dist") != "load" or splits(config.stash[_SETTINGS_KEY]):
        return None
    from connect_harness.xdist_schedule import CatalogueOnOneWorker

    return CatalogueOnOneWorker(config, log)


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
    unknown = sorted(set(marker.kwargs) - set(_MARKER_KWARGS))
    if unknown or len(marker.args) > 1:
        what = f"keyword {unknown[0]!r}" if unknown else f"{len(marker.args)} positional arguments"
        pytest.fail(
            f"connect_harness: {metafunc.definition.nodeid}: {_MARKER} does not take {what}; it takes "
            f"the event types and {', '.join(_MARKER_KWARGS)}",
            pytrace=False,
        )
    kwargs = dict(marker.kwargs)
    kwargs.setdefault("api_version", metafunc.config.stash[_SETTINGS_KEY]["api_version"])
    # pytest.fail outside the except block: inside it, Python 3.10's report repeats the message
    # through the exception chain.
    problem = None
    try:
        cases = event_matrix(*marker.args, **kwargs)
    except UsageError as err:
        problem = f"connect_harness: {metafunc.definition.nodeid}: {_MARKER}: {err}"
    if problem is not None:
        pytest.fail(problem, pytrace=False)
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
            "CONNECT_HARNESS_SECRET (or STRIPE_WEBHOOK_SECRET) or the connect_secret ini key, "
            + _HOW_TO_OVERRIDE.format(name="connect_secret"),
            pytrace=False,
        )
    return secret


@pytest.fixture(scope="session")
def connect_target(
    connect_settings: Settings, pytestconfig: pytest.Config, request: pytest.FixtureRequest
) -> Iterator[Target]:
    """The endpoint under test: ``--connect-url`` or ``--connect-app``. Override it to return your app.

    With ``--connect-serve`` the command is started first, so its URL answers before it is checked.
    """
    from connect_harness.delivery import load_app, target_from

    url, app = connect_settings["url"], connect_settings["app"]
    if url and app:
        pytest.fail(
            f"connect_harness: give --connect-url or --connect-app, not both (url from "
            f"{connect_settings.sources.get('url')}, app from {connect_settings.sources.get('app')})",
            pytrace=False,
        )
    if connect_settings["serve"]:
        request.getfixturevalue("_connect_served_process")
    if not url and not app:
        pytest.fail(
            "connect_harness: no endpoint to test; pass --connect-url http://127.0.0.1:PORT/webhook or "
            "--connect-app module:app, " + _HOW_TO_OVERRIDE.format(name="connect_target"),
            pytrace=False,
        )
    problem = None
    try:
        if url:
            target = target_from(url, allow_remote=pytestconfig.getoption("connect_allow_remote"))
            from connect_harness.delivery.url import check_reachable

            check_reachable(url)
        else:
            target = load_app(app)
    except UsageError as err:
        problem = f"connect_harness: {err}"  # failed below, outside the chain (as above)
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    yield target
    target.close()


@pytest.fixture(scope="session")
def _connect_served_process(
    connect_settings: Settings,
    connect_secret: str,
    connect_url: str,
    _connect_stripe_api_session: FakeStripeAPI,
    request: pytest.FixtureRequest,
) -> Iterator[Any]:
    """The ``--connect-serve`` process, started once and stopped at the session's end.

    Under pytest-xdist one worker launches it (the first to claim it in the session's share
    folder); the others wait until its URL answers and use it, with None here (the process is
    watched, for ``stays-alive`` and ``never-logs-secrets``, by the worker that launched it).
    """
    from connect_harness.delivery.process import ServedProcess, ServeSecrets

    if not connect_settings["url"]:
        pytest.fail(
            "connect_harness: --connect-serve needs --connect-url, the URL the command listens at",
            pytrace=False,
        )
    if not _claim_served_process(request.config):
        problem = _wait_until_answering(connect_url, timeout=60.0)
        if problem is not None:
            pytest.fail(f"connect_harness: --connect-serve: {problem}", pytrace=False)
        yield None
        return
    process = ServedProcess(
        connect_settings["serve"],
        connect_url,
        api_base=_connect_stripe_api_session.url,
        given=ServeSecrets.fresh(connect_secret),
    )
    problem = None
    try:
        process.start()
    except HarnessError as err:  # a busy port, a command that exits or never listens
        problem = f"connect_harness: --connect-serve: {err}"
    if problem is not None:
        process.stop()
        pytest.fail(problem, pytrace=False)
    yield process
    _wait_for_other_workers(request.config)
    process.stop()


#: How long the worker that launched ``--connect-serve`` waits for the others to finish delivering.
_OTHER_WORKERS_TIMEOUT = 600.0


def _served_process_done(config: pytest.Config) -> None:
    """Under xdist, say in the share folder that this worker no longer needs the endpoint."""
    from connect_harness.xdist_shares import SHARES_KEY

    workerinput: dict[str, Any] = getattr(config, "workerinput", {})
    folder = workerinput.get(SHARES_KEY)
    if folder is not None:
        worker = str(workerinput.get("workerid", "gw0"))
        with contextlib.suppress(OSError):
            Path(folder, f"served-process.done.{worker}").touch()


def _wait_for_other_workers(config: pytest.Config) -> None:
    """Keep the launched endpoint up until every other xdist worker is done with it: stopped at the
    launcher's own end, it refused the deliveries of workers still running (a false alarm)."""
    from connect_harness.xdist_shares import SHARES_KEY

    workerinput: dict[str, Any] = getattr(config, "workerinput", {})
    folder = workerinput.get(SHARES_KEY)
    others = int(workerinput.get("workercount", 1)) - 1
    if folder is None or others < 1:
        return
    deadline = time.monotonic() + _OTHER_WORKERS_TIMEOUT
    while time.monotonic() < deadline:
        if len(list(Path(folder).glob("served-process.done.*"))) >= others:
            return
        time.sleep(0.1)


def _claim_served_process(config: pytest.Config) -> bool:
    """True when this process launches ``--connect-serve``: always without xdist; under xdist, the
    first worker to create the claim file in the session's share folder."""
    from connect_harness.xdist_shares import SHARES_KEY

    workerinput: dict[str, Any] = getattr(config, "workerinput", {})
    folder = workerinput.get(SHARES_KEY)
    if folder is None or int(workerinput.get("workercount", 1)) < 2:
        return True
    try:
        os.close(os.open(os.path.join(folder, "served-process.claim"), os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return False
    return True


def _wait_until_answering(url: str, *, timeout: float) -> str | None:
    """Wait for another worker's launched endpoint to answer at ``url``; the problem, or None."""
    import time

    from connect_harness.delivery.url import check_reachable

    deadline = time.monotonic() + timeout
    while True:
        try:
            check_reachable(url)
        except UsageError as err:
            if time.monotonic() > deadline:
                return f"another xdist worker launched the endpoint, and {err}"
            time.sleep(0.1)
        else:
            return None


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
    from connect_harness.stripe_api.command import start_fake
    from connect_harness.stripe_api.fake import FakeStripeAPI

    port = connect_settings["fake_stripe_port"] or 0
    api = FakeStripeAPI(port=port, api_version=connect_settings["api_version"])
    problem = None
    try:
        start_fake(api, port, "--connect-fake-stripe-port")
    except UsageError as err:
        problem = f"connect_harness: {err}"
    if problem is not None:
        pytest.fail(problem, pytrace=False)
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


@pytest.fixture
def connect_events(
    request: pytest.FixtureRequest, connect_seed: int, connect_settings: Settings
) -> EventFactory:
    """A factory of events: the run's seed and ``--connect-api-version``, a fresh id for each event.

    Ids derive from the seed, this test's node id and a counter, so they differ between tests and do
    not depend on test order or the xdist worker. ``seed=`` or ``id=`` fixes an id on purpose.
    """
    from connect_harness.client import EventFactory

    return EventFactory(
        connect_seed, api_version=connect_settings["api_version"], scope=request.node.nodeid
    )


@pytest.fixture
def connect_client(
    connect_target: Target,
    connect_secret: str,
    stripe_api: FakeStripeAPI,
    connect_url: str,
    connect_settings: Settings,
    connect_events: EventFactory,
) -> WebhookClient:
    """Signs and delivers events to the endpoint; ``send`` returns the recorded response.

    ``send("type", ...)`` builds with ``connect_events`` (a new id each time); sending a built event
    again, ``redeliver(event)`` or ``send_concurrently(event, copies=2)`` repeat its id on purpose.
    """
    from connect_harness.client import WebhookClient

    return WebhookClient(
        connect_target,
        secret=connect_secret,
        stripe_api=stripe_api,
        url=connect_url,
        timeout=max(30.0, connect_settings["max_response_time"]),
        events=connect_events,
    )


@pytest.fixture(scope="session")
def connect_world(
    connect_target: Target,
    connect_secret: str,
    connect_url: str,
    connect_settings: Settings,
    _connect_stripe_api_session: FakeStripeAPI,
) -> ConnectWorld:
    """Session-scoped, for ``@given`` tests: ``with connect_world.example() as client:`` gives a
    client with the fake Stripe API emptied, so nothing leaks from one Hypothesis example to the next.
    """
    from connect_harness.connect_world import ConnectWorld

    return ConnectWorld(
        connect_target,
        secret=connect_secret,
        stripe_api=_connect_stripe_api_session,
        url=connect_url,
        timeout=max(30.0, connect_settings["max_response_time"]),
        seed=connect_settings["seed"],
        api_version=connect_settings["api_version"],
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
    pytestconfig: pytest.Config,
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
        examples=connect_settings["examples"],
        max_run_time=connect_settings["max_run_time"],
        concurrency=connect_settings["concurrency"],
    )
    problem = _shard_problem(connect_settings)
    if problem:
        pytest.fail(problem, pytrace=False)
    process = None
    if connect_settings["serve"]:
        process = request.getfixturevalue("_connect_served_process")
    from connect_harness.xdist_shares import contract_run, splits

    run: ContractRun | None = None
    shard = connect_settings["shard"]
    if shard is not None:  # this CI machine's shard of the run (checks.sharding)
        from connect_harness.checks.findings import check_ids
        from connect_harness.checks.sharding import ShardRun

        plan: list[str] = pytestconfig.stash.get(_SHARD_PLAN_KEY, [])
        run = ShardRun(
            connect_target,
            config,
            shard=shard,
            plan=plan or check_ids(),
            fake_api=_connect_stripe_api_session,
            url=connect_url,
            process=process,
        )
    elif splits(connect_settings):  # under xdist: the workers split the deliveries (xdist_shares)
        run = contract_run(
            request, connect_target, config, fake_api=_connect_stripe_api_session, url=connect_url
        )
    if run is None:
        run = ContractRun(
            connect_target,
            config,
            fake_api=_connect_stripe_api_session,
            url=connect_url,
            process=process,
        )
    pytestconfig.stash[_RUN_KEY] = run
    return run


@pytest.fixture(scope="session")
def connect_thin_contract(
    connect_target: Target,
    connect_secret: str,
    connect_settings: Settings,
    connect_url: str,
    _connect_stripe_api_session: FakeStripeAPI,
    request: pytest.FixtureRequest,
) -> Any:
    """One run of the thin checks (``--connect-payload thin|both``), shared by the session.

    ``connect_thin_contract.result("thin-fetches-with-context")`` runs them all the first time.
    """
    from connect_harness.checks.thin import ThinConfig
    from connect_harness.plugin_thin import ThinContract
    from connect_harness.xdist_shares import thin_exchange

    problem = _shard_problem(connect_settings)
    if problem:
        pytest.fail(problem, pytrace=False)
    workerinput: dict[str, Any] = getattr(request.config, "workerinput", {})
    worker = str(workerinput.get("workerid", "gw0"))
    exchange = thin_exchange(request.config, connect_settings)
    config = ThinConfig(
        secret=connect_secret,
        url=connect_url,
        endpoint_type=connect_settings["endpoint_type"],
        mode=connect_settings["mode"],
        # one worker sends the shared run's notifications (the ids of -n 0); a worker on its own
        # (the catalogue kept on one worker) sends its own: fresh ids
        seed=connect_settings["seed"]
        + (0 if exchange is not None else 7919 * int(worker.removeprefix("gw") or 0)),
        timeout=max(30.0, connect_settings["max_response_time"]),
    )
    before = None
    if connect_settings["payload"] == "both":  # this session's snapshot checks first, as verify
        from connect_harness.suite.test_catalogue import test_contract

        contract = request.getfixturevalue("connect_contract")
        planned = [
            item.callspec.params["check_id"]
            for item in request.session.items
            if getattr(item, "function", None) is test_contract and hasattr(item, "callspec")
        ]
        before = functools.partial(contract.run, planned)
    return ThinContract(
        connect_target, _connect_stripe_api_session, config, before=before, exchange=exchange
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the shipped suite's tests of the catalogue ``--connect-payload`` selects."""
    if "connect_harness.suite.test_catalogue" not in sys.modules:
        return  # the shipped suite is not collected: nothing to select
    from connect_harness.plugin_thin import deselect_for_payload
    from connect_harness.suite.test_catalogue import test_contract, test_thin_contract

    payload = config.stash[_SETTINGS_KEY]["payload"]
    deselect_for_payload(config, items, payload, (test_contract, test_thin_contract))
    shard = config.stash[_SETTINGS_KEY]["shard"]
    if shard is not None:
        _keep_this_shard(config, items, shard, test_contract)


def _keep_this_shard(
    config: pytest.Config, items: list[pytest.Item], shard: tuple[int, int], test: Any
) -> None:
    """Keep the catalogue's tests of the checks this shard delivers; the plan (every check the
    session asks for, the same on every machine) is kept for the run."""
    from connect_harness.checks.records import VerifyConfig
    from connect_harness.checks.sharding import shard_checks

    def check_of(item: pytest.Item) -> str | None:
        callspec = getattr(item, "callspec", None)
        if getattr(item, "function", None) is not test or callspec is None:
            return None
        return str(callspec.params["check_id"])

    plan = list(dict.fromkeys(c for c in map(check_of, items) if c is not None))
    if not plan:
        return
    config.stash[_SHARD_PLAN_KEY] = plan
    settings = config.stash[_SETTINGS_KEY]
    planning = VerifyConfig(
        secret="whsec_plan",  # the cut does not depend on it
        endpoint_type=settings["endpoint_type"],
        mode=settings["mode"],
        events=settings["events"],
        api_version=settings["api_version"],
        examples=settings["examples"],
    )
    mine = set(shard_checks(planning, plan, shard))
    others = [item for item in items if check_of(item) not in (None, *mine)]
    if others:
        config.hook.pytest_deselected(items=others)
        items[:] = [item for item in items if item not in others]


@pytest.fixture(scope="session")
def connect_strict(pytestconfig: pytest.Config) -> bool:
    """True under ``--connect-strict``: the shipped suite then fails checks that could not observe."""
    return bool(pytestconfig.getoption("connect_strict"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Show a setup error of a session fixture of ours once; later tests say it is the same one."""
    report = yield
    error = call.excinfo.value if call.excinfo is not None else None
    if report.when == "setup" and isinstance(error, pytest.fail.Exception):
        text = str(error.msg)
        if text.startswith("connect_harness: "):
            seen = item.config.stash.setdefault(_SETUP_ERRORS_KEY, set())
            if text in seen:
                report.longrepr = "connect_harness: the same setup error as above"
            seen.add(text)
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Note the skipped contract checks (for the summary) and write ``--connect-report``."""
    config = session.config
    _served_process_done(config)
    run = config.stash.get(_RUN_KEY, None)
    if run is not None and run.breaker.cause == "budget":
        config.stash[_STOPPED_KEY] = str(run.breaker.stopped)
    # Checks left unjudged by the time budget (here or on an xdist worker) are skips, but the run
    # is not a pass.
    if config.stash.get(_STOPPED_KEY, None) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if run is None:
        return
    from connect_harness.plugin_report import skipped_lines, write_report

    lines = skipped_lines(run)
    _note_skipped(config, lines)
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller prints the summary
        workeroutput["connect_harness_skipped"] = lines
        workeroutput["connect_harness_stopped"] = config.stash.get(_STOPPED_KEY, None)
    path = config.getoption("connect_report")
    if path:
        write_report(run, path, settings=config.stash[_SETTINGS_KEY])
        _add_shard_section(run, path)
    html = config.getoption("connect_html")
    if html:
        from connect_harness.plugin_report import write_html_report

        write_html_report(run, html, settings=config.stash[_SETTINGS_KEY])
        config.stash[_HTML_KEY] = os.path.abspath(html)
        if workeroutput is not None:  # each worker has the merged results; the controller names it
            workeroutput["connect_harness_html"] = config.stash[_HTML_KEY]


def _add_shard_section(run: ContractRun, path: str) -> None:
    """A shard's report carries what ``connect-harness report merge`` needs (checks.sharding)."""
    from connect_harness.checks.sharding import ShardRun

    if not isinstance(run, ShardRun):
        return
    import json

    report = json.loads(Path(path).read_text(encoding="utf-8"))
    report["summary"]["shard"] = f"{run.shard[0]}/{run.shard[1]}"
    report["shard"] = run.shard_section()
    Path(path).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """Collect an xdist worker's skipped contract checks for the controller's summary."""
    _note_skipped(node.config, getattr(node, "workeroutput", {}).get("connect_harness_skipped", []))
    html = getattr(node, "workeroutput", {}).get("connect_harness_html")
    if html:
        node.config.stash[_HTML_KEY] = html
    stopped = getattr(node, "workeroutput", {}).get("connect_harness_stopped")
    if stopped:
        node.config.stash[_STOPPED_KEY] = stopped


def _note_skipped(config: pytest.Config, lines: list[str]) -> None:
    noted = config.stash.setdefault(_SKIPPED_KEY, [])
    noted.extend(line for line in lines if line not in noted)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Name every contract check that was skipped, and why (also when all others passed)."""
    from connect_harness.plugin_report import grouped

    lines = grouped(config.stash.get(_SKIPPED_KEY, []))
    if lines:
        terminalreporter.write_sep("-", "connect_harness: skipped contract checks")
        for line in lines:
            terminalreporter.write_line(line)
        if not config.getoption("connect_strict"):
            terminalreporter.write_line(
                "connect_harness: --connect-strict makes a skipped contract check fail"
            )
    stopped = config.stash.get(_STOPPED_KEY, None)
    if stopped:
        terminalreporter.write_sep("-", "connect_harness: the run was stopped")
        terminalreporter.write_line(f"connect_harness: {stopped}")
        terminalreporter.write_line(
            "connect_harness: not a pass: the checks it could not finish were not judged (exit 1)"
        )
    html = config.stash.get(_HTML_KEY, None)
    if html:
        terminalreporter.write_line(f"connect_harness: HTML report: {html}")
    shard = config.stash[_SETTINGS_KEY]["shard"] if _SETTINGS_KEY in config.stash else None
    if shard is not None and _SHARD_PLAN_KEY in config.stash:
        report = config.getoption("connect_report")
        terminalreporter.write_line(
            f"connect_harness: shard {shard[0]}/{shard[1]} ran its own checks; the checks over "
            "every delivery and the root causes are judged by 'connect-harness report merge' of "
            "every shard's --connect-report"
            + ("" if report else " (this run wrote none: give --connect-report FILE.json)")
        )
