"""connect_harness: test a Stripe Connect webhook endpoint offline.

This module's ``__all__`` is the whole public API; every other module is internal.

- Events: :func:`build_event` builds a webhook event from the contracts (platform or Connect, live or
  test) with the exact bytes Stripe would send; :func:`event_matrix` lists the events an endpoint model
  receives; :func:`validate_event` checks a payload against its contract.
- Signing: :func:`sign_payload` makes the ``Stripe-Signature`` value; :func:`delivery_request` the
  whole request Stripe sends; :func:`bad_variants` the requests a correct endpoint must refuse.
- Delivery: :func:`deliver` sends a request to a URL or an in-process WSGI/ASGI app
  (:func:`target_from`, :func:`load_app`); :class:`FakeStripeAPI` stands in for Stripe's API;
  :class:`WebhookClient` signs and delivers in one step.
- Checks: :func:`run_checks` runs the endpoint contract catalogue and returns :class:`CheckResult`
  records; :func:`assert_passes` turns failures into a readable assertion.

Names are imported on first use, so ``import connect_harness`` stays cheap for the CLI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "build_event": "events",
    "Event": "events",
    "EventCase": "events",
    "event_matrix": "events",
    "validate_event": "contracts",
    "sign_payload": "signing",
    "DeliveryRequest": "wire",
    "delivery_request": "wire",
    "bad_variants": "variants",
    "deliver": "delivery",
    "Response": "delivery",
    "target_from": "delivery",
    "load_app": "delivery",
    "FakeStripeAPI": "fake_stripe",
    "WebhookClient": "client",
    "run_checks": "checks",
    "ContractRun": "checks",
    "VerifyConfig": "checks",
    "CheckResult": "findings",
    "Finding": "findings",
    "CATALOGUE": "findings",
    "assert_passes": "assertions",
    "HarnessError": "errors",
    "UsageError": "errors",
    "ContractFailure": "errors",
}

__all__ = [
    "CATALOGUE",
    "CheckResult",
    "ContractFailure",
    "ContractRun",
    "DeliveryRequest",
    "Event",
    "EventCase",
    "FakeStripeAPI",
    "Finding",
    "HarnessError",
    "Response",
    "UsageError",
    "VerifyConfig",
    "WebhookClient",
    "assert_passes",
    "bad_variants",
    "build_event",
    "deliver",
    "delivery_request",
    "event_matrix",
    "load_app",
    "run_checks",
    "sign_payload",
    "target_from",
    "validate_event",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'connect_harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"connect_harness.{module}"), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from connect_harness.assertions import assert_passes
    from connect_harness.checks import ContractRun, VerifyConfig, run_checks
    from connect_harness.client import WebhookClient
    from connect_harness.contracts import validate_event
    from connect_harness.delivery import Response, deliver, load_app, target_from
    from connect_harness.errors import ContractFailure, HarnessError, UsageError
    from connect_harness.events import Event, EventCase, build_event, event_matrix
    from connect_harness.fake_stripe import FakeStripeAPI
    from connect_harness.findings import CATALOGUE, CheckResult, Finding
    from connect_harness.signing import sign_payload
    from connect_harness.variants import bad_variants
    from connect_harness.wire import DeliveryRequest, delivery_request
