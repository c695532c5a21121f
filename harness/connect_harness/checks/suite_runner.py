"""Run the shipped test module ``connect_harness.suite`` for ``verify``, and hand back its results.

``verify`` and ``pytest --pyargs connect_harness.suite`` run one catalogue: verify prepares the
:class:`~connect_harness.checks.run.ContractRun` (target, fake Stripe API, configuration) from its own
options, then runs the suite's tests in a quiet, isolated pytest session that gets that run as its
``connect_contract`` fixture. The session ignores the current directory's pytest configuration and
conftest files: the user's ``addopts`` must not change what verify does.

The session loads only what the suite needs: no installed plugins (hypothesis, anyio, xdist... are
imported and configured by autoload, which costs more than the suite itself), and none of pytest's
own plugins that only report on a project (``unraisableexception`` also runs a full ``gc.collect``
at the end of every session, which grows with the caller's heap).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from connect_harness.checks.findings import CheckResult
from connect_harness.checks.run import ContractRun
from connect_harness.errors import HarnessError

__all__ = ["run_suite"]

_SUITE = Path(__file__).resolve().parents[1] / "suite"


class _ProvideRun:
    """The inner session's plugin: the prepared run as ``connect_contract``, and the chosen checks."""

    def __init__(self, run: ContractRun, only: Sequence[str]) -> None:
        self.run = run
        self.only = set(only)
        self.ran: list[str] = []
        self.plugins: list[str] = []  # what the session loaded, for tests
        self.distributions: list[str] = []  # installed packages whose plugins it loaded

    def pytest_configure(self, config: pytest.Config) -> None:
        manager = config.pluginmanager
        self.plugins = [name for name, loaded in manager.list_name_plugin() if loaded is not None]
        self.distributions = [dist.project_name for _, dist in manager.list_plugin_distinfo()]

    @pytest.fixture(scope="session")
    def connect_contract(self) -> ContractRun:
        return self.run

    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        keep = [item for item in items if check_id(item) in self.only]
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or report.skipped:
            self.ran.append(report.nodeid)


def check_id(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return None if callspec is None else callspec.params.get("check_id")


@contextlib.contextmanager
def _env(name: str, value: str | None) -> Iterator[None]:
    """``name`` set to ``value`` (None: unset) for the block, then as it was."""
    saved = os.environ.pop(name, None)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)
        if saved is not None:
            os.environ[name] = saved


# pytest's own plugins the suite does not need (the rest are part of pytest's core).
_UNNEEDED = (
    "cacheprovider",
    "unraisableexception",
    "threadexception",
    "faulthandler",
    "junitxml",
    "doctest",
    "pastebin",
    "stepwise",
    "legacypath",
)


def run_suite(run: ContractRun, only: Sequence[str]) -> list[CheckResult]:
    """Run the suite's test for each check in ``only`` against ``run``; return their results."""
    plugin = _ProvideRun(run, only)
    args = [
        str(_SUITE),
        "-c", os.devnull,
        "--rootdir", str(_SUITE),
        "--noconftest",
        "-p", "no:connect_harness",
        "-q",
    ]  # fmt: skip
    for name in _UNNEEDED:
        args += ["-p", f"no:{name}"]
    output = io.StringIO()
    with (
        _env("PYTEST_ADDOPTS", None),
        _env("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1"),
        contextlib.redirect_stdout(output),
    ):
        code = pytest.main(args, plugins=[plugin])
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or len(plugin.ran) != len(
        plugin.only
    ):
        last = [line for line in output.getvalue().splitlines() if line.strip()][-3:]
        raise HarnessError(
            f"the check suite could not run (pytest exit code {int(code)}): {' | '.join(last)}"
        )
    return [run.result(check_id) for check_id in only]
