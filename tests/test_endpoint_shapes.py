"""The failure checks against the shapes real handlers take, in Flask, FastAPI and Express.

Correct endpoints that (a) only read from Stripe and write their own store, (b) handle Stripe's 403
for a disconnected account instead of keeping a list, (c) answer first and work in a background job
pass survives-api-errors, retries and after-deauthorization; the same endpoints with exactly one bug
fail exactly the checks that bug is for. The Express endpoint is launched as ``verify --serve``
launches one (tests/node/express_endpoint.js, stripe-node); the Python ones run in process
(stripe-python).
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest

from connect_harness.checks.findings import CheckResult
from connect_harness.checks.run import ContractRun, VerifyConfig
from connect_harness.delivery.process import ServedProcess, ServeSecrets
from connect_harness.stripe_api.fake import FakeStripeAPI
from endpoints import fastapi_endpoint, flask_endpoint
from endpoints.core import TEST_SECRET
from endpoints.serving import free_port

pytestmark = pytest.mark.exhaustive

SECRET = TEST_SECRET
TESTS = Path(__file__).resolve().parent
EXPRESS = TESTS / "node" / "express_endpoint.js"
CHECKS = ["survives-api-errors", "retries", "after-deauthorization"]

#: Correct shapes: WebhookCore fields (the Express endpoint's flags say the same).
SHAPES: dict[str, dict[str, Any]] = {
    "reads-own-store": {"reads_only": True},
    "handles-403": {"handles_403": True},
    "answers-first": {"defer": 0.0},
}

#: bug -> (WebhookCore fields, the checks it fails, words of the failing finding).
BUGS: dict[str, tuple[dict[str, Any], set[str], str]] = {
    "acknowledges-failed-reads": (
        {"reads_only": True, "bug": "swallows-api-errors"},
        {"survives-api-errors"},
        "while its Stripe calls failed with 429 rate_limit and never made them again",
    ),
    "refuses-retries": (
        {"reads_only": True, "refuses_retries": True},
        {"survives-api-errors", "retries"},
        "Stripe's retries of the event were still refused",
    ),
    "crashes-on-deauthorized-403": (
        {"bug": "crashes-on-deauthorized-403"},
        {"after-deauthorization"},
        "payment_intent.succeeded for an account that had deauthorized the platform got 500",
    ),
}

_FLAGS = {"reads_only": "--reads-only", "handles_403": "--handles-403", "defer": "--defer"}


def _config() -> VerifyConfig:
    return VerifyConfig(secret=SECRET, events=("customer.created",), seed=9)


def _in_process(framework: str, options: dict[str, Any]) -> dict[str, CheckResult]:
    create = flask_endpoint.create_app if framework == "flask" else fastapi_endpoint.create_app
    with ContractRun(create(SECRET, **options), _config()) as run:
        return {r.id: r for r in run.run(CHECKS)}


def express_command(port: int, options: dict[str, Any]) -> str:
    node = shutil.which("node")
    if node is None or not (TESTS / "node" / "node_modules" / "express").is_dir():
        pytest.skip("node with express and stripe (npm ci --prefix tests/node) is needed")
    args = [
        _FLAGS[name] for name, value in options.items() if name in _FLAGS and value is not False
    ]
    bug = options.get("bug") or ("refuses-retries" if options.get("refuses_retries") else None)
    if bug:
        args += ["--bug", bug]
    return f"PORT={port} exec {shlex.quote(node)} {shlex.quote(str(EXPRESS))} " + " ".join(args)


def express_run(
    options: dict[str, Any], checks: list[str], config: VerifyConfig | None = None
) -> dict[str, CheckResult]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhook"
    with FakeStripeAPI() as fake:
        process = ServedProcess(
            express_command(port, options), url, api_base=fake.url, given=ServeSecrets.fresh(SECRET)
        )
        with process, ContractRun(url, config or _config(), fake_api=fake, process=process) as run:
            return {r.id: r for r in run.run(checks)}


def _results(framework: str, options: dict[str, Any]) -> dict[str, CheckResult]:
    if framework == "express":
        return express_run(options, CHECKS)
    return _in_process(framework, options)


FRAMEWORKS = ["flask", "fastapi", "express"]


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_correct_endpoints_of_every_shape_pass(framework: str, shape: str) -> None:
    results = _results(framework, SHAPES[shape])
    problems = {
        check: [f.reason for f in r.findings if f.status != "pass"]
        for check, r in results.items()
        if r.status != "pass"
    }
    assert problems == {}


@pytest.mark.parametrize("bug", sorted(BUGS))
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_an_endpoint_with_the_bug_fails_exactly_its_checks(framework: str, bug: str) -> None:
    options, failing, words = BUGS[bug]
    results = _results(framework, options)
    assert {check for check, r in results.items() if r.status == "fail"} == failing, {
        check: [f.reason for f in r.failures()] for check, r in results.items()
    }
    reasons = [f.reason for check in failing for f in results[check].failures()]
    assert any(words in reason for reason in reasons), reasons
