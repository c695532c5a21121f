"""Check id -> the function that runs it: every id of the catalogue, each in its family's module."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from connect_harness.checks.acceptance import (
    check_accepts_valid_events,
    check_acknowledges_unknown_events,
)
from connect_harness.checks.api_calls import (
    check_separates_livemode,
    check_uses_connected_account_context,
)
from connect_harness.checks.api_faults import check_survives_api_errors
from connect_harness.checks.common import REJECTION_VARIANTS
from connect_harness.checks.deauthorization import check_after_deauthorization
from connect_harness.checks.findings import (
    CATALOGUE,
    Finding,
)
from connect_harness.checks.order import check_order_independent
from connect_harness.checks.process import check_never_logs_secrets, check_stays_alive
from connect_harness.checks.redelivery import check_idempotent_redelivery
from connect_harness.checks.responses import (
    check_no_redirects,
    check_no_server_errors,
    check_responds_in_time,
)
from connect_harness.checks.retries import check_retries
from connect_harness.checks.signatures import (
    check_accepts_rotated_secret,
    check_rejects_invalid_json,
    check_verifies_raw_body,
    rejection_check,
)

if TYPE_CHECKING:
    from connect_harness.checks.interface import CheckRun


CHECKS: dict[str, Callable[[CheckRun], Iterable[Finding]]] = {
    "accepts-valid-events": check_accepts_valid_events,
    **{check: rejection_check(check) for check in REJECTION_VARIANTS},
    "accepts-rotated-secret": check_accepts_rotated_secret,
    "verifies-raw-body": check_verifies_raw_body,
    "rejects-invalid-json": check_rejects_invalid_json,
    "acknowledges-unknown-events": check_acknowledges_unknown_events,
    "idempotent-redelivery": check_idempotent_redelivery,
    "order-independent": check_order_independent,
    "after-deauthorization": check_after_deauthorization,
    "survives-api-errors": check_survives_api_errors,
    "retries": check_retries,
    "uses-connected-account-context": check_uses_connected_account_context,
    "separates-livemode": check_separates_livemode,
    "no-redirects": check_no_redirects,
    "no-server-errors": check_no_server_errors,
    "responds-in-time": check_responds_in_time,
    "stays-alive": check_stays_alive,
    "never-logs-secrets": check_never_logs_secrets,
}


assert set(CHECKS) == {spec.id for spec in CATALOGUE}
