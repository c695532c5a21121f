"""Advice in the endpoint's own SDK: the library is read from its calls' User-Agent and
X-Stripe-Client-User-Agent, and each fix is phrased in that library's spelling; without a library
seen, the HTTP header is named."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from connect_harness.checks.findings import CheckResult
from connect_harness.checks.run import ContractRun, VerifyConfig
from connect_harness.checks.sdk_spelling import HTTP, SPELLINGS, Sdk, sdk_of, sdk_of_call
from connect_harness.stripe_api.calls import ApiCall
from endpoints import flask_endpoint
from endpoints.core import TEST_SECRET
from test_endpoint_shapes import express_run

SECRET = TEST_SECRET

CALL = ApiCall(
    method="GET",
    path="/v1/customers/cus_123456789",
    query={},
    stripe_account=None,
    idempotency_key=None,
    key_mode="test",
    object_id=None,
    object_type=None,
    object_owner=None,
    object_livemode=None,
    status=200,
    delivery=None,
    mutating=False,
    at=0.0,
)

#: (User-Agent as each library sends it, the SDK key, its version, a word of its account spelling).
USER_AGENTS = [
    ("Stripe/v1 PythonBindings/16.1.0", "python", "16.1.0", "stripe_account="),
    ("Stripe/v1 NodeBindings/23.1.0", "node", "23.1.0", "{ stripeAccount: event.account }"),
    ("Stripe/v1 RubyBindings/15.3.0", "ruby", "15.3.0", "{ stripe_account: event.account }"),
    ("Stripe/v1 GoBindings/v82.1.0", "go", "v82.1.0", "params.SetStripeAccount("),
    ("Stripe/v1 GoBindings/82.1.0", "go", "82.1.0", "params.SetStripeAccount("),
    ("Stripe/v1 PhpBindings/17.2.0", "php", "17.2.0", "['stripe_account' => $event->account]"),
    ("Stripe/v1 JavaBindings/29.1.0", "java", "29.1.0", ".setStripeAccount(event.getAccount())"),
    ("Stripe/v1 .NetBindings/48.0.0", "dotnet", "48.0.0", "StripeAccount = stripeEvent.Account"),
]


@pytest.mark.parametrize(("user_agent", "key", "version", "account"), USER_AGENTS)
def test_each_library_is_read_from_its_user_agent(
    user_agent: str, key: str, version: str, account: str
) -> None:
    sdk = sdk_of_call(replace(CALL, user_agent=user_agent))
    assert sdk == Sdk(key, version)
    assert account in sdk.spelling.account
    assert sdk.label == f"stripe-{'dotnet' if key == 'dotnet' else key} {version}"


def test_the_client_user_agent_wins_and_unknown_agents_name_the_header() -> None:
    client = json.dumps({"bindings_version": "23.1.0", "lang": "node", "publisher": "stripe"})
    call = replace(CALL, user_agent="python-requests/2.32", client_user_agent=client)
    assert sdk_of_call(call) == Sdk("node", "23.1.0")
    plain = replace(CALL, user_agent="curl/8.5.0", client_user_agent="not json")
    assert sdk_of_call(plain) == Sdk(None)
    assert sdk_of([plain]).spelling is HTTP
    assert "Stripe-Account: <event.account> header" in HTTP.account
    assert "Idempotency-Key" in HTTP.idempotency
    assert sdk_of([]).label == "no Stripe library seen"


def test_the_table_has_every_spelling_for_every_library() -> None:
    assert set(SPELLINGS) == {"python", "node", "ruby", "go", "php", "java", "dotnet"}
    for spelling in SPELLINGS.values():
        assert spelling.account and spelling.idempotency and spelling.verify


#: bug -> (checks run, the check whose advice is read, the Python words, the Node words).
ADVICE: dict[str, tuple[list[str], str, str, str]] = {
    "platform-auth": (
        ["uses-connected-account-context"],
        "uses-connected-account-context",
        "pass stripe_account=event.account",
        "pass { stripeAccount: event.account } as the request options argument",
    ),
    "no-idempotency": (
        ["idempotent-redelivery"],
        "idempotent-redelivery",
        'idempotency_key=f"{event.id}:<step>"',
        "{ idempotencyKey: `${event.id}:<step>` } in the request options",
    ),
    "reserialized": (
        ["accepts-valid-events", "verifies-raw-body"],
        "verifies-raw-body",
        "with stripe-python 16.1.0, stripe.Webhook.construct_event(request_body_bytes",
        "with stripe-node 23.1.0, stripe.webhooks.constructEvent(rawBodyBuffer",
    ),
}


def _config() -> VerifyConfig:
    return VerifyConfig(
        secret=SECRET, events=("payment_intent.succeeded", "customer.created"), seed=4
    )


def _python(bug: str, checks: list[str]) -> dict[str, CheckResult]:
    with ContractRun(flask_endpoint.create_app(SECRET, bug=bug), _config()) as run:
        return {r.id: r for r in run.run(checks)}


@pytest.mark.exhaustive
@pytest.mark.parametrize("language", ["python", "node"])
@pytest.mark.parametrize("bug", sorted(ADVICE))
def test_each_check_advises_in_the_endpoints_own_sdk(bug: str, language: str) -> None:
    checks, check, python_words, node_words = ADVICE[bug]
    options: dict[str, Any] = {"bug": bug}
    results = (
        _python(bug, checks) if language == "python" else express_run(options, checks, _config())
    )
    failures = results[check].failures()
    assert failures, results[check].findings
    words, other = (
        (python_words, node_words) if language == "python" else (node_words, python_words)
    )
    # Every finding that advises a fix in code spells it for this SDK (one about two concurrent
    # copies advises a database constraint instead).
    advising = [f.reason for f in failures if "concurrent copies" not in f.reason]
    assert advising and all(words in reason for reason in advising), advising
    assert not any(other in f.reason for f in failures)


@pytest.mark.exhaustive
def test_rotation_advice_names_the_endpoints_verification() -> None:
    app = flask_endpoint.create_app(SECRET, bug="first-v1-only")
    with ContractRun(app, _config()) as run:
        results = {r.id: r for r in run.run(["accepts-valid-events", "accepts-rotated-secret"])}
    (failure,) = results["accepts-rotated-secret"].failures()
    assert "with stripe-python 16.1.0, stripe.Webhook.construct_event(" in failure.reason
    assert failure.reason.endswith("(it tries every v1)")
