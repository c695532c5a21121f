"""No check is vacuous: each broken endpoint fails the check its bug is for, correct endpoints pass all.

A broken endpoint is the correct Flask endpoint of ``tests/endpoints`` with exactly one bug switched on,
so it must fail its own check and, where the bug allows, nothing else. Correct endpoints (Flask, Django,
Starlette and the sample app) pass every check without a single skip: they make API calls, so every
check has something to judge.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe

from connect_harness.checks.findings import CATALOGUE, CheckResult
from connect_harness.checks.run import ContractRun, VerifyConfig, run_checks
from connect_harness.spec import contracts
from connect_harness.stripe_api.fake import FakeStripeAPI
from endpoints import core, flask_endpoint
from endpoints.serving import free_port, served

SECRET = "whsec_test_secret"

#: The Connect guide's eight events: enough for every check to have something to judge.
GUIDE_EVENTS = tuple(t for t in contracts.supported_event_types() if contracts.event_info(t).guide)

SIGNATURE_CHECKS = {
    "rejects-missing-signature",
    "rejects-malformed-signature",
    "rejects-wrong-secret",
    "rejects-tampered-body",
    "rejects-stale-timestamp",
    "rejects-v0-only",
}

#: bug -> every check the endpoint with that bug fails (exactly these).
EXPECTED_FAILURES: dict[str, set[str]] = {
    "accepts-unsigned": SIGNATURE_CHECKS,
    "unsigned-when-header-missing": {"rejects-missing-signature"},
    "skips-unparseable-header": {"rejects-malformed-signature"},
    "format-only": {"rejects-wrong-secret", "rejects-tampered-body"},
    "500-on-bad-signature": SIGNATURE_CHECKS | {"no-server-errors"},
    "no-tolerance": {"rejects-stale-timestamp"},
    "v0-accepted": {"rejects-v0-only"},
    "first-v1-only": {"accepts-rotated-secret"},
    "reserialized": {"verifies-raw-body"},
    "invalid-json-200": {"rejects-invalid-json"},
    "400-unknown-types": {"acknowledges-unknown-events"},
    "no-idempotency": {"idempotent-redelivery"},
    "platform-auth": {"uses-connected-account-context"},
    "platform-auth-references": {"uses-connected-account-context"},
    "live-key-for-test": {"separates-livemode"},
    "slow": {"responds-in-time"},
    # Its redeliveries of platform events fail as their first delivery did: pointed to
    # accepts-valid-events, not blamed on idempotency.
    "crash-platform-events": {
        "accepts-valid-events",
        "acknowledges-unknown-events",
        "no-server-errors",
    },
    # Every delivery got the same 301: one headline, every other check not judged.
    "redirect": {"accepts-valid-events", "no-redirects"},
    "order-dependent": {"order-independent", "no-server-errors"},
    "crashes-on-deauthorized-403": {"after-deauthorization", "no-server-errors"},
    "swallows-api-errors": {"survives-api-errors"},
    # survives-api-errors retries once after its fault: the duplicate answer loses the work there too.
    "dedupes-failed-attempts": {"retries", "survives-api-errors"},
    # Only a fault that outlasts the first retry shows it.
    "acknowledges-second-failure": {"retries"},
}

#: (bug, check, words the failing finding's reason must contain).
EXPECTED_FINDINGS = [
    (
        "accepts-unsigned",
        "rejects-missing-signature",
        "accepted a request without a Stripe-Signature",
    ),
    ("unsigned-when-header-missing", "rejects-missing-signature", "anyone who knows its URL"),
    (
        "skips-unparseable-header",
        "rejects-malformed-signature",
        "accepted a Stripe-Signature of 'garbage'",
    ),
    ("format-only", "rejects-wrong-secret", "signed with a secret that is not the endpoint's"),
    ("format-only", "rejects-tampered-body", "a body changed after it was signed"),
    ("500-on-bad-signature", "rejects-wrong-secret", "should get 400"),
    ("500-on-bad-signature", "no-server-errors", "answered 500"),
    ("no-tolerance", "rejects-stale-timestamp", "replayed"),
    ("v0-accepted", "rejects-v0-only", "downgrade"),
    ("first-v1-only", "accepts-rotated-secret", "rotation"),
    ("reserialized", "verifies-raw-body", "raw request bytes"),
    ("invalid-json-200", "rejects-invalid-json", "not JSON"),
    ("400-unknown-types", "acknowledges-unknown-events", "connect_harness.unknown_event.created"),
    ("no-idempotency", "idempotent-redelivery", "repeated a side effect"),
    ("platform-auth", "uses-connected-account-context", "with platform auth (no Stripe-Account)"),
    (
        "platform-auth-references",
        "uses-connected-account-context",
        "GET /v1/balance_transactions/txn_",
    ),
    ("live-key-for-test", "separates-livemode", "used a live-mode key for a test-mode event"),
    ("redirect", "no-redirects", "Stripe never follows redirects"),
    ("slow", "responds-in-time", "more than 0.2 s"),
    ("crash-platform-events", "accepts-valid-events", "server error"),
    ("crash-platform-events", "no-server-errors", "answered 500"),
    ("order-dependent", "order-independent", "Stripe does not promise order"),
    (
        "crashes-on-deauthorized-403",
        "after-deauthorization",
        "for an account that had deauthorized the platform got 500",
    ),
    ("swallows-api-errors", "survives-api-errors", "the event's work may be lost"),
    ("dedupes-failed-attempts", "retries", "took the retry for a duplicate"),
    ("acknowledges-second-failure", "retries", "Stripe stops retrying after a 2xx"),
]


def _config(**overrides: Any) -> VerifyConfig:
    settings: dict[str, Any] = {"secret": SECRET, "events": GUIDE_EVENTS, "seed": 11}
    settings.update(overrides)
    return VerifyConfig(**settings)


_runs: dict[str, dict[str, CheckResult]] = {}


def _broken(bug: str) -> dict[str, CheckResult]:
    """The results of one run against the endpoint with ``bug`` (cached: one run per bug)."""
    if bug not in _runs:
        app = flask_endpoint.create_app(SECRET, bug=bug)
        config = _config(max_response_time=0.2) if bug == "slow" else _config()
        _runs[bug] = {result.id: result for result in run_checks(app, config)}
    return _runs[bug]


def _failing(results: dict[str, CheckResult]) -> set[str]:
    return {check for check, result in results.items() if result.status == "fail"}


#: Checks only a launched endpoint allows (tests/test_serve.py): skipped in process, with that reason.
SERVE_ONLY = {"stays-alive", "never-logs-secrets"}


def _assert_all_pass(results: list[CheckResult]) -> None:
    problems = {
        result.id: [f.reason for f in result.findings if f.status != "pass"][:3]
        for result in results
        if result.status != "pass"
        and not (result.id in SERVE_ONLY and "verify --serve" in (result.skip_reason or ""))
    }
    assert problems == {}
    assert [result.id for result in results] == [spec.id for spec in CATALOGUE]


def test_every_bug_has_expectations() -> None:
    assert set(EXPECTED_FAILURES) == set(core.BUGS)
    assert {bug for bug, _, _ in EXPECTED_FINDINGS} == set(core.BUGS)


def test_every_check_is_failed_by_some_broken_endpoint() -> None:
    failed = set().union(*EXPECTED_FAILURES.values())
    # The launched-endpoint checks are failed by launched endpoints, in tests/test_serve.py.
    assert failed == {spec.id for spec in CATALOGUE} - SERVE_ONLY


@pytest.mark.parametrize("bug", sorted(core.BUGS))
def test_broken_endpoint_fails_exactly_its_checks(bug: str) -> None:
    assert _failing(_broken(bug)) == EXPECTED_FAILURES[bug]


@pytest.mark.parametrize(("bug", "check", "words"), EXPECTED_FINDINGS)
def test_broken_endpoint_finding_explains_the_bug(bug: str, check: str, words: str) -> None:
    result = _broken(bug)[check]
    assert result.status == "fail"
    failures = result.failures()
    assert any(words in finding.reason for finding in failures), failures[0].reason
    for finding in failures:
        assert finding.check == check
        assert finding.reproduce is not None and finding.reproduce.count("\n") == 0
        assert SECRET not in finding.reproduce
        assert (
            '--secret "$STRIPE_WEBHOOK_SECRET"' in finding.reproduce
            or "--secret whsec_" in finding.reproduce
        )


def test_correct_flask_endpoint_passes_the_full_default_run() -> None:
    app = flask_endpoint.create_app(SECRET)
    with ContractRun(app, VerifyConfig(secret=SECRET, seed=5)) as run:
        results = run.run()
        deliveries = run.deliveries
    _assert_all_pass(results)
    accepted = results[0]
    assert accepted.counts()["pass"] > 200  # one pass finding per supported event type
    # Three permutations per type: Connect live and test, platform live (a production account
    # endpoint gets live events only).
    assert deliveries > 650
    assert app.extensions["webhook_core"].api_errors == []


@pytest.mark.parametrize("follow", ["sdk", "http"])
def test_endpoint_following_every_reference_passes_in_process(follow: str) -> None:
    """Fetching data.object and everything it names as event.account, with the event's key."""
    app = flask_endpoint.create_app(SECRET, follow=follow)
    config = VerifyConfig(secret=SECRET, seed=5) if follow == "sdk" else _config()
    _assert_all_pass(run_checks(app, config))
    core_ = app.extensions["webhook_core"]
    assert core_.api_errors == []
    assert core_.followed > (700 if follow == "sdk" else 40)


