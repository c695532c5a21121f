"""One test per contract check, all sharing one run against the endpoint (the connect_contract fixture)."""

from __future__ import annotations

from typing import Any

import pytest

from connect_harness.checks.assertions import assert_passes
from connect_harness.checks.findings import CATALOGUE


@pytest.mark.parametrize("check_id", [spec.id for spec in CATALOGUE])
def test_contract(check_id: str, connect_contract: Any) -> None:
    """The endpoint satisfies this check (skipped, with the reason, when it cannot be observed)."""
    result = connect_contract.result(check_id)
    if result.status == "skip":
        reasons = sorted({finding.reason for finding in result.findings}) or ["nothing to observe"]
        pytest.skip(f"{check_id}: {'; '.join(reasons)}")
    assert_passes(result)
