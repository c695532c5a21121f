"""pytest-xdist with the plugin: the shipped catalogue's deliveries split across the workers.

Every test of the catalogue reads one :class:`~connect_harness.checks.run.ContractRun`. Under ``-n N``
each worker that runs one of those tests builds a :class:`~connect_harness.checks.shards.ShardedRun`
of the checks the session selected: the deliveries are cut into N shares (``accepts-valid-events`` by
event type, every other check whole), each share is claimed and delivered by exactly one worker, and
each worker merges the shares' records and findings into the results one process would have had.
The workers meet in a private folder the controller makes for the session and removes after it.
Nothing here imports xdist: the plugin calls it with or without xdist installed.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from connect_harness.checks.run import ContractRun, VerifyConfig
    from connect_harness.checks.share_exchange import ShareExchange
    from connect_harness.delivery import Target
    from connect_harness.settings import Settings
    from connect_harness.stripe_api.fake import FakeStripeAPI

__all__ = ["SHARES_KEY", "contract_run", "share_folder", "splits", "thin_exchange"]

#: The workerinput key naming the session's folder of shares.
SHARES_KEY = "connect_harness_shares"

_FOLDER_KEY = pytest.StashKey[str]()


def splits(settings: Settings) -> bool:
    """True unless one worker must run the whole catalogue: ``--connect-serve`` launches one
    endpoint at one URL, and ``--connect-fake-stripe-port`` is one port one worker can listen at
    (the endpoint calls that worker's fake Stripe API only); ``--connect-shard`` is this machine's
    shard of a run split across machines, delivered by one worker."""
    return not settings["serve"] and not settings["fake_stripe_port"] and not settings["shard"]


def share_folder(config: pytest.Config) -> str:
    """The controller's folder where its workers exchange shares (made once, removed at the end)."""
    folder = config.stash.get(_FOLDER_KEY, None)
    if folder is None:
        folder = tempfile.mkdtemp(prefix="connect_harness-shares-")
        config.stash[_FOLDER_KEY] = folder
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    return folder


def _planned_checks(session: pytest.Session) -> list[str]:
    """The check ids of the shipped suite's tests this session runs (the same on every worker),
    whether collected with ``--pyargs`` or through ``from connect_harness.suite import *``."""
    checks = []
    for item in session.items:
        function = getattr(item, "function", None)
        if getattr(function, "__name__", "") != "test_contract" or not getattr(
            function, "__module__", ""
        ).endswith("test_catalogue"):
            continue
        callspec = getattr(item, "callspec", None)
        check = None if callspec is None else callspec.params.get("check_id")
        if isinstance(check, str) and check not in checks:
            checks.append(check)
    return checks


def contract_run(
    request: pytest.FixtureRequest,
    target: Target,
    config: VerifyConfig,
    *,
    fake_api: FakeStripeAPI,
    url: str,
) -> ContractRun | None:
    """The run of an xdist worker that shares the catalogue with the others, or None (one process,
    one worker, or a session that runs none of the shipped suite's tests)."""
    workerinput: dict[str, Any] = getattr(request.config, "workerinput", {})
    folder = workerinput.get(SHARES_KEY)
    count = int(workerinput.get("workercount", 1))
    if folder is None or count < 2:
        return None
    plan = _planned_checks(request.session)
    if not plan:
        return None
    from connect_harness.checks.shards import ShardedRun
    from connect_harness.checks.share_exchange import ShareExchange

    worker = str(workerinput.get("workerid", "gw0"))
    first = int(worker[2:]) if worker[2:].isdigit() else 0
    return ShardedRun(
        target,
        config,
        exchange=ShareExchange(folder, count),
        plan=plan,
        first=first % count,
        fake_api=fake_api,
        url=url,
    )


def thin_exchange(config: pytest.Config, settings: Settings) -> ShareExchange | None:
    """Where the workers share one run of the thin checks (one share, in a folder of its own), or
    None: one process, one worker, or a session that keeps the catalogue on one worker."""
    workerinput: dict[str, Any] = getattr(config, "workerinput", {})
    folder = workerinput.get(SHARES_KEY)
    if folder is None or int(workerinput.get("workercount", 1)) < 2 or not splits(settings):
        return None
    from pathlib import Path

    from connect_harness.checks.share_exchange import ShareExchange

    thin = Path(folder) / "thin"
    thin.mkdir(exist_ok=True)
    return ShareExchange(thin, 1)