def test_endpoint_following_every_reference_passes_over_a_url() -> None:
    app = flask_endpoint.create_app(SECRET, follow="http")
    with served(app) as url, FakeStripeAPI() as fake, fake.patch_stripe():
        results = run_checks(url, _config(), fake_api=fake)
        paths = {call.path.rsplit("/", 1)[0] for call in fake.calls if call.status == 200}
    _assert_all_pass(results)
    assert app.extensions["webhook_core"].api_errors == []
    assert {"/v1/balance_transactions", "/v1/payouts", "/v1/customers"} <= paths
    assert any(p.startswith("/v1/accounts/") and p.endswith("/external_accounts") for p in paths)


def test_endpoint_fetching_named_objects_with_platform_auth_fails_over_a_url() -> None:
    app = flask_endpoint.create_app(SECRET, bug="platform-auth-references")
    with served(app) as url, FakeStripeAPI() as fake, fake.patch_stripe():
        results = run_checks(url, _config(), fake_api=fake)
    assert {r.id for r in results if r.status == "fail"} == {"uses-connected-account-context"}


def test_correct_django_endpoint_passes() -> None:
    from endpoints import django_endpoint

    app = django_endpoint.create_app(SECRET)
    _assert_all_pass(run_checks(app, _config()))
    assert django_endpoint.current_core().api_errors == []


