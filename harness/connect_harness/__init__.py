"""connect_harness: test a Stripe Connect webhook endpoint offline.

This module's ``__all__`` is the whole public API, together with :mod:`connect_harness.strategies`;
every other module is internal.

- Events: :func:`build_event` builds a webhook event from the contracts (platform or Connect, live or
  test) with the exact bytes Stripe would send; :func:`event_matrix` lists the events an endpoint model
  receives; :func:`validate_event` checks a payload against its contract; :func:`build_thin_event`
  builds a thin notification (event destinations, Accounts v2) as a :class:`ThinEvent`.
- Signing: :func:`sign_payload` makes the ``Stripe-Signature`` value; :func:`delivery_request` the
  whole request Stripe sends; :func:`bad_variants` the requests a correct endpoint must refuse.
- Delivery: :func:`deliver` sends a request to a URL or an in-process WSGI/ASGI app
  (:func:`target_from`, :func:`load_app`); :class:`FakeStripeAPI` stands in for Stripe's API;
  :class:`WebhookClient` signs and delivers in one step.
- Checks: :func:`run_checks` runs the endpoint contract catalogue and returns :class:`CheckResult`
  records; :func:`assert_passes` turns failures into a readable assertion.
- Property tests: ``connect_harness.strategies.events()`` is a Hypothesis strategy of events as
  Stripe renders them, with varied values; a module of its own, so that importing this package
  never imports Hypothesis.

Names are imported on first use, so ``import connect_harness`` stays cheap for the CLI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "build_event": "events.build",
    "Event": "events.build",
    "EventCase": "events.build",
    "event_matrix": "events.build",
    "build_scenario": "checks.scenario_flows",
    "build_thin_event": "events.thin",
    "ThinEvent": "events.thin",
    "validate_event": "spec.contracts",
    "sign_payload": "wire.signing",
    "DeliveryRequest": "wire.request",
    "delivery_request": "wire.request",
    "bad_variants": "wire.variants",
    "deliver": "delivery",
    "Response": "delivery",
    "target_from": "delivery",
    "load_app": "delivery",
    "FakeStripeAPI": "stripe_api.fake",
    "WebhookClient": "client",
    "run_checks": "checks.run",
    "ContractRun": "checks.run",
    "VerifyConfig": "checks.run",
    "CheckResult": "checks.findings",
    "Finding": "checks.findings",
    "CATALOGUE": "checks.findings",
    "assert_passes": "checks.assertions",
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
    "ThinEvent",
    "UsageError",
    "VerifyConfig",
    "WebhookClient",
    "assert_passes",
    "bad_variants",
    "build_event",
    "build_scenario",
    "build_thin_event",
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
    from connect_harness.checks.assertions import assert_passes
    from connect_harness.checks.findings import CATALOGUE, CheckResult, Finding
    from connect_harness.checks.run import ContractRun, VerifyConfig, run_checks
    from connect_harness.checks.scenario_flows import build_scenario
    from connect_harness.client import WebhookClient
    from connect_harness.delivery import Response, deliver, load_app, target_from
    from connect_harness.errors import ContractFailure, HarnessError, UsageError
    from connect_harness.events.build import Event, EventCase, build_event, event_matrix
    from connect_harness.events.thin import ThinEvent, build_thin_event
    from connect_harness.spec.contracts import validate_event
    from connect_harness.stripe_api.fake import FakeStripeAPI
    from connect_harness.wire.request import DeliveryRequest, delivery_request
    from connect_harness.wire.signing import sign_payload
    from connect_harness.wire.variants import bad_variants
