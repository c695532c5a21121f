"""One test per contract check, all sharing one run against the endpoint (the connect_contract fixture)."""

from __future__ import annotations

from typing import Any

import pytest

from connect_harness.checks.assertions import assert_passes
from connect_harness.checks.findings import CATALOGUE
from connect_harness.checks.thin import THIN_CATALOGUE
from connect_harness.errors import ContractFailure

__all__ = ["test_contract", "test_thin_contract"]


# Every check shares one run; under pytest-xdist the workers split its deliveries and merge the
# results (connect_harness.xdist_shares), so each delivery happens once per session.
@pytest.mark.parametrize("check_id", [spec.id for spec in CATALOGUE])
def test_contract(check_id: str, connect_contract: Any, request: pytest.FixtureRequest) -> None:
    """The endpoint satisfies this check (skipped, with the reason, when it cannot be observed)."""
    __tracebackhide__ = True
    _judge(connect_contract.result(check_id), check_id, request)


# Selected by --connect-payload thin or both (deselected otherwise): the thin checks, from one run
# of them (connect_harness.plugin_thin).
@pytest.mark.parametrize("check_id", [spec.id for spec in THIN_CATALOGUE])
def test_thin_contract(
    check_id: str, connect_thin_contract: Any, request: pytest.FixtureRequest
) -> None:
    """The thin-event destination satisfies this thin check, as ``verify --payload thin`` judges."""
    __tracebackhide__ = True
    _judge(connect_thin_contract.result(check_id), check_id, request)


def _judge(result: Any, check_id: str, request: pytest.FixtureRequest) -> None:
    __tracebackhide__ = True
    if result.status == "skip":
        reasons = sorted({finding.reason for finding in result.findings}) or ["nothing to observe"]
        message = f"{check_id}: {'; '.join(reasons)}"
        if request.config.getoption("connect_strict", default=False):
            pytest.fail(
                f"connect_harness: skipped under --connect-strict: {message}", pytrace=False
            )
        pytest.skip(message)
    # pytest.fail outside the except block: inside it, the report repeats the findings through the
    # exception chain ("During handling of the above exception, another exception occurred").
    problem = None
    try:
        assert_passes(result)
    except ContractFailure as failure:  # the findings, not the harness's own source lines
        problem = str(failure)
    if problem is not None:
        pytest.fail(problem, pytrace=False)