def test_correct_starlette_endpoint_passes() -> None:
    from endpoints import starlette_endpoint

    app = starlette_endpoint.create_app(SECRET)
    _assert_all_pass(run_checks(app, _config()))
    assert app.state.webhook_core.api_errors == []


@pytest.mark.parametrize(
    ("endpoint_type", "mode"),
    [("connect", "production"), ("account", "development"), ("both", "development")],
)
def test_correct_endpoint_passes_every_endpoint_model(endpoint_type: str, mode: str) -> None:
    app = flask_endpoint.create_app(SECRET)
    results = run_checks(app, _config(endpoint_type=endpoint_type, mode=mode))
    statuses = {result.id: result.status for result in results}
    assert "fail" not in statuses.values()
    for check in SERVE_ONLY:
        assert statuses.pop(check) == "skip"
    if endpoint_type == "account":
        # Platform events only: no connected account, so nothing to judge there.
        assert statuses.pop("uses-connected-account-context") == "skip"
        assert statuses.pop("after-deauthorization") == "skip"
    assert set(statuses.values()) == {"pass"}


def test_sample_app_passes_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sample_app = pytest.importorskip("sample_app")
    monkeypatch.setattr(stripe, "api_base", stripe.api_base)
    app = sample_app.create_app(
        webhook_secret=SECRET,
        db_path=tmp_path / "events.sqlite3",
        secret_key_live="sk_live_fake",
        secret_key_test="sk_test_fake",
        environ={},
    )
    _assert_all_pass(run_checks(app, _config()))


@pytest.fixture
def served_sample_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, FakeStripeAPI]]:
    """The sample app over real HTTP on 127.0.0.1, its Stripe API base pointed at a fake on a fixed port."""
    sample_app = pytest.importorskip("sample_app")
    port = free_port()
    monkeypatch.setattr(stripe, "api_base", stripe.api_base)  # create_app sets it process-wide
    with FakeStripeAPI(port=port) as fake:
        app = sample_app.create_app(
            webhook_secret=SECRET,
            db_path=tmp_path / "events.sqlite3",
            secret_key_live="sk_live_fake",
            secret_key_test="sk_test_fake",
            api_base=f"http://127.0.0.1:{port}",
            environ={},
        )
        with served(app) as url:
            yield url, fake


def test_sample_app_passes_over_http(served_sample_app: tuple[str, FakeStripeAPI]) -> None:
    url, fake = served_sample_app
    with ContractRun(url, _config(), fake_api=fake) as run:
        results = run.run()
        concurrent = [r for r in run.records if (r.variant or "").startswith("concurrent-copy")]
    _assert_all_pass(results)
    assert len(concurrent) == 2
    assert all(200 <= record.response.status < 300 for record in concurrent)


def test_broken_endpoint_over_http_fails_concurrent_redelivery() -> None:
    """Without dedupe, two copies delivered at once both act: only seen over a real server."""
    app = flask_endpoint.create_app(SECRET, bug="no-idempotency")
    with served(app) as url, FakeStripeAPI() as fake, fake.patch_stripe():
        result = run_checks(url, _config(), fake_api=fake, only=["idempotent-redelivery"])[0]
    assert result.status == "fail"
    reasons = [finding.reason for finding in result.failures()]
    assert any("two concurrent copies" in reason for reason in reasons)


@pytest.mark.parametrize(
    ("bug", "failing"),
    [
        (None, set()),
        ("no-idempotency", {"idempotent-redelivery"}),
        ("platform-auth", {"uses-connected-account-context"}),
    ],
)
def test_endpoint_that_answers_first_and_calls_stripe_later_is_judged_on_its_calls(
    bug: str | None, failing: set[str]
) -> None:
    """A worker that calls the API 0.2 s after the 200 is neither missed nor blamed on the redelivery."""
    app = flask_endpoint.create_app(SECRET, bug=bug, defer=0.2)
    with served(app) as url, FakeStripeAPI() as fake, fake.patch_stripe():
        results = run_checks(
            url,
            _config(events=("payment_intent.succeeded", "customer.created")),
            fake_api=fake,
            only=["idempotent-redelivery", "uses-connected-account-context", "separates-livemode"],
        )
    by_id = {result.id: result for result in results}
    assert {check for check, result in by_id.items() if result.status == "fail"} == failing
    assert all(result.status != "skip" for result in by_id.values()), by_id
