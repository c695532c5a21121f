"""Check id -> the function that runs it: every id of the catalogue, each in its family's module."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from connect_harness.checks.acceptance import (
    _check_accepts_valid_events,
    _check_acknowledges_unknown_events,
)
from connect_harness.checks.api_calls import (
    _check_separates_livemode,
    _check_uses_connected_account_context,
)
from connect_harness.checks.api_faults import _check_survives_api_errors
from connect_harness.checks.common import _REJECTION_VARIANTS
from connect_harness.checks.deauthorization import _check_after_deauthorization
from connect_harness.checks.findings import (
    CATALOGUE,
    Finding,
)
from connect_harness.checks.order import _check_order_independent
from connect_harness.checks.process import _check_never_logs_secrets, _check_stays_alive
from connect_harness.checks.redelivery import _check_idempotent_redelivery
from connect_harness.checks.responses import (
    _check_no_redirects,
    _check_no_server_errors,
    _check_responds_in_time,
)
from connect_harness.checks.retries import _check_retries
from connect_harness.checks.signatures import (
    _check_accepts_rotated_secret,
    _check_rejects_invalid_json,
    _check_verifies_raw_body,
    _rejection_check,
)

if TYPE_CHECKING:
    from connect_harness.checks.run import ContractRun


_CHECKS: dict[str, Callable[[ContractRun], Iterable[Finding]]] = {
    "accepts-valid-events": _check_accepts_valid_events,
    **{check: _rejection_check(check) for check in _REJECTION_VARIANTS},
    "accepts-rotated-secret": _check_accepts_rotated_secret,
    "verifies-raw-body": _check_verifies_raw_body,
    "rejects-invalid-json": _check_rejects_invalid_json,
    "acknowledges-unknown-events": _check_acknowledges_unknown_events,
    "idempotent-redelivery": _check_idempotent_redelivery,
    "order-independent": _check_order_independent,
    "after-deauthorization": _check_after_deauthorization,
    "survives-api-errors": _check_survives_api_errors,
    "retries": _check_retries,
    "uses-connected-account-context": _check_uses_connected_account_context,
    "separates-livemode": _check_separates_livemode,
    "no-redirects": _check_no_redirects,
    "no-server-errors": _check_no_server_errors,
    "responds-in-time": _check_responds_in_time,
    "stays-alive": _check_stays_alive,
    "never-logs-secrets": _check_never_logs_secrets,
}


assert set(_CHECKS) == {spec.id for spec in CATALOGUE}
